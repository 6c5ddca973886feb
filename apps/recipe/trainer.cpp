// The training loop (see trainer.h).
#include "apps/recipe/trainer.h"

#include <chrono>
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
#include "engine/autograd.h"
#include "engine/cuda.h"
#include "engine/fault.h"
#include "engine/layers.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/out_of_memory.h"
#include "engine/rng.h"
#include "engine/schedule.h"
#include "losses/second_loss.h"
#include "nets/model.h"

namespace fs = std::filesystem;

namespace spk::recipe {

namespace {

std::string num(double v) {
  if (std::isnan(v)) return "NaN";   // not "nan" or "-nan", whichever sign the NaN has
  std::ostringstream s;
  s << v;
  return s.str();
}

// Settings a resumed run must share with its checkpoint: they fix the shapes and meaning of what was saved.
// (sim_loss, infonce_aam_mix, pyannote_classifier_bias, hardneg_mode and blip_itm_heads decide which loss
// parameters exist.)
const char* const kFixedOnResume[] = {"model",      "encoder_type", "nOut",           "n_mels",
                                      "log_input",  "C",            "frontend",       "n_ceps",
                                      "trainfunc",  "trainfunc2",   "nClasses",       "nPerSpeaker",
                                      "optimizer",  "seed",         "sim_loss",       "infonce_aam_mix",
                                      "pyannote_classifier_bias", "sinc_stride", "hardneg_mode",
                                      "blip_itm_heads", "ssl",      "ssl_split",    "ssl_proj_layers",
                                      "ssl_proj_dim", "moco_queue", "ssl_local_views", "dino_out",
                                      "dino_hidden", "dino_bottleneck",
                                      // the CPC / LIM heads' shapes (losses/cpc.h, lim.h)
                                      "cpc_steps", "cpc_context_dim", "lim_hidden"};

std::string json_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

Trainer::Trainer(const RecipeConfig& config, nlohmann::json options, TrainerHooks hooks,
                 std::shared_ptr<dist::Communicator> comm)
    : cfg_(config), options_(std::move(options)), hooks_(std::move(hooks)),
      comm_(comm ? std::move(comm) : dist::make_single_communicator()) {}

Trainer::~Trainer() = default;

void Trainer::log(const std::string& line) const {
  if (hooks_.log) hooks_.log(line);
}

// The steps run in this order; every input is checked before any training starts.
void Trainer::setup() {
  check_same_options(*comm_, options_);   // --distributed: every rank has rank 0's flags, or all stop
  options_["world_size"] = comm_->world_size();   // saved in checkpoints: a resume needs the same
  check_config();
  std::shared_ptr<audio::Augmenter> augmenter = read_train_data();
  build_model_and_loss();
  build_optimiser();
  resume_or_initialise();
  make_loader_and_log(std::move(augmenter));
  if (cfg_.sync_bn && comm_->world_size() > 1) {   // --sync_bn: BatchNorm over every rank's batch
    std::vector<std::pair<std::string, Module*>> modules = model_->named_modules();
    for (auto& m : loss_->named_modules()) modules.push_back(m);
    if (loss2_)
      for (auto& m : loss2_->named_modules()) modules.push_back(m);
    int64_t n = 0;
    for (auto& [name, m] : modules)
      if (auto* bn = dynamic_cast<BatchNorm*>(m)) bn->sync = comm_.get(), ++n;
    log("--sync_bn: " + std::to_string(n) + " BatchNorm layers normalise over all " +
        std::to_string(comm_->world_size()) + " ranks' batches");
  }
  if (comm_->world_size() > 1) {   // every rank starts from rank 0's state (whatever each initialised or read)
    NamedTensors st = model_->state();
    for (auto& kv : loss_->state()) st.push_back(kv);
    if (loss2_)
      for (auto& kv : loss2_->state()) st.push_back(kv);
    broadcast_from_root(*comm_, st);
  }
}

void Trainer::check_config() {
  validate_train_config(cfg_);
  if (cfg_.sampler == "pyannote") cfg_.nPerSpeaker = cfg_.per_label;   // the loss sees M = --per_label crops per speaker
  if (cfg_.ssl) {   // the loss sees the 2 views of each utterance (ssl_mode.h); checkpoints record that
    cfg_.nPerSpeaker = kSslViews;
    options_["nPerSpeaker"] = kSslViews;
  }
  device_ = Device::parse(cfg_.device);
  cuda::use_device(device_);   // streams and handles follow the current device (engine/cuda.h)
  fault::check_env();   // a malformed SPK_FAULT is reported before any work
  frontend_ = frontend_config(cfg_);
  spec_aug_ = spec_aug_config(cfg_, frontend_);
}

// Data: lists, files, augmentation. Resolves --nClasses from the list when it is 0.
std::shared_ptr<audio::Augmenter> Trainer::read_train_data() {
  if (!fs::exists(cfg_.train_list))
    throw UsageError("--train_list: no such file or Kaldi data dir '" + cfg_.train_list + "'");
  if (!cfg_.train_path.empty() && !fs::is_directory(cfg_.train_path))
    throw UsageError("--train_path: no such directory '" + cfg_.train_path + "'");
  // A directory is a Kaldi data dir (wav.scp + utt2spk [+ segments], engine/audio/lists.h); a file, a list, or a
  // wav.scp when --train_utt2spk names its utt2spk.
  const bool kaldi_dir = fs::is_directory(cfg_.train_list), kaldi_files = !cfg_.train_utt2spk.empty();
  for (const auto& [flag, path] : {std::pair{"--train_utt2spk", cfg_.train_utt2spk}, {"--train_segments", cfg_.train_segments}})
    if (!path.empty() && !fs::is_regular_file(path)) throw UsageError(flag + std::string(": no such file '") + path + "'");
  if (kaldi_dir && kaldi_files)
    throw UsageError("--train_utt2spk: --train_list " + cfg_.train_list + " is a directory; with --train_utt2spk it "
                     "names the wav.scp file (or drop --train_utt2spk to read the data dir)");
  if (cfg_.ssl && kaldi_dir)   // the view sampler crops whole files, not segments
    throw UsageError("--train_list " + cfg_.train_list + ": --ssl reads a list file (paths, a wav.scp or a labelled "
                     "list), not a Kaldi data dir; pass " + (fs::path(cfg_.train_list) / "wav.scp").string());
  train_ = cfg_.ssl       ? read_ssl_train_list(cfg_)
           : kaldi_dir   ? audio::read_kaldi_dir(cfg_.train_list, cfg_.train_path)
           : kaldi_files ? audio::read_kaldi_train(cfg_.train_list, cfg_.train_utt2spk, cfg_.train_path,
                                                   cfg_.train_segments)
                         : audio::read_train_list(cfg_.train_list, cfg_.train_path);
  if (train_.size() == 0) throw UsageError("--train_list: '" + cfg_.train_list + "' lists no utterances");
  if (!cfg_.skip_bad_files) {
    const std::vector<std::string> missing = missing_files(train_.paths);
    if (!missing.empty())
      throw UsageError("--train_list " + cfg_.train_list + ": " + std::to_string(missing.size()) +
                       " listed files do not exist, e.g. '" + missing.front() +
                       "' (check --train_path, or pass --skip_bad_files)");
  }
  if (!train_.segments.empty()) audio::check_segments(train_, cfg_.skip_bad_files);
  const int64_t speakers = train_.speakers.size();
  if (cfg_.nClasses == 0) cfg_.nClasses = speakers;
  const bool classes1 = loss_uses_class_labels(cfg_.trainfunc);
  const bool classes2 = !cfg_.trainfunc2.empty() && loss_uses_class_labels(second_loss_name(cfg_.trainfunc2));
  if ((classes1 || classes2) && cfg_.nClasses < speakers)
    throw UsageError("--nClasses: " + std::to_string(cfg_.nClasses) + " is fewer than the " +
                     std::to_string(speakers) + " speakers of --train_list " + cfg_.train_list + " (for --" +
                     (classes1 ? "trainfunc " + cfg_.trainfunc : "trainfunc2 " + cfg_.trainfunc2) +
                     "; set it to the speaker count, or 0 to take it from the list)");
  const int64_t world = comm_->world_size();   // --distributed: a step's batches together have distinct speakers
  if (cfg_.sampler != "pyannote" && !cfg_.ssl && speakers < cfg_.batch_size * world)
    throw UsageError("--batch_size: " + std::to_string(cfg_.batch_size) + " speakers per batch" +
                     (world > 1 ? " on each of " + std::to_string(world) + " ranks" : std::string()) +
                     ", but --train_list " + cfg_.train_list + " has only " + std::to_string(speakers) +
                     " speakers (each speaker appears at most once per " + (world > 1 ? "step)" : "batch)"));
  options_["nClasses"] = cfg_.nClasses;   // the resolved value goes into checkpoints
  // Likewise the pooling: "" for a model with its own (ECAPA_TDNN, SincTDNN, ...) rather than the raw SAP default,
  // which spk_eval would otherwise read back from the checkpoint as an explicit --encoder_type.
  if (options_.contains("encoder_type")) options_["encoder_type"] = cfg_.encoder_type;
  std::shared_ptr<audio::Augmenter> augmenter;
  if (cfg_.augment) {
    // Each is a folder or a list file (engine/audio/augment.h), e.g. scripts/dataprep.py rir's list.
    for (const auto& [flag, path] : {std::pair{"--musan_path", cfg_.musan_path}, std::pair{"--rir_path", cfg_.rir_path}})
      if (!fs::exists(path)) throw UsageError(std::string(flag) + ": no such directory or list file '" + path + "'");
    augmenter = std::make_shared<audio::Augmenter>(cfg_.musan_path, cfg_.rir_path);
  }
  read_pyannote_data();
  if (cfg_.ssl) {   // --ssl: every file's length, then the view sampler (ssl_mode.h)
    SslTrainData d = plan_ssl_views(std::move(train_), cfg_);
    train_ = std::move(d.list);
    views_ = d.views;
    log(d.report);
  }
  return augmenter;
}

// --sampler pyannote: every file's length from its header, then the chunk sampler's filters and checks against the
// list; --add_noise: the noise files and their lengths. Every failure names the flag (or the file) before any work.
void Trainer::read_pyannote_data() {
  if (cfg_.sampler == "pyannote") {
    audio::ChunkSamplerConfig cc;
    cc.duration = cfg_.chunk_duration;
    cc.min_duration = cfg_.chunk_min_duration;
    cc.per_label = cfg_.per_label;
    cc.per_fold = cfg_.per_fold;
    cc.per_epoch = cfg_.per_epoch;
    cc.label_min_duration = cfg_.label_min_duration;
    cc.seed = uint64_t(cfg_.seed);
    try {
      chunks_ = std::make_shared<audio::ChunkSampler>(
          train_.labels, audio::utterance_lengths(train_, cc.sample_rate, cfg_.skip_bad_files), cc);
    } catch (const Error& e) {
      throw UsageError(std::string(e.what()) + " (--sampler pyannote, --train_list " + cfg_.train_list + ")");
    }
  }
  if (!cfg_.add_noise) return;
  const bool own = !cfg_.noise_path.empty();
  const std::string flag = own ? "--noise_path" : "--musan_path";
  const std::string where = own ? cfg_.noise_path : cfg_.musan_path;
  if (!fs::exists(where))
    throw UsageError(flag + ": no such folder or list file '" + where + "' (--add_noise" +
                     (own ? "" : " takes the noise/ files of --musan_path unless --noise_path is given") + ")");
  try {
    std::vector<std::string> files = own ? audio::audio_files(where, flag) : audio::musan_files(where, audio::AugType::noise);
    if (files.empty())
      throw UsageError(flag + ": '" + where + "' holds no noise files" +
                       (own ? " (.wav, .flac or .ogg)" : " (in a noise/ folder, or `noise path` lines)"));
    noise_ = std::make_shared<audio::BackgroundNoise>(std::move(files), cfg_.noise_snr_min, cfg_.noise_snr_max);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(flag + " (--add_noise): " + e.what());
  }
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
  if (!cfg_.trainfunc2.empty()) loss2_ = make_second_loss(cfg_.trainfunc2, lc);   // after loss_: same draws
  momentum_ = dynamic_cast<MomentumLoss*>(loss_.get());
  if (momentum_) {   // MoCo: the key encoder, a model of the same architecture from its own stream (momentum.h)
    Rng key_rng = Rng(uint64_t(cfg_.seed)).fork(2);
    std::shared_ptr<SpeakerNet> key = make_model(cfg_.model, model_config(cfg_), key_rng);
    momentum_->attach_encoder(key, [k = key.get()](const Tensor& f) { return k->forward(f); }, *model_);
  }
  model_->to(device_);
  loss_->to(device_);
  if (loss2_) loss2_->to(device_);
}

void Trainer::build_optimiser() {
  NamedTensors params = training_parameters(*model_, *loss_, loss2_.get());
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
  if (comm_->is_root())   // --distributed: rank 0 alone touches the files; the others wait for it
    for (const std::string& f : remove_interrupted_writes(cfg_.save_path))
      log("removed " + f + ", left by a checkpoint write that was interrupted");
  comm_->barrier();
  const std::string resume = find_resume_checkpoint(cfg_.save_path);
  if (!resume.empty()) {
    const Checkpoint ck = read_checkpoint(resume);
    const auto saved_world = ck.state.config.find("world_size");
    const int64_t ck_world = saved_world != ck.state.config.end() ? saved_world->get<int64_t>() : 1;
    // --reshard: checkpoints are written at epoch ends only, and an epoch's plan is made afresh from the seed, the
    // epoch and the world size, so the next epoch can be sharded over another number of ranks.
    if (ck_world != comm_->world_size() && cfg_.reshard)
      log("--reshard: the checkpoint " + resume + " was written by " + std::to_string(ck_world) +
          " rank(s); epoch " + std::to_string(ck.state.epoch + 1) + " on is sharded over " +
          std::to_string(comm_->world_size()));
    else if (ck_world != comm_->world_size())
      throw UsageError("--distributed: this run has " + std::to_string(comm_->world_size()) +
                       " rank(s) but the checkpoint " + resume + " that it would resume was written by a run of " +
                       std::to_string(ck_world) + " (the batches, the data order and the schedule depend on it); " +
                       "start it with " + std::to_string(ck_world) + " ranks" +
                       (ck_world == 1 ? " (without --distributed)" : "") +
                       ", pass --reshard to go on with " + std::to_string(comm_->world_size()) + " from epoch " +
                       std::to_string(ck.state.epoch + 1) + ", use another --save_path, or pass the checkpoint as "
                       "--initial_model to fine-tune from it");
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
    restore_training(ck, *model_, *loss_, *optim_, loss2_.get());
    rng_->set_state(ck.state.rng_seed, ck.state.rng_offset);
    epoch_ = ck.state.epoch;
    step_ = ck.state.step;
    resumed_ = true;
    last_checkpoint_ = resume;
    last_checkpoint_epoch_ = epoch_;
    log("resuming from " + resume + " (epoch " + std::to_string(epoch_) + ", step " + std::to_string(step_) + ")");
    // A run stopped between the numbered file and last.safetensors of an epoch left the latter one epoch behind.
    // If nothing is left to train, nothing would rewrite it: it must hold the newest state in every case.
    const std::string last = last_checkpoint_path(cfg_.save_path);
    if (resume != last && comm_->is_root()) {
      copy_checkpoint(resume, last);
      log(last + " was older than " + resume + " (a run stopped between the two writes): brought up to date");
    }
    if (!cfg_.initial_model.empty()) log("--initial_model ignored: the run resumes from its own checkpoint");
  } else if (!cfg_.initial_model.empty()) {
    const Checkpoint ck = read_checkpoint(cfg_.initial_model);
    const ImportResult r = import_weights(ck, *model_, loss_.get(), loss2_.get());
    if (momentum_ && !r.loss_loaded) momentum_->reset_encoder(*model_);   // else it would follow the random init
    log("initial model " + cfg_.initial_model + " (" + r.source_format + "): " + r.summary() +
        (r.loss_loaded ? "; loss weights loaded" : "; " + r.loss_note) +
        (!loss2_ ? "" : r.loss2_loaded ? "; second loss weights loaded" : "; " + r.loss2_note));
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
  lcfg.sampler.world_size = comm_->world_size();   // --distributed: this rank's slice of every global batch
  lcfg.sampler.rank = comm_->rank();
  lcfg.sampler.global_batches = comm_->world_size() > 1;
  lcfg.max_frames = cfg_.max_frames;
  lcfg.num_workers = int(cfg_.nDataLoaderThread);
  lcfg.skip_bad_files = cfg_.skip_bad_files;
  lcfg.keep_empty_batches = comm_->world_size() > 1;   // every rank takes every step (step_weight)
  lcfg.augment = augmenter;
  lcfg.chunks = chunks_;
  lcfg.noise = noise_;
  lcfg.views = views_;
  lcfg.view_augment = make_view_augment(cfg_);
  loader_ = std::make_unique<audio::TrainLoader>(train_, lcfg);
  const int64_t world = comm_->world_size();
  if (chunks_ && chunks_->num_batches() < world)   // --distributed: each rank takes every W-th chunk batch
    throw UsageError("--sampler pyannote: an epoch has " + std::to_string(chunks_->num_batches()) +
                     " batches, fewer than the " + std::to_string(world) +
                     " ranks (raise --per_epoch or lower --per_fold)");
  batches_per_epoch_ = chunks_ ? chunks_->num_batches() / world
                       : views_ ? views_->num_batches()
                                : audio::plan_epoch(train_.labels, lcfg.sampler, 1).num_batches;

  if (comm_->is_root()) {
    fs::create_directories(cfg_.save_path);
    epoch_log_ = std::make_unique<EpochLog>((fs::path(cfg_.save_path) / "train_log.csv").string(), epoch_);
  }
  log("model " + cfg_.model + " (" + std::to_string([&] {
        int64_t n = 0;
        for (const auto& [name, p] : model_->named_parameters()) n += p.numel();
        return n;
      }()) + " parameters), loss " + cfg_.trainfunc +
      (loss2_ ? " + " + num(cfg_.trainfunc2_weight) + "*" + loss2_->name() + " (--trainfunc2)" : "") + ", " +
      std::to_string(train_.size()) + " utterances of " +
      (views_ ? std::string("unknown (--ssl)") : std::to_string(train_.speakers.size())) + " speakers, " + std::to_string(batches_per_epoch_) + " batches of " +
      (chunks_ ? std::to_string(cfg_.per_fold) + "x" + std::to_string(cfg_.per_label) + " chunks"
               : std::to_string(cfg_.batch_size) + "x" + std::to_string(cfg_.nPerSpeaker)) +
      " per epoch" +
      (comm_->world_size() > 1 ? " on each of " + std::to_string(comm_->world_size()) + " ranks (" +
                                     comm_->backend() + ")"
                               : std::string()) +
      ", front end " + frontend_name(cfg_) +
      (spec_aug_ ? ", SpecAugment " + spec_aug_str(*spec_aug_) : std::string()) + ", device " + device_.str());
  if (chunks_)
    log("--sampler pyannote: chunks of " + num(chunks_->min_samples() / 16000.0) + ".." +
        num(chunks_->max_samples() / 16000.0) + " s from " + std::to_string(chunks_->kept_files()) + " files of " +
        std::to_string(chunks_->kept_speakers()) + " speakers (" + std::to_string(chunks_->short_files()) +
        " files not longer than --chunk_duration left out, " + std::to_string(chunks_->dropped_speakers()) +
        " speakers under --label_min_duration dropped; " + num(chunks_->kept_seconds() / 3600.0) + " h kept)");
  if (lcfg.view_augment)
    log("--ssl_aug: each view gets its own synthetic reverb (p " + num(cfg_.ssl_aug_reverb_prob) + "), low-pass (p " +
        num(cfg_.ssl_aug_lowpass_prob) + "), coloured noise at " + num(cfg_.ssl_aug_snr_min) + ".." +
        num(cfg_.ssl_aug_snr_max) + " dB SNR and gain +-" + num(cfg_.ssl_aug_gain_db) + " dB");
  if (noise_)
    log("--add_noise: " + std::to_string(noise_->files().size()) + " noise files at SNR " + num(cfg_.noise_snr_min) +
        ".." + num(cfg_.noise_snr_max) + " dB");
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

std::string Trainer::batch_files(const audio::Batch& b) const {
  constexpr size_t kShown = 8;
  std::string s;
  for (size_t i = 0; i < b.utterances.size() && i < kShown; ++i)
    s += (i ? ", " : "") + train_.paths[size_t(b.utterances[i])];
  if (b.utterances.size() > kShown) s += ", ... (" + std::to_string(b.utterances.size()) + " files in all)";
  return s;
}

bool Trainer::non_finite_step(int64_t epoch, const audio::Batch& b, const std::string& what) {
  optim_->zero_grad();   // nothing of this batch reaches the parameters or the optimiser state
  const std::string where = what + " at epoch " + std::to_string(epoch) + ", batch " + std::to_string(b.index + 1) +
                            " of " + std::to_string(loader_->num_batches()) + " (step " + std::to_string(step_ + 1) +
                            ", lr " + num(optim_->lr()) + ")";
  const std::string files = "; the batch's files: " + batch_files(b);
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

LossOutput Trainer::forward_loss(int64_t epoch, const audio::Batch& b) {
  Tensor wav = input_.upload(b.wav, device_);
  Tensor labels = b.labels.to(device_);
  Tensor feats;
  {
    NoGradGuard ng;
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

bool Trainer::train_step(int64_t epoch, const audio::Batch& b, double weight, double& loss_value, double& metric) {
  set_step_schedule(epoch, b.index);
  // --distributed --skip_bad_files: a rank whose share of the step was all bad files (b.n == 0) computes nothing
  // but still joins the step's all-reduces, with weight 0.
  // The backward is queued before anything is read back, and the loss and the gradient probe then come back in
  // one copy: the step's only device-to-host sync besides what the loss itself reads (engine/sync_counter.h).
  // A non-finite loss gives non-finite gradients, which are dropped unused, so running backward first is safe.
  LossOutput out;
  if (b.n > 0) {
    out = forward_loss(epoch, b);
    out.loss.backward();
  }
  double lv = 0, probe = 0;
  {
    NoGradGuard ng;
    const Tensor gp = gradient_probe();
    std::vector<Tensor> parts;
    if (b.n > 0) parts.push_back(reshape(out.loss.detach(), {1}));
    if (gp.defined()) parts.push_back(reshape(parts.empty() ? gp : gp.to(parts[0].dtype()), {1}));
    const std::vector<double> host = parts.empty() ? std::vector<double>{} : concat(parts, 0).to_double();
    if (b.n > 0) lv = host[0];
    if (gp.defined()) probe = host.back();
  }
  // SPK_FAULT train.grad:fail: the first gradient becomes NaN; hit on the steps whose loss is finite only.
  if (std::isfinite(lv) && fault::hit(fault::Point::train_grad)) {
    for (const auto& [name, p] : optim_->params())
      if (p.grad().defined()) {
        p.set_grad(mul_scalar(p.grad(), std::numeric_limits<double>::quiet_NaN()));
        probe = std::numeric_limits<double>::quiet_NaN();
        break;
      }
  }
  if (comm_->world_size() > 1) {
    // The mean over the ranks: logged, and every rank decides alike on NaN. The probe is reduced with them: it is
    // NaN on every rank when some rank's gradients are not finite, as their average would be.
    const bool weighted = cfg_.skip_bad_files;   // ranks with unequal groups: each weighs by its share
    Tensor lm = Tensor::from_vector(weighted ? std::vector<double>{lv * weight, out.metric * weight, probe}
                                             : std::vector<double>{lv, out.metric, probe},
                                    {3}, DType::f64);
    comm_->all_reduce(lm, weighted ? dist::ReduceOp::sum : dist::ReduceOp::mean);
    lv = lm.data<double>()[0];
    out.metric = lm.data<double>()[1];
    probe = lm.data<double>()[2];
  }
  if (!std::isfinite(lv)) return non_finite_step(epoch, b, "the loss is " + num(lv));
  if (!std::isfinite(probe)) return non_finite_step(epoch, b, "a gradient is not finite (the loss is " + num(lv) + ")");
  // --distributed; no-op for one process. Scaled by weight·W, the mean over the ranks is the groups' mean.
  average_gradients(*comm_, optim_->params(), cfg_.skip_bad_files ? weight * double(comm_->world_size()) : 1.0);
  optim_->step();
  optim_->zero_grad();
  if (momentum_) momentum_->after_step(*model_);   // EMA and queue: only after a step that was taken
  ++step_;
  non_finite_in_row_ = 0;
  fault::hit(fault::Point::train_step);   // SPK_FAULT train.step:kill@N: the kill-mid-epoch test
  loss_value = lv;
  metric = out.metric;
  return true;
}

EpochSummary Trainer::train_epoch(int64_t epoch) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  model_->train();
  loss_->train();
  if (loss2_) loss2_->train();
  loader_->start_epoch(epoch);
  const int64_t nb = loader_->num_batches();
  EpochSummary sum;
  sum.epoch = epoch;
  sum.metric_kind = loss_->metric_kind();
  double loss_sum = 0, metric_sum = 0;
  int64_t samples = 0, batches = 0;
  audio::Batch b;
  while (loader_->next(b)) {
    double lv = 0, metric = 0;
    const double weight = step_weight(*comm_, b.n, cfg_.skip_bad_files);
    if (weight < 0) continue;   // every rank's share was all bad files: all skip it, as one process's loader would
    if (!train_step(epoch, b, weight, lv, metric)) {
      ++sum.skipped_steps;
      continue;
    }
    ++batches;
    loss_sum += lv;
    metric_sum += metric;
    samples += b.m * b.n * comm_->world_size();   // over all ranks
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
  const std::string warnings = loss_warnings_.end_epoch(epoch, nb);
  if (!warnings.empty()) log(warnings);
  sum.seconds = std::chrono::duration<double>(clock::now() - t0).count();
  sum.steps = step_;
  sum.loss = batches ? loss_sum / double(batches) : 0;
  sum.metric = batches ? metric_sum / double(batches) : 0;
  sum.lr = optim_->lr();
  sum.samples_per_s = sum.seconds > 0 ? double(samples) / sum.seconds : 0;
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
