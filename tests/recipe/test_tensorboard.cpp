// TensorBoard event files (apps/recipe/tensorboard.h, tensorboard_log.h) read back by readers written here from the
// formats' specifications, sharing no code with the writers: TFRecord framing with both CRC32Cs computed by a
// bitwise loop, a protobuf wire-format decoder, and a PNG reader for stored deflate blocks (CRC-32, Adler-32). Where
// protoc is installed, protoc itself decodes a record against apps/recipe/tensorboard_event.proto. Then spk_train on
// the tiny corpus: the tags and steps of a run, of its resumption (a new file starting with SessionLog START), and
// --tensorboard false.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "apps/recipe/png.h"
#include "apps/recipe/tensorboard.h"
#include "apps/recipe/tensorboard_det.h"
#include "apps/recipe/tensorboard_log.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

uint32_t crc32c_bitwise(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}
uint32_t masked(uint32_t c) { return ((c >> 15) | (c << 17)) + 0xa282ead8u; }

uint64_t le(const std::string& s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | uint8_t(s[pos + size_t(i)]);
  return v;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// TFRecords: every length and data CRC checked; returns the payloads.
std::vector<std::string> read_records(const std::string& bytes) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    REQUIRE(pos + 12 <= bytes.size());
    const uint64_t n = le(bytes, pos, 8);
    CHECK(le(bytes, pos + 8, 4) == masked(crc32c_bitwise(bytes.substr(pos, 8))));
    REQUIRE(pos + 12 + n + 4 <= bytes.size());
    const std::string data = bytes.substr(pos + 12, n);
    CHECK(le(bytes, pos + 12 + n, 4) == masked(crc32c_bitwise(data)));
    out.push_back(data);
    pos += 12 + n + 4;
  }
  return out;
}

// Protobuf wire format: (field, wire type, varint or fixed bits, bytes).
struct Field {
  int num = 0, wire = 0;
  uint64_t v = 0;
  std::string bytes;
};
std::vector<Field> parse_message(const std::string& m) {
  std::vector<Field> out;
  size_t pos = 0;
  auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      REQUIRE(pos < m.size());
      REQUIRE(shift < 64);
      const uint8_t b = uint8_t(m[pos++]);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (pos < m.size()) {
    const uint64_t k = varint();
    Field f;
    f.num = int(k >> 3), f.wire = int(k & 7);
    if (f.wire == 0) {
      f.v = varint();
    } else if (f.wire == 1 || f.wire == 5) {
      const int n = f.wire == 1 ? 8 : 4;
      REQUIRE(pos + size_t(n) <= m.size());
      f.v = le(m, pos, n);
      pos += size_t(n);
    } else {
      REQUIRE(f.wire == 2);
      const uint64_t n = varint();
      REQUIRE(pos + n <= m.size());
      f.bytes = m.substr(pos, n);
      pos += n;
    }
    out.push_back(f);
  }
  return out;
}

struct Image {
  int64_t height = 0, width = 0, colorspace = 0;
  std::string encoded;
};
struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  int64_t session_status = -1;
  std::vector<std::pair<std::string, float>> scalars;
  std::map<std::string, Image> images;
};

// tensorboard.Event with the field numbers of tensorboard/compat/proto/event.proto and summary.proto.
Event decode_event(const std::string& data) {
  Event e;
  for (const Field& f : parse_message(data)) {
    if (f.num == 1 && f.wire == 1) std::memcpy(&e.wall_time, &f.v, 8);
    else if (f.num == 2 && f.wire == 0) e.step = int64_t(f.v);
    else if (f.num == 3 && f.wire == 2) e.file_version = f.bytes;
    else if (f.num == 7 && f.wire == 2) {
      e.session_status = 0;
      for (const Field& s : parse_message(f.bytes))
        if (s.num == 1 && s.wire == 0) e.session_status = int64_t(s.v);
    } else if (f.num == 5 && f.wire == 2) {
      for (const Field& v : parse_message(f.bytes)) {
        REQUIRE(v.num == 1);
        std::string tag;
        std::optional<float> simple;
        std::optional<Image> image;
        for (const Field& x : parse_message(v.bytes)) {
          if (x.num == 1 && x.wire == 2) tag = x.bytes;
          else if (x.num == 2 && x.wire == 5) {
            const uint32_t bits = uint32_t(x.v);
            float fv;
            std::memcpy(&fv, &bits, 4);
            simple = fv;
          } else if (x.num == 4 && x.wire == 2) {
            Image im;
            for (const Field& y : parse_message(x.bytes)) {
              if (y.num == 1) im.height = int64_t(y.v);
              else if (y.num == 2) im.width = int64_t(y.v);
              else if (y.num == 3) im.colorspace = int64_t(y.v);
              else if (y.num == 4) im.encoded = y.bytes;
            }
            image = im;
          } else {
            FAIL("unexpected Summary.Value field ", x.num);
          }
        }
        REQUIRE(simple.has_value() != image.has_value());
        if (simple) e.scalars.emplace_back(tag, *simple);
        else e.images[tag] = *image;
      }
    } else {
      FAIL("unexpected Event field ", f.num, " wire type ", f.wire);
    }
  }
  return e;
}

std::vector<Event> read_events(const std::string& path) {
  std::vector<Event> out;
  for (const std::string& r : read_records(read_file(path))) out.push_back(decode_event(r));
  return out;
}

uint32_t be32(const std::string& s, size_t pos) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | uint8_t(s[pos + size_t(i)]);
  return v;
}
uint32_t crc32_bitwise(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
  }
  return ~c;
}

struct Png {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> rgb;
};
// PNG (RFC 2083) with an 8-bit RGB image in a zlib stream (RFC 1950) of stored deflate blocks (RFC 1951, 3.2.4):
// the only block type this reader knows, and the only one the encoder writes.
Png read_png(const std::string& s) {
  REQUIRE(s.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  Png p;
  std::string idat;
  size_t pos = 8;
  bool end = false;
  while (!end) {
    REQUIRE(pos + 12 <= s.size());
    const uint32_t n = be32(s, pos);
    const std::string type = s.substr(pos + 4, 4), data = s.substr(pos + 8, n);
    CHECK(be32(s, pos + 8 + n) == crc32_bitwise(type + data));
    if (type == "IHDR") {
      p.width = be32(data, 0), p.height = be32(data, 4);
      CHECK(data.substr(8) == std::string("\x08\x02\x00\x00\x00", 5));
    } else if (type == "IDAT") {
      idat += data;
    } else {
      REQUIRE(type == "IEND");
      end = true;
    }
    pos += 12 + n;
  }
  CHECK(pos == s.size());
  REQUIRE(idat.size() >= 6);
  CHECK(uint8_t(idat[0]) % 16 == 8);                                      // CM deflate
  CHECK((uint8_t(idat[0]) * 256 + uint8_t(idat[1])) % 31 == 0);          // FCHECK
  std::string raw;
  size_t z = 2;
  for (bool last = false; !last;) {
    const uint8_t h = uint8_t(idat[z]);
    last = h & 1;
    REQUIRE((h >> 1) == 0);   // stored
    const uint64_t len = le(idat, z + 1, 2), nlen = le(idat, z + 3, 2);
    CHECK((len ^ 0xffff) == nlen);
    raw += idat.substr(z + 5, len);
    z += 5 + len;
  }
  uint32_t a = 1, b = 0;
  for (unsigned char c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
  CHECK(be32(idat, z) == (b << 16 | a));
  CHECK(z + 4 == idat.size());
  REQUIRE(raw.size() == size_t(p.height) * (size_t(p.width) * 3 + 1));
  for (uint32_t y = 0; y < p.height; ++y) {
    const size_t row = size_t(y) * (size_t(p.width) * 3 + 1);
    CHECK(raw[row] == 0);   // filter: none
    p.rgb.insert(p.rgb.end(), raw.begin() + long(row) + 1, raw.begin() + long(row + 1 + p.width * 3));
  }
  return p;
}

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

std::vector<fs::path> event_files(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("tensorboard: CRC32C and its masking match the published check values") {
  const std::string nine = "123456789";
  CHECK(tensorboard::crc32c(nine.data(), nine.size()) == 0xe3069283u);   // RFC 3720, B.4 / the CRC catalogue
  CHECK(crc32c_bitwise(nine) == 0xe3069283u);
  CHECK(tensorboard::masked_crc32c(nine.data(), nine.size()) == masked(0xe3069283u));
  const std::string zeros(32, '\0');
  CHECK(tensorboard::crc32c(zeros.data(), zeros.size()) == 0x8a9136aau);   // RFC 3720, B.4: 32 bytes of zeros
}

TEST_CASE("tensorboard: an event file read back by an independent reader: framing, CRCs, fields") {
  const fs::path dir = scratch("spk_test_tb_writer");
  const double t0 = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string path;
  {
    tensorboard::EventWriter w(dir.string());
    path = w.path();
    w.scalars(10, {{"train/loss", 2.5f}, {"train/lr", 1e-3f}});
    w.scalars(20, {{"train/loss", 0.0f}, {"eval/eer", -7.25f}});
    w.image(20, "eval/det", 2, 3, "not really a png");
    w.session_start(21);
    w.scalars(int64_t(1) << 40, {{"big", 1.0f}});
  }
  CHECK(fs::path(path).parent_path() == dir);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string name = fs::path(path).filename().string();
  CHECK(name.rfind("events.out.tfevents.", 0) == 0);
  CHECK(name.size() > std::string(host).size());
  CHECK(name.substr(name.size() - std::string(host).size()) == host);

  const std::vector<Event> ev = read_events(path);
  REQUIRE(ev.size() == 6);
  CHECK(ev[0].file_version == "brain.Event:2");
  CHECK(ev[0].step == 0);
  for (const Event& e : ev) {
    CHECK(e.wall_time >= t0 - 1);
    CHECK(e.wall_time <= t0 + 60);
  }
  CHECK(ev[1].step == 10);
  CHECK(ev[1].scalars == std::vector<std::pair<std::string, float>>{{"train/loss", 2.5f}, {"train/lr", 1e-3f}});
  CHECK(ev[2].step == 20);
  CHECK(ev[2].scalars == std::vector<std::pair<std::string, float>>{{"train/loss", 0.0f}, {"eval/eer", -7.25f}});
  CHECK(ev[3].step == 20);
  REQUIRE(ev[3].images.count("eval/det") == 1);
  CHECK(ev[3].images.at("eval/det").height == 2);
  CHECK(ev[3].images.at("eval/det").width == 3);
  CHECK(ev[3].images.at("eval/det").colorspace == 3);
  CHECK(ev[3].images.at("eval/det").encoded == "not really a png");
  CHECK(ev[4].step == 21);
  CHECK(ev[4].session_status == 1);   // SessionLog.START
  CHECK(ev[5].step == int64_t(1) << 40);

  SUBCASE("a second writer in the same folder makes a new file and leaves the first as it was") {
    const std::string before = read_file(path);
    std::set<std::string> names;
    for (int k = 0; k < 3; ++k) {
      tensorboard::EventWriter w(dir.string());
      w.scalars(1, {{"x", float(k)}});
      names.insert(w.path());
    }
    CHECK(names.size() == 3);
    CHECK(names.count(path) == 0);
    CHECK(read_file(path) == before);
    for (const std::string& p : names) CHECK(read_events(p).size() == 2);
  }
  fs::remove_all(dir);
}

TEST_CASE("tensorboard: a record with a flipped bit fails the independent reader's CRC check") {
  // The reader above would accept anything if its CRC checks were vacuous: one flipped data bit must fail them.
  std::string r = tensorboard::frame_record(tensorboard::event_scalars(1.0, 3, {{"a", 1.0f}}));
  const size_t n = le(r, 0, 8);
  CHECK(le(r, 12 + n, 4) == masked(crc32c_bitwise(r.substr(12, n))));
  r[12 + n / 2] ^= 0x10;
  CHECK(le(r, 12 + n, 4) != masked(crc32c_bitwise(r.substr(12, n))));
}

#ifdef SPK_PROTOC
TEST_CASE("tensorboard: protoc decodes our records against tensorboard_event.proto") {
  const fs::path dir = scratch("spk_test_tb_protoc");
  fs::create_directories(dir);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {tensorboard::event_scalars(1700000000.5, 10, {{"train/loss", 0.5f}, {"train/accuracy", 75.0f}}),
       "wall_time: 1700000000.5\nstep: 10\nsummary {\n  value {\n    tag: \"train/loss\"\n    simple_value: 0.5\n  }\n"
       "  value {\n    tag: \"train/accuracy\"\n    simple_value: 75\n  }\n}\n"},
      {tensorboard::event_file_version(2.0), "wall_time: 2\nfile_version: \"brain.Event:2\"\n"},
      {tensorboard::event_session_start(3.0, 9), "wall_time: 3\nstep: 9\nsession_log {\n  status: START\n}\n"},
      {tensorboard::event_image(4.0, 12, "eval/det", 5, 6, 3, "PNG"),
       "wall_time: 4\nstep: 12\nsummary {\n  value {\n    tag: \"eval/det\"\n    image {\n      height: 5\n"
       "      width: 6\n      colorspace: 3\n      encoded_image_string: \"PNG\"\n    }\n  }\n}\n"}};
  for (size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(i);
    const fs::path in = dir / "event.bin", out = dir / "event.txt";
    std::ofstream(in, std::ios::binary) << cases[i].first;
    const std::string cmd = std::string(SPK_PROTOC) + " --proto_path=" + SPK_TENSORBOARD_PROTO_DIR +
                            " --decode=tensorboard.Event tensorboard_event.proto < " + in.string() + " > " +
                            out.string() + " 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK(read_file(out.string()) == cases[i].second);
  }
  fs::remove_all(dir);
}
#endif

TEST_CASE("png: an RGB image read back by an independent reader, pixel for pixel") {
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{3, 2}, {1, 1}, {200, 120}}) {   // 200x120: 2 blocks
    CAPTURE(w);
    std::vector<uint8_t> rgb(size_t(w) * h * 3);
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t(i * 37 + i / 7);
    const Png p = read_png(encode_png_rgb(w, h, rgb));
    CHECK(p.width == uint32_t(w));
    CHECK(p.height == uint32_t(h));
    CHECK(p.rgb == rgb);
  }
  CHECK_THROWS_WITH_AS(encode_png_rgb(2, 2, std::vector<uint8_t>(5)), doctest::Contains("5 bytes"), Error);
}

TEST_CASE("det_png: the curve is drawn in the plot area, the EER marked; an empty curve draws neither") {
  // Scores with overlap: a curve crossing the plot area, EER 25 %.
  std::vector<double> scores;
  std::vector<int> labels;
  for (int i = 0; i < 40; ++i) scores.push_back(i), labels.push_back(i >= 10 ? 1 : 0);
  for (int i = 0; i < 10; ++i) scores.push_back(15 + i), labels.push_back(0);
  auto count = [](const Png& p, uint8_t r, uint8_t g, uint8_t b) {
    int64_t n = 0;
    for (size_t i = 0; i + 2 < p.rgb.size(); i += 3) n += p.rgb[i] == r && p.rgb[i + 1] == g && p.rgb[i + 2] == b;
    return n;
  };
  const Png curve = read_png(det_png(det_curve(scores, labels), 25.0, 200));
  CHECK(curve.width == 200);
  CHECK(curve.height == 200);
  CHECK(count(curve, 31, 119, 180) > 100);   // the curve's blue
  CHECK(count(curve, 214, 39, 40) > 20);     // the EER mark's red
  const Png empty = read_png(det_png({}, -1, 200));
  CHECK(count(empty, 31, 119, 180) == 0);
  CHECK(count(empty, 214, 39, 40) == 0);
  CHECK(count(empty, 0, 0, 0) > 4 * 150);    // the frame
}

TEST_CASE("TrainTensorBoard: a failed write is reported once, then logging stops without an exception") {
  const fs::path dir = scratch("spk_test_tb_fail");
  std::vector<std::string> lines;
  TrainTensorBoard tb(dir.string(), 0, [&](const std::string& l) { lines.push_back(l); });
  StepProgress p;
  p.batch = 1, p.num_batches = 4, p.loss = 1.5, p.metric = 50, p.lr = 0.1, p.samples_per_s = 10;
  tb.on_step(p, 7);    // not a multiple of 10, not the epoch's last batch: nothing written
  tb.on_step(p, 10);
  const std::string path = tb.path();
  REQUIRE(read_events(path).size() == 3);   // file_version, SessionLog START at step 1, the scalars
  CHECK(read_events(path)[1].session_status == 1);
  CHECK(read_events(path)[1].step == 1);
  CHECK(read_events(path)[2].scalars.size() == 4);
  // The file's descriptor now refers to a read-only /dev/null (what a full disk looks like to fwrite: a failure).
  int fd = -1;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (fs::read_symlink(e.path(), ec) == fs::path(path)) fd = std::stoi(e.path().filename().string());
  }
  REQUIRE(fd >= 0);
  const int null = ::open("/dev/null", O_RDONLY);
  REQUIRE(::dup2(null, fd) == fd);
  ::close(null);
  CHECK_NOTHROW(tb.on_step(p, 20));
  CHECK_NOTHROW(tb.on_step(p, 30));
  CHECK_NOTHROW(tb.on_eval(30, {{"vt_eer", 5.0}, {"min_dcf", 0.3}}, {}));
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find(path) != std::string::npos);
  CHECK(lines[0].find("TensorBoard logging stops here") != std::string::npos);
  CHECK(tb.path().empty());
  fs::remove_all(dir);
}

#ifdef SPK_TRAIN_BINARY
namespace {
spk::test::TinyCorpus& fx() {
  static spk::test::TinyCorpus f("spk_test_tensorboard");
  return f;
}
// train_log.csv's rows by their `steps` column: column name -> value.
std::map<int64_t, std::map<std::string, double>> csv_by_step(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  REQUIRE(std::getline(f, line));
  auto split = [](const std::string& l) {
    std::vector<std::string> out;
    std::stringstream ss(l);
    for (std::string c; std::getline(ss, c, ',');) out.push_back(c);
    return out;
  };
  const std::vector<std::string> head = split(line);
  std::map<int64_t, std::map<std::string, double>> rows;
  while (std::getline(f, line)) {
    const std::vector<std::string> cells = split(line);
    REQUIRE(cells.size() == head.size());
    std::map<std::string, double> row;
    for (size_t i = 0; i < head.size(); ++i)
      if (head[i] != "train_metric_kind" && head[i] != "time") row[head[i]] = std::stod(cells[i]);
    rows[int64_t(row.at("steps"))] = row;
  }
  return rows;
}
std::map<std::string, std::vector<int64_t>> steps_by_tag(const std::vector<Event>& ev) {
  std::map<std::string, std::vector<int64_t>> m;
  for (const Event& e : ev) {
    for (const auto& [tag, v] : e.scalars) m[tag].push_back(e.step);
    for (const auto& [tag, im] : e.images) m[tag].push_back(e.step);
  }
  return m;
}
}  // namespace

TEST_CASE("spk_train: the TensorBoard events of a run, of its resumption, and --tensorboard false") {
  spk::test::TinyCorpus& f = fx();
  const std::string save = f.file("run");
  // 4 steps an epoch; scalars every 10 steps and at each epoch's last step; an evaluation every epoch.
  const std::string args = f.common + " --train_list " + f.train4 + " --test_interval 1 --save_path " + save;
  const spk::test::AppRun a = spk::test::run_binary(SPK_TRAIN_BINARY, args + " --max_epoch 2");
  INFO(a.output);
  REQUIRE(a.status == 0);
  const fs::path tb = fs::path(save) / "tensorboard";
  std::vector<fs::path> files = event_files(tb);
  REQUIRE(files.size() == 1);
  CHECK(a.output.find("TensorBoard: " + files[0].string()) != std::string::npos);
  const std::vector<Event> ev = read_events(files[0].string());
  REQUIRE(!ev.empty());
  CHECK(ev[0].file_version == "brain.Event:2");
  REQUIRE(ev.size() >= 2);
  CHECK(ev[1].session_status == 1);
  CHECK(ev[1].step == 1);
  const std::vector<int64_t> ends = {4, 8};
  CHECK(steps_by_tag(ev) == std::map<std::string, std::vector<int64_t>>{{"train/loss", ends},
                                                                       {"train/accuracy", ends},
                                                                       {"train/lr", ends},
                                                                       {"train/samples_per_sec", ends},
                                                                       {"eval/eer", ends},
                                                                       {"eval/min_dcf", ends},
                                                                       {"eval/det", ends}});
  // At an epoch's last step the running means are the epoch's figures: those of its train_log.csv row.
  const std::map<int64_t, std::map<std::string, double>> csv = csv_by_step(save + "/train_log.csv");
  const std::map<std::string, std::string> column = {{"train/loss", "loss"},     {"train/accuracy", "train_metric"},
                                                     {"train/lr", "lr"},         {"eval/eer", "vt_eer"},
                                                     {"eval/min_dcf", "min_dcf"}};
  for (const Event& e : ev) {
    for (const auto& [tag, v] : e.scalars) {
      CAPTURE(tag);
      CAPTURE(e.step);
      if (column.count(tag)) CHECK(v == doctest::Approx(csv.at(e.step).at(column.at(tag))).epsilon(1e-5));
      if (tag == "train/samples_per_sec") CHECK(v > 0);
    }
    for (const auto& [tag, im] : e.images) {
      const Png p = read_png(im.encoded);
      CHECK(p.width == uint32_t(im.width));
      CHECK(p.height == uint32_t(im.height));
    }
  }
  const std::string first = read_file(files[0].string());

  // Resumed to epoch 3 (steps 9..12): a new file, the old one untouched.
  const spk::test::AppRun b = spk::test::run_binary(SPK_TRAIN_BINARY, args + " --max_epoch 3");
  INFO(b.output);
  REQUIRE(b.status == 0);
  files = event_files(tb);
  REQUIRE(files.size() == 2);
  const fs::path added = read_file(files[0].string()) == first ? files[1] : files[0];
  CHECK(read_file((added == files[0] ? files[1] : files[0]).string()) == first);
  const std::vector<Event> ev2 = read_events(added.string());
  REQUIRE(ev2.size() >= 2);
  CHECK(ev2[0].file_version == "brain.Event:2");
  CHECK(ev2[1].session_status == 1);
  CHECK(ev2[1].step == 9);
  const std::map<std::string, std::vector<int64_t>> t2 = steps_by_tag(ev2);
  CHECK(t2.at("train/loss") == std::vector<int64_t>{10, 12});
  CHECK(t2.at("eval/eer") == std::vector<int64_t>{12});
  CHECK(t2.at("eval/det") == std::vector<int64_t>{12});

  const std::string off = f.file("off");
  const spk::test::AppRun c =
      spk::test::run_binary(SPK_TRAIN_BINARY, f.no_eval + " --train_list " + f.train4 + " --max_epoch 1 --tensorboard false --save_path " + off);
  INFO(c.output);
  REQUIRE(c.status == 0);
  CHECK(fs::exists(fs::path(off) / "train_log.csv"));
  CHECK(!fs::exists(fs::path(off) / "tensorboard"));
}
#endif  // SPK_TRAIN_BINARY
