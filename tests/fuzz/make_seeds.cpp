// Writes the seed corpora of the fuzz targets: one folder per target under the output folder, each holding small
// valid inputs (and a few near-valid ones) that start the fuzzer inside the format instead of at random bytes.
// Everything is made by spk's own writers, so no Python or PyTorch is needed:
//   spk_fuzz_seeds <out> <tests/data> <configs>
// ctest runs it before the replay tests (tests/fuzz/CMakeLists.txt); scripts/fuzz.sh before fuzzing.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "apps/recipe/checkpoint.h"
#include "engine/audio/audio_file.h"
#include "engine/io/torch_checkpoint.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "tiny_run.h"

namespace fs = std::filesystem;
using namespace spk;

namespace {

fs::path g_out;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_out / target);
  std::ofstream f(g_out / target / name, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  SPK_CHECK(bool(f), "cannot write seed ", (g_out / target / name).string());
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  SPK_CHECK(bool(f), "cannot read ", p.string());
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// A short tone: 0.05 s at the given rate, so decoding a seed costs little.
std::vector<float> tone(int rate, int channels) {
  const int64_t n = rate / 20;
  std::vector<float> x(size_t(n * channels));
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < channels; ++c) x[size_t(i * channels + c)] = 0.5f * std::sin(0.05f * float(i) * float(c + 1));
  return x;
}

std::string audio_bytes(int rate, int channels, audio::AudioFormat format) {
  const fs::path tmp = g_out / ".tmp_audio";
  const auto x = tone(rate, channels);
  audio::write_audio(tmp.string(), x.data(), int64_t(x.size()) / channels, channels, rate, format);
  std::string b = slurp(tmp);
  fs::remove(tmp);
  return b;
}

void audio_seeds() {
  using F = audio::AudioFormat;
  put("audio", "pcm16_16k_mono.wav", audio_bytes(16000, 1, F::wav_pcm16));
  put("audio", "pcm24_8k_stereo.wav", audio_bytes(8000, 2, F::wav_pcm24));
  put("audio", "pcm32_22k.wav", audio_bytes(22050, 1, F::wav_pcm32));
  put("audio", "float_44k.wav", audio_bytes(44100, 1, F::wav_float));
  put("audio", "pcm16_16k.flac", audio_bytes(16000, 1, F::flac_pcm16));
  put("audio", "pcm24_48k_stereo.flac", audio_bytes(48000, 2, F::flac_pcm24));
  put("audio", "vorbis_16k.ogg", audio_bytes(16000, 1, F::ogg_vorbis));
}

void list_seeds() {
  put("train_list", "voxceleb.txt", "id10001 id10001/1zcIwhmdeo4/00001.wav\nid10002 id10002/xTV-jFAUKcw/00001.wav\n"
                                    "id10001 id10001/1zcIwhmdeo4/00002.wav\n");
  put("train_list", "cel.txt", "a/1.wav 0\r\nb/2.flac 1\r\nc/3.ogg 10\r\n");
  put("train_list", "bom_blank_lines.txt", "\xEF\xBB\xBFspk1 x.wav\n\n   \nspk2\ty.wav\n");
  put("train_list", "labels.json", R"({"format": "spk-labels-1", "speakers": ["id10001", "id10002", "7"]})");
  put("train_list", "labels_array.json", R"(["a", "b"])");
  put("trials", "voxceleb.txt", "1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav\n"
                                "0 id10270/x6uYqmx31kE/00001.wav id10300/ize_eiCFEg0/00003.wav\n");
  put("trials", "unlabelled.txt", "a.wav b.wav\nc.wav d.wav\n");
  put("trials", "kaldi.txt", "utt1 utt2 target\nutt1 utt3 nontarget\n");
  put("kaldi_lists", "data_dir.txt", "utt1 /data/a.wav\nutt2 b/c.flac\n----\nutt1 spk1\nutt2 spk2\n");
  put("kaldi_lists", "piped.txt", "utt1 sox a.wav -t wav - |\n----\nutt1 spk1\n");
  put("kaldi_lists", "segments.txt", "rec1 /data/a.wav\n----\nutt1 spk1\nutt2 spk2\n----\nutt1 rec1 0 1.5\nutt2 rec1 1.5 2.25\n");
}

void augment_seeds() {
  const std::string wav = audio_bytes(16000, 1, audio::AudioFormat::wav_pcm16);
  put("augment_lists", "lists_and_dirs.txt",
      "noise noise/free-sound/noise-free-sound-0000.wav\nspeech/librivox/speech-librivox-0000.wav\n"
      "music /musan/music/fma/music-fma-0000.wav\n----\nrirs/small/Room001-00001.wav\n----\n"
      "musan/noise/a.wav\nmusan/speech/b/c.wav\nmusan/music/d.wav\nrir/room/e.wav\n----\n" + wav);
  put("augment_lists", "flac.txt", "noise a.flac\n----\nr.flac\n----\nmusan/noise/a.flac\nmusan/speech/b.flac\n"
                                   "musan/music/c.flac\nrir/d.flac\n----\n" +
                                       audio_bytes(8000, 2, audio::AudioFormat::flac_pcm16));
}

void config_seeds(const fs::path& configs) {
  put("config_yaml", "flags.yaml", "model: ResNetSE34L\nlr: 0.001\nmax_epoch: 3\naugment: true\nsave_path: exps/x\n");
  put("config_yaml", "comments_quotes.yaml", "# a recipe\nmodel: \"ECAPA_TDNN\"  # quoted\nnOut: 192\nencoder_type: ''\n"
                                             "test_list: ~\n");
  for (const auto& e : fs::directory_iterator(configs))
    if (e.path().extension() == ".yaml") put("config_yaml", e.path().filename().string(), slurp(e.path()));
}

void tensor_seeds(const fs::path& torch_data) {
  const fs::path tmp = g_out / ".tmp_tensors";
  NamedTensors t = {{"w", Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3})},
                    {"d", Tensor::from_vector(std::vector<double>{0.5, -1}, {2}, DType::f64)},
                    {"h", Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::f16)},
                    {"b", Tensor::from_vector(std::vector<double>{1, 2}, {1, 2}, DType::bf16)},
                    {"i", Tensor::from_vector(std::vector<int64_t>{7, -8}, {2})},
                    {"s", Tensor::from_vector(std::vector<double>{3}, {}, DType::i32)},
                    {"e", Tensor::zeros({0, 4})}};
  save_safetensors(tmp.string(), t, {{"spk.speakers", R"(["a","b"])"}, {"note", "seed"}});
  put("safetensors", "dtypes.safetensors", slurp(tmp));
  save_safetensors(tmp.string(), {}, {});
  put("safetensors", "empty.safetensors", slurp(tmp));
  io::save_torch_checkpoint(tmp.string(), t);
  put("torch_checkpoint", "spk_written.pt", slurp(tmp));
  fs::remove(tmp);
  for (const auto& e : fs::directory_iterator(torch_data))
    if (e.path().extension() == ".pt") put("torch_checkpoint", e.path().filename().string(), slurp(e.path()));
}

void checkpoint_seeds() {
  fuzz::TinyRun run;
  Tensor l = Tensor::scalar(0);
  for (const auto& [name, p] : recipe::training_parameters(*run.net, *run.loss)) l = add(l, sum(mul(p, p)));
  l.backward();
  run.optim->step();
  recipe::TrainingState st;
  st.epoch = 2;
  st.step = 10;
  st.rng_seed = 42;
  st.rng_offset = 7;
  st.lr = 1e-3;
  st.config = {{"model", "ResNetSE34L"}, {"nOut", 3}, {"lr", 0.001}, {"augment", false}};
  st.speakers = audio::LabelMap::from_ids({"a", "b"});
  st.eval = {{"eer", 0.1}};
  const fs::path tmp = g_out / ".tmp_ck";
  recipe::save_checkpoint(tmp.string(), *run.net, *run.loss, *run.optim, st);
  put("checkpoint_resume", "spk_checkpoint.safetensors", slurp(tmp));
  NamedTensors vt;   // voxceleb_trainer's names, as torch.save writes them
  for (const auto& [n, t] : run.net->state()) vt.emplace_back("__S__." + n, t);
  for (const auto& [n, t] : run.loss->state()) vt.emplace_back("__L__." + n, t);
  io::save_torch_checkpoint(tmp.string(), vt);
  put("checkpoint_resume", "voxceleb_trainer.model", slurp(tmp));
  save_safetensors(tmp.string(), run.net->state());
  put("checkpoint_resume", "bare_state_dict.safetensors", slurp(tmp));
  fs::remove(tmp);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <out> <tests/data> <configs>\n", argv[0]);
    return 2;
  }
  try {
    g_out = argv[1];
    fs::create_directories(g_out);
    audio_seeds();
    list_seeds();
    augment_seeds();
    config_seeds(argv[3]);
    tensor_seeds(fs::path(argv[2]) / "torch");
    checkpoint_seeds();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  return 0;
}
