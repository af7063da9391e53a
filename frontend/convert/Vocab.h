// Tokenizer metadata for GGUF (the tokenizer.ggml.* keys) from a Hugging
// Face folder, written in the order and with the values llama.cpp's
// converter writes them.
#pragma once

#include "JsonFile.h"
#include "gguf/GgufMetadata.h"
#include "support/Result.h"

#include <cstddef>
#include <optional>
#include <string>

namespace kiln::convert {

// llama.cpp's token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

struct VocabInputs {
  std::string dir;       // the model folder
  const JsonFile *config; // its config.json
};

// True for texts such as "<|im_start|>" that llama.cpp's converter treats
// as control tokens even when not marked special.
bool looksSpecial(std::string_view token);

bool hasSentencePieceVocab(const VocabInputs &inputs);
// tokenizer.model: model "llama", pre "default", tokens, scores, types,
// then the special tokens.
Status addSentencePieceVocab(const VocabInputs &inputs, GgufMetadata &out);

bool hasBpeVocab(const VocabInputs &inputs);
// tokenizer.json, or vocab.json + merges.txt: model "gpt2", the
// pre-tokenizer name, tokens, types, merges, then the special tokens.
// `pre` overrides the pre-tokenizer name recognized from the files.
Status addBpeVocab(const VocabInputs &inputs, const std::string &pre,
                   GgufMetadata &out);

// Special token ids (tokenizer_config.json's *_token matched against
// tokenizer.json's added tokens, then config.json's *_token_id), merges
// (when `loadMerges`), add_bos/add_eos flags and the chat template, as
// gguf-py's SpecialVocab writes them. Ids at or past `nVocab` are skipped.
Status addSpecialVocab(const VocabInputs &inputs, bool loadMerges,
                       std::optional<size_t> nVocab, GgufMetadata &out);

} // namespace kiln::convert
