// libFuzzer target for the checkpoint parsers of `kiln convert`. The first
// byte picks the parser (0 safetensors, 1 pickle, 2 torch zip archive,
// 3 SentencePiece model); the rest is its input. Any bytes must parse or
// fail with a message; whatever parses must be safe to walk.
#include "convert/Checkpoint.h"
#include "convert/SafeUnpickler.h"
#include "convert/SafetensorsReader.h"
#include "convert/SentencePieceModel.h"
#include "convert/TorchReader.h"

#include <cstddef>
#include <cstdint>

namespace {

int walk(const kiln::convert::Checkpoint &checkpoint) {
  uint64_t sum = 0;
  for (const auto &tensor : checkpoint.tensors()) {
    if (tensor.data.size() != tensor.elementCount() * kiln::convert::dtypeSize(tensor.dtype))
      __builtin_trap();
    for (uint8_t byte : tensor.data)
      sum += byte;
  }
  return sum == 1 ? 1 : 0; // keeps the loop
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  std::span<const uint8_t> input(data + 1, size - 1);
  using namespace kiln::convert;
  switch (data[0] % 4) {
  case 0: {
    Checkpoint checkpoint;
    kiln::Status status = parseSafetensors(input, "fuzz.safetensors", checkpoint);
    if (!status.ok())
      return status.message().empty() ? 1 : 0;
    return walk(checkpoint) & 0;
  }
  case 1: {
    auto value = unpickle(input, "fuzz.pkl");
    return !value.ok() && value.error().message.empty() ? 1 : 0;
  }
  case 2: {
    Checkpoint checkpoint;
    kiln::Status status = parseTorchArchive(input, "fuzz.bin", checkpoint);
    if (!status.ok())
      return status.message().empty() ? 1 : 0;
    return walk(checkpoint) & 0;
  }
  default: {
    auto pieces = parseSentencePieceModel(input, "fuzz.model");
    return !pieces.ok() && pieces.error().message.empty() ? 1 : 0;
  }
  }
}
