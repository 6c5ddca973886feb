// make_loss: every --trainfunc name builds, with its properties (utterances per speaker, test_normalize,
// metric, parameter names); configuration errors name the loss and the setting; each loss runs forward and
// backward in f32 on a small batch; seeding makes initialisation reproducible.
#include <cmath>
#include <map>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/loss.h"
#include "losses/momentum.h"
#include "ref.h"

using namespace spk;

namespace {

struct Expect {
  PerSpeaker per_speaker;
  bool test_normalize;
  MetricKind metric;
  std::vector<std::string> params;
  bool margin;
};

const std::map<std::string, Expect>& table() {
  static const std::map<std::string, Expect> t = {
      {"softmax", {PerSpeaker::one, true, MetricKind::accuracy, {"fc.weight", "fc.bias"}, false}},
      {"amsoftmax", {PerSpeaker::one, true, MetricKind::accuracy, {"W"}, true}},
      {"aamsoftmax", {PerSpeaker::one, true, MetricKind::accuracy, {"weight"}, true}},
      {"adasoftmax", {PerSpeaker::one, true, MetricKind::accuracy, {"W"}, false}},
      {"arc_margin", {PerSpeaker::one, true, MetricKind::accuracy, {"weight"}, true}},
      {"proto", {PerSpeaker::at_least_two, false, MetricKind::accuracy, {}, false}},
      {"angleproto", {PerSpeaker::at_least_two, true, MetricKind::accuracy, {"w", "b"}, false}},
      {"ge2e", {PerSpeaker::at_least_two, true, MetricKind::accuracy, {"w", "b"}, false}},
      {"triplet", {PerSpeaker::exactly_two, true, MetricKind::eer, {}, false}},
      {"softmaxproto",
       {PerSpeaker::exactly_two, true, MetricKind::accuracy,
        {"softmax.fc.weight", "softmax.fc.bias", "angleproto.w", "angleproto.b"}, false}},
      {"anglecontrast", {PerSpeaker::exactly_two, true, MetricKind::accuracy, {"w", "b"}, false}},
      {"uniformity", {PerSpeaker::exactly_two, true, MetricKind::none, {}, false}},
      {"cel", {PerSpeaker::exactly_two, true, MetricKind::accuracy, {"sim.w", "sim.b"}, false}},
      {"infonce", {PerSpeaker::exactly_two, true, MetricKind::accuracy, {"logit_scale"}, false}},
      {"aam_infonce", {PerSpeaker::exactly_two, true, MetricKind::accuracy, {"logit_scale", "aam.weight"}, false}},
      {"ssl_infonce", {PerSpeaker::exactly_two, true, MetricKind::accuracy, {}, false}},
      // The momentum losses before the trainer attaches their key encoder / teacher (losses/momentum.h).
      {"moco", {PerSpeaker::exactly_two, true, MetricKind::accuracy,
                {"proj.fc0.weight", "proj.fc0.bias", "key_proj.fc0.weight", "key_proj.fc0.bias"}, false}},
      {"dino", {PerSpeaker::at_least_two, true, MetricKind::none,
                {"proj.last_weight_v", "proj.fc0.weight", "proj.fc0.bias", "proj.bn0.weight", "proj.bn0.bias", "proj.fc1.weight", "proj.fc1.bias", "proj.bn1.weight", "proj.bn1.bias", "proj.fc2.weight", "proj.fc2.bias",
                 "key_proj.last_weight_v", "key_proj.fc0.weight", "key_proj.fc0.bias", "key_proj.bn0.weight", "key_proj.bn0.bias", "key_proj.fc1.weight", "key_proj.fc1.bias", "key_proj.bn1.weight", "key_proj.bn1.bias", "key_proj.fc2.weight", "key_proj.fc2.bias"}, false}},
      {"arc_linear", {PerSpeaker::one, true, MetricKind::accuracy, {"classifier.W"}, true}},
      {"coco", {PerSpeaker::one, true, MetricKind::accuracy, {"classifier.centers"}, false}},
      {"center",
       {PerSpeaker::one, true, MetricKind::accuracy, {"classifier.weight", "center_dist.centers"}, false}},
      {"pyannote_softmax", {PerSpeaker::one, true, MetricKind::accuracy, {"classifier.weight"}, false}},
      {"contrastive", {PerSpeaker::at_least_two, true, MetricKind::eer, {}, false}},
      {"pyannote_triplet", {PerSpeaker::at_least_two, true, MetricKind::eer, {}, false}},
      // ssl-for-slr's frame losses (cpc_steps 2 below)
      {"cpc",
       {PerSpeaker::at_least_two, true, MetricKind::accuracy,
        {"gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0", "predictors.0.weight",
         "predictors.0.bias", "predictors.1.weight", "predictors.1.bias"}, false}},
      {"lim", {PerSpeaker::at_least_two, true, MetricKind::accuracy,
               {"disc.0.weight", "disc.0.bias", "disc.1.weight", "disc.1.bias"}, false}},
      {"gim", {PerSpeaker::at_least_two, true, MetricKind::accuracy,
               {"disc.0.weight", "disc.0.bias", "disc.1.weight", "disc.1.bias"}, false}},
  };
  return t;
}

LossConfig small(const std::string& name) {
  LossConfig c;
  c.nOut = 6;
  c.nClasses = 7;
  c.hard_rank = 2;
  c.cpc_steps = 2;
  c.cpc_context_dim = 3;
  c.lim_hidden = 4;
  c.nPerSpeaker = table().at(name).per_speaker == PerSpeaker::one ? 1 : 2;
  c.ssl_proj_layers = name == "moco" ? 1 : 0;   // moco refuses to build without a head
  c.ssl_proj_dim = 4;
  c.moco_queue = 8;
  c.dino_out = 8;
  c.dino_hidden = 5;
  c.dino_bottleneck = 4;
  return c;
}

}  // namespace

TEST_CASE("LossConfig defaults are voxceleb_trainer's command-line defaults") {
  LossConfig c;
  CHECK(c.nOut == 512);
  CHECK(c.nClasses == 5994);
  CHECK(c.nPerSpeaker == 1);
  CHECK(c.margin == 0.1);
  CHECK(c.scale == 30);
  CHECK(c.hard_rank == 10);
  CHECK(c.hard_prob == 0.5);
  CHECK(c.init_w == 10);
  CHECK(c.init_b == -5);
  CHECK(c.uniform_t == 2);
  CHECK(c.sample_type == "PoN");
  CHECK(c.infonce_temperature == 0.07);   // HardNeg's logit_scale starts at ln(1/0.07)
  CHECK(c.ssl_temperature == 0.07);
}

TEST_CASE("make_loss: every name, its properties and parameter names") {
  CHECK(loss_names().size() == table().size());
  for (const auto& name : loss_names()) {
    CAPTURE(name);
    REQUIRE(table().count(name) == 1);
    const Expect& e = table().at(name);
    auto loss = make_loss(name, small(name));
    CHECK(loss->name() == name);
    CHECK(loss->per_speaker() == e.per_speaker);
    CHECK(loss->test_normalize() == e.test_normalize);
    CHECK(loss->metric_kind() == e.metric);
    CHECK(ref::param_names(*loss) == e.params);
    CHECK(loss->has_margin() == e.margin);
    for (const auto& p : loss->parameters()) CHECK(p.dtype() == DType::f32);
  }
  auto cel = make_loss("cel", [] { LossConfig c = small("cel"); c.sim_loss = "proto"; return c; }());
  CHECK_FALSE(cel->test_normalize());
  CHECK(cel->parameters().empty());
  auto ge2e = make_loss("ge2e", [] { LossConfig c = small("ge2e"); c.nPerSpeaker = 5; return c; }());
  CHECK(ge2e->name() == "ge2e");
}

TEST_CASE("make_loss: each loss runs forward and backward in f32") {
  Rng rng(501);
  for (const auto& name : loss_names()) {
    CAPTURE(name);
    LossConfig c = small(name);
    auto loss = make_loss(name, c);
    // moco and dino embed views with a key encoder that only the trainer attaches: tests/losses/test_moco.cpp and
    // test_dino.cpp run them forward and backward with one.
    if (dynamic_cast<MomentumLoss*>(loss.get())) continue;
    const int64_t n = 5, m = c.nPerSpeaker;
    // The frame losses read frames (N, M, T, D): 40 frames hold cpc's context and gim's 32-frame chunks.
    const Shape shape = loss->reads_frames() ? Shape{n, m, 40, c.nOut} : Shape{n, m, c.nOut};
    Tensor x = Tensor::normal(shape, rng).set_requires_grad(true);
    Tensor y = Tensor::from_vector(std::vector<int64_t>{4, 0, 6, 2, 3}, {n});
    LossOutput out = loss->forward(x, y);
    CHECK(out.loss.dtype() == DType::f32);
    CHECK(out.loss.shape() == Shape{});
    CHECK(std::isfinite(out.loss.item()));
    CHECK(out.metric >= 0);
    CHECK(out.metric <= 100);
    out.loss.backward();
    REQUIRE(x.grad().defined());
    for (double g : x.grad().to_double()) CHECK(std::isfinite(g));
    for (const auto& p : loss->parameters()) CHECK(p.grad().defined());
  }
}

TEST_CASE("make_loss: seeded initialisation; a shared Rng advances") {
  LossConfig c = small("aamsoftmax");
  c.seed = 42;
  auto a = make_loss("aamsoftmax", c), b = make_loss("aamsoftmax", c);
  CHECK(a->parameters()[0].to_double() == b->parameters()[0].to_double());
  c.seed = 43;
  CHECK(make_loss("aamsoftmax", c)->parameters()[0].to_double() != a->parameters()[0].to_double());
  c.rng = std::make_shared<Rng>(42);
  auto d = make_loss("aamsoftmax", c), e = make_loss("aamsoftmax", c);
  CHECK(d->parameters()[0].to_double() == a->parameters()[0].to_double());
  CHECK(e->parameters()[0].to_double() != d->parameters()[0].to_double());
  CHECK(c.rng->offset() > 0);
}

TEST_CASE("make_loss: unknown names and inconsistent settings name the loss and the setting") {
  CHECK_THROWS_WITH_AS(make_loss("arcface"), doctest::Contains("make_loss: unknown loss 'arcface' (--trainfunc); known: "),
                       Error);
  CHECK_THROWS_WITH_AS(make_loss("angleproto"),
                       doctest::Contains("angleproto: needs nPerSpeaker >= 2, got nPerSpeaker 1 (a metric loss"), Error);
  LossConfig c;
  c.nOut = 4;
  c.nClasses = 3;
  c.nPerSpeaker = 2;
  CHECK_THROWS_WITH_AS(make_loss("softmax", c),
                       doctest::Contains("softmax: needs nPerSpeaker 1, got nPerSpeaker 2 (a classification loss"), Error);
  c.nPerSpeaker = 3;
  CHECK_THROWS_WITH_AS(make_loss("triplet", c), doctest::Contains("triplet: needs nPerSpeaker exactly 2, got nPerSpeaker 3"),
                       Error);
  CHECK_THROWS_WITH_AS(make_loss("softmaxproto", c), doctest::Contains("softmaxproto: needs nPerSpeaker exactly 2"), Error);

  auto bad = [](const char* name, auto edit, const char* message) {
    LossConfig cfg;
    cfg.nOut = 4;
    cfg.nClasses = 3;
    cfg.nPerSpeaker = table().at(name).per_speaker == PerSpeaker::one ? 1 : 2;
    edit(cfg);
    CAPTURE(name);
    CHECK_THROWS_WITH_AS(make_loss(name, cfg), doctest::Contains(message), Error);
  };
  bad("aamsoftmax", [](LossConfig& k) { k.nClasses = 1; }, "aamsoftmax: nClasses 1 must be at least 2");
  bad("softmax", [](LossConfig& k) { k.nOut = 0; }, "softmax: nOut 0 must be positive");
  bad("amsoftmax", [](LossConfig& k) { k.scale = 0; }, "amsoftmax: scale 0 must be positive");
  bad("aamsoftmax", [](LossConfig& k) { k.margin = 4; }, "aamsoftmax: margin 4 must be in [0, pi)");
  bad("arc_margin", [](LossConfig& k) { k.margin = -0.2; }, "arc_margin: margin -0.2 must be in [0, pi)");
  bad("softmax", [](LossConfig& k) { k.dtype = DType::i64; }, "softmax: dtype i64 (f32 or f64 expected)");
  bad("triplet", [](LossConfig& k) { k.hard_prob = -0.5; }, "triplet: hard_prob -0.5 must be in [0, 1]");
  bad("uniformity", [](LossConfig& k) { k.sample_type = "ALL"; }, "uniformity: sample_type 'ALL' (PoN, APN or AN");
  bad("uniformity", [](LossConfig& k) { k.uniform_t = 0; }, "uniformity: uniform_t 0 must be positive");
  bad("cel", [](LossConfig& k) { k.sim_loss = "ge2e"; }, "cel: sim_loss 'ge2e' (anglecontrast, angleproto or proto");
  bad("ssl_infonce", [](LossConfig& k) { k.ssl_temperature = 0; }, "ssl_infonce: ssl_temperature 0 must be positive");
  bad("infonce", [](LossConfig& k) { k.infonce_temperature = 0; }, "infonce: infonce_temperature 0 must be in (0, 1)");
  bad("infonce", [](LossConfig& k) { k.infonce_aam_mix = "yes"; }, "infonce: infonce_aam_mix 'yes' (auto, true");
  bad("aam_infonce", [](LossConfig& k) { k.infonce_mix_weight = 2; }, "aam_infonce: infonce_mix_weight 2 must be in [0, 1]");
  bad("aam_infonce", [](LossConfig& k) { k.infonce_row_margin = -1; },
      "aam_infonce: infonce_row_margin -1 must be in [0, pi)");
}
