// A closed pickle interpreter (protocols 2-5) that builds a small value tree and never executes anything.
//
// It knows the opcodes a torch.save state_dict uses (Python's Lib/pickletools.py documents each one) and a
// whitelist of classes: collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_tensor /
// _rebuild_parameter / _rebuild_parameter_with_state, and the typed storages torch.<Type>Storage. Calls to
// those become tree nodes (an empty dict, a tensor node holding its rebuild arguments, the parameter's data);
// any other opcode or class is an spk::Error naming it with its byte offset. Persistent ids (torch's storage
// references) become `persistent_id` nodes for the caller to resolve.
//
// Hostile input: every length is checked against the remaining input before anything is allocated, integers
// wider than 128 bits are refused, and the MARK depth, stack size, memo size and node count are bounded
// (PickleLimits). Nodes live in an arena owned by the PickleTree, so memo references may form shared or cyclic
// graphs without leaking or recursing; code walking the tree must bound its own depth (PickleLimits::max_depth).
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace spk::io {

struct PickleLimits {
  size_t max_mark_depth = 1000;       // nested MARKs open at once
  size_t max_stack = 1'000'000;       // values on the stack
  size_t max_memo = 1'000'000;        // memo entries
  size_t max_nodes = 4'000'000;       // values created by one pickle (about 100 bytes each)
  size_t max_depth = 1000;            // container nesting, for code that walks the tree
};

struct PickleValue {
  enum class Kind : uint8_t {
    none, boolean, integer, big_integer, floating, string, bytes,
    tuple, list, dict, set,
    global,          // a whitelisted class or function: text = "module.name"
    persistent_id,   // items = {pid}
    tensor,          // items = the rebuild call's arguments; text = the rebuild function ("module.name")
  };
  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0;
  std::string text;   // string, bytes, global, tensor; big_integer: little-endian two's complement bytes
  std::vector<PickleValue*> items;   // tuple, list, set, persistent_id, tensor; dict: key, value, key, value, ...
};

const char* pickle_kind_name(PickleValue::Kind kind);   // "dict", "tensor", ... for messages
std::string pickle_value_str(const PickleValue& v);      // short description: "int 3", "str 'abc'", "tuple of 2"

struct PickleTree {
  std::deque<PickleValue> nodes;   // the arena (stable addresses)
  const PickleValue* root = nullptr;
  size_t end = 0;                  // offset just past the STOP opcode
};

// Runs the pickle that starts at data[offset]. `where` starts every error message ("torch checkpoint x.pt").
PickleTree unpickle(std::string_view data, size_t offset, const std::string& where, const PickleLimits& limits = {});

}  // namespace spk::io
