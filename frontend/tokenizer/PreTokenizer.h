// The BPE pre-tokenizer families: how each value of `tokenizer.ggml.pre`
// splits text into words before merging. A family is a list of regular
// expressions applied in sequence, each one splitting every piece the
// previous ones produced into the spans it matches and the spans between
// them (both are kept). The patterns are those llama.cpp runs, in its
// dialect (ECMAScript-like `\s`, `\d`, `\b`); RegexSplitter translates them
// for PCRE2.
#pragma once

#include <span>
#include <string_view>

namespace kiln {

struct PreTokenizerFamily {
  std::span<const std::string_view> names;    // values of tokenizer.ggml.pre
  std::span<const std::string_view> patterns; // applied in this order
  bool ignoreMerges = false; // a word that is already a token stays whole
  bool addBos = false;       // adds BOS unless the file says otherwise
  bool cleanSpaces = true;   // llama.cpp's clean_up_tokenization_spaces
  bool noDefaultBos = false; // no BOS id unless the file gives one
};

// The family for a `tokenizer.ggml.pre` value; "" is the default family
// (files written before the key existed). nullptr if unknown.
const PreTokenizerFamily *findPreTokenizer(std::string_view name);
std::span<const PreTokenizerFamily> allPreTokenizers();

} // namespace kiln
