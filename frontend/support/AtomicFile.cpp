#include "AtomicFile.h"

#include "TempFiles.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace kiln {

Result<AtomicFile> AtomicFile::create(const std::string &path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
  if (slash == 0)
    dir = "/";
  std::string prefix = path.substr(slash + 1) + ".tmp.kiln-";
  removeStaleTempFiles(dir, prefix, "");
  std::string pattern = path + ".tmp.kiln-" + tempFileTag() + "XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0)
    return makeError(path, ": cannot create temporary file: ",
                     std::strerror(errno));
  std::FILE *file = ::fdopen(fd, "wb");
  if (!file) {
    int err = errno;
    ::close(fd);
    ::unlink(name.data());
    return makeError(path, ": cannot open temporary file: ",
                     std::strerror(err));
  }
  // Tracked at once: a signal from here on removes the file.
  int ticket = trackTempFile(name.data());
  return AtomicFile(path, std::string(name.data()), file, ticket);
}

Result<AtomicFile> AtomicFile::create(const std::string &path, uint32_t mode) {
  auto file = create(path);
  if (file)
    file->mode_ = mode & 07777;
  return file;
}

AtomicFile::AtomicFile(AtomicFile &&other) noexcept
    : path_(std::move(other.path_)), tempPath_(std::move(other.tempPath_)),
      file_(other.file_), written_(other.written_), mode_(other.mode_),
      ticket_(other.ticket_) {
  other.file_ = nullptr;
  other.ticket_ = -1;
  other.tempPath_.clear();
}

AtomicFile::~AtomicFile() { abandon(); }

void AtomicFile::abandon() {
  if (file_) {
    std::fclose(file_);
    file_ = nullptr;
  }
  if (!tempPath_.empty()) {
    ::unlink(tempPath_.c_str());
    tempPath_.clear();
  }
  untrackTempFile(ticket_);
  ticket_ = -1;
}

Status AtomicFile::write(const void *data, size_t size) {
  if (!file_)
    return makeError(path_, ": write after the file was closed");
  if (size > 0 && std::fwrite(data, 1, size, file_) != size)
    return makeError(path_, ": write failed: ", std::strerror(errno));
  written_ += size;
  return Status::success();
}

Status AtomicFile::overwrite(uint64_t offset, const void *data, size_t size) {
  if (!file_)
    return makeError(path_, ": write after the file was closed");
  if (offset > written_ || size > written_ - offset)
    return makeError(path_, ": overwrite past the bytes written");
  if (std::fflush(file_) != 0)
    return makeError(path_, ": write failed: ", std::strerror(errno));
  const auto *p = static_cast<const uint8_t *>(data);
  while (size > 0) {
    ssize_t put = ::pwrite(fileno(file_), p, size, off_t(offset));
    if (put < 0 && errno == EINTR)
      continue;
    if (put <= 0)
      return makeError(path_, ": write failed: ", std::strerror(errno));
    p += put;
    offset += uint64_t(put);
    size -= size_t(put);
  }
  return Status::success();
}

Status AtomicFile::writeZeros(size_t count) {
  static const uint8_t zeros[4096] = {};
  while (count > 0) {
    size_t chunk = count < sizeof(zeros) ? count : sizeof(zeros);
    KILN_TRY(write(zeros, chunk));
    count -= chunk;
  }
  return Status::success();
}

namespace {

// mkstemp creates files readable by the owner only; a user's output file
// gets the permissions a plain open() would give it, or keeps those of the
// file it replaces.
mode_t outputMode(const std::string &path) {
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0)
    return existing.st_mode & 07777;
  mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

} // namespace

Status AtomicFile::commit() {
  if (!file_)
    return makeError(path_, ": commit after the file was closed");
  ::fchmod(::fileno(file_), mode_ >= 0 ? mode_t(mode_) : outputMode(path_));
  bool flushed = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  int err = errno;
  bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed) {
    abandon();
    return makeError(path_, ": cannot finish writing: ", std::strerror(err));
  }
  if (std::rename(tempPath_.c_str(), path_.c_str()) != 0) {
    err = errno;
    abandon();
    return makeError(path_, ": cannot rename temporary file into place: ",
                     std::strerror(err));
  }
  tempPath_.clear();
  untrackTempFile(ticket_);
  ticket_ = -1;
  return Status::success();
}

} // namespace kiln
