// common/fd.h: ipc::UniqueFd, the one owner of a file descriptor that labs, solutions and tests
// share (shm_open and memfd descriptors, pipe ends, sockets, epoll sets).
//
// Header-only: it is plumbing, not a lesson. A lab whose contract hands out descriptors names it
// in its own header (posix_shm::ScopedFd is an alias of it). Unit test: common/fd_test.cc
//   bazel test //common:fd_test
#ifndef IPC_LABS_COMMON_FD_H_
#define IPC_LABS_COMMON_FD_H_

#include <unistd.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/status.h"

namespace ipc {

// UniqueFd
//
// Owns one file descriptor and closes it when destroyed. Move-only: copying is deleted, so two
// owners can never close one descriptor twice. A default-constructed or moved-from UniqueFd holds
// -1 and closes nothing. Not thread-safe (like an int).
class UniqueFd {
 public:
  UniqueFd() = default;

  // Takes ownership of `fd` (-1: owns nothing).
  explicit UniqueFd(int fd) : fd_(fd) {}

  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  // UniqueFd::get()
  //
  // The descriptor, still owned by this object; -1 if none.
  int get() const { return fd_; }

  // UniqueFd::valid()
  //
  // True if a descriptor is held.
  bool valid() const { return fd_ >= 0; }

  // UniqueFd::Release()
  //
  // Gives up ownership without closing; returns the descriptor (the caller now closes it).
  [[nodiscard]] int Release() { return std::exchange(fd_, -1); }

  // UniqueFd::Reset()
  //
  // Closes the descriptor, if any, and holds -1 (or `fd`, whose ownership it takes). close()
  // errors are ignored on purpose: on Linux the descriptor is gone even when close fails (EINTR
  // included), so there is nothing to retry or undo. Call Close() where the error matters.
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

  // UniqueFd::Close()
  //
  // Closes the descriptor now and reports close()'s error as ipc::ErrnoError("close", object):
  // for a descriptor whose last close can fail meaningfully (a file written through it, EIO).
  // The descriptor is released even on error. Closing an empty UniqueFd is OK.
  absl::Status Close(absl::string_view object) {
    if (fd_ < 0) return absl::OkStatus();
    if (::close(std::exchange(fd_, -1)) == -1) return ErrnoError("close", object);
    return absl::OkStatus();
  }

 private:
  int fd_ = -1;  // the owned descriptor, or -1
};

}  // namespace ipc

#endif  // IPC_LABS_COMMON_FD_H_
