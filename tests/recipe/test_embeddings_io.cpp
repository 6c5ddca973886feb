// Embedding and score files: .npy bytes against numpy's own (tests/data/metrics/npy_*.npy from
// scripts/make_metric_golden.py) and the format spec, Kaldi text archives, score files, and the errors.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "apps/recipe/embeddings_io.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

fs::path data_dir() { return fs::path(__FILE__).parent_path().parent_path() / "data" / "metrics"; }

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("spk_test_io_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

// The array the golden .npy files hold: arange(6).reshape(2, 3) / 8 - 0.25.
const std::vector<float> kGolden = {-0.25f, -0.125f, 0.0f, 0.125f, 0.25f, 0.375f};

}  // namespace

TEST_CASE("write_npy: the bytes numpy.save writes, and the layout the format spec describes") {
  TempDir tmp;
  const std::string p = tmp / "e.npy";
  write_npy(p, Tensor::from_vector(kGolden, {2, 3}));
  const std::string got = slurp(p);
  CHECK(got == slurp((data_dir() / "npy_2x3_f4.npy").string()));
  // Spec (numpy.lib.format, version 1.0): magic \x93NUMPY, major 1, minor 0, little-endian uint16 header
  // length, an ASCII dict ending in '\n' and padded with spaces so the data start at a multiple of 64 bytes.
  REQUIRE(got.size() == 128 + 6 * 4);
  CHECK(got.compare(0, 6, "\x93NUMPY") == 0);
  CHECK(got[6] == 1);
  CHECK(got[7] == 0);
  const size_t hlen = size_t((unsigned char)got[8]) | size_t((unsigned char)got[9]) << 8;
  CHECK(hlen == 118);
  CHECK((10 + hlen) % 64 == 0);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(got.compare(10, dict.size(), dict) == 0);
  CHECK(got[10 + hlen - 1] == '\n');
  CHECK(got.find_first_not_of(' ', 10 + dict.size()) == 10 + hlen - 1);
  float data[6];
  std::memcpy(data, got.data() + 128, sizeof(data));
  for (int i = 0; i < 6; ++i) CHECK(data[i] == kGolden[size_t(i)]);
  // A double tensor (and any device) is written as '<f4' too.
  write_npy(p, Tensor::from_vector(std::vector<double>(kGolden.begin(), kGolden.end()), {2, 3}, DType::f64));
  CHECK(slurp(p) == got);
}

TEST_CASE("read_npy: numpy's files in format 1.0 and 2.0, '<f4' and '<f8'; our own round trip") {
  for (const char* name : {"npy_2x3_f4.npy", "npy_2x3_f8.npy", "npy_2x3_v2.npy"}) {
    Tensor t = read_npy((data_dir() / name).string());
    CHECK(t.shape() == Shape{2, 3});
    CHECK(t.dtype() == DType::f32);
    CHECK(t.to_vector<float>() == kGolden);
  }
  TempDir tmp;
  Rng rng(3);
  Tensor big = Tensor::normal({37, 19}, rng);
  write_npy(tmp / "big.npy", big);
  CHECK(read_npy(tmp / "big.npy").to_vector<float>() == big.to_vector<float>());
  Tensor empty = Tensor::zeros({0, 4});
  write_npy(tmp / "empty.npy", empty);
  CHECK(read_npy(tmp / "empty.npy").shape() == Shape{0, 4});
}

TEST_CASE("embeddings as .npy + index: round trip, and counts must agree") {
  TempDir tmp;
  Rng rng(8);
  Embeddings e{{"id10270/5r0dWxy17C8/00001.wav", "id10270/x6uYqmx31kE/00002.wav", "id10300/a b.wav"},
               Tensor::normal({3, 5}, rng)};
  write_embeddings_npy(tmp / "emb.npy", tmp / "emb.txt", e);
  CHECK(slurp(tmp / "emb.txt") == "id10270/5r0dWxy17C8/00001.wav\nid10270/x6uYqmx31kE/00002.wav\nid10300/a b.wav\n");
  Embeddings r = read_embeddings_npy(tmp / "emb.npy", tmp / "emb.txt");
  CHECK(r.keys == e.keys);
  CHECK(r.matrix.to_vector<float>() == e.matrix.to_vector<float>());
  spit(tmp / "short.txt", "a.wav\nb.wav\n");
  const std::string msg = "short.txt lists 2 keys but " + tmp / "emb.npy" + " holds 3 embeddings";
  CHECK_THROWS_WITH_AS(read_embeddings_npy(tmp / "emb.npy", tmp / "short.txt"), doctest::Contains(msg.c_str()), Error);
  spit(tmp / "blank.txt", "a.wav\n\nb.wav\n");
  CHECK_THROWS_WITH_AS(read_index(tmp / "blank.txt"), doctest::Contains("blank.txt:2: blank line"), Error);
}

TEST_CASE("read_npy errors name the file and the problem") {
  using doctest::Contains;
  TempDir tmp;
  CHECK_THROWS_WITH_AS(read_npy((data_dir() / "npy_2x3_fortran.npy").string()), Contains("Fortran-ordered"), Error);
  CHECK_THROWS_WITH_AS(read_npy((data_dir() / "npy_3_f4.npy").string()), Contains("shape (3,) is not 2-D"), Error);
  const std::string missing = "cannot open " + tmp / "missing.npy";
  CHECK_THROWS_WITH_AS(read_npy(tmp / "missing.npy"), Contains(missing.c_str()), Error);
  spit(tmp / "text.npy", "hello world, not numpy");
  CHECK_THROWS_WITH_AS(read_npy(tmp / "text.npy"), Contains("text.npy is not a .npy file"), Error);
  std::string bytes = slurp((data_dir() / "npy_2x3_f4.npy").string());
  spit(tmp / "trunc.npy", bytes.substr(0, bytes.size() - 3));
  CHECK_THROWS_WITH_AS(read_npy(tmp / "trunc.npy"), Contains("trunc.npy: truncated data"), Error);
  std::string i4 = bytes;
  i4.replace(i4.find("<f4"), 3, "<i4");
  spit(tmp / "int.npy", i4);
  CHECK_THROWS_WITH_AS(read_npy(tmp / "int.npy"), Contains("dtype '<i4' is not supported"), Error);
  CHECK_THROWS_WITH_AS(write_npy(tmp / "x.npy", Tensor::zeros({2, 2, 2})), Contains("expected embeddings (n, D)"), Error);
}

TEST_CASE("Kaldi text archive: the exact text, a bit-exact round trip, and the spellings Kaldi accepts") {
  TempDir tmp;
  Embeddings e{{"utt1", "utt2"}, Tensor::from_vector(std::vector<float>{0.5f, -1.0f, 3.25f, 1e-8f, 0.1f, -7.0f}, {2, 3})};
  write_kaldi_text_ark(tmp / "a.ark", e);
  CHECK(slurp(tmp / "a.ark") == "utt1 [ 0.5 -1 3.25 ]\nutt2 [ 1e-08 0.1 -7 ]\n");
  Rng rng(12);
  Embeddings big{{}, Tensor::normal({20, 17}, rng, 0, 3)};
  for (int i = 0; i < 20; ++i) big.keys.push_back("id" + std::to_string(10000 + i) + "/clip/" + std::to_string(i) + ".wav");
  write_kaldi_text_ark(tmp / "big.ark", big);
  Embeddings r = read_kaldi_text_ark(tmp / "big.ark");
  CHECK(r.keys == big.keys);
  CHECK(r.matrix.to_vector<float>() == big.matrix.to_vector<float>());
  // Brackets without spaces, several spaces, '+' signs, exponents, CRLF line ends and blank lines.
  spit(tmp / "loose.ark", "a  [1 +2.5 3e-1]\r\n\nb\t[ -4 5 6 ]\n");
  Embeddings l = read_kaldi_text_ark(tmp / "loose.ark");
  CHECK(l.keys == std::vector<std::string>{"a", "b"});
  CHECK(l.matrix.to_vector<float>() == std::vector<float>{1, 2.5f, 0.3f, -4, 5, 6});
}

TEST_CASE("Kaldi text archive errors give file and line") {
  using doctest::Contains;
  TempDir tmp;
  spit(tmp / "len.ark", "a [ 1 2 3 ]\nb [ 1 2 ]\n");
  CHECK_THROWS_WITH_AS(read_kaldi_text_ark(tmp / "len.ark"),
                       Contains("len.ark:2: vector of length 2 for key b, but earlier vectors have length 3"), Error);
  spit(tmp / "mat.ark", "a [\n 1 2\n 3 4 ]\n");
  CHECK_THROWS_WITH_AS(read_kaldi_text_ark(tmp / "mat.ark"), Contains("mat.ark:1: no closing ']'"), Error);
  spit(tmp / "num.ark", "a [ 1 2 3 ]\nb [ 1 x2 3 ]\n");
  CHECK_THROWS_WITH_AS(read_kaldi_text_ark(tmp / "num.ark"), Contains("num.ark:2: 'x2' is not a number"), Error);
  spit(tmp / "nan.ark", "a [ 1 nan 3 ]\n");
  CHECK_THROWS_WITH_AS(read_kaldi_text_ark(tmp / "nan.ark"), Contains("nan.ark:1: 'nan' is not a finite number"), Error);
  spit(tmp / "bin.ark", std::string("a \0BFV\4\3\0\0\0", 12));
  CHECK_THROWS_WITH_AS(read_kaldi_text_ark(tmp / "bin.ark"), Contains("bin.ark:1: this is a binary archive"), Error);
  spit(tmp / "nokey.ark", "[ 1 2 ]\n");
  CHECK_THROWS_WITH_AS(read_kaldi_text_ark(tmp / "nokey.ark"), Contains("nokey.ark:1: expected 'key [ v1 ... vD ]'"),
                       Error);
  spit(tmp / "empty.ark", "\n");
  CHECK_THROWS_WITH_AS(read_kaldi_text_ark(tmp / "empty.ark"), Contains("empty.ark: no embeddings"), Error);
  Embeddings bad{{"has space"}, Tensor::zeros({1, 2})};
  CHECK_THROWS_WITH_AS(write_kaldi_text_ark(tmp / "w.ark", bad), Contains("key 0 'has space' contains whitespace"),
                       Error);
  CHECK_THROWS_WITH_AS(write_kaldi_text_ark((tmp.path / "no" / "dir.ark").string(), Embeddings{{"a"}, Tensor::zeros({1, 2})}),
                       Contains("cannot open"), Error);
}

TEST_CASE("score files in voxceleb_trainer's and Kaldi's layouts") {
  TempDir tmp;
  const std::vector<ScoreLine> lines = {{"id1/a.wav", "id2/b.wav", -1.0123456789012344, 0},
                                        {"id1/a.wav", "id1/c.wav", -0.5, 1}};
  write_scores_vt(tmp / "vt.txt", lines);
  CHECK(slurp(tmp / "vt.txt") == "-1.0123456789012344 id1/a.wav id2/b.wav\n-0.5 id1/a.wav id1/c.wav\n");
  std::vector<ScoreLine> r = read_scores_vt(tmp / "vt.txt");
  REQUIRE(r.size() == 2);
  CHECK(r[0].score == lines[0].score);   // the shortest round-trip text reads back to the same double
  CHECK(r[0].enrol == "id1/a.wav");
  CHECK(r[1].test == "id1/c.wav");
  CHECK(r[1].label == -1);
  write_scores_vt(tmp / "vt4.txt", lines, 4);   // VT's own '%.4f'
  CHECK(slurp(tmp / "vt4.txt") == "-1.0123 id1/a.wav id2/b.wav\n-0.5000 id1/a.wav id1/c.wav\n");

  write_scores_kaldi(tmp / "k.score", lines, 5);
  CHECK(slurp(tmp / "k.score") == "id1/a.wav id2/b.wav -1.01235 nontarget\nid1/a.wav id1/c.wav -0.50000 target\n");
  std::vector<ScoreLine> k = read_scores_kaldi(tmp / "k.score");
  REQUIRE(k.size() == 2);
  CHECK(k[0].label == 0);
  CHECK(k[1].label == 1);
  CHECK(k[1].score == -0.5);
  std::vector<ScoreLine> unl = lines;
  for (auto& l : unl) l.label = -1;
  write_scores_kaldi(tmp / "k3.score", unl);
  CHECK(slurp(tmp / "k3.score") == "id1/a.wav id2/b.wav -1.0123456789012344\nid1/a.wav id1/c.wav -0.5\n");
  CHECK(read_scores_kaldi(tmp / "k3.score")[0].label == -1);
}

TEST_CASE("score file errors give file and line") {
  using doctest::Contains;
  TempDir tmp;
  spit(tmp / "vt.txt", "-1.0 a b\n\n0.5 a\n");
  CHECK_THROWS_WITH_AS(read_scores_vt(tmp / "vt.txt"), Contains("vt.txt:3: expected 'score path1 path2', got 2 fields"),
                       Error);
  spit(tmp / "vt2.txt", "-1.0 a b\nabc a b\n");
  CHECK_THROWS_WITH_AS(read_scores_vt(tmp / "vt2.txt"), Contains("vt2.txt:2: 'abc' is not a number"), Error);
  spit(tmp / "k.score", "a b 0.1 target\na c 0.2 maybe\n");
  CHECK_THROWS_WITH_AS(read_scores_kaldi(tmp / "k.score"),
                       Contains("k.score:2: label 'maybe' is neither target nor nontarget"), Error);
  spit(tmp / "k2.score", "a b 0.1 target extra\n");
  CHECK_THROWS_WITH_AS(read_scores_kaldi(tmp / "k2.score"), Contains("k2.score:1: expected 'utt1 utt2 score"), Error);
  const std::string missing = "cannot open " + tmp / "none.score";
  CHECK_THROWS_WITH_AS(read_scores_kaldi(tmp / "none.score"), Contains(missing.c_str()), Error);
  std::vector<ScoreLine> mixed = {{"a", "b", 0.1, 1}, {"a", "c", 0.2, -1}};
  CHECK_THROWS_WITH_AS(write_scores_kaldi(tmp / "m.score", mixed), Contains("1 of 2 lines have a label"), Error);
  CHECK_THROWS_WITH_AS(write_scores_vt(tmp / "s.txt", {{"a b", "c", 0.1, -1}}), Contains("contains whitespace"), Error);
}
