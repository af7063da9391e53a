// libFuzzer target for the JSON that `kiln convert` parses: safetensors
// headers and config.json-like files. The input up to its first NUL byte is
// the JSON text (a header never holds a raw NUL), the rest the tensor data
// behind it. Every input must parse or fail with a message, and the depth
// scan that guards the parser must agree with the depth of what parses.
#include "convert/Checkpoint.h"
#include "convert/JsonDepth.h"
#include "convert/JsonFile.h"
#include "convert/SafetensorsReader.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace {

// Nesting depth of a parsed value, without recursion (a scalar is 0).
size_t depthOf(const nlohmann::json &root) {
  size_t deepest = 0;
  std::vector<std::pair<const nlohmann::json *, size_t>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto [value, depth] = stack.back();
    stack.pop_back();
    if (!value->is_structured())
      continue;
    deepest = std::max(deepest, depth + 1);
    for (const auto &child : *value)
      stack.push_back({&child, depth + 1});
  }
  return deepest;
}

void checkSafetensors(std::string_view header, std::span<const uint8_t> data) {
  std::vector<uint8_t> file(8 + header.size() + data.size());
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i)
    file[size_t(i)] = uint8_t(length >> (8 * i));
  std::memcpy(file.data() + 8, header.data(), header.size());
  if (!data.empty())
    std::memcpy(file.data() + 8 + header.size(), data.data(), data.size());
  kiln::convert::Checkpoint checkpoint;
  kiln::Status status = kiln::convert::parseSafetensors(file, "fuzz.safetensors", checkpoint);
  if (!status.ok() && status.message().empty())
    __builtin_trap();
  for (const auto &tensor : checkpoint.tensors()) {
    // Every tensor's bytes must lie inside the file's data.
    const uint8_t *begin = file.data() + 8 + header.size();
    if (tensor.data.data() < begin ||
        tensor.data.data() + tensor.data.size() > file.data() + file.size() ||
        tensor.data.size() != tensor.elementCount() * kiln::convert::dtypeSize(tensor.dtype))
      __builtin_trap();
  }
}

void checkJsonFile(std::string_view text) {
  auto file = kiln::convert::JsonFile::parse(text, "fuzz.json");
  if (!file.ok()) {
    if (file.error().message.empty())
      __builtin_trap();
    return;
  }
  // What parses nests no deeper than the bound, and the scan never counts
  // the text shallower than the parsed value. (It may count it deeper: a
  // duplicate key keeps one value, and the one dropped may be the deepest.)
  size_t depth = depthOf(file->json());
  if (depth > kiln::convert::kMaxJsonDepth ||
      (depth > 0 && !kiln::convert::findJsonTooDeep(text, depth - 1)))
    __builtin_trap();
  // The typed lookups the converter uses must fail with a message, never
  // throw, whatever type the field has.
  for (const char *key : {"vocab_size", "rope_theta", "hidden_size", "rms_norm_eps"}) {
    auto count = file->optUInt(key);
    auto real = file->optFloat(key);
    if ((!count.ok() && count.error().message.empty()) ||
        (!real.ok() && real.error().message.empty()))
      __builtin_trap();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = static_cast<const uint8_t *>(std::memchr(data, 0, size));
  size_t textSize = nul ? size_t(nul - data) : size;
  std::string_view text(reinterpret_cast<const char *>(data), textSize);
  std::span<const uint8_t> rest(data + textSize + (nul ? 1 : 0),
                                size - textSize - (nul ? 1 : 0));
  checkSafetensors(text, rest);
  checkJsonFile(text);
  return 0;
}
