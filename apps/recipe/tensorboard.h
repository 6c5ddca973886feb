// TensorBoard event files: what spk_train writes to <save_path>/tensorboard/ (docs/recipes.md, "TensorBoard").
//
// An event file is a sequence of TFRecords, each framing one serialized `tensorboard.Event` protobuf:
//   uint64 length (little-endian), uint32 masked CRC32C of those 8 bytes, the data, uint32 masked CRC32C of the data,
// masked crc = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (tensorboard/summary/writer/record_writer.py). The first
// record holds file_version "brain.Event:2"; the others one Summary (scalars or an image) at a step.
//
// The messages are encoded here by hand rather than with protoc-generated classes: five messages with a dozen
// scalar and length-delimited fields take ~60 lines, and libprotobuf would become a link dependency of every user
// of the installed static spk_recipe (spkConfig.cmake, spk.pc) and tie the build to the protoc that generated the
// sources. The field numbers are TensorBoard's (tensorboard/compat/proto/event.proto and summary.proto), kept as a
// .proto subset in apps/recipe/tensorboard_event.proto; where protoc is installed, the tests decode our records with
// it against that file (tests/recipe/test_tensorboard.cpp).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace spk::recipe::tensorboard {

// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), and TFRecord's masking of it.
uint32_t crc32c(const void* data, size_t n);
uint32_t masked_crc32c(const void* data, size_t n);

// One TFRecord around `data`.
std::string frame_record(const std::string& data);

// Serialized Event messages.
std::string event_file_version(double wall_time);   // file_version "brain.Event:2"
std::string event_scalars(double wall_time, int64_t step, const std::vector<std::pair<std::string, float>>& values);
// An image summary: encoded (PNG) bytes with their size; colorspace 3 = RGB.
std::string event_image(double wall_time, int64_t step, const std::string& tag, int height, int width,
                        int colorspace, const std::string& encoded);
// SessionLog START at `step`, which a run writes before its first step (tensorboard_log.h).
std::string event_session_start(double wall_time, int64_t step);

// "events.out.tfevents.<unix seconds>.<hostname>", the name TensorBoard looks for (it globs *tfevents*).
std::string event_file_name(int64_t unix_seconds, const std::string& hostname);

// Appends records to a new event file in `dir` (created if missing). The file is opened exclusively: an existing
// file (a run started in the same second on this host) is never reopened, the name gets ".1", ".2", ... instead.
// Every record is flushed as it is written, so a killed run leaves whole records (at most the last one cut short,
// which TensorBoard's reader skips). Errors throw spk::Error naming the file.
class EventWriter {
 public:
  explicit EventWriter(const std::string& dir);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  void scalars(int64_t step, const std::vector<std::pair<std::string, float>>& values);
  void image(int64_t step, const std::string& tag, int height, int width, const std::string& png);
  void session_start(int64_t step);
  const std::string& path() const { return path_; }

 private:
  void write(const std::string& event);
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace spk::recipe::tensorboard
