#include "SentencePieceModel.h"

#include "support/MappedFile.h"

#include <bit>

namespace kiln::convert {

namespace {

// A cursor over protobuf wire data; every read is bounds-checked.
class Wire {
public:
  Wire(std::span<const uint8_t> bytes, const std::string &source)
      : bytes_(bytes), source_(source) {}

  bool done() const { return pos_ >= bytes_.size(); }

  Result<uint64_t> varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done())
        return fail("truncated varint");
      uint8_t byte = bytes_[pos_++];
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80))
        return value;
    }
    return fail("varint longer than 10 bytes");
  }
  Result<std::span<const uint8_t>> take(uint64_t length) {
    if (length > bytes_.size() - pos_)
      return fail("field of ", std::to_string(length),
                  " bytes runs past the end");
    auto part = bytes_.subspan(pos_, length);
    pos_ += length;
    return part;
  }
  // Skips a field's value of the given wire type.
  Status skip(uint32_t wireType) {
    switch (wireType) {
    case 0: {
      auto value = varint();
      if (!value)
        return std::move(value).takeError();
      return {};
    }
    case 1: {
      auto part = take(8);
      if (!part)
        return std::move(part).takeError();
      return {};
    }
    case 2: {
      auto length = varint();
      if (!length)
        return std::move(length).takeError();
      auto part = take(*length);
      if (!part)
        return std::move(part).takeError();
      return {};
    }
    case 5: {
      auto part = take(4);
      if (!part)
        return std::move(part).takeError();
      return {};
    }
    default:
      return fail("unsupported wire type ", std::to_string(wireType));
    }
  }
  template <typename... Parts> Error fail(Parts &&...parts) const {
    return makeError(source_, ": byte ", std::to_string(pos_), ": ",
                     std::forward<Parts>(parts)...);
  }
  size_t pos() const { return pos_; }

private:
  std::span<const uint8_t> bytes_;
  const std::string &source_;
  size_t pos_ = 0;
};

Result<SpmPiece> parsePiece(std::span<const uint8_t> bytes,
                            const std::string &source) {
  Wire wire(bytes, source);
  SpmPiece piece;
  while (!wire.done()) {
    auto key = wire.varint();
    if (!key)
      return std::move(key).takeError();
    uint32_t field = static_cast<uint32_t>(*key >> 3), type = *key & 7;
    if (field == 1 && type == 2) {
      auto length = wire.varint();
      if (!length)
        return std::move(length).takeError();
      auto text = wire.take(*length);
      if (!text)
        return std::move(text).takeError();
      piece.piece.assign(reinterpret_cast<const char *>(text->data()),
                         text->size());
    } else if (field == 2 && type == 5) {
      auto raw = wire.take(4);
      if (!raw)
        return std::move(raw).takeError();
      uint32_t bits = 0;
      for (int i = 3; i >= 0; --i)
        bits = (bits << 8) | (*raw)[static_cast<size_t>(i)];
      piece.score = std::bit_cast<float>(bits);
    } else if (field == 3 && type == 0) {
      auto value = wire.varint();
      if (!value)
        return std::move(value).takeError();
      if (*value < 1 || *value > 6)
        return makeError(source, ": piece '", piece.piece, "' has type ",
                         std::to_string(*value), ", not 1..6");
      piece.type = static_cast<SpmPieceType>(*value);
    } else {
      KILN_TRY(wire.skip(type));
    }
  }
  return piece;
}

} // namespace

Result<std::vector<SpmPiece>>
parseSentencePieceModel(std::span<const uint8_t> bytes,
                        const std::string &source) {
  Wire wire(bytes, source);
  std::vector<SpmPiece> pieces;
  while (!wire.done()) {
    auto key = wire.varint();
    if (!key)
      return std::move(key).takeError();
    uint32_t field = static_cast<uint32_t>(*key >> 3), type = *key & 7;
    if (field == 1 && type == 2) {
      auto length = wire.varint();
      if (!length)
        return std::move(length).takeError();
      size_t at = wire.pos();
      auto message = wire.take(*length);
      if (!message)
        return std::move(message).takeError();
      auto piece = parsePiece(*message, source + " (piece " +
                                            std::to_string(pieces.size()) +
                                            " at byte " + std::to_string(at) + ")");
      if (!piece)
        return std::move(piece).takeError();
      pieces.push_back(std::move(*piece));
    } else {
      KILN_TRY(wire.skip(type));
    }
  }
  if (pieces.empty())
    return makeError(source, ": no pieces (not a SentencePiece model)");
  return pieces;
}

Result<std::vector<SpmPiece>> readSentencePieceModel(const std::string &path) {
  auto file = MappedFile::open(path);
  if (!file)
    return std::move(file).takeError();
  return parseSentencePieceModel((*file)->bytes(), path);
}

} // namespace kiln::convert
