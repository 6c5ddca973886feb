// wespeaker's ResNet family (nets/wespeaker_resnet.h) and its MQMHASTP pooling (nets/mqmhastp.h), and the HardNeg
// seed's ECAPA_TDNN variant. Parameter counts and state_dict names against tests/data/models/
// wespeaker_resnet_family.txt (scripts/make_wespeaker_resnet_family.py, from PyTorch definitions checked equal to
// wespeaker's own classes); MQMHASTP against a double-precision loop and finite differences. The forward of
// ResNet18-MQMHASTP and ResNet50-TSTP against PyTorch is in test_model_golden.cpp.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "model_test_util.h"
#include "nets/ecapa_tdnn.h"
#include "nets/mqmhastp.h"
#include "nets/wespeaker_resnet.h"
#include "support/check.h"

using namespace spk;

namespace {
ModelConfig cfg(int64_t nOut = 256, const std::string& encoder = "TSTP", int64_t n_mels = 80) {
  ModelConfig c;
  c.n_mels = n_mels;
  c.nOut = nOut;
  c.encoder_type = encoder;
  return c;
}

std::string shape_text(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out;
}

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

struct Family {
  struct Row {
    std::string model, encoder;
    int64_t params = 0, entries = 0;
    uint64_t hash = 0;
    std::string blocks, block_class;
  };
  std::vector<Row> rows;
  std::map<std::string, std::vector<std::string>> entries;   // "<model>_<encoder>" -> "name shape" in order
};

Family read_family() {
  const std::string path = std::string(SPK_TEST_DATA_DIR) + "/models/wespeaker_resnet_family.txt";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  Family f;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string kind;
    ls >> kind;
    if (kind == "family") {
      Family::Row r;
      std::string hash;
      ls >> r.model >> r.encoder >> r.params >> r.entries >> hash >> r.blocks >> r.block_class;
      r.hash = std::stoull(hash, nullptr, 16);
      f.rows.push_back(r);
    } else if (kind == "entry") {
      std::string key, name, shape;
      ls >> key >> name;
      ls >> shape;   // empty for a scalar
      f.entries[key].push_back(name + " " + shape);
    }
  }
  REQUIRE(f.rows.size() == 23);
  return f;
}

std::vector<std::string> state_lines(const Module& m) {
  std::vector<std::string> out;
  for (const auto& [n, t] : m.state()) out.push_back(n + " " + shape_text(t.shape()));
  return out;
}
}  // namespace

TEST_CASE("ResNet34: parameter count matches wespeaker's 6.63 M") {
  CHECK(make_model("ResNet34", cfg())->num_parameters() == 6634336);
}

TEST_CASE("ResNet34: state_dict names follow wespeaker's module") {
  auto m = make_model("ResNet34", cfg());
  CHECK(test::has_state(*m, "conv1.weight", {32, 1, 3, 3}));
  CHECK(test::has_state(*m, "bn1.weight", {32}));
  CHECK(test::has_state(*m, "layer1.0.conv2.weight", {32, 32, 3, 3}));
  CHECK(test::has_state(*m, "layer2.0.shortcut.0.weight", {64, 32, 1, 1}));
  CHECK(test::has_state(*m, "layer2.0.shortcut.1.running_mean", {64}));
  CHECK(!test::has_state(*m, "layer1.0.shortcut.0.weight", {32, 32, 1, 1}));
  CHECK(test::has_state(*m, "layer4.2.bn2.bias", {256}));
  CHECK(test::has_state(*m, "seg_1.weight", {256, 5120}));
}

TEST_CASE("ResNet34: output shape and train/eval") {
  auto feats = test::random_feats(2, 80, 100);
  auto m = make_model("ResNet34", cfg(32));
  CHECK(m->forward(feats).shape() == Shape{2, 32});
  test::check_train_eval(*m, feats);
  CHECK(m->forward(test::random_feats(2, 80, 9)).shape() == Shape{2, 32});   // 9 -> 5 -> 3 -> 2 frames
  CHECK_THROWS_WITH_AS(m->forward(test::random_feats(2, 80, 8)), doctest::Contains("T >= 9"), Error);
}

TEST_CASE("wespeaker ResNet family: every depth's block counts and block class are wespeaker's") {
  const Family f = read_family();
  const auto& depths = wespeaker_resnet_depths();
  REQUIRE(depths.size() == 7);
  for (const auto& r : f.rows) {
    INFO(r.model);
    const WespeakerResNetDepth* d = nullptr;
    const std::string base = r.model.substr(0, r.model.find('_'));   // ResNet34_HardNeg: ResNet34's blocks
    for (const auto& x : depths)
      if (base == x.name) d = &x;
    REQUIRE(d != nullptr);
    CHECK(shape_text({d->blocks.begin(), d->blocks.end()}) == r.blocks);
    CHECK(r.block_class == (d->bottleneck ? "Bottleneck" : "BasicBlock"));
  }
}

// Building a net costs its random init (ResNet293 with MQMHASTP: 36.5 M draws), so by default this checks
// ResNet18 (every pooling), ResNet34-TSTP, ResNet50-TSTP and the two HardNeg nets (both block classes, all
// poolings); SPK_SLOW_TESTS=1 checks all 23 rows (~380 M draws).
TEST_CASE("wespeaker ResNet family: parameter counts and state_dict names against wespeaker's") {
  const Family f = read_family();
  const char* slow_env = std::getenv("SPK_SLOW_TESTS");
  const bool slow = slow_env != nullptr && std::string(slow_env) == "1";
  int checked = 0;
  for (const auto& r : f.rows) {
    const bool listed = f.entries.count(r.model + "_" + r.encoder) > 0;
    const bool small = r.model == "ResNet18" || r.model == "ResNet34_HardNeg" ||
                       (r.model == "ResNet34" && r.encoder == "TSTP");
    if (!slow && !listed && !small) continue;
    INFO(r.model, " ", r.encoder);
    ++checked;
    auto m = make_model(r.model, cfg(256, r.encoder));
    CHECK(m->name() == r.model);
    CHECK(m->num_parameters() == r.params);
    std::vector<std::string> lines = state_lines(*m);
    CHECK(int64_t(lines.size()) == r.entries);
    if (listed) {
      const auto& ref = f.entries.at(r.model + "_" + r.encoder);
      REQUIRE(ref.size() == lines.size());
      for (size_t i = 0; i < lines.size(); ++i) CHECK(lines[i] == ref[i]);   // wespeaker's order
    }
    std::sort(lines.begin(), lines.end());
    std::string joined;
    for (const auto& l : lines) joined += l + "\n";
    CHECK(fnv1a64(joined) == r.hash);
  }
  CHECK(checked == (slow ? 23 : 7));
  CHECK(f.entries.size() == 3);
  if (!slow) MESSAGE("ResNet34/50 ASTP and MQMHASTP, ResNet101..293 not built (SPK_SLOW_TESTS=1 builds them)");
}

TEST_CASE("wespeaker ResNet family: shapes, frames, bad encoder") {
  auto m = make_model("ResNet18", cfg(16, "MQMHASTP", 16));
  auto feats = test::random_feats(2, 16, 12);
  CHECK(m->forward(feats).shape() == Shape{2, 16});
  test::check_train_eval(*m, feats);
  CHECK(m->forward(test::random_feats(2, 16, 1)).shape() == Shape{2, 16});   // MQMHASTP needs no variance
  test::check_backward(*m, feats);
  auto b = make_model("ResNet50", cfg(8, "TSTP", 12));   // 12 mel -> 6 -> 3 -> 2 rows: 1024 * 2 channels
  CHECK(test::has_state(*b, "seg_1.weight", {8, 2 * 1024 * 2}));
  CHECK(test::has_state(*b, "layer1.0.shortcut.0.weight", {128, 32, 1, 1}));   // 32 -> 4 * 32: a shortcut
  CHECK(!test::has_state(*b, "layer1.1.shortcut.0.weight", {128, 128, 1, 1}));
  CHECK(b->forward(test::random_feats(1, 12, 9)).shape() == Shape{1, 8});
  CHECK_THROWS_WITH_AS(make_model("ResNet101", cfg(8, "ASP", 12)), doctest::Contains("--encoder_type 'ASP'"), Error);
  CHECK_THROWS_WITH_AS(make_model("ResNet18", cfg(8, "MHASTP", 12)), doctest::Contains("'MHASTP'"), Error);
  auto a = make_model("ResNet18", cfg(8, "ASTP", 12));   // 256 * 2 rows = 512 channels, bottleneck 128
  CHECK(test::has_state(*a, "pool.linear1.weight", {128, 512, 1}));
  CHECK(a->forward(test::random_feats(2, 12, 1)).shape() == Shape{2, 8});
  CHECK_THROWS_WITH_AS(make_model("ResNet18_HardNeg", cfg(8, "TSTP", 12)), doctest::Contains("supports MHASTP"),
                       Error);
  CHECK_THROWS_WITH_AS(make_model("ResNet50_HardNeg", cfg(8, "", 12)), doctest::Contains("unknown --model"), Error);
}

TEST_CASE("ResNet18_HardNeg: MHASTP pooling and two embedding layers (the HardNeg seed's ResNet)") {
  auto m = make_model("ResNet18_HardNeg", cfg(16, "", 16));
  CHECK(test::has_state(*m, "pool.heads_att_trans.7.att_0.weight", {64, 64, 1}));   // 512 / 8 heads
  CHECK(test::has_state(*m, "pool.heads_att_trans.7.att_1.weight", {1, 64, 1}));    // one weight per frame
  CHECK(test::has_state(*m, "seg_1.weight", {16, 1024}));
  CHECK(test::has_state(*m, "seg_bn_1.running_var", {16}));
  CHECK(!test::has_state(*m, "seg_bn_1.weight", {16}));                             // affine=False
  CHECK(test::has_state(*m, "seg_2.weight", {16, 16}));
  auto feats = test::random_feats(3, 16, 10);
  CHECK(m->forward(feats).shape() == Shape{3, 16});
  test::check_train_eval(*m, feats);
  test::check_backward(*m, feats);
}

namespace {
// MHASTP in double, one loop per head: score s = W1 tanh(W0 x_t + b0) + b1 (layer_num 2), softmax over t.
std::vector<double> mhastp_loop(const MHASTP& p, const std::vector<double>& x, int64_t B, int64_t T) {
  const int64_t H = p.opt.head_num, dm = p.d_model, D = p.in_dim, k = p.opt.bottleneck_dim;
  std::vector<double> out(size_t(B * 2 * D));
  for (int64_t h = 0; h < H; ++h) {
    auto& seq = p.heads_att_trans->at<Slots>(size_t(h));
    auto& c0 = dynamic_cast<Conv1d&>(*seq.children()[0].second);
    auto& c1 = dynamic_cast<Conv1d&>(*seq.children()[1].second);
    const auto w0 = c0.weight.to_double(), b0 = c0.bias.to_double(), w1 = c1.weight.to_double(),
               b1 = c1.bias.to_double();
    const int64_t ds = c1.weight.size(0);
    for (int64_t b = 0; b < B; ++b) {
      auto xv = [&](int64_t c, int64_t t) { return x[size_t((b * D + h * dm + c) * T + t)]; };
      std::vector<double> score(size_t(ds * T));
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> hid(static_cast<size_t>(k));
        for (int64_t j = 0; j < k; ++j) {
          double a = b0[size_t(j)];
          for (int64_t c = 0; c < dm; ++c) a += w0[size_t(j * dm + c)] * xv(c, t);
          hid[size_t(j)] = std::tanh(a);
        }
        for (int64_t o = 0; o < ds; ++o) {
          double a = b1[size_t(o)];
          for (int64_t j = 0; j < k; ++j) a += w1[size_t(o * k + j)] * hid[size_t(j)];
          score[size_t(o * T + t)] = a;
        }
      }
      for (int64_t c = 0; c < dm; ++c) {
        const int64_t o = ds == 1 ? 0 : c;
        double mx = -1e300, z = 0, m = 0, m2 = 0;
        for (int64_t t = 0; t < T; ++t) mx = std::max(mx, score[size_t(o * T + t)]);
        for (int64_t t = 0; t < T; ++t) z += std::exp(score[size_t(o * T + t)] - mx);
        for (int64_t t = 0; t < T; ++t) {
          const double a = std::exp(score[size_t(o * T + t)] - mx) / z;
          m += a * xv(c, t);
          m2 += a * xv(c, t) * xv(c, t);
        }
        out[size_t(b * 2 * D + h * 2 * dm + c)] = m;
        out[size_t(b * 2 * D + h * 2 * dm + dm + c)] = std::sqrt(std::max(m2 - m * m, 1e-7));
      }
    }
  }
  return out;
}
}  // namespace

TEST_CASE("MQMHASTP: forward against a double loop, channel-wise (d_s 2) and per-frame (d_s 1) heads") {
  for (int64_t d_s : {2, 1}) {
    INFO("d_s ", d_s);
    Rng rng(11);
    MhastpOptions o;
    o.head_num = 3;
    o.d_s = d_s;
    o.bottleneck_dim = 4;
    const int64_t B = 2, D = 6, T = 5, Q = 2;
    MQMHASTP pool(D, Q, o, rng);
    pool.to(DType::f64);
    CHECK(pool.out_dim() == 2 * Q * D);
    Tensor x = Tensor::normal({B, D, T}, rng, 0, 1, DType::f64);
    const auto got = pool.forward(x).to_double();
    REQUIRE(got.size() == size_t(B * 2 * Q * D));
    const auto xv = x.to_double();
    for (int64_t q = 0; q < Q; ++q) {
      const auto ref = mhastp_loop(pool.n_query->at<MHASTP>(size_t(q)), xv, B, T);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < 2 * D; ++i)
          CHECK(got[size_t(b * 2 * Q * D + q * 2 * D + i)] ==
                doctest::Approx(ref[size_t(b * 2 * D + i)]).epsilon(1e-12));
    }
  }
}

TEST_CASE("MQMHASTP: names and gradients (finite differences, double)") {
  Rng rng(5);
  MhastpOptions o;
  o.head_num = 2;
  o.bottleneck_dim = 3;
  MQMHASTP pool(4, 2, o, rng);
  CHECK(test::has_state(pool, "n_query.1.heads_att_trans.1.att_0.weight", {3, 2, 1}));
  CHECK(test::has_state(pool, "n_query.0.heads_att_trans.0.att_1.bias", {2}));   // d_s 2: d_model outputs
  pool.to(DType::f64);
  std::vector<Tensor> inputs = {test::rand_input({2, 4, 5}, rng)};
  for (const auto& [n, p] : pool.named_parameters()) inputs.push_back(p);
  test::gradcheck([&](const std::vector<Tensor>& in) { return pool.forward(in[0]); }, inputs);
  // A layer_num 3 stack (att_0, tanh, att_1, tanh, att_2) and per-frame weights.
  o.layer_num = 3;
  o.d_s = 1;
  MHASTP deep(4, o, rng);
  CHECK(test::has_state(deep, "heads_att_trans.0.att_2.weight", {1, 3, 1}));
  deep.to(DType::f64);
  std::vector<Tensor> in2 = {test::rand_input({2, 4, 5}, rng)};
  for (const auto& [n, p] : deep.named_parameters()) in2.push_back(p);
  test::gradcheck([&](const std::vector<Tensor>& in) { return deep.forward(in[0]); }, in2);
  CHECK_THROWS_WITH_AS(MHASTP(5, o, rng), doctest::Contains("multiple of head_num"), Error);
}

TEST_CASE("ASTP: one channel-wise MHASTP head under wespeaker's ASTP names") {
  Rng rng(9);
  const int64_t D = 6, K = 4;
  ASTP astp(D, K, rng);
  CHECK(test::has_state(astp, "linear1.weight", {K, D, 1}));
  CHECK(test::has_state(astp, "linear2.bias", {D}));
  MhastpOptions o;
  o.head_num = 1;
  o.d_s = 2;
  o.bottleneck_dim = K;
  MHASTP head(D, o, rng);   // checked against a double loop above
  auto& seq = head.heads_att_trans->at<Slots>(0);
  auto& c0 = dynamic_cast<Conv1d&>(*seq.children()[0].second);
  auto& c1 = dynamic_cast<Conv1d&>(*seq.children()[1].second);
  {
    NoGradGuard no_grad;
    c0.weight.copy_(astp.linear1->weight);
    c0.bias.copy_(astp.linear1->bias);
    c1.weight.copy_(astp.linear2->weight);
    c1.bias.copy_(astp.linear2->bias);
  }
  astp.to(DType::f64);
  head.to(DType::f64);
  Tensor x = Tensor::normal({2, D, 7}, rng, 0, 1, DType::f64);
  CHECK(test::max_abs_diff(astp.forward(x), head.forward(x)) < 1e-14);
  std::vector<Tensor> inputs = {test::rand_input({2, D, 5}, rng)};
  for (const auto& [n, p] : astp.named_parameters()) inputs.push_back(p);
  test::gradcheck([&](const std::vector<Tensor>& in) { return astp.forward(in[0]); }, inputs);
}

TEST_CASE("ECAPA_TDNN_HardNeg: TaoRuijie's ECAPA with a 64-channel attention bottleneck") {
  ModelConfig c = cfg(192, "ASP");
  c.C = 512;
  auto m = make_model("ECAPA_TDNN_HardNeg", c);
  CHECK(m->name() == "ECAPA_TDNN_HardNeg");
  // CJchanghwan/speaker_recognition_framework model.py ECAPA_TDNN(C), without its attn/itm_head/pool modules.
  CHECK(m->num_parameters() == 5797952);
  CHECK(make_model("ECAPA_TDNN", c)->num_parameters() - m->num_parameters() == 1180224);
  CHECK(test::has_state(*m, "attention.0.weight", {64, 4608, 1}));
  CHECK(test::has_state(*m, "attention.2.running_var", {64}));
  CHECK(test::has_state(*m, "attention.4.weight", {1536, 64, 1}));
  CHECK(m->forward(test::random_feats(2, 80, 20)).shape() == Shape{2, 192});   // (C = 1024: 14,264,320)
}
