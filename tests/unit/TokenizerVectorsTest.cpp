// Every text of llama.cpp's tokenizer test vectors gives exactly the ids
// llama.cpp gives (no BOS), and decodes back to itself where the
// vocabulary is lossless.
#include "TokenizerTestData.h"
#include "tokenizer/Tokenizer.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

class SharedVocab : public ::testing::TestWithParam<const char *> {};

TEST_P(SharedVocab, MatchesLlamaCppIds) {
  const std::string name = GetParam();
  const std::string path = test::vocabPath(name);
  auto tokenizer = Tokenizer::open(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message;
  const auto texts = test::readVocabTexts(path + ".inp");
  const auto expected = test::readVocabIds(path + ".out");
  ASSERT_EQ(texts.size(), 46u) << name;
  ASSERT_EQ(texts.size(), expected.size()) << name;

  size_t matched = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto ids = tokenizer->encode(texts[i], {.addSpecial = false});
    ASSERT_TRUE(ids.ok()) << ids.error().message;
    EXPECT_EQ(*ids, expected[i])
        << name << " text " << i << " '" << texts[i] << "'\n  got:      "
        << test::joinIds(*ids) << "\n  expected: "
        << test::joinIds(expected[i]);
    matched += *ids == expected[i];
  }
  RecordProperty("matched", static_cast<int>(matched));
  std::printf("[ %s: %zu/%zu texts match llama.cpp ]\n", name.c_str(),
              matched, texts.size());
}

// SPM and byte-level BPE lose nothing: decoding gives the text back. WPM
// (bert-bge) lowercases, strips accents and drops spaces by design, so it
// is left out here (see TokenizerTest.WordPieceIsLossy).
TEST_P(SharedVocab, RoundTrips) {
  const std::string name = GetParam();
  if (name == "bert-bge")
    GTEST_SKIP() << "WordPiece normalization is lossy by design";
  const std::string path = test::vocabPath(name);
  auto tokenizer = Tokenizer::open(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message;
  for (const std::string &text : test::readVocabTexts(path + ".inp")) {
    for (bool addSpecial : {false, true}) {
      auto ids = tokenizer->encode(text, {.addSpecial = addSpecial});
      ASSERT_TRUE(ids.ok()) << ids.error().message;
      auto back = tokenizer->decode(*ids);
      ASSERT_TRUE(back.ok()) << back.error().message;
      EXPECT_EQ(*back, text) << name << " with addSpecial=" << addSpecial;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Vocab, SharedVocab,
                         ::testing::ValuesIn(test::kSharedVocabularies),
                         [](const auto &info) {
                           std::string name = info.param;
                           for (char &c : name)
                             if (c == '-')
                               c = '_';
                           return name;
                         });

} // namespace
} // namespace kiln
