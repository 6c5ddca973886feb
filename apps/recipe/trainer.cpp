// The training loop (see trainer.h): steps, epochs, checkpoints; the setup steps are in trainer_setup.cpp.
#include "apps/recipe/trainer.h"

#include <chrono>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <limits>
#include <fstream>
#include <set>
#include <sstream>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/distributed.h"
#include "apps/recipe/epoch_log.h"
#include "apps/recipe/frontend.h"
#include "apps/recipe/mixed_precision.h"
#include "apps/recipe/recipe_parts.h"
#include "apps/recipe/spec_aug_flags.h"
#include "apps/recipe/ssl_mode.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/augment.h"
#include "engine/audio/background_noise.h"
#include "engine/audio/chunk_sampler.h"
#include "engine/audio/fbank.h"
#include "engine/audio/loader.h"
#include "engine/audio/view_sampler.h"
#include "engine/autocast.h"
#include "engine/autograd.h"
#include "engine/cuda.h"
#include "engine/fault.h"
#include "engine/layers.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/out_of_memory.h"
#include "engine/rng.h"
#include "engine/schedule.h"
#include "engine/sync_counter.h"
#include "losses/second_loss.h"
#include "nets/model.h"

namespace fs = std::filesystem;

namespace spk::recipe {

using flag_check::num;

Trainer::Trainer(const RecipeConfig& config, nlohmann::json options, TrainerHooks hooks,
                 std::shared_ptr<dist::Communicator> comm)
    : cfg_(config), options_(std::move(options)), hooks_(std::move(hooks)),
      comm_(comm ? std::move(comm) : dist::make_single_communicator()) {}

Trainer::~Trainer() = default;

void Trainer::log(const std::string& line) const {
  if (hooks_.log) hooks_.log(line);
}

double Trainer::lr_at(int64_t epoch0, int64_t batch) const {
  const int64_t iter = epoch0 * batches_per_epoch_ + batch;
  if (cfg_.scheduler == "exponential") {
    ExponentialDecaySchedule s;
    s.initial_lr = cfg_.lr;
    s.final_lr = cfg_.final_lr;
    s.num_epochs = cfg_.max_epoch;
    s.epoch_iter = batches_per_epoch_;
    s.warm_up_epoch = cfg_.warm_up_epoch;
    s.warm_from_zero = cfg_.warm_up_epoch > 0;
    return s(iter);
  }
  if (cfg_.scheduler == "cosine") {
    WarmupCosineSchedule s;
    s.min_lr = cfg_.final_lr;
    s.max_lr = cfg_.lr;
    s.warmup_epoch = cfg_.warm_up_epoch;
    s.fix_epoch = cfg_.max_epoch;
    s.epoch_iter = batches_per_epoch_;
    s.warm_from_zero = cfg_.warm_up_epoch > 0;
    return s(iter);
  }
  return step_lr(cfg_.lr, cfg_.lr_decay, cfg_.test_interval, epoch0);
}

std::string Trainer::resume_note() const {
  if (last_checkpoint_.empty())
    return "no checkpoint was written yet, so a rerun starts from the beginning";
  return "the last complete checkpoint is " + last_checkpoint_ + " (epoch " + std::to_string(last_checkpoint_epoch_) +
         "): a rerun with the same --save_path resumes from it";
}

void Trainer::save(const std::string& path, const nlohmann::json& eval) {
  TrainingState st;
  st.epoch = epoch_;
  st.step = step_;
  st.rng_seed = rng_->seed();
  st.rng_offset = rng_->offset();
  st.lr = optim_->lr();
  st.config = options_;
  st.speakers = train_.speakers;
  st.eval = eval.is_null() ? nlohmann::json::object() : eval;
  st.loss_scaler = amp_->checkpoint_state();
  try {
    save_checkpoint(path, *model_, *loss_, *optim_, st, loss2_.get());
  } catch (const Error& e) {
    // The write is atomic (engine/io/atomic_file.h): the file at `path`, if any, and every other checkpoint are
    // as they were.
    throw Error("cannot write the checkpoint of epoch " + std::to_string(epoch_) + ": " + e.what() + "; " +
                resume_note());
  }
  last_checkpoint_ = path;
  last_checkpoint_epoch_ = epoch_;
}

void Trainer::set_step_schedule(int64_t epoch, int64_t batch) {
  optim_->set_lr(lr_at(epoch - 1, batch));
  if (cfg_.fix_start_epoch > 0) {   // wespeaker's margin ramp, per iteration
    MarginSchedule ms;
    ms.initial_margin = cfg_.initial_margin;
    ms.final_margin = cfg_.margin;
    ms.increase_start_epoch = cfg_.increase_start_epoch;
    ms.fix_start_epoch = cfg_.fix_start_epoch;
    ms.epoch_iter = batches_per_epoch_;
    loss_->set_margin(ms((epoch - 1) * batches_per_epoch_ + batch));
  }
}

// x * 0 is 0 for every finite x and NaN for NaN and ±Inf, so the sum over all gradients is 0 exactly when every
// element is finite (a plain sum or norm could overflow on large finite values). Stays on the device: train_step
// reads it back with the loss, in one copy.
Tensor Trainer::gradient_probe() const {
  NoGradGuard ng;
  Tensor acc;
  for (const auto& [name, p] : optim_->params()) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor z = sum(mul_scalar(g, 0.0));
    acc = !acc.defined() ? z : acc + (z.dtype() == acc.dtype() ? z : z.to(acc.dtype()));
  }
  return acc;
}

std::string Trainer::batch_files(const std::vector<int64_t>& utterances) const {
  constexpr size_t kShown = 8;
  std::string s;
  for (size_t i = 0; i < utterances.size() && i < kShown; ++i)
    s += (i ? ", " : "") + train_.paths[size_t(utterances[i])];
  if (utterances.size() > kShown) s += ", ... (" + std::to_string(utterances.size()) + " files in all)";
  return s;
}

bool Trainer::non_finite_step(const StepRecord& r, const std::string& what) {
  optim_->zero_grad();   // nothing of this batch reaches the parameters or the optimiser state
  const std::string where = what + " at epoch " + std::to_string(r.epoch) + ", batch " +
                            std::to_string(r.batch_index + 1) + " of " + std::to_string(loader_->num_batches()) +
                            " (step " + std::to_string(r.step + 1) + ", lr " + num(r.lr) + ")";
  const std::string files = "; the batch's files: " + batch_files(r.utterances);
  if (cfg_.nan_policy == "stop")
    throw Error("training stopped (--nan_policy stop): " + where + files +
                "; lower --lr or check those files, or pass --nan_policy skip");
  ++non_finite_in_row_;
  if (non_finite_in_row_ > cfg_.nan_max_skips)
    throw Error("training stopped (--nan_policy skip): " + std::to_string(non_finite_in_row_) +
                " steps in a row had a non-finite loss or gradient, more than --nan_max_skips " +
                std::to_string(cfg_.nan_max_skips) + "; the last: " + where + files + "; lower --lr or check the data");
  // The forward pass has already updated BatchNorm's running statistics; skipping the update cannot undo that,
  // so statistics that became non-finite stop the run rather than silently spoil every later evaluation.
  {
    NoGradGuard ng;
    for (const auto& [name, t] : model_->named_buffers())
      if (is_floating(t.dtype()) && !std::isfinite(sum(mul_scalar(t, 0.0)).item()))
        throw Error("training stopped (--nan_policy skip): " + where + " made the model's buffer " + name +
                    " non-finite, which skipping the step cannot undo" + files);
  }
  log("skipped step: " + where + " (" + std::to_string(non_finite_in_row_) + " in a row, at most " +
      std::to_string(cfg_.nan_max_skips) + ")" + files);
  return false;
}

struct Trainer::StagedBatch {
  audio::Batch b;
  Tensor wav, labels;   // b's, on the device (on the CPU: b's tensors themselves)
  double weight = 1;
};

// The losses read no labels back from a GPU (a sync per step), so the batch's are checked here, from the host
// batch: the samplers make them distinct, non-negative speaker indices (engine/audio/sampler.h, chunk_sampler.h,
// view_sampler.h), and setup() checked them against nClasses; a label outside that is a loader bug.
void Trainer::check_batch_labels(const audio::Batch& b) const {
  if (!b.labels.defined()) return;   // a rank's empty share (--distributed --skip_bad_files)
  const Tensor y = b.labels.contiguous();
  SPK_CHECK(y.device().is_cpu() && y.dtype() == DType::i64 && y.dim() == 1, "batch ", b.index + 1,
            ": labels must be (N) i64 on the host, got ", y.str());
  const int64_t* p = y.data<int64_t>();
  std::set<int64_t> seen;
  for (int64_t i = 0; i < y.numel(); ++i)
    SPK_CHECK(p[i] >= 0 && seen.insert(p[i]).second, "batch ", b.index + 1, ": label ", p[i], " in row ", i,
              " is negative or repeated; the sampler gives distinct speaker indices");
}

bool Trainer::next_batch(StagedBatch& s) {
  while (loader_->next(s.b)) {
    s.weight = step_weight(*comm_, s.b.n, cfg_.skip_bad_files);
    if (s.weight < 0) continue;   // every rank's share was all bad files: all skip it, as one process's loader would
    check_batch_labels(s.b);
    // Pinned and on the copy stream on a GPU (engine/input_stager.h); on the CPU the batch's tensors themselves
    // (labels.to() would count as a read there).
    s.wav = input_.upload(s.b.wav, device_);
    s.labels = device_.is_cpu() || !s.b.labels.defined() ? s.b.labels : s.b.labels.to(device_);
    return true;
  }
  return false;
}

LossOutput Trainer::forward_loss(int64_t epoch, const StagedBatch& s) {
  const audio::Batch& b = s.b;
  const Tensor& wav = s.wav;
  const Tensor& labels = s.labels;
  Tensor feats;
  {
    NoGradGuard ng;
    const AutocastGuard fp32_front_end(std::nullopt);   // --mixedprec: as voxceleb_trainer's models, outside autocast
    feats = frontend_.features(wav);                                  // (M·N, n_mels or n_ceps, T)
    // SpecAugment: the train step only (evaluation embeds unmasked features), drawn from rng_, which the
    // checkpoints save, so a resumed run masks as the uninterrupted one would have. --distributed: each rank
    // applies its own rows' masks of the global batch (spec_aug_flags.h).
    if (spec_aug_) {
      const int64_t groups = chunks_ ? cfg_.per_fold : cfg_.batch_size;   // per rank, in a full batch
      feats = spec_aug_train_features(feats, *spec_aug_, *rng_, {comm_->world_size(), comm_->rank(), groups, b.m});
    }
  }
  // (M·N, D); --ssl with local crops (DINO): globals and locals in two forwards (ssl_mode.h). The frame losses
  // (cpc, lim, gim) read the model's frames (M·N, T, D) instead of its embeddings.
  Tensor emb = loss_->reads_frames() ? model_->frames(feats)
               : views_              ? embed_views(*model_, feats, b.m, b.n, cfg_.ssl_local_frames)
                                     : model_->forward(feats);
  Shape grouped{b.m, b.n};
  for (int64_t d = 1; d < emb.dim(); ++d) grouped.push_back(emb.size(d));
  Tensor x = transpose(reshape(emb, grouped), 0, 1);   // (N, M, D) or (N, M, T, D)
  if (momentum_)   // the momentum encoder embeds views of these; DINO's schedules read where the step lies
    momentum_->set_step_features(feats, b.m, b.n, {epoch - 1, cfg_.max_epoch, step_, cfg_.max_epoch * batches_per_epoch_});
  LossOutput out = loss_->forward(x, labels);
  if (loss2_) out = add_second_loss(std::move(out), loss2_->forward(x, labels), cfg_.trainfunc2_weight);
  if (!out.warning.empty()) {
    const std::string line = loss_warnings_.note(epoch, b.index + 1, loader_->num_batches(), out.warning);
    if (!line.empty()) log(line);
  }
  if (fault::hit(fault::Point::train_loss))   // SPK_FAULT train.loss:fail
    out.loss = mul_scalar(out.loss, std::numeric_limits<double>::quiet_NaN());
  return out;
}

Tensor Trainer::step_values(const LossOutput& out, bool computed) const {
  NoGradGuard ng;
  const Tensor zero = Tensor::zeros({1}, DType::f64, device_);
  const Tensor gp = gradient_probe();
  return concat({computed ? reshape(out.loss.detach(), {1}).to(DType::f64) : zero,
                 computed ? reshape(out.metric.as_tensor(device_), {1}) : zero,
                 gp.defined() ? reshape(gp, {1}).to(DType::f64) : zero},
                0);
}

void Trainer::read_values(std::vector<StepRecord*> records) const {
  std::erase_if(records, [](const StepRecord* r) { return !r->values.defined(); });
  if (records.empty()) return;
  std::vector<Tensor> parts;
  for (const StepRecord* r : records) parts.push_back(r->values);
  const std::vector<double> host = (parts.size() == 1 ? parts[0] : concat(parts, 0)).to_double();   // the read
  for (size_t i = 0; i < records.size(); ++i) {
    records[i]->loss = host[3 * i];
    records[i]->metric = host[3 * i + 1];
    records[i]->probe = host[3 * i + 2];
    records[i]->values = Tensor();
  }
}

bool Trainer::reads_every_step() const {
  // --mixedprec fp16 decides on an overflow (skip the step, back the scale off) before the update.
  return cfg_.nan_policy == "skip" || comm_->world_size() > 1 || fault::armed(fault::Point::train_grad) ||
         amp_->scales_loss();
}

void Trainer::apply_step() {
  grad_buckets_->apply();   // --distributed: waits for the buckets, the mean over the ranks (no-op for one process)
  // --mixedprec fp16: after the mean (a power-of-two scale divides exactly), before clipping and the optimiser.
  amp_->unscale(optim_->params());
  optim_->step();
  optim_->zero_grad();
  if (const std::string grown = amp_->stepped(); !grown.empty()) log(grown);
  if (momentum_) momentum_->after_step(*model_);   // EMA and queue: only after a step that was taken
  ++step_;
  non_finite_in_row_ = 0;
  fault::hit(fault::Point::train_step);   // SPK_FAULT train.step:kill@N: the kill-mid-epoch test
}

bool Trainer::train_step(int64_t epoch, const StagedBatch& s) {
  const audio::Batch& b = s.b;
  const double weight = s.weight;
  set_step_schedule(epoch, b.index);
  StepRecord r;
  r.epoch = epoch;
  r.batch_index = b.index;
  r.step = step_;
  r.lr = optim_->lr();
  r.utterances = b.utterances;
  r.samples = b.m * b.n * comm_->world_size();   // over all ranks
  // --distributed --skip_bad_files: a rank whose share of the step was all bad files (b.n == 0) computes nothing
  // but still joins the step's all-reduces, with weight 0.
  // The backward is queued before anything is read back; the loss, the metric and the gradient probe then stay
  // on the device (step_values) until they are read, all in one copy (engine/sync_counter.h). A non-finite loss
  // gives non-finite gradients, which are dropped unused, so running backward first is safe.
  LossOutput out;
  if (b.n > 0) {
    const AutocastGuard autocast(amp_->autocast());   // --mixedprec (mixed_precision.h)
    out = forward_loss(epoch, s);
  }
  // --distributed: the gradients' all-reduces start in buckets during backward (on every rank, also one whose
  // batch is empty); one process: backward alone. Scaled by weight·W, the mean over the ranks is the groups' mean
  // (--skip_bad_files). --mixedprec fp16: backward runs on the scaled loss.
  if (!grad_buckets_) grad_buckets_ = make_grad_buckets(*comm_, cfg_, optim_->params());
  grad_buckets_->backward(b.n > 0 ? amp_->loss_for_backward(out.loss) : Tensor(),
                          cfg_.skip_bad_files ? weight * double(comm_->world_size()) : 1.0);
  r.values = step_values(out, b.n > 0);
  if (!reads_every_step()) {
    // --nan_policy stop, one process: the update is queued without a read. A non-finite step is found when its
    // values are read (report_steps, at the next --log_interval) and stops the run there, naming this step; the
    // updates queued after it change only the model in memory, never a checkpoint.
    apply_step();
    pending_.push_back(std::move(r));
    return true;
  }
  read_values({&r});
  // SPK_FAULT train.grad:fail: the first gradient becomes NaN; hit on the steps whose loss is finite only.
  if (std::isfinite(r.loss) && fault::hit(fault::Point::train_grad)) {
    for (const auto& [name, p] : optim_->params())
      if (p.grad().defined()) {
        p.set_grad(mul_scalar(p.grad(), std::numeric_limits<double>::quiet_NaN()));
        r.probe = std::numeric_limits<double>::quiet_NaN();
        break;
      }
  }
  if (comm_->world_size() > 1) {
    // The mean over the ranks: logged, and every rank decides alike on NaN. The probe is reduced with them: it is
    // NaN on every rank when some rank's gradients are not finite, as their average would be.
    const bool weighted = cfg_.skip_bad_files;   // ranks with unequal groups: each weighs by its share
    Tensor lm = Tensor::from_vector(weighted ? std::vector<double>{r.loss * weight, r.metric * weight, r.probe}
                                             : std::vector<double>{r.loss, r.metric, r.probe},
                                    {3}, DType::f64);
    comm_->all_reduce(lm, weighted ? dist::ReduceOp::sum : dist::ReduceOp::mean);
    r.loss = lm.data<double>()[0];
    r.metric = lm.data<double>()[1];
    r.probe = lm.data<double>()[2];
  }
  if (!std::isfinite(r.loss)) return non_finite_step(r, "the loss is " + num(r.loss));
  if (!std::isfinite(r.probe) && amp_->scales_loss()) {   // --mixedprec fp16: an overflow skips the step, scale backs off
    optim_->zero_grad();
    log(amp_->overflow(epoch, b.index + 1, step_ + 1));
    return false;
  }
  if (!std::isfinite(r.probe)) return non_finite_step(r, "a gradient is not finite (the loss is " + num(r.loss) + ")");
  apply_step();
  pending_.push_back(std::move(r));
  return true;
}

void Trainer::report_steps(EpochTotals& t, int64_t num_batches, double seconds) {
  if (pending_.empty()) return;
  std::vector<StepRecord*> all;
  for (StepRecord& r : pending_) all.push_back(&r);
  read_values(all);
  for (const StepRecord& r : pending_) {
    // Only deferred reads get here non-finite (--nan_policy stop): non_finite_step throws.
    if (!std::isfinite(r.loss)) non_finite_step(r, "the loss is " + num(r.loss));
    if (!std::isfinite(r.probe)) non_finite_step(r, "a gradient is not finite (the loss is " + num(r.loss) + ")");
    ++t.batches;
    t.loss_sum += r.loss;
    t.metric_sum += r.metric;
    t.samples += r.samples;
  }
  const int64_t epoch = pending_.back().epoch, batch = pending_.back().batch_index + 1;
  pending_.clear();
  if (!hooks_.on_step) return;
  StepProgress p;
  p.epoch = epoch;
  p.batch = batch;
  p.num_batches = num_batches;
  p.loss = t.loss_sum / double(t.batches);
  p.metric = t.metric_sum / double(t.batches);
  p.metric_kind = loss_->metric_kind();
  p.lr = optim_->lr();
  p.samples_per_s = seconds > 0 ? double(t.samples) / seconds : 0;
  p.eta_s = t.batches > 0 ? seconds / double(t.batches) * double(num_batches - p.batch) : 0;
  hooks_.on_step(p);
}

EpochSummary Trainer::train_epoch(int64_t epoch) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const auto seconds = [&] { return std::chrono::duration<double>(clock::now() - t0).count(); };
  model_->train();
  loss_->train();
  if (loss2_) loss2_->train();
  loader_->start_epoch(epoch);
  const int64_t nb = loader_->num_batches();
  EpochSummary sum;
  sum.epoch = epoch;
  sum.metric_kind = loss_->metric_kind();
  EpochTotals t;
  pending_.clear();
  const uint64_t reads_before = sync_counter::host_reads();
  const int64_t steps_before = step_;
  StagedBatch cur, next;
  for (bool have = next_batch(cur); have; std::swap(cur, next)) {
    const bool taken = train_step(epoch, cur);
    // Input prefetch: the next batch's upload is queued now, while this step's kernels run (its copy has a stream
    // of its own), and before the read below can make the host wait for them.
    have = next_batch(next);
    if (!taken) {
      ++sum.skipped_steps;
      continue;
    }
    // The one read of the loop: every --log_interval steps, at the epoch's last batch, and every step where
    // train_step has read already (reads_every_step: then nothing is left to read here).
    if (reads_every_step() || step_ % cfg_.log_interval == 0 || cur.b.index + 1 == nb) report_steps(t, nb, seconds());
  }
  report_steps(t, nb, seconds());   // what the last interval left
  // SPK_SYNC_REPORT=1: the reads of tensor values the step loop made (engine/sync_counter.h; each one a
  // device-to-host sync on a GPU), which tests/recipe/test_train_sync.cpp checks is one per --log_interval.
  if (std::getenv("SPK_SYNC_REPORT"))
    log("sync: epoch " + std::to_string(epoch) + ": " + std::to_string(sync_counter::host_reads() - reads_before) +
        " host reads in " + std::to_string(step_ - steps_before) + " steps (--log_interval " +
        std::to_string(cfg_.log_interval) + ")");
  const std::string warnings = loss_warnings_.end_epoch(epoch, nb);
  if (!warnings.empty()) log(warnings);
  sum.seconds = seconds();
  sum.steps = step_;
  sum.loss = t.batches ? t.loss_sum / double(t.batches) : 0;
  sum.metric = t.batches ? t.metric_sum / double(t.batches) : 0;
  sum.lr = optim_->lr();
  sum.samples_per_s = sum.seconds > 0 ? double(t.samples) / sum.seconds : 0;
  sum.bad_files = loader_->bad_files();
  if (comm_->world_size() > 1) {
    Tensor bad = Tensor::from_vector(std::vector<int64_t>{sum.bad_files}, {1});
    comm_->all_reduce(bad, dist::ReduceOp::sum);
    sum.bad_files = bad.data<int64_t>()[0];
  }
  return sum;
}

// Runs f; an error on the way gets what to do next: the hint for out of memory and where to resume from.
template <class F>
void Trainer::with_resume_note(F&& f, const std::string& oom_hint) const {
  try {
    f();
  } catch (const OutOfMemoryError& oom) {
    throw oom.with_hint(oom_hint + "; " + resume_note());
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + "; " + resume_note());
  }
}

void Trainer::end_epoch(EpochSummary& sum) {
  const int64_t e = sum.epoch;
  const bool test = e % cfg_.test_interval == 0;
  // --distributed: every rank embeds its share of the evaluation's files (embed_files_sharded)
  if (test && hooks_.evaluate) {
    with_resume_note([&] { sum.eval = hooks_.evaluate(*model_, *loss_, e); },
                     "evaluation needs less memory with a smaller --eval_frames (now " +
                         std::to_string(cfg_.eval_frames) + "; 0 embeds whole utterances) or --num_eval (now " +
                         std::to_string(cfg_.num_eval) + ")");
    model_->train();
  }
  if (!comm_->is_root()) {   // --distributed: rank 0 writes; the others wait until the files exist
    epoch_ = e;
    last_checkpoint_ = last_checkpoint_path(cfg_.save_path);
    last_checkpoint_epoch_ = e;
    comm_->barrier();
    return;
  }
  epoch_ = e;
  // The log row before the checkpoints: a kill between the two leaves a row of an epoch that no checkpoint
  // holds yet, which the resumed run drops (EpochLog keeps the rows up to its checkpoint's epoch) and writes
  // again. The other order loses the row of an epoch whose checkpoint was complete.
  try {
    epoch_log_->append(sum);
  } catch (const Error& err) {
    throw Error(std::string(err.what()) + " (is the disk full?); " + resume_note());
  }
  // The numbered file first: if the kill comes between the two, the resume still finds this epoch.
  if (test) save(numbered_checkpoint_path(cfg_.save_path, e), sum.eval);
  save(last_checkpoint_path(cfg_.save_path), sum.eval);
  comm_->barrier();   // --distributed: the others go on once the checkpoints are complete
}

void Trainer::run() {
  SPK_CHECK(model_, "Trainer::run: call setup() first");
  while (epoch_ < cfg_.max_epoch) {
    EpochSummary sum;
    const std::string smaller =
        chunks_ ? "--per_fold (now " + std::to_string(cfg_.per_fold) + ") or --chunk_duration (now " +
                      num(cfg_.chunk_duration) + ")"
                : "--batch_size (now " + std::to_string(cfg_.batch_size) + ") or --max_frames (now " +
                      std::to_string(cfg_.max_frames) + ")";
    with_resume_note([&] { sum = train_epoch(epoch_ + 1); }, "a training step needs less memory with a smaller " + smaller);
    end_epoch(sum);
    if (hooks_.on_epoch) hooks_.on_epoch(sum);
  }
}

}  // namespace spk::recipe
