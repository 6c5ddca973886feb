// Out of memory in spk_train, forced on the CPU path (SPK_FAULT alloc:fail, engine/fault.h): the run stops with
// exit status 1 and one message that gives the requested size, the free and total memory, the flags that shrink a
// step with their current values, and the checkpoint to resume from; the checkpoint is intact. (The CUDA
// allocator's own out-of-memory error is tested in tests/kernels/test_cuda_runtime.cpp on a GPU.)
#include <filesystem>
#include <regex>

#include "apps/recipe/checkpoint.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"
#include "support/check.h"

#ifdef SPK_TRAIN_BINARY

using namespace spk;
using namespace spk::recipe;

TEST_CASE("spk_train: out of memory in a training step names the sizes, the flags to shrink and the checkpoint") {
  static spk::test::TinyCorpus c("spk_test_oom");
  const std::string dir = c.file("oom");
  // No loader threads: every allocation is on the main thread, so hit N is the same allocation in every run.
  // Set-up makes under a thousand allocations and an epoch of this recipe about 7000 (fewer since the fused
  // optimiser, engine/optim.h): hit 11000 falls inside a training step of epoch 2, after the checkpoint of epoch 1
  // (hits 9000 and 13000 do too).
  const std::string args =
      c.no_eval + " --train_list " + c.train4 + " --nDataLoaderThread 0 --max_epoch 2 --save_path " + dir;
  const spk::test::AppRun r = spk::test::run_binary(SPK_TRAIN_BINARY, args, "SPK_FAULT=alloc:fail@11000");
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(r.output.find("epoch 1: ") != std::string::npos);
  CHECK(std::regex_search(r.output, std::regex(R"(spk_train: error: out of memory on cpu: cannot allocate [0-9.]+ )"
                                               R"((B|KiB|MiB|GiB) \([0-9]+ bytes\); free [0-9.]+ (B|KiB|MiB|GiB) of )"
                                               R"([0-9.]+ (B|KiB|MiB|GiB); injected by SPK_FAULT; )")));
  CHECK(r.output.find("a training step needs less memory with a smaller --batch_size (now 4) or --max_frames (now "
                      "20); the last complete checkpoint is " + dir + "/model/last.safetensors (epoch 1)") !=
        std::string::npos);
  CHECK(read_checkpoint(dir + "/model/last.safetensors").state.epoch == 1);
}

#endif  // SPK_TRAIN_BINARY
