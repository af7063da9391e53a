// llama.cpp's tokenizer test vectors (../shared/models/vocab): the texts of
// a `.inp` file and the expected ids of the matching `.out` file.
#pragma once

#include "TestData.h"
#include "tokenizer/TokenTypes.h"
#include "tokenizer/Tokenizer.h"

#include <cstdlib>
#include <map>

#include <sstream>
#include <string>
#include <vector>

namespace kiln::test {

inline const char *const kSharedVocabularies[] = {
    "llama-spm", "phi-3", "gpt-2", "deepseek-coder", "bert-bge"};

inline std::string vocabPath(const std::string &name) {
  return sharedFile("vocab/ggml-vocab-" + name + ".gguf");
}

inline std::string readText(const std::string &path) {
  std::vector<uint8_t> bytes = readBytes(path);
  return std::string(bytes.begin(), bytes.end());
}

// The texts of a .inp file: separated by "\n__ggml_vocab_test__\n", which
// also ends the file (so the last, empty, piece is not a text).
inline std::vector<std::string> readVocabTexts(const std::string &path) {
  const std::string content = readText(path);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t start = 0;
  for (;;) {
    size_t end = content.find(separator, start);
    if (end == std::string::npos)
      break;
    texts.push_back(content.substr(start, end - start));
    start = end + separator.size();
  }
  EXPECT_EQ(start, content.size()) << path << " does not end with a separator";
  return texts;
}

// The expected ids of a .out file, one line per text.
inline std::vector<std::vector<TokenId>>
readVocabIds(const std::string &path) {
  std::istringstream in(readText(path));
  std::vector<std::vector<TokenId>> all;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<TokenId> ids;
    long long id = 0;
    while (words >> id)
      ids.push_back(static_cast<TokenId>(id));
    all.push_back(std::move(ids));
  }
  return all;
}

// Ids as "1 2 3" for failure messages.
inline std::string joinIds(const std::vector<TokenId> &ids) {
  std::string out;
  for (TokenId id : ids)
    out += (out.empty() ? "" : " ") + std::to_string(id);
  return out;
}

// The tokenizer of a shared vocabulary, loaded once per test program.
inline const Tokenizer &vocab(const std::string &name) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    auto tokenizer = Tokenizer::open(vocabPath(name));
    if (!tokenizer) {
      ADD_FAILURE() << tokenizer.error().message;
      std::abort();
    }
    it = cache.emplace(name, std::move(*tokenizer)).first;
  }
  return it->second;
}

} // namespace kiln::test
