// Trainer's setup steps (see trainer.h): configuration checks, training data, model and loss, optimiser, resume or
// initialisation, loader. Kept apart from the step and epoch loop in trainer.cpp.
#include <filesystem>
#include <set>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/cuda_graph_step.h"
#include "apps/recipe/distributed.h"
#include "apps/recipe/epoch_log.h"
#include "apps/recipe/frontend.h"
#include "apps/recipe/mixed_precision.h"
#include "apps/recipe/recipe_parts.h"
#include "apps/recipe/spec_aug_flags.h"
#include "apps/recipe/ssl_mode.h"
#include "apps/recipe/trainer.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/augment.h"
#include "engine/audio/background_noise.h"
#include "engine/audio/chunk_sampler.h"
#include "engine/audio/fbank.h"
#include "engine/audio/loader.h"
#include "engine/audio/view_sampler.h"
#include "engine/cuda.h"
#include "engine/fault.h"
#include "engine/layers.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "losses/second_loss.h"
#include "nets/model.h"

namespace fs = std::filesystem;

namespace spk::recipe {

using flag_check::num;

namespace {

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
  amp_ = std::make_unique<MixedPrecision>(cfg_.mixedprec, device_);   // --mixedprec: a bad value fails here
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
    SslTrainData d = plan_ssl_views(std::move(train_), cfg_, comm_->world_size(), comm_->rank());
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
    momentum_->set_communicator(comm_.get());   // --distributed: MoCo's queue, DINO's centre over every rank
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
    if (const std::string note = amp_->restore(ck.state.loss_scaler, resume); !note.empty()) log(note);
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
  if (const std::string amp = amp_->describe(); !amp.empty()) log(amp);
  if (const std::string graph = cuda_graph_fallback(cfg_, device_); !graph.empty()) log(graph);
  if (noise_)
    log("--add_noise: " + std::to_string(noise_->files().size()) + " noise files at SNR " + num(cfg_.noise_snr_min) +
        ".." + num(cfg_.noise_snr_max) + " dB");
}

}  // namespace spk::recipe
