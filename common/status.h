// common/status.h: one way to turn a failed system call into an absl::Status.
//
// Every system call in IPC Labs is checked on the next line, and a failure reaches the user as a
// sentence that names the call, the object and errno's meaning:
//
//   int fd = ::shm_open(name.c_str(), O_RDWR, 0);
//   if (fd == -1) return ipc::ErrnoError("shm_open", name);
//   // -> NOT_FOUND: shm_open("/ring-42"): No such file or directory [ENOENT]
//
// The errno value travels with the status (ErrnoOf), so tests check the exact error, not just
// "it failed".
#ifndef IPC_LABS_COMMON_STATUS_H_
#define IPC_LABS_COMMON_STATUS_H_

#include <cerrno>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ipc {

// ErrnoError()
//
// Returns a non-OK status for a failed call: the code is absl's mapping of `err`
// (ENOENT -> NOT_FOUND, EACCES -> PERMISSION_DENIED, EEXIST -> ALREADY_EXISTS, ...), the message
// is `call("object"): strerror(err) [ENAME]` (`call: ...` when `object` is empty), and `err` is
// attached as a payload that ErrnoOf() reads back. `err` defaults to the current errno; pass it
// explicitly for calls that return the error (pthread_*, posix_spawn) instead of setting errno.
// Requires err != 0.
absl::Status ErrnoError(absl::string_view call, absl::string_view object, int err = errno);

// ErrnoOf()
//
// Returns the errno attached by ErrnoError(), or nullopt for a status made another way (or OK).
std::optional<int> ErrnoOf(const absl::Status& status);

// ErrnoName()
//
// Returns the symbolic name of an errno value ("ENOENT"), or "errno N" when it has none.
std::string ErrnoName(int err);

// WithContext()
//
// Returns `status` with "context: " put before its message, keeping its code and payloads (so
// ErrnoOf still works). Returns OK unchanged.
absl::Status WithContext(const absl::Status& status, absl::string_view context);

}  // namespace ipc

// IPC_RETURN_IF_ERROR(expr): returns the status of `expr` from the enclosing function if it is not
// OK. `expr` is an absl::Status or an absl::StatusOr<T>.
#define IPC_RETURN_IF_ERROR(expr)                                   \
  do {                                                              \
    if (auto ipc_status_ = ::ipc::internal::ToStatus(expr);         \
        !ipc_status_.ok()) {                                        \
      return ipc_status_;                                           \
    }                                                               \
  } while (false)

// IPC_ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on error returns its
// status from the enclosing function, otherwise moves the value into `lhs` (which may declare a
// variable: IPC_ASSIGN_OR_RETURN(auto region, Region::Open(name));).
#define IPC_ASSIGN_OR_RETURN(lhs, expr) \
  IPC_ASSIGN_OR_RETURN_IMPL_(IPC_STATUS_CONCAT_(ipc_statusor_, __LINE__), lhs, expr)

#define IPC_STATUS_CONCAT_INNER_(a, b) a##b
#define IPC_STATUS_CONCAT_(a, b) IPC_STATUS_CONCAT_INNER_(a, b)
#define IPC_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()

namespace ipc::internal {
inline absl::Status ToStatus(absl::Status status) { return status; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& statusor) {
  return statusor.status();
}
}  // namespace ipc::internal

#endif  // IPC_LABS_COMMON_STATUS_H_
