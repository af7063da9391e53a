// AtomicFile: the target appears whole or not at all, and no temporary
// outlives its writer: not an error, not SIGINT/SIGTERM/SIGHUP (the signal
// handler removes it), not SIGKILL (the next writer of the target does).
#include "support/AtomicFile.h"
#include "support/TempFiles.h"

#include "TestData.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace kiln {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> entries(const fs::path &dir) {
  std::vector<std::string> names;
  for (const auto &entry : fs::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string readAll(const std::string &path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A child that opens an AtomicFile for target, writes into it, reports on
// the pipe that the temporary exists, then waits to be signalled.
pid_t startWriter(const std::string &target, int signal) {
  int ready[2];
  if (::pipe(ready) != 0)
    return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    // As a shell's background job may inherit SIGINT ignored.
    std::signal(signal, SIG_DFL);
    auto file = AtomicFile::create(target);
    if (!file || !file->write("partial", 7))
      ::_exit(3);
    char byte = 1;
    if (::write(ready[1], &byte, 1) != 1)
      ::_exit(4);
    for (;;)
      ::pause();
  }
  ::close(ready[1]);
  char byte = 0;
  bool started = pid > 0 && ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  return started ? pid : -1;
}

TEST(AtomicFile, CommitReplacesTargetAndLeavesNoTemporary) {
  test::TempDir tmp;
  std::string target = tmp.file("out.gguf");
  std::ofstream(target) << "old";
  auto file = AtomicFile::create(target);
  ASSERT_TRUE(file) << file.error().message;
  ASSERT_TRUE(file->write("new", 3));
  // Before the commit the target is untouched, the temporary names its
  // writer.
  EXPECT_EQ(readAll(target), "old");
  std::vector<std::string> during = entries(tmp.path());
  ASSERT_EQ(during.size(), 2u);
  EXPECT_TRUE(during[1].starts_with("out.gguf.tmp.kiln-" + std::to_string(::getpid()) + "-"))
      << during[1];
  ASSERT_TRUE(file->commit());
  EXPECT_EQ(readAll(target), "new");
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"out.gguf"});
}

TEST(AtomicFile, AbandonedWriterRemovesTemporary) {
  test::TempDir tmp;
  {
    auto file = AtomicFile::create(tmp.file("out.gguf"));
    ASSERT_TRUE(file);
    ASSERT_TRUE(file->write("x", 1));
  }
  EXPECT_TRUE(entries(tmp.path()).empty());
}

class AtomicFileSignal : public ::testing::TestWithParam<int> {};

TEST_P(AtomicFileSignal, SignalMidWriteRemovesTemporaryAndEndsBySignal) {
  const int signal = GetParam();
  test::TempDir tmp;
  std::string target = tmp.file("out.gguf");
  pid_t child = startWriter(target, signal);
  ASSERT_GT(child, 0);
  std::vector<std::string> during = entries(tmp.path());
  ASSERT_EQ(during.size(), 1u);
  EXPECT_TRUE(during[0].starts_with("out.gguf.tmp.kiln-" + std::to_string(child) + "-"));
  ASSERT_EQ(::kill(child, signal), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << status;
  EXPECT_EQ(WTERMSIG(status), signal); // re-raised: the caller sees the signal
  EXPECT_TRUE(entries(tmp.path()).empty());
}

INSTANTIATE_TEST_SUITE_P(Signals, AtomicFileSignal,
                         ::testing::Values(SIGINT, SIGTERM, SIGHUP));

TEST(AtomicFile, TemporaryOfKilledWriterIsRemovedByTheNextWriter) {
  test::TempDir tmp;
  std::string target = tmp.file("out.gguf");
  pid_t child = startWriter(target, SIGTERM);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(entries(tmp.path()).size(), 1u); // SIGKILL runs no handler

  auto file = AtomicFile::create(target);
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->write("whole", 5));
  ASSERT_TRUE(file->commit());
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"out.gguf"});
  EXPECT_EQ(readAll(target), "whole");
}

// A PID that was a process of ours and is no more.
pid_t deadPid() {
  pid_t pid = ::fork();
  if (pid == 0)
    ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST(AtomicFile, StaleCleanupTouchesOnlyDeadWritersOfTheSameTarget) {
  test::TempDir tmp;
  const std::string dead = std::to_string(deadPid());
  const std::string live = std::to_string(::getppid());
  auto make = [&](const std::string &name) { std::ofstream(tmp.file(name)) << "x"; };
  make("out.gguf.tmp.kiln-" + dead + "-a1B2c3");   // removed
  make("out.gguf.tmp.kiln-" + live + "-a1B2c3");   // its writer lives
  make("out.gguf.tmp.kiln-" + dead + "-a1B2c3d");  // not mkstemp's six
  make("out.gguf.tmp.kiln-" + dead + "-a1B2c");
  make("out.gguf.tmp.kiln-x" + dead + "-a1B2c3");
  make("out.gguf.tmp." + dead + "-a1B2c3");        // not our pattern
  make("other.gguf.tmp.kiln-" + dead + "-a1B2c3"); // another target
  make("out.gguf");
  fs::create_directory(tmp.path() / ("out.gguf.tmp.kiln-" + dead + "-dir000"));
  fs::create_symlink(tmp.file("out.gguf"), tmp.path() / ("out.gguf.tmp.kiln-" + dead + "-lnk000"));
  std::vector<std::string> before = entries(tmp.path());

  {
    // Abandoned at once: only the sweep's effect remains.
    auto file = AtomicFile::create(tmp.file("out.gguf"));
    ASSERT_TRUE(file);
  }
  std::vector<std::string> expected;
  for (const std::string &name : before)
    if (name != "out.gguf.tmp.kiln-" + dead + "-a1B2c3")
      expected.push_back(name);
  EXPECT_EQ(entries(tmp.path()), expected);
}

TEST(AtomicFile, StaleSweepReportsWhatItRemoved) {
  test::TempDir tmp;
  const std::string name = "calibration-" + std::to_string(deadPid()) + "-Zz09aA.gguf";
  std::ofstream(tmp.file(name)) << "x";
  std::ofstream(tmp.file("calibration-notes.gguf")) << "x";
  EXPECT_EQ(removeStaleTempFiles(tmp.path().string(), "calibration-", ".gguf"),
            std::vector<std::string>{name});
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"calibration-notes.gguf"});
}

} // namespace
} // namespace kiln
