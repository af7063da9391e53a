// The tokenizer's parts: UTF-8 and Unicode helpers, GPT-2's byte alphabet,
// the pre-tokenizer table and its regex dialect, vocabulary loading errors,
// llama.cpp's space clean-up.
#include "gguf/GgufMetadata.h"
#include "tokenizer/ByteLevel.h"
#include "tokenizer/Detokenizer.h"
#include "tokenizer/PreTokenizer.h"
#include "tokenizer/RegexSplitter.h"
#include "tokenizer/Tokenizer.h"
#include "tokenizer/Unicode.h"

#include <gtest/gtest.h>

#include <set>

namespace kiln {
namespace {

TEST(Unicode, DecodesLikeLlamaCpp) {
  using unicode::decodeChar;
  EXPECT_EQ(decodeChar("A", 0).codepoint, U'A');
  EXPECT_EQ(decodeChar("\xC3\xA9", 0).codepoint, U'\u00E9');
  EXPECT_EQ(decodeChar("\xC3\xA9", 0).length, 2u);
  EXPECT_EQ(decodeChar("\xF0\x9F\xA6\x99", 0).codepoint, U'\U0001F999');
  // Bad bytes: U+FFFD, one byte consumed.
  for (std::string_view bad : {"\x80", "\xFF", "\xC3", "\xC3(", "\xE2\x82",
                               "\xF8\x88\x80\x80\x80"}) {
    EXPECT_EQ(decodeChar(bad, 0).codepoint, unicode::kReplacementChar) << bad;
    EXPECT_EQ(decodeChar(bad, 0).length, 1u);
  }
  // Lenient where llama.cpp is: overlong forms and surrogates decode.
  EXPECT_EQ(decodeChar("\xC0\x80", 0).codepoint, 0u);
  EXPECT_EQ(decodeChar("\xED\xA0\x80", 0).codepoint, 0xD800u);
  EXPECT_EQ(unicode::toUtf8(0xD800), "\xED\xA0\x80");
  EXPECT_EQ(unicode::toUtf8(0x110000), "\xEF\xBF\xBD");
}

TEST(Unicode, IncompleteTail) {
  using unicode::incompleteTailLength;
  EXPECT_EQ(incompleteTailLength(""), 0u);
  EXPECT_EQ(incompleteTailLength("abc"), 0u);
  EXPECT_EQ(incompleteTailLength("a\xF0"), 1u);
  EXPECT_EQ(incompleteTailLength("a\xF0\x9F"), 2u);
  EXPECT_EQ(incompleteTailLength("a\xF0\x9F\xA6"), 3u);
  EXPECT_EQ(incompleteTailLength("a\xF0\x9F\xA6\x99"), 0u);
  EXPECT_EQ(incompleteTailLength("\xC3"), 1u);
  EXPECT_EQ(incompleteTailLength("\xC3\xA9"), 0u);
  EXPECT_EQ(incompleteTailLength("\x80\x80"), 0u); // nothing to complete
  EXPECT_EQ(incompleteTailLength("\xFF"), 0u);
}

TEST(Unicode, PropertiesFromIcu) {
  using unicode::CharClass;
  EXPECT_EQ(unicode::charClass(U'a'), CharClass::Letter);
  EXPECT_EQ(unicode::charClass(U'\u00BD'), CharClass::Number); // ½
  EXPECT_EQ(unicode::charClass(U','), CharClass::Punctuation);
  EXPECT_EQ(unicode::charClass(U'$'), CharClass::Symbol);
  EXPECT_EQ(unicode::charClass(U'\u0301'), CharClass::Mark);
  EXPECT_EQ(unicode::charClass(U'\u200D'), CharClass::Control); // Cf
  EXPECT_EQ(unicode::charClass(0x110000), CharClass::Unassigned);
  EXPECT_TRUE(unicode::isWhitespace(U'\u0085'));
  EXPECT_TRUE(unicode::isWhitespace(U'\u3000'));
  EXPECT_FALSE(unicode::isWhitespace(U'\u200B'));
  EXPECT_FALSE(unicode::isWhitespace(U'\u180E'));
  EXPECT_EQ(unicode::toLower(U'\u00C9'), U'\u00E9');
  EXPECT_EQ(unicode::nfdFirst(U'\u00E9'), U'e');
  EXPECT_EQ(unicode::nfdFirst(U'\u1EED'), U'u');       // ử
  EXPECT_EQ(unicode::nfdFirst(U'\uD55C'), U'\u1112');  // 한 -> ᄒ
  EXPECT_EQ(unicode::nfdFirst(U'x'), U'x');
}

TEST(ByteLevel, AlphabetIsABijection) {
  std::set<char32_t> seen;
  for (unsigned b = 0; b < 256; ++b) {
    const char32_t cp = bytelevel::charForByte(static_cast<uint8_t>(b));
    EXPECT_TRUE(seen.insert(cp).second);
    EXPECT_EQ(bytelevel::byteForChar(cp), static_cast<uint8_t>(b));
  }
  EXPECT_EQ(bytelevel::charForByte(' '), U'\u0120'); // "Ġ"
  EXPECT_EQ(bytelevel::charForByte('\n'), U'\u010A'); // "Ċ"
  EXPECT_EQ(bytelevel::charForByte('a'), U'a');
  EXPECT_FALSE(bytelevel::byteForChar(U'\u0144').has_value());
  EXPECT_EQ(bytelevel::encode(" a\n"), "\xC4\xA0" "a" "\xC4\x8A");
}

TEST(PreTokenizer, PatternDialect) {
  EXPECT_EQ(*translatePattern(R"(\s+(?!\S))"),
            R"(\p{White_Space}+(?!\P{White_Space}))");
  EXPECT_EQ(*translatePattern(R"([^\s\p{L}\p{N}]+)"),
            R"([^\p{White_Space}\p{L}\p{N}]+)");
  EXPECT_EQ(*translatePattern(R"(\d{1,3}[\d.])"), R"([0-9]{1,3}[0-9.])");
  EXPECT_EQ(*translatePattern(R"([\p{Lu}\p{Ll}]\p{Lo})"),
            R"([\p{L}\p{L}]\p{L})");
  EXPECT_EQ(*translatePattern(R"([\]\\s]\\)"), R"([\]\\s]\\)");
  EXPECT_FALSE(translatePattern(R"([\S])").ok());
  // llama.cpp's \p{S} lacks "~".
  EXPECT_EQ(*translatePattern(R"(\p{S}+)"), R"([^\P{S}~]+)");
  EXPECT_EQ(*translatePattern(R"( ?[\p{P}\p{S}]+)"),
            R"( ?(?:(?!~)[\p{P}\p{S}])+)");
  EXPECT_EQ(*translatePattern(R"([^\r\n\p{L}\p{P}\p{S}]?)"),
            R"((?:~|[^\r\n\p{L}\p{P}\p{S}])?)");
  EXPECT_EQ(*translatePattern(R"([\p{S}{-~])"), R"([\p{S}{-~])");
}

TEST(PreTokenizer, EveryFamilyCompilesAndLosesNothing) {
  const std::string text =
      "Hello world's  test 1234567!!\n\n  \t x \xC3\xA9t\xC3\xA9 \xE4\xB8\xAD"
      "\xE6\x96\x87 \xD0\xBF\xD1\x80\xD0\xB8 <sentinel:12> IMGIMGABZ 3.14";
  size_t families = 0;
  std::set<std::string_view> names;
  for (const PreTokenizerFamily &family : allPreTokenizers()) {
    ++families;
    for (std::string_view name : family.names) {
      EXPECT_TRUE(names.insert(name).second) << "'" << name << "' twice";
      EXPECT_EQ(findPreTokenizer(name), &family);
    }
    auto splitter = RegexSplitter::compile(family.patterns,
                                           std::string(family.names[0]));
    ASSERT_TRUE(splitter.ok()) << splitter.error().message;
    std::vector<TextSpan> pieces;
    ASSERT_TRUE(splitter->split(text, pieces).ok());
    std::string joined;
    for (const TextSpan &piece : pieces) {
      EXPECT_GT(piece.size(), 0u);
      joined += text.substr(piece.begin, piece.size());
    }
    EXPECT_EQ(joined, text) << family.names[0];
  }
  EXPECT_GE(families, 30u);
  for (std::string_view name :
       {"gpt-2", "default", "", "llama3", "llama-bpe", "deepseek-llm",
        "deepseek-coder", "falcon", "mpt", "starcoder", "refact", "qwen2",
        "command-r", "smollm", "stablelm2", "olmo", "dbrx", "tekken"})
    EXPECT_NE(findPreTokenizer(name), nullptr) << name;
  EXPECT_EQ(findPreTokenizer("no-such-family"), nullptr);
}

std::vector<std::string> splitWith(std::string_view family,
                                   std::string_view text) {
  auto splitter =
      RegexSplitter::compile(findPreTokenizer(family)->patterns, "test");
  EXPECT_TRUE(splitter.ok());
  std::vector<TextSpan> pieces;
  EXPECT_TRUE(splitter->split(text, pieces).ok());
  std::vector<std::string> out;
  for (const TextSpan &piece : pieces)
    out.emplace_back(text.substr(piece.begin, piece.size()));
  return out;
}

TEST(PreTokenizer, Splits) {
  using V = std::vector<std::string>;
  EXPECT_EQ(splitWith("gpt-2", "Hello world's  test 123!!"),
            (V{"Hello", " world", "'s", " ", " test", " 123", "!!"}));
  EXPECT_EQ(splitWith("gpt-2", "a \tb  "), (V{"a", " ", "\t", "b", "  "}));
  EXPECT_EQ(splitWith("llama3", "I'M 12345\n\n  x"),
            (V{"I", "'M", " ", "123", "45", "\n\n", " ", " x"}));
  // Patterns apply in sequence, each splitting the pieces of the last.
  EXPECT_EQ(splitWith("starcoder", "x 2024"),
            (V{"x", " ", "2", "0", "2", "4"}));
  // An empty match is a split point: superbpe groups digits by three from
  // the right.
  EXPECT_EQ(splitWith("superbpe", "1234567"), (V{"1", "234", "567"}));
  EXPECT_EQ(splitWith("gpt-2", ""), V{});
  // Bytes that are not UTF-8 are split as U+FFFD would be; the pieces are
  // the original bytes.
  EXPECT_EQ(splitWith("gpt-2", "a\xFF\xC0\x80 b\xED\xA0\x80"),
            (V{"a", "\xFF\xC0\x80", " b", "\xED\xA0\x80"}));
  // deepseek-v3: "~" is no symbol to llama.cpp, so it leads a word.
  EXPECT_EQ(splitWith("deepseek-v3", "a ~b +c"), (V{"a", " ", "~b", " +", "c"}));
  // llama.cpp matches non-ASCII whitespace as U+000B: still \s, but no
  // longer inside deepseek's [\x{0800}-\x{4E00}] range (U+3000 is the
  // ideographic space; U+00A0 no-break space).
  EXPECT_EQ(splitWith("deepseek-coder", "\xE4\xB8\xAD\xE3\x80\x80\xE6\x96\x87"),
            (V{"\xE4\xB8\xAD", "\xE3\x80\x80", "\xE6\x96\x87"}));
  EXPECT_EQ(splitWith("gpt-2", "a\xC2\xA0" "b  \xE3\x80\x80x"),
            (V{"a", "\xC2\xA0", "b", "  ", "\xE3\x80\x80", "x"}));
}

GgufMetadata spmMetadata(std::vector<std::string> tokens) {
  GgufMetadata metadata("bad.gguf");
  metadata.set("tokenizer.ggml.model", "llama");
  metadata.set("tokenizer.ggml.tokens", GgufArray{std::move(tokens)});
  return metadata;
}

void expectLoadError(const GgufMetadata &metadata, const std::string &what) {
  auto tokenizer = Tokenizer::fromMetadata(metadata);
  ASSERT_FALSE(tokenizer.ok()) << "expected: " << what;
  EXPECT_NE(tokenizer.error().message.find("bad.gguf: "), std::string::npos)
      << tokenizer.error().message;
  EXPECT_NE(tokenizer.error().message.find(what), std::string::npos)
      << tokenizer.error().message;
}

TEST(Vocabulary, LoadingErrorsNameTheFileAndKey) {
  expectLoadError(GgufMetadata("bad.gguf"),
                  "metadata key 'tokenizer.ggml.model' is missing");

  GgufMetadata t5 = spmMetadata({"<unk>", "<s>", "</s>"});
  t5.set("tokenizer.ggml.model", "t5");
  expectLoadError(t5, "'tokenizer.ggml.model': tokenizer model 't5' is not "
                      "supported");

  GgufMetadata noTokens("bad.gguf");
  noTokens.set("tokenizer.ggml.model", "llama");
  expectLoadError(noTokens, "'tokenizer.ggml.tokens' is missing");

  GgufMetadata numbers = spmMetadata({});
  numbers.set("tokenizer.ggml.tokens", GgufArray{std::vector<int32_t>{1, 2}});
  expectLoadError(numbers, "'tokenizer.ggml.tokens'");

  expectLoadError(spmMetadata({}), "the vocabulary is empty");
  expectLoadError(spmMetadata({"<unk>", "<s>", "<unk>"}),
                  "'tokenizer.ggml.tokens': token 2 has the same text as "
                  "token 0");

  GgufMetadata fewScores = spmMetadata({"<unk>", "<s>", "</s>"});
  fewScores.set("tokenizer.ggml.scores", GgufArray{std::vector<float>{0, 0}});
  expectLoadError(fewScores, "'tokenizer.ggml.scores': 2 scores for 3 tokens");

  GgufMetadata badTypes = spmMetadata({"<unk>", "<s>", "</s>"});
  badTypes.set("tokenizer.ggml.token_type",
               GgufArray{std::vector<float>{1, 1, 1}});
  expectLoadError(badTypes, "'tokenizer.ggml.token_type'");

  GgufMetadata badFlag = spmMetadata({"<unk>", "<s>", "</s>"});
  badFlag.set("tokenizer.ggml.add_bos_token", "yes");
  expectLoadError(badFlag, "'tokenizer.ggml.add_bos_token': expected a bool");

  // Default BOS id 1 is past a one-token vocabulary, and BOS is wanted.
  expectLoadError(spmMetadata({"<unk>"}), "no BOS token");

  GgufMetadata bpe("bad.gguf");
  bpe.set("tokenizer.ggml.model", "gpt2");
  bpe.set("tokenizer.ggml.pre", "no-such-family");
  bpe.set("tokenizer.ggml.tokens", GgufArray{std::vector<std::string>{"a"}});
  expectLoadError(bpe, "'tokenizer.ggml.pre': pre-tokenizer 'no-such-family' "
                       "is not supported");
  bpe.set("tokenizer.ggml.pre", "gpt-2");
  expectLoadError(bpe, "'tokenizer.ggml.merges' is missing");
}

TEST(Vocabulary, ToleratesWhatLlamaCppTolerates) {
  // An out-of-range special id keeps the default, with a warning; empty
  // token texts get a placeholder.
  GgufMetadata metadata = spmMetadata({"<unk>", "<s>", "</s>", "", "a"});
  metadata.set("tokenizer.ggml.eos_token_id", uint32_t(99));
  auto tokenizer = Tokenizer::fromMetadata(metadata);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message;
  EXPECT_EQ(tokenizer->vocabulary().eos(), 2);
  ASSERT_EQ(tokenizer->vocabulary().warnings().size(), 1u);
  EXPECT_NE(tokenizer->vocabulary().warnings()[0].find("eos_token_id"),
            std::string::npos);
  EXPECT_EQ(tokenizer->vocabulary().token(3).text, "[EMPTY_3]");
  // No byte tokens: a character that is no token is the unknown token.
  auto ids = tokenizer->encode("ab");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<TokenId>{1, 0, 4, 0}));
}

TEST(Detokenizer, CleanUpTokenizationSpaces) {
  EXPECT_EQ(cleanUpTokenizationSpaces("a , b . c ! d ?"), "a, b. c! d?");
  EXPECT_EQ(cleanUpTokenizationSpaces("it ' s"), "it's");
  EXPECT_EQ(cleanUpTokenizationSpaces("I 'm you 're we 've he 's"),
            "I'm you're we've he's");
  EXPECT_EQ(cleanUpTokenizationSpaces("don 't I 'd we 'll"),
            "don 't I 'd we 'll");
  EXPECT_EQ(cleanUpTokenizationSpaces(" ' ' "), "'' ");
  EXPECT_EQ(cleanUpTokenizationSpaces(""), "");
  EXPECT_EQ(cleanUpTokenizationSpaces(" ,"), ",");
}

} // namespace
} // namespace kiln
