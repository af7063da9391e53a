// The key/value metadata of a GGUF file, in file order, with typed accessors
// whose errors name the file, the key and what was wrong.
#pragma once

#include "GgufValue.h"
#include "support/Result.h"

#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kiln {

class GgufMetadata {
public:
  // `source` names the file in error messages.
  explicit GgufMetadata(std::string source = "<memory>")
      : source_(std::move(source)) {}

  const std::vector<std::pair<std::string, GgufValue>> &entries() const {
    return entries_;
  }
  size_t size() const { return entries_.size(); }
  const std::string &source() const { return source_; }

  const GgufValue *find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }

  // Adds a key at the end; fails if it already exists.
  Status add(std::string key, GgufValue value);
  // Replaces the value of an existing key in place, or adds it at the end.
  void set(std::string key, GgufValue value);
  bool erase(std::string_view key);

  // Any integer type whose value fits.
  Result<uint64_t> getUInt(std::string_view key) const;
  Result<int64_t> getInt(std::string_view key) const;
  // float32 or float64.
  Result<double> getFloat(std::string_view key) const;
  Result<bool> getBool(std::string_view key) const;
  Result<std::string_view> getString(std::string_view key) const;
  Result<const GgufArray *> getArray(std::string_view key) const;

  // An array whose elements are exactly of type T (not bool).
  template <typename T>
  Result<std::span<const T>> getArrayOf(std::string_view key) const {
    auto array = getArray(key);
    if (!array)
      return std::move(array).takeError();
    if (auto *items = std::get_if<std::vector<T>>(&(*array)->items))
      return std::span<const T>(*items);
    return typeError(key, "an array of the expected element type",
                     *find(key));
  }

private:
  Error missing(std::string_view key) const;
  Error typeError(std::string_view key, std::string_view expected,
                  const GgufValue &found) const;

  std::string source_;
  std::vector<std::pair<std::string, GgufValue>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

} // namespace kiln
