// solutions/posix_shm/posix_shm.cc: the reference implementation of labs/posix_shm/posix_shm.h.
//
// The student's labs/posix_shm/posix_shm.cc has the same functions with TODOs. Tests:
//   bazel test //solutions/posix_shm:all //grader/hidden/posix_shm:all
// Every system call is checked on the next line; every failure is an ipc::ErrnoError that names
// the call and the object; every path that fails after creating an object removes it.
#include "labs/posix_shm/posix_shm.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/status.h"

namespace posix_shm {
namespace {

// The largest size ftruncate accepts (off_t is signed).
constexpr size_t kMaxObjectSize = static_cast<size_t>(std::numeric_limits<off_t>::max());

absl::Status CheckSize(size_t size) {
  if (size == 0) {
    return absl::InvalidArgumentError("a shared memory object needs a size of at least 1 byte");
  }
  if (size > kMaxObjectSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("size ", size, " does not fit in off_t (ftruncate's argument)"));
  }
  return absl::OkStatus();
}

// Checks the size fstat reported against what the caller needs (PS2, PS6).
absl::Status CheckObjectSize(const std::string& what, size_t actual, size_t expected) {
  if (actual == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " has size 0: its creator has not called ftruncate yet, and touching a mapping of "
              "it would raise SIGBUS"));
  }
  if (expected != 0 && actual != expected) {
    return absl::FailedPreconditionError(absl::StrCat(what, " has ", actual,
                                                      " bytes, but the caller expects ", expected,
                                                      ": refusing to map a mismatched object"));
  }
  return absl::OkStatus();
}

// fstat's size of `fd`, as size_t.
absl::StatusOr<size_t> SizeOf(int fd, const std::string& what) {
  struct stat st;
  if (::fstat(fd, &st) == -1) return ipc::ErrnoError("fstat", what);
  return static_cast<size_t>(st.st_size);
}

// mmap of the whole object, MAP_SHARED so that stores reach the object and every other mapping.
absl::StatusOr<std::byte*> MapShared(int fd, size_t size, Access access, const std::string& what) {
  int prot = access == Access::kReadWrite ? PROT_READ | PROT_WRITE : PROT_READ;
  void* p = ::mmap(nullptr, size, prot, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return ipc::ErrnoError("mmap", what);
  return static_cast<std::byte*>(p);
}

// How long to spin before sleeping: a peer on the other core usually answers within a few
// hundred nanoseconds, far less than a futex sleep and wake-up costs.
constexpr int kSpinIterations = 2000;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// FUTEX_WAIT on a word in shared memory (not FUTEX_PRIVATE_FLAG: the waker is another process).
// Returns 0, or -1 with errno (EAGAIN: the word no longer held `expected`; ETIMEDOUT; EINTR).
long FutexWait(std::atomic<uint32_t>* word, uint32_t expected, const timespec* timeout) {
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, timeout,
                   nullptr, 0);
}

long FutexWakeAll(std::atomic<uint32_t>* word) {
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr,
                   nullptr, 0);
}

// Waits until (state & kFullBit) == want_full, or the deadline passes. Returns the state seen
// (loaded with acquire order, pairing with the peer's release in Publish).
absl::StatusOr<uint32_t> WaitForFull(std::atomic<uint32_t>* state, uint32_t want_full,
                                     absl::Duration timeout, const std::string& what) {
  // Phase 1: spin. Cheap when the peer is running right now on the other core.
  for (int i = 0; i < kSpinIterations; ++i) {
    uint32_t s = state->load(std::memory_order_acquire);  // pairs with the peer's exchange
    if ((s & kFullBit) == want_full) return s;
    if (timeout == absl::ZeroDuration()) break;
    CpuRelax();
  }
  // Phase 2: sleep in the kernel. Announce the sleeper with kSleepersBit, so the peer knows it
  // must call FUTEX_WAKE; the kernel re-checks the word before sleeping, so a change made between
  // our load and the futex call is never missed (the call returns EAGAIN instead).
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    uint32_t s = state->load(std::memory_order_acquire);  // pairs with the peer's exchange
    if ((s & kFullBit) == want_full) return s;
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          what, ": the ", want_full ? "message" : "empty slot", " did not come within ",
          absl::FormatDuration(timeout), "; is the ", want_full ? "writer" : "reader",
          " running? (a dead peer ends here instead of hanging)"));
    }
    if ((s & kSleepersBit) == 0 &&
        !state->compare_exchange_weak(s, s | kSleepersBit, std::memory_order_relaxed)) {
      continue;  // the word changed under us: look at it again
    }
    timespec ts = absl::ToTimespec(left);
    if (FutexWait(state, s | kSleepersBit, &ts) == -1) {
      if (errno == EAGAIN || errno == EINTR || errno == ETIMEDOUT) continue;  // re-check
      return ipc::ErrnoError("futex(FUTEX_WAIT)", what);
    }
  }
}

// Stores `new_state` (release: everything written before is visible to whoever acquires it) and
// wakes sleepers if any announced themselves. Only then is a system call made: a reader and a
// writer that keep up with each other exchange messages with plain loads and stores (PS9).
absl::Status Publish(std::atomic<uint32_t>* state, uint32_t new_state, const std::string& what) {
  uint32_t old = state->exchange(new_state, std::memory_order_acq_rel);  // clears kSleepersBit
  if ((old & kSleepersBit) != 0 && FutexWakeAll(state) == -1) {
    return ipc::ErrnoError("futex(FUTEX_WAKE)", what);
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SharedRegion

// Moving and destroying a region are given: labs/posix_shm/posix_shm_given.cc.

void SharedRegion::Reset() {
  // munmap can only fail for arguments we never pass (a range we did not map), so a destructor
  // has nothing to do with its error.
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
  name_.clear();
  fd_.Reset();
}

absl::StatusOr<SharedRegion> SharedRegion::Create(const std::string& name, size_t size,
                                                  const CreateOptions& options) {
  IPC_RETURN_IF_ERROR(ipc::ValidatePosixName(name, "shm_open name"));
  IPC_RETURN_IF_ERROR(CheckSize(size));

  // Phase 1: get a descriptor, and learn whether we created the object. A non-exclusive create
  // still tries O_EXCL first: only the creator may size it and only the creator may remove it on
  // failure. If the object vanishes between the two calls, try again.
  bool created = false;
  ScopedFd fd;
  for (int attempt = 0; !fd.valid(); ++attempt) {
    fd = ScopedFd(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, options.mode));
    if (fd.valid()) {
      created = true;
      break;
    }
    if (errno != EEXIST || options.exclusive) return ipc::ErrnoError("shm_open", name);
    fd = ScopedFd(::shm_open(name.c_str(), O_RDWR, 0));
    if (!fd.valid() && (errno != ENOENT || attempt == 10)) return ipc::ErrnoError("shm_open", name);
  }
  // From here on, a failure must not leave an object we created (and must not remove one we
  // did not create).
  auto fail = [&](absl::Status status) {
    if (created) ::shm_unlink(name.c_str());  // best effort: the original error is what matters
    return status;
  };

  // Phase 2: permissions and size. shm_open applied the umask to the mode; fchmod sets it exactly.
  if (created) {
    if (::fchmod(fd.get(), options.mode) == -1) return fail(ipc::ErrnoError("fchmod", name));
  }
  absl::StatusOr<size_t> actual = SizeOf(fd.get(), name);
  if (!actual.ok()) return fail(actual.status());
  if (*actual == 0) {
    // Ours, or a peer's that has not sized it yet: ftruncate to the same size is harmless if the
    // peer does it too. Without it, touching the mapping raises SIGBUS (PS2).
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) == -1) {
      return fail(ipc::ErrnoError("ftruncate", name));
    }
  } else if (*actual != size) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("shm_open(\"", name, "\"): the existing object has ", *actual,
                     " bytes, not ", size, "; it may be stale: remove it with shm_unlink")));
  }

  // Phase 3: map it.
  absl::StatusOr<std::byte*> data = MapShared(fd.get(), size, Access::kReadWrite, name);
  if (!data.ok()) return fail(data.status());
  return SharedRegion(*data, size, name, std::move(fd), Access::kReadWrite);
}

absl::StatusOr<SharedRegion> SharedRegion::Open(const std::string& name, Access access,
                                                size_t expected_size) {
  IPC_RETURN_IF_ERROR(ipc::ValidatePosixName(name, "shm_open name"));
  ScopedFd fd(::shm_open(name.c_str(), access == Access::kReadWrite ? O_RDWR : O_RDONLY, 0));
  if (!fd.valid()) return ipc::ErrnoError("shm_open", name);
  IPC_ASSIGN_OR_RETURN(size_t size, SizeOf(fd.get(), name));
  IPC_RETURN_IF_ERROR(CheckObjectSize(absl::StrCat("shm object ", name), size, expected_size));
  IPC_ASSIGN_OR_RETURN(std::byte* data, MapShared(fd.get(), size, access, name));
  return SharedRegion(data, size, name, std::move(fd), access);
}

absl::StatusOr<SharedRegion> SharedRegion::CreateAnonymous(const std::string& debug_name,
                                                           size_t size) {
  IPC_RETURN_IF_ERROR(CheckSize(size));
  ScopedFd fd(::memfd_create(debug_name.c_str(), MFD_CLOEXEC));
  if (!fd.valid()) return ipc::ErrnoError("memfd_create", debug_name);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) == -1) {
    return ipc::ErrnoError("ftruncate", absl::StrCat("memfd:", debug_name));
  }
  IPC_ASSIGN_OR_RETURN(std::byte* data, MapShared(fd.get(), size, Access::kReadWrite,
                                                  absl::StrCat("memfd:", debug_name)));
  return SharedRegion(data, size, "", std::move(fd), Access::kReadWrite);
}

absl::StatusOr<SharedRegion> SharedRegion::FromFd(ScopedFd fd, Access access,
                                                  size_t expected_size) {
  if (!fd.valid()) return absl::InvalidArgumentError("FromFd: no descriptor was given");
  const std::string what = absl::StrCat("fd ", fd.get());
  IPC_ASSIGN_OR_RETURN(size_t size, SizeOf(fd.get(), what));
  IPC_RETURN_IF_ERROR(CheckObjectSize(absl::StrCat("the object behind ", what), size, expected_size));
  IPC_ASSIGN_OR_RETURN(std::byte* data, MapShared(fd.get(), size, access, what));
  return SharedRegion(data, size, "", std::move(fd), access);
}

absl::Status SharedRegion::Unlink(const std::string& name) {
  IPC_RETURN_IF_ERROR(ipc::ValidatePosixName(name, "shm_unlink name"));
  if (::shm_unlink(name.c_str()) == -1) return ipc::ErrnoError("shm_unlink", name);
  return absl::OkStatus();
}

absl::Status SharedRegion::Unlink() const {
  if (!valid()) return absl::FailedPreconditionError("Unlink: the region is empty (moved from?)");
  if (name_.empty()) {
    return absl::FailedPreconditionError("Unlink: an anonymous region has no name to remove");
  }
  return Unlink(name_);
}

// ---------------------------------------------------------------------------------------------
// Typed objects

absl::StatusOr<SharedRegion> CreateObjectRegion(const std::string& name, const ObjectLayout& layout,
                                                const void* initial_payload,
                                                const CreateOptions& options) {
  if (layout.payload_size == 0 || layout.payload_align == 0 ||
      layout.payload_align > kObjectPayloadOffset) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CreateObjectRegion(\"", name, "\"): payload size ", layout.payload_size, " alignment ",
        layout.payload_align, " is not supported (size > 0, alignment <= ", kObjectPayloadOffset,
        ")"));
  }
  IPC_ASSIGN_OR_RETURN(SharedRegion region,
                       SharedRegion::Create(name, kObjectPayloadOffset + layout.payload_size, options));
  auto* header = reinterpret_cast<ObjectHeader*>(region.data());
  if (header->magic.load(std::memory_order_acquire) != 0) {
    // Non-exclusive create of an object someone already completed: not ours to overwrite.
    return absl::AlreadyExistsError(absl::StrCat(
        "CreateObjectRegion(\"", name, "\"): the object already exists; open it instead"));
  }
  header->layout_version = layout.version;
  header->payload_size = layout.payload_size;
  if (initial_payload != nullptr) {
    std::memcpy(region.data() + kObjectPayloadOffset, initial_payload, layout.payload_size);
  }
  // Publish: pairs with the acquire load in OpenObjectRegion; an opener that sees the magic sees
  // the header fields and the initial payload too.
  header->magic.store(kObjectMagic, std::memory_order_release);
  return region;
}

absl::StatusOr<SharedRegion> OpenObjectRegion(const std::string& name, const ObjectLayout& layout,
                                              Access access) {
  IPC_ASSIGN_OR_RETURN(SharedRegion region, SharedRegion::Open(name, access));
  const size_t needed = kObjectPayloadOffset + layout.payload_size;
  if (region.size() < needed) {
    return absl::FailedPreconditionError(absl::StrCat(
        "object ", name, " has ", region.size(), " bytes, less than the header and payload (",
        needed, "): it is not an object of this type"));
  }
  const auto* header = reinterpret_cast<const ObjectHeader*>(region.data());
  // Pairs with the release store in CreateObjectRegion.
  uint32_t magic = const_cast<ObjectHeader*>(header)->magic.load(std::memory_order_acquire);
  if (magic != kObjectMagic) {
    return absl::FailedPreconditionError(absl::StrCat(
        "object ", name, " has magic 0x", absl::Hex(magic), " instead of 0x",
        absl::Hex(kObjectMagic), ": it is not a SharedObject, or not finished being created"));
  }
  if (header->layout_version != layout.version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "object ", name, " was created with layout version ", header->layout_version,
        ", this reader expects version ", layout.version, ": rebuild both programs from one header"));
  }
  if (header->payload_size != layout.payload_size || region.size() != needed) {
    return absl::FailedPreconditionError(absl::StrCat(
        "object ", name, " has a payload of ", header->payload_size,
        " bytes, this reader expects ", layout.payload_size, " (same version, different layout?)"));
  }
  return region;
}

// ---------------------------------------------------------------------------------------------
// Mailbox

absl::StatusOr<Mailbox> Mailbox::Attach(const std::string& name) {
  // Whoever comes first creates it (zeros: empty, no sleepers); the other opens it. Read/write
  // for both: the reader clears the flag through this same mapping (PS16).
  IPC_ASSIGN_OR_RETURN(SharedRegion region,
                       SharedRegion::Create(name, kMailboxSize, {.exclusive = false, .mode = 0600}));
  return Mailbox(std::move(region));
}

absl::Status Mailbox::Send(const Message& message, absl::Duration timeout) {
  if (layout_ == nullptr) return absl::FailedPreconditionError("Send: the mailbox is empty");
  const std::string& what = region_.name();
  IPC_ASSIGN_OR_RETURN(uint32_t state, WaitForFull(&layout_->state, 0, timeout, what));
  (void)state;
  // The slot is empty and only this writer fills it: plain stores are safe here, and the
  // release in Publish orders them before the flag.
  layout_->i32 = message.i32;
  layout_->f64 = message.f64;
  return Publish(&layout_->state, kFullBit, what);
}

absl::StatusOr<Message> Mailbox::Receive(absl::Duration timeout) {
  if (layout_ == nullptr) return absl::FailedPreconditionError("Receive: the mailbox is empty");
  const std::string& what = region_.name();
  IPC_ASSIGN_OR_RETURN(uint32_t state, WaitForFull(&layout_->state, kFullBit, timeout, what));
  (void)state;
  // The acquire load in WaitForFull saw kFullBit: the writer's i32 and f64 are visible, and the
  // writer does not touch them until we clear the bit below.
  Message message{layout_->i32, layout_->f64};
  IPC_RETURN_IF_ERROR(Publish(&layout_->state, 0, what));
  return message;
}

// ---------------------------------------------------------------------------------------------
// Descriptor passing

absl::Status SendFd(int socket_fd, int fd) {
  char byte = 'F';  // SCM_RIGHTS needs at least one byte of ordinary data to travel with
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  ssize_t n;
  do {
    n = ::sendmsg(socket_fd, &msg, MSG_NOSIGNAL);
  } while (n == -1 && errno == EINTR);  // interrupted before anything was sent: send again
  if (n == -1) return ipc::ErrnoError("sendmsg", absl::StrCat("SCM_RIGHTS over socket ", socket_fd));
  return absl::OkStatus();
}

absl::StatusOr<ScopedFd> ReceiveFd(int socket_fd) {
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(socket_fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n == -1 && errno == EINTR);  // interrupted before anything arrived: wait again
  if (n == -1) return ipc::ErrnoError("recvmsg", absl::StrCat("socket ", socket_fd));
  // Take ownership of whatever arrived first, so that no descriptor leaks on the error paths.
  ScopedFd received;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
      received = ScopedFd(fd);
    }
  }
  if (n == 0) {
    return absl::UnavailableError(absl::StrCat(
        "recvmsg(socket ", socket_fd, "): the peer closed the socket without sending a descriptor"));
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0 || !received.valid()) {
    return absl::DataLossError(absl::StrCat("recvmsg(socket ", socket_fd,
                                            "): the message did not carry exactly one descriptor"));
  }
  return received;
}

}  // namespace posix_shm
