// TensorBoard event files (see tensorboard.h): a protobuf wire-format encoder for the few fields we write, TFRecord
// framing, and the append-only writer.
#include "apps/recipe/tensorboard.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "engine/check.h"   // spk::Error

namespace spk::recipe::tensorboard {

namespace {

std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? 0x82f63b78u : 0u);
    t[i] = c;
  }
  return t;
}

// Protobuf wire format (https://protobuf.dev/programming-guides/encoding/): a key is (field << 3) | wire type;
// 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32; all little-endian.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += char(uint8_t(v) | 0x80);
    v >>= 7;
  }
  out += char(uint8_t(v));
}
void key(std::string& out, int field, int wire) { varint(out, uint64_t(field) << 3 | uint64_t(wire)); }
void fixed(std::string& out, uint64_t bits, int bytes) {
  for (int i = 0; i < bytes; ++i) out += char(uint8_t(bits >> (8 * i)));
}
void field_varint(std::string& out, int field, int64_t v) {   // int32/int64/enum: negatives as 10-byte two's complement
  key(out, field, 0);
  varint(out, uint64_t(v));
}
void field_double(std::string& out, int field, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  key(out, field, 1);
  fixed(out, bits, 8);
}
void field_float(std::string& out, int field, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  key(out, field, 5);
  fixed(out, bits, 4);
}
void field_bytes(std::string& out, int field, const std::string& v) {   // strings, bytes and embedded messages
  key(out, field, 2);
  varint(out, v.size());
  out += v;
}

// Field numbers of tensorboard/compat/proto/event.proto and summary.proto (copied in tensorboard_event.proto).
namespace ev {
constexpr int wall_time = 1, step = 2, file_version = 3, summary = 5, session_log = 7;
}
namespace summary {
constexpr int value = 1;
}
namespace value {
constexpr int tag = 1, simple_value = 2, image = 4;
}
namespace image {
constexpr int height = 1, width = 2, colorspace = 3, encoded_image_string = 4;
}
namespace session_log {
constexpr int status = 1;
constexpr int START = 1;
}

std::string event_head(double wall_time, int64_t step) {
  std::string e;
  field_double(e, ev::wall_time, wall_time);
  if (step != 0) field_varint(e, ev::step, step);   // proto3: a zero scalar is not written
  return e;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = make_crc32c_table();
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  const uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string frame_record(const std::string& data) {
  std::string r;
  fixed(r, data.size(), 8);
  fixed(r, masked_crc32c(r.data(), 8), 4);
  r += data;
  fixed(r, masked_crc32c(data.data(), data.size()), 4);
  return r;
}

std::string event_file_version(double wall_time) {
  std::string e = event_head(wall_time, 0);
  field_bytes(e, ev::file_version, "brain.Event:2");
  return e;
}

std::string event_scalars(double wall_time, int64_t step, const std::vector<std::pair<std::string, float>>& values) {
  std::string s;
  for (const auto& [tag, v] : values) {
    std::string val;
    field_bytes(val, value::tag, tag);
    field_float(val, value::simple_value, v);   // written even when 0: a oneof member is always present
    field_bytes(s, summary::value, val);
  }
  std::string e = event_head(wall_time, step);
  field_bytes(e, ev::summary, s);
  return e;
}

std::string event_image(double wall_time, int64_t step, const std::string& tag, int height, int width,
                        int colorspace, const std::string& encoded) {
  std::string img;
  field_varint(img, image::height, height);
  field_varint(img, image::width, width);
  field_varint(img, image::colorspace, colorspace);
  field_bytes(img, image::encoded_image_string, encoded);
  std::string val;
  field_bytes(val, value::tag, tag);
  field_bytes(val, value::image, img);
  std::string s;
  field_bytes(s, summary::value, val);
  std::string e = event_head(wall_time, step);
  field_bytes(e, ev::summary, s);
  return e;
}

std::string event_session_start(double wall_time, int64_t step) {
  std::string log;
  field_varint(log, session_log::status, session_log::START);
  std::string e = event_head(wall_time, step);
  field_bytes(e, ev::session_log, log);
  return e;
}

std::string event_file_name(int64_t unix_seconds, const std::string& hostname) {
  return "events.out.tfevents." + std::to_string(unix_seconds) + "." + hostname;
}

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "localhost";
  std::string h(buf);
  for (char& c : h)   // a file name part: no separators
    if (c == '/' || c == '\\') c = '_';
  return h;
}

}  // namespace

EventWriter::EventWriter(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("TensorBoard: cannot create the folder " + dir + ": " + ec.message());
  const std::string base = (fs::path(dir) / event_file_name(int64_t(now_seconds()), host_name())).string();
  for (int k = 0; !file_; ++k) {
    path_ = k == 0 ? base : base + "." + std::to_string(k);
    // O_EXCL: never append to, or truncate, a file another run wrote.
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == EEXIST && k < 1000) continue;
      throw Error("TensorBoard: cannot create " + path_ + ": " + std::strerror(errno));
    }
    file_ = ::fdopen(fd, "wb");
    if (!file_) {
      const int err = errno;
      ::close(fd);
      throw Error("TensorBoard: cannot open " + path_ + ": " + std::strerror(err));
    }
  }
  write(event_file_version(now_seconds()));
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::write(const std::string& event) {
  const std::string r = frame_record(event);
  if (std::fwrite(r.data(), 1, r.size(), file_) != r.size() || std::fflush(file_) != 0)
    throw Error("TensorBoard: writing " + path_ + " failed: " + std::strerror(errno) + " (is the disk full?)");
}

void EventWriter::scalars(int64_t step, const std::vector<std::pair<std::string, float>>& values) {
  write(event_scalars(now_seconds(), step, values));
}

void EventWriter::image(int64_t step, const std::string& tag, int height, int width, const std::string& png) {
  write(event_image(now_seconds(), step, tag, height, width, 3, png));
}

void EventWriter::session_start(int64_t step) { write(event_session_start(now_seconds(), step)); }

}  // namespace spk::recipe::tensorboard
