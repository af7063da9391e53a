#include "JsonFile.h"

#include "JsonDepth.h"
#include "support/TextFile.h"

#include <filesystem>
#include <limits>

namespace kiln::convert {

Result<JsonFile> JsonFile::read(const std::string &path) {
  auto text = readTextFile(path, "the JSON file", kMaxJsonFileBytes);
  if (!text)
    return std::move(text).takeError();
  return parse(*text, path);
}

Result<JsonFile> JsonFile::parse(std::string_view text, const std::string &path) {
  if (auto at = findJsonTooDeep(text))
    return makeError(path, ": JSON nests deeper than ", std::to_string(kMaxJsonDepth),
                     " levels (at byte ", std::to_string(*at), ")");
  JsonFile file;
  file.path_ = path;
  file.json_ = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (file.json_.is_discarded())
    return makeError(path, ": not valid JSON");
  if (!file.json_.is_object())
    return makeError(path, ": not a JSON object");
  return file;
}

Result<JsonFile> JsonFile::readIfExists(const std::string &path) {
  if (std::filesystem::exists(path))
    return read(path);
  JsonFile file;
  file.path_ = path;
  return file;
}

bool JsonFile::has(std::string_view key) const {
  auto it = json_.find(key);
  return it != json_.end() && !it->is_null();
}

const nlohmann::json *
JsonFile::findFirst(std::initializer_list<std::string_view> keys) const {
  for (std::string_view key : keys) {
    auto it = json_.find(key);
    if (it != json_.end() && !it->is_null())
      return &*it;
  }
  return nullptr;
}

Error JsonFile::fieldError(std::string_view key, std::string_view problem) const {
  return makeError(path_, ": field '", std::string(key), "' ", problem);
}

namespace {
std::string joinKeys(std::initializer_list<std::string_view> keys) {
  std::string text;
  for (std::string_view key : keys)
    text += (text.empty() ? "" : "' or '") + std::string(key);
  return text;
}
} // namespace

Result<uint64_t> JsonFile::getUInt(std::initializer_list<std::string_view> keys) const {
  for (std::string_view key : keys) {
    auto value = optUInt(key);
    if (!value)
      return std::move(value).takeError();
    if (*value)
      return **value;
  }
  return fieldError(joinKeys(keys), "is missing");
}

Result<double> JsonFile::getFloat(std::initializer_list<std::string_view> keys) const {
  for (std::string_view key : keys) {
    auto value = optFloat(key);
    if (!value)
      return std::move(value).takeError();
    if (*value)
      return **value;
  }
  return fieldError(joinKeys(keys), "is missing");
}

Result<std::optional<uint64_t>> JsonFile::optUInt(std::string_view key) const {
  auto it = json_.find(key);
  if (it == json_.end() || it->is_null())
    return std::optional<uint64_t>();
  if (!it->is_number_unsigned() ||
      it->get<uint64_t>() > std::numeric_limits<uint32_t>::max())
    return fieldError(key, "is not an integer in [0, 2^32): " + it->dump());
  return std::optional<uint64_t>(it->get<uint64_t>());
}

Result<std::optional<double>> JsonFile::optFloat(std::string_view key) const {
  auto it = json_.find(key);
  if (it == json_.end() || it->is_null())
    return std::optional<double>();
  if (!it->is_number())
    return fieldError(key, "is not a number: " + it->dump());
  return std::optional<double>(it->get<double>());
}

} // namespace kiln::convert
