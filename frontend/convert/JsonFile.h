// A Hugging Face JSON file (config.json, tokenizer_config.json, ...) with
// lookups whose errors name the file and the field.
#pragma once

#include "support/Result.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::convert {

// 256 MiB: ten times the largest tokenizer.json in common use (~20 MB),
// small enough to hold with its parsed form in memory.
inline constexpr size_t kMaxJsonFileBytes = size_t(256) << 20;

class JsonFile {
public:
  // Reads and parses `path`; a missing file, one that is not a regular
  // file (a directory, a FIFO, a device), one over kMaxJsonFileBytes and
  // one nesting deeper than kMaxJsonDepth are errors.
  static Result<JsonFile> read(const std::string &path);
  // Parses `text` as the contents of `path` (named in errors), with the
  // same depth bound.
  static Result<JsonFile> parse(std::string_view text, const std::string &path);
  // Reads `path` if it exists; an empty object otherwise.
  static Result<JsonFile> readIfExists(const std::string &path);

  const std::string &path() const { return path_; }
  const nlohmann::json &json() const { return json_; }
  bool has(std::string_view key) const;

  // The first of `keys` present (and not null) in the object.
  const nlohmann::json *findFirst(std::initializer_list<std::string_view> keys) const;

  // Required fields, with errors naming the file and the key.
  Result<uint64_t> getUInt(std::initializer_list<std::string_view> keys) const;
  Result<double> getFloat(std::initializer_list<std::string_view> keys) const;
  // Optional fields: absent or null gives nullopt; a wrong type is an error.
  Result<std::optional<uint64_t>> optUInt(std::string_view key) const;
  Result<std::optional<double>> optFloat(std::string_view key) const;

  Error fieldError(std::string_view key, std::string_view problem) const;

private:
  std::string path_;
  nlohmann::json json_ = nlohmann::json::object();
};

} // namespace kiln::convert
