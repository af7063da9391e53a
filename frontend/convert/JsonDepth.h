// A bound on how deeply the JSON that `kiln convert` reads may nest
// (safetensors headers, config.json, tokenizer.json). nlohmann's parser
// keeps its stack on the heap, but copying, comparing or printing a parsed
// value recurses once per level, so a 400 KB header of 200k nested arrays
// overflows the stack. Hugging Face files nest a handful of levels, so the
// text is scanned before it is parsed and anything deeper is refused.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace kiln::convert {

inline constexpr size_t kMaxJsonDepth = 64;

// The byte offset of the first '[' or '{' (outside strings) that opens
// level maxDepth + 1, or nullopt when `text` nests no deeper than maxDepth.
// Exact for valid JSON; for invalid JSON it sees at least the depth the
// parser would reach before failing, since both agree on what a string is.
std::optional<size_t> findJsonTooDeep(std::string_view text,
                                      size_t maxDepth = kMaxJsonDepth);

} // namespace kiln::convert
