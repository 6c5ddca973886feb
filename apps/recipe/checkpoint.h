// Training checkpoints, and importing weights trained elsewhere (--initial_model).
//
// A checkpoint is one safetensors file, written atomically (engine/safetensors.h: temp file, fsync, rename),
// so a kill at any moment leaves either the previous file or the new one:
//   __S__.<name>      the model's state_dict (parameters and buffers), voxceleb_trainer's names
//   __L__.<name>      the loss's parameters (classifier weights, angleproto's w and b, ...)
//   __L2__.<name>     the --trainfunc2 loss's parameters, when there is one
//   optim.*           the optimiser state (engine/optim.h), keyed by the same prefixed names
//   metadata          spk.format = spk-checkpoint-1, spk.epoch (completed epochs), spk.step (optimiser steps),
//                     spk.rng (the trainer's Rng seed and offset, JSON), spk.config (every recipe option, JSON),
//                     spk.speakers (the label map), spk.lr, spk.margin (margin losses), spk.adacos_scale
//                     (spk.adacos_scale2 for a second adasoftmax), spk.eval
//                     (the last evaluation, JSON), spk.commit, spk.loss_scaler (--mixedprec fp16: the loss
//                     scale and its growth tracker, JSON)
// Files: <save_path>/model/model<epoch:09d>.safetensors every test_interval epochs (kept, as voxceleb_trainer's
// model<epoch>.model) and <save_path>/model/last.safetensors after every epoch (replaced). Resuming takes the
// file with the highest epoch.
//
// Importing (--initial_model, spk_eval) reads an spk checkpoint, a safetensors state_dict or a PyTorch
// checkpoint (torch.save: .model / .pt / .pth, engine/io/torch_checkpoint.h) whose names are the reference
// implementation's: voxceleb_trainer (__S__. model, __L__. loss), TaoRuijie's ECAPA-TDNN (speaker_encoder.,
// speaker_loss.), wespeaker (bare model names, projection. for the margin head), DistributedDataParallel's
// module., a state_dict nested as {'model': ...}, or bare names (weight_import.cpp finds the prefix from the
// model's own names). Front-end buffers (torchfb., torchfbank.) are skipped; entries the model does not have
// (extra heads such as itm.*, an optimizer's state) are reported and skipped; every model entry must be
// present (a missing BatchNorm num_batches_tracked restarts at 0, as in PyTorch) with the right shape (all
// problems in one error naming the file). Half or double weights are converted to the model's precision.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/audio/lists.h"
#include "engine/safetensors.h"

namespace spk {
class SpeakerNet;
class Loss;
class Optimizer;
}  // namespace spk

namespace spk::recipe {

inline constexpr const char* kCheckpointFormat = "spk-checkpoint-1";

struct TrainingState {
  int64_t epoch = 0;               // epochs completed
  int64_t step = 0;                // optimiser steps taken
  uint64_t rng_seed = 0, rng_offset = 0;
  double lr = 0;
  nlohmann::json config = nlohmann::json::object();   // recipe options
  audio::LabelMap speakers;
  nlohmann::json eval = nlohmann::json::object();     // last evaluation (empty if none yet)
  nlohmann::json loss_scaler;   // --mixedprec fp16: spk.loss_scaler (apps/recipe/mixed_precision.h); null if none
};

// The prefix of the second loss's entries (--trainfunc2), beside voxceleb_trainer's __S__ and __L__.
inline constexpr const char* kSecondLossPrefix = "__L2__.";

// Prefixed names for the optimiser: model parameters as "__S__.<name>", loss parameters as "__L__.<name>", the
// second loss's (if any) as "__L2__.<name>".
NamedTensors training_parameters(const SpeakerNet& model, const Loss& loss, const Loss* loss2 = nullptr);

void save_checkpoint(const std::string& path, const SpeakerNet& model, const Loss& loss, const Optimizer& optim,
                     const TrainingState& state, const Loss* loss2 = nullptr);

struct Checkpoint {
  std::string path;
  std::string format = "safetensors";   // or "PyTorch zip" / "PyTorch legacy"
  SafetensorsFile file;       // a PyTorch file's non-tensor values are in metadata as "torch.<name>"
  bool is_spk = false;        // written by save_checkpoint (has spk.format)
  TrainingState state;        // valid when is_spk
};
// Reads and validates the file (errors name it). A file with spk.format of another version is an error.
Checkpoint read_checkpoint(const std::string& path);

std::string numbered_checkpoint_path(const std::string& save_path, int64_t epoch);
std::string last_checkpoint_path(const std::string& save_path);
// The spk checkpoint in <save_path>/model with the highest epoch ("" if none): last.safetensors or the numbered
// file with the highest epoch in its name, whichever is newer, last.safetensors on a tie (only those two are
// read). Leftover temporary files of an interrupted write are ignored; an unreadable candidate is an error naming
// it (never silently skipped).
std::string find_resume_checkpoint(const std::string& save_path);

// Copies a checkpoint file byte for byte, atomically (the resume brings a stale last.safetensors up to date).
void copy_checkpoint(const std::string& from, const std::string& to);

// Removes the temporary files that writes of checkpoints into <save_path>/model left when their process was
// killed ("last.safetensors.tmp.<pid>" of a pid no longer running); returns their paths.
std::vector<std::string> remove_interrupted_writes(const std::string& save_path);

// Restores model, loss (and second loss) and optimiser exactly from an spk checkpoint (strict: every entry must
// match).
void restore_training(const Checkpoint& ck, SpeakerNet& model, Loss& loss, Optimizer& optim, Loss* loss2 = nullptr);

struct ImportResult {
  std::string source_format;            // "spk", "voxceleb_trainer", "ECAPA-TDNN (TaoRuijie)", "wespeaker", "bare",
                                        // followed by ", names under '<prefix>'" for nested/wrapped names
  int64_t model_entries = 0;            // tensors loaded into the model
  bool loss_loaded = false;
  std::string loss_note;                // why the loss was not loaded (class count differs, ...), if it was not
  bool loss2_loaded = false;            // the same for the second loss's __L2__ entries
  std::string loss2_note;
  std::vector<std::string> skipped;     // front-end entries skipped
  std::vector<std::string> extra;       // other entries the model does not have, skipped (heads, optimizer)
  int64_t converted = 0;                // tensors converted to the model's floating dtype
  std::string summary() const;          // one line for the log
};
// Loads the model weights (strict) and, when `loss` is given and the checkpoint has matching loss entries,
// the loss weights; a loss whose entries differ in shape (another class count: fine-tuning on new speakers)
// or names (another loss) keeps its fresh initialisation and the reason goes to loss_note. `loss2` (--trainfunc2)
// takes the file's __L2__ entries the same way (loss2_loaded, loss2_note); without it they are skipped quietly.
ImportResult import_weights(const Checkpoint& ck, SpeakerNet& model, Loss* loss, Loss* loss2 = nullptr);

}  // namespace spk::recipe
