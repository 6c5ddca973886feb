// SpecAugment's masking step (Park et al., "SpecAugment", Interspeech 2019, arXiv 1904.08779) on a batch of
// features: every element of a masked time frame or a masked frequency bin becomes 0.
//
//   x, y    (B, F, T) contiguous, y may be x (in place)
//   masks   (B, n_time + n_freq, 2) int32 [start, end) intervals: for row b, the first n_time pairs are time
//           intervals (frames), the next n_freq frequency intervals (bins); an empty interval (start >= end)
//           masks nothing, so a row the draw leaves alone carries [0, 0) pairs
//   y[b,f,t] = 0 if t lies in one of row b's time intervals or f in one of its frequency intervals, else x[b,f,t]
//
// The masks are drawn on the host (engine/audio/spec_augment.h) and passed in, so the CPU and CUDA kernels apply
// the same ones and the output is identical bit for bit on both devices (a copy or a 0, no arithmetic). Zero is
// the fill of both references: TaoRuijie/ECAPA-TDNN model.py FbankAug (masked_fill_(mask, 0.0) on the
// mean-subtracted log-mel) and wespeaker/dataset/dataset_utils.py spec_aug (y[...] = 0 after CMN).
// Forward only: the features are computed under no_grad in both references, so there is no backward.
#pragma once
#include <cstdint>

namespace spk {

template <class T>
void specaug_forward_cpu(const T* x, T* y, int64_t B, int64_t F, int64_t T_, const int32_t* masks, int64_t n_time,
                         int64_t n_freq);

// CUDA (f32, on the given stream; kernels/specaug/specaug_cuda.cu). `masks` is a device pointer.
void specaug_forward_cuda(const float* x, float* y, int64_t B, int64_t F, int64_t T, const int32_t* masks,
                          int64_t n_time, int64_t n_freq, void* stream);

}  // namespace spk
