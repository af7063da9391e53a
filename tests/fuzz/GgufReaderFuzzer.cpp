// libFuzzer target for the GGUF reader: any bytes must parse or fail with a
// message; whatever parses must be safe to walk and to dequantize.
#include "gguf/GgufFile.h"
#include "quant/Dequantize.h"

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto file = kiln::GgufFile::parse({data, size}, "fuzz.gguf");
  if (!file.ok())
    return file.error().message.empty() ? 1 : 0;
  for (const auto &[key, value] : file->metadata().entries())
    (void)kiln::formatGgufValue(value);
  size_t budget = 1 << 20; // elements dequantized per input
  for (const kiln::GgufTensorInfo &tensor : file->tensors()) {
    auto bytes = file->tensorData(tensor);
    if (!kiln::canDequantize(tensor.type) || tensor.elementCount > budget)
      continue;
    budget -= tensor.elementCount;
    std::vector<float> values(tensor.elementCount);
    (void)kiln::dequantize(tensor.type, bytes, values);
  }
  return 0;
}
