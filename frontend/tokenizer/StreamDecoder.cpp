#include "StreamDecoder.h"

#include "Unicode.h"
#include "Vocabulary.h"

namespace kiln {

StreamDecoder::StreamDecoder(const Detokenizer &detokenizer,
                             DecodeOptions options)
    : detokenizer_(detokenizer), options_(options),
      stripSpace_(options.stripLeadingSpace &&
                  detokenizer.vocabulary().addSpacePrefix()) {}

Result<std::string> StreamDecoder::push(TokenId id) {
  auto piece = detokenizer_.piece(id, options_.renderSpecial);
  if (!piece)
    return std::move(piece).takeError();
  std::string_view bytes = *piece;
  if (detokenizer_.vocabulary().hasAttr(id, kAttrSpecialKinds)) {
    atTextStart_ = true; // the tokenizer prefixes a space after these
  } else if (!bytes.empty()) {
    if (stripSpace_ && atTextStart_ && bytes.front() == ' ')
      bytes.remove_prefix(1);
    atTextStart_ = false;
  }
  pending_ += bytes;
  const size_t held = unicode::incompleteTailLength(pending_);
  std::string ready;
  if (held == 0) {
    ready.swap(pending_);
  } else {
    ready.assign(pending_, 0, pending_.size() - held);
    pending_.erase(0, pending_.size() - held);
  }
  return ready;
}

std::string StreamDecoder::finish() {
  std::string rest;
  rest.swap(pending_);
  atTextStart_ = true;
  return rest;
}

} // namespace kiln
