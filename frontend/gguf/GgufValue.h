// Metadata values of a GGUF file: the thirteen value types of the format,
// with arrays stored as typed vectors so that a large array costs about as
// much memory as it takes in the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kiln {

// The numbering is the file format's; the variants below use the same order
// so that a variant's index() is the type id.
enum class GgufValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};
inline constexpr uint32_t kGgufValueTypeCount = 13;

std::string_view ggufValueTypeName(GgufValueType type);

struct GgufArray {
  using Items =
      std::variant<std::vector<uint8_t>, std::vector<int8_t>,
                   std::vector<uint16_t>, std::vector<int16_t>,
                   std::vector<uint32_t>, std::vector<int32_t>,
                   std::vector<float>, std::vector<bool>,
                   std::vector<std::string>, std::vector<GgufArray>,
                   std::vector<uint64_t>, std::vector<int64_t>,
                   std::vector<double>>;
  Items items;

  GgufValueType elementType() const {
    return static_cast<GgufValueType>(items.index());
  }
  size_t size() const {
    return std::visit([](const auto &v) { return v.size(); }, items);
  }
  bool operator==(const GgufArray &) const = default;
};

class GgufValue {
public:
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t,
                               int32_t, float, bool, std::string, GgufArray,
                               uint64_t, int64_t, double>;

  GgufValue() = default;
  template <typename T>
  GgufValue(T value) : storage_(std::move(value)) {}
  GgufValue(const char *text) : storage_(std::string(text)) {}

  GgufValueType type() const {
    return static_cast<GgufValueType>(storage_.index());
  }
  const Storage &storage() const { return storage_; }

  template <typename T> const T *getIf() const {
    return std::get_if<T>(&storage_);
  }

  bool operator==(const GgufValue &) const = default;

private:
  Storage storage_;
};

// A short human-readable rendering; arrays longer than `maxItems` are
// abbreviated with their length.
std::string formatGgufValue(const GgufValue &value, size_t maxItems = 8);
std::string formatGgufArray(const GgufArray &array, size_t maxItems = 8);

} // namespace kiln
