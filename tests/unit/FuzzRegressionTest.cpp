// Inputs the fuzzer once found troublesome (tests/fuzz/regressions) and the
// seed corpus: each must parse or fail with a message, never crash.
#include "gguf/GgufFile.h"
#include "TestData.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

TEST(FuzzRegression, KnownInputsParseOrFailCleanly) {
  size_t count = 0;
  for (const char *folder : {"tests/fuzz/regressions", "tests/fuzz/corpus"}) {
    auto dir = test::sourceDir() / folder;
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
    for (auto &entry : std::filesystem::directory_iterator(dir)) {
      if (!entry.is_regular_file() || entry.path().extension() == ".md")
        continue;
      auto bytes = test::readBytes(entry.path().string());
      auto file = GgufFile::parse(bytes, entry.path().filename().string());
      if (!file.ok())
        EXPECT_FALSE(file.error().message.empty());
      ++count;
    }
  }
  EXPECT_GT(count, 0u);
}

} // namespace
} // namespace kiln
