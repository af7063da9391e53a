// A read-only memory mapping of a whole file. Weights are read in place from
// the mapping; nothing is copied unless a caller asks for it.
#pragma once

#include "Result.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace kiln {

class MappedFile {
public:
  // Maps `path` read-only. An empty file maps to an empty span. `what`
  // names the file in errors, as openRegularFile's (RegularFile.h).
  static Result<std::shared_ptr<MappedFile>> open(const std::string &path,
                                                  std::string_view what = {});

  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string &path() const { return path_; }

private:
  MappedFile(std::string path, const uint8_t *data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const uint8_t *data_;
  size_t size_;
};

} // namespace kiln
