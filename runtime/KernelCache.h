// A directory of compiled kernel objects that a later run executes, so it
// is trusted only as far as it can be checked. An entry is two files:
// <key>.o, the object, and <key>.o.sha256, a record of its size and
// SHA-256. Before any byte of an entry is used, the directory and both
// files must belong to the current user and be writable by nobody else,
// the files must be regular (no links, FIFOs or devices) and the object's
// size and hash must match the record. A bad entry is reported, removed,
// and reads as a miss, so the caller compiles and writes it afresh.
//
// The record guards against corruption and against a file planted without
// its record; whoever can write both files can write this user's cache, and
// the ownership checks are what keep others from doing so.
#pragma once

#include "support/Result.h"
#include "support/Sha256.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

namespace kiln::runtime {

// The kernel cache of this user: $KILN_CACHE_DIR, else
// $XDG_CACHE_HOME/kiln, else ~/.cache/kiln; empty when none can be named.
std::string defaultKernelCacheDir();

// Objects larger than this are refused on read and not written.
constexpr uint64_t kMaxCacheObjectBytes = uint64_t(1) << 30;
// A record is three short lines.
constexpr size_t kMaxCacheRecordBytes = 4096;

// What the record beside an object says about it.
struct CacheRecord {
  uint64_t size = 0;
  Sha256::Digest digest{};
  bool operator==(const CacheRecord &) const = default;
};

// "kiln-kernel-cache 1\nsize <decimal>\nsha256 <64 lowercase hex>\n".
std::string formatCacheRecord(const CacheRecord &record);
// Exactly that text, or an error saying what is wrong (no file name; the
// caller prefixes it).
Result<CacheRecord> parseCacheRecord(std::string_view text);
// The object's bytes against their record: size first, then the hash.
Status checkCacheObject(std::span<const uint8_t> bytes, const CacheRecord &record);

// Why a cache file or directory with this status cannot be trusted by
// `user`, or nullopt: it must be owned by `user` and not writable by group
// or others; files must be regular and at most maxBytes long.
std::optional<std::string> untrustedReason(const struct stat &info, uid_t user,
                                           bool directory, uint64_t maxBytes);

// Receives one warning line without the "kiln: warning: " prefix.
using CacheWarning = std::function<void(const std::string &)>;

class KernelCache {
public:
  // Opens `dir`, creating it (mode 0700, parents as mkdir -p) when absent.
  // A directory that exists but cannot be trusted is reported through
  // `warn` once per process and yields a disabled cache, which reads
  // nothing and writes nothing; one that cannot be created or opened
  // yields a disabled cache silently (a cache only saves time).
  static KernelCache open(const std::string &dir, CacheWarning warn);

  KernelCache(KernelCache &&other) noexcept;
  KernelCache &operator=(KernelCache &&) = delete;
  ~KernelCache();

  bool enabled() const { return dirFd_ >= 0; }
  std::string objectPath(const std::string &key) const;
  std::string recordPath(const std::string &key) const;

  // The object stored under `key` (lowercase hex), checked against its
  // record; nullopt on a miss, or when the entry was bad: then it has been
  // reported and removed.
  std::optional<std::vector<uint8_t>> read(const std::string &key);
  // Stores the record, then its object, each atomically and with mode 0600.
  Status write(const std::string &key, std::span<const uint8_t> object);

private:
  KernelCache(std::string dir, int dirFd, CacheWarning warn)
      : dir_(std::move(dir)), dirFd_(dirFd), warn_(std::move(warn)) {}
  void discard(const std::string &key, const std::string &path,
               const std::string &problem);

  std::string dir_;
  int dirFd_ = -1;
  CacheWarning warn_;
};

} // namespace kiln::runtime
