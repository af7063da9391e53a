#include "Vocabulary.h"

#include "PreTokenizer.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace kiln {

std::string_view tokenizerKindName(TokenizerKind kind) {
  switch (kind) {
  case TokenizerKind::Spm: return "SPM";
  case TokenizerKind::Bpe: return "BPE";
  case TokenizerKind::Wpm: return "WPM";
  }
  return "?";
}

namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";
constexpr std::string_view kPreKey = "tokenizer.ggml.pre";
constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
constexpr std::string_view kTypesKey = "tokenizer.ggml.token_type";
constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";

uint32_t attrsOfType(int32_t type) {
  switch (static_cast<GgufTokenType>(type)) {
  case GgufTokenType::Normal: return kAttrNormal;
  case GgufTokenType::Unknown: return kAttrUnknown;
  case GgufTokenType::Control: return kAttrControl;
  case GgufTokenType::UserDefined: return kAttrUserDefined;
  case GgufTokenType::Unused: return kAttrUnused;
  case GgufTokenType::Byte: return kAttrByte;
  default: return kAttrUndefined;
  }
}

// Token texts by which llama.cpp recognizes end-of-generation tokens in
// files that do not mark them; it forces them to be control tokens.
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>",      "<|im_end|>",       "<|end|>",
    "<|return|>",      "<|call|>",         "<|flush|>",
    "<|calls|>",       "<end_of_turn>",    "<|endoftext|>",
    "</s>",            "<|eom_id|>",       "<EOT>",
    "_<EOT>",          "[EOT]",            "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>",
    "<turn|>",         "<|tool_response>",
    "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "[e~[",
};

// Fill-in-the-middle tokens, by kind: when the file gives no id for a kind,
// the first token (lowest id) with one of these texts becomes a control
// token, as in llama.cpp.
struct FimKind {
  std::string_view keys[2]; // the id key and its deprecated name
  std::initializer_list<std::string_view> texts;
  bool endsGeneration;
};
const FimKind kFimKinds[] = {
    {{"tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id"},
     {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
      "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>",
      "\xE2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"},
     false},
    {{"tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id"},
     {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
      "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>", "<SUF>",
      "\xE2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"},
     false},
    {{"tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id"},
     {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
      "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>",
      "\xE2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"},
     false},
    {{"tokenizer.ggml.fim_pad_token_id", ""},
     {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"},
     true},
    {{"tokenizer.ggml.fim_rep_token_id", ""},
     {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"},
     true},
    {{"tokenizer.ggml.fim_sep_token_id", ""}, {"<|file_sep|>"}, true},
};

// gpt-oss marks these as control tokens but llama.cpp renders them always.
constexpr std::string_view kAlwaysRenderedTexts[] = {
    "<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};

std::string lowercaseAscii(std::string_view text) {
  std::string out(text);
  for (char &c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

} // namespace

class Vocabulary::Loader {
public:
  Loader(const GgufMetadata &metadata, Vocabulary &vocab)
      : metadata_(metadata), vocab_(vocab) {}

  Status load() {
    vocab_.source_ = metadata_.source();
    KILN_TRY(readKind());
    KILN_TRY(readTokens());
    KILN_TRY(readMerges());
    KILN_TRY(readSpecialIds());
    KILN_TRY(readFlags());
    markSpecialTexts();
    collectSpecialTokens();
    applyModelQuirks();
    return Status::success();
  }

private:
  Error error(std::string_view key, const std::string &problem) const {
    return makeError(metadata_.source(), ": metadata key '", std::string(key),
                     "': ", problem);
  }

  void warn(const std::string &message) {
    vocab_.warnings_.push_back(metadata_.source() + ": " + message);
  }

  Status readKind() {
    auto model = metadata_.getString(kModelKey);
    if (!model)
      return std::move(model).takeError();
    vocab_.modelName_ = std::string(*model);
    if (*model == "llama") {
      vocab_.kind_ = TokenizerKind::Spm;
      vocab_.bos_ = 1, vocab_.eos_ = 2, vocab_.unk_ = 0;
      vocab_.addSpacePrefix_ = true;
      vocab_.addBos_ = true;
    } else if (*model == "gpt2") {
      vocab_.kind_ = TokenizerKind::Bpe;
      vocab_.bos_ = 11, vocab_.eos_ = 11; // llama.cpp's defaults
    } else if (*model == "bert") {
      vocab_.kind_ = TokenizerKind::Wpm;
      vocab_.bos_ = 101, vocab_.unk_ = 100, vocab_.sep_ = 102;
      vocab_.pad_ = 0;
      vocab_.addBos_ = true;
      vocab_.cleanSpaces_ = true;
    } else {
      return error(kModelKey, "tokenizer model '" + std::string(*model) +
                                  "' is not supported (kiln reads 'llama', "
                                  "'gpt2' and 'bert')");
    }

    if (metadata_.contains(kPreKey)) {
      auto pre = metadata_.getString(kPreKey);
      if (!pre)
        return std::move(pre).takeError();
      vocab_.preName_ = std::string(*pre);
    }
    if (vocab_.kind_ != TokenizerKind::Bpe)
      return Status::success();
    if (vocab_.preName_.empty())
      warn("no tokenizer.ggml.pre; using the default pre-tokenizer, which "
           "may not be the one the model was trained with");
    const PreTokenizerFamily *family = findPreTokenizer(vocab_.preName_);
    if (!family)
      return error(kPreKey, "pre-tokenizer '" + vocab_.preName_ +
                                "' is not supported");
    vocab_.preTokenizer_ = family;
    vocab_.addBos_ = family->addBos;
    vocab_.cleanSpaces_ = family->cleanSpaces;
    if (family->noDefaultBos)
      vocab_.bos_ = kNoToken;
    return Status::success();
  }

  Status readTokens() {
    auto texts = metadata_.getArrayOf<std::string>(kTokensKey);
    if (!texts)
      return std::move(texts).takeError();
    const size_t count = texts->size();
    if (count == 0)
      return error(kTokensKey, "the vocabulary is empty");
    if (count > static_cast<size_t>(std::numeric_limits<TokenId>::max()))
      return error(kTokensKey, std::to_string(count) + " tokens is too many");

    std::span<const float> scores;
    std::span<const int32_t> intScores;
    if (metadata_.contains(kScoresKey)) {
      if (auto f = metadata_.getArrayOf<float>(kScoresKey))
        scores = *f;
      else if (auto i = metadata_.getArrayOf<int32_t>(kScoresKey))
        intScores = *i;
      else
        return error(kScoresKey, "expected an array of float32 or int32");
      size_t n = scores.empty() ? intScores.size() : scores.size();
      if (n < count)
        return error(kScoresKey, std::to_string(n) + " scores for " +
                                     std::to_string(count) + " tokens");
    }
    std::span<const int32_t> types;
    if (metadata_.contains(kTypesKey)) {
      auto t = metadata_.getArrayOf<int32_t>(kTypesKey);
      if (!t)
        return std::move(t).takeError();
      types = *t;
      if (types.size() < count)
        return error(kTypesKey, std::to_string(types.size()) +
                                    " token types for " +
                                    std::to_string(count) + " tokens");
    }

    vocab_.tokens_.resize(count);
    for (size_t i = 0; i < count; ++i) {
      TokenData &token = vocab_.tokens_[i];
      token.text = (*texts)[i];
      if (token.text.empty()) // as llama.cpp does, so lookups stay unique
        token.text = "[EMPTY_" + std::to_string(i) + "]";
      if (!scores.empty())
        token.score = scores[i];
      else if (!intScores.empty())
        token.score = static_cast<float>(intScores[i]);
      token.attrs = types.empty() ? kAttrNormal : attrsOfType(types[i]);
      vocab_.maxTokenBytes_ = std::max(vocab_.maxTokenBytes_, token.text.size());
    }
    const TokenId duplicate = vocab_.index_.build(vocab_.tokens_);
    if (duplicate != kNoToken)
      return error(kTokensKey,
                   "token " + std::to_string(duplicate) +
                       " has the same text as token " +
                       std::to_string(vocab_.find(
                           vocab_.tokens_[duplicate].text)));
    return Status::success();
  }

  Status readMerges() {
    if (vocab_.kind_ != TokenizerKind::Bpe)
      return Status::success();
    auto merges = metadata_.getArrayOf<std::string>(kMergesKey);
    if (!merges)
      return std::move(merges).takeError();
    vocab_.merges_.reserve(merges->size());
    for (const std::string &merge : *merges) {
      // The halves are separated by the first space after the first byte
      // (a half may itself be a space in non-byte-level vocabularies).
      size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
      if (space == std::string::npos) {
        vocab_.merges_.emplace_back(); // keeps ranks aligned; never matches
        continue;
      }
      vocab_.merges_.emplace_back(merge.substr(0, space),
                                  merge.substr(space + 1));
    }
    return Status::success();
  }

  // Reads an optional id key into `id`; an id past the vocabulary keeps the
  // default, with a warning (llama.cpp's behaviour).
  Status readId(std::string_view key, TokenId &id) {
    if (id != kNoToken && !vocab_.contains(id)) {
      warn("default " + std::string(key) + " " + std::to_string(id) +
           " is outside the vocabulary; disabled");
      id = kNoToken;
    }
    if (!metadata_.contains(key))
      return Status::success();
    auto value = metadata_.getUInt(key);
    if (!value)
      return std::move(value).takeError();
    if (*value >= vocab_.tokens_.size()) {
      warn("metadata key '" + std::string(key) + "': id " +
           std::to_string(*value) + " is outside the vocabulary of " +
           std::to_string(vocab_.tokens_.size()) + " tokens; ignored");
      return Status::success();
    }
    id = static_cast<TokenId>(*value);
    return Status::success();
  }

  Status readSpecialIds() {
    KILN_TRY(readId("tokenizer.ggml.bos_token_id", vocab_.bos_));
    KILN_TRY(readId("tokenizer.ggml.eos_token_id", vocab_.eos_));
    KILN_TRY(readId("tokenizer.ggml.unknown_token_id", vocab_.unk_));
    KILN_TRY(readId("tokenizer.ggml.seperator_token_id", vocab_.sep_));
    KILN_TRY(readId("tokenizer.ggml.padding_token_id", vocab_.pad_));
    for (size_t k = 0; k < std::size(kFimKinds); ++k)
      for (std::string_view key : kFimKinds[k].keys)
        if (!key.empty())
          KILN_TRY(readId(key, fimIds_[k]));
    return Status::success();
  }

  Status readOptionalBool(std::string_view key, bool &flag) {
    if (!metadata_.contains(key))
      return Status::success();
    auto value = metadata_.getBool(key);
    if (!value)
      return std::move(value).takeError();
    flag = *value;
    return Status::success();
  }

  Status readFlags() {
    KILN_TRY(readOptionalBool("tokenizer.ggml.add_space_prefix",
                              vocab_.addSpacePrefix_));
    KILN_TRY(readOptionalBool("tokenizer.ggml.add_bos_token", vocab_.addBos_));
    KILN_TRY(readOptionalBool("tokenizer.ggml.add_eos_token", vocab_.addEos_));
    if (vocab_.addBos_ && vocab_.bos_ == kNoToken)
      return error("tokenizer.ggml.add_bos_token",
                   "BOS is to be added but the vocabulary has no BOS token "
                   "(tokenizer.ggml.bos_token_id)");
    if (vocab_.addEos_ && vocab_.eos_ == kNoToken)
      return error("tokenizer.ggml.add_eos_token",
                   "EOS is to be added but the vocabulary has no EOS token "
                   "(tokenizer.ggml.eos_token_id)");
    if (vocab_.kind_ == TokenizerKind::Wpm &&
        (vocab_.bos_ == kNoToken || vocab_.sep_ == kNoToken))
      return error("tokenizer.ggml.seperator_token_id",
                   "a WordPiece vocabulary needs CLS (BOS) and SEP tokens");
    // The WordPiece normalizer strips accents when it lowercases, unless
    // the file says otherwise.
    KILN_TRY(readOptionalBool("tokenizer.ggml.normalizer.lowercase",
                              vocab_.lowercase_));
    vocab_.stripAccents_ = vocab_.lowercase_;
    KILN_TRY(readOptionalBool("tokenizer.ggml.normalizer.strip_accents",
                              vocab_.stripAccents_));
    return Status::success();
  }

  void makeControl(TokenId id) { vocab_.tokens_[id].attrs |= kAttrControl; }

  // llama.cpp recognizes end-of-generation and fill-in-the-middle tokens by
  // their text and makes them control tokens, so they are neither matched
  // in plain text nor printed.
  void markSpecialTexts() {
    for (size_t k = 0; k < std::size(kFimKinds); ++k) {
      if (fimIds_[k] != kNoToken)
        continue;
      for (std::string_view text : kFimKinds[k].texts) {
        const TokenId id = vocab_.find(text);
        if (id != kNoToken && (fimIds_[k] == kNoToken || id < fimIds_[k]))
          fimIds_[k] = id;
      }
      if (fimIds_[k] != kNoToken)
        makeControl(fimIds_[k]);
    }
    for (std::string_view text : kEndOfGenerationTexts) {
      TokenId id = vocab_.find(text);
      if (id != kNoToken)
        makeControl(id);
    }
    for (std::string_view text : kAlwaysRenderedTexts) {
      TokenId id = vocab_.find(text);
      if (id != kNoToken)
        vocab_.tokens_[id].attrs = kAttrUserDefined;
    }
    // o200k_harmony and solar-open end turns with other tokens; their
    // "<|end|>" is text.
    auto has = [&](std::string_view text) {
      return vocab_.find(text) != kNoToken;
    };
    const bool hasCall = has("<|call|>") || has("<|calls|>");
    if (has("<|end|>") && hasCall && (has("<|return|>") || has("<|flush|>")))
      vocab_.tokens_[vocab_.find("<|end|>")].attrs = kAttrUserDefined;
    // Gemma 4's "</s>" is ordinary text.
    if (has("<|tool_response>") && has("</s>"))
      vocab_.tokens_[vocab_.find("</s>")].attrs = kAttrNormal;
  }

  void collectSpecialTokens() {
    std::vector<TokenId> &special = vocab_.specialTokens_;
    for (size_t id = 0; id < vocab_.tokens_.size(); ++id)
      if (vocab_.tokens_[id].attrs & kAttrSpecialKinds)
        special.push_back(static_cast<TokenId>(id));
    // Longest first, so that a token containing another wins; ties by id
    // (llama.cpp's order among equal lengths is unspecified).
    std::sort(special.begin(), special.end(), [&](TokenId a, TokenId b) {
      const size_t la = vocab_.tokens_[a].text.size();
      const size_t lb = vocab_.tokens_[b].text.size();
      return la != lb ? la > lb : a < b;
    });
  }

  void setAttr(std::string_view text, uint32_t attr, bool on) {
    TokenId id = vocab_.find(text);
    if (id == kNoToken)
      return;
    if (on)
      vocab_.tokens_[id].attrs |= attr;
    else
      vocab_.tokens_[id].attrs &= ~attr;
  }

  // llama.cpp's per-model whitespace handling around special tokens, keyed
  // by model name, pre-tokenizer and architecture.
  void applyModelQuirks() {
    std::string name, arch;
    if (auto n = metadata_.getString("general.name"))
      name = lowercaseAscii(*n);
    if (auto a = metadata_.getString("general.architecture"))
      arch = *a;
    const std::string &pre = vocab_.preName_;
    auto contains = [](const std::string &s, std::string_view part) {
      return s.find(part) != std::string::npos;
    };
    if (contains(pre, "jina-v2-de") || contains(pre, "jina-v2-es") ||
        contains(pre, "jina-v2-code") || contains(arch, "nomic-bert-moe") ||
        contains(arch, "jina-bert-v3")) {
      setAttr("<mask>", kAttrLStrip, true);
    } else if (contains(name, "phi-3") || contains(name, "phi3")) {
      for (TokenId id : vocab_.specialTokens_)
        vocab_.tokens_[id].attrs |= kAttrRStrip;
      setAttr("</s>", kAttrRStrip, true);
      for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"})
        setAttr(text, kAttrRStrip, false);
    } else if (contains(name, "modern-bert")) {
      setAttr("[MASK]", kAttrLStrip, true);
    }
  }

  const GgufMetadata &metadata_;
  Vocabulary &vocab_;
  TokenId fimIds_[std::size(kFimKinds)] = {kNoToken, kNoToken, kNoToken,
                                          kNoToken, kNoToken, kNoToken};
};

Result<Vocabulary> Vocabulary::fromMetadata(const GgufMetadata &metadata) {
  Vocabulary vocab;
  Loader loader(metadata, vocab);
  Status status = loader.load();
  if (!status)
    return std::move(status).takeError();
  return vocab;
}

TokenId Vocabulary::find(std::string_view text) const {
  return index_.find(text, tokens_);
}

} // namespace kiln
