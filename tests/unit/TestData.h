// Where the tests find their inputs: the repo's own fixtures and the shared
// models beside the checkout (../shared/models, which CI provides).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace kiln::test {

inline std::filesystem::path sharedModelsDir() {
  if (const char *env = std::getenv("KILN_SHARED_MODELS_DIR"))
    return env;
  return KILN_SHARED_MODELS_DIR;
}

inline std::filesystem::path sourceDir() { return KILN_SOURCE_DIR; }

// A shared fixture; the test fails (not skips) when it is missing, since CI
// always provides ../shared.
inline std::string sharedFile(const std::string &relative) {
  std::filesystem::path path = sharedModelsDir() / relative;
  EXPECT_TRUE(std::filesystem::exists(path))
      << "missing shared fixture " << path
      << " (set KILN_SHARED_MODELS_DIR or check out ../shared)";
  return path.string();
}

inline std::vector<std::string> allSharedGgufFiles() {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto &entry :
       std::filesystem::recursive_directory_iterator(sharedModelsDir(), ec))
    if (entry.is_regular_file() && entry.path().extension() == ".gguf")
      files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

inline std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "kiln-test-XXXXXX").string();
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    path_ = ::mkdtemp(name.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string &name) const {
    return (path_ / name).string();
  }
  const std::filesystem::path &path() const { return path_; }

private:
  std::filesystem::path path_;
};

} // namespace kiln::test
