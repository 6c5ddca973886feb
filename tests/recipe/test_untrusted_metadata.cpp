// Checkpoint metadata and config files are read from disk and not trusted: each value is checked for its type,
// and every error names the file. Cases found by the fuzz targets (tests/fuzz/regressions/checkpoint_resume,
// config_yaml) and their neighbours.
#include <filesystem>
#include <fstream>
#include <string>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/config.h"
#include "engine/safetensors.h"
#include "support/check.h"
#include "support/tmp_files.h"

using namespace spk;
using namespace spk::recipe;

namespace {

// A checkpoint-shaped safetensors file with valid spk metadata, then `key` replaced by `value`.
std::string checkpoint_with(const test::TmpDir& tmp, const std::string& key, const std::string& value) {
  Metadata m = {{"spk.format", kCheckpointFormat}, {"spk.epoch", "2"}, {"spk.step", "10"},
                {"spk.rng", R"({"seed": 1, "offset": 2})"}, {"spk.lr", "0.001"}, {"spk.config", "{}"},
                {"spk.eval", "{}"}, {"spk.speakers", R"(["a", "b"])"}};
  m[key] = value;
  const std::string path = tmp / "ck.safetensors";
  save_safetensors(path, {{"__S__.w", Tensor::zeros({2})}}, m);
  return path;
}

}  // namespace

TEST_CASE("checkpoint metadata: a value of the wrong type is an error naming the file and the key") {
  test::TmpDir tmp("spk_test_untrusted");
  REQUIRE(read_checkpoint(checkpoint_with(tmp, "spk.note", "")).state.epoch == 2);   // the baseline reads
  const struct {
    const char* key;
    const char* value;
    const char* says;
  } cases[] = {
      {"spk.epoch", "12abc", "metadata 'spk.epoch' is not a non-negative integer: '12abc'"},
      {"spk.step", "-1", "metadata 'spk.step' is not a non-negative integer"},
      {"spk.rng", R"({"seed": "x", "offset": 2})", "metadata 'spk.rng' needs unsigned integers"},
      {"spk.rng", "[1, 2]", "metadata 'spk.rng' needs unsigned integers"},
      {"spk.rng", "{", "metadata 'spk.rng' is not valid JSON"},
      {"spk.lr", R"("fast")", "metadata 'spk.lr' is not a number"},
      {"spk.config", "[]", "metadata 'spk.config' is not a JSON object"},
      {"spk.speakers", "[1]", "speaker entry 1 is not a string"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.key);
    CAPTURE(c.value);
    const std::string path = checkpoint_with(tmp, c.key, c.value);
    CHECK_THROWS_WITH_AS(read_checkpoint(path), doctest::Contains(("checkpoint " + path).c_str()), spk::Error);
    CHECK_THROWS_WITH_AS(read_checkpoint(path), doctest::Contains(c.says), spk::Error);
  }
}

TEST_CASE("config: a key or value that is not UTF-8 is an error at its line") {
  test::TmpDir tmp("spk_test_untrusted");
  const std::string path = tmp / "bad.yaml";
  test::write_bytes(path, "model: ResNetSE34L\ntest_path: da\x1f\xff\xff\xffta\n");
  OptionParser p("spk_train", "", TRAIN);
  const char* argv[] = {"spk_train", "--config", path.c_str()};
  CHECK_THROWS_WITH_AS(p.parse(3, argv), doctest::Contains((path + ":2: not valid UTF-8 text").c_str()), UsageError);
  // Valid UTF-8 beyond ASCII loads and comes back unchanged.
  test::write_bytes(path, "test_path: d\xc3\xa4ta/\xe2\x82\xac\n");
  OptionParser q("spk_train", "", TRAIN);
  REQUIRE(q.parse(3, argv));
  CHECK(q.str("test_path") == "d\xc3\xa4ta/\xe2\x82\xac");
}
