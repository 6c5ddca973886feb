// The ONNX graph writer (see onnx_graph.h).
#include "apps/onnx/onnx_graph.h"

#include <cstring>

#include "engine/check.h"

namespace spk::onnx_export {

Graph::Graph(onnx::GraphProto* graph, const Module& model) : g_(graph) {
  for (const auto& [name, t] : model.state()) names_[t.impl_ptr().get()] = name;
}

std::string Graph::fresh(const std::string& hint) { return hint + "_" + std::to_string(counters_[hint]++); }

std::vector<std::string> Graph::node_n(const std::string& op, const std::vector<std::string>& inputs, int n_outputs,
                                       const std::vector<Attr>& attrs) {
  onnx::NodeProto* n = g_->add_node();
  n->set_op_type(op);
  n->set_name(fresh("node/" + op));
  for (const auto& i : inputs) n->add_input(i);
  std::vector<std::string> outs;
  for (int k = 0; k < n_outputs; ++k) {
    outs.push_back(fresh(op));
    n->add_output(outs.back());
  }
  for (const Attr& a : attrs) {
    onnx::AttributeProto* p = n->add_attribute();
    p->set_name(a.name);
    if (const auto* i = std::get_if<int64_t>(&a.value)) {
      p->set_type(onnx::AttributeProto::INT);
      p->set_i(*i);
    } else if (const auto* f = std::get_if<float>(&a.value)) {
      p->set_type(onnx::AttributeProto::FLOAT);
      p->set_f(*f);
    } else if (const auto* v = std::get_if<std::vector<int64_t>>(&a.value)) {
      p->set_type(onnx::AttributeProto::INTS);
      for (int64_t x : *v) p->add_ints(x);
    } else {
      p->set_type(onnx::AttributeProto::STRING);
      p->set_s(std::get<std::string>(a.value));
    }
  }
  return outs;
}

std::string Graph::node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<Attr>& attrs) {
  return node_n(op, inputs, 1, attrs).front();
}

onnx::TensorProto* Graph::add_initializer(const std::string& name, int dtype, const std::vector<int64_t>& dims) {
  onnx::TensorProto* t = g_->add_initializer();
  t->set_name(name);
  t->set_data_type(dtype);
  for (int64_t d : dims) t->add_dims(d);
  return t;
}

std::string Graph::param(const Tensor& t) {
  SPK_CHECK(t.defined(), "onnx export: an undefined tensor was asked for as a parameter");
  const void* key = t.impl_ptr().get();
  auto done = emitted_.find(key);
  if (done != emitted_.end()) return done->second;
  auto it = names_.find(key);
  SPK_CHECK(it != names_.end(), "onnx export: tensor ", t.str(), " is not one of the model's parameters or buffers");
  SPK_CHECK(t.dtype() == DType::f32, "onnx export: ", it->second, " is ", t.str(),
            "; only f32 models are exported (the graph's input and output are f32)");
  const Tensor host = t.to(Device::cpu()).contiguous();
  onnx::TensorProto* p = add_initializer(it->second, onnx::TensorProto::FLOAT, t.shape());
  // raw_data: the little-endian bytes of the floats, i.e. the parameter's bits unchanged.
  p->set_raw_data(std::string(static_cast<const char*>(host.data_ptr()), size_t(host.numel()) * sizeof(float)));
  emitted_[key] = it->second;
  return it->second;
}

std::string Graph::const_f32(const std::string& hint, const std::vector<float>& v, const std::vector<int64_t>& dims) {
  const std::string name = fresh("const/" + hint);
  add_initializer(name, onnx::TensorProto::FLOAT, dims)
      ->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  return name;
}

std::string Graph::const_f64(const std::string& hint, const std::vector<double>& v, const std::vector<int64_t>& dims) {
  const std::string name = fresh("const/" + hint);
  add_initializer(name, onnx::TensorProto::DOUBLE, dims)
      ->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double)));
  return name;
}

std::string Graph::const_i64(const std::string& hint, const std::vector<int64_t>& v, const std::vector<int64_t>& dims) {
  const std::string name = fresh("const/" + hint);
  add_initializer(name, onnx::TensorProto::INT64, dims)
      ->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t)));
  return name;
}

namespace {
void set_type(onnx::ValueInfoProto* vi, const std::vector<Graph::Dim>& dims) {
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tt->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (const auto* s = std::get_if<std::string>(&d)) dim->set_dim_param(*s);
    else dim->set_dim_value(std::get<int64_t>(d));
  }
}
}  // namespace

void Graph::input(const std::string& name, const std::vector<Dim>& dims) {
  onnx::ValueInfoProto* vi = g_->add_input();
  vi->set_name(name);
  set_type(vi, dims);
}

void Graph::output(const std::string& value, const std::string& name, const std::vector<Dim>& dims) {
  // The graph output gets its public name through an Identity, so emitters never need to know it.
  onnx::NodeProto* n = g_->add_node();
  n->set_op_type("Identity");
  n->set_name("node/output_" + name);
  n->add_input(value);
  n->add_output(name);
  onnx::ValueInfoProto* vi = g_->add_output();
  vi->set_name(name);
  set_type(vi, dims);
}

}  // namespace spk::onnx_export
