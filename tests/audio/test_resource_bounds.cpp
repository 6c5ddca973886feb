// Resource bounds of the audio and list readers: what a header or a line can make them allocate. A header's
// frame count is a claim, not a fact; these files claim far more than they hold.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "audio/audio_test_util.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/augment.h"
#include "engine/audio/lists.h"
#include "engine/check.h"

using namespace spk::audio;
using spk::test::TempDir;

namespace {

std::string le(uint64_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s.push_back(char((v >> (8 * i)) & 0xff));
  return s;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A small FLAC whose STREAMINFO claims `total` samples (36-bit field) while holding 800.
std::string flac_claiming(const TempDir& dir, uint64_t total) {
  const std::string p = dir.file("claim_" + std::to_string(total) + ".flac");
  std::vector<short> v(800);
  for (size_t i = 0; i < v.size(); ++i) v[i] = short(i * 10);
  spk::test::sf_write(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, v);
  std::string b = slurp(p);
  // "fLaC", a 4-byte block header, then STREAMINFO: 16+16+24+24 bits of block/frame sizes, 20 bits of rate,
  // 3 of channels, 5 of bits per sample, then the 36-bit sample count: the low nibble of byte 21 and bytes 22-25.
  REQUIRE(b.compare(0, 4, "fLaC") == 0);
  b[21] = char((uint8_t(b[21]) & 0xF0) | ((total >> 32) & 0x0F));
  for (int i = 0; i < 4; ++i) b[size_t(22 + i)] = char((total >> (24 - 8 * i)) & 0xff);
  spit(p, b);
  return p;
}

}  // namespace

TEST_CASE("audio bounds: an RF64 WAV header claiming 2^40 frames holds 32; the reader believes the bytes") {
  TempDir dir;
  const std::string p = dir.file("claims_2p40.wav");
  std::string b = "RF64" + le(0xFFFFFFFF, 4) + "WAVE";
  b += "ds64" + le(28, 4) + le((uint64_t(1) << 41) + 100, 8) + le(uint64_t(1) << 41, 8) + le(uint64_t(1) << 40, 8) + le(0, 4);
  b += "fmt " + le(16, 4) + le(1, 2) + le(1, 2) + le(16000, 4) + le(32000, 4) + le(2, 2) + le(16, 2);
  b += "data" + le(0xFFFFFFFF, 4) + std::string(64, '\x10');   // 32 frames of 16-bit mono
  spit(p, b);
  // libsndfile clamps a WAV data chunk to the bytes present, so the claim never reaches an allocation.
  CHECK(audio_info(p).frames == 32);
  CHECK(read_audio(p, 0).size() == 32);
}

TEST_CASE("audio bounds: a FLAC header claiming 2^36 - 1 frames is refused before any allocation") {
  TempDir dir;
  const std::string p = flac_claiming(dir, (uint64_t(1) << 36) - 1);
  CHECK(audio_info(p).frames == 68719476735);   // libsndfile passes FLAC's claim through
  // 256 GiB of floats: refused with the file's name, the claim and the cap, not a std::bad_alloc.
  CHECK_THROWS_WITH_AS(read_audio(p), doctest::Contains(("audio file '" + p + "': header claims 68719476735 frames, "
                                                         "more than the 268435456 spk decodes whole").c_str()),
                       spk::Error);
  // A crop seeks to where the claim says frames are and finds none.
  CHECK_THROWS_WITH_AS(read_audio_frames(p, 1000000, 100), doctest::Contains(("'" + p + "'").c_str()), spk::Error);
}

TEST_CASE("audio bounds: a claim under the cap that the file does not hold is a short read, found block by block") {
  TempDir dir;
  const std::string p = flac_claiming(dir, uint64_t(1) << 27);   // 512 MiB of floats if believed
  CHECK(audio_info(p).frames == 134217728);
  // read_all grows its buffer per 2^18-frame block as frames arrive, so this stops after one block (1 MiB).
  CHECK_THROWS_WITH_AS(read_audio(p, 0), doctest::Contains(("audio file '" + p + "': corrupt: read 800 of 134217728 "
                                                            "frames the header promised").c_str()),
                       spk::Error);
}

TEST_CASE("audio bounds: resampling cannot multiply a file past the cap") {
  // 2^28 / 4 + 1 frames at 4 kHz would become more than 2^28 at 16 kHz: checked from the header, before reading.
  TempDir dir;
  const std::string p = flac_claiming(dir, (uint64_t(1) << 26) + 1);
  std::string b = slurp(p);
  // Sample rate 4000 Hz in STREAMINFO's 20-bit field: bytes 18, 19 and the high nibble of 20.
  const uint32_t rate = 4000;
  b[18] = char(rate >> 12);
  b[19] = char((rate >> 4) & 0xff);
  b[20] = char(((rate & 0x0F) << 4) | (uint8_t(b[20]) & 0x0F));
  spit(p, b);
  REQUIRE(audio_info(p).sample_rate == 4000);
  CHECK_THROWS_WITH_AS(read_audio(p, 16000), doctest::Contains("resample to more than 268435456 frames at 16000 Hz"),
                       spk::Error);
}

TEST_CASE("list bounds: a line longer than 64 KiB is an error naming file:line, read no further") {
  TempDir dir;
  const std::string p = dir.file("list.txt");
  spit(p, "id1 a.wav\n" + std::string(kMaxListLineBytes + 1, 'x') + "\nid2 b.wav\n");
  const std::string want = p + ":2: line longer than 65536 bytes";
  CHECK_THROWS_WITH_AS(read_train_list(p), doctest::Contains(want.c_str()), spk::Error);
  CHECK_THROWS_WITH_AS(read_trials(p, {TrialFormat::auto_detect, true}), doctest::Contains(want.c_str()), spk::Error);
  CHECK_THROWS_WITH_AS(read_wav_scp(p), doctest::Contains(want.c_str()), spk::Error);
  CHECK_THROWS_WITH_AS(Augmenter(p, p), doctest::Contains(want.c_str()), spk::Error);
  // Exactly at the cap is fine (a path that long is odd, but not ours to refuse).
  spit(p, "id1 " + std::string(kMaxListLineBytes - 4, 'y') + "\n");
  CHECK(read_train_list(p).size() == 1);
}

TEST_CASE("list bounds: read_list_line splits LF and CRLF lines and reports the end") {
  std::istringstream in("a b\r\n\nlast");
  std::string line;
  CHECK(read_list_line(in, line, "x", 1));
  CHECK(line == "a b");
  CHECK(read_list_line(in, line, "x", 2));
  CHECK(line.empty());
  CHECK(read_list_line(in, line, "x", 3));
  CHECK(line == "last");
  CHECK_FALSE(read_list_line(in, line, "x", 4));
}

TEST_CASE("lists: a NUL byte is an error naming file:line (it would cut the messages that quote the line)") {
  TempDir dir;
  const std::string p = dir.file("wav.scp");
  spit(p, std::string("utt1 a.wav\nu\0tt2 b.wav\n", 23));
  CHECK_THROWS_WITH_AS(read_wav_scp(p), doctest::Contains((p + ":2: NUL byte at column 2").c_str()), spk::Error);
}
