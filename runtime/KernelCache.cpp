#include "KernelCache.h"

#include "support/AtomicFile.h"
#include "support/RegularFile.h"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <set>
#include <unistd.h>

namespace kiln::runtime {

std::string defaultKernelCacheDir() {
  if (const char *dir = std::getenv("KILN_CACHE_DIR"))
    return dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/kiln";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/kiln";
  return "";
}


namespace {

constexpr std::string_view kRecordTag = "kiln-kernel-cache 1";

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", unsigned(mode & 07777));
  return text;
}


bool isKey(const std::string &key) {
  return !key.empty() && key.size() <= 128 &&
         key.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// One line of the record: `name` and a space, then the value, then '\n'.
Result<std::string_view> recordLine(std::string_view &text, std::string_view name,
                                    int line) {
  size_t end = text.find('\n');
  if (end == std::string_view::npos)
    return makeError("line ", std::to_string(line), " does not end in a newline");
  std::string_view got = text.substr(0, end);
  text.remove_prefix(end + 1);
  if (got.size() <= name.size() || got.substr(0, name.size()) != name ||
      got[name.size()] != ' ')
    return makeError("line ", std::to_string(line), " is not '", std::string(name),
                     " ...'");
  return got.substr(name.size() + 1);
}

int hexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

// How one open of a cache file ended: the descriptor of a trusted file,
// no file at all, or the reason it is bad.
struct Opened {
  int fd = -1;
  bool missing = false;
  std::string problem;
  uint64_t size = 0;
};

// O_NOFOLLOW: a symlink is refused, not followed (to /dev/zero, or to
// someone else's file); O_NONBLOCK: opening a FIFO does not wait for a
// writer. Nothing is read before fstat says the file is trusted.
Opened openTrusted(int dirFd, const std::string &name, uint64_t maxBytes) {
  Opened result;
  int fd = ::openat(dirFd, name.c_str(),
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      result.missing = true;
    else if (errno == ELOOP)
      result.problem = "is a symbolic link";
    else
      result.problem = std::string("cannot open: ") + std::strerror(errno);
    return result;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    result.problem = std::string("cannot stat: ") + std::strerror(errno);
    ::close(fd);
    return result;
  }
  if (auto reason = untrustedReason(info, ::geteuid(), false, maxBytes)) {
    result.problem = *reason;
    ::close(fd);
    return result;
  }
  result.fd = fd;
  result.size = uint64_t(info.st_size);
  return result;
}

// Exactly `size` bytes, failing if the file ends sooner or goes on longer
// (it changed after fstat).
Result<std::vector<uint8_t>> readExactly(int fd, uint64_t size) {
  std::vector<uint8_t> bytes(size);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return makeError("cannot read: ", std::strerror(errno));
    if (n == 0)
      return makeError("ended after ", std::to_string(done), " of ",
                       std::to_string(size), " bytes while being read");
    done += size_t(n);
  }
  uint8_t extra;
  ssize_t n;
  while ((n = ::read(fd, &extra, 1)) < 0 && errno == EINTR) {
  }
  if (n != 0)
    return makeError("grew past ", std::to_string(size), " bytes while being read");
  return bytes;
}

// mkdir -p, the last component with mode 0700.
bool makeDirectories(const std::string &dir) {
  for (size_t slash = dir.find('/', 1); slash != std::string::npos;
       slash = dir.find('/', slash + 1))
    if (::mkdir(dir.substr(0, slash).c_str(), 0777) != 0 && errno != EEXIST)
      return false;
  return ::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST;
}

// The directories already reported as untrusted in this process.
bool firstWarningFor(const std::string &dir) {
  static std::mutex mutex;
  static std::set<std::string> warned;
  std::lock_guard<std::mutex> lock(mutex);
  return warned.insert(dir).second;
}

} // namespace

std::string formatCacheRecord(const CacheRecord &record) {
  return std::string(kRecordTag) + "\nsize " + std::to_string(record.size) +
         "\nsha256 " + toHex(record.digest) + "\n";
}

Result<CacheRecord> parseCacheRecord(std::string_view text) {
  if (text.size() > kMaxCacheRecordBytes)
    return makeError("is ", std::to_string(text.size()), " bytes, more than a record's ",
                     std::to_string(kMaxCacheRecordBytes));
  size_t end = text.find('\n');
  if (end == std::string_view::npos || text.substr(0, end) != kRecordTag)
    return makeError("does not start with '", std::string(kRecordTag), "'");
  text.remove_prefix(end + 1);

  CacheRecord record;
  auto size = recordLine(text, "size", 2);
  if (!size)
    return std::move(size).takeError();
  const char *first = size->data(), *last = size->data() + size->size();
  auto [stop, error] = std::from_chars(first, last, record.size);
  if (error != std::errc() || stop != last || (size->size() > 1 && (*size)[0] == '0'))
    return makeError("size '", std::string(*size), "' is not a decimal number");
  if (record.size > kMaxCacheObjectBytes)
    return makeError("size ", std::string(*size), " is more than the ",
                     std::to_string(kMaxCacheObjectBytes >> 20), " MiB limit");

  auto hex = recordLine(text, "sha256", 3);
  if (!hex)
    return std::move(hex).takeError();
  if (hex->size() != 64)
    return makeError("sha256 has ", std::to_string(hex->size()),
                     " characters, not 64 hex digits");
  for (size_t i = 0; i < 32; ++i) {
    int high = hexValue((*hex)[2 * i]), low = hexValue((*hex)[2 * i + 1]);
    if (high < 0 || low < 0)
      return makeError("sha256 is not 64 lowercase hex digits");
    record.digest[i] = uint8_t(high << 4 | low);
  }
  if (!text.empty())
    return makeError("has text after the sha256 line");
  return record;
}

Status checkCacheObject(std::span<const uint8_t> bytes, const CacheRecord &record) {
  if (bytes.size() != record.size)
    return makeError("is ", std::to_string(bytes.size()), " bytes, its record says ",
                     std::to_string(record.size), " (truncated or grown)");
  if (Sha256::of(bytes.data(), bytes.size()) != record.digest)
    return makeError("does not match the SHA-256 in its record (corrupt or replaced)");
  return Status::success();
}

std::optional<std::string> untrustedReason(const struct stat &info, uid_t user,
                                           bool directory, uint64_t maxBytes) {
  if (directory ? !S_ISDIR(info.st_mode) : !S_ISREG(info.st_mode))
    return std::string("is ") + fileKindText(info.st_mode) + ", not " +
           (directory ? "a directory" : "a regular file");
  if (info.st_uid != user)
    return "is owned by uid " + std::to_string(info.st_uid) + ", not by you (uid " +
           std::to_string(user) + ")";
  if (info.st_mode & (S_IWGRP | S_IWOTH))
    return "is writable by group or others (mode " + octal(info.st_mode) + ")";
  if (!directory && uint64_t(info.st_size) > maxBytes)
    return "is " + std::to_string(info.st_size) + " bytes, more than the " +
           std::to_string(maxBytes) + " a cache file may have";
  return std::nullopt;
}

KernelCache KernelCache::open(const std::string &dir, CacheWarning warn) {
  if (dir.empty() || !makeDirectories(dir))
    return KernelCache(dir, -1, std::move(warn));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return KernelCache(dir, -1, std::move(warn));
  struct stat info {};
  std::optional<std::string> reason;
  if (::fstat(fd, &info) != 0)
    reason = std::string("cannot stat: ") + std::strerror(errno);
  else
    reason = untrustedReason(info, ::geteuid(), true, 0);
  if (reason) {
    ::close(fd);
    if (warn && firstWarningFor(dir))
      warn(dir + ": kernel cache directory " + *reason +
           "; not using the cache (neither reading nor writing it)");
    return KernelCache(dir, -1, std::move(warn));
  }
  return KernelCache(dir, fd, std::move(warn));
}

KernelCache::KernelCache(KernelCache &&other) noexcept
    : dir_(std::move(other.dir_)), dirFd_(other.dirFd_), warn_(std::move(other.warn_)) {
  other.dirFd_ = -1;
}

KernelCache::~KernelCache() {
  if (dirFd_ >= 0)
    ::close(dirFd_);
}

std::string KernelCache::objectPath(const std::string &key) const {
  return dir_ + "/" + key + ".o";
}

std::string KernelCache::recordPath(const std::string &key) const {
  return objectPath(key) + ".sha256";
}

void KernelCache::discard(const std::string &key, const std::string &path,
                          const std::string &problem) {
  if (warn_)
    warn_(path + ": " + problem + "; recompiling");
  for (const std::string &name : {key + ".o", key + ".o.sha256"})
    if (::unlinkat(dirFd_, name.c_str(), 0) != 0 && (errno == EISDIR || errno == EPERM))
      ::unlinkat(dirFd_, name.c_str(), AT_REMOVEDIR); // an empty directory
}

std::optional<std::vector<uint8_t>> KernelCache::read(const std::string &key) {
  if (!enabled() || !isKey(key))
    return std::nullopt;
  Opened object = openTrusted(dirFd_, key + ".o", kMaxCacheObjectBytes);
  if (object.missing)
    return std::nullopt;
  if (object.fd < 0) {
    discard(key, objectPath(key), object.problem);
    return std::nullopt;
  }
  Opened recordFile = openTrusted(dirFd_, key + ".o.sha256", kMaxCacheRecordBytes);
  std::string problem, problemPath = recordPath(key);
  std::optional<std::vector<uint8_t>> result;
  if (recordFile.missing) {
    problem = "has no integrity record (" + recordPath(key) + " is missing)";
    problemPath = objectPath(key);
  } else if (recordFile.fd < 0) {
    problem = recordFile.problem;
  } else if (auto text = readExactly(recordFile.fd, recordFile.size); !text) {
    problem = text.error().message;
  } else if (auto record = parseCacheRecord(std::string_view(
                 reinterpret_cast<const char *>(text->data()), text->size()));
             !record) {
    problem = "is not a kernel cache record: " + record.error().message;
  } else {
    problemPath = objectPath(key);
    if (object.size != record->size)
      problem = "is " + std::to_string(object.size) + " bytes, its record says " +
                std::to_string(record->size) + " (truncated or grown)";
    else if (auto bytes = readExactly(object.fd, object.size); !bytes)
      problem = bytes.error().message;
    else if (Status check = checkCacheObject(*bytes, *record); !check)
      problem = check.message();
    else
      result = std::move(bytes).value();
  }
  if (recordFile.fd >= 0)
    ::close(recordFile.fd);
  ::close(object.fd);
  if (!result)
    discard(key, problemPath, problem);
  return result;
}

Status KernelCache::write(const std::string &key, std::span<const uint8_t> object) {
  if (!enabled())
    return makeError(dir_, ": the kernel cache is not in use");
  if (!isKey(key))
    return makeError(dir_, ": '", key, "' is not a kernel cache key");
  if (object.size() > kMaxCacheObjectBytes)
    return makeError(objectPath(key), ": ", std::to_string(object.size()),
                     " bytes is more than a cache entry may have");
  // The record first: a reader that comes between the two renames finds
  // no object, a plain miss, where the other order would show it an object
  // without its record and make it warn and remove a good entry.
  CacheRecord record{object.size(), Sha256::of(object.data(), object.size())};
  std::string text = formatCacheRecord(record);
  auto recordFile = AtomicFile::create(recordPath(key), 0600);
  if (!recordFile)
    return std::move(recordFile).takeError();
  KILN_TRY(recordFile->write(text.data(), text.size()));
  KILN_TRY(recordFile->commit());
  auto objectFile = AtomicFile::create(objectPath(key), 0600);
  if (!objectFile)
    return std::move(objectFile).takeError();
  KILN_TRY(objectFile->write(object.data(), object.size()));
  return objectFile->commit();
}

} // namespace kiln::runtime
