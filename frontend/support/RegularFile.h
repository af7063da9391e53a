// Opening a file that must be a regular file, and the kind of file in words
// for the errors that refuse anything else ("is a FIFO, not a regular
// file"). Opened without blocking, so a FIFO is refused, not waited on.
#pragma once

#include "Result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace kiln {

// "a regular file", "a directory", "a symbolic link", "a FIFO",
// "a character device", "a block device", "a socket" or "an unknown kind of
// file", from stat's st_mode.
const char *fileKindText(mode_t mode);

struct OpenedRegularFile {
  int fd = -1;        // read-only, blocking, close-on-exec; the caller closes it
  uint64_t size = 0;
};

// Errors name the path and, when given, what it is: "PATH: cannot open
// WHAT: No such file or directory", "PATH: WHAT is a directory, not a
// regular file" (without `what`: "PATH: is a directory, ...").
Result<OpenedRegularFile> openRegularFile(const std::string &path,
                                          std::string_view what = {});

} // namespace kiln
