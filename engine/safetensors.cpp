// safetensors writer (atomic) and validating reader, and name/shape/dtype-checked loading into a Module.
#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/autograd.h"
#include "engine/io/atomic_file.h"
#include "kernels/common/strided.h"   // kMaxDims

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace spk {

namespace {

constexpr uint64_t kMaxHeader = 100'000'000;   // the reference implementation's limit

const char* st_dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
  }
  return "?";
}

bool st_dtype_parse(const std::string& s, DType& out) {
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64})
    if (s == st_dtype_name(t)) { out = t; return true; }
  return false;
}

std::string errno_str() { return std::strerror(errno); }

// An open file descriptor that closes itself.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() { if (fd >= 0) ::close(fd); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

void read_all(int fd, void* data, size_t n, uint64_t offset, const std::string& where) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, off_t(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) SPK_FAIL(where, ": read failed: ", errno_str());
    if (r == 0) SPK_FAIL(where, ": unexpected end of file at byte ", offset, " (file changed while reading?)");
    p += r;
    n -= size_t(r);
    offset += uint64_t(r);
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------ write

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  const std::string where = "safetensors " + path;
  std::set<std::string> names;
  for (const auto& [n, t] : tensors) {
    SPK_CHECK(!n.empty() && n != "__metadata__", where, ": invalid tensor name '", n, "'");
    SPK_CHECK(names.insert(n).second, where, ": tensor name '", n, "' appears twice");
    SPK_CHECK(t.defined(), where, ": tensor '", n, "' is undefined");
  }

  // Decreasing element size keeps every tensor aligned to its element size (header padded to 8).
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return dtype_size(tensors[a].second.dtype()) > dtype_size(tensors[b].second.dtype());
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i : order) {
    const auto& [n, t] = tensors[i];
    uint64_t nbytes = uint64_t(t.numel()) * dtype_size(t.dtype());
    header[n] = {{"dtype", st_dtype_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();   // strict: names and metadata must be valid UTF-8
  } catch (const nlohmann::json::exception& e) {
    SPK_FAIL(where, ": cannot encode the header: ", e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t header_len = text.size();

  io::AtomicFile out(path, where);
  out.write(&header_len, 8);
  out.write(text.data(), text.size());
  for (size_t i : order) {
    Tensor host = tensors[i].second.to(Device::cpu()).contiguous();
    out.write(host.data_ptr(), size_t(host.numel()) * dtype_size(host.dtype()));
  }
  out.commit();
}

// ------------------------------------------------------------------------------------------------- read

namespace {

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

// Parse the header text, rejecting duplicate keys at any depth (nlohmann would keep the last silently).
nlohmann::json parse_header(const std::string& text, const std::string& where) {
  std::vector<std::set<std::string>> keys;   // one key set per open object
  std::string duplicate;
  auto cb = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start) keys.emplace_back();
    else if (ev == E::object_end) keys.pop_back();
    else if (ev == E::key && !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, cb);
  } catch (const nlohmann::json::exception& e) {
    SPK_FAIL(where, ": header is not valid JSON: ", e.what());
  }
  if (!duplicate.empty()) SPK_FAIL(where, ": header has the key '", duplicate, "' twice");
  if (!j.is_object()) SPK_FAIL(where, ": header is JSON but not an object");
  return j;
}

Entry parse_entry(const std::string& name, const nlohmann::json& v, const std::string& where) {
  const std::string t = where + ": tensor '" + name + "'";
  if (!v.is_object()) SPK_FAIL(t, ": entry is not an object: ", v.dump());
  for (const auto& [k, _] : v.items())
    if (k != "dtype" && k != "shape" && k != "data_offsets") SPK_FAIL(t, ": unknown field '", k, "'");
  if (!v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
    SPK_FAIL(t, ": entry needs dtype, shape and data_offsets: ", v.dump());
  Entry e{name, DType::f32, {}, 0, 0};
  const auto& dt = v["dtype"];
  if (!dt.is_string() || !st_dtype_parse(dt.get<std::string>(), e.dtype))
    SPK_FAIL(t, ": dtype ", dt.dump(), " is not supported (F32, F64, F16, BF16, I32, I64)");
  const auto& sh = v["shape"];
  if (!sh.is_array()) SPK_FAIL(t, ": shape ", sh.dump(), " is not an array");
  if (sh.size() > size_t(kMaxDims)) SPK_FAIL(t, ": shape ", sh.dump(), " has more than ", kMaxDims, " dims");
  for (const auto& d : sh) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(INT64_MAX))
      SPK_FAIL(t, ": shape ", sh.dump(), " has an entry that is not a non-negative integer");
    e.shape.push_back(int64_t(d.get<uint64_t>()));
  }
  const auto& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    SPK_FAIL(t, ": data_offsets ", off.dump(), " is not a pair of non-negative integers");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.begin > e.end) SPK_FAIL(t, ": data_offsets [", e.begin, ", ", e.end, "] end before they begin");
  // Bytes the shape needs, saturating so a huge shape cannot wrap around to a matching size.
  unsigned __int128 need = dtype_size(e.dtype);
  for (int64_t d : e.shape) need = std::min<unsigned __int128>(need * uint64_t(d), (unsigned __int128)(UINT64_MAX));
  if (need != e.end - e.begin)
    SPK_FAIL(t, ": shape ", shape_str(e.shape), " ", dt.get<std::string>(), " needs ", uint64_t(need),
             " bytes but data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin);
  // Tensor's numel and strides multiply the dimensions in int64, zeros included: a [2^32, 2^32, 0] tensor holds
  // no bytes, so it passes the check above, yet would overflow them. The product of the non-zero dimensions
  // must fit (for a non-empty tensor it is at most the file size, checked above).
  int64_t extent = 1;
  for (int64_t d : e.shape)
    if (d != 0 && __builtin_mul_overflow(extent, d, &extent))
      SPK_FAIL(t, ": shape ", shape_str(e.shape), " has more than 2^63 elements");
  return e;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string where = "safetensors " + path;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) SPK_FAIL(where, ": cannot open: ", errno_str());
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) SPK_FAIL(where, ": cannot stat: ", errno_str());
  const uint64_t file_size = uint64_t(st.st_size);
  if (file_size < 8) SPK_FAIL(where, ": file is ", file_size, " bytes, too short for the 8-byte header length");
  uint64_t header_len = 0;
  read_all(fd.fd, &header_len, 8, 0, where);
  if (header_len > file_size - 8)
    SPK_FAIL(where, ": header length ", header_len, " is beyond the file size (", file_size,
             " bytes): truncated, or not a safetensors file");
  if (header_len > kMaxHeader) SPK_FAIL(where, ": header length ", header_len, " is over the ", kMaxHeader, "-byte limit");
  std::string text(header_len, '\0');
  read_all(fd.fd, text.data(), header_len, 8, where);
  const uint64_t data_start = 8 + header_len, data_size = file_size - data_start;

  nlohmann::json header = parse_header(text, where);
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [k, v] : header.items()) {
    if (k == "__metadata__") {
      if (!v.is_object()) SPK_FAIL(where, ": __metadata__ is not an object");
      for (const auto& [mk, mv] : v.items()) {
        if (!mv.is_string()) SPK_FAIL(where, ": __metadata__ value of '", mk, "' is not a string: ", mv.dump());
        out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(k, v, where));
  }

  // The tensors must tile [0, data_size) exactly.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.end > data_size)
      SPK_FAIL(where, ": tensor '", e.name, "' data_offsets [", e.begin, ", ", e.end, "] are out of range: the data section has ",
               data_size, " bytes (truncated?)");
    if (e.begin < covered)
      SPK_FAIL(where, ": tensor '", e.name, "' data_offsets [", e.begin, ", ", e.end, "] overlap tensor '",
               entries[i - 1].name, "' which ends at ", covered);
    if (e.begin > covered)
      SPK_FAIL(where, ": bytes [", covered, ", ", e.begin, ") of the data section belong to no tensor (gap before '",
               e.name, "')");
    covered = e.end;
  }
  if (covered != data_size)
    SPK_FAIL(where, ": the tensors cover ", covered, " bytes but the data section has ", data_size,
             " (trailing bytes, or offsets that do not cover the data)");

  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    read_all(fd.fd, t.data_ptr(), size_t(e.end - e.begin), data_start + e.begin, where);
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

// ------------------------------------------------------------------------------------- load into module

static bool is_batch_counter(const std::string& name) {
  static const std::string suffix = "num_batches_tracked";
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

LoadResult load_state(Module& module, const NamedTensors& tensors, const LoadOptions& opt, const std::string& source) {
  auto ignored = [&](const std::string& n) {
    for (const auto& p : opt.ignore_prefixes) if (n.rfind(p, 0) == 0) return true;
    return false;
  };
  std::map<std::string, const Tensor*> src;
  std::vector<std::string> problems;
  LoadResult result;
  for (const auto& [n, t] : tensors) {
    if (ignored(n)) continue;
    if (!src.emplace(n, &t).second) problems.push_back("duplicate: '" + n + "' appears twice in " + source);
  }
  const NamedTensors dst = module.state();
  std::set<std::string> known;
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  std::vector<Tensor> reset_counters;
  for (const auto& [n, t] : dst) {
    known.insert(n);
    auto it = src.find(n);
    if (it == src.end()) {
      result.missing.push_back(n);
      // PyTorch's BatchNorm accepts a state_dict without num_batches_tracked (state_dicts from before 0.4.1,
      // or converted without it) and starts the counter at 0; so do we.
      if (is_batch_counter(n)) reset_counters.push_back(t);
      else if (!opt.allow_missing) problems.push_back("missing: '" + n + "' " + t.str());
      continue;
    }
    const Tensor& s = *it->second;
    if (s.shape() != t.shape())
      problems.push_back("wrong shape: '" + n + "' is " + shape_str(t.shape()) + " in the module but " +
                         shape_str(s.shape()) + " in " + source);
    if (s.dtype() != t.dtype())
      problems.push_back("wrong dtype: '" + n + "' is " + dtype_name(t.dtype()) + " in the module but " +
                         dtype_name(s.dtype()) + " in " + source);
    if (s.shape() == t.shape() && s.dtype() == t.dtype()) copies.emplace_back(t, &s);
  }
  for (const auto& [n, t] : tensors) {
    if (ignored(n) || known.count(n)) continue;
    result.unexpected.push_back(n);
    if (!opt.allow_unexpected) problems.push_back("unexpected: '" + n + "' " + t.str());
  }
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems) msg += "\n  " + p;
    SPK_FAIL("load ", source, " into module: ", problems.size(), " problem(s):", msg);
  }
  NoGradGuard no_grad;
  for (auto& [d, s] : copies) d.copy_(*s);
  if (!opt.allow_missing)
    for (auto& c : reset_counters) c.fill_(0);
  return result;
}

LoadResult load_safetensors_into(Module& module, const std::string& path, const LoadOptions& options) {
  SafetensorsFile f = load_safetensors(path);
  return load_state(module, f.tensors, options, path);
}

}  // namespace spk
