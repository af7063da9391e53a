// The JIT kernel cache executes what it reads, so every way a file in it
// can be wrong must read as a miss, with a warning naming the file, and
// leave the entry removed for the next write.
#include "runtime/KernelCache.h"

#include "TestData.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::runtime {
namespace {

namespace fs = std::filesystem;

const std::string kKey = "0123456789abcdef";

std::vector<uint8_t> sampleObject() {
  std::vector<uint8_t> bytes(5000);
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = uint8_t(i * 131 + 7);
  return bytes;
}

void writeFile(const std::string &path, const std::string &text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A cache directory under a fresh temp dir, collecting its warnings.
struct CacheFixture : ::testing::Test {
  test::TempDir temp;
  std::string dir = (temp.path() / "cache").string();
  std::vector<std::string> warnings;

  KernelCache open() {
    return KernelCache::open(dir, [this](const std::string &w) { warnings.push_back(w); });
  }
  // Writes the sample entry, breaks it with `damage`, and expects a miss
  // with one warning naming `blamed` and containing `fragment`, both files
  // gone, and a clean hit after rewriting.
  void expectRejected(const std::function<void(KernelCache &)> &damage,
                      const std::string &fragment, bool blameRecord = false) {
    KernelCache cache = open();
    ASSERT_TRUE(cache.enabled());
    ASSERT_TRUE(cache.write(kKey, sampleObject()).ok());
    damage(cache);
    warnings.clear();
    EXPECT_FALSE(cache.read(kKey).has_value());
    ASSERT_EQ(warnings.size(), 1u);
    std::string blamed = blameRecord ? cache.recordPath(kKey) : cache.objectPath(kKey);
    EXPECT_EQ(warnings[0].rfind(blamed + ": ", 0), 0u) << warnings[0];
    EXPECT_NE(warnings[0].find(fragment), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("; recompiling"), std::string::npos) << warnings[0];
    struct stat info {};
    EXPECT_NE(::lstat(cache.objectPath(kKey).c_str(), &info), 0) << "object left behind";
    EXPECT_NE(::lstat(cache.recordPath(kKey).c_str(), &info), 0) << "record left behind";
    warnings.clear();
    ASSERT_TRUE(cache.write(kKey, sampleObject()).ok());
    auto again = cache.read(kKey);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, sampleObject());
    EXPECT_TRUE(warnings.empty());
  }
};

TEST_F(CacheFixture, WrittenEntryReadsBackWithPrivateModes) {
  KernelCache cache = open();
  ASSERT_TRUE(cache.enabled());
  EXPECT_FALSE(cache.read(kKey).has_value()) << "empty cache hit";
  ASSERT_TRUE(cache.write(kKey, sampleObject()).ok());
  auto bytes = cache.read(kKey);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(*bytes, sampleObject());
  EXPECT_TRUE(warnings.empty());
  struct stat info {};
  ASSERT_EQ(::stat(dir.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0700u);
  for (const std::string &path : {cache.objectPath(kKey), cache.recordPath(kKey)}) {
    ASSERT_EQ(::stat(path.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0600u) << path;
  }
  EXPECT_EQ(parseCacheRecord(readFile(cache.recordPath(kKey))).value(),
            (CacheRecord{5000, Sha256::of(sampleObject().data(), 5000)}));
}

TEST_F(CacheFixture, FlippedByteIsRejected) {
  expectRejected([](KernelCache &cache) {
    std::string bytes = readFile(cache.objectPath(kKey));
    bytes[1234] ^= 0x40;
    writeFile(cache.objectPath(kKey), bytes);
  }, "does not match the SHA-256");
}

TEST_F(CacheFixture, TruncatedObjectIsRejected) {
  expectRejected([](KernelCache &cache) {
    ASSERT_EQ(::truncate(cache.objectPath(kKey).c_str(), 100), 0);
  }, "is 100 bytes, its record says 5000");
}

TEST_F(CacheFixture, ObjectPlantedWithoutItsRecordIsRejected) {
  expectRejected([](KernelCache &cache) {
    std::vector<uint8_t> other = sampleObject();
    other[0] ^= 1;
    writeFile(cache.objectPath(kKey), std::string(other.begin(), other.end()));
  }, "does not match the SHA-256");
}

TEST_F(CacheFixture, MissingRecordIsRejected) {
  expectRejected([](KernelCache &cache) {
    ASSERT_EQ(::unlink(cache.recordPath(kKey).c_str()), 0);
  }, "has no integrity record");
}

TEST_F(CacheFixture, GarbledRecordIsRejected) {
  expectRejected([](KernelCache &cache) {
    writeFile(cache.recordPath(kKey), "kiln-kernel-cache 1\nsize 5000\nsha256 zz\n");
  }, "not a kernel cache record", true);
}

TEST_F(CacheFixture, FifoIsRejectedWithoutWaiting) {
  expectRejected([](KernelCache &cache) {
    ASSERT_EQ(::unlink(cache.objectPath(kKey).c_str()), 0);
    ASSERT_EQ(::mkfifo(cache.objectPath(kKey).c_str(), 0600), 0);
  }, "is a FIFO, not a regular file");
}

TEST_F(CacheFixture, SymlinkIsRejected) {
  expectRejected([](KernelCache &cache) {
    ASSERT_EQ(::unlink(cache.objectPath(kKey).c_str()), 0);
    ASSERT_EQ(::symlink("/dev/zero", cache.objectPath(kKey).c_str()), 0);
  }, "is a symbolic link");
}

TEST_F(CacheFixture, SymlinkedRecordIsRejected) {
  expectRejected([](KernelCache &cache) {
    ASSERT_EQ(::unlink(cache.recordPath(kKey).c_str()), 0);
    ASSERT_EQ(::symlink("/dev/zero", cache.recordPath(kKey).c_str()), 0);
  }, "is a symbolic link", true);
}

TEST_F(CacheFixture, GroupWritableEntryIsRejected) {
  expectRejected([](KernelCache &cache) {
    ASSERT_EQ(::chmod(cache.objectPath(kKey).c_str(), 0620), 0);
  }, "writable by group or others (mode 0620)");
}

TEST_F(CacheFixture, EntryOfAnotherUserIsRejected) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "changing a file's owner needs root; untrustedReason covers it";
  expectRejected([](KernelCache &cache) {
    ASSERT_EQ(::chown(cache.objectPath(kKey).c_str(), 65534, 65534), 0);
  }, "owned by uid 65534");
}

// An untrusted directory is neither read nor written, and the warning
// comes once per process however often it is opened.
TEST_F(CacheFixture, WorldWritableDirectoryIsNotUsed) {
  {
    KernelCache cache = open();
    ASSERT_TRUE(cache.write(kKey, sampleObject()).ok());
  }
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  KernelCache cache = open();
  EXPECT_FALSE(cache.enabled());
  EXPECT_FALSE(cache.read(kKey).has_value());
  EXPECT_FALSE(cache.write("aa", sampleObject()).ok());
  EXPECT_FALSE(fs::exists(dir + "/aa.o"));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind(dir + ": kernel cache directory is writable by group or others (mode 0777)", 0), 0u)
      << warnings[0];
  KernelCache again = open();
  EXPECT_FALSE(again.enabled());
  EXPECT_EQ(warnings.size(), 1u);
}

TEST_F(CacheFixture, DirectoryThatIsAFileIsNotUsed) {
  writeFile(dir, "not a directory");
  KernelCache cache = open();
  EXPECT_FALSE(cache.enabled());
}

TEST_F(CacheFixture, NestedDirectoryIsCreated) {
  dir = (temp.path() / "a" / "b" / "kiln").string();
  KernelCache cache = open();
  ASSERT_TRUE(cache.enabled());
  ASSERT_TRUE(cache.write(kKey, sampleObject()).ok());
  EXPECT_TRUE(cache.read(kKey).has_value());
}

TEST_F(CacheFixture, KeysThatAreNotHexAreRefused) {
  KernelCache cache = open();
  EXPECT_FALSE(cache.write("../escape", sampleObject()).ok());
  EXPECT_FALSE(cache.write("", sampleObject()).ok());
  EXPECT_FALSE(cache.read("../escape").has_value());
  EXPECT_FALSE(fs::exists(temp.path() / "escape.o"));
}

TEST(CacheRecord, RoundTrips) {
  CacheRecord record{123456, Sha256::of("abc")};
  std::string text = formatCacheRecord(record);
  EXPECT_EQ(text, "kiln-kernel-cache 1\nsize 123456\nsha256 "
                  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n");
  EXPECT_EQ(parseCacheRecord(text).value(), record);
}

TEST(CacheRecord, MalformedRecordsSayWhatIsWrong) {
  const std::string hash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  const std::pair<std::string, std::string> cases[] = {
      {"", "does not start with 'kiln-kernel-cache 1'"},
      {"kiln-kernel-cache 2\nsize 1\nsha256 " + hash + "\n", "does not start with"},
      {"kiln-kernel-cache 1\nsize 1\nsha256 " + hash, "line 3 does not end in a newline"},
      {"kiln-kernel-cache 1\nsiz 1\nsha256 " + hash + "\n", "line 2 is not 'size ...'"},
      {"kiln-kernel-cache 1\nsize -1\nsha256 " + hash + "\n", "is not a decimal number"},
      {"kiln-kernel-cache 1\nsize 01\nsha256 " + hash + "\n", "is not a decimal number"},
      {"kiln-kernel-cache 1\nsize 1x\nsha256 " + hash + "\n", "is not a decimal number"},
      {"kiln-kernel-cache 1\nsize 99999999999999999999\nsha256 " + hash + "\n",
       "is not a decimal number"},
      {"kiln-kernel-cache 1\nsize 1073741825\nsha256 " + hash + "\n", "1024 MiB limit"},
      {"kiln-kernel-cache 1\nsize 1\nsha256 " + hash.substr(1) + "\n", "63 characters"},
      {"kiln-kernel-cache 1\nsize 1\nsha256 " + std::string(64, 'A') + "\n",
       "lowercase hex"},
      {"kiln-kernel-cache 1\nsize 1\nsha256 " + hash + "\nmore\n", "text after"},
      {std::string(5000, 'x'), "more than a record's 4096"},
  };
  for (const auto &[text, fragment] : cases) {
    auto record = parseCacheRecord(text);
    ASSERT_FALSE(record.ok()) << text;
    EXPECT_NE(record.error().message.find(fragment), std::string::npos)
        << text << " -> " << record.error().message;
  }
}

TEST(CacheRecord, ObjectCheckComparesSizeThenHash) {
  std::vector<uint8_t> bytes = sampleObject();
  CacheRecord record{bytes.size(), Sha256::of(bytes.data(), bytes.size())};
  EXPECT_TRUE(checkCacheObject(bytes, record).ok());
  bytes.back() ^= 1;
  EXPECT_NE(checkCacheObject(bytes, record).message().find("SHA-256"), std::string::npos);
  bytes.pop_back();
  EXPECT_NE(checkCacheObject(bytes, record).message().find("truncated"), std::string::npos);
}

TEST(CacheTrust, OwnerModeTypeAndSize) {
  struct stat info {};
  info.st_mode = S_IFREG | 0600;
  info.st_uid = 1000;
  info.st_size = 10;
  EXPECT_FALSE(untrustedReason(info, 1000, false, 10).has_value());
  EXPECT_EQ(untrustedReason(info, 1001, false, 10).value(),
            "is owned by uid 1000, not by you (uid 1001)");
  EXPECT_EQ(untrustedReason(info, 1000, false, 9).value(),
            "is 10 bytes, more than the 9 a cache file may have");
  EXPECT_EQ(untrustedReason(info, 1000, true, 0).value(), "is a regular file, not a directory");
  info.st_mode = S_IFREG | 0602;
  EXPECT_EQ(untrustedReason(info, 1000, false, 10).value(),
            "is writable by group or others (mode 0602)");
  info.st_mode = S_IFDIR | 0755;
  EXPECT_FALSE(untrustedReason(info, 1000, true, 0).has_value());
  EXPECT_EQ(untrustedReason(info, 1000, false, 10).value(), "is a directory, not a regular file");
}

} // namespace
} // namespace kiln::runtime
