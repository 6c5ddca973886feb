// ONNX nodes for the engine's layers (engine/layers.h) and the nets' shared blocks and poolings (nets/blocks.h):
// each function emits what the matching forward() computes, in eval mode, from the module's own tensors, and
// returns the output value's name. Shapes follow the forward()s; comments give them as (B, C, T).
//
// Batch norm is emitted as a BatchNormalization node (inference form) whose scale, bias, mean and var are the
// module's own weight, bias, running_mean and running_var, not folded into the conv before it: the initializers then
// equal the checkpoint's tensors bit for bit (tests/onnx), and ONNX Runtime folds them itself when it optimises.
#pragma once
#include <string>

#include "apps/onnx/onnx_graph.h"
#include "engine/layers.h"
#include "nets/blocks.h"

namespace spk::onnx_export {

std::string conv1d(Graph& g, const Conv1d& m, const std::string& x);        // (B, C, T)
std::string conv2d(Graph& g, const Conv2d& m, const std::string& x);        // (B, C, H, W)
std::string batch_norm(Graph& g, const BatchNorm& m, const std::string& x); // (B, C, ...)
std::string instance_norm1d(Graph& g, const InstanceNorm1d& m, const std::string& x);   // (B, C, T)
// x (..., in) -> (..., out); rank 2 takes one Gemm, higher ranks MatMul with the transposed weight.
std::string linear(Graph& g, const Linear& m, const std::string& x, int rank);
std::string relu(Graph& g, const std::string& x);

// nets/blocks.h
std::string se_layer(Graph& g, const SELayer& m, const std::string& x);              // (B, C, H, W)
std::string se_basic_block(Graph& g, const SEBasicBlock& m, const std::string& x);
std::string basic_block(Graph& g, const BasicBlock& m, const std::string& x);
std::string conv_bn_slots(Graph& g, const Slots& s, const std::string& x);           // downsample / shortcut
// x (B, T, D) -> (B, D) or (B, 2D).
std::string self_attentive_pool(Graph& g, const Linear& sap_linear, const Tensor& attention, bool with_std,
                                 const std::string& x);
// x, w (B, C, T) -> (B, C) or (B, 2C).
std::string attentive_stats(Graph& g, const std::string& x, const std::string& w, bool with_std, float clamp_min);
// x (B, C, T) -> [mean_t; sqrt(var_t(unbiased) + 1e-7)] (B, 2C).
std::string temporal_stats(Graph& g, const std::string& x);
// Mean and unbiased variance over the last axis of (B, C, T), kept as (B, C, 1).
std::string mean_last(Graph& g, const std::string& x);
std::string unbiased_var_last(Graph& g, const std::string& x, const std::string& mean);

}  // namespace spk::onnx_export
