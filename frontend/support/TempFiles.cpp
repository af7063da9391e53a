#include "TempFiles.h"

#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln {

namespace {

constexpr int kSlots = 64;
constexpr size_t kPathBytes = 4096;

// A slot is Free, being filled or emptied (Busy), or Live: the handler
// reads the path only of a Live slot, so it never sees a partial copy.
enum SlotState : int { Free, Busy, Live };

struct Slot {
  std::atomic<int> state{Free};
  char path[kPathBytes];
};

Slot slots[kSlots];

const int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Only async-signal-safe calls: unlink, sigaction, raise.
void removeTempsAndReraise(int signal) {
  for (Slot &slot : slots)
    if (slot.state.load(std::memory_order_acquire) == Live)
      ::unlink(slot.path);
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  ::sigaction(signal, &action, nullptr);
  ::raise(signal);
}

// Checked on every track rather than once: the handler acts as the default
// action does, after removing the files, so taking over a default action
// is always safe, and a process that resets one (a forked child) is
// covered again.
void installHandlers() {
  for (int signal : kSignals) {
    struct sigaction current {};
    if (::sigaction(signal, nullptr, &current) != 0 ||
        (current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_DFL)
      continue;
    struct sigaction action {};
    action.sa_handler = removeTempsAndReraise;
    sigemptyset(&action.sa_mask);
    // The other two wait while one handler removes the files.
    for (int other : kSignals)
      sigaddset(&action.sa_mask, other);
    ::sigaction(signal, &action, nullptr);
  }
}

bool isPidDigits(std::string_view text) {
  if (text.empty() || text.size() > 10 || text[0] == '0')
    return false;
  for (char c : text)
    if (c < '0' || c > '9')
      return false;
  return true;
}

// prefix + "<pid>-XXXXXX" + suffix; the PID, or 0 when the name differs.
pid_t stalePid(std::string_view name, std::string_view prefix,
               std::string_view suffix) {
  if (!name.starts_with(prefix) || !name.ends_with(suffix))
    return 0;
  std::string_view middle =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  size_t dash = middle.find('-');
  if (dash == std::string_view::npos || middle.size() - dash - 1 != 6)
    return 0;
  for (char c : middle.substr(dash + 1))
    if (!std::isalnum(static_cast<unsigned char>(c)))
      return 0;
  std::string_view digits = middle.substr(0, dash);
  if (!isPidDigits(digits))
    return 0;
  long long pid = std::stoll(std::string(digits));
  return pid > 0 && pid <= 0x7fffffff ? static_cast<pid_t>(pid) : 0;
}

} // namespace

int trackTempFile(const std::string &path) {
  if (path.size() >= kPathBytes)
    return -1;
  installHandlers();
  for (int i = 0; i < kSlots; ++i) {
    int expected = Free;
    if (!slots[i].state.compare_exchange_strong(expected, Busy,
                                                std::memory_order_acquire))
      continue;
    std::memcpy(slots[i].path, path.c_str(), path.size() + 1);
    slots[i].state.store(Live, std::memory_order_release);
    return i;
  }
  return -1;
}

void untrackTempFile(int ticket) {
  if (ticket < 0 || ticket >= kSlots)
    return;
  slots[ticket].state.store(Busy, std::memory_order_release);
  slots[ticket].state.store(Free, std::memory_order_release);
}

std::string tempFileTag() { return std::to_string(::getpid()) + "-"; }

std::vector<std::string> removeStaleTempFiles(const std::string &dir,
                                              std::string_view prefix,
                                              std::string_view suffix) {
  std::vector<std::string> removed;
  DIR *folder = ::opendir(dir.empty() ? "." : dir.c_str());
  if (!folder)
    return removed;
  const pid_t self = ::getpid();
  while (const dirent *entry = ::readdir(folder)) {
    pid_t pid = stalePid(entry->d_name, prefix, suffix);
    if (pid == 0 || pid == self)
      continue;
    std::string path = (dir.empty() ? std::string() : dir + "/") + entry->d_name;
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode) ||
        info.st_uid != ::geteuid())
      continue;
    // EPERM means a live process of another user: not ours to judge.
    if (::kill(pid, 0) == 0 || errno != ESRCH)
      continue;
    if (::unlink(path.c_str()) == 0)
      removed.push_back(entry->d_name);
  }
  ::closedir(folder);
  return removed;
}

} // namespace kiln
