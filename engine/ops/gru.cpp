// GRU ops, as torch.nn.GRU computes them (one layer, one direction, batch_first; torch 1.13 _VF.gru):
//   gru_sequence  the recurrence over precomputed input projections (kernels/gru), one op with its own backward
//                 through time, CPU or CUDA by the inputs' device (CUDA takes f32).
//   gru           composed: the input projection as one linear over every step, then gru_sequence; its gradient
//                 is the table ops'. Splitting there keeps the time loop to the H×3H recurrent product.
#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/gru/gru.h"

namespace spk {

namespace {

void check_gru_sequence(const char* op, const Tensor& gi, const Tensor& h0, const Tensor& w_hh, const Tensor& b_hh) {
  SPK_CHECK(gi.defined() && h0.defined() && w_hh.defined(), op, ": undefined input");
  check_op_device(OpId::gru_sequence, gi.device());
  SPK_CHECK(w_hh.dim() == 2 && w_hh.size(0) == 3 * w_hh.size(1) && w_hh.size(1) > 0, op, ": w_hh ", w_hh.str(),
            " is not (3H, H)");
  const int64_t H = w_hh.size(1);
  SPK_CHECK(gi.dim() == 3 && gi.size(2) == 3 * H, op, ": gi ", gi.str(), " is not (B, L, 3H) for w_hh ", w_hh.str());
  SPK_CHECK(h0.dim() == 2 && h0.size(0) == gi.size(0) && h0.size(1) == H, op, ": h0 ", h0.str(),
            " is not (B, H) for gi ", gi.str(), " and w_hh ", w_hh.str());
  SPK_CHECK(!b_hh.defined() || (b_hh.dim() == 1 && b_hh.size(0) == 3 * H), op, ": b_hh ", b_hh.str(),
            " is not (3H) for w_hh ", w_hh.str());
  for (const Tensor* t : {&h0, &w_hh, &b_hh}) {
    SPK_CHECK(!t->defined() || (t->device() == gi.device() && t->dtype() == gi.dtype()), op, ": ", t->str(),
              " is not on the device / in the dtype of gi ", gi.str());
  }
  check_cuda_f32(op, gi);
  SPK_CHECK(gi.device().is_cpu() || H <= kGruCudaMaxHidden, op, ": hidden size ", H,
            " is above the CUDA kernel's limit ", kGruCudaMaxHidden);
}

}  // namespace

Tensor gru_sequence(const Tensor& gi, const Tensor& h0, const Tensor& w_hh, const Tensor& b_hh) {
  const char* op = "gru_sequence";
  check_gru_sequence(op, gi, h0, w_hh, b_hh);
  const int64_t B = gi.size(0), L = gi.size(1), H = w_hh.size(1);
  Tensor gic = gi.contiguous().detach(), h0c = h0.contiguous().detach(), wc = w_hh.contiguous().detach();
  Tensor bc = b_hh.defined() ? b_hh.contiguous().detach() : Tensor();
  Tensor h = Tensor::empty({B, L, H}, gi.dtype(), gi.device());
  Tensor gates = Tensor::empty({B, L, 4 * H}, gi.dtype(), gi.device());
  dispatch(op, gi,
      [&]<class T>() {
        gru_forward_cpu<T>(gic.data<T>(), h0c.data<T>(), wc.data<T>(), data_or_null<T>(bc), h.data<T>(),
                           gates.data<T>(), B, L, H, cpu_threads());
      },
      [&](void* stream) {
        gru_forward_cuda(gic.data<float>(), h0c.data<float>(), wc.data<float>(), data_or_null<float>(bc),
                         h.data<float>(), gates.data<float>(), B, L, H, stream);
      });

  const bool gh0 = needs_grad({h0}), gb = b_hh.defined() && needs_grad({b_hh});
  Tensor hs = h.detach();
  return record(op, h, {gi, h0, w_hh, b_hh},
                [h0c, wc, hs, gates, gh0, gb, B, L, H, op](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dgi = Tensor::empty({B, L, 3 * H}, hs.dtype(), hs.device());
    Tensor dh0 = gh0 ? Tensor::empty({B, H}, hs.dtype(), hs.device()) : Tensor();
    Tensor dw = Tensor::empty({3 * H, H}, hs.dtype(), hs.device());
    Tensor db = gb ? Tensor::empty({3 * H}, hs.dtype(), hs.device()) : Tensor();
    dispatch(op, hs,
        [&]<class T>() {
          gru_backward_cpu<T>(h0c.data<T>(), wc.data<T>(), hs.data<T>(), gates.data<T>(), gc.data<T>(),
                              dgi.data<T>(), data_or_null<T>(dh0), dw.data<T>(), data_or_null<T>(db), B, L, H,
                              cpu_threads());
        },
        [&](void* stream) {
          gru_backward_cuda(h0c.data<float>(), wc.data<float>(), hs.data<float>(), gates.data<float>(),
                            gc.data<float>(), dgi.data<float>(), data_or_null<float>(dh0), dw.data<float>(),
                            data_or_null<float>(db), B, L, H, stream);
        });
    return {dgi, dh0, dw, db};
  });
}

Tensor gru(const Tensor& x, const Tensor& h0, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
           const Tensor& b_hh) {
  const char* op = "gru";
  SPK_CHECK(x.defined() && w_ih.defined() && w_hh.defined(), op, ": undefined input");
  check_op_device(OpId::gru, x.device());
  SPK_CHECK(x.dim() == 3, op, ": x must be (B, L, input_size), got ", x.str());
  SPK_CHECK(w_hh.dim() == 2 && w_hh.size(0) == 3 * w_hh.size(1), op, ": weight_hh ", w_hh.str(), " is not (3H, H)");
  SPK_CHECK(w_ih.dim() == 2 && w_ih.size(0) == w_hh.size(0) && w_ih.size(1) == x.size(2), op, ": weight_ih ",
            w_ih.str(), " is not (3H, input_size) for x ", x.str(), " and weight_hh ", w_hh.str());
  const int64_t H = w_hh.size(1);
  Tensor h = h0.defined() ? h0 : Tensor::zeros({x.size(0), H}, x.dtype(), x.device());
  return gru_sequence(linear(x, w_ih, b_ih), h, w_hh, b_hh);
}

}  // namespace spk
