// Counts of reads back to the host: on a GPU each one stalls the host until the device has caught up, so a
// training step should make as few as possible (ideally the one loss read per --log_interval).
//
//   host_reads()   every Tensor::to(Device::cpu()) (and so item(), to_double(), to_vector()) whatever the source
//                  device: the reads of tensor values by host code. On the CPU they cost nothing, but the same
//                  code on a GPU would copy device-to-host at each, so a CPU test of a training step counts the
//                  syncs its GPU run would make (tests/engine/test_sync_counter.cpp, and the whole training loop
//                  in tests/recipe/test_train_sync.cpp through spk_train's SPK_SYNC_REPORT=1).
//                  Not counted, since they are no read on any device: a copy_() between tensors of one device
//                  (concat, slices, in-place state updates; a copy_ across devices goes through to() and counts
//                  when its target is the host) and from_vector() onto a device (an upload). What a CPU run
//                  cannot see: a copy_ into a tensor the code made on the host from one that lives on the compute
//                  device (none in the training step; the evaluator gathers embeddings so) — and syncs that are no
//                  read: the allocator's cudaDeviceSynchronize before it frees segments (out of memory only),
//                  NCCL collectives, SPK_CUDA_SYNC_CHECKS builds' per-launch syncs.
//   device_reads() every device-to-host copy that did happen (cuda::copy_d2h): 0 in a CPU-only run.
//
// Counted in every build, not only debug ones: an atomic add is nothing next to the read it counts, and the
// tests run the release build. Process-wide; take differences around the code of interest.
#pragma once
#include <cstdint>

namespace spk::sync_counter {

uint64_t host_reads();
uint64_t device_reads();
void note_host_read();
void note_device_read();

}  // namespace spk::sync_counter
