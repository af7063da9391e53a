// tokenizer.model (SentencePiece) to GGUF, as llama.cpp's converter does it:
// ids past the model's pieces are "[PADn]" unused tokens, added tokens
// (added_tokens.json, tokenizer_config.json's added_tokens_decoder)
// override pieces with score -1000.
#include "SentencePieceModel.h"
#include "Vocab.h"

#include <charconv>
#include <filesystem>

namespace kiln::convert {

namespace fs = std::filesystem;

bool hasSentencePieceVocab(const VocabInputs &inputs) {
  return fs::is_regular_file(fs::path(inputs.dir) / "tokenizer.model");
}

namespace {

TokenType tokenTypeOf(SpmPieceType type) {
  switch (type) {
  case SpmPieceType::Unknown: return TokenType::Unknown;
  case SpmPieceType::Control: return TokenType::Control;
  case SpmPieceType::Unused: return TokenType::Unused;
  case SpmPieceType::Byte: return TokenType::Byte;
  default: return TokenType::Normal; // user-defined pieces too, as llama.cpp
  }
}

std::string replaceAll(std::string text, std::string_view from,
                       std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

} // namespace

Status addSentencePieceVocab(const VocabInputs &inputs, GgufMetadata &out) {
  std::string modelPath = (fs::path(inputs.dir) / "tokenizer.model").string();
  auto pieces = readSentencePieceModel(modelPath);
  if (!pieces)
    return std::move(pieces).takeError();
  auto configured = inputs.config->optUInt("vocab_size");
  if (!configured)
    return std::move(configured).takeError();
  size_t vocabSize = configured->value_or(pieces->size());
  if (pieces->size() > vocabSize)
    return makeError(modelPath, ": ", std::to_string(pieces->size()),
                     " pieces, more than vocab_size ", std::to_string(vocabSize),
                     " in ", inputs.config->path());

  std::vector<std::string> tokens(vocabSize);
  std::vector<float> scores(vocabSize, -10000.0f);
  std::vector<int32_t> types(vocabSize, static_cast<int32_t>(TokenType::Unused));
  for (size_t i = 0; i < vocabSize; ++i)
    tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (size_t i = 0; i < pieces->size(); ++i) {
    tokens[i] = (*pieces)[i].piece;
    scores[i] = (*pieces)[i].score;
    types[i] = static_cast<int32_t>(tokenTypeOf((*pieces)[i].type));
  }

  std::string addedPath = (fs::path(inputs.dir) / "added_tokens.json").string();
  auto added = JsonFile::readIfExists(addedPath);
  if (!added)
    return std::move(added).takeError();
  for (auto it = added->json().begin(); it != added->json().end(); ++it) {
    if (!it->is_number_unsigned())
      return added->fieldError(it.key(), "is not a token id");
    uint64_t id = it->get<uint64_t>();
    if (id >= vocabSize)
      continue; // llama.cpp ignores it with a warning
    tokens[id] = it.key();
    scores[id] = -1000.0f;
    types[id] = static_cast<int32_t>(TokenType::UserDefined);
  }

  auto tokenizerConfig = JsonFile::readIfExists(
      (fs::path(inputs.dir) / "tokenizer_config.json").string());
  if (!tokenizerConfig)
    return std::move(tokenizerConfig).takeError();
  if (auto decoder = tokenizerConfig->json().find("added_tokens_decoder");
      decoder != tokenizerConfig->json().end() && decoder->is_object()) {
    for (auto it = decoder->begin(); it != decoder->end(); ++it) {
      uint64_t id = 0;
      auto [end, error] = std::from_chars(it.key().data(),
                                          it.key().data() + it.key().size(), id);
      if (error != std::errc() || end != it.key().data() + it.key().size())
        return tokenizerConfig->fieldError("added_tokens_decoder",
                                           "has a key that is not an id: " + it.key());
      if (id >= vocabSize)
        return tokenizerConfig->fieldError(
            "added_tokens_decoder", "has id " + it.key() + " past vocab_size " +
                                        std::to_string(vocabSize));
      if (!it->is_object() || !it->contains("content") ||
          !(*it)["content"].is_string())
        return tokenizerConfig->fieldError("added_tokens_decoder",
                                           "entry " + it.key() + " has no content");
      std::string content = (*it)["content"].get<std::string>();
      auto specialField = it->find("special");
      bool special = specialField != it->end() && specialField->is_boolean() &&
                     specialField->get<bool>();
      if (special || looksSpecial(content)) {
        types[id] = static_cast<int32_t>(TokenType::Control);
      } else {
        content = replaceAll(content, "\xe2\x96\x81", " ");
        types[id] = static_cast<int32_t>(TokenType::UserDefined);
      }
      scores[id] = -1000.0f;
      tokens[id] = std::move(content);
    }
  }

  size_t nVocab = tokens.size();
  out.set("tokenizer.ggml.model", GgufValue("llama"));
  out.set("tokenizer.ggml.pre", GgufValue("default"));
  out.set("tokenizer.ggml.tokens", GgufArray{std::move(tokens)});
  out.set("tokenizer.ggml.scores", GgufArray{std::move(scores)});
  out.set("tokenizer.ggml.token_type", GgufArray{std::move(types)});
  return addSpecialVocab(inputs, /*loadMerges=*/false, nVocab, out);
}

} // namespace kiln::convert
