// CUDA log-mel filterbank (f32), batched: wav (B, L) dense -> out (B, n_mels, T) dense, T = fbank_num_frames.
// Semantics: kernels/fbank/fbank.h (both modes); per-element maths: kernels/fbank/fbank_device.h, shared with the
// CPU emulation test so the index arithmetic and FFT are checked without a GPU.
//
// Two kernels, two passes over memory:
//   1. fbank_frames_kernel: framing + padding/mirroring + pre-emphasis + DC removal + window + real FFT + power +
//      mel projection + offset/floor/log, fully fused. Reads the waveform once (frames overlap by
//      win_length - hop, the overlap is served by L1/L2) and writes the (B, n_mels, T) features once; the frames, the
//      spectrum and the power spectrum never leave shared memory.
//   2. fbank_norm_kernel (only for mean / instance norm): one warp per (utterance, mel) row of T contiguous values,
//      two passes over the row (mean, then biased variance about the mean, accumulated in double), then the
//      normalised write. It re-reads rows that kernel 1 just wrote, so they usually come from L2.
//
// Kernel 1 work split: a block owns F consecutive frames of one utterance (a "tile") and loops over tiles
// grid-stride, so the per-block setup (twiddle table, window, packed mel weights into shared memory) is paid once per
// block, not per tile. Per tile, 256 threads go through barrier-separated phases over shared memory:
//   raw    F·win_length raw samples (scaled, torchaudio pre-emphasis at the mirrored source index) -> bufB
//   dc     one warp per frame: mean of its raw samples (kaldi remove_dc_offset), else 0
//   pack   F frames of n_fft real samples as N = n_fft/2 complex values (z[n] = r[2n] + i r[2n+1]) -> bufA
//   fft    log4(N) radix-4 Stockham stages (+1 radix-2), ping-pong bufA <-> bufB; F·N/R butterflies per stage
//   power  untangle the packed transform into the n_fft/2+1 real-FFT bins, |X|² -> the free buffer
//   mel    packed triangular filters (about 2·n_freq weights in all, not the dense n_mels × n_freq matrix),
//          log, and the store: consecutive threads take consecutive frames of one mel bin, so each warp writes
//          runs of F contiguous floats of out[b, m, t0 : t0+F].
// Why an FFT in shared memory and not DFT-as-GEMM on tensor cores: a 512-point real frame costs ~14 kFLOP as an FFT
// vs ~0.5 MFLOP as a dense DFT, and TF32/BF16 DFT products miss the 1e-4 parity with torchaudio; FP32 FFT keeps
// the kernel near the memory floor (≈ 161 KB moved per 2-s crop, bench/bench_fbank.cpp) at full precision.
// cuFFT is not a dependency.
// F = 8 frames for n_fft <= 1024 (smem ~41 KB at n_fft 512), fewer for longer FFTs to stay within shared memory.
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/fbank/fbank.h"
#include "kernels/fbank/fbank_device.h"

#include "kernels/common/cuda_check.h"

namespace spk {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

int frames_per_block(int n_fft) { return std::max(1, std::min(8, 8192 / n_fft)); }

// Dynamic shared memory layout of kernel 1, in this order (8-byte items first, then 4-byte ones).
struct SmemLayout {
  size_t buf, tw, window, weight, mean, first, offset, total;
  SmemLayout(const FbankKernelParams& p, int F) {
    const size_t N = size_t(p.n_fft / 2);
    buf = 2 * size_t(F) * N * sizeof(FbankComplex);   // bufA | bufB
    tw = size_t(p.n_fft) * sizeof(FbankComplex);
    window = size_t(p.win_length) * sizeof(float);
    weight = size_t(p.n_weights) * sizeof(float);
    mean = size_t(F) * sizeof(float);
    first = size_t(p.n_mels) * sizeof(int32_t);
    offset = size_t(p.n_mels + 1) * sizeof(int32_t);
    total = buf + tw + window + weight + mean + first + offset;
  }
};

__global__ void __launch_bounds__(kThreads)
fbank_frames_kernel(FbankKernelParams p, int F, int64_t tiles_per_utt, int64_t n_tiles, const float* __restrict__ wav,
                    float* __restrict__ out, const float* __restrict__ tables_f, const int32_t* __restrict__ tables_i) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int N = p.n_fft / 2, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  FbankComplex* bufA = reinterpret_cast<FbankComplex*>(smem);
  FbankComplex* bufB = bufA + size_t(F) * N;
  FbankComplex* tw = bufB + size_t(F) * N;
  float* window = reinterpret_cast<float*>(tw + p.n_fft);
  float* weight = window + p.win_length;
  float* mean = weight + p.n_weights;
  int32_t* first = reinterpret_cast<int32_t*>(mean + F);
  int32_t* offset = first + p.n_mels;

  // Per-block setup: twiddles computed, window and packed filterbank copied from the global tables.
  for (int i = tid; i < p.n_fft; i += kThreads) tw[i] = fbank_twiddle(i, p.n_fft);
  for (int i = tid; i < p.win_length; i += kThreads) window[i] = tables_f[i];
  for (int i = tid; i < p.n_weights; i += kThreads) weight[i] = tables_f[p.win_length + i];
  for (int i = tid; i < p.n_mels; i += kThreads) first[i] = tables_i[i];
  for (int i = tid; i <= p.n_mels; i += kThreads) offset[i] = tables_i[p.n_mels + i];
  __syncthreads();

  for (int64_t tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
    const int64_t b = tile / tiles_per_utt, t0 = (tile % tiles_per_utt) * F;
    const float* x = wav + b * p.L;

    // raw: window samples of the F frames (frames past the end are zeros and are never stored).
    float* raw = reinterpret_cast<float*>(bufB);
    for (int e = tid; e < F * p.win_length; e += kThreads) {
      const int f = e / p.win_length, n = e - f * p.win_length;
      raw[e] = t0 + f < p.T ? fbank_raw_sample(p, x, t0 + f, n) : 0.f;
    }
    __syncthreads();

    // dc: Kaldi removes each frame's mean before pre-emphasis.
    for (int f = warp; f < F; f += kWarps) {
      float s = 0.f;
      if (p.remove_dc) {
        for (int n = lane; n < p.win_length; n += 32) s += raw[f * p.win_length + n];
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        s /= float(p.win_length);
      }
      if (lane == 0) mean[f] = s;
    }
    __syncthreads();

    // pack: real frame -> N complex values.
    for (int e = tid; e < F * N; e += kThreads) {
      const int f = e / N, n = e - f * N;
      const float* r = raw + f * p.win_length;
      bufA[e] = {fbank_frame_value(p, r, mean[f], window, 2 * n), fbank_frame_value(p, r, mean[f], window, 2 * n + 1)};
    }
    __syncthreads();

    // fft: Stockham stages, each a full read of src and write of dst.
    FbankComplex *src = bufA, *dst = bufB;
    for (int Ns = 1; Ns < N;) {
      const int R = fbank_stage_radix(N, Ns), per_frame = N / R;
      for (int e = tid; e < F * per_frame; e += kThreads) {
        const int f = e / per_frame, j = e - f * per_frame;
        fbank_stockham_butterfly(j, N, Ns, R, src + size_t(f) * N, dst + size_t(f) * N, tw);
      }
      __syncthreads();
      FbankComplex* s = src;
      src = dst;
      dst = s;
      Ns *= R;
    }

    // power: |X[k]|², k <= N, into the buffer the FFT no longer needs.
    float* power = reinterpret_cast<float*>(dst);
    for (int e = tid; e < F * (N + 1); e += kThreads) {
      const int f = e / (N + 1), k = e - f * (N + 1);
      power[e] = fbank_power_bin(src + size_t(f) * N, N, k, tw);
    }
    __syncthreads();

    // mel + log + store, frame index fastest so stores to out[b, m, t0 + f] are contiguous.
    for (int e = tid; e < F * p.n_mels; e += kThreads) {
      const int m = e / F, f = e - m * F;
      if (t0 + f < p.T)
        out[(b * p.n_mels + m) * p.T + t0 + f] = fbank_mel_energy(p, power + f * (N + 1), weight, first, offset, m);
    }
    __syncthreads();   // the next tile overwrites the buffers
  }
}

// One warp per row of T values: x <- (x - mean) [/ sqrt(var + eps)], biased variance (InstanceNorm1d, CMN).
__global__ void __launch_bounds__(kThreads)
fbank_norm_kernel(float* __restrict__ out, int64_t rows, int64_t T, int instance, float eps) {
  const int64_t row = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  float* r = out + row * T;
  double s = 0;
  for (int64_t t = lane; t < T; t += 32) s += r[t];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  const double mean = s / double(T);
  float scale = 1.f;
  if (instance) {
    double v = 0;
    for (int64_t t = lane; t < T; t += 32) v += (r[t] - mean) * (r[t] - mean);
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    scale = float(1.0 / sqrt(v / double(T) + double(eps)));
  }
  const float fmean = float(mean);
  for (int64_t t = lane; t < T; t += 32) r[t] = (r[t] - fmean) * scale;
}

}  // namespace

void fbank_forward_cuda(const FbankConfig& cfg, const float* wav, float* out, int64_t B, int64_t L,
                        const FbankDeviceTables& tables, void* stream) {
  const FbankKernelParams p = fbank_kernel_params(cfg, L, tables.n_weights);
  if (B == 0 || p.T == 0) return;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int F = frames_per_block(cfg.n_fft);
  const SmemLayout smem(p, F);

  int dev = 0, sms = 0, smem_optin = 0;
  SPK_CUDA_CHECK(cudaGetDevice(&dev));
  SPK_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  SPK_CUDA_CHECK(cudaDeviceGetAttribute(&smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  if (smem.total > size_t(smem_optin))
    SPK_FAIL("fbank: n_fft ", cfg.n_fft, " with ", cfg.n_mels, " mels needs ", smem.total,
             " bytes of shared memory per block; this GPU allows ", smem_optin);
  if (smem.total > 48 * 1024)
    SPK_CUDA_CHECK(cudaFuncSetAttribute(fbank_frames_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        int(smem.total)));
  int per_sm = 0;
  SPK_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fbank_frames_kernel, kThreads, smem.total));
  const int64_t tiles_per_utt = (p.T + F - 1) / F, n_tiles = B * tiles_per_utt;
  const int64_t grid = std::max<int64_t>(1, std::min<int64_t>(n_tiles, int64_t(std::max(per_sm, 1)) * sms));
  fbank_frames_kernel<<<unsigned(grid), kThreads, smem.total, s>>>(p, F, tiles_per_utt, n_tiles, wav, out, tables.f,
                                                                    tables.i);
  SPK_KERNEL_LAUNCH_CHECK();

  if (cfg.norm == FbankNorm::none) return;
  const int64_t rows = B * cfg.n_mels;
  fbank_norm_kernel<<<unsigned((rows + kWarps - 1) / kWarps), kThreads, 0, s>>>(
      out, rows, p.T, cfg.norm == FbankNorm::instance ? 1 : 0, float(cfg.norm_eps));
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
