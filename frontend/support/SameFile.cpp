#include "SameFile.h"

#include <sys/stat.h>

namespace kiln {

bool isSameFile(const std::string &a, const std::string &b) {
  struct stat first {}, second {};
  if (::stat(a.c_str(), &first) != 0 || ::stat(b.c_str(), &second) != 0)
    return false;
  return first.st_dev == second.st_dev && first.st_ino == second.st_ino;
}

Status checkNotInput(const std::string &output, const std::string &input) {
  if (isSameFile(output, input))
    return makeError(output, ": is the input ", input,
                     "; choose another output");
  return Status::success();
}

Status checkNotAnyInput(const std::string &output,
                        const std::vector<std::string> &inputs) {
  for (const std::string &input : inputs)
    KILN_TRY(checkNotInput(output, input));
  return Status::success();
}

} // namespace kiln
