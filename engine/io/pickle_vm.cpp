// The closed pickle interpreter: one switch over the opcodes listed in pickle_vm.h, on an explicit stack of
// arena nodes. Opcode names and semantics follow CPython's Lib/pickletools.py and Modules/_pickle.c.
#include "engine/io/pickle_vm.h"

#include <cstring>
#include <unordered_map>

#include "engine/check.h"

namespace spk::io {

using Kind = PickleValue::Kind;

const char* pickle_kind_name(Kind k) {
  switch (k) {
    case Kind::none: return "None";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::big_integer: return "int (wider than 64 bits)";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::bytes: return "bytes";
    case Kind::tuple: return "tuple";
    case Kind::list: return "list";
    case Kind::dict: return "dict";
    case Kind::set: return "set";
    case Kind::global: return "global";
    case Kind::persistent_id: return "persistent id";
    case Kind::tensor: return "tensor";
  }
  return "?";
}

std::string pickle_value_str(const PickleValue& v) {
  switch (v.kind) {
    case Kind::boolean: return v.boolean ? "bool True" : "bool False";
    case Kind::integer: return "int " + std::to_string(v.integer);
    case Kind::floating: return "float " + std::to_string(v.floating);
    case Kind::string: return "str '" + v.text.substr(0, 64) + "'";
    case Kind::global: return "global " + v.text;
    case Kind::tuple: case Kind::list: case Kind::set:
      return std::string(pickle_kind_name(v.kind)) + " of " + std::to_string(v.items.size());
    default: return pickle_kind_name(v.kind);
  }
}

namespace {

const char* opcode_name(uint8_t op) {
  switch (op) {
    case '(': return "MARK"; case '.': return "STOP"; case '0': return "POP"; case '1': return "POP_MARK";
    case '2': return "DUP"; case 'F': return "FLOAT"; case 'I': return "INT"; case 'J': return "BININT";
    case 'K': return "BININT1"; case 'L': return "LONG"; case 'M': return "BININT2"; case 'N': return "NONE";
    case 'P': return "PERSID"; case 'Q': return "BINPERSID"; case 'R': return "REDUCE"; case 'S': return "STRING";
    case 'T': return "BINSTRING"; case 'U': return "SHORT_BINSTRING"; case 'V': return "UNICODE";
    case 'X': return "BINUNICODE"; case 'a': return "APPEND"; case 'b': return "BUILD"; case 'c': return "GLOBAL";
    case 'd': return "DICT"; case '}': return "EMPTY_DICT"; case 'e': return "APPENDS"; case 'g': return "GET";
    case 'h': return "BINGET"; case 'i': return "INST"; case 'j': return "LONG_BINGET"; case 'l': return "LIST";
    case ']': return "EMPTY_LIST"; case 'o': return "OBJ"; case 'p': return "PUT"; case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT"; case 's': return "SETITEM"; case 't': return "TUPLE"; case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS"; case 'G': return "BINFLOAT"; case 0x80: return "PROTO"; case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1"; case 0x83: return "EXT2"; case 0x84: return "EXT4"; case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2"; case 0x87: return "TUPLE3"; case 0x88: return "NEWTRUE"; case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1"; case 0x8b: return "LONG4"; case 'B': return "BINBYTES"; case 'C': return "SHORT_BINBYTES";
    case 0x8c: return "SHORT_BINUNICODE"; case 0x8d: return "BINUNICODE8"; case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET"; case 0x90: return "ADDITEMS"; case 0x91: return "FROZENSET"; case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL"; case 0x94: return "MEMOIZE"; case 0x95: return "FRAME"; case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER"; case 0x98: return "READONLY_BUFFER";
  }
  return "unknown opcode";
}

// The classes and functions a state_dict pickle may name. Storages of dtypes spk lacks are accepted here
// and refused only when a tensor uses them, so that an unused one does not make a file unreadable.
bool whitelisted(const std::string& g) {
  static const char* const names[] = {
      "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
      "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
      "torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.BFloat16Storage",
      "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage",
      "torch.BoolStorage"};
  for (const char* n : names)
    if (g == n) return true;
  return false;
}

class Vm {
 public:
  Vm(std::string_view data, size_t offset, const std::string& where, const PickleLimits& limits)
      : d_(data), pos_(offset), where_(where), lim_(limits) {}

  PickleTree run() {
    none_ = make(Kind::none);
    true_ = make(Kind::boolean);
    true_->boolean = true;
    false_ = make(Kind::boolean);
    while (true) {
      if (pos_ >= d_.size()) SPK_FAIL(where_, ": pickle ends at byte ", pos_, " without a STOP opcode (truncated?)");
      op_pos_ = pos_;
      op_ = uint8_t(d_[pos_++]);
      if (op_ == '.') break;
      step();
    }
    if (!marks_.empty()) fail("STOP with an open MARK");
    if (stack_.size() != 1) fail("STOP with ", stack_.size(), " values on the stack instead of 1");
    tree_.root = stack_.back();
    tree_.end = pos_;
    return std::move(tree_);
  }

 private:
  std::string_view d_;
  size_t pos_, op_pos_ = 0;
  uint8_t op_ = 0;
  const std::string& where_;
  const PickleLimits& lim_;
  PickleTree tree_;
  std::vector<PickleValue*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleValue*> memo_;
  PickleValue *none_ = nullptr, *true_ = nullptr, *false_ = nullptr;   // shared: None/True/False cost one node each

  template <class... A>
  [[noreturn]] void fail(const A&... a) {
    SPK_FAIL(where_, ": pickle opcode ", opcode_name(op_), " (0x", hex(op_), ") at byte ", op_pos_, ": ", a...);
  }
  static std::string hex(uint8_t b) {
    const char* digits = "0123456789abcdef";
    return {digits[b >> 4], digits[b & 15]};
  }

  // ---- input
  std::string_view take(uint64_t n) {
    if (n > d_.size() - pos_) fail("needs ", n, " bytes but only ", d_.size() - pos_, " remain");
    std::string_view s = d_.substr(pos_, size_t(n));
    pos_ += size_t(n);
    return s;
  }
  uint64_t uint_le(int n) {
    std::string_view s = take(uint64_t(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | uint8_t(s[size_t(i)]);
    return v;
  }
  std::string_view line() {   // text argument ended by '\n' (GLOBAL, PERSID), at most 1000 bytes
    size_t nl = d_.find('\n', pos_);
    if (nl == std::string_view::npos || nl - pos_ > 1000) fail("text argument without a newline within 1000 bytes");
    std::string_view s = d_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }

  // ---- values
  PickleValue* make(Kind k) {
    if (tree_.nodes.size() >= lim_.max_nodes) fail("more than ", lim_.max_nodes, " values (pickle bomb?)");
    PickleValue& v = tree_.nodes.emplace_back();
    v.kind = k;
    return &v;
  }
  void push(PickleValue* v) {
    if (stack_.size() >= lim_.max_stack) fail("stack deeper than ", lim_.max_stack, " values (pickle bomb?)");
    stack_.push_back(v);
  }
  PickleValue* pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
    PickleValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleValue* top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
    return stack_.back();
  }
  std::vector<PickleValue*> pop_mark() {   // the values above the last MARK, in order; removes the MARK
    if (marks_.empty()) fail("no MARK on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PickleValue*> out(stack_.begin() + ptrdiff_t(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  void push_int(int64_t i) {
    PickleValue* v = make(Kind::integer);
    v->integer = i;
    push(v);
  }
  void push_text(Kind k, std::string_view s) {
    PickleValue* v = make(k);
    v->text = s;
    push(v);
  }
  void push_long(uint64_t n) {   // LONG1/LONG4: n-byte little-endian two's complement
    if (n > 16) fail("integer of ", n, " bytes is wider than the 128 bits supported");
    std::string_view b = take(n);
    if (n <= 8) {
      uint64_t u = 0;
      for (size_t i = n; i-- > 0;) u = (u << 8) | uint8_t(b[i]);
      if (n > 0 && n < 8 && (uint8_t(b[n - 1]) & 0x80)) u |= ~uint64_t(0) << (8 * n);   // sign-extend
      push_int(int64_t(u));
    } else {
      push_text(Kind::big_integer, b);
    }
  }
  void push_tuple(std::vector<PickleValue*> items) {
    PickleValue* v = make(Kind::tuple);
    v->items = std::move(items);
    push(v);
  }
  void memo_put(uint64_t key) {
    if (memo_.size() >= lim_.max_memo && !memo_.count(key)) fail("memo larger than ", lim_.max_memo, " entries");
    memo_[key] = top();
  }
  void memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key ", key, " was never stored");
    push(it->second);
  }
  void global(std::string module, std::string_view name) {
    std::string g = module + "." + std::string(name);
    if (!whitelisted(g)) fail("class or function '", g, "' is not allowed (only the torch state_dict classes are)");
    push_text(Kind::global, g);
  }
  PickleValue* expect(PickleValue* v, Kind k, const char* what) {
    if (v->kind != k) fail(what, " must be a ", pickle_kind_name(k), ", not ", pickle_value_str(*v));
    return v;
  }

  // REDUCE / NEWOBJ: call a whitelisted global on an argument tuple, without running anything.
  PickleValue* call(PickleValue* fn, PickleValue* args) {
    if (fn->kind != Kind::global) fail("calling ", pickle_value_str(*fn), ", which is not a class or function");
    expect(args, Kind::tuple, "the argument list");
    const std::string& g = fn->text;
    if (g == "collections.OrderedDict") {
      if (!args->items.empty()) fail("collections.OrderedDict with arguments is not supported");
      return make(Kind::dict);
    }
    if (g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_tensor") {
      PickleValue* t = make(Kind::tensor);
      t->text = g;
      t->items = args->items;
      return t;
    }
    if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
      // (data, requires_grad, backward_hooks[, state]): the parameter is its data for our purposes.
      if (args->items.empty() || args->items[0]->kind != Kind::tensor) fail(g, " needs a tensor as its first argument");
      return args->items[0];
    }
    fail("'", g, "' cannot be called");
  }

  void add_items(PickleValue* container, const std::vector<PickleValue*>& items) {
    if (container->kind == Kind::list || container->kind == Kind::set) {
      if (items.size() > lim_.max_nodes - container->items.size()) fail("container too large");
      container->items.insert(container->items.end(), items.begin(), items.end());
    } else {
      fail("appending to a ", pickle_kind_name(container->kind));
    }
  }
  void set_items(PickleValue* dict, const std::vector<PickleValue*>& kv) {
    if (dict->kind != Kind::dict) fail("setting items of a ", pickle_kind_name(dict->kind));
    if (kv.size() % 2) fail("odd number of values (", kv.size(), ") for key/value pairs");
    if (kv.size() > lim_.max_nodes - dict->items.size()) fail("dict too large");
    dict->items.insert(dict->items.end(), kv.begin(), kv.end());
  }

  void step() {
    switch (op_) {
      case 0x80: {   // PROTO
        const uint8_t proto = uint8_t(take(1)[0]);
        if (proto > 5) fail("pickle protocol ", int(proto), " is newer than the protocol 5 supported");
        return;
      }
      case 0x95: {   // FRAME: a length hint for buffered readers; the opcodes follow inline
        const uint64_t n = uint_le(8);
        if (n > d_.size() - pos_) fail("frame of ", n, " bytes but only ", d_.size() - pos_, " remain");
        return;
      }
      case '(':
        if (marks_.size() >= lim_.max_mark_depth) fail("more than ", lim_.max_mark_depth, " nested MARKs (pickle bomb?)");
        marks_.push_back(stack_.size());
        return;
      case '0': pop(); return;
      case '1': pop_mark(); return;
      case '2': push(top()); return;
      case 'N': push(none_); return;
      case 0x88: push(true_); return;
      case 0x89: push(false_); return;
      case 'J': push_int(int32_t(uint32_t(uint_le(4)))); return;
      case 'K': push_int(int64_t(uint_le(1))); return;
      case 'M': push_int(int64_t(uint_le(2))); return;
      case 0x8a: push_long(uint_le(1)); return;
      case 0x8b: {
        const int64_t n = int32_t(uint32_t(uint_le(4)));
        if (n < 0) fail("negative length ", n);
        push_long(uint64_t(n));
        return;
      }
      case 'G': {
        uint64_t bits = 0;   // big-endian IEEE 754
        for (char c : take(8)) bits = (bits << 8) | uint8_t(c);
        PickleValue* v = make(Kind::floating);
        std::memcpy(&v->floating, &bits, 8);
        push(v);
        return;
      }
      case 'X': push_text(Kind::string, take(uint_le(4))); return;
      case 0x8c: push_text(Kind::string, take(uint_le(1))); return;
      case 0x8d: push_text(Kind::string, take(uint_le(8))); return;
      case 'T': {
        const int64_t n = int32_t(uint32_t(uint_le(4)));
        if (n < 0) fail("negative length ", n);
        push_text(Kind::string, take(uint64_t(n)));
        return;
      }
      case 'U': push_text(Kind::string, take(uint_le(1))); return;
      case 'B': push_text(Kind::bytes, take(uint_le(4))); return;
      case 'C': push_text(Kind::bytes, take(uint_le(1))); return;
      case 0x8e: case 0x96: push_text(Kind::bytes, take(uint_le(8))); return;
      case ')': push_tuple({}); return;
      case 't': push_tuple(pop_mark()); return;
      case 0x85: { PickleValue* a = pop(); push_tuple({a}); return; }
      case 0x86: { PickleValue* b = pop(); PickleValue* a = pop(); push_tuple({a, b}); return; }
      case 0x87: { PickleValue* c = pop(); PickleValue* b = pop(); PickleValue* a = pop(); push_tuple({a, b, c}); return; }
      case ']': push(make(Kind::list)); return;
      case 'l': { auto items = pop_mark(); PickleValue* v = make(Kind::list); v->items = std::move(items); push(v); return; }
      case 'a': { PickleValue* x = pop(); add_items(top(), {x}); return; }
      case 'e': { auto items = pop_mark(); add_items(top(), items); return; }
      case '}': push(make(Kind::dict)); return;
      case 'd': { auto kv = pop_mark(); PickleValue* v = make(Kind::dict); set_items(v, kv); push(v); return; }
      case 's': { PickleValue* val = pop(); PickleValue* key = pop(); set_items(top(), {key, val}); return; }
      case 'u': { auto kv = pop_mark(); set_items(top(), kv); return; }
      case 0x8f: push(make(Kind::set)); return;
      case 0x90: { auto items = pop_mark(); add_items(top(), items); return; }
      case 'c': {
        std::string module(line());
        global(std::move(module), line());
        return;
      }
      case 0x93: {
        PickleValue* name = expect(pop(), Kind::string, "STACK_GLOBAL's name");
        PickleValue* module = expect(pop(), Kind::string, "STACK_GLOBAL's module");
        global(module->text, name->text);
        return;
      }
      case 'R': { PickleValue* args = pop(); PickleValue* fn = pop(); push(call(fn, args)); return; }
      case 0x81: { PickleValue* args = pop(); PickleValue* cls = pop(); push(call(cls, args)); return; }
      case 'b': {
        // BUILD sets an object's state: OrderedDict's is its attribute dict (torch puts `_metadata` there),
        // a tensor's is unused by a state_dict. Neither carries data we keep.
        PickleValue* state = pop();
        PickleValue* obj = top();
        if (obj->kind != Kind::dict && obj->kind != Kind::tensor)
          fail("BUILD on a ", pickle_kind_name(obj->kind), " is not supported");
        (void)state;
        return;
      }
      case 'Q': { PickleValue* pid = pop(); PickleValue* v = make(Kind::persistent_id); v->items = {pid}; push(v); return; }
      case 'P': {
        PickleValue* pid = make(Kind::string);
        pid->text = line();
        PickleValue* v = make(Kind::persistent_id);
        v->items = {pid};
        push(v);
        return;
      }
      case 'q': memo_put(uint_le(1)); return;
      case 'r': memo_put(uint_le(4)); return;
      case 0x94: memo_put(memo_.size()); return;
      case 'h': memo_get(uint_le(1)); return;
      case 'j': memo_get(uint_le(4)); return;
      default: fail("not supported (a torch state_dict pickle does not use it)");
    }
  }
};

}  // namespace

PickleTree unpickle(std::string_view data, size_t offset, const std::string& where, const PickleLimits& limits) {
  SPK_CHECK(offset <= data.size(), where, ": pickle offset ", offset, " past the end (", data.size(), " bytes)");
  return Vm(data, offset, where, limits).run();
}

}  // namespace spk::io
