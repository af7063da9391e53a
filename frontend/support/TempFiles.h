// Temporary files that do not outlive the process that made them.
//
// An interrupted command (Ctrl-C, SIGTERM from a job runner, SIGHUP when
// the terminal closes) must not leave a half-written temporary behind: a
// tracked path is unlinked by the signal handler, which then restores the
// default action and re-raises, so the process still ends with the
// signal's status. trackTempFile() installs the handler for SIGINT, SIGTERM
// and SIGHUP wherever the signal's action is the default: a signal the
// parent ignores (nohup, a background job's SIGINT) stays ignored, and a
// handler the program installed itself is left alone.
//
// SIGKILL runs no handler. Temporaries therefore carry the PID of their
// writer (see tempFileTag()), and removeStaleTempFiles() deletes those of
// processes that no longer exist; AtomicFile does so for its target before
// it makes a new temporary.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// Registers a path for removal if a signal ends the process. The handler
// may only call unlink(), so the table is fixed (64 paths of up to 4095
// bytes); a path beyond that is not tracked and the ticket is -1, which
// untrackTempFile() accepts.
int trackTempFile(const std::string &path);
void untrackTempFile(int ticket);

// "<pid>-": the part of a temporary's name that says who wrote it.
std::string tempFileTag();

// In dir, removes every entry named prefix + "<pid>-" + six letters or
// digits (mkstemp's) + suffix that is a regular file owned by this user and
// whose PID is no live process. Returns the names removed; an unreadable
// folder removes nothing.
std::vector<std::string> removeStaleTempFiles(const std::string &dir,
                                              std::string_view prefix,
                                              std::string_view suffix);

} // namespace kiln
