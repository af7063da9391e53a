// A pickle reader that builds values and never runs code: it knows the
// opcodes a PyTorch state dict uses and only the globals needed to rebuild
// one (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and
// _rebuild_parameter, the torch.*Storage classes). Any other global — say
// os.system — is refused by name before anything could call it, and so is
// any call other than those rebuilds.
#pragma once

#include "Checkpoint.h"
#include "support/Result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace kiln::convert {

struct PyValue;
using PyRef = std::shared_ptr<PyValue>;

struct PyNone {};
struct PyGlobal {
  std::string module, name;
};
// A storage named by a persistent id ('storage', torch.XStorage, key,
// location, numel).
struct PyStorage {
  DType dtype;
  std::string key;
  uint64_t numel = 0;
};
struct PyTensor {
  std::shared_ptr<const PyStorage> storage;
  uint64_t offset = 0; // elements
  std::vector<int64_t> shape;
  std::vector<int64_t> stride; // elements
};
struct PyTuple {
  std::vector<PyRef> items;
};
struct PyList {
  std::vector<PyRef> items;
};
struct PyDict {
  std::vector<std::pair<PyRef, PyRef>> items; // in insertion order
};
struct PyBytes {
  std::string bytes;
};

struct PyValue {
  std::variant<PyNone, bool, int64_t, double, std::string, PyBytes, PyTuple,
               PyList, PyDict, PyGlobal, PyStorage, PyTensor>
      value;
  uint32_t depth = 1; // nesting depth, bounded so destruction cannot recurse deeply
  // Set once the value is inside a container; a frozen list or dict cannot
  // be changed, so no pickle can build a reference cycle (which would leak).
  bool frozen = false;
};

// The object a pickle builds; errors name `source`, the byte offset and
// the opcode or global at fault.
Result<PyRef> unpickle(std::span<const uint8_t> bytes,
                       const std::string &source);

} // namespace kiln::convert
