// List parsing: every format, label assignment, path joining, and every malformed case (file:line in the message).
#include "audio/audio_test_util.h"
#include "engine/audio/lists.h"
#include "engine/check.h"
#include "support/check.h"

using namespace spk::audio;
using spk::test::TempDir;
using spk::test::write_text;

namespace {
doctest::Contains has(const std::string& s) { return doctest::Contains(s.c_str()); }
}  // namespace

TEST_CASE("lists: voxceleb train list, labels = index in the sorted speaker set") {
  TempDir dir;
  const std::string p = dir.file("train_list.txt");
  write_text(p, "\xEF\xBB\xBFid2 id2/v/00001.wav\r\nid1 id1/v/00001.wav\n\n  id2   id2/v/00002.wav  \nid10\t/abs/x.wav\n");
  auto t = read_train_list(p, "/data/wav");
  REQUIRE(t.size() == 4);
  CHECK(t.speakers.names() == std::vector<std::string>{"id1", "id10", "id2"});
  CHECK(t.labels == std::vector<int64_t>{2, 0, 2, 1});
  CHECK(t.paths == std::vector<std::string>{"/data/wav/id2/v/00001.wav", "/data/wav/id1/v/00001.wav",
                                             "/data/wav/id2/v/00002.wav", "/abs/x.wav"});
  CHECK(read_train_list(p, "/data/wav/").paths[0] == "/data/wav/id2/v/00001.wav");
  CHECK(read_train_list(p, "").paths[0] == "id2/v/00001.wav");
}

TEST_CASE("lists: CEL fine-tuning list `path label`") {
  TempDir dir;
  const std::string p = dir.file("cel.txt");
  write_text(p, "id1/a/1.wav 10\nid2/b/2.wav 2\nid3/c/3.wav 0\nid1/a/4.wav 10\n");
  SUBCASE("auto-detected; integer labels sort numerically") {
    auto t = read_train_list(p, "root");
    CHECK(t.speakers.names() == std::vector<std::string>{"0", "2", "10"});
    CHECK(t.labels == std::vector<int64_t>{2, 1, 0, 2});
    CHECK(t.paths[1] == "root/id2/b/2.wav");
  }
  SUBCASE("forced format") {
    auto t = read_train_list(p, "", TrainListFormat::cel);
    CHECK(t.paths[0] == "id1/a/1.wav");
    // Forcing voxceleb reads the columns the other way round.
    auto v = read_train_list(p, "", TrainListFormat::voxceleb);
    CHECK(v.paths[0] == "10");
  }
}

TEST_CASE("lists: malformed training lists name file and line") {
  TempDir dir;
  const std::string p = dir.file("bad.txt");
  SUBCASE("three columns") {
    write_text(p, "id1 a.wav\nid2 b.wav extra\n");
    CHECK_THROWS_WITH_AS(read_train_list(p), has(p + ":2: expected 2 columns"), spk::Error);
    CHECK_THROWS_WITH_AS(read_train_list(p), has("got 3: \"id2 b.wav extra\""), spk::Error);
  }
  SUBCASE("one column") {
    write_text(p, "\n\nid1\n");
    CHECK_THROWS_WITH_AS(read_train_list(p), has(p + ":3: expected 2 columns"), spk::Error);
  }
  SUBCASE("missing and empty") {
    CHECK_THROWS_WITH_AS(read_train_list(dir.file("none.txt")), has("cannot open training list '" + dir.file("none.txt") + "'"),
                         spk::Error);
    write_text(p, "\n  \n");
    CHECK_THROWS_WITH_AS(read_train_list(p), has("has no utterances"), spk::Error);
  }
}

TEST_CASE("lists: Kaldi wav.scp + utt2spk") {
  TempDir dir;
  const std::string scp = dir.file("wav.scp"), u2s = dir.file("utt2spk");
  write_text(scp, "spkB-u1 wav/b1.wav\nspkA-u1 /abs/a1.flac\nspkA-u2 wav/a2.wav\n");
  write_text(u2s, "spkA-u1 spkA\nspkA-u2 spkA\nspkB-u1 spkB\n");
  SUBCASE("joined by utterance id, in utterance-id order") {
    auto t = read_kaldi_train(scp, u2s, "/corpus");
    CHECK(t.paths == std::vector<std::string>{"/abs/a1.flac", "/corpus/wav/a2.wav", "/corpus/wav/b1.wav"});
    CHECK(t.labels == std::vector<int64_t>{0, 0, 1});
    CHECK(read_wav_scp(scp).at("spkB-u1") == "wav/b1.wav");
  }
  SUBCASE("piped entries are rejected") {
    write_text(scp, "u1 a.wav\nu2 sox x.wav -t wav - |\n");
    CHECK_THROWS_WITH_AS(read_wav_scp(scp), has(scp + ":2: piped commands are not supported"), spk::Error);
  }
  SUBCASE("duplicate utterance id") {
    write_text(scp, "u1 a.wav\nu1 b.wav\n");
    CHECK_THROWS_WITH_AS(read_wav_scp(scp), has(scp + ":2: utterance id 'u1' appears twice"), spk::Error);
  }
  SUBCASE("utt2spk entry without audio, and audio without speaker") {
    write_text(u2s, "spkA-u1 spkA\nspkC-u9 spkC\n");
    CHECK_THROWS_WITH_AS(read_kaldi_train(scp, u2s), has(u2s + ":2: utterance 'spkC-u9' is not in"), spk::Error);
    write_text(u2s, "spkA-u1 spkA\nspkA-u2 spkA\n");
    CHECK_THROWS_WITH_AS(read_kaldi_train(scp, u2s), has(scp + ":1: utterance 'spkB-u1' has no speaker in " + u2s), spk::Error);
  }
  SUBCASE("utt2spk with three columns") {
    write_text(u2s, "spkA-u1 spkA x\n");
    CHECK_THROWS_WITH_AS(read_kaldi_train(scp, u2s), has(u2s + ":1: expected 2 columns"), spk::Error);
  }
}

TEST_CASE("lists: voxceleb trial lists") {
  TempDir dir;
  const std::string p = dir.file("veri_test.txt");
  SUBCASE("labelled; files are the sorted unique key columns") {
    write_text(p, "1 id1/b.wav id1/a.wav\n0 id1/b.wav id2/c.wav\n");
    auto t = read_trials(p);
    REQUIRE(t.trials.size() == 2);
    CHECK(t.trials[0].label == 1);
    CHECK(t.trials[0].enroll == "id1/b.wav");
    CHECK(t.trials[0].test == "id1/a.wav");
    CHECK(t.trials[1].label == 0);
    CHECK(t.files == std::vector<std::string>{"id1/a.wav", "id1/b.wav", "id2/c.wav"});
    CHECK(t.labelled());
  }
  SUBCASE("a 2-column line is an error unless unlabelled trials are allowed") {
    write_text(p, "1 a.wav b.wav\na.wav c.wav\n");
    CHECK_THROWS_WITH_AS(read_trials(p), has(p + ":2: trial has no label"), spk::Error);
    CHECK_THROWS_WITH_AS(read_trials(p), has("\"a.wav c.wav\""), spk::Error);
    TrialOptions o;
    o.allow_unlabelled = true;
    auto t = read_trials(p, o);
    CHECK(t.trials[1].label == -1);
    CHECK_FALSE(t.labelled());
  }
  SUBCASE("bad label, wrong column count, empty") {
    write_text(p, "2 a.wav b.wav\n");
    CHECK_THROWS_WITH_AS(read_trials(p), has(p + ":1: label must be 1 (target) or 0 (non-target), got '2'"), spk::Error);
    write_text(p, "1 a.wav b.wav\n1 a b c\n");
    CHECK_THROWS_WITH_AS(read_trials(p), has(p + ":2: expected 3 columns `label path1 path2`, got 4"), spk::Error);
    write_text(p, "\n");
    CHECK_THROWS_WITH_AS(read_trials(p), has("has no trials"), spk::Error);
  }
}

TEST_CASE("lists: Kaldi trial lists") {
  TempDir dir;
  const std::string p = dir.file("trials");
  write_text(p, "u1 u2 target\nu1 u3 nontarget\n");
  auto t = read_trials(p);
  CHECK(t.trials[0].label == 1);
  CHECK(t.trials[1].label == 0);
  CHECK(t.trials[1].test == "u3");
  TrialOptions o;
  o.format = TrialFormat::kaldi;
  write_text(p, "u1 u2 target\nu1 u3 maybe\n");
  CHECK_THROWS_WITH_AS(read_trials(p, o), has(p + ":2: third column must be 'target' or 'nontarget', got 'maybe'"), spk::Error);
  write_text(p, "u1 u2 target\nu1 u3\n");
  CHECK_THROWS_WITH_AS(read_trials(p), has(p + ":2: expected 3 columns `utt1 utt2 target|nontarget`, got 2"), spk::Error);
}

TEST_CASE("lists: LabelMap save / load / metadata") {
  TempDir dir;
  auto m = LabelMap::from_ids({"id3", "id1", "id2", "id1"});
  CHECK(m.size() == 3);
  CHECK(m.index("id2") == 1);
  CHECK(m.name(2) == "id3");
  CHECK_THROWS_WITH_AS(m.index("id9"), has("unknown speaker id 'id9' (3 speakers known)"), spk::Error);
  CHECK_THROWS_WITH_AS(m.name(3), has("class index 3 outside [0, 3)"), spk::Error);
  m.save(dir.file("labels.json"));
  CHECK(LabelMap::load(dir.file("labels.json")) == m);
  auto meta = m.to_metadata();
  CHECK(meta.at("spk.speakers") == "[\"id1\",\"id2\",\"id3\"]");
  CHECK(LabelMap::from_metadata(meta) == m);
  CHECK_THROWS_WITH_AS(LabelMap::from_json("[\"a\", \"a\"]"), has("speaker id 'a' appears twice"), spk::Error);
  CHECK_THROWS_WITH_AS(LabelMap::from_json("[\"a\", 3]"), has("speaker entry 3 is not a string"), spk::Error);
  CHECK_THROWS_WITH_AS(LabelMap::from_json("{oops"), has("not valid JSON"), spk::Error);
  CHECK_THROWS_WITH_AS(LabelMap::from_metadata({}), has("no 'spk.speakers' entry"), spk::Error);
}
