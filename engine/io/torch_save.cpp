// save_torch_checkpoint: an OrderedDict state_dict in torch.save's zip format (torch >= 1.6), the same
// records and the same pickle as torch/serialization.py `_save` writes for `torch.save(state_dict, f)`:
//
//   archive/data.pkl     protocol-2 pickle: collections.OrderedDict() then SETITEMS of
//                        name -> torch._utils._rebuild_tensor_v2(
//                                  persistent_id(('storage', torch.FloatStorage, '<key>', 'cpu', numel)),
//                                  0, (size...), (stride...), False, collections.OrderedDict())
//   archive/byteorder    "little" (torch >= 2.1 writes it; older versions ignore it)
//   archive/data/<key>   one storage per tensor, its contiguous little-endian bytes; keys "0", "1", ... in
//                        pickle order, records in sorted key order as torch writes them
//   archive/version      "3\n"
//
// The pickle reproduces Python's pickler opcode for opcode (checked with pickletools.dis against a file
// torch 1.13 wrote): the memo is filled (BINPUT) where Python's would be and shared objects — the class
// globals, the 'storage' and 'cpu' strings — are fetched back (BINGET), so the file matches torch's own
// byte for byte apart from the archive name (torch uses the file's stem) and the zip headers (zip_writer.h).
#include <algorithm>
#include <bit>
#include <optional>
#include <set>

#include "engine/io/atomic_file.h"
#include "engine/io/torch_checkpoint.h"
#include "engine/io/zip_writer.h"

static_assert(std::endian::native == std::endian::little, "the torch.save writer assumes a little-endian host");

namespace spk::io {

namespace {

const char* storage_class(DType t) {
  switch (t) {
    case DType::f32: return "FloatStorage";
    case DType::f64: return "DoubleStorage";
    case DType::f16: return "HalfStorage";
    case DType::bf16: return "BFloat16Storage";
    case DType::i32: return "IntStorage";
    case DType::i64: return "LongStorage";
  }
  return "?";
}

// The subset of Python's pickle.Pickler (protocol 2) that a state_dict needs.
class Pickler {
 public:
  std::string out;

  void proto() { out += "\x80\x02"; }
  void stop() { out += '.'; }
  void op(char c) { out += c; }

  // Memoises the object just written; returns its memo index (Python: BINPUT, or LONG_BINPUT past 255).
  uint32_t put() {
    const uint32_t i = next_++;
    if (i < 256) out += 'q', out += char(i);
    else out += 'r', u32(i);
    return i;
  }
  void get(uint32_t i) {
    if (i < 256) out += 'h', out += char(i);
    else out += 'j', u32(i);
  }
  // A memoised object: written and memoised the first time, fetched with BINGET afterwards.
  template <class Write>
  void shared(std::optional<uint32_t>& slot, Write write) {
    if (slot) return get(*slot);
    write();
    slot = put();
  }

  void global(const std::string& module, const std::string& name) { out += 'c' + module + '\n' + name + '\n'; }
  void unicode(const std::string& s) {   // BINUNICODE (the text is UTF-8 already)
    out += 'X';
    u32(s.size());
    out += s;
  }
  // Python's save_long for a non-negative int: BININT1, BININT2, BININT, else LONG1 (two's complement).
  void integer(int64_t v) {
    SPK_CHECK(v >= 0, "pickle: negative integer ", v);
    if (v <= 0xff) {
      out += 'K', out += char(v);
    } else if (v <= 0xffff) {
      out += 'M', out += char(v & 0xff), out += char(v >> 8);
    } else if (v <= 0x7fffffff) {
      out += 'J', u32(uint32_t(v));
    } else {
      const int nbytes = std::bit_width(uint64_t(v)) / 8 + 1;
      out += '\x8a', out += char(nbytes);
      for (int i = 0; i < nbytes; ++i) out += char(i < 8 ? (uint64_t(v) >> (8 * i)) & 0xff : 0);
    }
  }
  // Python's save_tuple: () is EMPTY_TUPLE (not memoised), 1-3 items TUPLE1-3, more MARK ... TUPLE.
  void int_tuple(const Shape& v) {
    if (v.empty()) return op(')');
    if (v.size() > 3) op('(');
    for (int64_t x : v) integer(x);
    op(v.size() == 1 ? '\x85' : v.size() == 2 ? '\x86' : v.size() == 3 ? '\x87' : 't');
    put();
  }

 private:
  void u32(uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
  uint32_t next_ = 0;
};

// torch's contiguous strides: sizes of 0 count as 1, so (2, 0, 3) has strides (3, 3, 1).
Shape torch_strides(const Shape& shape) {
  Shape s(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = acc;
    acc *= std::max<int64_t>(shape[i], 1);
  }
  return s;
}

std::string state_dict_pickle(const NamedTensors& tensors) {
  constexpr size_t kBatch = 1000;   // pickle's _BATCHSIZE: SETITEMS every 1000 items
  Pickler p;
  p.proto();
  p.global("collections", "OrderedDict");
  const uint32_t ordered_dict = p.put();
  p.op(')');
  p.op('R');
  p.put();
  std::optional<uint32_t> rebuild, storage_str, cpu_str;
  std::optional<uint32_t> classes[6];
  for (size_t b = 0; b < tensors.size(); b += kBatch) {
    const size_t e = std::min(tensors.size(), b + kBatch);
    if (e - b > 1) p.op('(');
    for (size_t i = b; i < e; ++i) {
      // Not a structured binding: clang before 16 cannot capture one in the lambdas below.
      const std::string& name = tensors[i].first;
      const Tensor& t = tensors[i].second;
      p.unicode(name);
      p.put();
      p.shared(rebuild, [&] { p.global("torch._utils", "_rebuild_tensor_v2"); });
      p.op('(');
      p.op('(');   // persistent id ('storage', torch.<T>Storage, key, location, numel)
      p.shared(storage_str, [&] { p.unicode("storage"); });
      p.shared(classes[int(t.dtype())], [&] { p.global("torch", storage_class(t.dtype())); });
      p.unicode(std::to_string(i));
      p.put();
      p.shared(cpu_str, [&] { p.unicode("cpu"); });
      p.integer(t.numel());
      p.op('t');
      p.put();
      p.op('Q');          // BINPERSID
      p.integer(0);       // storage offset
      p.int_tuple(t.shape());
      p.int_tuple(torch_strides(t.shape()));
      p.op('\x89');       // requires_grad False
      p.get(ordered_dict);   // backward hooks: OrderedDict()
      p.op(')');
      p.op('R');
      p.put();
      p.op('t');
      p.put();
      p.op('R');
      p.put();
    }
    p.op(e - b > 1 ? 'u' : 's');
  }
  p.stop();
  return p.out;
}

}  // namespace

void save_torch_checkpoint(const std::string& path, const NamedTensors& tensors) {
  const std::string where = "torch checkpoint " + path;
  std::set<std::string> names;
  for (const auto& [n, t] : tensors) {
    SPK_CHECK(!n.empty(), where, ": a tensor has an empty name");
    SPK_CHECK(names.insert(n).second, where, ": tensor name '", n, "' appears twice");
    SPK_CHECK(t.defined(), where, ": tensor '", n, "' is undefined");
  }
  const std::string pickle = state_dict_pickle(tensors);

  // torch writes the storages in the order of their keys sorted as strings ("0", "1", "10", "2", ...).
  std::vector<std::string> keys;
  for (size_t i = 0; i < tensors.size(); ++i) keys.push_back(std::to_string(i));
  std::sort(keys.begin(), keys.end());

  AtomicFile file(path, where);
  ZipWriter zip(file);
  zip.add("archive/data.pkl", pickle.data(), pickle.size());
  zip.add("archive/byteorder", "little", 6);
  for (const std::string& key : keys) {
    const Tensor host = tensors[std::stoul(key)].second.to(Device::cpu()).contiguous();
    zip.add("archive/data/" + key, host.data_ptr(), size_t(host.numel()) * dtype_size(host.dtype()));
  }
  zip.add("archive/version", "3\n", 2);
  zip.finish();
  file.commit();
}

}  // namespace spk::io
