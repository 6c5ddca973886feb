// torch.load without Python: the zip format (torch >= 1.6) and the legacy format (torch < 1.6), both run
// through the closed pickle VM (pickle_vm.h), then flattened into named contiguous CPU tensors and text values.
// Format references: torch/serialization.py (_save, _legacy_save, _load, _legacy_load) and
// torch/_utils.py (_rebuild_tensor_v2) of PyTorch 1.13.
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include "engine/io/torch_load.h"

#include "engine/io/pickle_vm.h"
#include "engine/io/zip_reader.h"
#include "kernels/common/strided.h"   // kMaxDims

namespace spk::io {

namespace {

using Kind = PickleValue::Kind;

// The legacy format starts with the pickled int 0x1950a86a20f9469cfc6c: LONG1, 10 bytes, little-endian.
constexpr char kLegacyMagic[] = "\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
constexpr size_t kLegacyMagicLen = 12;
constexpr int64_t kLegacyProtocol = 1001;
constexpr size_t kMaxNameLength = 4096;     // bytes in one flattened name

// A storage class of the pickle: its element size, and the spk dtype when there is one.
struct StorageClass {
  const char* name;
  size_t element_size;
  bool supported;
  DType dtype;
};
const StorageClass* storage_class(const std::string& global) {
  static const StorageClass classes[] = {
      {"torch.FloatStorage", 4, true, DType::f32},  {"torch.DoubleStorage", 8, true, DType::f64},
      {"torch.HalfStorage", 2, true, DType::f16},   {"torch.BFloat16Storage", 2, true, DType::bf16},
      {"torch.LongStorage", 8, true, DType::i64},   {"torch.IntStorage", 4, true, DType::i32},
      {"torch.ShortStorage", 2, false, DType::f32}, {"torch.CharStorage", 1, false, DType::f32},
      {"torch.ByteStorage", 1, false, DType::f32},  {"torch.BoolStorage", 1, false, DType::f32}};
  for (const StorageClass& c : classes)
    if (global == c.name) return &c;
  return nullptr;
}

// One storage as a tensor sees it: the bytes of its elements.
struct StorageRef {
  const StorageClass* cls = nullptr;
  std::string key;
  uint64_t numel = 0;
  std::string_view bytes;
};

std::string read_file(const std::string& path, const std::string& where) {
  std::ifstream f(path, std::ios::binary);
  if (!f) SPK_FAIL(where, ": cannot open the file");
  f.seekg(0, std::ios::end);
  const std::streamoff n = f.tellg();
  if (n < 0) SPK_FAIL(where, ": cannot determine the file size");
  std::string bytes(size_t(n), '\0');
  f.seekg(0);
  if (!f.read(bytes.data(), n)) SPK_FAIL(where, ": read failed");
  return bytes;
}

std::string float_text(double x) {   // shortest round-trip text, with Python's ".0" for integral values
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".einan") == std::string::npos) s += ".0";
  return s;
}

std::string big_int_text(const std::string& le_bytes) {   // two's complement little-endian -> "0x..." hex
  static const char* digits = "0123456789abcdef";
  std::string s = "0x";
  for (size_t i = le_bytes.size(); i-- > 0;) {
    s += digits[uint8_t(le_bytes[i]) >> 4];
    s += digits[uint8_t(le_bytes[i]) & 15];
  }
  return s;
}

class Loader {
 public:
  // Materialised tensors may exceed the file (views repeat elements, tensors share storages) but not
  // without bound: a hostile stride-0 view must not turn a small file into a huge allocation. Likewise a
  // pickle may reference one sub-tree many times (memo), so flattening visits and the bytes of the names
  // it makes are bounded by the size of the tree, not only by its depth.
  Loader(std::string where, uint64_t file_size, size_t tree_nodes)
      : where_(std::move(where)),
        byte_budget_(8 * file_size + (64u << 20)),
        visit_budget_(4 * tree_nodes + 1000),
        name_budget_(64 * file_size + (16u << 20)) {}

  std::string where_;
  std::unordered_map<const PickleValue*, StorageRef> storages_;   // persistent id node -> storage
  TorchCheckpoint out_;

  // Parses a persistent id ('storage', StorageClass, key, location, numel[, view_metadata]) into a storage
  // with no bytes yet; `fields` is 5 for the zip format and 6 for the legacy one.
  StorageRef parse_pid(const PickleValue& pid_node, size_t fields) {
    const PickleValue& pid = *pid_node.items.at(0);
    if (pid.kind != Kind::tuple || pid.items.size() != fields || pid.items[0]->kind != Kind::string ||
        pid.items[0]->text != "storage")
      SPK_FAIL(where_, ": persistent id ", pickle_value_str(pid), " is not a ", fields, "-tuple ('storage', ...)");
    const PickleValue& cls = *pid.items[1];
    const PickleValue& key = *pid.items[2];
    const PickleValue& numel = *pid.items[4];
    StorageRef s;
    if (cls.kind != Kind::global || !(s.cls = storage_class(cls.text)))
      SPK_FAIL(where_, ": persistent id names ", pickle_value_str(cls), ", not a storage class");
    if (key.kind != Kind::string) SPK_FAIL(where_, ": storage key is a ", pickle_kind_name(key.kind), ", not a str");
    if (numel.kind != Kind::integer || numel.integer < 0)
      SPK_FAIL(where_, ": storage '", key.text, "': element count ", pickle_value_str(numel), " is not a non-negative int");
    s.key = key.text;
    s.numel = uint64_t(numel.integer);
    return s;
  }

  // ---- tensors

  int64_t int_arg(const PickleValue& v, const char* what, const std::string& name) {
    if (v.kind != Kind::integer || v.integer < 0)
      SPK_FAIL(where_, ": tensor '", name, "': ", what, " is ", pickle_value_str(v), ", not a non-negative int");
    return v.integer;
  }
  Shape shape_arg(const PickleValue& v, const char* what, const std::string& name) {
    if (v.kind != Kind::tuple && v.kind != Kind::list)
      SPK_FAIL(where_, ": tensor '", name, "': ", what, " is ", pickle_value_str(v), ", not a tuple");
    if (v.items.size() > size_t(kMaxDims))
      SPK_FAIL(where_, ": tensor '", name, "': ", what, " has ", v.items.size(), " dims (at most ", kMaxDims, ")");
    Shape s;
    for (const PickleValue* d : v.items) s.push_back(int_arg(*d, what, name));
    return s;
  }

  Tensor materialise(const PickleValue& t, const std::string& name) {
    const bool v2 = t.text == "torch._utils._rebuild_tensor_v2";
    const size_t n = t.items.size();
    if (v2 ? (n != 6 && n != 7) : n != 4)
      SPK_FAIL(where_, ": tensor '", name, "': ", t.text, " has ", n, " arguments (expected ", v2 ? "6 or 7" : "4", ")");
    auto it = storages_.find(t.items[0]);
    if (it == storages_.end())
      SPK_FAIL(where_, ": tensor '", name, "': its storage is ", pickle_value_str(*t.items[0]), ", not a storage reference");
    const StorageRef& s = it->second;
    if (!s.cls->supported)
      SPK_FAIL(where_, ": tensor '", name, "': dtype ", s.cls->name, " is not supported (f32, f64, f16, bf16, i64, i32 are)");
    const uint64_t offset = uint64_t(int_arg(*t.items[1], "storage offset", name));
    const Shape size = shape_arg(*t.items[2], "size", name);
    const Shape stride = shape_arg(*t.items[3], "stride", name);
    if (size.size() != stride.size())
      SPK_FAIL(where_, ": tensor '", name, "': size ", shape_str(size), " and stride ", shape_str(stride), " differ in length");

    // numel and the last element's index, without overflow.
    // Tensor's numel and strides multiply the dimensions in int64, zeros included, so the product of the
    // non-zero ones must fit even when a zero makes the tensor empty ([2^62, 2, 0] holds nothing).
    uint64_t numel = 1, last = offset;
    int64_t extent = 1;
    for (size_t d = 0; d < size.size(); ++d) {
      if (__builtin_mul_overflow(numel, uint64_t(size[d]), &numel) ||
          (size[d] != 0 && __builtin_mul_overflow(extent, size[d], &extent)))
        SPK_FAIL(where_, ": tensor '", name, "': size ", shape_str(size), " overflows");
    }
    const size_t esize = s.cls->element_size;
    if (numel > 0) {
      for (size_t d = 0; d < size.size(); ++d) {
        uint64_t span;
        if (__builtin_mul_overflow(uint64_t(size[d] - 1), uint64_t(stride[d]), &span) ||
            __builtin_add_overflow(last, span, &last))
          SPK_FAIL(where_, ": tensor '", name, "': size ", shape_str(size), " with stride ", shape_str(stride), " overflows");
      }
      if (last >= s.numel)
        SPK_FAIL(where_, ": tensor '", name, "': size ", shape_str(size), ", stride ", shape_str(stride), " and offset ",
                 offset, " reach element ", last, " but storage '", s.key, "' holds only ", s.numel, " elements");
      if (numel > byte_budget_ / esize)
        SPK_FAIL(where_, ": tensor '", name, "' of size ", shape_str(size), " would take the tensors past ",
                 8, " times the file size (overlapping views?)");
      byte_budget_ -= numel * esize;
    }

    Tensor out = Tensor::empty(size, s.cls->dtype);
    char* dst = static_cast<char*>(out.data_ptr());
    const char* src = s.bytes.data();
    if (numel == 0) return out;
    if (stride == contiguous_strides(size)) {
      std::memcpy(dst, src + offset * esize, numel * esize);
      return out;
    }
    // Strided gather: walk the index like an odometer, innermost dimension fastest.
    const size_t nd = size.size();
    std::vector<int64_t> idx(nd, 0);
    uint64_t at = offset;
    for (uint64_t i = 0; i < numel; ++i) {
      std::memcpy(dst + i * esize, src + at * esize, esize);
      for (size_t d = nd; d-- > 0;) {
        if (++idx[d] < size[d]) { at += uint64_t(stride[d]); break; }
        at -= uint64_t(stride[d]) * uint64_t(size[d] - 1);
        idx[d] = 0;
      }
    }
    return out;
  }

  // ---- flattening

  void add_name(const std::string& name) {
    if (!names_.insert(name).second) SPK_FAIL(where_, ": the flattened name '", name, "' appears twice");
  }

  void flatten(const PickleValue& v, const std::string& name, size_t depth) {
    if (visit_budget_-- == 0)
      SPK_FAIL(where_, ": the object references its parts too many times to flatten (shared sub-trees, pickle bomb?)");
    if (depth > limits_.max_depth)
      SPK_FAIL(where_, ": containers nested deeper than ", limits_.max_depth, " at '", name.substr(0, 200), "...' (cycle or pickle bomb?)");
    auto child = [&](const std::string& key) {
      std::string c = depth == 0 ? key : name + "." + key;
      if (c.size() > kMaxNameLength) SPK_FAIL(where_, ": flattened name '", c.substr(0, 100), "...' is longer than ", kMaxNameLength, " bytes");
      if (c.size() > name_budget_) SPK_FAIL(where_, ": flattened names take too many bytes (pickle bomb?)");
      name_budget_ -= c.size();
      return c;
    };
    switch (v.kind) {
      case Kind::dict:
        for (size_t i = 0; i < v.items.size(); i += 2) {
          const PickleValue& k = *v.items[i];
          std::string key;
          if (k.kind == Kind::string) key = k.text;
          else if (k.kind == Kind::integer) key = std::to_string(k.integer);
          else SPK_FAIL(where_, ": dict at '", name, "' has a key that is a ", pickle_kind_name(k.kind), " (str and int keys are supported)");
          flatten(*v.items[i + 1], child(key), depth + 1);
        }
        return;
      case Kind::list: case Kind::tuple:
        for (size_t i = 0; i < v.items.size(); ++i) flatten(*v.items[i], child(std::to_string(i)), depth + 1);
        return;
      case Kind::tensor: {
        add_name(name);
        auto it = tensors_.find(&v);
        if (it == tensors_.end()) it = tensors_.emplace(&v, materialise(v, name)).first;
        out_.tensors.emplace_back(name, it->second);   // the same pickled tensor twice is one tensor, as in torch
        return;
      }
      case Kind::none: value(name, "None"); return;
      case Kind::boolean: value(name, v.boolean ? "True" : "False"); return;
      case Kind::integer: value(name, std::to_string(v.integer)); return;
      case Kind::big_integer: value(name, big_int_text(v.text)); return;
      case Kind::floating: value(name, float_text(v.floating)); return;
      case Kind::string: case Kind::bytes: value(name, v.text); return;
      default:
        SPK_FAIL(where_, ": '", name, "' is a ", pickle_kind_name(v.kind), ", which a checkpoint cannot hold here");
    }
  }

  void flatten_root(const PickleValue& root) {
    if (root.kind != Kind::dict && root.kind != Kind::list && root.kind != Kind::tuple)
      SPK_FAIL(where_, ": the saved object is a ", pickle_kind_name(root.kind), ", not a dict (state_dict) or list");
    flatten(root, "", 0);
  }

 private:
  uint64_t byte_budget_;
  size_t visit_budget_;
  uint64_t name_budget_;
  PickleLimits limits_;
  std::set<std::string> names_;
  std::unordered_map<const PickleValue*, Tensor> tensors_;

  void value(const std::string& name, std::string text) {
    add_name(name);
    out_.values[name] = std::move(text);
  }
};

// ---- zip format: <prefix>/data.pkl, <prefix>/data/<key>, optional <prefix>/byteorder

TorchCheckpoint load_zip(const std::string& bytes, const std::string& where) {
  ZipReader zip(bytes, where);
  const ZipReader::Entry* pkl = nullptr;
  for (const auto& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (pkl) SPK_FAIL(where, ": two pickles ('", pkl->name, "' and '", e.name, "')");
      pkl = &e;
    }
  }
  if (!pkl) SPK_FAIL(where, ": no '<prefix>/data.pkl' entry (a zip file, but not a torch.save checkpoint)");
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - std::strlen("data.pkl"));
  if (const auto* bo = zip.find(prefix + "byteorder")) {
    const std::string_view order = zip.read(*bo);
    if (order != "little") SPK_FAIL(where, ": byte order is '", order, "'; only little-endian checkpoints are supported");
  }

  const PickleTree tree = unpickle(zip.read(*pkl), 0, where + ": " + pkl->name);
  Loader loader(where, bytes.size(), tree.nodes.size());
  std::map<std::string, const StorageRef*> by_key;   // each storage entry read (and CRC-checked) once
  for (const PickleValue& node : tree.nodes) {
    if (node.kind != Kind::persistent_id) continue;
    StorageRef s = loader.parse_pid(node, 5);
    auto known = by_key.find(s.key);
    if (known != by_key.end()) {
      if (known->second->cls != s.cls || known->second->numel != s.numel)
        SPK_FAIL(where, ": storage '", s.key, "' is referenced as ", known->second->cls->name, " of ",
                 known->second->numel, " and as ", s.cls->name, " of ", s.numel, " elements");
      s.bytes = known->second->bytes;
    } else {
      const auto* entry = zip.find(prefix + "data/" + s.key);
      if (!entry) SPK_FAIL(where, ": storage entry '", prefix, "data/", s.key, "' is missing");
      s.bytes = zip.read(*entry);
      if (s.bytes.size() / s.cls->element_size < s.numel)
        SPK_FAIL(where, ": storage '", s.key, "' has ", s.bytes.size(), " bytes, fewer than its ", s.numel, " ",
                 s.cls->name, " elements need");
    }
    const StorageRef& stored = loader.storages_[&node] = s;
    if (known == by_key.end()) by_key[s.key] = &stored;
  }
  loader.flatten_root(*tree.root);
  loader.out_.format = "zip";
  return std::move(loader.out_);
}

// ---- legacy format: magic, protocol, sys_info, object, storage keys, then per key: u64 numel + raw bytes

TorchCheckpoint load_legacy(const std::string& bytes, const std::string& where) {
  const PickleTree magic = unpickle(bytes, 0, where + ": magic number");
  if (magic.root->kind != Kind::big_integer || magic.root->text != std::string_view(kLegacyMagic + 2, 10))
    SPK_FAIL(where, ": wrong magic number ", pickle_value_str(*magic.root), " (not a legacy torch.save file)");
  const PickleTree protocol = unpickle(bytes, magic.end, where + ": protocol version");
  if (protocol.root->kind != Kind::integer || protocol.root->integer != kLegacyProtocol)
    SPK_FAIL(where, ": legacy protocol version is ", pickle_value_str(*protocol.root), ", not ", kLegacyProtocol);
  const PickleTree sys_info = unpickle(bytes, protocol.end, where + ": sys_info");
  bool little = false;
  if (sys_info.root->kind == Kind::dict)
    for (size_t i = 0; i + 1 < sys_info.root->items.size(); i += 2)
      if (sys_info.root->items[i]->kind == Kind::string && sys_info.root->items[i]->text == "little_endian")
        little = sys_info.root->items[i + 1]->kind == Kind::boolean && sys_info.root->items[i + 1]->boolean;
  if (!little) SPK_FAIL(where, ": sys_info does not say little_endian=True; only little-endian checkpoints are supported");
  const PickleTree object = unpickle(bytes, sys_info.end, where + ": object pickle");
  const PickleTree keys = unpickle(bytes, object.end, where + ": storage key list");
  if (keys.root->kind != Kind::list) SPK_FAIL(where, ": storage key list is a ", pickle_kind_name(keys.root->kind));

  Loader loader(where, bytes.size(), object.nodes.size());
  struct Root { StorageRef ref; bool has_bytes = false; };
  std::map<std::string, Root> roots;
  std::vector<std::pair<const PickleValue*, const PickleValue*>> views;   // pid node, view_metadata
  for (const PickleValue& node : object.nodes) {
    if (node.kind != Kind::persistent_id) continue;
    StorageRef s = loader.parse_pid(node, 6);
    auto [it, inserted] = roots.emplace(s.key, Root{s});
    if (!inserted && (it->second.ref.cls != s.cls || it->second.ref.numel != s.numel))
      SPK_FAIL(where, ": storage '", s.key, "' is referenced with two different types or sizes");
    views.emplace_back(&node, node.items[0]->items[5]);
  }

  size_t p = keys.end;
  for (const PickleValue* k : keys.root->items) {
    if (k->kind != Kind::string) SPK_FAIL(where, ": storage key list holds a ", pickle_kind_name(k->kind));
    auto it = roots.find(k->text);
    if (it == roots.end()) SPK_FAIL(where, ": storage '", k->text, "' is listed but no tensor refers to it");
    Root& r = it->second;
    if (r.has_bytes) SPK_FAIL(where, ": storage '", k->text, "' is listed twice");
    if (bytes.size() - p < 8) SPK_FAIL(where, ": file ends before the size of storage '", k->text, "' (truncated?)");
    uint64_t count = 0;
    for (int i = 7; i >= 0; --i) count = (count << 8) | uint8_t(bytes[p + size_t(i)]);
    p += 8;
    if (count != r.ref.numel)
      SPK_FAIL(where, ": storage '", k->text, "' holds ", count, " elements but is referenced with ", r.ref.numel);
    const size_t esize = r.ref.cls->element_size;
    if (count > (bytes.size() - p) / esize)
      SPK_FAIL(where, ": storage '", k->text, "' needs ", count, " x ", esize, " bytes but only ", bytes.size() - p, " remain (truncated?)");
    r.ref.bytes = std::string_view(bytes).substr(p, size_t(count * esize));
    r.has_bytes = true;
    p += size_t(count * esize);
  }

  for (auto [node, view] : views) {
    const Root& r = roots.at(node->items[0]->items[2]->text);
    if (!r.has_bytes) SPK_FAIL(where, ": storage '", r.ref.key, "' is not in the storage key list");
    StorageRef s = r.ref;
    if (view->kind != Kind::none) {   // (view_key, offset, size): a slice of the root storage, in elements
      if (view->kind != Kind::tuple || view->items.size() != 3 || view->items[1]->kind != Kind::integer ||
          view->items[2]->kind != Kind::integer || view->items[1]->integer < 0 || view->items[2]->integer < 0)
        SPK_FAIL(where, ": storage '", s.key, "' has malformed view metadata ", pickle_value_str(*view));
      const uint64_t off = uint64_t(view->items[1]->integer), n = uint64_t(view->items[2]->integer);
      if (off > s.numel || n > s.numel - off)
        SPK_FAIL(where, ": storage view [", off, ", +", n, ") lies outside storage '", s.key, "' of ", s.numel, " elements");
      s.bytes = s.bytes.substr(size_t(off * s.cls->element_size), size_t(n * s.cls->element_size));
      s.numel = n;
    }
    loader.storages_[node] = s;
  }
  loader.flatten_root(*object.root);
  loader.out_.format = "legacy";
  return std::move(loader.out_);
}

bool starts_legacy(std::string_view head) {   // PROTO n [FRAME len] LONG1 10 <magic>
  return head.size() >= 2 && uint8_t(head[0]) == 0x80 &&
         head.substr(0, 32).find(std::string_view(kLegacyMagic, kLegacyMagicLen)) != std::string_view::npos;
}

}  // namespace

bool is_torch_checkpoint(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  char buf[32];
  f.read(buf, sizeof buf);
  const std::string_view head(buf, size_t(f.gcount()));
  return head.starts_with("PK\x03\x04") || starts_legacy(head);
}

TorchCheckpoint load_torch_checkpoint(const std::string& path) {
  const std::string where = "torch checkpoint " + path;
  return load_torch_checkpoint_bytes(read_file(path, where), where);
}

TorchCheckpoint load_torch_checkpoint_bytes(const std::string& bytes, const std::string& where) {
  if (std::string_view(bytes).starts_with("PK\x03\x04")) return load_zip(bytes, where);
  if (starts_legacy(bytes)) return load_legacy(bytes, where);
  if (bytes.size() >= 262 && bytes.compare(257, 5, "ustar") == 0)
    SPK_FAIL(where, ": the tar format of torch < 0.4 is not supported (re-save it with a newer torch)");
  SPK_FAIL(where, ": neither a zip (torch >= 1.6) nor a legacy (torch < 1.6) torch.save file");
}

}  // namespace spk::io
