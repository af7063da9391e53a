// Reads a user's text input (a prompt, a text to score, a calibration
// text) whole, refusing what would hang or exhaust memory: a path that is
// not a regular file (a directory, a FIFO, a device such as /dev/zero) and
// a file or stream larger than a bound. "-" is standard input, read up to
// the same bound.
#pragma once

#include "Result.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace kiln {

// 512 MiB: several times the largest text a perplexity or calibration run
// uses (wikitext-103's training split is ~540 MB of text, far past what
// anyone scores on a CPU), and small enough to hold in memory twice.
inline constexpr size_t kMaxTextFileBytes = size_t(512) << 20;

// `what` names the input in errors, e.g. "the prompt file (-f)".
Result<std::string> readTextFile(const std::string &path, std::string_view what,
                                 size_t maxBytes = kMaxTextFileBytes);

} // namespace kiln
