// Attentive pooling ops (kernels/attnpool): the softmax over frames and the weighted mean / standard deviation in
// one kernel each way, where the nets used to compose tanh, matmul, softmax, mul, sum, sub, clamp, sqrt and
// concat (nets/blocks.cpp). Same formulas, so the same values within f32 rounding and the same gradients:
//   sap_pool              voxceleb_trainer SAP/ASP after sap_linear (the GEMM stays a linear in front)
//   attentive_stats_pool  ECAPA-TDNN / ResNetSE34V2 / RawNet3 / wespeaker ASTP statistics (the attention convs
//                         stay convs in front)
#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/attnpool/attnpool.h"

namespace spk {

namespace {

// voxceleb_trainer's clamp of the SAP/ASP variance (models/ResNetSE34L.py: torch.clamp(..., min=1e-5)).
constexpr StatClamp kSapClamp{1e-5, std::numeric_limits<double>::infinity()};

void check_same(const char* op, const Tensor& t, const Tensor& like) {
  SPK_CHECK(t.device() == like.device() && t.dtype() == like.dtype(), op, ": ", t.str(),
            " is not on the device / in the dtype of ", like.str());
}

void check_sap(const Tensor& h_pre, const Tensor& att, const Tensor& x) {
  const char* op = "sap_pool";
  SPK_CHECK(h_pre.defined() && att.defined() && x.defined(), op, ": undefined input");
  check_op_device(OpId::sap_pool, x.device());
  SPK_CHECK(x.dim() == 3 && x.size(1) >= 1, op, ": x ", x.str(), " is not (B, L, D) with L >= 1 frames");
  SPK_CHECK(h_pre.dim() == 3 && h_pre.size(0) == x.size(0) && h_pre.size(1) == x.size(1), op, ": h_pre ",
            h_pre.str(), " is not (B, L, H) for x ", x.str());
  const int64_t H = h_pre.size(2);
  SPK_CHECK((att.dim() == 1 && att.size(0) == H) || (att.dim() == 2 && att.size(0) == H && att.size(1) == 1), op,
            ": attention ", att.str(), " is not (H) or (H, 1) for h_pre ", h_pre.str());
  check_same(op, h_pre, x);
  check_same(op, att, x);
  check_cuda_f32(op, x);
  SPK_CHECK(x.device().is_cpu() || x.size(2) <= kSapPoolCudaMaxDim, op, ": ", x.size(2),
            " channels are above the CUDA kernel's limit ", kSapPoolCudaMaxDim);
}

void check_attentive(const Tensor& logits, const Tensor& x, StatClamp c) {
  const char* op = "attentive_stats_pool";
  SPK_CHECK(logits.defined() && x.defined(), op, ": undefined input");
  check_op_device(OpId::attentive_stats_pool, x.device());
  SPK_CHECK(x.dim() == 3 && x.size(1) >= 1 && x.size(2) >= 1, op, ": x ", x.str(),
            " is not (B, C, L) with C >= 1 channels and L >= 1 frames");
  SPK_CHECK(logits.dim() == 3 && logits.size(0) == x.size(0) && logits.size(2) == x.size(2) &&
                (logits.size(1) == x.size(1) || logits.size(1) == 1),
            op, ": logits ", logits.str(), " are not (B, C, L) or (B, 1, L) for x ", x.str());
  SPK_CHECK(c.lo <= c.hi, op, ": clamp_min ", c.lo, " is above clamp_max ", c.hi);
  check_same(op, logits, x);
  check_cuda_f32(op, x);
}

}  // namespace

Tensor sap_pool(const Tensor& h_pre, const Tensor& attention, const Tensor& x, bool with_std) {
  const char* op = "sap_pool";
  check_sap(h_pre, attention, x);
  const int64_t B = x.size(0), L = x.size(1), D = x.size(2), H = h_pre.size(2);
  Tensor hc = h_pre.contiguous().detach(), ac = attention.contiguous().detach(), xc = x.contiguous().detach();
  Tensor y = Tensor::empty({B, with_std ? 2 * D : D}, x.dtype(), x.device());
  Tensor th = Tensor::empty({B, L, H}, x.dtype(), x.device());
  Tensor w = Tensor::empty({B, L}, x.dtype(), x.device());
  Tensor v = with_std ? Tensor::empty({B, D}, x.dtype(), x.device()) : Tensor();
  dispatch(op, x,
      [&]<class T>() {
        sap_pool_forward_cpu<T>(hc.data<T>(), ac.data<T>(), xc.data<T>(), y.data<T>(), th.data<T>(), w.data<T>(),
                                data_or_null<T>(v), B, L, H, D, with_std, kSapClamp, cpu_threads());
      },
      [&](void* stream) {
        sap_pool_forward_cuda(hc.data<float>(), ac.data<float>(), xc.data<float>(), y.data<float>(),
                              th.data<float>(), w.data<float>(), data_or_null<float>(v), B, L, H, D, with_std,
                              kSapClamp, stream);
      });
  if (!needs_grad({h_pre, attention, x})) return y;
  Tensor ys = y.detach();
  const Shape a_shape = attention.shape();
  return record(op, y, {h_pre, attention, x},
                [ac, xc, th, w, v, ys, a_shape, B, L, H, D, with_std, op](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dh = Tensor::empty({B, L, H}, xc.dtype(), xc.device());
    Tensor da = Tensor::empty(a_shape, xc.dtype(), xc.device());
    Tensor dx = Tensor::empty({B, L, D}, xc.dtype(), xc.device());
    Tensor ds = Tensor::empty({B, L}, xc.dtype(), xc.device());
    dispatch(op, xc,
        [&]<class T>() {
          sap_pool_backward_cpu<T>(th.data<T>(), ac.data<T>(), xc.data<T>(), w.data<T>(), ys.data<T>(),
                                   data_or_null<T>(v), gc.data<T>(), dh.data<T>(), da.data<T>(), dx.data<T>(),
                                   ds.data<T>(), B, L, H, D, with_std, kSapClamp, cpu_threads());
        },
        [&](void* stream) {
          sap_pool_backward_cuda(th.data<float>(), ac.data<float>(), xc.data<float>(), w.data<float>(),
                                 ys.data<float>(), data_or_null<float>(v), gc.data<float>(), dh.data<float>(),
                                 da.data<float>(), dx.data<float>(), ds.data<float>(), B, L, H, D, with_std,
                                 kSapClamp, stream);
        });
    return {dh, da, dx};
  });
}

Tensor attentive_stats_pool(const Tensor& logits, const Tensor& x, bool with_std, double clamp_min,
                            double clamp_max) {
  const char* op = "attentive_stats_pool";
  const StatClamp clamp{clamp_min, clamp_max};
  check_attentive(logits, x, clamp);
  const int64_t B = x.size(0), C = x.size(1), L = x.size(2), Cw = logits.size(1);
  Tensor lc = logits.contiguous().detach(), xc = x.contiguous().detach();
  Tensor y = Tensor::empty({B, with_std ? 2 * C : C}, x.dtype(), x.device());
  Tensor w = Tensor::empty({B, Cw, L}, x.dtype(), x.device());
  Tensor v = with_std ? Tensor::empty({B, C}, x.dtype(), x.device()) : Tensor();
  dispatch(op, x,
      [&]<class T>() {
        attentive_stats_forward_cpu<T>(lc.data<T>(), xc.data<T>(), y.data<T>(), w.data<T>(), data_or_null<T>(v), B,
                                       C, Cw, L, with_std, clamp, cpu_threads());
      },
      [&](void* stream) {
        attentive_stats_forward_cuda(lc.data<float>(), xc.data<float>(), y.data<float>(), w.data<float>(),
                                     data_or_null<float>(v), B, C, Cw, L, with_std, clamp, stream);
      });
  if (!needs_grad({logits, x})) return y;
  Tensor ys = y.detach();
  return record(op, y, {logits, x},
                [xc, w, v, ys, B, C, Cw, L, with_std, clamp, op](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dl = Tensor::empty({B, Cw, L}, xc.dtype(), xc.device());
    Tensor dx = Tensor::empty({B, C, L}, xc.dtype(), xc.device());
    dispatch(op, xc,
        [&]<class T>() {
          attentive_stats_backward_cpu<T>(xc.data<T>(), w.data<T>(), ys.data<T>(), data_or_null<T>(v),
                                          gc.data<T>(), dl.data<T>(), dx.data<T>(), B, C, Cw, L, with_std, clamp,
                                          cpu_threads());
        },
        [&](void* stream) {
          attentive_stats_backward_cuda(xc.data<float>(), w.data<float>(), ys.data<float>(),
                                        data_or_null<float>(v), gc.data<float>(), dl.data<float>(),
                                        dx.data<float>(), B, C, Cw, L, with_std, clamp, stream);
        });
    return {dl, dx};
  });
}

}  // namespace spk
