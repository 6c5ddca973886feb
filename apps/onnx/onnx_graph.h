// A thin writer of ONNX graphs over Debian's libonnx protobuf classes (onnx/onnx_pb.h, ONNX 1.12, opset 17):
// nodes with fresh value names, initializers copied from a model's tensors, and constants.
//
// Why a writer of our own and not a tracer: spk has no graph IR to trace, and a traced graph bakes the traced
// shapes in. Each exporter (apps/onnx/onnx_*.cpp) instead emits, per module, the nodes of that module's forward()
// from the module's own tensors, with every shape taken at run time from the values (Shape, Reshape 0/-1), so the
// batch and time axes stay dynamic.
//
// Initializers: a parameter or buffer of the model keeps its state() name ("layer1.0.conv1.weight") and its f32
// bits, so a test can compare the graph with the checkpoint name by name, bit for bit. Constants the exporter
// derives (front-end tables, shape vectors) are named "const/<hint>_<n>".
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <onnx/onnx_pb.h>

#include "engine/module.h"
#include "engine/tensor.h"

namespace spk::onnx_export {

inline constexpr int64_t kOpsetVersion = 17;   // ONNX 1.12's newest opset; ONNX Runtime runs it
inline constexpr int64_t kIrVersion = 8;        // ONNX 1.12's IR

// Node attributes: an int, a float, a list of ints, or a string.
struct Attr {
  std::string name;
  std::variant<int64_t, float, std::vector<int64_t>, std::string> value;
};

class Graph {
 public:
  // Every tensor of `model` (its state(), names as PyTorch's state_dict) becomes available to param().
  Graph(onnx::GraphProto* graph, const Module& model);

  // A node with one output; returns the output's name.
  std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::vector<Attr>& attrs = {});
  // A node with several outputs (e.g. Split).
  std::vector<std::string> node_n(const std::string& op, const std::vector<std::string>& inputs, int n_outputs,
                                  const std::vector<Attr>& attrs = {});

  // The model tensor t as an initializer under its state() name (once; later calls return the same name).
  // Throws when t is not one of the model's tensors or is not f32.
  std::string param(const Tensor& t);

  // Constants (initializers named "const/<hint>_<n>").
  std::string const_f32(const std::string& hint, const std::vector<float>& v, const std::vector<int64_t>& dims);
  std::string const_f64(const std::string& hint, const std::vector<double>& v, const std::vector<int64_t>& dims);
  std::string const_i64(const std::string& hint, const std::vector<int64_t>& v, const std::vector<int64_t>& dims);
  std::string scalar_f32(float v) { return const_f32("scalar", {v}, {}); }
  std::string scalar_i64(int64_t v) { return const_i64("scalar", {v}, {}); }
  std::string ints(const std::vector<int64_t>& v) { return const_i64("ints", v, {int64_t(v.size())}); }

  // Graph inputs and outputs: f32 with the given dims, a string dim being symbolic ("batch"), an int fixed.
  using Dim = std::variant<int64_t, std::string>;
  void input(const std::string& name, const std::vector<Dim>& dims);
  void output(const std::string& value, const std::string& name, const std::vector<Dim>& dims);

 private:
  std::string fresh(const std::string& hint);
  onnx::TensorProto* add_initializer(const std::string& name, int dtype, const std::vector<int64_t>& dims);

  onnx::GraphProto* g_;
  std::map<const void*, std::string> names_;       // a model tensor's impl -> its state() name
  std::map<const void*, std::string> emitted_;     // model tensors already written as initializers
  std::map<std::string, int> counters_;
};

}  // namespace spk::onnx_export
