#include "quant/GgmlType.h"

#include <gtest/gtest.h>

#include <set>

namespace kiln {
namespace {

TEST(GgmlType, TableIsConsistent) {
  std::set<uint32_t> ids;
  std::set<std::string_view> names;
  for (const GgmlTypeInfo &info : allGgmlTypes()) {
    EXPECT_TRUE(ids.insert(static_cast<uint32_t>(info.type)).second);
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_GT(info.blockSize, 0u);
    EXPECT_GT(info.bytesPerBlock, 0u);
    EXPECT_EQ(&ggmlTypeInfo(info.type), &info);
    EXPECT_EQ(ggmlTypeFromName(info.name), info.type);
  }
  // Every id ggml has ever assigned up to MXFP4 is named, except the two
  // that were never used in files (4 and 5, the old Q4_2 and Q4_3).
  for (uint32_t id = 0; id <= 39; ++id)
    EXPECT_EQ(findGgmlType(id) != nullptr, id != 4 && id != 5) << id;
  EXPECT_EQ(findGgmlType(40), nullptr);
}

TEST(GgmlType, KnownGeometry) {
  EXPECT_EQ(ggmlTypeInfo(GgmlType::Q8_0).bytesPerBlock, 34u);
  EXPECT_EQ(ggmlTypeInfo(GgmlType::Q4_K).bytesPerBlock, 144u);
  EXPECT_EQ(ggmlTypeInfo(GgmlType::Q6_K).blockSize, 256u);
  EXPECT_DOUBLE_EQ(bitsPerWeight(ggmlTypeInfo(GgmlType::Q4_0)), 4.5);
  EXPECT_DOUBLE_EQ(bitsPerWeight(ggmlTypeInfo(GgmlType::Q6_K)), 6.5625);
  EXPECT_EQ(ggmlTypeFromName("Q4_K"), GgmlType::Q4_K);
  EXPECT_EQ(ggmlTypeFromName("nope"), std::nullopt);
}

} // namespace
} // namespace kiln
