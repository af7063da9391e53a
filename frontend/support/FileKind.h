// The kind of a file, in words, for errors that refuse what is not a
// regular file ("is a FIFO, not a regular file").
#pragma once

#include <sys/types.h>

namespace kiln {

// "a regular file", "a directory", "a symbolic link", "a FIFO",
// "a character device", "a block device", "a socket" or "an unknown kind of
// file", from stat's st_mode.
const char *fileKindText(mode_t mode);

} // namespace kiln
