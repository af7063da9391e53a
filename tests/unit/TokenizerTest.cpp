// Tokenizer behaviour beyond the test vectors: vocabulary flags, special
// tokens in the text, decoding options and streaming.
#include "TokenizerTestData.h"
#include "tokenizer/StreamDecoder.h"
#include "tokenizer/Tokenizer.h"
#include "tokenizer/Unicode.h"
#include "tokenizer/WpmTokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace kiln {
namespace {

using test::vocab;

std::vector<TokenId> encode(const Tokenizer &tokenizer, std::string_view text,
                            EncodeOptions options = {}) {
  auto ids = tokenizer.encode(text, options);
  EXPECT_TRUE(ids.ok()) << ids.error().message;
  return ids.ok() ? *ids : std::vector<TokenId>{};
}

std::string decode(const Tokenizer &tokenizer, std::span<const TokenId> ids,
                   DecodeOptions options = {}) {
  auto text = tokenizer.decode(ids, options);
  EXPECT_TRUE(text.ok()) << text.error().message;
  return text.ok() ? *text : std::string();
}

std::vector<TokenId> concat(std::vector<TokenId> a,
                            const std::vector<TokenId> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

constexpr EncodeOptions kPlain{.addSpecial = false};
constexpr EncodeOptions kParse{.addSpecial = false, .parseSpecial = true};

TEST(Tokenizer, ReadsEachKindWithItsDefaults) {
  const Vocabulary &spm = vocab("llama-spm").vocabulary();
  EXPECT_EQ(spm.kind(), TokenizerKind::Spm);
  EXPECT_EQ(spm.size(), 32000u);
  EXPECT_EQ(spm.bos(), 1);
  EXPECT_EQ(spm.eos(), 2);
  EXPECT_EQ(spm.unk(), 0);
  EXPECT_TRUE(spm.addBos());
  EXPECT_FALSE(spm.addEos());
  EXPECT_TRUE(spm.addSpacePrefix());

  const Vocabulary &gpt2 = vocab("gpt-2").vocabulary();
  EXPECT_EQ(gpt2.kind(), TokenizerKind::Bpe);
  EXPECT_EQ(gpt2.preName(), "gpt-2");
  EXPECT_EQ(gpt2.merges().size(), 50000u);
  EXPECT_EQ(gpt2.bos(), 50256);
  EXPECT_FALSE(gpt2.addBos());
  EXPECT_FALSE(gpt2.addSpacePrefix());
  EXPECT_TRUE(gpt2.cleanSpaces());

  const Vocabulary &coder = vocab("deepseek-coder").vocabulary();
  EXPECT_TRUE(coder.addBos());
  EXPECT_EQ(coder.bos(), 32013);
  EXPECT_FALSE(coder.cleanSpaces());

  const Vocabulary &bert = vocab("bert-bge").vocabulary();
  EXPECT_EQ(bert.kind(), TokenizerKind::Wpm);
  EXPECT_EQ(bert.bos(), 101); // [CLS]
  EXPECT_EQ(bert.sep(), 102);
  EXPECT_EQ(bert.unk(), 100);
  EXPECT_TRUE(bert.lowercase());
  EXPECT_TRUE(bert.stripAccents());
}

TEST(Tokenizer, AddsWhatTheVocabularyAsksFor) {
  const Tokenizer &spm = vocab("llama-spm");
  EXPECT_EQ(encode(spm, "Hello"), concat({1}, encode(spm, "Hello", kPlain)));
  EXPECT_EQ(encode(spm, ""), (std::vector<TokenId>{1}));
  const Tokenizer &gpt2 = vocab("gpt-2");
  EXPECT_EQ(encode(gpt2, "Hello"), encode(gpt2, "Hello", kPlain));
  const Tokenizer &bert = vocab("bert-bge");
  EXPECT_EQ(encode(bert, "Hello"),
            concat(concat({101}, encode(bert, "Hello", kPlain)), {102}));
  EXPECT_EQ(encode(bert, ""), (std::vector<TokenId>{101, 102}));
}

TEST(Tokenizer, ControlTokensInTheTextOnlyWhenParsed) {
  const Tokenizer &gpt2 = vocab("gpt-2");
  const auto plain = encode(gpt2, "a<|endoftext|>b", kPlain);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 50256), 0);
  EXPECT_EQ(decode(gpt2, plain), "a<|endoftext|>b");
  EXPECT_EQ(encode(gpt2, "a<|endoftext|>b", kParse),
            concat(concat(encode(gpt2, "a", kPlain), {50256}),
                   encode(gpt2, "b", kPlain)));

  // SPM starts the text after a special token with a space, as at the
  // start of the input.
  const Tokenizer &spm = vocab("llama-spm");
  EXPECT_EQ(encode(spm, "<s>Hello</s>", kParse),
            concat(concat({1}, encode(spm, "Hello", kPlain)), {2}));
  const auto text = encode(spm, "<s>", kPlain);
  EXPECT_EQ(std::count(text.begin(), text.end(), 1), 0);
  EXPECT_EQ(decode(spm, text), "<s>");
}

TEST(Tokenizer, UserDefinedTokensAlwaysMatch) {
  // deepseek-coder's "<|EOT|>" (id 32021) is user-defined: recognized even
  // without parsing special tokens. Its "<｜fim▁begin｜>" is user-defined in
  // the file, but llama.cpp makes fill-in-the-middle tokens control tokens.
  const Tokenizer &coder = vocab("deepseek-coder");
  const auto ids = encode(coder, "a<|EOT|>b", kPlain);
  EXPECT_EQ(ids, concat(concat(encode(coder, "a", kPlain), {32021}),
                        encode(coder, "b", kPlain)));
  const std::string fim = "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>";
  const TokenId fimId = coder.vocabulary().find(fim);
  ASSERT_NE(fimId, kNoToken);
  EXPECT_TRUE(coder.vocabulary().hasAttr(fimId, kAttrControl));
  auto plain = encode(coder, fim, kPlain);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), fimId), 0);
  EXPECT_EQ(encode(coder, fim, kParse), (std::vector<TokenId>{fimId}));
}

TEST(Tokenizer, Phi3SpecialTokensSwallowTheWhitespaceAfterThem) {
  // llama.cpp's rule for Phi-3 files: special tokens other than <unk>, <s>
  // and <|endoftext|> drop the whitespace that follows them in the text.
  const Tokenizer &phi3 = vocab("phi-3");
  EXPECT_EQ(encode(phi3, "<|user|>\n Hi", kParse),
            concat({32010}, encode(phi3, "Hi", kPlain)));
  EXPECT_EQ(encode(phi3, "<|endoftext|> Hi", kParse),
            concat({32000}, encode(phi3, " Hi", kPlain)));
}

TEST(Tokenizer, DecodeUndoesTheSpacePrefix) {
  const Tokenizer &spm = vocab("llama-spm");
  for (const char *text : {"Hello", " Hello", "  Hello", "", " ", "\n"}) {
    EXPECT_EQ(decode(spm, encode(spm, text)), text);
    EXPECT_EQ(decode(spm, encode(spm, text, kPlain)), text);
  }
  EXPECT_EQ(decode(spm, encode(spm, "Hello"), {.stripLeadingSpace = false}),
            " Hello");
  // After special tokens too, when they are parsed and rendered.
  const std::string text = "<s>Hello<s> world</s>x";
  EXPECT_EQ(decode(spm, encode(spm, text, kParse), {.renderSpecial = true}),
            text);
  EXPECT_EQ(decode(spm, encode(spm, text, kParse)), "Hello worldx");
}

TEST(Tokenizer, Pieces) {
  const Tokenizer &spm = vocab("llama-spm");
  EXPECT_EQ(*spm.piece(15043), " Hello");
  EXPECT_EQ(*spm.piece(13), "\n"); // <0x0A>
  EXPECT_EQ(*spm.piece(1), "<s>");
  EXPECT_EQ(*spm.detokenizer().piece(1, false), "");
  const Tokenizer &gpt2 = vocab("gpt-2");
  EXPECT_EQ(*gpt2.piece(995), " world"); // "Ġworld"
  EXPECT_EQ(*gpt2.piece(50256), "<|endoftext|>");
  auto bad = spm.piece(32000);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("token id 32000 is outside"),
            std::string::npos)
      << bad.error().message;
}

TEST(Tokenizer, CleanUpSpacesOnlyWhenAsked) {
  const Tokenizer &gpt2 = vocab("gpt-2");
  const std::string text = "Hello , world ! It 's";
  const auto ids = encode(gpt2, text);
  EXPECT_EQ(decode(gpt2, ids), text);
  EXPECT_EQ(decode(gpt2, ids, {.cleanUpSpaces = true}), "Hello, world! It's");
  // deepseek-coder does not ask for it.
  const Tokenizer &coder = vocab("deepseek-coder");
  EXPECT_EQ(decode(coder, encode(coder, text, kPlain), {.cleanUpSpaces = true}),
            text);
}

TEST(Tokenizer, WordPieceIsLossy) {
  // Lowercasing, accent stripping, and spaces around punctuation: the
  // decoded text is the normalized words, each after a space.
  const Tokenizer &bert = vocab("bert-bge");
  EXPECT_EQ(decode(bert, encode(bert, "Hello, Wörld!")), " hello , world !");
  WpmTokenizer wpm(bert.vocabulary());
  EXPECT_EQ(wpm.words("F\xC3\xBC" "hrer  C\xE1\xBB\xAD" "a\tVi\xE1\xBB\x87" "t!"),
            (std::vector<std::string>{"fuhrer", "cua", "viet", "!"}));
  EXPECT_EQ(wpm.words("a\xE2\x80\x8D" "b\xCC\x81" "c"), // ZWJ, combining acute
            (std::vector<std::string>{"abc"}));
  EXPECT_EQ(wpm.words("\xE6\x88\x91\xE6\x83\xB3x"),   // CJK ideographs
            (std::vector<std::string>{"\xE6\x88\x91", "\xE6\x83\xB3", "x"}));
}

// Stream the ids of `text` one by one: every piece returned is whole UTF-8,
// and the pieces add up to decode().
void checkStream(const Tokenizer &tokenizer, const std::string &text) {
  const auto ids = encode(tokenizer, text);
  StreamDecoder stream(tokenizer.detokenizer());
  std::string streamed;
  for (TokenId id : ids) {
    auto part = stream.push(id);
    ASSERT_TRUE(part.ok());
    EXPECT_EQ(unicode::incompleteTailLength(*part), 0u);
    streamed += *part;
  }
  streamed += stream.finish();
  EXPECT_EQ(streamed, decode(tokenizer, ids));
}

TEST(StreamDecoder, HoldsPartialCharacters) {
  const Tokenizer &spm = vocab("llama-spm");
  // "🦙" is four byte tokens in this vocabulary.
  const auto ids = encode(spm, "\xF0\x9F\xA6\x99", kPlain);
  ASSERT_EQ(ids.size(), 5u); // "▁" then the four bytes
  StreamDecoder stream(spm.detokenizer());
  EXPECT_EQ(*stream.push(ids[0]), ""); // the prefixed space, removed
  EXPECT_EQ(*stream.push(ids[1]), "");
  EXPECT_EQ(stream.pendingBytes(), 1u);
  EXPECT_EQ(*stream.push(ids[2]), "");
  EXPECT_EQ(*stream.push(ids[3]), "");
  EXPECT_EQ(*stream.push(ids[4]), "\xF0\x9F\xA6\x99");
  EXPECT_EQ(stream.finish(), "");

  // An unfinished character comes out at the end as it is.
  EXPECT_EQ(*stream.push(ids[1]), "");
  EXPECT_EQ(*stream.push(ids[2]), "");
  EXPECT_EQ(stream.finish(), "\xF0\x9F");
  // Bytes no continuation could complete are not held.
  EXPECT_EQ(*stream.push(ids[3]), "\xA6");

  for (const char *name : {"llama-spm", "gpt-2", "deepseek-coder"})
    for (const std::string &text :
         test::readVocabTexts(test::vocabPath(name) + ".inp"))
      checkStream(vocab(name), text);
}

TEST(StreamDecoder, RejectsIdsOutsideTheVocabulary) {
  const Tokenizer &gpt2 = vocab("gpt-2");
  StreamDecoder stream(gpt2.detokenizer());
  EXPECT_EQ(*stream.push(15496), "Hello");
  auto bad = stream.push(50257);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("50257"), std::string::npos);
  auto negative = stream.push(-1);
  ASSERT_FALSE(negative.ok());
}

} // namespace
} // namespace kiln
