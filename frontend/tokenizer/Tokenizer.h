// The tokenizer of a GGUF model: text to token ids and back, exactly as
// llama.cpp does it for the same file.
//
//   auto tok = Tokenizer::open("model.gguf");
//   auto ids = tok->encode("Hello world");        // BOS added if the model wants
//   auto text = tok->decode(*ids);                // "Hello world"
//
// Special tokens written in the text ("<|endoftext|>") are recognized only
// with EncodeOptions::parseSpecial; user-defined tokens always are.
#pragma once

#include "Detokenizer.h"
#include "TokenTypes.h"
#include "Vocabulary.h"
#include "gguf/GgufMetadata.h"
#include "support/Result.h"

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

class SubwordModel;

struct EncodeOptions {
  // Add what the vocabulary asks for: BOS and/or EOS (SPM, BPE), or CLS
  // and SEP around the text (WPM).
  bool addSpecial = true;
  // Recognize control tokens written in the text.
  bool parseSpecial = false;
};

class Tokenizer {
public:
  static Result<Tokenizer> fromMetadata(const GgufMetadata &metadata);
  // Reads the tokenizer of a GGUF file (metadata only).
  static Result<Tokenizer> open(const std::string &path);

  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;
  ~Tokenizer();

  const Vocabulary &vocabulary() const { return *vocab_; }
  const Detokenizer &detokenizer() const { return *detokenizer_; }

  // Any bytes are accepted: invalid UTF-8 is handled as llama.cpp does
  // (byte tokens for SPM, U+FFFD for BPE and WPM). Errors are limits
  // (texts of 4 GiB and more) and regex engine failures.
  Result<std::vector<TokenId>> encode(std::string_view text,
                                      const EncodeOptions &options = {}) const;

  Result<std::string> decode(std::span<const TokenId> ids,
                             const DecodeOptions &options = {}) const {
    return detokenizer_->decode(ids, options);
  }

  // The bytes one token stands for; control tokens show their text.
  Result<std::string_view> piece(TokenId id) const {
    return detokenizer_->piece(id, /*renderSpecial=*/true);
  }

private:
  Tokenizer();

  std::shared_ptr<const Vocabulary> vocab_;
  std::unique_ptr<SubwordModel> model_;
  std::unique_ptr<Detokenizer> detokenizer_;
};

} // namespace kiln
