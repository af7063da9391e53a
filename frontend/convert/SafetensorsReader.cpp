#include "SafetensorsReader.h"

#include "JsonDepth.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

namespace kiln::convert {

namespace {

std::optional<DType> parseDType(std::string_view name) {
  static constexpr std::pair<std::string_view, DType> kNames[] = {
      {"F32", DType::F32},   {"F16", DType::F16}, {"BF16", DType::BF16},
      {"F64", DType::F64},   {"I64", DType::I64}, {"I32", DType::I32},
      {"I16", DType::I16},   {"I8", DType::I8},   {"U8", DType::U8},
      {"BOOL", DType::Bool},
  };
  for (const auto &[text, dtype] : kNames)
    if (text == name)
      return dtype;
  return std::nullopt;
}

struct Range {
  uint64_t begin, end;
  size_t tensor;
};

} // namespace

Status parseSafetensors(std::span<const uint8_t> bytes,
                        const std::string &source, Checkpoint &checkpoint) {
  if (bytes.size() < 8)
    return makeError(source, ": truncated: ", std::to_string(bytes.size()),
                     " bytes, too short for the 8-byte header length");
  uint64_t headerLength = 0;
  for (int i = 7; i >= 0; --i)
    headerLength = (headerLength << 8) | bytes[static_cast<size_t>(i)];
  if (headerLength > bytes.size() - 8)
    return makeError(source, ": header length ", std::to_string(headerLength),
                     " runs past the end of the file (",
                     std::to_string(bytes.size()), " bytes)");
  if (headerLength > kMaxSafetensorsHeader)
    return makeError(source, ": header length ", std::to_string(headerLength),
                     " is over the limit of ",
                     std::to_string(kMaxSafetensorsHeader), " bytes");
  auto headerBytes = bytes.subspan(8, headerLength);
  auto data = bytes.subspan(8 + headerLength);

  std::string_view headerText(reinterpret_cast<const char *>(headerBytes.data()),
                              headerBytes.size());
  if (auto at = findJsonTooDeep(headerText))
    return makeError(source, ": the header nests deeper than ",
                     std::to_string(kMaxJsonDepth), " levels (at byte ",
                     std::to_string(8 + *at), ")");
  auto header = nlohmann::ordered_json::parse(headerBytes.begin(),
                                              headerBytes.end(), nullptr,
                                              /*allow_exceptions=*/false);
  if (header.is_discarded())
    return makeError(source, ": the header is not valid JSON");
  if (!header.is_object())
    return makeError(source, ": the header is not a JSON object");

  std::vector<SourceTensor> tensors;
  std::vector<Range> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &name = it.key();
    const auto &entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object())
        return makeError(source, ": __metadata__ is not an object");
      continue;
    }
    auto where = [&](auto... parts) {
      return makeError(source, ": tensor '", name, "': ", parts...);
    };
    if (!entry.is_object())
      return where("header entry is not an object");
    auto dtypeField = entry.find("dtype");
    auto shapeField = entry.find("shape");
    auto offsetsField = entry.find("data_offsets");
    if (dtypeField == entry.end() || !dtypeField->is_string())
      return where("field 'dtype' is missing or not a string");
    if (shapeField == entry.end() || !shapeField->is_array())
      return where("field 'shape' is missing or not an array");
    if (offsetsField == entry.end() || !offsetsField->is_array() ||
        offsetsField->size() != 2)
      return where("field 'data_offsets' is missing or not a pair");

    std::string dtypeText = dtypeField->get<std::string>();
    auto dtype = parseDType(dtypeText);
    if (!dtype)
      return where("dtype '", dtypeText,
                   "' is not supported (F32, F16, BF16, F64, I64, I32, I16, "
                   "I8, U8, BOOL)");

    SourceTensor tensor;
    tensor.name = name;
    tensor.dtype = *dtype;
    tensor.file = source;
    uint64_t elements = 1;
    for (const auto &dim : *shapeField) {
      if (!dim.is_number_unsigned())
        return where("shape ", shapeField->dump(),
                     " has an entry that is not a non-negative integer");
      uint64_t value = dim.get<uint64_t>();
      if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (value != 0 && elements > std::numeric_limits<uint64_t>::max() /
                                        value / 8))
        return where("shape ", shapeField->dump(), " overflows");
      elements *= value;
      tensor.shape.push_back(static_cast<int64_t>(value));
    }
    const auto &begin = (*offsetsField)[0];
    const auto &end = (*offsetsField)[1];
    if (!begin.is_number_unsigned() || !end.is_number_unsigned())
      return where("data_offsets ", offsetsField->dump(),
                   " are not non-negative integers");
    uint64_t b = begin.get<uint64_t>(), e = end.get<uint64_t>();
    if (e < b)
      return where("data_offsets ", offsetsField->dump(), " end before they begin");
    if (e > data.size())
      return where("data_offsets ", offsetsField->dump(),
                   " lie outside the data (", std::to_string(data.size()),
                   " bytes after the header)");
    uint64_t expected = elements * dtypeSize(*dtype);
    if (e - b != expected)
      return where("dtype ", dtypeText, " and shape ", shapeField->dump(),
                   " need ", std::to_string(expected), " bytes, but data_offsets ",
                   offsetsField->dump(), " hold ", std::to_string(e - b));
    tensor.data = data.subspan(b, e - b);
    ranges.push_back({b, e, tensors.size()});
    tensors.push_back(std::move(tensor));
  }

  // Sorted by start, a range overlaps an earlier one exactly when it starts
  // before the furthest end seen so far (empty ranges overlap nothing).
  std::sort(ranges.begin(), ranges.end(),
            [](const Range &x, const Range &y) { return x.begin < y.begin; });
  const Range *furthest = nullptr;
  for (const Range &range : ranges) {
    if (range.end == range.begin)
      continue;
    if (furthest && range.begin < furthest->end)
      return makeError(source, ": tensors '", tensors[furthest->tensor].name,
                       "' and '", tensors[range.tensor].name,
                       "' overlap in the data");
    if (!furthest || range.end > furthest->end)
      furthest = &range;
  }
  for (SourceTensor &tensor : tensors)
    KILN_TRY(checkpoint.add(std::move(tensor)));
  return {};
}

Status readSafetensors(const std::string &path, Checkpoint &checkpoint) {
  auto file = MappedFile::open(path);
  if (!file)
    return std::move(file).takeError();
  KILN_TRY(parseSafetensors((*file)->bytes(), path, checkpoint));
  checkpoint.keepAlive(*file);
  return {};
}

} // namespace kiln::convert
