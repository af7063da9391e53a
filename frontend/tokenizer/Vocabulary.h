// A tokenizer vocabulary as a GGUF file stores it (`tokenizer.ggml.*`):
// token strings, scores and types, BPE merges, special token ids and the
// flags that steer tokenization. Read once, checked, then immutable.
//
// Defaults for missing keys follow llama.cpp, whose files these are: e.g. a
// "llama" vocabulary adds BOS and a space prefix unless the file says
// otherwise, and a BPE pre-tokenizer family may add BOS by itself.
#pragma once

#include "TokenIndex.h"
#include "TokenTypes.h"
#include "gguf/GgufMetadata.h"
#include "support/Result.h"

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln {

struct PreTokenizerFamily;

class Vocabulary {
public:
  // Reads `metadata` (whose source() names the file in errors).
  static Result<Vocabulary> fromMetadata(const GgufMetadata &metadata);

  const std::string &source() const { return source_; }
  TokenizerKind kind() const { return kind_; }
  const std::string &modelName() const { return modelName_; } // "llama"...
  const std::string &preName() const { return preName_; }
  // The BPE pre-tokenizer family (nullptr for SPM and WPM).
  const PreTokenizerFamily *preTokenizer() const { return preTokenizer_; }

  size_t size() const { return tokens_.size(); }
  bool contains(TokenId id) const {
    return id >= 0 && static_cast<size_t>(id) < tokens_.size();
  }
  const TokenData &token(TokenId id) const { return tokens_[id]; }
  bool hasAttr(TokenId id, uint32_t attr) const {
    return (tokens_[id].attrs & attr) != 0;
  }
  // The id of the token whose text is exactly `text`, or kNoToken.
  TokenId find(std::string_view text) const;
  size_t maxTokenBytes() const { return maxTokenBytes_; }

  // BPE merges in rank order (rank = index), split into their two halves.
  const std::vector<std::pair<std::string, std::string>> &merges() const {
    return merges_;
  }

  // Special ids, kNoToken when the vocabulary has none.
  TokenId bos() const { return bos_; }
  TokenId eos() const { return eos_; }
  TokenId unk() const { return unk_; }
  TokenId sep() const { return sep_; }
  TokenId pad() const { return pad_; }

  bool addBos() const { return addBos_; }
  bool addEos() const { return addEos_; }
  bool addSpacePrefix() const { return addSpacePrefix_; }
  // llama.cpp's clean_up_tokenization_spaces for this vocabulary (applied
  // by decode only when asked).
  bool cleanSpaces() const { return cleanSpaces_; }
  // WordPiece normalization.
  bool lowercase() const { return lowercase_; }
  bool stripAccents() const { return stripAccents_; }

  // Tokens that may be matched in the text itself (control, user-defined,
  // unknown), longest text first.
  const std::vector<TokenId> &specialTokens() const { return specialTokens_; }

  // Things llama.cpp tolerates but warns about (bad special ids...).
  const std::vector<std::string> &warnings() const { return warnings_; }

private:
  class Loader;

  std::string source_;
  TokenizerKind kind_ = TokenizerKind::Spm;
  std::string modelName_, preName_;
  const PreTokenizerFamily *preTokenizer_ = nullptr;
  std::vector<TokenData> tokens_;
  TokenIndex index_;
  size_t maxTokenBytes_ = 0;
  std::vector<std::pair<std::string, std::string>> merges_;
  TokenId bos_ = kNoToken, eos_ = kNoToken, unk_ = kNoToken;
  TokenId sep_ = kNoToken, pad_ = kNoToken;
  bool addBos_ = false, addEos_ = false, addSpacePrefix_ = false;
  bool cleanSpaces_ = false;
  bool lowercase_ = true, stripAccents_ = true;
  std::vector<TokenId> specialTokens_;
  std::vector<std::string> warnings_;
};

} // namespace kiln
