// Decodes tokens one at a time, as a model produces them. A token may end
// in the middle of a UTF-8 character (byte tokens, byte-level BPE); those
// bytes are held back until the character is complete, so every string
// returned is whole characters. finish() returns whatever is still held.
#pragma once

#include "Detokenizer.h"

namespace kiln {

class StreamDecoder {
public:
  explicit StreamDecoder(const Detokenizer &detokenizer,
                         DecodeOptions options = {});

  // The text completed by `id` (possibly empty); an error if `id` is
  // outside the vocabulary (nothing is consumed then).
  Result<std::string> push(TokenId id);
  // The held bytes of an unfinished character, as they are; the decoder is
  // then ready for a new text.
  std::string finish();

  // Bytes held back now (0..3).
  size_t pendingBytes() const { return pending_.size(); }

private:
  const Detokenizer &detokenizer_;
  DecodeOptions options_;
  bool stripSpace_;    // the vocabulary adds a space to strip
  bool atTextStart_ = true; // no text since the start or a special token
  std::string pending_;
};

} // namespace kiln
