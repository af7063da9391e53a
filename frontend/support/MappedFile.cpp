#include "MappedFile.h"

#include "RegularFile.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln {

Result<std::shared_ptr<MappedFile>> MappedFile::open(const std::string &path,
                                                     std::string_view what) {
  auto file = openRegularFile(path, what);
  if (!file)
    return std::move(file).takeError();
  int fd = file->fd;
  size_t size = static_cast<size_t>(file->size);
  const uint8_t *data = nullptr;
  if (size > 0) {
    void *mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return makeError(path, ": cannot map into memory: ", std::strerror(err));
    }
    data = static_cast<const uint8_t *>(mapping);
  }
  ::close(fd); // the mapping keeps the file alive
  return std::shared_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (size_ > 0)
    ::munmap(const_cast<uint8_t *>(data_), size_);
}

} // namespace kiln
