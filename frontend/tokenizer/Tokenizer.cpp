#include "Tokenizer.h"

#include "BpeTokenizer.h"
#include "SpecialTokenSplitter.h"
#include "SpmTokenizer.h"
#include "WpmTokenizer.h"
#include "gguf/GgufFile.h"

namespace kiln {

Tokenizer::Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::fromMetadata(const GgufMetadata &metadata) {
  auto vocab = Vocabulary::fromMetadata(metadata);
  if (!vocab)
    return std::move(vocab).takeError();
  Tokenizer tokenizer;
  tokenizer.vocab_ = std::make_shared<const Vocabulary>(std::move(*vocab));
  const Vocabulary &v = *tokenizer.vocab_;
  switch (v.kind()) {
  case TokenizerKind::Spm:
    tokenizer.model_ = std::make_unique<SpmTokenizer>(v);
    break;
  case TokenizerKind::Bpe: {
    auto bpe = BpeTokenizer::create(v);
    if (!bpe)
      return std::move(bpe).takeError();
    tokenizer.model_ = std::move(*bpe);
    break;
  }
  case TokenizerKind::Wpm:
    tokenizer.model_ = std::make_unique<WpmTokenizer>(v);
    break;
  }
  tokenizer.detokenizer_ = std::make_unique<Detokenizer>(tokenizer.vocab_);
  return tokenizer;
}

Result<Tokenizer> Tokenizer::open(const std::string &path) {
  auto file = GgufFile::open(path);
  if (!file)
    return std::move(file).takeError();
  return fromMetadata(file->metadata());
}

Result<std::vector<TokenId>>
Tokenizer::encode(std::string_view text, const EncodeOptions &options) const {
  const Vocabulary &v = *vocab_;
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  // WordPiece frames every text as [CLS] ... [SEP] (llama.cpp does so
  // whatever add_bos/add_sep say).
  const bool wpm = v.kind() == TokenizerKind::Wpm;
  if (options.addSpecial && (wpm || v.addBos()))
    ids.push_back(v.bos());

  bool afterSpecial = true;
  for (const TextFragment &fragment :
       splitSpecialTokens(v, text, options.parseSpecial)) {
    if (!fragment.isText()) {
      ids.push_back(fragment.token);
      afterSpecial = true;
      continue;
    }
    KILN_TRY(model_->encode(
        text.substr(fragment.begin, fragment.end - fragment.begin),
        afterSpecial, ids));
    afterSpecial = false;
  }

  if (options.addSpecial) {
    if (wpm)
      ids.push_back(v.sep());
    else if (v.addEos())
      ids.push_back(v.eos());
  }
  return ids;
}

} // namespace kiln
