// Refusing an output that is one of the inputs. Writing through a temporary
// file and renaming it would still replace the user's input, so every
// command that writes a file checks its output against what it reads.
// Files are compared by device and inode, so any path form that reaches
// the same file (relative, absolute, "./x", "a/../x", a hard link or a
// symbolic link to it) counts as the same.
#pragma once

#include "Result.h"

#include <string>
#include <vector>

namespace kiln {

// True when both paths name existing files and they are the same file.
bool isSameFile(const std::string &a, const std::string &b);

// "<output>: is the input <input>; choose another output" when output is
// input; success when they differ or either does not exist.
Status checkNotInput(const std::string &output, const std::string &input);

// The same against each of several inputs; the first match is reported.
Status checkNotAnyInput(const std::string &output,
                        const std::vector<std::string> &inputs);

} // namespace kiln
