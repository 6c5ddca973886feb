// Matrix products. matmul maps each operand onto a strided batch of row- or column-major matrices without
// copying when its layout allows (so transpose() views cost nothing), and calls one batched GEMM.
#include "engine/autocast.h"
#include "engine/autograd.h"
#include "engine/cuda.h"
#include "engine/cpu_threads.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/copy/copy.h"
#include "kernels/gemm/gemm.h"

namespace spk {

namespace {

// One operand as a batch of matrices: data + batch stride + leading dim + whether it is stored transposed.
struct MatOperand {
  Tensor keep;            // owns the memory the pointer points into
  int64_t batch_stride = 0, ld = 0;
  bool trans = false;
};

// t viewed as (batch..., rows, cols) after broadcasting its batch dims to `batch`.
MatOperand as_matrices(const Tensor& t, const Shape& batch, int64_t rows, int64_t cols) {
  Shape full = batch;
  full.push_back(rows);
  full.push_back(cols);
  Tensor e = expand(t.detach(), full);
  const Shape& st = e.strides();
  size_t nb = batch.size();
  // Batch dims collapse into one stride if they are all broadcast (stride 0) or nest densely.
  bool batch_ok = true;
  int64_t bstride = 0;
  {
    int64_t expect = -1;
    for (size_t i = nb; i-- > 0;) {
      if (batch[i] == 1) continue;
      if (expect < 0) { bstride = st[i]; expect = st[i] * batch[i]; }
      else if (st[i] != expect || (bstride == 0) != (st[i] == 0)) { batch_ok = false; break; }
      else expect = st[i] * batch[i];
    }
  }
  int64_t sr = st[nb], sc = st[nb + 1];
  MatOperand m;
  if (batch_ok && (sc == 1 || cols == 1) && sr >= std::max<int64_t>(cols, 1)) {
    m = {e, bstride, sr, false};
  } else if (batch_ok && (sr == 1 || rows == 1) && sc >= std::max<int64_t>(rows, 1)) {
    m = {e, bstride, sc, true};
  } else {
    Tensor c = e.contiguous();
    m = {c, rows * cols, std::max<int64_t>(cols, 1), false};
    if (shape_numel(batch) == 1) m.batch_stride = 0;
  }
  return m;
}

// The elements an operand's pointer reaches: `batch` matrices `stride` apart, each `rows` stored rows of `cols`
// at leading dimension ld. Every one lies in the operand's storage (the last is the view's last element).
int64_t operand_span(int64_t batch, int64_t stride, int64_t rows, int64_t cols, int64_t ld) {
  if (batch == 0 || rows == 0 || cols == 0) return 0;
  return (batch - 1) * stride + (rows - 1) * ld + cols;
}

// The GEMM under autocast (engine/autocast.h): each operand's span cast to `half` on the way in, fp32 accumulate
// and output. The span is cast as laid out, so g's strides and leading dimensions stay valid for the copy.
void gemm_autocast(const GemmArgs& g, const MatOperand& A, const MatOperand& B, const Tensor& out, DType half) {
  const int64_t span_a = operand_span(g.batch, g.stride_a, g.trans_a ? g.K : g.M, g.trans_a ? g.M : g.K, g.lda);
  const int64_t span_b = operand_span(g.batch, g.stride_b, g.trans_b ? g.N : g.K, g.trans_b ? g.K : g.N, g.ldb);
  const Device dev = out.device();
  if (dev.is_cpu()) {   // emulated: the rounded values in fp32 storage, the fp32 GEMM
    Tensor a = Tensor::empty({span_a}, DType::f32, dev), b = Tensor::empty({span_b}, DType::f32, dev);
    round_to_half(A.keep.data<float>(), a.data<float>(), span_a, half);
    round_to_half(B.keep.data<float>(), b.data<float>(), span_b, half);
    gemm_cpu<float>(g, a.data<float>(), b.data<float>(), out.data<float>(), cpu_threads());
    return;
  }
  [[maybe_unused]] Tensor a = Tensor::empty({span_a}, half, dev), b = Tensor::empty({span_b}, half, dev);
  SPK_CUDA_ONLY(cast_cuda(A.keep.data_ptr(), DType::f32, a.data_ptr(), half, span_a, cuda::current_stream());
                cast_cuda(B.keep.data_ptr(), DType::f32, b.data_ptr(), half, span_b, cuda::current_stream());
                gemm_half_cuda(g, a.data_ptr(), b.data_ptr(), half, out.data<float>(), cuda::cublas_handle()));
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  SPK_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: operands must be at least 2-d, got ", a.str(), " and ", b.str());
  SPK_CHECK(a.device() == b.device() && a.dtype() == b.dtype(), "matmul: ", a.str(), " and ", b.str(), " differ in device or dtype");
  check_op_device(OpId::matmul, a.device());
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  SPK_CHECK(b.size(-2) == K, "matmul: inner dims differ: ", a.str(), " @ ", b.str());
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  // Broadcast the batch shapes (NumPy rules).
  size_t nb = std::max(ba.size(), bb.size());
  Shape batch(nb);
  for (size_t i = 0; i < nb; ++i) {
    int64_t x = i < nb - ba.size() ? 1 : ba[i - (nb - ba.size())];
    int64_t y = i < nb - bb.size() ? 1 : bb[i - (nb - bb.size())];
    SPK_CHECK(x == y || x == 1 || y == 1, "matmul: batch dims of ", a.str(), " and ", b.str(), " do not broadcast");
    batch[i] = x == 1 ? y : x;
  }
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());

  GemmArgs g;
  g.M = M; g.N = N; g.K = K; g.ldc = N;
  const int64_t nbatch = shape_numel(batch);
  MatOperand A, B;
  // A batch of row-major matrices times one shared matrix is a single tall GEMM.
  if (b.dim() == 2 && a.is_contiguous()) {
    A = {a.detach(), 0, K, false};
    B = as_matrices(b, {}, K, N);
    g.M = M * nbatch;
  } else {
    A = as_matrices(a, batch, M, K);
    B = as_matrices(b, batch, K, N);
    g.batch = nbatch; g.stride_a = A.batch_stride; g.stride_b = B.batch_stride; g.stride_c = M * N;
  }
  g.trans_a = A.trans; g.lda = A.ld; g.trans_b = B.trans; g.ldb = B.ld;
  const std::optional<DType> half = autocast_type_for(a);
  if (out.numel() > 0 && K == 0) out.zero_();
  else if (out.numel() > 0 && half) gemm_autocast(g, A, B, out, *half);
  else if (out.numel() > 0) {
    // cuBLAS runs on the handle, which is bound to the current stream.
    dispatch("matmul", a,
        [&]<class T>() { gemm_cpu<T>(g, A.keep.data<T>(), B.keep.data<T>(), out.data<T>(), cpu_threads()); },
        [&](void*) {
          gemm_cuda(g, A.keep.data<float>(), B.keep.data<float>(), out.data<float>(), cuda::cublas_handle());
        });
  }
  bool ga = needs_grad({a}), gb = needs_grad({b});
  Tensor ad = a.detach(), bd = b.detach();
  return record("matmul", out, {a, b}, [ad, bd, ga, gb, half](const Tensor& gout) -> std::vector<Tensor> {
    const AutocastGuard as_forward(half);   // the backward products in the forward's precision
    Tensor da, db;
    if (ga) da = sum_to_shape(matmul(gout, transpose(bd, -1, -2)), ad.shape());
    if (gb) {
      if (bd.dim() == 2) {   // fold the batch: (K, B·M) @ (B·M, N), no (B, K, N) intermediate
        Tensor a2 = reshape(ad, {-1, ad.size(-1)}), g2 = reshape(gout, {-1, gout.size(-1)});
        db = matmul(transpose(a2, 0, 1), g2);
      } else {
        db = sum_to_shape(matmul(transpose(ad, -1, -2), gout), bd.shape());
      }
    }
    return {da, db};
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  SPK_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ", x.str(),
            " does not match weight ", weight.str(), " (out, in)");
  SPK_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)), "linear: bias ", bias.str(),
            " does not match weight ", weight.str());
  Tensor x2 = x.dim() == 1 ? unsqueeze(x, 0) : x;
  Tensor y = matmul(x2, transpose(weight, 0, 1));
  if (bias.defined()) y = add(y, bias);
  return x.dim() == 1 ? squeeze(y, 0) : y;
}

}  // namespace spk
