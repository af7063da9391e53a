// The tokenizers of the shared models against llama.cpp's own ids for
// them: the teacher-forcing inputs (val128-*.ids, the first 128 tokens of
// val-head.txt) and the prompts of the greedy runs (greedy.json).
#include "TokenizerTestData.h"
#include "tokenizer/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace kiln {
namespace {

Tokenizer openTokenizer(const std::string &path) {
  auto tokenizer = Tokenizer::open(path);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.error().message;
  if (!tokenizer)
    std::abort();
  return std::move(*tokenizer);
}

// Every reference/val128-*.ids of a model is the start of llama.cpp's
// tokenization of reference/val-head.txt (BOS added where the model adds
// it).
void checkVal128(const Tokenizer &tokenizer, const std::string &folder) {
  const std::string text =
      test::readText(test::sharedFile(folder + "/reference/val-head.txt"));
  auto ids = tokenizer.encode(text);
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  size_t files = 0;
  for (const auto &entry : std::filesystem::directory_iterator(
           test::sharedModelsDir() / folder / "reference")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("val128-", 0) != 0 || entry.path().extension() != ".ids")
      continue;
    ++files;
    auto expected = test::readVocabIds(entry.path().string());
    ASSERT_EQ(expected.size(), 1u) << name;
    ASSERT_EQ(expected[0].size(), 128u) << name;
    ASSERT_GE(ids->size(), 128u);
    std::vector<TokenId> head(ids->begin(), ids->begin() + 128);
    EXPECT_EQ(head, expected[0]) << name;
  }
  EXPECT_GE(files, 4u) << folder;
}

// The prompt ids of every run in reference/greedy.json (and, when present,
// a greedy.json beside the model).
void checkGreedyPrompts(const Tokenizer &tokenizer, const std::string &json) {
  auto document = nlohmann::json::parse(test::readText(test::sharedFile(json)));
  size_t checked = 0;
  for (const auto &run : document.at("results")) {
    const std::string prompt = run.at("prompt");
    const auto expected = run.at("prompt_ids").get<std::vector<TokenId>>();
    auto ids = tokenizer.encode(prompt);
    ASSERT_TRUE(ids.ok()) << ids.error().message;
    EXPECT_EQ(*ids, expected) << json << ": '" << prompt << "'";
    auto text = tokenizer.decode(*ids);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, prompt);
    ++checked;
  }
  EXPECT_GT(checked, 0u) << json;
}

TEST(TokenizerReference, TinyshakesLlama) {
  // The bundled model and the shared ones carry the same vocabulary.
  Tokenizer bundled = openTokenizer(
      (test::sourceDir() / "models/tinyshakes-llama-q8_0.gguf").string());
  EXPECT_EQ(bundled.vocabulary().kind(), TokenizerKind::Spm);
  EXPECT_EQ(bundled.vocabulary().size(), 1000u);
  checkVal128(bundled, "tinyshakes-llama");
  checkGreedyPrompts(bundled, "tinyshakes-llama/reference/greedy.json");

  Tokenizer shared = openTokenizer(
      test::sharedFile("tinyshakes-llama/tinyshakes-llama-f32.gguf"));
  checkVal128(shared, "tinyshakes-llama");
}

TEST(TokenizerReference, TinyshakesGpt2) {
  Tokenizer tokenizer = openTokenizer(
      test::sharedFile("tinyshakes-gpt2/tinyshakes-gpt2-f32.gguf"));
  EXPECT_EQ(tokenizer.vocabulary().kind(), TokenizerKind::Bpe);
  EXPECT_EQ(tokenizer.vocabulary().preName(), "gpt-2");
  EXPECT_FALSE(tokenizer.vocabulary().addBos());
  checkVal128(tokenizer, "tinyshakes-gpt2");
  checkGreedyPrompts(tokenizer, "tinyshakes-gpt2/reference/greedy.json");
}

TEST(TokenizerReference, Llama2TinyRandom) {
  Tokenizer tokenizer = openTokenizer(
      test::sharedFile("llama-2-tiny-random/llama-2-tiny-random.gguf"));
  checkGreedyPrompts(tokenizer, "llama-2-tiny-random/greedy.json");
}

// The models' READMEs give llama.cpp's token counts of the whole val split
// (BOS not counted); the split decodes back to itself.
TEST(TokenizerReference, WholeValSplit) {
  struct Case {
    const char *model, *text;
    size_t tokens;
  };
  for (const Case &c :
       {Case{"tinyshakes-llama/tinyshakes-llama-f32.gguf",
             "tinyshakes-llama/val.txt", 52271},
        Case{"tinyshakes-gpt2/tinyshakes-gpt2-f32.gguf",
             "tinyshakes-gpt2/val.txt", 49669}}) {
    SCOPED_TRACE(c.model);
    Tokenizer tokenizer = openTokenizer(test::sharedFile(c.model));
    const std::string text = test::readText(test::sharedFile(c.text));
    auto ids = tokenizer.encode(text, {.addSpecial = false});
    ASSERT_TRUE(ids.ok()) << ids.error().message;
    EXPECT_EQ(ids->size(), c.tokens);
    auto back = tokenizer.decode(*ids);
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(*back == text);
  }
}

} // namespace
} // namespace kiln
