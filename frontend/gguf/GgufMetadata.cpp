#include "GgufMetadata.h"

#include <limits>
#include <type_traits>

namespace kiln {

const GgufValue *GgufMetadata::find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

Status GgufMetadata::add(std::string key, GgufValue value) {
  if (index_.count(key))
    return makeError(source_, ": metadata key '", key, "' appears twice");
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
  return Status::success();
}

void GgufMetadata::set(std::string key, GgufValue value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

bool GgufMetadata::erase(std::string_view key) {
  auto it = index_.find(std::string(key));
  if (it == index_.end())
    return false;
  entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(it->second));
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i)
    index_.emplace(entries_[i].first, i);
  return true;
}

Error GgufMetadata::missing(std::string_view key) const {
  return makeError(source_, ": metadata key '", std::string(key),
                   "' is missing");
}

Error GgufMetadata::typeError(std::string_view key, std::string_view expected,
                              const GgufValue &found) const {
  std::string foundType(ggufValueTypeName(found.type()));
  if (auto *array = found.getIf<GgufArray>())
    foundType += " of " + std::string(ggufValueTypeName(array->elementType()));
  return makeError(source_, ": metadata key '", std::string(key),
                   "': expected ", std::string(expected), ", found ",
                   foundType);
}

namespace {

// Visits an integer alternative as a signed 128-bit value, if it is one.
template <typename F> bool visitInteger(const GgufValue &value, F &&f) {
  return std::visit(
      [&](const auto &v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          f(static_cast<__int128>(v));
          return true;
        }
        return false;
      },
      value.storage());
}

} // namespace

Result<uint64_t> GgufMetadata::getUInt(std::string_view key) const {
  const GgufValue *value = find(key);
  if (!value)
    return missing(key);
  __int128 number = 0;
  if (!visitInteger(*value, [&](__int128 v) { number = v; }))
    return typeError(key, "an integer", *value);
  if (number < 0)
    return makeError(source_, ": metadata key '", std::string(key),
                     "': expected a non-negative integer, found ",
                     std::to_string(static_cast<int64_t>(number)));
  return static_cast<uint64_t>(number);
}

Result<int64_t> GgufMetadata::getInt(std::string_view key) const {
  const GgufValue *value = find(key);
  if (!value)
    return missing(key);
  __int128 number = 0;
  if (!visitInteger(*value, [&](__int128 v) { number = v; }))
    return typeError(key, "an integer", *value);
  if (number > std::numeric_limits<int64_t>::max())
    return makeError(source_, ": metadata key '", std::string(key),
                     "': value ", std::to_string(static_cast<uint64_t>(number)),
                     " does not fit in int64");
  return static_cast<int64_t>(number);
}

Result<double> GgufMetadata::getFloat(std::string_view key) const {
  const GgufValue *value = find(key);
  if (!value)
    return missing(key);
  if (auto *f = value->getIf<float>())
    return static_cast<double>(*f);
  if (auto *d = value->getIf<double>())
    return *d;
  return typeError(key, "a float", *value);
}

Result<bool> GgufMetadata::getBool(std::string_view key) const {
  const GgufValue *value = find(key);
  if (!value)
    return missing(key);
  if (auto *b = value->getIf<bool>())
    return *b;
  return typeError(key, "a bool", *value);
}

Result<std::string_view> GgufMetadata::getString(std::string_view key) const {
  const GgufValue *value = find(key);
  if (!value)
    return missing(key);
  if (auto *s = value->getIf<std::string>())
    return std::string_view(*s);
  return typeError(key, "a string", *value);
}

Result<const GgufArray *> GgufMetadata::getArray(std::string_view key) const {
  const GgufValue *value = find(key);
  if (!value)
    return missing(key);
  if (auto *a = value->getIf<GgufArray>())
    return a;
  return typeError(key, "an array", *value);
}

} // namespace kiln
