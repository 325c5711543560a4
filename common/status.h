// Status and Result<T>: how every module reports failure.
//
// A Status is OK or carries a positive errno plus a human-readable message.
// OK costs nothing (no allocation). Nothing in slotfs throws on the FUSE path;
// exceptions are confined to start-up/config code in tools/.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace slotfs {

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status Ok() { return Status(); }
  // REQUIRES: err > 0 (an errno value).
  static Status Error(int err, std::string message) {
    return Status(err, std::move(message));
  }
  // "context: strerror(err)"; the single place errno becomes a Status.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return code_ == 0; }
  // Positive errno, 0 when OK.
  int code() const { return code_; }
  const std::string& message() const { return message_; }
  // "OK" or "message (ENAME)".
  std::string ToString() const;

 private:
  Status(int code, std::string message)
      : code_(code), message_(std::move(message)) {}

  int code_ = 0;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Status::Error(EINVAL, "Result built from OK");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

// Name of an errno value ("ENOSPC"); "E<n>" when unknown.
std::string ErrnoName(int err);

}  // namespace slotfs

#define SLOTFS_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::slotfs::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

#define SLOTFS_CONCAT_INNER(a, b) a##b
#define SLOTFS_CONCAT(a, b) SLOTFS_CONCAT_INNER(a, b)
#define SLOTFS_ASSIGN_OR_RETURN(lhs, expr)                      \
  auto SLOTFS_CONCAT(_res_, __LINE__) = (expr);                 \
  if (!SLOTFS_CONCAT(_res_, __LINE__).ok())                     \
    return SLOTFS_CONCAT(_res_, __LINE__).status();             \
  lhs = std::move(SLOTFS_CONCAT(_res_, __LINE__)).value()
