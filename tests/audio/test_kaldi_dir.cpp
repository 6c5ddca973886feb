// Kaldi data directories for training (read_kaldi_dir): the same utterances, speakers and labels as the equivalent
// voxceleb_trainer list; `segments` crops cut exactly the segment's samples; and every malformed directory is an
// error naming the file and line.
#include "audio/audio_test_util.h"
#include "engine/audio/chunk_sampler.h"
#include "engine/audio/crop.h"
#include "engine/audio/lists.h"
#include "engine/check.h"
#include "engine/rng.h"
#include "support/check.h"

using namespace spk::audio;
using spk::test::TempDir;
using spk::test::write_text;

namespace {

doctest::Contains has(const std::string& s) { return doctest::Contains(s.c_str()); }

// Sample i of the ramp file: distinct and exact in 16-bit PCM, so a crop's values say which frames it read.
float ramp(int64_t i) { return float((i % 30000) - 15000) / 32768.0f; }

std::vector<float> ramp_file(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = ramp(i);
  return x;
}

}  // namespace

TEST_CASE("kaldi dir: the utterances, speakers and labels of the equivalent voxceleb_trainer list") {
  TempDir dir;
  // utt2spk in Kaldi's order (sorted by utterance id); wav.scp in another order, as Kaldi allows.
  write_text(dir.file("data/wav.scp"), "id10-b id10/v/2.wav\nid2-a id2/v/1.wav\nid10-a id10/v/1.wav\nid1-a /abs/1.wav\n");
  write_text(dir.file("data/utt2spk"), "id1-a id1\nid10-a id10\nid10-b id10\nid2-a id2\n");
  write_text(dir.file("list.txt"), "id1 /abs/1.wav\nid10 id10/v/1.wav\nid10 id10/v/2.wav\nid2 id2/v/1.wav\n");
  const TrainList k = read_kaldi_dir(dir.file("data"), "/corpus");
  const TrainList v = read_train_list(dir.file("list.txt"), "/corpus");
  CHECK(k.speakers == v.speakers);
  CHECK(k.speakers.names() == std::vector<std::string>{"id1", "id10", "id2"});   // voxceleb_trainer's sorted dictkeys
  CHECK(k.labels == v.labels);
  CHECK(k.paths == v.paths);
  CHECK(k.segments.empty());
}

TEST_CASE("kaldi dir: segments cut the right samples") {
  TempDir dir;
  spk::test::write_wav16(dir.file("rec/a.wav"), ramp_file(16000));   // 1 s
  spk::test::write_wav16(dir.file("rec/b.wav"), ramp_file(8000));    // 0.5 s
  write_text(dir.file("data/wav.scp"), "recA rec/a.wav\nrecB rec/b.wav\n");
  write_text(dir.file("data/segments"), "u1 recA 0.25 0.75\nu2 recA 0.8 1.0\nu3 recB 0 0.5\n");
  write_text(dir.file("data/utt2spk"), "u1 s1\nu2 s2\nu3 s1\n");
  const TrainList t = read_kaldi_dir(dir.file("data"), dir.path.string());
  REQUIRE(t.size() == 3);
  CHECK(t.paths[0] == dir.file("rec/a.wav"));
  CHECK(t.paths[2] == dir.file("rec/b.wav"));
  CHECK(t.labels == std::vector<int64_t>{0, 1, 0});
  REQUIRE(t.segments.size() == 3);
  CHECK(t.segments[1].start == 0.8);
  CHECK(t.segments[1].line == 2);
  CHECK(t.segments_file == dir.file("data/segments"));
  CHECK(segment_frames(t.segments[0], 16000) == std::pair<int64_t, int64_t>{4000, 12000});
  check_segments(t);   // all inside their files

  SUBCASE("a crop shorter than the segment: contiguous frames inside [4000, 12000)") {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      spk::Rng rng(seed);
      std::vector<float> out(3000);
      random_crop_from_segment(t.paths[0], t.segments[0].start, t.segments[0].end, 3000, 16000, rng, out.data());
      const int64_t first = int64_t(std::lround(out[0] * 32768.0f)) + 15000;
      CHECK(first >= 4000);
      CHECK(first + 3000 <= 12000);
      bool exact = true;
      for (int64_t i = 0; i < 3000; ++i) exact = exact && out[size_t(i)] == ramp(first + i);
      CHECK(exact);
    }
  }
  SUBCASE("a crop longer than the segment: the segment wrap-padded, as a file of just those frames") {
    spk::Rng rng(3);
    std::vector<float> out(10000);
    random_crop_from_segment(t.paths[1], t.segments[1].start, t.segments[1].end, 10000, 16000, rng, out.data());
    bool exact = true;   // frames [12800, 16000): 3200 of them
    for (int64_t i = 0; i < 10000; ++i) exact = exact && out[size_t(i)] == ramp(12800 + i % 3200);
    CHECK(exact);
    // And a file holding exactly those frames gives the same crop with the same stream.
    const std::vector<float> whole = ramp_file(16000);
    const std::vector<float> cut(whole.begin() + 12800, whole.end());
    spk::test::write_wav16(dir.file("cut.wav"), cut);
    spk::Rng a(11), b(11);
    std::vector<float> from_seg(2000), from_file(2000);
    random_crop_from_segment(t.paths[1], 0.8, 1.0, 2000, 16000, a, from_seg.data());
    random_crop_from_file(dir.file("cut.wav"), 2000, 16000, b, from_file.data());
    CHECK(from_seg == from_file);
  }
  SUBCASE("the chunk sampler's lengths and chunks count from the segment's start") {
    CHECK(utterance_lengths(t, 16000, false) == std::vector<int64_t>{8000, 3200, 8000});
    CHECK(utterance_lengths(t, 8000, false) == std::vector<int64_t>{4000, 1600, 4000});
    std::vector<float> out(50);
    read_segment_chunk(t.paths[0], t.segments[0], 100, 50, 16000, out.data());
    bool exact = true;
    for (int64_t i = 0; i < 50; ++i) exact = exact && out[size_t(i)] == ramp(4100 + i);
    CHECK(exact);
    read_segment_chunk(t.paths[0], t.segments[0], 7950, 50, 16000, out.data());   // the segment's last 50 frames
    CHECK(out.back() == ramp(11999));
    CHECK_THROWS_WITH_AS(read_segment_chunk(t.paths[0], t.segments[0], 7951, 50, 16000, out.data()),
                         has("chunk [7951, 8001) outside its segment of 8000 samples"), spk::Error);
  }
  SUBCASE("a segment past the end of its file") {
    write_text(dir.file("data/segments"), "u1 recA 0.25 0.75\nu2 recA 0.8 1.0\nu3 recB 0.1 0.6\n");
    const TrainList bad = read_kaldi_dir(dir.file("data"), dir.path.string());
    CHECK_THROWS_WITH_AS(check_segments(bad), has(dir.file("data/segments") + ":3: segment [0.1, 0.6) s ends past the end of"),
                         spk::Error);
    spk::Rng rng(0);
    std::vector<float> out(100);
    CHECK_THROWS_WITH_AS(random_crop_from_segment(t.paths[2], 0.1, 0.6, 100, 16000, rng, out.data()),
                         has("segment [0.1, 0.6) s is frames [1600, 9600) of a file of 8000 frames"), spk::Error);
  }
}

TEST_CASE("kaldi dir: bad directories fail naming the file and line") {
  TempDir dir;
  const std::string d = dir.file("data/x").substr(0, dir.file("data/x").size() - 2);
  const std::string scp = d + "/wav.scp", u2s = d + "/utt2spk", seg = d + "/segments";
  write_text(scp, "u1 a.wav\nu2 b.wav\n");
  write_text(u2s, "u1 s1\nu2 s2\n");
  CHECK(read_kaldi_dir(d).size() == 2);
  SUBCASE("no utt2spk, no wav.scp, not a directory") {
    std::filesystem::remove(u2s);
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has("no file '" + u2s + "' (a training dir needs wav.scp and utt2spk"),
                         spk::Error);
    std::filesystem::remove(scp);
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has("no file '" + scp + "'"), spk::Error);
    CHECK_THROWS_WITH_AS(read_kaldi_dir(dir.file("nowhere")), has("is not a directory"), spk::Error);
  }
  SUBCASE("an utterance of utt2spk not in wav.scp, and one of wav.scp not in utt2spk") {
    write_text(u2s, "u1 s1\nu2 s2\nu3 s3\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(u2s + ":3: utterance 'u3' is not in " + scp), spk::Error);
    write_text(u2s, "u2 s2\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(scp + ":1: utterance 'u1' has no speaker in " + u2s), spk::Error);
  }
  SUBCASE("duplicate utterance ids") {
    write_text(scp, "u1 a.wav\nu2 b.wav\nu1 c.wav\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(scp + ":3: id 'u1' appears twice (first on line 1)"), spk::Error);
    write_text(scp, "u1 a.wav\nu2 b.wav\n");
    write_text(u2s, "u1 s1\nu2 s2\nu2 s3\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(u2s + ":3: id 'u2' appears twice"), spk::Error);
  }
  SUBCASE("a piped wav.scp entry is refused") {
    write_text(scp, "u1 a.wav\nu2 sox b.flac -t wav - |\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(scp + ":2: piped commands are not supported"), spk::Error);
  }
  SUBCASE("segments: unknown recording, end <= start, bad numbers, unknown utterance") {
    write_text(scp, "r1 a.wav\n");
    write_text(seg, "u1 r1 0 1.5\nu2 r2 0 1\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(seg + ":2: recording 'r2' of utterance 'u2' is not in " + scp),
                         spk::Error);
    write_text(seg, "u1 r1 0 1.5\nu2 r1 2.0 2.0\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(seg + ":2: segment of utterance 'u2' ends at 2.0 s, not after its start"),
                         spk::Error);
    write_text(seg, "u1 r1 0 1.5\nu2 r1 -1 2\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(seg + ":2: start time '-1' is not a number of seconds in [0, 1e+06]"), spk::Error);
    write_text(seg, "u1 r1 0 1.5\nu2 r1 1 nan\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(seg + ":2: end time 'nan'"), spk::Error);
    write_text(seg, "u1 r1 0 1.5\nu2 r1 1 1e300\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(seg + ":2: end time '1e300'"), spk::Error);
    write_text(seg, "u1 r1 0 1.5\nu2 r1 1 2 extra\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(seg + ":2: expected 4 columns"), spk::Error);
    write_text(seg, "u1 r1 0 1.5\n");
    CHECK_THROWS_WITH_AS(read_kaldi_dir(d), has(u2s + ":2: utterance 'u2' is not in " + seg), spk::Error);
  }
}
