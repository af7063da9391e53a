// Input no tokenizer should choke on: bad UTF-8, empty text, a megabyte of
// one character, ids outside the vocabulary. Defined results or clear
// errors, never a crash. (Speed is measured in benchmarks/tokenizer_bench;
// these tests only require the work to finish.)
#include "TokenizerTestData.h"
#include "tokenizer/Tokenizer.h"
#include "tokenizer/Unicode.h"

#include <gtest/gtest.h>

#include <map>

namespace kiln {
namespace {

using test::vocab;

// What byte-level BPE keeps of bad UTF-8: llama.cpp decodes leniently
// (a byte that starts no character becomes U+FFFD) before splitting.
std::string leniently(std::string_view text) {
  std::string out;
  for (char32_t cp : unicode::decode(text))
    unicode::appendUtf8(out, cp);
  return out;
}

const std::vector<std::string> kBadUtf8 = {
    "\xFF",                     // never valid
    "\xC3",                     // truncated
    "a\x80" "b",                // stray continuation byte
    "\xE2\x82",                 // truncated 3-byte sequence
    "\xED\xA0\x80 x",           // a surrogate
    "\xF4\x90\x80\x80",         // past U+10FFFF
    "\xC0\x80",                 // overlong NUL
    "x\xF8\x88\x80\x80\x80y",   // 5-byte form
    std::string("a\0b", 3),     // NUL
    "\xEF\xBF\xBD",             // U+FFFD itself
};

TEST(TokenizerHostile, InvalidUtf8) {
  std::string allBytes;
  for (int b = 255; b >= 0; --b)
    allBytes += static_cast<char>(b);
  std::vector<std::string> texts = kBadUtf8;
  texts.push_back(allBytes);

  for (const char *name : test::kSharedVocabularies) {
    const Tokenizer &tokenizer = vocab(name);
    for (const std::string &text : texts) {
      SCOPED_TRACE(std::string(name) + " text of " +
                   std::to_string(text.size()) + " bytes");
      auto ids = tokenizer.encode(text);
      ASSERT_TRUE(ids.ok()) << ids.error().message;
      for (TokenId id : *ids)
        ASSERT_TRUE(tokenizer.vocabulary().contains(id)) << id;
      auto back = tokenizer.decode(*ids);
      ASSERT_TRUE(back.ok()) << back.error().message;
      const TokenizerKind kind = tokenizer.vocabulary().kind();
      if (kind == TokenizerKind::Spm)
        EXPECT_EQ(*back, text); // byte fallback keeps every byte
      else if (kind == TokenizerKind::Bpe)
        EXPECT_EQ(*back, leniently(text));
    }
  }
}

// SPM cuts its input into characters by lead byte, as llama.cpp does: a
// 4-byte lead swallows the U+2581 that replaced the space after it, and the
// four bytes fall back to byte tokens <0xNN> (id 3 + NN here).
TEST(TokenizerHostile, SpmCharactersFollowTheLeadByte) {
  const Tokenizer &spm = vocab("llama-spm");
  auto ids = spm.encode("\xF0 a", {.addSpecial = false});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<TokenId>{29871, 3 + 0xF0, 3 + 0xE2, 3 + 0x96,
                                        3 + 0x81, 29874}));
}

TEST(TokenizerHostile, EmptyText) {
  for (const char *name : test::kSharedVocabularies) {
    SCOPED_TRACE(name);
    const Tokenizer &tokenizer = vocab(name);
    auto ids = tokenizer.encode("", {.addSpecial = false});
    ASSERT_TRUE(ids.ok());
    EXPECT_TRUE(ids->empty());
    for (bool parseSpecial : {false, true}) {
      auto withSpecial = tokenizer.encode("", {.parseSpecial = parseSpecial});
      ASSERT_TRUE(withSpecial.ok());
      EXPECT_LE(withSpecial->size(), 2u);
    }
    EXPECT_EQ(*tokenizer.decode({}), "");
  }
}

// No time limit here: the benchmark measures speed. These would take
// minutes if a step were quadratic.
TEST(TokenizerHostile, OneMegabyteOfOneCharacter) {
  const size_t megabyte = 1 << 20;
  struct Case {
    const char *vocab;
    std::string unit;
  };
  const Case cases[] = {
      {"llama-spm", "a"},          {"llama-spm", " "},
      {"llama-spm", "\xF0\x9F\xA6\x99"}, // byte fallback all the way
      {"gpt-2", "a"},              {"gpt-2", " "},
      {"gpt-2", "\n"},             {"deepseek-coder", "7"},
      {"deepseek-coder", "\xC3\xBC"}, // a user-defined token, 512 Ki times
      {"bert-bge", "a"},           {"bert-bge", "!"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(c.vocab) + " '" + c.unit + "'");
    std::string text;
    while (text.size() < megabyte)
      text += c.unit;
    const Tokenizer &tokenizer = vocab(c.vocab);
    auto ids = tokenizer.encode(text, {.addSpecial = false});
    ASSERT_TRUE(ids.ok()) << ids.error().message;
    EXPECT_FALSE(ids->empty());
    if (tokenizer.vocabulary().kind() != TokenizerKind::Wpm) {
      auto back = tokenizer.decode(*ids);
      ASSERT_TRUE(back.ok());
      EXPECT_TRUE(*back == text);
    }
  }
}

TEST(TokenizerHostile, IdsOutsideTheVocabulary) {
  for (const char *name : test::kSharedVocabularies) {
    const Tokenizer &tokenizer = vocab(name);
    const TokenId size = static_cast<TokenId>(tokenizer.vocabulary().size());
    for (TokenId bad : {size, size + 1, -1, INT32_MIN, INT32_MAX}) {
      const std::vector<TokenId> ids = {0, bad, 1};
      auto text = tokenizer.decode(ids);
      ASSERT_FALSE(text.ok()) << name << " id " << bad;
      EXPECT_NE(text.error().message.find("token id " + std::to_string(bad) +
                                          " is outside the vocabulary"),
                std::string::npos)
          << text.error().message;
      EXPECT_NE(text.error().message.find(name), std::string::npos);
    }
  }
}

} // namespace
} // namespace kiln
