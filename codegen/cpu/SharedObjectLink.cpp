// linkSharedObject (KernelObject.h): the object and the linker's output in
// a private temporary directory, removed afterwards; the linker is run
// directly (posix_spawn, no shell), its messages kept for the error.

#include "codegen/cpu/KernelObject.h"

#include "support/TempFiles.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace kiln::codegen::cpu {

namespace {

bool onPath(const std::string &program) {
  if (program.find('/') != std::string::npos)
    return access(program.c_str(), X_OK) == 0;
  const char *path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos)
      end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0)
      return true;
    start = end + 1;
  }
  return false;
}

Result<std::string> findLinker() {
  if (const char *chosen = std::getenv("KILN_LINKER"); chosen && *chosen) {
    if (!onPath(chosen))
      return makeError("KILN_LINKER=", chosen, ": no such program");
    return std::string(chosen);
  }
  for (const char *candidate : {"ld.lld-19", "ld.lld", "ld"})
    if (onPath(candidate))
      return std::string(candidate);
  return makeError("no linker found to make the kernels' shared object (looked for ",
                   "ld.lld-19, ld.lld and ld on PATH): install lld-19 (apt install lld-19) ",
                   "or binutils, or name one with KILN_LINKER");
}

Status writeFile(const std::string &path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
  out.close();
  if (!out)
    return makeError(path, ": cannot write the kernels' object");
  return Status::success();
}

std::string readText(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace

Result<std::vector<uint8_t>> linkSharedObject(std::span<const uint8_t> object) {
  auto linker = findLinker();
  if (!linker)
    return linker.error();
  const char *tmp = std::getenv("TMPDIR");
  std::string dirTemplate = std::string(tmp && *tmp ? tmp : "/tmp") + "/kiln-link-" +
                            tempFileTag() + "XXXXXX";
  std::vector<char> dirName(dirTemplate.begin(), dirTemplate.end());
  dirName.push_back('\0');
  if (!mkdtemp(dirName.data()))
    return makeError(dirTemplate, ": cannot make a temporary directory to link the kernels: ",
                     std::strerror(errno));
  const std::string dir = dirName.data();
  const std::string input = dir + "/kernels.o", output = dir + "/kernels.so",
                    messages = dir + "/linker.txt";
  int tickets[3] = {trackTempFile(input), trackTempFile(output), trackTempFile(messages)};
  auto cleanUp = [&] {
    for (const std::string &path : {input, output, messages})
      unlink(path.c_str());
    rmdir(dir.c_str());
    for (int ticket : tickets)
      untrackTempFile(ticket);
  };
  if (Status s = writeFile(input, object); !s) {
    cleanUp();
    return std::move(s).takeError();
  }
  std::vector<std::string> args = {*linker, "-shared", "-o", output, input,
                                   "-z", "noexecstack", "-z", "now"};
  std::vector<char *> argv;
  for (std::string &arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, messages.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, linker->c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    cleanUp();
    return makeError("cannot run the linker ", *linker, ": ", std::strerror(spawned));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string said = readText(messages);
    cleanUp();
    return makeError("the linker ", *linker, " failed to make the kernels' shared object",
                     said.empty() ? std::string() : ":\n" + said);
  }
  std::string bytes = readText(output);
  cleanUp();
  if (bytes.empty())
    return makeError("the linker ", *linker, " wrote no shared object");
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

} // namespace kiln::codegen::cpu
