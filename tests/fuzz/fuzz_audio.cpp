// Fuzz target: audio files as the data pipeline opens them (engine/audio/audio_file.h, crop.h): header, seeking
// mono reads, the whole file resampled to 16 kHz, a training crop and evaluation crops. libsndfile picks the
// format from the bytes (WAV, FLAC, OGG and the rest it knows), so one target covers every decoder it links.
#include <algorithm>

#include "engine/audio/audio_file.h"
#include "engine/audio/crop.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spk;
  const std::string path = fuzz::write_file("input.wav", {reinterpret_cast<const char*>(data), size});
  fuzz::run_expecting_spk_errors(path, [&] {
    audio::AudioReader r(path);
    const int64_t n = std::min<int64_t>(r.frames(), 4000);
    std::vector<float> out(static_cast<size_t>(n));
    r.read_mono(0, n, out.data());
    if (r.frames() > n) r.read_mono(r.frames() - n, n, out.data());   // a seek to the end
  });
  fuzz::run_expecting_spk_errors(path, [&] { audio::read_audio(path, 16000); });
  fuzz::run_expecting_spk_errors(path, [&] {
    Rng rng(7);
    audio::train_crop_from_file(path, 20, 16000, rng);   // 20 frames: 3 440 samples
  });
  fuzz::run_expecting_spk_errors(path, [&] { audio::eval_crops(audio::read_audio(path, 0), 10, 3); });
  return 0;
}
