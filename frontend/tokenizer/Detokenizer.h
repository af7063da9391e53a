// Token ids back to bytes.
//
// Each token stands for a fixed string of bytes (its "piece"): SPM and WPM
// pieces are the token text with U+2581 read as a space, byte tokens
// <0xNN> are one byte, byte-level BPE pieces are the bytes GPT-2's alphabet
// characters stand for, user-defined tokens are their text. Control and
// unknown tokens print nothing unless asked to.
//
// Decoding also undoes the space SPM puts before the text and after each
// special token, so that decode(encode(text)) == text for SPM and
// byte-level BPE vocabularies.
#pragma once

#include "TokenTypes.h"
#include "support/Result.h"

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

class Vocabulary;

struct DecodeOptions {
  // Print the text of control and unknown tokens ("<s>", "<|endoftext|>").
  bool renderSpecial = false;
  // Remove the space the tokenizer added at the start of the text and after
  // special tokens (vocabularies with add_space_prefix only).
  bool stripLeadingSpace = true;
  // llama.cpp's clean-up for vocabularies that ask for it (" ," -> ",",
  // " 's" -> "'s"...). Off by default: it makes decoding lossy.
  bool cleanUpSpaces = false;
};

class Detokenizer {
public:
  explicit Detokenizer(std::shared_ptr<const Vocabulary> vocab);

  const Vocabulary &vocabulary() const { return *vocab_; }

  // The bytes `id` stands for; an error names the id if it is outside the
  // vocabulary.
  Result<std::string_view> piece(TokenId id, bool renderSpecial) const;
  // Whether `id` prints only when special tokens are rendered.
  bool isHidden(TokenId id) const;

  Result<std::string> decode(std::span<const TokenId> ids,
                             const DecodeOptions &options = {}) const;

  Error outOfRange(TokenId id) const;

private:
  std::shared_ptr<const Vocabulary> vocab_;
  std::vector<std::string> pieces_; // with special tokens rendered
};

// llama.cpp's clean_up_tokenization_spaces.
std::string cleanUpTokenizationSpaces(std::string_view text);

} // namespace kiln
