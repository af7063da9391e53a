#include "SafeUnpickler.h"

#include <bit>
#include <cstring>
#include <optional>
#include <unordered_map>

namespace kiln::convert {

namespace {

constexpr uint32_t kMaxDepth = 64;
constexpr size_t kMaxStack = 1u << 20;

// The classes torch.save names storages by, with their element types.
std::optional<DType> storageDType(std::string_view name) {
  static constexpr std::pair<std::string_view, DType> kStorages[] = {
      {"FloatStorage", DType::F32},   {"HalfStorage", DType::F16},
      {"BFloat16Storage", DType::BF16}, {"DoubleStorage", DType::F64},
      {"LongStorage", DType::I64},    {"IntStorage", DType::I32},
      {"ShortStorage", DType::I16},   {"CharStorage", DType::I8},
      {"ByteStorage", DType::U8},     {"BoolStorage", DType::Bool},
  };
  for (const auto &[text, dtype] : kStorages)
    if (text == name)
      return dtype;
  return std::nullopt;
}

bool isAllowedGlobal(const std::string &module, const std::string &name) {
  if (module == "collections" && name == "OrderedDict")
    return true;
  if (module == "torch._utils" &&
      (name == "_rebuild_tensor_v2" || name == "_rebuild_parameter"))
    return true;
  return module == "torch" && storageDType(name).has_value();
}

PyRef make(auto value, uint32_t depth = 1) {
  auto ref = std::make_shared<PyValue>();
  ref->value = std::move(value);
  ref->depth = depth;
  return ref;
}

class Unpickler {
public:
  Unpickler(std::span<const uint8_t> bytes, const std::string &source)
      : bytes_(bytes), source_(source) {}

  Result<PyRef> run();

private:
  template <typename... Parts> Error fail(Parts &&...parts) const {
    return makeError(source_, ": pickle byte ", std::to_string(opStart_),
                     " (opcode 0x", hex(opcode_), "): ",
                     std::forward<Parts>(parts)...);
  }
  static std::string hex(uint8_t byte) {
    const char *digits = "0123456789abcdef";
    return {digits[byte >> 4], digits[byte & 15]};
  }
  bool have(uint64_t n) const { return bytes_.size() - pos_ >= n; }
  uint64_t readLE(int width) {
    uint64_t value = 0;
    for (int i = width - 1; i >= 0; --i)
      value = (value << 8) | bytes_[pos_ + static_cast<size_t>(i)];
    pos_ += static_cast<size_t>(width);
    return value;
  }
  Status push(PyRef value) {
    if (value->depth > kMaxDepth)
      return fail("objects nested more than ", std::to_string(kMaxDepth),
                  " deep");
    if (stack_.size() >= kMaxStack)
      return fail("stack deeper than ", std::to_string(kMaxStack));
    stack_.push_back(std::move(value));
    return {};
  }
  Result<PyRef> pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
      return fail("stack underflow");
    PyRef value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }
  // The items above the topmost mark, which is removed.
  Result<std::vector<PyRef>> popMark() {
    if (marks_.empty())
      return fail("no mark on the stack");
    size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<PyRef> items(std::make_move_iterator(stack_.begin() + mark),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }
  Result<PyRef> top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
      return fail("stack underflow");
    return stack_.back();
  }
  // The depth of a container of `items`; freezes them.
  static uint32_t depthOf(const std::vector<PyRef> &items) {
    uint32_t depth = 0;
    for (const PyRef &item : items) {
      depth = std::max(depth, item->depth);
      item->frozen = true;
    }
    return depth + 1;
  }
  Status readString(uint64_t length, bool isBytes) {
    if (!have(length))
      return fail("string of ", std::to_string(length),
                  " bytes runs past the end");
    std::string text(reinterpret_cast<const char *>(bytes_.data() + pos_), length);
    pos_ += length;
    return isBytes ? push(make(PyBytes{std::move(text)}))
                   : push(make(std::move(text)));
  }
  Status memoPut(uint64_t index) {
    auto value = top();
    if (!value)
      return std::move(value).takeError();
    memo_[index] = *value;
    return {};
  }
  Status memoGet(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end())
      return fail("memo entry ", std::to_string(index), " is not set");
    return push(it->second);
  }
  Status global(std::string module, std::string name) {
    if (!isAllowedGlobal(module, name))
      return fail("global '", module, ".", name,
                  "' is not allowed in a checkpoint (only tensor rebuilds, "
                  "storages and OrderedDict are); nothing was executed");
    return push(make(PyGlobal{std::move(module), std::move(name)}));
  }
  Status setItems(std::vector<PyRef> items);
  Status reduce();
  Status persistentLoad();
  Result<std::vector<int64_t>> intTuple(const PyRef &value, const char *what);

  std::span<const uint8_t> bytes_;
  const std::string &source_;
  size_t pos_ = 0;
  size_t opStart_ = 0;
  uint8_t opcode_ = 0;
  std::vector<PyRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyRef> memo_;
  std::unordered_map<std::string, std::shared_ptr<const PyStorage>> storages_;
};

Status Unpickler::setItems(std::vector<PyRef> items) {
  if (items.size() % 2)
    return fail("odd number of items for a dict");
  auto target = top();
  if (!target)
    return std::move(target).takeError();
  auto *dict = std::get_if<PyDict>(&(*target)->value);
  if (!dict)
    return fail("SETITEM(S) on something that is not a dict");
  // Freezing the items first makes a dict that would hold itself fail.
  uint32_t depth = depthOf(items);
  if ((*target)->frozen)
    return fail("SETITEM(S) on a dict already inside another object");
  (*target)->depth = std::max((*target)->depth, depth);
  for (size_t i = 0; i < items.size(); i += 2)
    dict->items.emplace_back(std::move(items[i]), std::move(items[i + 1]));
  if ((*target)->depth > kMaxDepth)
    return fail("objects nested more than ", std::to_string(kMaxDepth), " deep");
  return {};
}

Result<std::vector<int64_t>> Unpickler::intTuple(const PyRef &value,
                                                 const char *what) {
  auto *tuple = std::get_if<PyTuple>(&value->value);
  if (!tuple)
    return fail(what, " is not a tuple");
  std::vector<int64_t> ints;
  for (const PyRef &item : tuple->items) {
    auto *number = std::get_if<int64_t>(&item->value);
    if (!number || *number < 0)
      return fail(what, " holds something other than a non-negative integer");
    ints.push_back(*number);
  }
  return ints;
}

Status Unpickler::persistentLoad() {
  auto pid = pop();
  if (!pid)
    return std::move(pid).takeError();
  auto *tuple = std::get_if<PyTuple>(&(*pid)->value);
  if (!tuple || tuple->items.size() != 5)
    return fail("persistent id is not a 5-tuple ('storage', type, key, "
                "location, numel)");
  auto &items = tuple->items;
  auto *tag = std::get_if<std::string>(&items[0]->value);
  auto *type = std::get_if<PyGlobal>(&items[1]->value);
  auto *key = std::get_if<std::string>(&items[2]->value);
  auto *numel = std::get_if<int64_t>(&items[4]->value);
  if (!tag || *tag != "storage" || !type || !key || !numel || *numel < 0)
    return fail("persistent id is not ('storage', torch.XStorage, key, "
                "location, numel)");
  auto dtype = storageDType(type->name);
  if (!dtype || type->module != "torch")
    return fail("persistent id names '", type->module, ".", type->name,
                "', not a storage class");
  auto &storage = storages_[*key];
  if (!storage)
    storage = std::make_shared<PyStorage>(
        PyStorage{*dtype, *key, static_cast<uint64_t>(*numel)});
  else if (storage->dtype != *dtype)
    return fail("storage '", *key, "' is used with two element types");
  return push(make(PyStorage(*storage)));
}

Status Unpickler::reduce() {
  auto args = pop();
  if (!args)
    return std::move(args).takeError();
  auto callable = pop();
  if (!callable)
    return std::move(callable).takeError();
  auto *function = std::get_if<PyGlobal>(&(*callable)->value);
  auto *tuple = std::get_if<PyTuple>(&(*args)->value);
  if (!function || !tuple)
    return fail("REDUCE of something that is not an allowed global");
  const auto &a = tuple->items;
  const std::string name = function->module + "." + function->name;
  if (name == "collections.OrderedDict") {
    if (!a.empty())
      return fail("OrderedDict called with arguments");
    return push(make(PyDict{}));
  }
  if (name == "torch._utils._rebuild_parameter") {
    if (a.size() < 1 || !std::holds_alternative<PyTensor>(a[0]->value))
      return fail("_rebuild_parameter without a tensor");
    return push(a[0]);
  }
  if (name == "torch._utils._rebuild_tensor_v2") {
    if (a.size() < 4)
      return fail("_rebuild_tensor_v2 with ", std::to_string(a.size()),
                  " arguments");
    auto *storage = std::get_if<PyStorage>(&a[0]->value);
    auto *offset = std::get_if<int64_t>(&a[1]->value);
    if (!storage || !offset || *offset < 0)
      return fail("_rebuild_tensor_v2: bad storage or offset");
    auto shape = intTuple(a[2], "tensor size");
    if (!shape)
      return std::move(shape).takeError();
    auto stride = intTuple(a[3], "tensor stride");
    if (!stride)
      return std::move(stride).takeError();
    if (shape->size() != stride->size())
      return fail("tensor size and stride have different lengths");
    PyTensor tensor;
    tensor.storage = std::make_shared<PyStorage>(*storage);
    tensor.offset = static_cast<uint64_t>(*offset);
    tensor.shape = std::move(*shape);
    tensor.stride = std::move(*stride);
    return push(make(std::move(tensor)));
  }
  return fail("call of '", name, "' is not allowed");
}

Result<PyRef> Unpickler::run() {
  while (true) {
    if (!have(1))
      return makeError(source_, ": pickle ends without a STOP opcode");
    opStart_ = pos_;
    opcode_ = bytes_[pos_++];
    auto need = [&](uint64_t n) -> Status {
      if (!have(n))
        return fail("truncated argument");
      return {};
    };
    switch (opcode_) {
    case 0x80: // PROTO
      KILN_TRY(need(1));
      if (bytes_[pos_] > 5)
        return fail("pickle protocol ", std::to_string(bytes_[pos_]),
                    " is unknown");
      ++pos_;
      break;
    case 0x95: // FRAME: a length hint only
      KILN_TRY(need(8));
      pos_ += 8;
      break;
    case '.': { // STOP
      auto result = pop();
      return result;
    }
    case '(': // MARK
      marks_.push_back(stack_.size());
      break;
    case '}': KILN_TRY(push(make(PyDict{}))); break;
    case ']': KILN_TRY(push(make(PyList{}))); break;
    case ')': KILN_TRY(push(make(PyTuple{}))); break;
    case 'N': KILN_TRY(push(make(PyNone{}))); break;
    case 0x88: KILN_TRY(push(make(true))); break;
    case 0x89: KILN_TRY(push(make(false))); break;
    case 'J':
      KILN_TRY(need(4));
      KILN_TRY(push(make(static_cast<int64_t>(
          static_cast<int32_t>(static_cast<uint32_t>(readLE(4)))))));
      break;
    case 'K':
      KILN_TRY(need(1));
      KILN_TRY(push(make(static_cast<int64_t>(readLE(1)))));
      break;
    case 'M':
      KILN_TRY(need(2));
      KILN_TRY(push(make(static_cast<int64_t>(readLE(2)))));
      break;
    case 0x8a: { // LONG1: little-endian two's complement of n bytes
      KILN_TRY(need(1));
      uint64_t n = readLE(1);
      if (n > 8)
        return fail("integer of ", std::to_string(n), " bytes is too large");
      KILN_TRY(need(n));
      uint64_t raw = n ? readLE(static_cast<int>(n)) : 0;
      if (n && n < 8 && (raw >> (8 * n - 1)) & 1)
        raw |= ~uint64_t(0) << (8 * n);
      KILN_TRY(push(make(static_cast<int64_t>(raw))));
      break;
    }
    case 'G': { // BINFLOAT, big-endian
      KILN_TRY(need(8));
      uint64_t raw = 0;
      for (int i = 0; i < 8; ++i)
        raw = (raw << 8) | bytes_[pos_++];
      KILN_TRY(push(make(std::bit_cast<double>(raw))));
      break;
    }
    case 'X': KILN_TRY(need(4)); KILN_TRY(readString(readLE(4), false)); break;
    case 0x8c: KILN_TRY(need(1)); KILN_TRY(readString(readLE(1), false)); break;
    case 0x8d: KILN_TRY(need(8)); KILN_TRY(readString(readLE(8), false)); break;
    case 'T': KILN_TRY(need(4)); KILN_TRY(readString(readLE(4), false)); break;
    case 'U': KILN_TRY(need(1)); KILN_TRY(readString(readLE(1), false)); break;
    case 'B': KILN_TRY(need(4)); KILN_TRY(readString(readLE(4), true)); break;
    case 'C': KILN_TRY(need(1)); KILN_TRY(readString(readLE(1), true)); break;
    case 'q': KILN_TRY(need(1)); KILN_TRY(memoPut(readLE(1))); break;
    case 'r': KILN_TRY(need(4)); KILN_TRY(memoPut(readLE(4))); break;
    case 0x94: KILN_TRY(memoPut(memo_.size())); break; // MEMOIZE
    case 'h': KILN_TRY(need(1)); KILN_TRY(memoGet(readLE(1))); break;
    case 'j': KILN_TRY(need(4)); KILN_TRY(memoGet(readLE(4))); break;
    case 'c': { // GLOBAL "module\nname\n"
      std::string parts[2];
      for (std::string &part : parts) {
        size_t start = pos_;
        while (pos_ < bytes_.size() && bytes_[pos_] != '\n')
          ++pos_;
        if (pos_ == bytes_.size())
          return fail("GLOBAL without its newline");
        part.assign(reinterpret_cast<const char *>(&bytes_[start]), pos_ - start);
        ++pos_;
      }
      KILN_TRY(global(std::move(parts[0]), std::move(parts[1])));
      break;
    }
    case 0x93: { // STACK_GLOBAL
      auto name = pop();
      if (!name)
        return std::move(name).takeError();
      auto module = pop();
      if (!module)
        return std::move(module).takeError();
      auto *n = std::get_if<std::string>(&(*name)->value);
      auto *m = std::get_if<std::string>(&(*module)->value);
      if (!n || !m)
        return fail("STACK_GLOBAL of something that is not two strings");
      KILN_TRY(global(*m, *n));
      break;
    }
    case 't': { // TUPLE
      auto items = popMark();
      if (!items)
        return std::move(items).takeError();
      uint32_t depth = depthOf(*items);
      KILN_TRY(push(make(PyTuple{std::move(*items)}, depth)));
      break;
    }
    case 0x85: case 0x86: case 0x87: { // TUPLE1..3
      size_t n = opcode_ - 0x84u;
      std::vector<PyRef> items(n);
      for (size_t i = n; i-- > 0;) {
        auto item = pop();
        if (!item)
          return std::move(item).takeError();
        items[i] = std::move(*item);
      }
      uint32_t depth = depthOf(items);
      KILN_TRY(push(make(PyTuple{std::move(items)}, depth)));
      break;
    }
    case 'a': case 'e': { // APPEND, APPENDS
      std::vector<PyRef> items;
      if (opcode_ == 'a') {
        auto item = pop();
        if (!item)
          return std::move(item).takeError();
        items.push_back(std::move(*item));
      } else {
        auto marked = popMark();
        if (!marked)
          return std::move(marked).takeError();
        items = std::move(*marked);
      }
      auto target = top();
      if (!target)
        return std::move(target).takeError();
      auto *list = std::get_if<PyList>(&(*target)->value);
      if (!list)
        return fail("APPEND to something that is not a list");
      uint32_t depth = depthOf(items); // freezes the items, first
      if ((*target)->frozen)
        return fail("APPEND to a list already inside another object");
      (*target)->depth = std::max((*target)->depth, depth);
      if ((*target)->depth > kMaxDepth)
        return fail("objects nested more than ", std::to_string(kMaxDepth),
                    " deep");
      for (PyRef &item : items)
        list->items.push_back(std::move(item));
      break;
    }
    case 's': { // SETITEM
      auto value = pop();
      if (!value)
        return std::move(value).takeError();
      auto key = pop();
      if (!key)
        return std::move(key).takeError();
      KILN_TRY(setItems({std::move(*key), std::move(*value)}));
      break;
    }
    case 'u': { // SETITEMS
      auto items = popMark();
      if (!items)
        return std::move(items).takeError();
      KILN_TRY(setItems(std::move(*items)));
      break;
    }
    case 'R': KILN_TRY(reduce()); break;
    case 'Q': KILN_TRY(persistentLoad()); break;
    case 'b': { // BUILD: state of a dict (e.g. _metadata) or tensor; ignored
      auto state = pop();
      if (!state)
        return std::move(state).takeError();
      auto target = top();
      if (!target)
        return std::move(target).takeError();
      if (!std::holds_alternative<PyDict>((*target)->value) &&
          !std::holds_alternative<PyTensor>((*target)->value))
        return fail("BUILD on something that is not a dict or a tensor");
      break;
    }
    default:
      return fail("opcode is not allowed in a checkpoint");
    }
  }
}

} // namespace

Result<PyRef> unpickle(std::span<const uint8_t> bytes,
                       const std::string &source) {
  Unpickler unpickler(bytes, source);
  return unpickler.run();
}

} // namespace kiln::convert
