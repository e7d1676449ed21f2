// labs/posix_shm/posix_shm.cc: YOUR implementation of posix_shm.h.
//
// Work through the tasks of README.md in order; each TODO(student) below names its task. Until a
// function is written it returns absl::UnimplementedError, so every test fails at once with a
// message that says what to write. Check your work with
//   ./labctl test posix_shm        (or: bazel test //labs/posix_shm:posix_shm_test)
// The contract, with every error code a function must return, is posix_shm.h.
//
// House rules: check every system call on the next line against its own failure value (-1,
// MAP_FAILED) and return ipc::ErrnoError("call", object); remove on every failure path what the
// function created (and nothing else); no sleep() loops.
#include "labs/posix_shm/posix_shm.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/status.h"

namespace posix_shm {

// Moving and destroying a region are given, in posix_shm_given.cc (they call your Reset()).

// Task 1 ------------------------------------------------------------------------------------------

void SharedRegion::Reset() {
  // TODO(student): Task 1: release the mapping (munmap) before forgetting it. Never unlink here.
  data_ = nullptr;
  size_ = 0;
  name_.clear();
  fd_.Reset();
}

absl::StatusOr<SharedRegion> SharedRegion::Create(const std::string& name, size_t size,
                                                  const CreateOptions& options) {
  (void)name, (void)size, (void)options;
  return absl::UnimplementedError(
      "TODO(student): Task 1: SharedRegion::Create: validate the name (ipc::ValidatePosixName) "
      "and size, shm_open with O_CREAT|O_EXCL, fchmod, ftruncate, then mmap MAP_SHARED");
}

absl::StatusOr<SharedRegion> SharedRegion::Open(const std::string& name, Access access,
                                                size_t expected_size) {
  (void)name, (void)access, (void)expected_size;
  return absl::UnimplementedError(
      "TODO(student): Task 1: SharedRegion::Open: shm_open O_RDONLY or O_RDWR, fstat for the "
      "size (check it), mmap with the matching protection");
}

// Task 2 ------------------------------------------------------------------------------------------

absl::Status SharedRegion::Unlink(const std::string& name) {
  (void)name;
  return absl::UnimplementedError(
      "TODO(student): Task 2: SharedRegion::Unlink(name): validate the name, shm_unlink");
}

absl::Status SharedRegion::Unlink() const {
  return absl::UnimplementedError(
      "TODO(student): Task 2: SharedRegion::Unlink(): refuse empty and anonymous regions, "
      "then Unlink(name())");
}

// Task 3 ------------------------------------------------------------------------------------------

absl::StatusOr<SharedRegion> CreateObjectRegion(const std::string& name, const ObjectLayout& layout,
                                                const void* initial_payload,
                                                const CreateOptions& options) {
  (void)name, (void)layout, (void)initial_payload, (void)options;
  return absl::UnimplementedError(
      "TODO(student): Task 3: CreateObjectRegion: create header + payload, fill the header and "
      "the payload, then publish the magic with a release store");
}

absl::StatusOr<SharedRegion> OpenObjectRegion(const std::string& name, const ObjectLayout& layout,
                                              Access access) {
  (void)name, (void)layout, (void)access;
  return absl::UnimplementedError(
      "TODO(student): Task 3: OpenObjectRegion: open, then check size, magic (acquire load), "
      "layout version and payload size before anyone reads the payload");
}

// Task 4 ------------------------------------------------------------------------------------------

absl::StatusOr<Mailbox> Mailbox::Attach(const std::string& name) {
  (void)name;
  return absl::UnimplementedError(
      "TODO(student): Task 4: Mailbox::Attach: open or create the 16-byte mailbox read/write");
}

absl::Status Mailbox::Send(const Message& message, absl::Duration timeout) {
  (void)message, (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): Task 4: Mailbox::Send: wait (spin, then FUTEX_WAIT with a deadline) for "
      "an empty slot, write i32 and f64, set the flag with a release store, wake a sleeper");
}

absl::StatusOr<Message> Mailbox::Receive(absl::Duration timeout) {
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): Task 4: Mailbox::Receive: wait for the flag (acquire), copy the message, "
      "clear the flag through the same mapping (release), wake a sleeper");
}

// Task 5 ------------------------------------------------------------------------------------------

absl::StatusOr<SharedRegion> SharedRegion::CreateAnonymous(const std::string& debug_name,
                                                           size_t size) {
  (void)debug_name, (void)size;
  return absl::UnimplementedError(
      "TODO(student): Task 5: SharedRegion::CreateAnonymous: memfd_create, ftruncate, mmap");
}

absl::StatusOr<SharedRegion> SharedRegion::FromFd(ScopedFd fd, Access access,
                                                  size_t expected_size) {
  (void)fd, (void)access, (void)expected_size;
  return absl::UnimplementedError(
      "TODO(student): Task 5: SharedRegion::FromFd: fstat the descriptor for its size, mmap it");
}

absl::Status SendFd(int socket_fd, int fd) {
  (void)socket_fd, (void)fd;
  return absl::UnimplementedError(
      "TODO(student): Task 5: SendFd: sendmsg with one data byte and an SCM_RIGHTS message");
}

absl::StatusOr<ScopedFd> ReceiveFd(int socket_fd) {
  (void)socket_fd;
  return absl::UnimplementedError(
      "TODO(student): Task 5: ReceiveFd: recvmsg (MSG_CMSG_CLOEXEC), take the SCM_RIGHTS "
      "descriptor; EOF means the peer gave up");
}

}  // namespace posix_shm
