// Walks engine/ops.def: every op must have a finite-difference gradient check, and every op with a CUDA
// kernel a CUDA-vs-CPU parity case. Forgetting either fails the suite, naming the op.
#include "support/check.h"

using namespace spk;

TEST_CASE("op table: every op has a gradient check") {
  for (int i = 0; i < kOpCount; ++i) {
    
    CHECK_MESSAGE(test::has_gradcheck(OpId(i)), "op '" << std::string(kOpTable[i].name) << "' has no SPK_GRADCHECK_CASE");
  }
}

TEST_CASE("op table: every CUDA op has a parity case") {
  for (int i = 0; i < kOpCount; ++i) {
    if (kOpTable[i].cuda != OpCuda::CUDA) continue;
    CHECK_MESSAGE(test::has_cuda_parity(OpId(i)), "op '" << std::string(kOpTable[i].name) << "' has no SPK_CUDA_PARITY_CASE");
  }
}

TEST_CASE("op table: names are unique") {
  for (int i = 0; i < kOpCount; ++i)
    for (int j = i + 1; j < kOpCount; ++j) CHECK(std::string(kOpTable[i].name) != kOpTable[j].name);
}
