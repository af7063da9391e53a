// Little-endian fields in a byte string, for the sections of an AOT
// artifact (Artifact.h). The reader checks every length against what is
// left and names the section and the field that does not fit, so a
// truncated or corrupt artifact is an error, never a read out of bounds.
#pragma once

#include "support/Result.h"

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Reads a field into `out`, returning its error from the enclosing function.
#define KILN_READ(out, expr)                                                   \
  do {                                                                         \
    auto read_ = (expr);                                                       \
    if (!read_)                                                                \
      return read_.error();                                                    \
    out = *read_;                                                              \
  } while (0)

namespace kiln::runtime::artifact {

class ByteWriter {
public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u32(uint32_t v) { raw(&v, sizeof v); }
  void u64(uint64_t v) { raw(&v, sizeof v); }
  void i64(int64_t v) { raw(&v, sizeof v); }
  void string(std::string_view s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
  void raw(const void *data, size_t size) {
    const auto *p = static_cast<const uint8_t *>(data);
    bytes_.insert(bytes_.end(), p, p + size);
  }
  std::vector<uint8_t> take() { return std::move(bytes_); }

private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
public:
  // `where` names the bytes in errors, e.g. "model.kiln: section plan".
  ByteReader(std::span<const uint8_t> bytes, std::string where)
      : bytes_(bytes), where_(std::move(where)) {}

  Result<uint8_t> u8(std::string_view field) { return scalar<uint8_t>(field); }
  Result<uint32_t> u32(std::string_view field) { return scalar<uint32_t>(field); }
  Result<uint64_t> u64(std::string_view field) { return scalar<uint64_t>(field); }
  Result<int64_t> i64(std::string_view field) { return scalar<int64_t>(field); }
  Result<std::string> string(std::string_view field) {
    auto size = u64(field);
    if (!size)
      return size.error();
    if (*size > left())
      return fail(field, std::to_string(*size) + " bytes of text, " + std::to_string(left()) +
                             " left");
    std::string s(reinterpret_cast<const char *>(bytes_.data() + at_), size_t(*size));
    at_ += size_t(*size);
    return s;
  }
  // A count of items of at least `minItemBytes` each, refused when the
  // bytes left cannot hold them (so a corrupt count allocates nothing).
  Result<uint64_t> count(std::string_view field, size_t minItemBytes) {
    auto n = u64(field);
    if (!n)
      return n.error();
    if (minItemBytes > 0 && *n > left() / minItemBytes)
      return fail(field, "count " + std::to_string(*n) + " exceeds what " +
                             std::to_string(left()) + " bytes can hold");
    return n;
  }
  size_t left() const { return bytes_.size() - at_; }
  Error fail(std::string_view field, const std::string &problem) const {
    return Error{where_ + ": field '" + std::string(field) + "': " + problem +
                 " (the artifact is corrupt or truncated; compile it again)"};
  }

private:
  template <typename T> Result<T> scalar(std::string_view field) {
    if (left() < sizeof(T))
      return fail(field, "ends after " + std::to_string(at_) + " bytes");
    T v;
    std::memcpy(&v, bytes_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }

  std::span<const uint8_t> bytes_;
  size_t at_ = 0;
  std::string where_;
};

} // namespace kiln::runtime::artifact
