// Writes a user's output file so that it appears whole or not at all: data
// goes to a temporary file beside the target, which is renamed over the
// target only by commit(). Abandoning the writer removes the temporary.
//
// The temporary of "dir/name" is "dir/name.tmp.kiln-<pid>-XXXXXX". It is
// also removed when SIGINT, SIGTERM or SIGHUP ends the process (see
// TempFiles.h). After a SIGKILL it stays, but the next create() for the
// same target removes every such temporary whose PID is no live process
// (regular files of this user only), so a killed run costs disk space only
// until the next one.
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
  // Writes over bytes already written (e.g. a header whose checksums are
  // known only at the end); the end of the file stays where it was.
  Status overwrite(uint64_t offset, const void *data, size_t size);
  uint64_t bytesWritten() const { return written_; }

  // Flushes, syncs and renames the temporary file onto the target path.
  Status commit();

private:
  AtomicFile(std::string path, std::string tempPath, std::FILE *file,
             int ticket)
      : path_(std::move(path)), tempPath_(std::move(tempPath)), file_(file),
        ticket_(ticket) {}
  void abandon();

  std::string path_;
  std::string tempPath_;
  std::FILE *file_ = nullptr;
  uint64_t written_ = 0;
  int64_t mode_ = -1; // -1: as a plain open() would create it
  int ticket_ = -1;   // in the signal-cleanup table, see TempFiles.h
};

} // namespace kiln
