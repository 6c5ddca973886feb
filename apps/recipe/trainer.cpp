// The training loop (see trainer.h).
#include "apps/recipe/trainer.h"

#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/epoch_log.h"
#include "apps/recipe/frontend.h"
#include "apps/recipe/recipe_parts.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/fbank.h"
#include "engine/audio/loader.h"
#include "engine/autograd.h"
#include "engine/cuda.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "engine/schedule.h"
#include "nets/model.h"

namespace fs = std::filesystem;

namespace spk::recipe {

namespace {

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void require(bool ok, const std::string& flag, const std::string& what) {
  if (!ok) throw UsageError(flag + ": " + what);
}

// Losses with a classification head over nClasses speakers.
bool uses_classes(const std::string& trainfunc) {
  static const std::set<std::string> s = {"softmax", "amsoftmax", "aamsoftmax", "adasoftmax", "arc_margin",
                                          "softmaxproto", "infonce", "aam_infonce"};
  return s.count(trainfunc) != 0;
}

// Settings a resumed run must share with its checkpoint: they fix the shapes and meaning of what was saved.
const char* const kFixedOnResume[] = {"model", "encoder_type", "nOut", "n_mels", "log_input", "C", "frontend",
                                      "trainfunc", "nClasses", "nPerSpeaker", "optimizer", "seed"};

std::string json_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

void validate_train_config(const RecipeConfig& c) {
  require(!c.model.empty(), "--model", "is required (" + [] {
    std::string s;
    for (const auto& n : model_names()) s += (s.empty() ? "" : ", ") + n;
    return s;
  }() + ")");
  bool known_model = false;
  for (const auto& n : model_names()) known_model |= n == c.model;
  require(known_model, "--model", "unknown model '" + c.model + "'");
  PerSpeaker per_speaker{};
  {
    std::string names;
    for (const auto& n : loss_names()) names += (names.empty() ? "" : ", ") + n;
    require(!c.trainfunc.empty(), "--trainfunc", "is required (" + names + ")");
    require(loss_per_speaker(c.trainfunc, per_speaker), "--trainfunc",
            "unknown loss '" + c.trainfunc + "' (" + names + ")");
  }
  require(c.nPerSpeaker >= 1, "--nPerSpeaker", "must be at least 1, got " + num(c.nPerSpeaker));
  require(per_speaker_accepts(per_speaker, c.nPerSpeaker), "--nPerSpeaker",
          num(c.nPerSpeaker) + " does not suit --trainfunc " + c.trainfunc + ", which needs nPerSpeaker " +
              per_speaker_str(per_speaker) +
              (per_speaker == PerSpeaker::one ? " (a classification loss takes one utterance per speaker)"
                                              : " (a metric loss compares utterances of the same speaker)"));
  require(c.nOut >= 1, "--nOut", "must be at least 1, got " + num(c.nOut));
  require(c.n_mels >= 1, "--n_mels", "must be at least 1, got " + num(c.n_mels));
  require(c.max_frames >= 1, "--max_frames", "must be at least 1, got " + num(c.max_frames));
  require(c.eval_frames >= 0, "--eval_frames", "must be 0 (whole utterance) or more, got " + num(c.eval_frames));
  require(c.num_eval >= 1, "--num_eval", "must be at least 1, got " + num(c.num_eval));
  require(c.batch_size >= 1, "--batch_size", "must be at least 1, got " + num(c.batch_size));
  require(c.max_seg_per_spk >= c.nPerSpeaker, "--max_seg_per_spk",
          num(c.max_seg_per_spk) + " is below --nPerSpeaker " + num(c.nPerSpeaker));
  require(c.nDataLoaderThread >= 0, "--nDataLoaderThread", "must be 0 or more, got " + num(c.nDataLoaderThread));
  require(c.nClasses >= 0, "--nClasses", "must be 0 (from the train list) or more, got " + num(c.nClasses));
  require(c.margin >= 0 && c.margin < 3.14159, "--margin", "must be in [0, pi), got " + num(c.margin));
  require(c.scale > 0, "--scale", "must be positive, got " + num(c.scale));
  if (c.increase_start_epoch > 0 || c.fix_start_epoch > 0) {
    require(c.increase_start_epoch >= 1 && c.fix_start_epoch > c.increase_start_epoch, "--fix_start_epoch",
            "the margin ramp needs 1 <= --increase_start_epoch < --fix_start_epoch, got " + num(c.increase_start_epoch) +
                " and " + num(c.fix_start_epoch));
    require(c.initial_margin >= 0 && c.initial_margin < 3.14159, "--initial_margin",
            "must be in [0, pi), got " + num(c.initial_margin));
    static const std::set<std::string> margins = {"amsoftmax", "aamsoftmax", "arc_margin"};
    require(margins.count(c.trainfunc) != 0, "--increase_start_epoch",
            "a margin ramp needs a margin loss (amsoftmax, aamsoftmax, arc_margin), not " + c.trainfunc);
  }
  require(c.hard_prob >= 0 && c.hard_prob <= 1, "--hard_prob", "must be in [0, 1], got " + num(c.hard_prob));
  require(c.optimizer == "adam" || c.optimizer == "sgd" || c.optimizer == "adamw", "--optimizer",
          "unknown optimizer '" + c.optimizer + "' (adam, sgd, adamw)");
  require(c.scheduler == "steplr" || c.scheduler == "exponential" || c.scheduler == "cosine", "--scheduler",
          "unknown scheduler '" + c.scheduler + "' (steplr, exponential, cosine)");
  require(c.lr > 0, "--lr", "must be positive, got " + num(c.lr));
  require(c.lr_decay > 0 && c.lr_decay <= 1, "--lr_decay", "must be in (0, 1], got " + num(c.lr_decay));
  require(c.final_lr > 0, "--final_lr", "must be positive, got " + num(c.final_lr));
  require(c.weight_decay >= 0, "--weight_decay", "must be 0 or more, got " + num(c.weight_decay));
  require(c.max_epoch >= 1, "--max_epoch", "must be at least 1, got " + num(c.max_epoch));
  require(c.warm_up_epoch >= 0 && c.warm_up_epoch < c.max_epoch, "--warm_up_epoch",
          "must be in [0, max_epoch), got " + num(c.warm_up_epoch));
  require(c.test_interval >= 1, "--test_interval", "must be at least 1, got " + num(c.test_interval));
  require(c.seed >= 0, "--seed", "must be 0 or more, got " + num(c.seed));
  require(c.dcf_p_target > 0 && c.dcf_p_target < 1, "--dcf_p_target", "must be in (0, 1), got " + num(c.dcf_p_target));
  require(c.dcf_c_miss > 0, "--dcf_c_miss", "must be positive, got " + num(c.dcf_c_miss));
  require(c.dcf_c_fa > 0, "--dcf_c_fa", "must be positive, got " + num(c.dcf_c_fa));
  require(!c.save_path.empty(), "--save_path", "must not be empty");
  require(c.device == "cpu" || c.device == "cuda" || c.device.rfind("cuda:", 0) == 0, "--device",
          "'" + c.device + "' is not cpu or cuda");
  if (c.device != "cpu") {
    require(cuda::available(), "--device",
            c.device + " asked for, but this build or machine has no usable GPU (build with CUDA, or use --device cpu)");
  }
  frontend_config(c);   // checks --frontend and --n_mels against the preset
}

Trainer::Trainer(const RecipeConfig& config, nlohmann::json options, TrainerHooks hooks)
    : cfg_(config), options_(std::move(options)), hooks_(std::move(hooks)) {}

Trainer::~Trainer() = default;

void Trainer::log(const std::string& line) const {
  if (hooks_.log) hooks_.log(line);
}

// The steps run in this order; every input is checked before any training starts.
void Trainer::setup() {
  check_config();
  std::shared_ptr<audio::Augmenter> augmenter = read_train_data();
  build_model_and_loss();
  build_optimiser();
  resume_or_initialise();
  make_loader_and_log(std::move(augmenter));
}

void Trainer::check_config() {
  validate_train_config(cfg_);
  device_ = Device::parse(cfg_.device);
  if (const char* k = std::getenv("SPK_FAULT_KILL_AT_STEP")) kill_at_step_ = std::atoll(k);
  fbank_ = frontend_config(cfg_);
}

// Data: lists, files, augmentation. Resolves --nClasses from the list when it is 0.
std::shared_ptr<audio::Augmenter> Trainer::read_train_data() {
  if (!fs::exists(cfg_.train_list)) throw UsageError("--train_list: no such file '" + cfg_.train_list + "'");
  if (!cfg_.train_path.empty() && !fs::is_directory(cfg_.train_path))
    throw UsageError("--train_path: no such directory '" + cfg_.train_path + "'");
  train_ = audio::read_train_list(cfg_.train_list, cfg_.train_path);
  if (train_.size() == 0) throw UsageError("--train_list: '" + cfg_.train_list + "' lists no utterances");
  if (!cfg_.skip_bad_files) {
    const std::vector<std::string> missing = missing_files(train_.paths);
    if (!missing.empty())
      throw UsageError("--train_list " + cfg_.train_list + ": " + std::to_string(missing.size()) +
                       " listed files do not exist, e.g. '" + missing.front() +
                       "' (check --train_path, or pass --skip_bad_files)");
  }
  const int64_t speakers = train_.speakers.size();
  if (cfg_.nClasses == 0) cfg_.nClasses = speakers;
  if (uses_classes(cfg_.trainfunc) && cfg_.nClasses < speakers)
    throw UsageError("--nClasses: " + std::to_string(cfg_.nClasses) + " is fewer than the " +
                     std::to_string(speakers) + " speakers of --train_list " + cfg_.train_list +
                     " (set it to the speaker count, or 0 to take it from the list)");
  if (speakers < cfg_.batch_size)
    throw UsageError("--batch_size: " + std::to_string(cfg_.batch_size) + " speakers per batch, but --train_list " +
                     cfg_.train_list + " has only " + std::to_string(speakers) +
                     " speakers (each speaker appears at most once per batch)");
  options_["nClasses"] = cfg_.nClasses;   // the resolved value goes into checkpoints
  std::shared_ptr<audio::Augmenter> augmenter;
  if (cfg_.augment) {
    if (!fs::is_directory(cfg_.musan_path)) throw UsageError("--musan_path: no such directory '" + cfg_.musan_path + "'");
    if (!fs::is_directory(cfg_.rir_path)) throw UsageError("--rir_path: no such directory '" + cfg_.rir_path + "'");
    augmenter = std::make_shared<audio::Augmenter>(cfg_.musan_path, cfg_.rir_path);
  }
  return augmenter;
}

void Trainer::build_model_and_loss() {
  // Streams from --seed: one initialises the model, a child of it the loss's parameters and its sampling
  // (triplet's negatives); the latter is the trainer's rng_, saved in checkpoints.
  Rng init_rng = Rng(uint64_t(cfg_.seed)).fork(0);
  model_ = make_model(cfg_.model, model_config(cfg_), init_rng);
  rng_ = std::make_shared<Rng>(init_rng.fork(1));
  LossConfig lc = loss_config(cfg_);
  lc.rng = rng_;
  loss_ = make_loss(cfg_.trainfunc, lc);
  model_->to(device_);
  loss_->to(device_);
}

void Trainer::build_optimiser() {
  NamedTensors params = training_parameters(*model_, *loss_);
  if (cfg_.optimizer == "sgd") {
    optim_ = std::make_unique<SGD>(params, cfg_.lr, SGDOptions{.momentum = 0.9, .weight_decay = cfg_.weight_decay});
  } else if (cfg_.optimizer == "adamw") {
    optim_ = std::make_unique<AdamW>(params, cfg_.lr, AdamOptions{.weight_decay = cfg_.weight_decay});
  } else {
    optim_ = std::make_unique<Adam>(params, cfg_.lr, AdamOptions{.weight_decay = cfg_.weight_decay});
  }
}

// Resume from the newest checkpoint in --save_path, or start (maybe from --initial_model).
void Trainer::resume_or_initialise() {
  const std::string resume = find_resume_checkpoint(cfg_.save_path);
  if (!resume.empty()) {
    const Checkpoint ck = read_checkpoint(resume);
    for (const char* key : kFixedOnResume) {
      const auto a = ck.state.config.find(key);
      const auto b = options_.find(key);
      if (a != ck.state.config.end() && b != options_.end() && *a != *b)
        throw UsageError("--" + std::string(key) + " " + json_text(*b) + " differs from " + json_text(*a) +
                         " in the checkpoint " + resume + " that this run would resume; use another --save_path, " +
                         "or pass the checkpoint as --initial_model to fine-tune from it");
    }
    if (!(ck.state.speakers == train_.speakers))
      throw UsageError("--train_list " + cfg_.train_list + ": its speakers differ from those of the checkpoint " +
                       resume + "; use another --save_path to train on other data");
    restore_training(ck, *model_, *loss_, *optim_);
    rng_->set_state(ck.state.rng_seed, ck.state.rng_offset);
    epoch_ = ck.state.epoch;
    step_ = ck.state.step;
    resumed_ = true;
    log("resuming from " + resume + " (epoch " + std::to_string(epoch_) + ", step " + std::to_string(step_) + ")");
    if (!cfg_.initial_model.empty()) log("--initial_model ignored: the run resumes from its own checkpoint");
  } else if (!cfg_.initial_model.empty()) {
    const Checkpoint ck = read_checkpoint(cfg_.initial_model);
    const ImportResult r = import_weights(ck, *model_, loss_.get());
    log("initial model " + cfg_.initial_model + " (" + r.source_format + "): " + r.summary() +
        (r.loss_loaded ? "; loss weights loaded" : "; " + r.loss_note));
  }
  if (epoch_ >= cfg_.max_epoch)
    log("nothing to train: the checkpoint is at epoch " + std::to_string(epoch_) + ", --max_epoch is " +
        std::to_string(cfg_.max_epoch));
}

void Trainer::make_loader_and_log(std::shared_ptr<audio::Augmenter> augmenter) {
  audio::LoaderConfig lcfg;
  lcfg.sampler.batch_size = cfg_.batch_size;
  lcfg.sampler.n_per_speaker = cfg_.nPerSpeaker;
  lcfg.sampler.max_seg_per_spk = cfg_.max_seg_per_spk;
  lcfg.sampler.seed = uint64_t(cfg_.seed);
  lcfg.max_frames = cfg_.max_frames;
  lcfg.num_workers = int(cfg_.nDataLoaderThread);
  lcfg.skip_bad_files = cfg_.skip_bad_files;
  lcfg.augment = augmenter;
  loader_ = std::make_unique<audio::TrainLoader>(train_, lcfg);
  batches_per_epoch_ = audio::plan_epoch(train_.labels, lcfg.sampler, 1).num_batches;

  fs::create_directories(cfg_.save_path);
  epoch_log_ = std::make_unique<EpochLog>((fs::path(cfg_.save_path) / "train_log.csv").string(), epoch_);
  log("model " + cfg_.model + " (" + std::to_string([&] {
        int64_t n = 0;
        for (const auto& [name, p] : model_->named_parameters()) n += p.numel();
        return n;
      }()) + " parameters), loss " + cfg_.trainfunc + ", " + std::to_string(train_.size()) + " utterances of " +
      std::to_string(train_.speakers.size()) + " speakers, " + std::to_string(batches_per_epoch_) + " batches of " +
      std::to_string(cfg_.batch_size) + "x" + std::to_string(cfg_.nPerSpeaker) + " per epoch, front end " +
      frontend_name(cfg_) + ", device " + device_.str());
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

void Trainer::save(const std::string& path, const nlohmann::json& eval) const {
  TrainingState st;
  st.epoch = epoch_;
  st.step = step_;
  st.rng_seed = rng_->seed();
  st.rng_offset = rng_->offset();
  st.lr = optim_->lr();
  st.config = options_;
  st.speakers = train_.speakers;
  st.eval = eval.is_null() ? nlohmann::json::object() : eval;
  save_checkpoint(path, *model_, *loss_, *optim_, st);
}

EpochSummary Trainer::train_epoch(int64_t epoch) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  model_->train();
  loss_->train();
  loader_->start_epoch(epoch);
  const int64_t nb = loader_->num_batches();
  EpochSummary sum;
  sum.epoch = epoch;
  sum.metric_kind = loss_->metric_kind();
  double loss_sum = 0, metric_sum = 0;
  int64_t samples = 0, batches = 0;
  audio::Batch b;
  while (loader_->next(b)) {
    optim_->set_lr(lr_at(epoch - 1, b.index));
    if (cfg_.fix_start_epoch > 0) {   // wespeaker's margin ramp, per iteration
      MarginSchedule ms;
      ms.initial_margin = cfg_.initial_margin;
      ms.final_margin = cfg_.margin;
      ms.increase_start_epoch = cfg_.increase_start_epoch;
      ms.fix_start_epoch = cfg_.fix_start_epoch;
      ms.epoch_iter = batches_per_epoch_;
      loss_->set_margin(ms((epoch - 1) * batches_per_epoch_ + b.index));
    }
    Tensor wav = b.wav.to(device_);
    Tensor labels = b.labels.to(device_);
    Tensor feats;
    {
      NoGradGuard ng;
      feats = spk::fbank(wav, fbank_);                                  // (M·N, n_mels, T)
    }
    Tensor emb = model_->forward(feats);                             // (M·N, D)
    Tensor x = transpose(reshape(emb, {b.m, b.n, emb.size(1)}), 0, 1);   // (N, M, D)
    LossOutput out = loss_->forward(x, labels);
    const double lv = out.loss.item();
    if (!std::isfinite(lv))
      SPK_FAIL("training diverged: the loss is ", lv, " at epoch ", epoch, ", batch ", b.index + 1, " (lr ",
               optim_->lr(), "); lower --lr or check the data");
    out.loss.backward();
    optim_->step();
    optim_->zero_grad();
    ++step_;
    // Fault injection for the kill-and-resume test: die like `kill -9` right after the given step.
    if (kill_at_step_ > 0 && step_ == kill_at_step_) std::raise(SIGKILL);
    ++batches;
    loss_sum += lv;
    metric_sum += out.metric;
    samples += b.m * b.n;
    if (hooks_.on_step) {
      StepProgress p;
      p.epoch = epoch;
      p.batch = b.index + 1;
      p.num_batches = nb;
      p.loss = loss_sum / double(batches);
      p.metric = metric_sum / double(batches);
      p.metric_kind = sum.metric_kind;
      p.lr = optim_->lr();
      const double s = std::chrono::duration<double>(clock::now() - t0).count();
      p.samples_per_s = s > 0 ? double(samples) / s : 0;
      p.eta_s = batches > 0 ? s / double(batches) * double(nb - p.batch) : 0;
      hooks_.on_step(p);
    }
  }
  sum.seconds = std::chrono::duration<double>(clock::now() - t0).count();
  sum.steps = step_;
  sum.loss = batches ? loss_sum / double(batches) : 0;
  sum.metric = batches ? metric_sum / double(batches) : 0;
  sum.lr = optim_->lr();
  sum.samples_per_s = sum.seconds > 0 ? double(samples) / sum.seconds : 0;
  sum.bad_files = loader_->bad_files();
  return sum;
}

void Trainer::run() {
  SPK_CHECK(model_, "Trainer::run: call setup() first");
  while (epoch_ < cfg_.max_epoch) {
    const int64_t e = epoch_ + 1;
    EpochSummary sum = train_epoch(e);
    epoch_ = e;
    const bool test = e % cfg_.test_interval == 0;
    if (test && hooks_.evaluate) {
      sum.eval = hooks_.evaluate(*model_, *loss_, e);
      model_->train();
    }
    // The numbered file first: if the kill comes between the two, the resume still finds this epoch.
    if (test) save(numbered_checkpoint_path(cfg_.save_path, e), sum.eval);
    save(last_checkpoint_path(cfg_.save_path), sum.eval);
    epoch_log_->append(sum);
    if (hooks_.on_epoch) hooks_.on_epoch(sum);
  }
}

}  // namespace spk::recipe
