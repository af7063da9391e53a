#include "TextFile.h"

#include "FileKind.h"

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
  // O_NONBLOCK: opening a FIFO for reading must not wait for a writer; the
  // type check below refuses it anyway.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return makeError(path, ": cannot open ", std::string(what), ": ",
                     std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int err = errno;
    ::close(fd);
    return makeError(path, ": cannot stat ", std::string(what), ": ",
                     std::strerror(err));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return makeError(path, ": ", std::string(what), " is ",
                     fileKindText(info.st_mode), ", not a regular file");
  }
  if (size_t(info.st_size) > maxBytes) {
    ::close(fd);
    return makeError(path, ": ", std::string(what), " is ",
                     std::to_string(info.st_size), " bytes, larger than the ",
                     sizeText(maxBytes), " kiln reads as text");
  }
  // Back to blocking reads for a regular file (O_NONBLOCK has no effect on
  // them, but the descriptor should say what it is).
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  auto text = readBounded(fd, path, what, maxBytes, size_t(info.st_size));
  ::close(fd);
  return text;
}

} // namespace kiln
