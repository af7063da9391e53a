// Writes a user's output file so that it appears whole or not at all: data
// goes to a temporary file beside the target, which is renamed over the
// target only by commit(). Abandoning the writer removes the temporary.
#pragma once

#include "Result.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace kiln {

class AtomicFile {
public:
  static Result<AtomicFile> create(const std::string &path);
  // The same, but the file gets exactly these permission bits (e.g. 0600
  // for a private cache), whatever the umask or the file it replaces.
  static Result<AtomicFile> create(const std::string &path, uint32_t mode);

  AtomicFile(AtomicFile &&other) noexcept;
  AtomicFile &operator=(AtomicFile &&) = delete;
  AtomicFile(const AtomicFile &) = delete;
  ~AtomicFile();

  Status write(const void *data, size_t size);
  Status writeZeros(size_t count);
  uint64_t bytesWritten() const { return written_; }

  // Flushes, syncs and renames the temporary file onto the target path.
  Status commit();

private:
  AtomicFile(std::string path, std::string tempPath, std::FILE *file)
      : path_(std::move(path)), tempPath_(std::move(tempPath)), file_(file) {}
  void abandon();

  std::string path_;
  std::string tempPath_;
  std::FILE *file_ = nullptr;
  uint64_t written_ = 0;
  int64_t mode_ = -1; // -1: as a plain open() would create it

};

} // namespace kiln
