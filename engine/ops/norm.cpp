// Normalisation ops: batch_norm, batch_norm_relu (batch norm followed by ReLU in one kernel each way),
// relu_batch_norm (ReLU followed by batch norm: the ReLU's output is never written, the kernels read max(x, 0)),
// instance_norm1d and layer_norm (kernels/norm, explicit closed-form backward, CPU or CUDA by the input's
// device; CUDA takes f32 and, for the batch/instance norms, a device workspace for its deterministic
// reductions), and l2_normalize (composed from table ops, so it runs on any device).
//
// batch_norm follows torch.nn.functional.batch_norm: training normalises with the batch statistics (biased
// variance) and, when running stats are given, updates them in place outside autograd:
//   running_mean ← (1 − momentum)·running_mean + momentum·mean
//   running_var  ← (1 − momentum)·running_var  + momentum·var·M/(M − 1)      (unbiased, M = N·S)
// Eval normalises with the running statistics, which are then constants for the gradient.
#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/norm/norm.h"

namespace spk {

namespace {

// weight/bias/running stats: undefined, or a (C) tensor on x's device; affine params also in x's dtype.
void check_channel_param(const char* op, const char* what, const Tensor& p, const Tensor& x, int64_t C,
                         bool same_dtype) {
  if (!p.defined()) return;
  SPK_CHECK(p.dim() == 1 && p.size(0) == C, op, ": ", what, " ", p.str(), " does not match the ", C,
            " channels of input ", x.str());
  SPK_CHECK(p.device() == x.device(), op, ": ", what, " ", p.str(), " is not on the device of input ", x.str());
  SPK_CHECK(!same_dtype || p.dtype() == x.dtype(), op, ": ", what, " ", p.str(), " has another dtype than input ",
            x.str());
}

// An output-gradient buffer shaped like `like` when the input wants one, else undefined.
Tensor grad_buffer(bool wanted, const Tensor& like) {
  return wanted ? Tensor::empty(like.shape(), like.dtype(), like.device()) : Tensor();
}

}  // namespace

namespace {

// What the forward of batch_norm / batch_norm_relu computed and the backward needs (all detached, dense).
struct BnState {
  Tensor xc, mean, invstd, wd, bd;
  int64_t N = 0, C = 0, S = 0;
};

// A device workspace of doubles for the CUDA reductions (unused in CPU-only builds).
[[maybe_unused]] Tensor workspace(int64_t doubles, const Tensor& like) {
  return Tensor::empty({doubles}, DType::f64, like.device());
}

// The CPU running-statistics update (kernels/norm/norm.h) for any f32/f64 mix of batch and running statistics.
void update_running_cpu(const Tensor& mean, const Tensor& var, const Tensor& rm, const Tensor& rv, double momentum,
                        int64_t M) {
  const double unbias = double(M) / double(M - 1);
  auto run = [&]<class T, class R>() {
    batch_norm_update_running_cpu<T, R>(mean.data<T>(), var.data<T>(), rm.data<R>(), rv.data<R>(), rm.numel(),
                                        momentum, unbias);
  };
  const bool xf = mean.dtype() == DType::f32, rf = rm.dtype() == DType::f32;
  if (xf && rf) run.template operator()<float, float>();
  else if (xf) run.template operator()<float, double>();
  else if (rf) run.template operator()<double, float>();
  else run.template operator()<double, double>();
}

// The checks of the three batch-norm ops; the state with x, the affine parameters and the sizes (no statistics yet).
BnState bn_check(OpId id, const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                 const Tensor& running_var, bool training) {
  const char* op = op_info(id).name;
  SPK_CHECK(x.defined(), op, ": undefined input");
  check_op_device(id, x.device());
  SPK_CHECK(x.dim() >= 2, op, ": input must be (N, C) or (N, C, *), got ", x.str());
  check_cuda_f32(op, x);
  BnState st;
  const int64_t N = x.size(0), C = x.size(1), S = C > 0 && N > 0 ? x.numel() / (N * C) : 0;
  st.N = N; st.C = C; st.S = S;
  check_channel_param(op, "weight", weight, x, C, true);
  check_channel_param(op, "bias", bias, x, C, true);
  check_channel_param(op, "running_mean", running_mean, x, C, false);
  check_channel_param(op, "running_var", running_var, x, C, false);
  SPK_CHECK(running_mean.defined() == running_var.defined(), op, ": give both running_mean and running_var or neither");
  SPK_CHECK(training || running_mean.defined(), op, ": eval mode needs running_mean and running_var");
  const int64_t M = N * S;
  SPK_CHECK(!training || M > 1, op, ": expected more than 1 value per channel when training, got input ", x.str());

  st.xc = x.contiguous().detach();
  st.wd = weight.defined() ? weight.contiguous().detach() : Tensor();
  st.bd = bias.defined() ? bias.contiguous().detach() : Tensor();
  return st;
}

// The running statistics are updated where the batch statistics are made (one loop on the CPU, inside the
// finalising kernel on a GPU) when they are dense and, on a GPU, f32; else by engine ops, as before.
bool running_in_kernel(const Tensor& x, const Tensor& running_mean, const Tensor& running_var) {
  return running_mean.defined() && running_mean.is_contiguous() && running_var.is_contiguous() &&
         running_mean.dtype() == running_var.dtype() &&
         (running_mean.dtype() == DType::f32 || (running_mean.dtype() == DType::f64 && x.device().is_cpu()));
}

// The running-statistics update after the batch statistics (mean, biased var) are made: the CPU loop, nothing
// (the CUDA kernel did it) or the engine ops for strided or mixed-dtype statistics.
void update_running(const Tensor& x, const Tensor& mean, const Tensor& var, const Tensor& running_mean,
                    const Tensor& running_var, double momentum, int64_t M) {
  const bool in_kernel = running_in_kernel(x, running_mean, running_var);
  if (in_kernel && x.device().is_cpu()) {
    update_running_cpu(mean, var, running_mean, running_var, momentum, M);
  } else if (running_mean.defined() && !in_kernel) {   // strided or mixed-dtype statistics: the engine ops
    NoGradGuard ng;
    Tensor rm = running_mean.detach(), rv = running_var.detach();
    rm.copy_(add(mul_scalar(rm, 1 - momentum), mul_scalar(mean.to(rm.dtype()), momentum)));
    Tensor unbiased = mul_scalar(var.to(rv.dtype()), double(M) / double(M - 1));
    rv.copy_(add(mul_scalar(rv, 1 - momentum), mul_scalar(unbiased, momentum)));
  }
}

// Eval: the running statistics as the normalisation's mean and invstd.
void eval_stats(BnState& st, const Tensor& x, const Tensor& running_mean, const Tensor& running_var, double eps) {
  NoGradGuard ng;
  // A copy: the backward must not see later in-place updates of the running statistics.
  st.mean = running_mean.detach().to(x.dtype()).clone();
  // 1/sqrt(var + eps) from correctly rounded IEEE operations (add, sqrt, divide), not pow(·, -0.5): the
  // result is then the same bits on the CPU and the GPU, as the batch statistics are.
  Tensor sd = sqrt(add_scalar(running_var.detach().to(x.dtype()), eps));
  st.invstd = div(Tensor::scalar(1.0, x.dtype(), x.device()), sd).contiguous();
}

// Checks, statistics (batch or running) and the running-statistics update shared by batch_norm and
// batch_norm_relu.
BnState bn_prepare(OpId id, const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                   const Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = op_info(id).name;
  BnState st = bn_check(id, x, weight, bias, running_mean, running_var, training);
  const int64_t N = st.N, C = st.C, S = st.S, M = N * S;
  const Tensor& xc = st.xc;
  if (training) {
    const bool in_kernel = running_in_kernel(x, running_mean, running_var);
    st.mean = Tensor::empty({C}, x.dtype(), x.device());
    Tensor var = Tensor::empty({C}, x.dtype(), x.device());
    st.invstd = Tensor::empty({C}, x.dtype(), x.device());
    dispatch(op, x,
        [&]<class T>() {
          batch_norm_stats_cpu<T>(xc.data<T>(), st.mean.data<T>(), var.data<T>(), st.invstd.data<T>(), N, C, S, eps,
                                  cpu_threads());
        },
        [&](void* stream) {
          Tensor ws = workspace(batch_norm_cuda_workspace(N, C, S), x);
          BnRunningUpdate run;
          if (in_kernel) run = {running_mean.data<float>(), running_var.data<float>(), momentum};
          batch_norm_stats_cuda(xc.data<float>(), st.mean.data<float>(), var.data<float>(), st.invstd.data<float>(),
                                N, C, S, eps, ws.data<double>(), stream, run);
        });
    update_running(x, st.mean, var, running_mean, running_var, momentum, M);
  } else {
    eval_stats(st, x, running_mean, running_var, eps);
  }
  return st;
}

// batch_norm (relu = false) and batch_norm_relu (relu = true): the same statistics, one fused kernel each way.
Tensor bn_run(OpId id, bool relu, const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Tensor& running_mean, const Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = op_info(id).name;
  const BnState st = bn_prepare(id, x, weight, bias, running_mean, running_var, training, momentum, eps);
  const int64_t N = st.N, C = st.C, S = st.S;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch(op, x,
      [&]<class T>() {
        auto f = relu ? batch_norm_relu_forward_cpu<T> : batch_norm_forward_cpu<T>;
        f(st.xc.data<T>(), st.mean.data<T>(), st.invstd.data<T>(), data_or_null<T>(st.wd), data_or_null<T>(st.bd),
          y.data<T>(), N, C, S, cpu_threads());
      },
      [&](void* stream) {
        auto f = relu ? batch_norm_relu_forward_cuda : batch_norm_forward_cuda;
        f(st.xc.data<float>(), st.mean.data<float>(), st.invstd.data<float>(), data_or_null<float>(st.wd),
          data_or_null<float>(st.bd), y.data<float>(), N, C, S, stream);
      });

  const bool gx = needs_grad({x}), gw = needs_grad({weight}), gb = needs_grad({bias});
  // The ReLU's backward needs its output: keep a detached handle (not the graph node, which would own itself).
  const Tensor yd = relu ? y.detach() : Tensor();
  return record(op, y, {x, weight, bias}, [st, yd, gx, gw, gb, training, op](const Tensor& g) -> std::vector<Tensor> {
    const int64_t N = st.N, C = st.C, S = st.S;
    Tensor gc = g.contiguous();
    Tensor dx = grad_buffer(gx, st.xc), dw = grad_buffer(gw, st.mean), db = grad_buffer(gb, st.mean);
    dispatch(op, st.xc,
        [&]<class T>() {
          const T *xp = st.xc.data<T>(), *mp = st.mean.data<T>(), *ip = st.invstd.data<T>(), *gp = gc.data<T>();
          if (yd.defined())
            batch_norm_relu_backward_cpu<T>(xp, yd.data<T>(), mp, ip, data_or_null<T>(st.wd), gp, data_or_null<T>(dx),
                                            data_or_null<T>(dw), data_or_null<T>(db), N, C, S, training,
                                            cpu_threads());
          else
            batch_norm_backward_cpu<T>(xp, mp, ip, data_or_null<T>(st.wd), gp, data_or_null<T>(dx), data_or_null<T>(dw),
                                       data_or_null<T>(db), N, C, S, training, cpu_threads());
        },
        [&](void* stream) {
          Tensor ws = workspace(batch_norm_cuda_workspace(N, C, S), gc);
          if (yd.defined())
            batch_norm_relu_backward_cuda(st.xc.data<float>(), yd.data<float>(), st.mean.data<float>(),
                                          st.invstd.data<float>(), data_or_null<float>(st.wd), gc.data<float>(),
                                          data_or_null<float>(dx), data_or_null<float>(dw), data_or_null<float>(db), N,
                                          C, S, training, ws.data<double>(), stream);
          else
            batch_norm_backward_cuda(st.xc.data<float>(), st.mean.data<float>(), st.invstd.data<float>(),
                                     data_or_null<float>(st.wd), gc.data<float>(), data_or_null<float>(dx),
                                     data_or_null<float>(dw), data_or_null<float>(db), N, C, S, training,
                                     ws.data<double>(), stream);
        });
    return {dx, dw, db};
  });
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean, Tensor running_var,
                  bool training, double momentum, double eps) {
  return bn_run(OpId::batch_norm, false, x, weight, bias, running_mean, running_var, training, momentum, eps);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, bool training, double momentum, double eps) {
  return bn_run(OpId::batch_norm_relu, true, x, weight, bias, running_mean, running_var, training, momentum, eps);
}

// batch_norm(relu(x)): the statistics (training) and y in one kernel over x, which reads max(x, 0) where
// batch_norm reads its input; the backward saves x alone (no ReLU output, no mask) and writes dx masked by x > 0.
Tensor relu_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, bool training, double momentum, double eps) {
  const char* op = op_info(OpId::relu_batch_norm).name;
  BnState st = bn_check(OpId::relu_batch_norm, x, weight, bias, running_mean, running_var, training);
  const int64_t N = st.N, C = st.C, S = st.S;
  Tensor var;
  if (training) {
    st.mean = Tensor::empty({C}, x.dtype(), x.device());
    var = Tensor::empty({C}, x.dtype(), x.device());
    st.invstd = Tensor::empty({C}, x.dtype(), x.device());
  } else {
    eval_stats(st, x, running_mean, running_var, eps);
  }
  const bool in_kernel = training && running_in_kernel(x, running_mean, running_var);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch(op, x,
      [&]<class T>() {
        relu_batch_norm_forward_cpu<T>(st.xc.data<T>(), st.mean.data<T>(), data_or_null<T>(var), st.invstd.data<T>(),
                                       data_or_null<T>(st.wd), data_or_null<T>(st.bd), y.data<T>(), N, C, S, eps,
                                       training, cpu_threads());
      },
      [&](void* stream) {
        Tensor ws = workspace(batch_norm_cuda_workspace(N, C, S), x);
        BnRunningUpdate run;
        if (in_kernel) run = {running_mean.data<float>(), running_var.data<float>(), momentum};
        relu_batch_norm_forward_cuda(st.xc.data<float>(), st.mean.data<float>(), data_or_null<float>(var),
                                     st.invstd.data<float>(), data_or_null<float>(st.wd), data_or_null<float>(st.bd),
                                     y.data<float>(), N, C, S, eps, training, ws.data<double>(), stream, run);
      });
  if (training) update_running(x, st.mean, var, running_mean, running_var, momentum, N * S);

  const bool gx = needs_grad({x}), gw = needs_grad({weight}), gb = needs_grad({bias});
  return record(op, y, {x, weight, bias}, [st, gx, gw, gb, training, op](const Tensor& g) -> std::vector<Tensor> {
    const int64_t N = st.N, C = st.C, S = st.S;
    Tensor gc = g.contiguous();
    Tensor dx = grad_buffer(gx, st.xc), dw = grad_buffer(gw, st.mean), db = grad_buffer(gb, st.mean);
    dispatch(op, st.xc,
        [&]<class T>() {
          relu_batch_norm_backward_cpu<T>(st.xc.data<T>(), st.mean.data<T>(), st.invstd.data<T>(),
                                          data_or_null<T>(st.wd), gc.data<T>(), data_or_null<T>(dx),
                                          data_or_null<T>(dw), data_or_null<T>(db), N, C, S, training, cpu_threads());
        },
        [&](void* stream) {
          Tensor ws = workspace(batch_norm_cuda_workspace(N, C, S), gc);
          relu_batch_norm_backward_cuda(st.xc.data<float>(), st.mean.data<float>(), st.invstd.data<float>(),
                                        data_or_null<float>(st.wd), gc.data<float>(), data_or_null<float>(dx),
                                        data_or_null<float>(dw), data_or_null<float>(db), N, C, S, training,
                                        ws.data<double>(), stream);
        });
    return {dx, dw, db};
  });
}

Tensor instance_norm1d(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  SPK_CHECK(x.defined(), "instance_norm1d: undefined input");
  check_op_device(OpId::instance_norm1d, x.device());
  SPK_CHECK(x.dim() == 3, "instance_norm1d: input must be (N, C, T), got ", x.str());
  check_cuda_f32("instance_norm1d", x);
  const int64_t N = x.size(0), C = x.size(1), Tn = x.size(2);
  // As PyTorch: one value per row would normalise to 0 whatever it is.
  SPK_CHECK(Tn > 1, "instance_norm1d: expected more than 1 spatial element, got input ", x.str());
  check_channel_param("instance_norm1d", "weight", weight, x, C, true);
  check_channel_param("instance_norm1d", "bias", bias, x, C, true);

  Tensor xc = x.contiguous().detach();
  Tensor wd = weight.defined() ? weight.contiguous().detach() : Tensor();
  Tensor bd = bias.defined() ? bias.contiguous().detach() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty({N * C}, x.dtype(), x.device()), invstd = Tensor::empty({N * C}, x.dtype(), x.device());
  dispatch("instance_norm1d", x,
      [&]<class T>() {
        instance_norm_forward_cpu<T>(xc.data<T>(), data_or_null<T>(wd), data_or_null<T>(bd), y.data<T>(), mean.data<T>(),
                                     invstd.data<T>(), N, C, Tn, eps);
      },
      [&](void* stream) {
        instance_norm_forward_cuda(xc.data<float>(), data_or_null<float>(wd), data_or_null<float>(bd), y.data<float>(),
                                   mean.data<float>(), invstd.data<float>(), N, C, Tn, eps, stream);
      });

  const bool gx = needs_grad({x}), gw = needs_grad({weight}), gb = needs_grad({bias});
  return record("instance_norm1d", y, {x, weight, bias},
                [xc, mean, invstd, wd, gx, gw, gb, N, C, Tn](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dx = grad_buffer(gx, xc);
    Tensor dw = gw ? Tensor::empty({C}, xc.dtype(), xc.device()) : Tensor();
    Tensor db = gb ? Tensor::empty({C}, xc.dtype(), xc.device()) : Tensor();
    dispatch("instance_norm1d backward", xc,
        [&]<class T>() {
          instance_norm_backward_cpu<T>(xc.data<T>(), mean.data<T>(), invstd.data<T>(), data_or_null<T>(wd), gc.data<T>(),
                                        data_or_null<T>(dx), data_or_null<T>(dw), data_or_null<T>(db), N, C, Tn);
        },
        [&](void* stream) {
          Tensor ws = workspace(instance_norm_cuda_workspace(N, C), gc);
          instance_norm_backward_cuda(xc.data<float>(), mean.data<float>(), invstd.data<float>(),
                                      data_or_null<float>(wd), gc.data<float>(), data_or_null<float>(dx),
                                      data_or_null<float>(dw), data_or_null<float>(db), N, C, Tn, ws.data<double>(),
                                      stream);
        });
    return {dx, dw, db};
  });
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  SPK_CHECK(x.defined(), "layer_norm: undefined input");
  check_op_device(OpId::layer_norm, x.device());
  SPK_CHECK(x.dim() >= 1, "layer_norm: input must have at least 1 dim, got ", x.str());
  check_cuda_f32("layer_norm", x);
  const int64_t D = x.size(-1), R = D > 0 ? x.numel() / D : 0;
  SPK_CHECK(D > 0, "layer_norm: the normalised (last) dim is empty in input ", x.str());
  SPK_CHECK(eps >= 0, "layer_norm: eps must be >= 0, got ", eps);
  check_channel_param("layer_norm", "weight", weight, x, D, true);
  check_channel_param("layer_norm", "bias", bias, x, D, true);

  Tensor xc = x.contiguous().detach();
  Tensor wd = weight.defined() ? weight.contiguous().detach() : Tensor();
  Tensor bd = bias.defined() ? bias.contiguous().detach() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty({R}, x.dtype(), x.device()), invstd = Tensor::empty({R}, x.dtype(), x.device());
  dispatch("layer_norm", x,
      [&]<class T>() {
        layer_norm_forward_cpu<T>(xc.data<T>(), data_or_null<T>(wd), data_or_null<T>(bd), y.data<T>(), mean.data<T>(),
                                  invstd.data<T>(), R, D, eps);
      },
      [&](void* stream) {
        layer_norm_forward_cuda(xc.data<float>(), data_or_null<float>(wd), data_or_null<float>(bd), y.data<float>(),
                                mean.data<float>(), invstd.data<float>(), R, D, eps, stream);
      });

  const bool gx = needs_grad({x}), gw = needs_grad({weight}), gb = needs_grad({bias});
  return record("layer_norm", y, {x, weight, bias},
                [xc, mean, invstd, wd, gx, gw, gb, R, D](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dx = grad_buffer(gx, xc);
    Tensor dw = gw ? Tensor::empty({D}, xc.dtype(), xc.device()) : Tensor();
    Tensor db = gb ? Tensor::empty({D}, xc.dtype(), xc.device()) : Tensor();
    dispatch("layer_norm backward", xc,
        [&]<class T>() {
          layer_norm_backward_cpu<T>(xc.data<T>(), mean.data<T>(), invstd.data<T>(), data_or_null<T>(wd), gc.data<T>(),
                                     data_or_null<T>(dx), data_or_null<T>(dw), data_or_null<T>(db), R, D);
        },
        [&](void* stream) {
          layer_norm_backward_cuda(xc.data<float>(), mean.data<float>(), invstd.data<float>(), data_or_null<float>(wd),
                                   gc.data<float>(), data_or_null<float>(dx), data_or_null<float>(dw),
                                   data_or_null<float>(db), R, D, stream);
        });
    return {dx, dw, db};
  });
}

// x / max(||x||, eps) computed as x / sqrt(max(Σx², eps²)): the same value (both sides are monotone), but
// the gradient of an all-zero row is finite (clamp stops it before sqrt's infinite slope at 0), where
// sqrt-then-clamp would give 0·∞ = NaN. Below eps the result is x/eps with gradient 1/eps, as PyTorch.
Tensor l2_normalize(const Tensor& x, int64_t dim, double eps) {
  SPK_CHECK(x.defined(), "l2_normalize: undefined input");
  check_op_device(OpId::l2_normalize, x.device());
  const int64_t d = wrap_dim(dim, x.dim(), "l2_normalize");
  SPK_CHECK(eps >= 0, "l2_normalize: eps must be >= 0, got ", eps);
  Tensor sq = sum(mul(x, x), {d}, /*keepdim=*/true);
  Tensor denom = sqrt(clamp(sq, eps * eps, std::numeric_limits<double>::infinity()));
  return div(x, denom);
}

}  // namespace spk
