// The pieces of a SentencePiece model file (tokenizer.model), read from its
// protobuf encoding by a small reader of the few fields needed: ModelProto
// field 1 (repeated SentencePiece: 1 piece, 2 score, 3 type). Other fields
// are skipped by wire type.
#pragma once

#include "support/Result.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::convert {

// SentencePiece's own piece types (sentencepiece_model.proto).
enum class SpmPieceType : int32_t {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

struct SpmPiece {
  std::string piece;
  float score = 0.0f;
  SpmPieceType type = SpmPieceType::Normal;
};

Result<std::vector<SpmPiece>> parseSentencePieceModel(
    std::span<const uint8_t> bytes, const std::string &source);

Result<std::vector<SpmPiece>> readSentencePieceModel(const std::string &path);

} // namespace kiln::convert
