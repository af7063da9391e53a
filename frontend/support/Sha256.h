// SHA-256 (FIPS 180-4) without LLVM, so the runtime can check the bytes it
// is about to execute. Feed bytes with update(), then call finish() once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln {

class Sha256 {
public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  void update(const void *data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  // Pads and returns the digest; the object must not be used afterwards.
  Digest finish();

  static Digest of(const void *data, size_t size);
  static Digest of(std::string_view text) { return of(text.data(), text.size()); }

private:
  void compress(const uint8_t *block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> block_{};
  size_t blockUsed_ = 0;
  uint64_t totalBytes_ = 0;
};

// 64 lowercase hex digits.
std::string toHex(const Sha256::Digest &digest);

} // namespace kiln
