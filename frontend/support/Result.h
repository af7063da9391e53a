// Result<T> and Status: the error channel of the frontend and the runtime.
//
// These rooms must not depend on LLVM, so they cannot use llvm::Expected.
// An error is a message that already names the file, the field and the
// problem; callers add context by prefixing, never by wrapping types.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace kiln {

struct Error {
  std::string message;
};

// Builds an Error from pieces, e.g. makeError("file.gguf: key '", k, "' ...").
template <typename... Parts>
Error makeError(Parts &&...parts) {
  std::string message;
  (message.append(std::forward<Parts>(parts)), ...);
  return Error{std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
public:
  Result(T value) : storage_(std::move(value)) {}
  Result(Error error) : storage_(std::move(error)) {}

  bool ok() const { return storage_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T &value() & {
    assert(ok());
    return std::get<0>(storage_);
  }
  const T &value() const & {
    assert(ok());
    return std::get<0>(storage_);
  }
  T &&value() && {
    assert(ok());
    return std::get<0>(std::move(storage_));
  }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

  const Error &error() const {
    assert(!ok());
    return std::get<1>(storage_);
  }
  Error takeError() && {
    assert(!ok());
    return std::get<1>(std::move(storage_));
  }

private:
  std::variant<T, Error> storage_;
};

// Success or an error message.
class [[nodiscard]] Status {
public:
  Status() = default;
  Status(Error error) : error_(std::move(error.message)), failed_(true) {}
  static Status success() { return Status(); }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string &message() const { return error_; }
  Error takeError() && { return Error{std::move(error_)}; }

private:
  std::string error_;
  bool failed_ = false;
};

} // namespace kiln

// Propagates a failed Status or Result from the enclosing function.
#define KILN_TRY(expr)                                                         \
  do {                                                                         \
    auto &&kilnTryValue_ = (expr);                                             \
    if (!kilnTryValue_.ok())                                                   \
      return std::move(kilnTryValue_).takeError();                             \
  } while (0)
