// Reads a .safetensors file: an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and [begin, end) byte range in
// the data that follows, then the data. The file is memory-mapped and the
// header is treated as hostile: a length past the end, ranges outside the
// data or overlapping, unknown dtypes and byte counts that disagree with the
// shape are errors naming the file and the tensor.
#pragma once

#include "Checkpoint.h"

#include <cstdint>
#include <span>
#include <string>

namespace kiln::convert {

// Headers larger than this are refused (the format's own limit is 100 MB).
inline constexpr uint64_t kMaxSafetensorsHeader = 100u << 20;

// Adds the tensors of `bytes` (the whole file, named `source` in errors) to
// `checkpoint`, as views of `bytes`.
Status parseSafetensors(std::span<const uint8_t> bytes,
                        const std::string &source, Checkpoint &checkpoint);

// Maps `path` and parses it; the checkpoint keeps the mapping alive.
Status readSafetensors(const std::string &path, Checkpoint &checkpoint);

} // namespace kiln::convert
