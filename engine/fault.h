// Fault injection: one hook, the SPK_FAULT environment variable, a supported debugging facility (docs/reliability.md)
// that the crash-consistency, disk-full, NaN and out-of-memory tests drive. It is compiled into every build; a
// point that no rule names costs one relaxed atomic load.
//
//   SPK_FAULT=<point>:<action>[@N | @N-M | @N+][,<point>:<action>...]
//
// A point is a named place in the code (below); each time the code passes it is a hit, counted from 1 per
// process. A rule acts on hit N only (@N), on hits N to M (@N-M), on hit N and every later one (@N+), or on
// every hit (no @). Actions:
//   kill   the process raises SIGKILL on itself: it dies at once, as under `kill -9` or a power cut (without
//          the page cache loss), leaving files exactly as they are at that moment
//   throw  a spk::Error ("SPK_FAULT: injected error at <point> (hit N)"), to exercise the clean-up paths
//   fail   the operation at the point fails as it can in the wild: the caller simulates that failure
//          (a write: ENOSPC, an fsync/rename: EIO, an allocation: out of memory, a loss or gradient: NaN)
// Every injection prints one line to stderr first. The value is parsed once, on the first hit of any point or
// on check_env(); a malformed value is an error naming SPK_FAULT and what is wrong, never silently ignored.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace spk::fault {

enum class Point : int {
  atomic_write,       // "atomic.write"      AtomicFile::write, before each write(2) of the temporary file
  atomic_fsync,       // "atomic.fsync"      all bytes written, before the fsync of the temporary file
  atomic_rename,      // "atomic.rename"     temporary file synced and closed, before the rename over the target
  atomic_dir_fsync,   // "atomic.dir_fsync"  renamed, before the fsync of the directory
  atomic_committed,   // "atomic.committed"  after the directory fsync: the new file is complete and durable
  alloc,              // "alloc"             every tensor storage allocation (host and device)
  train_loss,         // "train.loss"        a training step's loss, before it is read (fail: it becomes NaN)
  train_grad,         // "train.grad"        after backward, before the gradients are checked (fail: one is NaN)
  train_step,         // "train.step"        after a training step's optimiser update
  dist_init,          // "dist.init"         make_mpi_communicator (fail: MPI is reported as not built)
  dist_collective,    // "dist.collective"   before each collective of a communicator (fail: this rank hangs)
  count
};

enum class Action { kill, throw_error, fail };

struct Rule {
  Point point = Point::atomic_write;
  Action action = Action::kill;
  uint64_t first = 1, last = UINT64_MAX;   // the hits it acts on, inclusive
};

const char* point_name(Point p);

// Parses an SPK_FAULT value ("" -> no rules). Throws spk::Error naming SPK_FAULT on any mistake: an unknown
// point or action, `fail` at a point that has no failure to simulate, a malformed or empty hit range.
std::vector<Rule> parse(const std::string& spec);

// Parses SPK_FAULT now, so that an app reports a bad value before doing any work.
void check_env();

// Counts a hit of `p`. A kill or throw rule that matches acts here; returns true when a fail rule matches
// (the caller then fails as documented at the point), false otherwise.
bool hit(Point p);

// Whether some rule names `p` (without counting a hit): code that must consult a point at a moment it would
// otherwise skip (the trainer reads its loss every step only while train.grad is armed) asks this first.
bool armed(Point p);

// Tests only, single-threaded: replaces the rules (and zeroes the hit counts) for the lifetime of the object,
// then restores what SPK_FAULT said.
class ScopedFaults {
 public:
  explicit ScopedFaults(const std::string& spec);
  ~ScopedFaults();
  ScopedFaults(const ScopedFaults&) = delete;
  ScopedFaults& operator=(const ScopedFaults&) = delete;
};

}  // namespace spk::fault
