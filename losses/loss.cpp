// Loss base checks and the factory keyed by --trainfunc names.
#include "losses/loss.h"

#include <algorithm>
#include <functional>
#include <map>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/aamsoftmax.h"
#include "losses/adasoftmax.h"
#include "losses/amsoftmax.h"
#include "losses/anglecontrast.h"
#include "losses/angleproto.h"
#include "losses/arc_linear.h"
#include "losses/arc_margin.h"
#include "losses/center.h"
#include "losses/cel.h"
#include "losses/coco.h"
#include "losses/contrastive.h"
#include "losses/ge2e.h"
#include "losses/infonce.h"
#include "losses/proto.h"
#include "losses/pyannote_softmax.h"
#include "losses/pyannote_triplet.h"
#include "losses/softmax.h"
#include "losses/softmaxproto.h"
#include "losses/dino.h"
#include "losses/moco.h"
#include "losses/ssl_infonce.h"
#include "losses/cpc.h"
#include "losses/lim.h"
#include "losses/triplet.h"
#include "losses/uniformity.h"

namespace spk {

std::string per_speaker_str(PerSpeaker p) {
  switch (p) {
    case PerSpeaker::one: return "1";
    case PerSpeaker::at_least_two: return ">= 2";
    case PerSpeaker::exactly_two: return "exactly 2";
  }
  return "?";
}

bool per_speaker_accepts(PerSpeaker p, int64_t m) {
  switch (p) {
    case PerSpeaker::one: return m == 1;
    case PerSpeaker::at_least_two: return m >= 2;
    case PerSpeaker::exactly_two: return m == 2;
  }
  return false;
}

double Loss::margin() const { SPK_FAIL(name_, ": this loss has no margin"); }
void Loss::set_margin(double) { SPK_FAIL(name_, ": this loss has no margin to schedule"); }

static std::string str_or_undefined(const Tensor& t) { return t.defined() ? t.str() : std::string("undefined"); }

Tensor Loss::as_groups(const Tensor& x) const {
  SPK_CHECK(x.defined() && (x.dim() == 3 || (x.dim() == 2 && per_speaker_ == PerSpeaker::one)), name_,
            ": expected embeddings (N, M, D)", per_speaker_ == PerSpeaker::one ? " or (N, D)" : "", ", got ",
            str_or_undefined(x));
  Tensor g = x.dim() == 2 ? unsqueeze(x, 1) : x;
  SPK_CHECK(per_speaker_accepts(per_speaker_, g.size(1)), name_, ": needs nPerSpeaker ", per_speaker_str(per_speaker_),
            " (embeddings (N, M, D)), got M = ", g.size(1), " in ", x.str());
  SPK_CHECK(g.size(0) >= 1 && g.size(2) >= 1, name_, ": empty batch ", x.str());
  return g;
}

Tensor Loss::as_rows(const Tensor& x, const Tensor& labels, int64_t d) const {
  SPK_CHECK(x.defined() && (x.dim() == 2 || x.dim() == 3), name_, ": expected embeddings (N, D) or (N, 1, D), got ",
            str_or_undefined(x));
  SPK_CHECK(x.dim() == 2 || x.size(1) == 1, name_, ": a classification loss needs nPerSpeaker 1, got embeddings ",
            x.str());
  Tensor r = x.dim() == 3 ? squeeze(x, 1) : x;
  SPK_CHECK(r.size(0) >= 1, name_, ": empty batch ", x.str());
  SPK_CHECK(r.size(1) == d, name_, ": embedding size ", r.size(1), " of ", x.str(), " does not match nOut ", d);
  SPK_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == r.size(0),
            name_, ": labels must be i64 (", r.size(0), ") class indices, got ", str_or_undefined(labels));
  SPK_CHECK(labels.device() == x.device(), name_, ": embeddings ", x.str(), " and labels ", labels.str(),
            " are on different devices");
  return r;
}

void Loss::check_positional(const Tensor& labels, int64_t n) const {
  if (!labels.defined()) return;
  SPK_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == n, name_, ": labels must be i64 (",
            n, "), got ", labels.str());
  // Labels on a GPU are not read back (a device-to-host sync per step): the trainer checks its host batch's
  // labels are distinct before the upload (Trainer::forward_loss).
  if (!labels.device().is_cpu()) return;
  const Tensor y = labels.contiguous();
  const int64_t* v = y.data<int64_t>();
  std::map<int64_t, int64_t> seen;
  for (int64_t i = 0; i < n; ++i) {
    auto [it, fresh] = seen.emplace(v[i], i);
    SPK_CHECK(fresh, name_, ": speaker label ", v[i], " appears at rows ", it->second, " and ", i,
              "; the targets are positional, so each speaker may appear once per batch");
  }
}

namespace {

using Maker = std::function<std::shared_ptr<Loss>(const LossConfig&, Rng&)>;

struct Entry {
  PerSpeaker per_speaker;
  Maker make;
};

template <class L>
Maker maker() {
  return [](const LossConfig& c, Rng& rng) { return std::make_shared<L>(c, rng); };
}

const std::map<std::string, Entry>& registry() {
  static const std::map<std::string, Entry> r = {
      {"softmax", {PerSpeaker::one, maker<SoftmaxLoss>()}},
      {"amsoftmax", {PerSpeaker::one, maker<AMSoftmaxLoss>()}},
      {"aamsoftmax", {PerSpeaker::one, maker<AAMSoftmaxLoss>()}},
      {"adasoftmax", {PerSpeaker::one, maker<AdaCosLoss>()}},
      {"arc_margin", {PerSpeaker::one, maker<ArcMarginLoss>()}},
      {"proto", {PerSpeaker::at_least_two, maker<ProtoLoss>()}},
      {"angleproto", {PerSpeaker::at_least_two, maker<AngleProtoLoss>()}},
      {"ge2e", {PerSpeaker::at_least_two, maker<GE2ELoss>()}},
      {"triplet", {PerSpeaker::exactly_two, maker<TripletLoss>()}},
      {"softmaxproto", {PerSpeaker::exactly_two, maker<SoftmaxProtoLoss>()}},
      {"anglecontrast", {PerSpeaker::exactly_two, maker<AngleContrastLoss>()}},
      {"uniformity", {PerSpeaker::exactly_two, maker<UniformityLoss>()}},
      {"cel", {PerSpeaker::exactly_two, maker<CELLoss>()}},
      {"infonce", {PerSpeaker::exactly_two, [](const LossConfig& c, Rng& rng) {
                     return std::make_shared<InfoNCELoss>(c, rng, /*row_margin=*/false);
                   }}},
      {"aam_infonce", {PerSpeaker::exactly_two, [](const LossConfig& c, Rng& rng) {
                         return std::make_shared<InfoNCELoss>(c, rng, /*row_margin=*/true);
                       }}},
      {"ssl_infonce", {PerSpeaker::exactly_two, maker<SSLInfoNCELoss>()}},
      {"moco", {PerSpeaker::exactly_two, maker<MoCoLoss>()}},   // needs the trainer's key encoder (momentum.h)
      {"dino", {PerSpeaker::at_least_two, maker<DinoLoss>()}},  // the same, and --ssl_local_views crops
      // ssl-for-slr's frame-level objectives (they read SpeakerNet::frames; losses/cpc.h, lim.h)
      {"cpc", {PerSpeaker::at_least_two, maker<CPCLoss>()}},
      {"lim", {PerSpeaker::at_least_two, [](const LossConfig& c, Rng& rng) {
                 return std::make_shared<LIMLoss>("lim", c, rng); }}},
      {"gim", {PerSpeaker::at_least_two, [](const LossConfig& c, Rng& rng) {
                 return std::make_shared<LIMLoss>("gim", c, rng); }}},
      // pyannote-audio (Coria et al., SLSP 2020); settings LossConfig::pyannote_*
      {"arc_linear", {PerSpeaker::one, maker<ArcLinearLoss>()}},
      {"coco", {PerSpeaker::one, maker<CocoLoss>()}},
      {"center", {PerSpeaker::one, maker<CenterLoss>()}},
      {"pyannote_softmax", {PerSpeaker::one, maker<PyannoteSoftmaxLoss>()}},
      {"contrastive", {PerSpeaker::at_least_two, maker<ContrastiveLoss>()}},
      {"pyannote_triplet", {PerSpeaker::at_least_two, maker<PyannoteTripletLoss>()}},
  };
  return r;
}

}  // namespace

std::vector<std::string> loss_names() {
  std::vector<std::string> out;
  for (const auto& [name, _] : registry()) out.push_back(name);
  return out;
}

bool loss_per_speaker(const std::string& name, PerSpeaker& out) {
  auto it = registry().find(name);
  if (it == registry().end()) return false;
  out = it->second.per_speaker;
  return true;
}

std::shared_ptr<Loss> make_loss(const std::string& name, const LossConfig& config) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : loss_names()) known += (known.empty() ? "" : ", ") + n;
    SPK_FAIL("make_loss: unknown loss '", name, "' (--trainfunc); known: ", known);
  }
  const Entry& e = it->second;
  SPK_CHECK(per_speaker_accepts(e.per_speaker, config.nPerSpeaker), name, ": needs nPerSpeaker ",
            per_speaker_str(e.per_speaker), ", got nPerSpeaker ", config.nPerSpeaker,
            e.per_speaker == PerSpeaker::one ? " (a classification loss takes one utterance per speaker)"
                                             : " (a metric loss compares utterances of the same speaker)");
  Rng own(config.seed);
  return e.make(config, config.rng ? *config.rng : own);
}

}  // namespace spk
