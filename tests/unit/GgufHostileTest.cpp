// Hostile GGUF input: every malformed file gives an error that names the
// problem and its byte position; none crashes, hangs or allocates memory out
// of proportion to the file. The bytes are built by hand here, independent
// of our writer.
#include "gguf/GgufFile.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace kiln {
namespace {

struct RawTensor {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type;
  uint64_t offset;
};

// Little-endian GGUF bytes, assembled field by field.
class RawGguf {
public:
  RawGguf &u8(uint8_t v) { return put(v); }
  RawGguf &u32(uint32_t v) { return put(v); }
  RawGguf &u64(uint64_t v) { return put(v); }
  RawGguf &str(const std::string &s) {
    u64(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  RawGguf &header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    return u32(0x46554747).u32(version).u64(tensors).u64(kvs);
  }
  RawGguf &kvString(const std::string &key, const std::string &value) {
    return str(key).u32(8).str(value);
  }
  RawGguf &kvU32(const std::string &key, uint32_t value) {
    return str(key).u32(4).u32(value);
  }
  RawGguf &tensor(const RawTensor &t) {
    str(t.name).u32(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims)
      u64(d);
    return u32(t.type).u64(t.offset);
  }
  RawGguf &padTo(size_t alignment) {
    while (bytes.size() % alignment)
      bytes.push_back(0);
    return *this;
  }
  RawGguf &data(size_t count) {
    bytes.insert(bytes.end(), count, 0);
    return *this;
  }

  std::vector<uint8_t> bytes;

private:
  template <typename T> RawGguf &put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    bytes.insert(bytes.end(), b, b + sizeof(T));
    return *this;
  }
};

// A valid file: two tensors "a" (f32 [32]) and "b" (q8_0 [32, 2]).
RawGguf validFile(std::vector<RawTensor> tensors = {
                      {"a", {32}, 0, 0}, {"b", {32, 2}, 8, 128}}) {
  RawGguf g;
  g.header(tensors.size(), 2)
      .kvString("general.architecture", "llama")
      .kvU32("general.alignment", 32);
  for (const RawTensor &t : tensors)
    g.tensor(t);
  g.padTo(32).data(128 + 68).padTo(32);
  return g;
}

std::string parseError(const std::vector<uint8_t> &bytes) {
  auto file = GgufFile::parse(bytes, "hostile.gguf");
  return file.ok() ? std::string("<parsed>") : file.error().message;
}

#define EXPECT_ERROR(bytes, fragment)                                          \
  do {                                                                         \
    std::string message = parseError(bytes);                                   \
    EXPECT_NE(message.find(fragment), std::string::npos)                       \
        << "expected '" << fragment << "' in: " << message;                    \
    EXPECT_NE(message.find("hostile.gguf: at byte "), std::string::npos)       \
        << message;                                                            \
  } while (0)

TEST(GgufHostile, ValidBaseParses) {
  auto file = GgufFile::parse(validFile().bytes, "valid.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->findTensor("b")->byteSize, 68u);
}

TEST(GgufHostile, EveryTruncationFailsCleanly) {
  std::vector<uint8_t> bytes = validFile().bytes;
  // The last tensor ends 28 bytes before the end (then padding, which a
  // reader may not require); any shorter prefix must fail.
  size_t needed = bytes.size() - 28;
  for (size_t n = 0; n < needed; ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
    auto file = GgufFile::parse(prefix, "hostile.gguf");
    ASSERT_FALSE(file.ok()) << "a file cut at byte " << n << " parsed";
    EXPECT_NE(file.error().message.find("at byte"), std::string::npos);
  }
}

TEST(GgufHostile, BadMagicAndVersion) {
  EXPECT_ERROR(std::vector<uint8_t>{}, "too short");
  RawGguf ggml;
  ggml.u32(0x67676d6c).u32(3).u64(0).u64(0);
  EXPECT_ERROR(ggml.bytes, "bad magic");
  RawGguf v1;
  v1.header(0, 0, 1);
  EXPECT_ERROR(v1.bytes, "version 1 is not supported");
  RawGguf bigEndian;
  bigEndian.header(0, 0, 0x03000000);
  EXPECT_ERROR(bigEndian.bytes, "big-endian");
  RawGguf v7;
  v7.header(0, 0, 7);
  EXPECT_ERROR(v7.bytes, "unsupported GGUF version 7");
}

TEST(GgufHostile, AbsurdCounts) {
  RawGguf tensors;
  tensors.header(uint64_t{1} << 62, 0);
  EXPECT_ERROR(tensors.bytes, "tensor count");
  RawGguf kvs;
  kvs.header(0, std::numeric_limits<uint64_t>::max());
  EXPECT_ERROR(kvs.bytes, "metadata count");
  RawGguf array;
  array.header(0, 1).str("big").u32(9).u32(4).u64(uint64_t{1} << 60);
  EXPECT_ERROR(array.bytes, "array length");
  RawGguf strings; // each string needs at least 8 bytes
  strings.header(0, 1).str("s").u32(9).u32(8).u64(100).data(100);
  EXPECT_ERROR(strings.bytes, "array length 100 is more than");
}

TEST(GgufHostile, LengthsPastTheEnd) {
  RawGguf key;
  key.header(0, 1).u64(uint64_t{1} << 40).data(16);
  EXPECT_ERROR(key.bytes, "metadata key length");
  RawGguf value;
  value.header(0, 1).str("k").u32(8).u64(1000).data(10);
  EXPECT_ERROR(value.bytes, "runs past the end");
  RawGguf name;
  name.header(1, 0).u64(999).data(40);
  EXPECT_ERROR(name.bytes, "tensor name length 999");
}

TEST(GgufHostile, BadValues) {
  RawGguf type;
  type.header(0, 1).str("k").u32(13).u32(0);
  EXPECT_ERROR(type.bytes, "unknown metadata value type 13");
  RawGguf elementType;
  elementType.header(0, 1).str("k").u32(9).u32(77).u64(1).data(8);
  EXPECT_ERROR(elementType.bytes, "unknown array element type 77");
  RawGguf boolean;
  boolean.header(0, 1).str("k").u32(7).u8(2);
  EXPECT_ERROR(boolean.bytes, "neither 0 nor 1");
  RawGguf duplicate;
  duplicate.header(0, 2).kvU32("k", 1).kvU32("k", 2);
  EXPECT_ERROR(duplicate.bytes, "metadata key 'k' appears twice");

  RawGguf nested; // arrays of arrays, 9 deep
  nested.header(0, 1).str("deep").u32(9);
  for (int i = 0; i < 9; ++i)
    nested.u32(9).u64(1);
  nested.u32(4).u64(0);
  EXPECT_ERROR(nested.bytes, "nested more than 8 deep");
}

TEST(GgufHostile, BadAlignment) {
  RawGguf odd;
  odd.header(0, 1).kvU32("general.alignment", 48);
  EXPECT_ERROR(odd.bytes, "48 is not a power of two");
  RawGguf zero;
  zero.header(0, 1).kvU32("general.alignment", 0);
  EXPECT_ERROR(zero.bytes, "0 is not a power of two");
  RawGguf wrongType;
  wrongType.header(0, 1).kvString("general.alignment", "32");
  EXPECT_ERROR(wrongType.bytes, "'general.alignment' must be uint32");
}

TEST(GgufHostile, BadTensorInfos) {
  EXPECT_ERROR(validFile({{"a", {32}, 0, 0}, {"a", {32}, 0, 128}}).bytes,
               "tensor 1 'a': the name appears twice");
  EXPECT_ERROR(validFile({{"a", {32}, 99, 0}}).bytes,
               "'a': unknown ggml type 99");
  EXPECT_ERROR(validFile({{"a", {32}, 4, 0}}).bytes, "unknown ggml type 4");
  EXPECT_ERROR(validFile({{"a", {1, 1, 1, 1, 1}, 0, 0}}).bytes,
               "5 dimensions (at most 4)");
  EXPECT_ERROR(validFile({{"a", {uint64_t{1} << 63}, 0, 0}}).bytes,
               "dimension 0 = 9223372036854775808 overflows int64");
  EXPECT_ERROR(
      validFile({{"a", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0}}).bytes,
      "element count overflows int64");
  EXPECT_ERROR(validFile({{"a", {uint64_t{1} << 61, 2}, 0, 0}}).bytes,
               "byte size overflows int64");
  EXPECT_ERROR(validFile({{"a", {33}, 8, 0}}).bytes,
               "row length 33 is not a multiple of the q8_0 block size 32");
  EXPECT_ERROR(validFile({{"a", {32}, 0, 100}}).bytes,
               "data offset 100 is not a multiple of the alignment 32");
}

TEST(GgufHostile, BadTensorData) {
  EXPECT_ERROR(validFile({{"a", {32}, 0, 0}, {"b", {32, 2}, 8, 1 << 20}}).bytes,
               "tensor 'b': data [1048576, +68) lies outside the data section");
  EXPECT_ERROR(validFile({{"a", {32}, 0, 0}, {"b", {32, 2}, 8, 96}}).bytes,
               "tensor 'b' overlaps tensor 'a'");
  EXPECT_ERROR(validFile({{"a", {32}, 0, 0}, {"b", {32, 2}, 8, 160}}).bytes,
               "lies outside the data section");
  // Header complete, but the file stops before the data section.
  RawGguf noData;
  noData.header(1, 0).tensor({"a", {32}, 0, 0});
  EXPECT_ERROR(noData.bytes, "file ends before the tensor data section");
}

} // namespace
} // namespace kiln
