// Splits text with a pre-tokenizer's regex list, PCRE2 doing the matching.
//
// Each pattern splits every current piece into the spans it matches and the
// spans between matches; both are kept, so no byte is lost. A pattern sees
// one piece at a time: its anchors and lookarounds stop at the piece's
// ends. An empty match is a split point.
//
// The patterns come in llama.cpp's dialect, which runs std::regex over text
// where \p{..} classes were precomputed per code point and every non-ASCII
// whitespace character was replaced by U+000B. To match it, `\s` is Unicode
// White_Space, `\d`, `\w` and `\b` are ASCII (as in ECMAScript), and the
// letter subcategories \p{Lu}, \p{Ll}... all mean \p{L} (llama.cpp folds
// them); translatePattern() rewrites a pattern accordingly. The text is
// matched with non-ASCII whitespace as U+000B too, so that a range such as
// [\x{0800}-\x{4E00}] does not take in U+3000, the ideographic space.
#pragma once

#include "support/Result.h"

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

struct TextSpan {
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
};

// The PCRE2 form of a pattern in llama.cpp's dialect.
Result<std::string> translatePattern(std::string_view pattern);

class RegexSplitter {
public:
  // Compiles the patterns (in llama.cpp's dialect); `what` names them in
  // errors, e.g. "pre-tokenizer 'gpt-2'".
  static Result<RegexSplitter> compile(std::span<const std::string_view> patterns,
                                       const std::string &what);

  // Splits `text` into pieces in text order. Any bytes are accepted; the
  // regexes see encoded surrogates as U+E000 and bad UTF-8 as U+FFFD (the
  // BPE tokenizer decodes bad bytes to U+FFFD itself beforehand).
  Status split(std::string_view text, std::vector<TextSpan> &pieces) const;

  size_t patternCount() const { return patterns_.size(); }

private:
  struct Compiled;
  Status splitMatchable(std::string_view text,
                        std::vector<TextSpan> &pieces) const;
  std::vector<std::shared_ptr<const Compiled>> patterns_;
  std::string what_;
};

} // namespace kiln
