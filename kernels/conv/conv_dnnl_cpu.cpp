// The "dnnl" CPU conv backend (kernels/conv/conv.h): oneDNN's convolutions (Debian libdnnl 2.x), as cuDNN is
// on the GPU. Our im2col + GEMM kernels (conv_cpu.cpp) stay the reference; the engine's setting picks
// (engine/conv_context.h, spk_train --cpu_conv).
//
// Layouts: our tensors are plain NCHW / OIHW. Each primitive is made with format "any" for activations and
// weights, so oneDNN picks its blocked layouts (nChw16c, OIhw16i16o on AVX-512) and its fast jit kernels; the
// plain buffers are reordered in and out around each call, as PyTorch's mkldnn path does. Primitives, the
// reorders and the blocked buffers are made once per (geometry, pass) and kept in the ConvDnnlState the engine
// owns: the reorder buffers are reused, so a call allocates nothing after its first.
//
// Threads: this Debian build runs on OpenMP, whose workers spin between parallel regions (work_pool.h says
// what that costs on a shared machine). So oneDNN runs single-threaded (omp_set_num_threads(1): the calling
// thread's own OpenMP setting, not process state; a primitive splits its work for the count current when it is
// made) and our work pool splits the images between opt.threads threads, as the spk kernels do.
//
// Rounding: oneDNN sums in its own order (blocked channels, its own tiling), so results differ from the
// reference by float rounding, not bitwise (tests/engine/test_conv_dnnl.cpp states the tolerances).
#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "kernels/common/check.h"
#include "kernels/common/half.h"
#include "kernels/common/work_pool.h"
#include "kernels/conv/conv.h"

#ifndef SPK_HAVE_DNNL
#define SPK_HAVE_DNNL 0
#endif

#if SPK_HAVE_DNNL
#include <omp.h>

#include <dnnl.hpp>
#endif

namespace spk {

bool conv_dnnl_built() { return SPK_HAVE_DNNL != 0; }

const char* conv_cpu_backend_name(ConvCpuBackend b) {
  switch (b) {
    case ConvCpuBackend::spk: return "spk";
    case ConvCpuBackend::dnnl: return "dnnl";
    default: return "auto";
  }
}

ConvCpuBackend parse_conv_cpu_backend(const char* name) {
  SPK_CHECK(name != nullptr, "cpu conv backend: no name given (auto, spk or dnnl)");
  if (std::strcmp(name, "auto") == 0) return ConvCpuBackend::automatic;
  if (std::strcmp(name, "spk") == 0) return ConvCpuBackend::spk;
  if (std::strcmp(name, "dnnl") == 0) {
    SPK_CHECK(conv_dnnl_built(), "cpu conv backend \"dnnl\": this build of spk was built without oneDNN (CMake did "
              "not find dnnl.hpp and libdnnl: apt-get install libdnnl-dev and reconfigure), use \"spk\" or \"auto\"");
    return ConvCpuBackend::dnnl;
  }
  SPK_FAIL("cpu conv backend: unknown name \"", name, "\" (expected auto, spk or dnnl)");
}

#if SPK_HAVE_DNNL

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Dims = memory::dims;

enum class Pass : int { forward, backward_data, backward_weights };

// One cached primitive with its plain <-> blocked reorders and the blocked buffers they fill. `mu` serialises
// calls of one entry: the buffers are shared by every call of its shape.
struct Plan {
  std::mutex mu;
  dnnl::primitive prim;
  // Per argument: the blocked buffer (empty when the plain layout is what the primitive takes) and the reorder.
  struct Arg {
    memory::desc plain, chosen;
    memory blocked;        // valid when chosen != plain
    dnnl::reorder to, from;
  };
  Arg a, b, c;             // forward: src, weights, dst; bwd data: diff_dst, weights, diff_src; bwd w: src, diff_dst, diff_weights
  memory scratch;          // the primitive's scratchpad (user mode)
  // A bf16 call served by f32 kernels (plan_for): the inputs are rounded to bf16 values here first, into these.
  bool round_inputs = false;
  std::vector<float> rounded_a, rounded_b;
};

// A forward call on fewer images than threads splits each image's output columns (the time axis of every
// spk model) between threads instead (run_columns): the plan then reads and writes a column window of the
// caller's plain buffers in place, through strided descriptors, with the conv's padding only at the outer edges.
// in_w/out_w: the whole buffers' widths (0: no window, the plan owns whole images); pad_l/pad_r: its W padding.
struct Window {
  int64_t in_w = 0, out_w = 0, pad_l = 0, pad_r = 0;
  bool on() const { return in_w > 0; }
};

using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int64_t, int64_t, int64_t, bool, int64_t, int64_t, int64_t, int64_t, bool>;

// slot: which block of a call the plan serves (run_blocks, run_columns), so that blocks running at once have
// their own.
Key key_of(Pass p, const ConvGeom& g, bool bias, int slot, const Window& win, bool bf16) {
  return {int(p), g.N, g.C_in, g.H, g.W, g.C_out, g.KH, g.KW, g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dil_h,
          g.dil_w, g.groups, slot, bias, win.in_w, win.out_w, win.pad_l, win.pad_r, bf16};
}

}  // namespace

struct ConvDnnlState {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  std::mutex mu;                                       // guards plans
  std::map<Key, std::unique_ptr<Plan>> plans;
  bool refuse_bf16 = false;                            // tests: take plan_for's f32 fallback for every bf16 plan
};

namespace {

struct Descs {
  memory::desc src, wei, bias, dst;      // format any (bias: plain); f32
  memory::desc src_lo, wei_lo, dst_lo;   // format any in the operand type (bf16 for ConvCpuOptions::bf16, else f32)
  memory::desc src_p, wei_p, dst_p;      // our plain layouts
  Dims strides, dil, pad_l, pad_r;
};

// g.W is the window's input width when win.on(); its output width follows from win's padding.
Descs descs(const ConvGeom& g, bool bias, const Window& win, bool bf16) {
  const auto f32 = memory::data_type::f32, lo = bf16 ? memory::data_type::bf16 : f32;
  Descs d;
  const int64_t pad_l = win.on() ? win.pad_l : g.pad_w;
  const int64_t pad_r = win.on() ? win.pad_r
                                 : (g.W_out() - 1) * g.stride_w + (g.KW - 1) * g.dil_w + 1 - g.W - g.pad_w;
  const int64_t w_out = (g.W + pad_l + pad_r - g.dil_w * (g.KW - 1) - 1) / g.stride_w + 1;
  const Dims src{g.N, g.C_in, g.H, g.W}, dst{g.N, g.C_out, g.H_out(), w_out};
  const Dims wei = g.groups == 1 ? Dims{g.C_out, g.C_in, g.KH, g.KW}
                                 : Dims{g.groups, g.C_out_g(), g.C_in_g(), g.KH, g.KW};
  d.src = memory::desc(src, f32, Tag::any);
  d.wei = memory::desc(wei, f32, Tag::any);
  d.dst = memory::desc(dst, f32, Tag::any);
  d.src_lo = memory::desc(src, lo, Tag::any);
  d.wei_lo = memory::desc(wei, lo, Tag::any);
  d.dst_lo = memory::desc(dst, lo, Tag::any);
  d.bias = bias ? memory::desc({g.C_out}, f32, Tag::a) : memory::desc();
  if (win.on()) {   // a column window of whole (C, H, in_w) / (C_out, H_out, out_w) images
    d.src_p = memory::desc(src, f32, Dims{g.C_in * g.H * win.in_w, g.H * win.in_w, win.in_w, 1});
    d.dst_p = memory::desc(dst, f32, Dims{g.C_out * g.H_out() * win.out_w, g.H_out() * win.out_w, win.out_w, 1});
  } else {
    d.src_p = memory::desc(src, f32, Tag::nchw);
    d.dst_p = memory::desc(dst, f32, Tag::nchw);
  }
  d.wei_p = memory::desc(wei, f32, g.groups == 1 ? Tag::oihw : Tag::goihw);
  d.strides = {g.stride_h, g.stride_w};
  d.dil = {g.dil_h - 1, g.dil_w - 1};   // oneDNN counts the gaps: 0 is an undilated kernel
  d.pad_l = {g.pad_h, pad_l};
  // The right/bottom padding that makes oneDNN's output size ours (floor division drops the rest).
  d.pad_r = {(g.H_out() - 1) * g.stride_h + (g.KH - 1) * g.dil_h + 1 - g.H - g.pad_h, pad_r};
  return d;
}

dnnl::convolution_forward::primitive_desc forward_pd(const Descs& d, const dnnl::engine& eng, bool bias) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  // The products' operands in the operand type (bf16 under autocast), accumulation and output in f32.
  auto desc = bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                     dnnl::algorithm::convolution_direct, d.src_lo, d.wei_lo, d.bias,
                                                     d.dst, d.strides, d.dil, d.pad_l, d.pad_r)
                   : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                     dnnl::algorithm::convolution_direct, d.src_lo, d.wei_lo, d.dst,
                                                     d.strides, d.dil, d.pad_l, d.pad_r);
  return {desc, attr, eng};
}

void set_arg(Plan::Arg& a, const memory::desc& plain, const memory::desc& chosen, const dnnl::engine& eng,
             bool input) {
  a.plain = plain;
  a.chosen = chosen;
  if (chosen == plain) return;
  a.blocked = memory(chosen, eng);
  if (input) a.to = dnnl::reorder(dnnl::reorder::primitive_desc(eng, plain, eng, chosen));
  else a.from = dnnl::reorder(dnnl::reorder::primitive_desc(eng, chosen, eng, plain));
}

std::unique_ptr<Plan> make_plan(Pass pass, const ConvGeom& g, bool bias, const Window& win, bool bf16,
                                const dnnl::engine& eng) {
  const Descs d = descs(g, bias, win, bf16);
  auto plan = std::make_unique<Plan>();
  const auto fwd = forward_pd(d, eng, bias);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  memory::desc scratch;
  std::string impl;   // oneDNN's name of the implementation it chose
  if (pass == Pass::forward) {
    plan->prim = dnnl::convolution_forward(fwd);
    impl = fwd.impl_info_str();
    set_arg(plan->a, d.src_p, fwd.src_desc(), eng, true);
    set_arg(plan->b, d.wei_p, fwd.weights_desc(), eng, true);
    set_arg(plan->c, d.dst_p, fwd.dst_desc(), eng, false);
    scratch = fwd.scratchpad_desc();
  } else if (pass == Pass::backward_data) {
    dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.src, d.wei_lo, d.dst_lo,
                                               d.strides, d.dil, d.pad_l, d.pad_r);
    dnnl::convolution_backward_data::primitive_desc pd(desc, attr, eng, fwd);
    plan->prim = dnnl::convolution_backward_data(pd);
    impl = pd.impl_info_str();
    set_arg(plan->a, d.dst_p, pd.diff_dst_desc(), eng, true);
    set_arg(plan->b, d.wei_p, pd.weights_desc(), eng, true);
    set_arg(plan->c, d.src_p, pd.diff_src_desc(), eng, false);
    scratch = pd.scratchpad_desc();
  } else {
    dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, d.src_lo, d.wei, d.dst_lo,
                                                  d.strides, d.dil, d.pad_l, d.pad_r);
    dnnl::convolution_backward_weights::primitive_desc pd(desc, attr, eng, fwd);
    plan->prim = dnnl::convolution_backward_weights(pd);
    impl = pd.impl_info_str();
    set_arg(plan->a, d.src_p, pd.src_desc(), eng, true);
    set_arg(plan->b, d.dst_p, pd.diff_dst_desc(), eng, true);
    set_arg(plan->c, d.wei_p, pd.diff_weights_desc(), eng, false);
    scratch = pd.scratchpad_desc();
  }
  // oneDNN answers a bf16 request it has no jit kernel for with its reference implementation, orders of magnitude
  // slower than the f32 jit kernels: refuse it, plan_for falls back to those.
  if (bf16 && impl.rfind("ref", 0) == 0) throw dnnl::error(dnnl_unimplemented, "bf16: reference implementation only");
  plan->scratch = memory(scratch, eng);
  return plan;
}

// A bf16 plan this oneDNN cannot make for the shape (or only as its reference implementation) falls back to the
// f32 one, kept under the bf16 key, which rounds its inputs to bf16 values first (run): the same numerics, slower.
Plan& plan_for(ConvDnnlState& s, Pass pass, const ConvGeom& g, bool bias, int slot, const Window& win, bool bf16) {
  std::lock_guard<std::mutex> lock(s.mu);
  auto& p = s.plans[key_of(pass, g, bias, slot, win, bf16)];
  if (!p && bf16) {
    try {
      if (!s.refuse_bf16) p = make_plan(pass, g, bias, win, true, s.eng);
    } catch (const dnnl::error&) {
      p = nullptr;
    }
    if (!p) {
      p = make_plan(pass, g, bias, win, false, s.eng);
      p->round_inputs = true;   // the caller's operands need not be bf16 values yet (engine/ops/conv.cpp)
    }
  }
  if (!p) p = make_plan(pass, g, bias, win, false, s.eng);
  return *p;
}

// The memory a primitive argument reads or writes: the blocked buffer (after reordering `ptr` into it, for an
// input) or the caller's plain buffer itself.
memory bind(Plan::Arg& a, const void* ptr, bool input, const dnnl::engine& eng, dnnl::stream& st) {
  memory plain(a.plain, eng, const_cast<void*>(ptr));
  if (!a.blocked) return plain;
  if (input) a.to.execute(st, plain, a.blocked);
  return a.blocked;
}

void unbind(Plan::Arg& a, void* ptr, const dnnl::engine& eng, dnnl::stream& st) {
  if (!a.blocked) return;
  memory plain(a.plain, eng, ptr);
  a.from.execute(st, a.blocked, plain);
}

void run(Plan& p, const dnnl::engine& eng, Pass pass, const ConvGeom& g, const float* in_a, const float* in_b,
         const float* bias, float* out) {
  std::lock_guard<std::mutex> lock(p.mu);
  dnnl::stream st(eng);
  if (p.round_inputs) {   // the span the (maybe strided) plain layout reaches, rounded to bf16 values
    auto round = [](const Plan::Arg& a, const float* in, std::vector<float>& buf) {
      // Last offset + 1, not get_size(): a column window's layout keeps the whole image's strides, and its
      // outer stride times its count runs past the caller's buffer by the window's start (ASan found it).
      const dnnl_memory_desc_t& md = a.plain.data;
      int64_t last = 0;
      for (int i = 0; i < md.ndims; ++i) last += (md.dims[i] - 1) * md.format_desc.blocking.strides[i];
      buf.resize(size_t(last + 1));
      for (size_t i = 0; i < buf.size(); ++i) buf[i] = bf16_to_f32(f32_to_bf16(in[i]));
      return buf.data();
    };
    in_a = round(p.a, in_a, p.rounded_a);
    in_b = round(p.b, in_b, p.rounded_b);
  }
  memory ma = bind(p.a, in_a, true, eng, st), mb = bind(p.b, in_b, true, eng, st);
  memory mc = p.c.blocked ? p.c.blocked : memory(p.c.plain, eng, out);
  std::unordered_map<int, memory> args{{DNNL_ARG_SCRATCHPAD, p.scratch}};
  if (pass == Pass::forward) {
    args.insert({{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    if (bias) args.insert({DNNL_ARG_BIAS, memory(memory::desc({g.C_out}, memory::data_type::f32, Tag::a), eng,
                                                 const_cast<float*>(bias))});
  } else if (pass == Pass::backward_data) {
    args.insert({{DNNL_ARG_DIFF_DST, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DIFF_SRC, mc}});
  } else {
    args.insert({{DNNL_ARG_SRC, ma}, {DNNL_ARG_DIFF_DST, mb}, {DNNL_ARG_DIFF_WEIGHTS, mc}});
  }
  p.prim.execute(st, args);
  unbind(p.c, out, eng, st);
  st.wait();
}

// One pass over all images: the images are cut into `blocks` runs, each a oneDNN call of its own on one thread
// of our work pool (oneDNN's OpenMP held to 1 thread there: libgomp's spinning workers are what
// kernels/common/work_pool.h avoids). Block b has its own plan (key slot b), so concurrent blocks never share
// reorder buffers. Backward weights: block 0 writes dw, the others partials added in block order afterwards,
// so dw does not depend on which thread ran which block.
void run_blocks(ConvDnnlState& s, Pass pass, const ConvGeom& g, const float* x_or_dy, const float* w_or_dy,
                const float* bias, float* out, int threads, bool bf16) {
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(g.N, threads));
  std::vector<ConvGeom> gb(static_cast<size_t>(blocks), g);
  std::vector<Plan*> plans(static_cast<size_t>(blocks));
  omp_set_num_threads(1);   // the calling thread's own setting; pool workers set theirs below
  for (int64_t b = 0; b < blocks; ++b) {
    gb[size_t(b)].N = (b + 1) * g.N / blocks - b * g.N / blocks;
    plans[size_t(b)] = &plan_for(s, pass, gb[size_t(b)], bias != nullptr, int(b), Window{}, bf16);   // may throw
  }
  const int64_t in_img = g.C_in * g.H * g.W, out_img = g.C_out * g.H_out() * g.W_out(), wn = g.C_out * g.K_g();
  std::vector<float> partial(pass == Pass::backward_weights ? size_t(wn * (blocks - 1)) : 0);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(blocks));
  auto block = [&](int64_t b) {
    try {
      omp_set_num_threads(1);
      const int64_t n0 = b * g.N / blocks;
      const ConvGeom& h = gb[size_t(b)];
      if (pass == Pass::forward)
        run(*plans[size_t(b)], s.eng, pass, h, x_or_dy + n0 * in_img, w_or_dy, bias, out + n0 * out_img);
      else if (pass == Pass::backward_data)
        run(*plans[size_t(b)], s.eng, pass, h, x_or_dy + n0 * out_img, w_or_dy, nullptr, out + n0 * in_img);
      else
        run(*plans[size_t(b)], s.eng, pass, h, x_or_dy + n0 * in_img, w_or_dy + n0 * out_img, nullptr,
            b == 0 ? out : partial.data() + (b - 1) * wn);
    } catch (...) {
      errors[size_t(b)] = std::current_exception();   // the pool's fn must not throw
    }
  };
  if (blocks == 1) block(0);
  else parallel_units(blocks, threads, block);
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (int64_t b = 1; b < blocks && pass == Pass::backward_weights; ++b)
    for (int64_t i = 0; i < wn; ++i) out[i] += partial[size_t((b - 1) * wn + i)];
}

}  // namespace

int64_t conv_dnnl_column_windows(const ConvGeom& g, int threads) {
  constexpr int64_t min_cols = 8;   // narrower windows cost more in reorders and jit setup than they save
  if (g.N >= threads) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(threads / std::max<int64_t>(g.N, 1), g.W_out() / min_cols));
}

namespace {

// A forward call on fewer images than threads (batch-1 extraction): the images' output columns are cut into
// windows, one oneDNN call each on a thread of the pool (Window above), instead of one thread per image while
// the others idle. Each output column is computed by exactly one window from the same inputs, so the result
// equals the unsplit call's up to oneDNN's summation order within a window. Returns false (nothing done) where
// a split does not apply: as many images as threads, or too few columns to share.
bool run_columns(ConvDnnlState& s, const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                 int threads, bool bf16) {
  const int64_t W_out = g.W_out(), per_image = conv_dnnl_column_windows(g, threads);
  if (per_image < 2) return false;
  const int64_t units = g.N * per_image;
  std::vector<ConvGeom> gu(static_cast<size_t>(units), g);
  std::vector<Window> wu(static_cast<size_t>(units));
  std::vector<int64_t> in_off(static_cast<size_t>(units)), out_off(static_cast<size_t>(units));
  const int64_t in_img = g.C_in * g.H * g.W, out_img = g.C_out * g.H_out() * W_out;
  for (int64_t u = 0; u < units; ++u) {
    const int64_t n = u / per_image, c = u % per_image;
    const int64_t o0 = c * W_out / per_image, o1 = (c + 1) * W_out / per_image;
    // The input columns [i0, i1) that output columns [o0, o1) read; what lies outside [0, W) is padding.
    const int64_t i0 = o0 * g.stride_w - g.pad_w, i1 = (o1 - 1) * g.stride_w - g.pad_w + (g.KW - 1) * g.dil_w + 1;
    const int64_t lo = std::max<int64_t>(i0, 0), hi = std::min<int64_t>(i1, g.W);
    if (hi <= lo) return false;   // a window wholly in the padding: keep the plain call
    gu[size_t(u)].N = 1;
    gu[size_t(u)].W = hi - lo;
    wu[size_t(u)] = Window{g.W, W_out, lo - i0, i1 - hi};
    in_off[size_t(u)] = n * in_img + lo;
    out_off[size_t(u)] = n * out_img + o0;
  }
  std::vector<Plan*> plans(static_cast<size_t>(units));
  omp_set_num_threads(1);
  for (int64_t u = 0; u < units; ++u)
    plans[size_t(u)] = &plan_for(s, Pass::forward, gu[size_t(u)], bias != nullptr, int(u), wu[size_t(u)], bf16);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(units));
  parallel_units(units, threads, [&](int64_t u) {
    try {
      omp_set_num_threads(1);
      run(*plans[size_t(u)], s.eng, Pass::forward, gu[size_t(u)], x + in_off[size_t(u)], w, bias,
          y + out_off[size_t(u)]);
    } catch (...) {
      errors[size_t(u)] = std::current_exception();   // the pool's fn must not throw
    }
  });
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return true;
}

}  // namespace

ConvDnnlState* conv_dnnl_state_create() { return new ConvDnnlState(); }

void conv_dnnl_refuse_bf16(ConvDnnlState& s, bool refuse) {
  std::lock_guard<std::mutex> lock(s.mu);
  s.refuse_bf16 = refuse;
  s.plans.clear();   // plans made before hold the other choice
}

bool bf16_dnnl_usable() {
  static const bool usable = [] {
    const int isa = int(dnnl::get_effective_cpu_isa()), bf16 = int(dnnl::cpu_isa::avx512_core_bf16);
    return (isa & bf16) == bf16;   // the ISA values nest as bit sets: AMX includes AVX512-BF16
  }();
  return usable;
}

void conv2d_forward_dnnl(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                         ConvDnnlState& s, int threads, bool bf16) {
  bf16 = bf16 && bf16_dnnl_usable();
  if (run_columns(s, g, x, w, bias, y, threads, bf16)) return;
  run_blocks(s, Pass::forward, g, x, w, bias, y, threads, bf16);
}

void conv2d_backward_dnnl(const ConvGeom& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
                          ConvDnnlState& s, int threads, bool bf16) {
  bf16 = bf16 && bf16_dnnl_usable();
  if (dx) run_blocks(s, Pass::backward_data, g, dy, w, nullptr, dx, threads, bf16);
  if (dw) run_blocks(s, Pass::backward_weights, g, x, dy, nullptr, dw, threads, bf16);
}

#else

struct ConvDnnlState {};
int64_t conv_dnnl_column_windows(const ConvGeom&, int) { return 1; }
bool bf16_dnnl_usable() { return false; }
void conv_dnnl_refuse_bf16(ConvDnnlState&, bool) {}
ConvDnnlState* conv_dnnl_state_create() { SPK_FAIL("cpu conv backend \"dnnl\": this build of spk has no oneDNN"); }
void conv2d_forward_dnnl(const ConvGeom&, const float*, const float*, const float*, float*, ConvDnnlState&, int,
                         bool) {
  SPK_FAIL("cpu conv backend \"dnnl\": this build of spk has no oneDNN");
}
void conv2d_backward_dnnl(const ConvGeom&, const float*, const float*, const float*, float*, float*, ConvDnnlState&,
                          int, bool) {
  SPK_FAIL("cpu conv backend \"dnnl\": this build of spk has no oneDNN");
}

#endif

}  // namespace spk
