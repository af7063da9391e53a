// An output is refused when it reaches an input by any path form.
#include "support/SameFile.h"

#include "TestData.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

namespace kiln {
namespace {

namespace fs = std::filesystem;

void writeFile(const std::string &path, const std::string &text) {
  std::ofstream(path) << text;
}

TEST(SameFile, EveryPathFormOfOneFileIsTheSame) {
  test::TempDir tmp;
  fs::create_directories(tmp.path() / "a");
  std::string input = tmp.file("model.gguf");
  writeFile(input, "weights");
  fs::create_hard_link(input, tmp.file("hard.gguf"));
  fs::create_symlink(input, tmp.file("soft.gguf"));
  fs::create_symlink("../model.gguf", tmp.path() / "a" / "rel.gguf");

  std::string relative = fs::relative(input, fs::current_path()).string();
  for (const std::string &form :
       {input, relative, tmp.path().string() + "/./model.gguf",
        tmp.path().string() + "/a/../model.gguf", tmp.file("hard.gguf"),
        tmp.file("soft.gguf"), (tmp.path() / "a" / "rel.gguf").string()}) {
    EXPECT_TRUE(isSameFile(form, input)) << form;
    Status status = checkNotInput(form, input);
    ASSERT_FALSE(status.ok()) << form;
    EXPECT_EQ(status.message(),
              form + ": is the input " + input + "; choose another output");
  }
}

TEST(SameFile, DistinctOrMissingFilesAreNot) {
  test::TempDir tmp;
  std::string input = tmp.file("model.gguf"), other = tmp.file("other.gguf");
  writeFile(input, "weights");
  writeFile(other, "weights"); // same bytes, another file
  EXPECT_FALSE(isSameFile(other, input));
  EXPECT_TRUE(checkNotInput(other, input).ok());
  EXPECT_TRUE(checkNotInput(tmp.file("new.gguf"), input).ok());
  EXPECT_TRUE(checkNotInput(input, tmp.file("missing.gguf")).ok());
  // A dangling symbolic link reaches no input.
  fs::create_symlink(tmp.file("gone"), tmp.file("dangling"));
  EXPECT_TRUE(checkNotInput(tmp.file("dangling"), input).ok());
}

TEST(SameFile, AnyInputOfSeveralIsReportedByName) {
  test::TempDir tmp;
  std::vector<std::string> inputs = {tmp.file("config.json"),
                                     tmp.file("model.safetensors")};
  for (const std::string &path : inputs)
    writeFile(path, "{}");
  EXPECT_TRUE(checkNotAnyInput(tmp.file("out.gguf"), inputs).ok());
  Status status = checkNotAnyInput(tmp.path().string() + "/./model.safetensors", inputs);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("is the input " + inputs[1]), std::string::npos)
      << status.message();
}

} // namespace
} // namespace kiln
