#include "RegularFile.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln {

const char *fileKindText(mode_t mode) {
  return S_ISREG(mode)    ? "a regular file"
         : S_ISDIR(mode)  ? "a directory"
         : S_ISLNK(mode)  ? "a symbolic link"
         : S_ISFIFO(mode) ? "a FIFO"
         : S_ISCHR(mode)  ? "a character device"
         : S_ISBLK(mode)  ? "a block device"
         : S_ISSOCK(mode) ? "a socket"
                          : "an unknown kind of file";
}

Result<OpenedRegularFile> openRegularFile(const std::string &path,
                                          std::string_view what) {
  const std::string named = what.empty() ? "" : " " + std::string(what);
  // O_NONBLOCK: opening a FIFO must not wait for a writer; the type check
  // below refuses it.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return makeError(path, ": cannot open", named, ": ", std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int err = errno;
    ::close(fd);
    return makeError(path, ": cannot stat", named, ": ", std::strerror(err));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return makeError(path, ":", named, " is ", fileKindText(info.st_mode),
                     ", not a regular file");
  }
  // Back to blocking reads (the flag does nothing to a regular file, but
  // the descriptor should say what it is).
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return OpenedRegularFile{fd, uint64_t(info.st_size)};
}

} // namespace kiln
