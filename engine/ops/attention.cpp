// Attention ops, as torch.nn.MultiheadAttention computes them (torch 1.13,
// torch.nn.functional.multi_head_attention_forward; no mask, no dropout):
//   scaled_dot_product_attention  the attention core (kernels/attention): per head, softmax(Q Kᵀ/√Dh) V, one op
//                                 with its own backward, CPU or CUDA by the inputs' device (CUDA takes f32).
//   multi_head_attention          composed: the in-projection (three linears on the rows of in_proj_weight),
//                                 the core, the out-projection; its gradient is the table ops'.
#include <cmath>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/attention/attention.h"

namespace spk {

namespace {

// q (L, E) or (B, L, E) as (B, L, E): an unbatched input is one sequence.
Tensor as_batched(const Tensor& t) { return t.dim() == 2 ? unsqueeze(t, 0) : t; }

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t num_heads) {
  const char* op = "scaled_dot_product_attention";
  SPK_CHECK(q.defined() && k.defined() && v.defined(), op, ": undefined input");
  check_op_device(OpId::scaled_dot_product_attention, q.device());
  SPK_CHECK(q.dim() == 2 || q.dim() == 3, op, ": query must be (L, E) or (B, L, E), got ", q.str());
  SPK_CHECK(k.dim() == q.dim() && v.dim() == q.dim(), op, ": key ", k.str(), " and value ", v.str(),
            " must have the rank of query ", q.str());
  for (const Tensor* t : {&k, &v}) {
    SPK_CHECK(t->device() == q.device() && t->dtype() == q.dtype(), op, ": ", t->str(),
              " is not on the device / in the dtype of query ", q.str());
  }
  check_cuda_f32(op, q);
  const Tensor qb = as_batched(q), kb = as_batched(k), vb = as_batched(v);
  const int64_t B = qb.size(0), Lq = qb.size(1), E = qb.size(2), Lk = kb.size(1);
  SPK_CHECK(kb.size(0) == B && vb.size(0) == B, op, ": batch sizes differ: query ", q.str(), ", key ", k.str(),
            ", value ", v.str());
  SPK_CHECK(kb.size(2) == E && vb.size(2) == E, op, ": embedding sizes differ: query ", q.str(), ", key ", k.str(),
            ", value ", v.str());
  SPK_CHECK(vb.size(1) == Lk, op, ": key ", k.str(), " and value ", v.str(), " differ in length");
  SPK_CHECK(num_heads > 0 && E % num_heads == 0, op, ": embed dim ", E, " is not divisible by num_heads ", num_heads);
  SPK_CHECK(Lk > 0 || Lq == 0, op, ": no keys for ", Lq, " queries (key ", k.str(), ")");
  const int64_t H = num_heads, Dh = E / H;

  Tensor qc = qb.contiguous().detach(), kc = kb.contiguous().detach(), vc = vb.contiguous().detach();
  Tensor out = Tensor::empty({B, Lq, E}, q.dtype(), q.device());
  Tensor probs = Tensor::empty({B, H, Lq, Lk}, q.dtype(), q.device());
  dispatch(op, q,
      [&]<class T>() {
        attention_forward_cpu<T>(qc.data<T>(), kc.data<T>(), vc.data<T>(), out.data<T>(), probs.data<T>(), B, H, Lq,
                                 Lk, Dh);
      },
      [&](void* stream) {
        attention_forward_cuda(qc.data<float>(), kc.data<float>(), vc.data<float>(), out.data<float>(),
                               probs.data<float>(), B, H, Lq, Lk, Dh, stream);
      });
  if (q.dim() == 2) out = reshape(out, {Lq, E});

  const bool gq = needs_grad({q}), gk = needs_grad({k}), gv = needs_grad({v});
  const Shape qs = q.shape(), ks = k.shape();
  return record(op, out, {q, k, v},
                [qc, kc, vc, probs, gq, gk, gv, qs, ks, B, H, Lq, Lk, Dh, op](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dq = gq ? Tensor::empty(qs, qc.dtype(), qc.device()) : Tensor();
    Tensor dk = gk ? Tensor::empty(ks, kc.dtype(), kc.device()) : Tensor();
    Tensor dv = gv ? Tensor::empty(ks, vc.dtype(), vc.device()) : Tensor();
    dispatch(op, qc,
        [&]<class T>() {
          attention_backward_cpu<T>(qc.data<T>(), kc.data<T>(), vc.data<T>(), probs.data<T>(), gc.data<T>(),
                                    data_or_null<T>(dq), data_or_null<T>(dk), data_or_null<T>(dv), B, H, Lq, Lk, Dh);
        },
        [&](void* stream) {
          Tensor ws = Tensor::empty({attention_cuda_workspace(B, H, Lq, Lk)}, DType::f64, qc.device());
          attention_backward_cuda(qc.data<float>(), kc.data<float>(), vc.data<float>(), probs.data<float>(),
                                  gc.data<float>(), data_or_null<float>(dq), data_or_null<float>(dk),
                                  data_or_null<float>(dv), B, H, Lq, Lk, Dh, ws.data<double>(), stream);
        });
    return {dq, dk, dv};
  });
}

Tensor multi_head_attention(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& in_proj_weight,
                            const Tensor& in_proj_bias, const Tensor& out_proj_weight, const Tensor& out_proj_bias,
                            int64_t num_heads) {
  const char* op = "multi_head_attention";
  SPK_CHECK(query.defined() && key.defined() && value.defined(), op, ": undefined input");
  check_op_device(OpId::multi_head_attention, query.device());
  SPK_CHECK(query.dim() == 2 || query.dim() == 3, op, ": query must be (L, E) or (B, L, E), got ", query.str());
  const int64_t E = query.size(-1);
  SPK_CHECK(in_proj_weight.defined() && in_proj_weight.dim() == 2 && in_proj_weight.size(0) == 3 * E &&
                in_proj_weight.size(1) == E,
            op, ": in_proj_weight ", in_proj_weight.str(), " is not (3E, E) for query ", query.str());
  SPK_CHECK(!in_proj_bias.defined() || (in_proj_bias.dim() == 1 && in_proj_bias.size(0) == 3 * E), op,
            ": in_proj_bias ", in_proj_bias.str(), " is not (3E) for query ", query.str());
  SPK_CHECK(out_proj_weight.defined() && out_proj_weight.dim() == 2 && out_proj_weight.size(0) == E &&
                out_proj_weight.size(1) == E,
            op, ": out_proj.weight ", out_proj_weight.str(), " is not (E, E) for query ", query.str());
  auto part = [&](const Tensor& t, int64_t i) { return t.defined() ? slice(t, 0, i * E, (i + 1) * E) : Tensor(); };
  Tensor q = linear(query, part(in_proj_weight, 0), part(in_proj_bias, 0));
  Tensor k = linear(key, part(in_proj_weight, 1), part(in_proj_bias, 1));
  Tensor v = linear(value, part(in_proj_weight, 2), part(in_proj_bias, 2));
  return linear(scaled_dot_product_attention(q, k, v, num_heads), out_proj_weight, out_proj_bias);
}

}  // namespace spk
