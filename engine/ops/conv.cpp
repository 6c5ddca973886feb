// Convolution ops (conv1d, conv2d): argument checks that name the op and the shapes, the kernel call for the
// tensors' device (kernels/conv: CPU in f32/f64, CUDA in f32 with the backend conv_cuda_options() picks), and
// a backward closure that calls the fused backward kernel for exactly the gradients the inputs need. conv1d
// is conv2d over (N, C_in, 1, L) with a (1, K) kernel. Every kernel call gets its options (CPU) or context
// (CUDA) from engine/conv_context.h, made at the call: settings changed between forward and backward apply.
#include "engine/autocast.h"
#include "engine/autograd.h"
#include "engine/conv_context.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/conv/conv.h"

namespace spk {

namespace {

// Tensor checks shared by conv1d and conv2d (spatial = 1 or 2).
void check_conv_tensors(OpId id, const Tensor& x, const Tensor& w, const Tensor& b, int spatial, int64_t groups) {
  const char* op = op_info(id).name;
  const char* dims = spatial == 2 ? "(N, C_in, H, W)" : "(N, C_in, L)";
  const char* wdims = spatial == 2 ? "(C_out, C_in/groups, KH, KW)" : "(C_out, C_in/groups, K)";
  SPK_CHECK(x.defined() && w.defined(), op, ": undefined input or weight");
  SPK_CHECK(x.dim() == spatial + 2, op, ": input ", x.str(), " must be ", dims);
  SPK_CHECK(w.dim() == spatial + 2, op, ": weight ", w.str(), " must be ", wdims);
  SPK_CHECK(x.device() == w.device() && x.dtype() == w.dtype(), op, ": input ", x.str(), " and weight ", w.str(),
            " differ in device or dtype");
  check_op_device(id, x.device());
  SPK_CHECK(groups >= 1, op, ": groups must be >= 1, got ", groups);
  const int64_t C_in = x.size(1), C_out = w.size(0);
  SPK_CHECK(C_out > 0 && w.size(1) > 0, op, ": weight ", w.str(), " has no channels");
  SPK_CHECK(C_out % groups == 0, op, ": weight ", w.str(), " has ", C_out, " output channels, not divisible by groups ",
            groups);
  SPK_CHECK(w.size(1) * groups == C_in, op, ": input ", x.str(), " has ", C_in, " channels but weight ", w.str(),
            " expects ", w.size(1) * groups, " (", w.size(1), " per group x ", groups, " groups)");
  if (b.defined()) {
    SPK_CHECK(b.dim() == 1 && b.size(0) == C_out, op, ": bias ", b.str(), " must be (", C_out, ") for weight ",
              w.str());
    SPK_CHECK(b.device() == x.device() && b.dtype() == x.dtype(), op, ": bias ", b.str(), " differs from input ",
              x.str(), " in device or dtype");
  }
}

// Geometry checks along one spatial axis; `axis` is "" for conv1d, " along H"/" along W" for conv2d.
void check_conv_axis(const char* op, const Tensor& x, const Tensor& w, int64_t in, int64_t k, int64_t stride,
                     int64_t pad, int64_t dil, const char* axis) {
  SPK_CHECK(stride >= 1, op, ": stride", axis, " must be >= 1, got ", stride);
  SPK_CHECK(pad >= 0, op, ": padding", axis, " must be >= 0, got ", pad);
  SPK_CHECK(dil >= 1, op, ": dilation", axis, " must be >= 1, got ", dil);
  SPK_CHECK(k >= 1, op, ": weight ", w.str(), " has an empty kernel", axis);
  SPK_CHECK(in + 2 * pad >= dil * (k - 1) + 1, op, ": kernel size ", k, axis, " (dilation ", dil,
            ") is larger than the padded input: ", x.str(), " has ", in, " + 2*", pad, " = ", in + 2 * pad);
}

// A conv operand as the kernels read it: dense, and under autocast (engine/autocast.h) rounded to the autocast
// type in fp32 storage, on both devices. On the CPU, oneDNN's bf16 kernels then take the rounded values exactly
// (no CUDA 16-bit conv kernel yet: there, the numerics of one, not its speed).
Tensor conv_operand(const Tensor& t, std::optional<DType> half) {
  return half ? rounded_to_half(t, *half) : t.contiguous();
}

// The CPU conv options of a call: under autocast bf16 the operands hold bf16 values, which oneDNN's bf16 kernels
// take exactly (kernels/conv/conv.h ConvCpuOptions::bf16).
ConvCpuOptions conv_options(std::optional<DType> half) {
  ConvCpuOptions o = conv_cpu_call_options();
  o.bf16 = half == DType::bf16;
  return o;
}

// The conv of a checked (x, w, b) with geometry g; out_shape is y's shape as the caller's op sees it.
Tensor conv_run(OpId id, const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeom& g, const Shape& out_shape) {
  const char* op = op_info(id).name;
  const std::optional<DType> half = autocast_type_for(x);   // the bias is added in fp32
  // oneDNN's bf16 kernels round the operands themselves, in their reorders to bf16 (kernels/conv/conv.h
  // ConvCpuOptions::bf16): no rounded copy first. Every other autocast conv rounds here.
  const bool native_bf16 = half == DType::bf16 && x.device().is_cpu() && bf16_dnnl_usable() &&
                           conv_cpu_resolved_backend(conv_cpu_call_options()) == ConvCpuBackend::dnnl;
  const std::optional<DType> round = native_bf16 ? std::nullopt : half;
  Tensor xc = conv_operand(x, round), wc = conv_operand(w, round), bc = b.defined() ? b.contiguous() : Tensor();
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  [[maybe_unused]] const bool is1d = id == OpId::conv1d;
  if (x.device().is_cpu()) {
    SPK_DISPATCH_FLOAT(x.dtype(), op,
        conv2d_forward_cpu<scalar_t>(g, (const scalar_t*)xc.data_ptr(), (const scalar_t*)wc.data_ptr(),
                                     bc.defined() ? (const scalar_t*)bc.data_ptr() : nullptr, (scalar_t*)y.data_ptr(),
                                     conv_options(half)));
  } else {
    SPK_CHECK(x.dtype() == DType::f32, op, ": CUDA kernels take f32, got ", x.str());
    [[maybe_unused]] const float* bp = bc.defined() ? bc.data<float>() : nullptr;
    SPK_CUDA_ONLY(const ConvCudaCall call;
                  is1d ? conv1d_forward_cuda(g, xc.data<float>(), wc.data<float>(), bp, y.data<float>(),
                                             call.context(), cuda::current_stream())
                       : conv2d_forward_cuda(g, xc.data<float>(), wc.data<float>(), bp, y.data<float>(),
                                             call.context(), cuda::current_stream()));
  }

  const bool gx = needs_grad({x}), gw = needs_grad({w}), gb = b.defined() && needs_grad({b});
  std::vector<Tensor> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  // Save only what the wanted gradients read: dx needs w, dw needs x.
  Tensor xs = gw ? xc.detach() : Tensor(), ws = gx ? wc.detach() : Tensor();
  const Shape xshape = x.shape(), wshape = w.shape();
  const bool has_bias = b.defined();
  const DType dt = x.dtype();
  const Device dev = x.device();
  return record(op, y, std::move(inputs), [=](const Tensor& gout) -> std::vector<Tensor> {
    Tensor dy = conv_operand(gout, round);   // the saved xs and ws were rounded in the forward (or are by oneDNN)
    Tensor dx = gx ? Tensor::empty(xshape, dt, dev) : Tensor();
    Tensor dw = gw ? Tensor::empty(wshape, dt, dev) : Tensor();
    Tensor db = gb ? Tensor::empty({g.C_out}, dt, dev) : Tensor();
    auto ptr = [](const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; };
    if (dev.is_cpu()) {
      SPK_DISPATCH_FLOAT(dt, op,
          conv2d_backward_cpu<scalar_t>(g, (const scalar_t*)ptr(xs), (const scalar_t*)ptr(ws),
                                        (const scalar_t*)dy.data_ptr(), (scalar_t*)ptr(dx), (scalar_t*)ptr(dw),
                                        (scalar_t*)ptr(db), conv_options(half)));
    } else {
      [[maybe_unused]] auto f = [&](const Tensor& t) { return (float*)ptr(t); };
      SPK_CUDA_ONLY(const ConvCudaCall call;
                    is1d ? conv1d_backward_cuda(g, f(xs), f(ws), dy.data<float>(), f(dx), f(dw), f(db),
                                                call.context(), cuda::current_stream())
                         : conv2d_backward_cuda(g, f(xs), f(ws), dy.data<float>(), f(dx), f(dw), f(db),
                                                call.context(), cuda::current_stream()));
    }
    std::vector<Tensor> grads{dx, dw};
    if (has_bias) grads.push_back(db);
    return grads;
  });
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::pair<int64_t, int64_t> stride,
              std::pair<int64_t, int64_t> padding, std::pair<int64_t, int64_t> dilation, int64_t groups) {
  check_conv_tensors(OpId::conv2d, x, weight, bias, 2, groups);
  ConvGeom g;
  g.N = x.size(0); g.C_in = x.size(1); g.H = x.size(2); g.W = x.size(3);
  g.C_out = weight.size(0); g.KH = weight.size(2); g.KW = weight.size(3);
  g.stride_h = stride.first; g.stride_w = stride.second;
  g.pad_h = padding.first; g.pad_w = padding.second;
  g.dil_h = dilation.first; g.dil_w = dilation.second;
  g.groups = groups;
  check_conv_axis("conv2d", x, weight, g.H, g.KH, g.stride_h, g.pad_h, g.dil_h, " along H");
  check_conv_axis("conv2d", x, weight, g.W, g.KW, g.stride_w, g.pad_w, g.dil_w, " along W");
  return conv_run(OpId::conv2d, x, weight, bias, g, {g.N, g.C_out, g.H_out(), g.W_out()});
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  check_conv_tensors(OpId::conv1d, x, weight, bias, 1, groups);
  ConvGeom g = conv1d_geom(x.size(0), x.size(1), x.size(2), weight.size(0), weight.size(2), stride, padding, dilation,
                           groups);
  check_conv_axis("conv1d", x, weight, g.W, g.KW, stride, padding, dilation, "");
  return conv_run(OpId::conv1d, x, weight, bias, g, {g.N, g.C_out, g.W_out()});
}

}  // namespace spk
