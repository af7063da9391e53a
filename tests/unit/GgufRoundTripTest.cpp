#include "gguf/GgufFile.h"
#include "gguf/GgufWriter.h"
#include "TestData.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

namespace kiln {
namespace {

// Every shared GGUF, read and written back unchanged, is byte-identical, and
// our output reads back with identical metadata and tensor bytes.
TEST(GgufRoundTrip, EverySharedFileIsByteIdentical) {
  test::TempDir dir;
  auto files = test::allSharedGgufFiles();
  ASSERT_GE(files.size(), 20u);
  for (const std::string &path : files) {
    SCOPED_TRACE(path);
    auto original = GgufFile::open(path);
    ASSERT_TRUE(original.ok()) << original.error().message;
    std::string out = dir.file("copy.gguf");
    Status written = GgufWriter::copyOf(*original).write(out);
    ASSERT_TRUE(written.ok()) << written.message();

    EXPECT_TRUE(test::readBytes(path) == test::readBytes(out))
        << "written file differs from the original";

    auto copy = GgufFile::open(out);
    ASSERT_TRUE(copy.ok()) << copy.error().message;
    EXPECT_EQ(copy->metadata().entries(), original->metadata().entries());
    ASSERT_EQ(copy->tensors().size(), original->tensors().size());
    for (size_t i = 0; i < copy->tensors().size(); ++i) {
      const GgufTensorInfo &a = original->tensors()[i];
      const GgufTensorInfo &b = copy->tensors()[i];
      EXPECT_EQ(a.name, b.name);
      EXPECT_EQ(a.dims, b.dims);
      EXPECT_EQ(a.type, b.type);
      auto da = original->tensorData(a), db = copy->tensorData(b);
      EXPECT_TRUE(std::equal(da.begin(), da.end(), db.begin(), db.end()))
          << a.name;
    }
  }
}

TEST(GgufWriter, RejectsBadTensors) {
  GgufWriter writer;
  std::vector<uint8_t> data(18);
  EXPECT_TRUE(writer.addTensor("a", GgmlType::Q4_0, {32}, data).ok());
  EXPECT_FALSE(writer.addTensor("a", GgmlType::Q4_0, {32}, data).ok());
  Status wrongSize = writer.addTensor("b", GgmlType::Q4_0, {64}, data);
  ASSERT_FALSE(wrongSize.ok());
  EXPECT_NE(wrongSize.message().find("needs 36"), std::string::npos);
  Status partialBlock = writer.addTensor("c", GgmlType::Q4_0, {31}, data);
  ASSERT_FALSE(partialBlock.ok());
  EXPECT_NE(partialBlock.message().find("block size"), std::string::npos);
}

TEST(GgufWriter, FailedWriteLeavesTargetUntouched) {
  test::TempDir dir;
  std::string target = dir.file("model.gguf");
  {
    std::ofstream(target) << "precious";
  }
  GgufWriter writer;
  writer.metadata().set("general.architecture", "llama");
  ASSERT_TRUE(writer
                  .addTensor("t", GgmlType::F32, {4},
                             [](std::span<uint8_t>) -> Status {
                               return makeError("generator failed");
                             })
                  .ok());
  Status written = writer.write(target);
  ASSERT_FALSE(written.ok());
  EXPECT_NE(written.message().find("generator failed"), std::string::npos);
  auto bytes = test::readBytes(target);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "precious");
  // No temporary file is left behind.
  size_t entries = 0;
  for (auto &entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1u);
}

TEST(GgufWriter, AllValueTypesRoundTrip) {
  test::TempDir dir;
  GgufWriter writer(3);
  GgufMetadata &meta = writer.metadata();
  meta.set("u8", uint8_t{200});
  meta.set("i8", int8_t{-100});
  meta.set("u16", uint16_t{60000});
  meta.set("i16", int16_t{-30000});
  meta.set("u32", uint32_t{4000000000u});
  meta.set("i32", int32_t{-2000000000});
  meta.set("f32", 1.5f);
  meta.set("bool", true);
  meta.set("str", std::string("h\xc3\xa9llo"));
  meta.set("u64", uint64_t{1} << 63);
  meta.set("i64", int64_t{-1} << 62);
  meta.set("f64", 2.25);
  meta.set("arr_f32", GgufArray{std::vector<float>{1, 2, 3}});
  meta.set("arr_bool", GgufArray{std::vector<bool>{true, false, true}});
  meta.set("arr_str", GgufArray{std::vector<std::string>{"a", "", "c"}});
  meta.set("nested",
           GgufArray{std::vector<GgufArray>{
               GgufArray{std::vector<int32_t>{1, 2}},
               GgufArray{std::vector<GgufArray>{
                   GgufArray{std::vector<std::string>{"deep"}}}}}});
  meta.set("empty", GgufArray{std::vector<uint64_t>{}});
  std::vector<float> values(64, 0.25f);
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t *>(values.data()),
                                 values.size() * 4);
  ASSERT_TRUE(writer.addTensor("m", GgmlType::F32, {8, 8}, bytes).ok());
  ASSERT_TRUE(writer.addTensor("v", GgmlType::F32, {3},
                               bytes.subspan(0, 12)).ok());
  ASSERT_TRUE(writer.write(dir.file("all.gguf")).ok());

  auto file = GgufFile::open(dir.file("all.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->metadata().entries(), meta.entries());
  EXPECT_EQ(*file->metadata().getUInt("u32"), 4000000000u);
  EXPECT_EQ(*file->metadata().getInt("i64"), int64_t{-1} << 62);
  EXPECT_FALSE(file->metadata().getInt("u64").ok()); // 2^63 > INT64_MAX
  EXPECT_FALSE(file->metadata().getUInt("i8").ok()); // negative
  const GgufTensorInfo *v = file->findTensor("v");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->offset, 256u); // 8*8*4 bytes, already aligned to 32
  EXPECT_EQ(file->fileSize() % 32, 0u);
}

} // namespace
} // namespace kiln

namespace kiln {
namespace {

TEST(GgufWriter, OutputGetsOrdinaryPermissions) {
  test::TempDir dir;
  GgufWriter writer;
  writer.metadata().set("general.architecture", "llama");
  std::string path = dir.file("out.gguf");
  mode_t mask = ::umask(022);
  ASSERT_TRUE(writer.write(path).ok());
  ::umask(mask);
  using std::filesystem::perms;
  perms actual = std::filesystem::status(path).permissions();
  EXPECT_EQ(actual & perms::all,
            perms::owner_read | perms::owner_write | perms::group_read |
                perms::others_read);
}

} // namespace
} // namespace kiln
