// libFuzzer target for the JIT kernel cache's reader. The input is a
// record's text, a NUL byte, then the object's bytes. The record parser
// must accept exactly the canonical text formatCacheRecord writes (so
// parse and format agree byte for byte), and the cache must hand back the
// object from files holding these bytes exactly when the record parses
// and its size and hash are the object's; anything else is a miss.
#include "runtime/KernelCache.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace {

using namespace kiln;
using namespace kiln::runtime;

const std::string kKey = "00ff";

void writeOrDie(const std::string &path, const uint8_t *data, size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || (size > 0 && ::write(fd, data, size) != ssize_t(size)))
    std::abort();
  ::close(fd);
}

// One private cache directory for the whole run, removed at exit.
struct FuzzCache {
  std::string dir;
  size_t warnings = 0;
  KernelCache *cache = nullptr;

  FuzzCache() {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/kiln-cache-fuzz-XXXXXX";
    if (!::mkdtemp(pattern.data()))
      std::abort();
    dir = pattern + "/cache";
    cache = new KernelCache(
        KernelCache::open(dir, [this](const std::string &) { ++warnings; }));
    if (!cache->enabled())
      std::abort();
  }
  ~FuzzCache() {
    ::unlink(cache->objectPath(kKey).c_str());
    ::unlink(cache->recordPath(kKey).c_str());
    delete cache;
    ::rmdir(dir.c_str());
    ::rmdir(dir.substr(0, dir.size() - 6).c_str());
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FuzzCache fuzz;
  const uint8_t *nul = static_cast<const uint8_t *>(std::memchr(data, 0, size));
  size_t textSize = nul ? size_t(nul - data) : size;
  std::string_view text(reinterpret_cast<const char *>(data), textSize);
  std::span<const uint8_t> object;
  if (nul)
    object = std::span<const uint8_t>(nul + 1, size - textSize - 1);

  auto record = parseCacheRecord(text);
  bool expectHit = false;
  if (!record.ok()) {
    if (record.error().message.empty())
      __builtin_trap();
  } else {
    if (formatCacheRecord(*record) != text)
      __builtin_trap(); // a second spelling of the same record was accepted
    Status check = checkCacheObject(object, *record);
    bool really = object.size() == record->size &&
                  Sha256::of(object.data(), object.size()) == record->digest;
    if (check.ok() != really || (!check.ok() && check.message().empty()))
      __builtin_trap();
    expectHit = really;
  }

  // The same bytes as files in the cache.
  writeOrDie(fuzz.cache->objectPath(kKey), object.data(), object.size());
  writeOrDie(fuzz.cache->recordPath(kKey), data, textSize);
  size_t warningsBefore = fuzz.warnings;
  auto read = fuzz.cache->read(kKey);
  if (read.has_value() != expectHit)
    __builtin_trap();
  if (read && !std::equal(read->begin(), read->end(), object.begin(), object.end()))
    __builtin_trap();
  // A miss here is always a bad entry: reported, and both files removed.
  if (!read && (fuzz.warnings != warningsBefore + 1 ||
                ::access(fuzz.cache->objectPath(kKey).c_str(), F_OK) == 0 ||
                ::access(fuzz.cache->recordPath(kKey).c_str(), F_OK) == 0))
    __builtin_trap();
  return 0;
}
