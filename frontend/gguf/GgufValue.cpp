#include "GgufValue.h"

#include <cstdio>
#include <type_traits>

namespace kiln {

std::string_view ggufValueTypeName(GgufValueType type) {
  static constexpr std::string_view names[kGgufValueTypeCount] = {
      "uint8", "int8",   "uint16", "int16", "uint32", "int32", "float32",
      "bool",  "string", "array",  "uint64", "int64", "float64"};
  auto index = static_cast<uint32_t>(type);
  return index < kGgufValueTypeCount ? names[index] : "unknown";
}

namespace {

std::string quoted(const std::string &text, size_t maxChars = 60) {
  std::string out = "\"";
  size_t shown = 0;
  for (unsigned char c : text) {
    if (shown++ == maxChars) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

template <typename T> std::string formatScalar(const T &value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return quoted(value);
  } else if constexpr (std::is_floating_point_v<T>) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(value));
    return buf;
  } else {
    return std::to_string(value);
  }
}

} // namespace

std::string formatGgufArray(const GgufArray &array, size_t maxItems) {
  return std::visit(
      [&](const auto &items) {
        using Element = typename std::decay_t<decltype(items)>::value_type;
        std::string out = "[";
        size_t shown = items.size() < maxItems ? items.size() : maxItems;
        for (size_t i = 0; i < shown; ++i) {
          if (i)
            out += ", ";
          if constexpr (std::is_same_v<Element, GgufArray>)
            out += formatGgufArray(items[i], maxItems);
          else
            out += formatScalar(static_cast<Element>(items[i]));
        }
        if (shown < items.size())
          out += ", ... (" + std::to_string(items.size()) + " " +
                 std::string(ggufValueTypeName(array.elementType())) + ")";
        return out + "]";
      },
      array.items);
}

std::string formatGgufValue(const GgufValue &value, size_t maxItems) {
  return std::visit(
      [&](const auto &v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, GgufArray>)
          return formatGgufArray(v, maxItems);
        else
          return formatScalar(v);
      },
      value.storage());
}

} // namespace kiln
