#include "TextFile.h"

#include "RegularFile.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln {

namespace {

std::string sizeText(size_t bytes) {
  if (bytes >= (size_t(1) << 20) && bytes % (size_t(1) << 20) == 0)
    return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

// Reads fd to its end, failing as soon as more than maxBytes arrive (so an
// endless stream costs at most maxBytes + one chunk of memory).
Result<std::string> readBounded(int fd, const std::string &name, std::string_view what,
                                size_t maxBytes, size_t sizeHint) {
  std::string text;
  text.reserve(sizeHint < maxBytes ? sizeHint : maxBytes);
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return makeError(name, ": cannot read ", std::string(what), ": ",
                       std::strerror(errno));
    }
    if (n == 0)
      return text;
    if (text.size() + size_t(n) > maxBytes)
      return makeError(name, ": ", std::string(what), " is larger than the ",
                       sizeText(maxBytes), " kiln reads as text");
    text.append(chunk, size_t(n));
  }
}

} // namespace

Result<std::string> readTextFile(const std::string &path, std::string_view what,
                                 size_t maxBytes) {
  if (path == "-")
    return readBounded(STDIN_FILENO, "standard input", what, maxBytes, 0);
  auto file = openRegularFile(path, what);
  if (!file)
    return std::move(file).takeError();
  if (file->size > maxBytes) {
    ::close(file->fd);
    return makeError(path, ": ", std::string(what), " is ",
                     std::to_string(file->size), " bytes, larger than the ",
                     sizeText(maxBytes), " kiln reads as text");
  }
  auto text = readBounded(file->fd, path, what, maxBytes, size_t(file->size));
  ::close(file->fd);
  return text;
}

} // namespace kiln
