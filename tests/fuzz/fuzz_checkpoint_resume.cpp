// Fuzz target: resuming a run and importing weights (apps/recipe/checkpoint.h). The input is written as
// <run>/model/last.safetensors, which find_resume_checkpoint must pick, read_checkpoint parse (metadata JSON:
// epoch, step, rng, lr, config, eval, speakers) and restore_training load into a small model, loss and optimiser
// (tiny_run.h). The same bytes as init.model go through the --initial_model path (safetensors or torch.save,
// then import_weights).
#include "apps/recipe/config.h"
#include "fuzz_support.h"
#include "tiny_run.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spk;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string last = fuzz::write_file("run/model/last.safetensors", bytes);
  fuzz::run_expecting_spk_errors(last, [&] {
    const std::string found = recipe::find_resume_checkpoint(fuzz::scratch_dir() + "/run");
    if (found != last) fuzz::finding("find_resume_checkpoint returned '" + found + "'");
    const recipe::Checkpoint ck = recipe::read_checkpoint(found);
    fuzz::TinyRun run;
    recipe::restore_training(ck, *run.net, *run.loss, *run.optim);
    Rng rng(1);
    rng.set_state(ck.state.rng_seed, ck.state.rng_offset);
  });
  const std::string init = fuzz::write_file("init.model", bytes);
  fuzz::run_expecting_spk_errors(init, [&] {
    const recipe::Checkpoint ck = recipe::read_checkpoint(init);
    fuzz::TinyRun run;
    recipe::import_weights(ck, *run.net, run.loss.get()).summary();
    if (ck.is_spk) {   // spk_eval takes the model options from the checkpoint's saved config
      recipe::OptionParser p("spk_eval", "fuzz", recipe::EVAL);
      p.apply_defaults_from(ck.state.config, recipe::OptionSource::checkpoint, init);
    }
  });
  return 0;
}
