#include "support/TextFile.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln {
namespace {

namespace fs = std::filesystem;

class TextFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/kiln-textfile-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string &name, const std::string &bytes) {
    std::string path = (dir_ / name).string();
    std::FILE *file = std::fopen(path.c_str(), "wb");
    EXPECT_NE(file, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), file);
    std::fclose(file);
    return path;
  }

  fs::path dir_;
};

TEST_F(TextFileTest, ReadsEveryByte) {
  std::string bytes("a\0b\xff\n\r\n", 7);
  auto text = readTextFile(write("t.txt", bytes), "the prompt file (-f)");
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(*text, bytes);
  auto empty = readTextFile(write("e.txt", ""), "the prompt file (-f)");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST_F(TextFileTest, BoundIsInclusive) {
  std::string path = write("t.txt", std::string(100, 'x'));
  EXPECT_TRUE(readTextFile(path, "the text", 100).ok());
  auto over = readTextFile(path, "the text", 99);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().message,
            path + ": the text is 100 bytes, larger than the 99 bytes kiln reads as text");
}

TEST_F(TextFileTest, MissingFileNamesPathAndReason) {
  std::string path = (dir_ / "none.txt").string();
  auto text = readTextFile(path, "the calibration text (--calibration)");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().message,
            path + ": cannot open the calibration text (--calibration): No such file or directory");
}

TEST_F(TextFileTest, RefusesWhatIsNotARegularFile) {
  auto directory = readTextFile(dir_.string(), "the text file (-f)");
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.error().message,
            dir_.string() + ": the text file (-f) is a directory, not a regular file");

  // A FIFO with no writer: refused at once, not waited on.
  std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto pipe = readTextFile(fifo, "the text file (-f)");
  ASSERT_FALSE(pipe.ok());
  EXPECT_EQ(pipe.error().message, fifo + ": the text file (-f) is a FIFO, not a regular file");

  auto device = readTextFile("/dev/zero", "the text file (-f)");
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.error().message,
            "/dev/zero: the text file (-f) is a character device, not a regular file");
}

TEST_F(TextFileTest, FollowsSymlinksToRegularFilesOnly) {
  std::string target = write("t.txt", "hello");
  std::string link = (dir_ / "link").string();
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto text = readTextFile(link, "the text");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "hello");
  std::string toDevice = (dir_ / "zero").string();
  ASSERT_EQ(::symlink("/dev/zero", toDevice.c_str()), 0);
  EXPECT_FALSE(readTextFile(toDevice, "the text").ok());
}

} // namespace
} // namespace kiln
