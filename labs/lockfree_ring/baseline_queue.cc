// labs/lockfree_ring/baseline_queue.cc: the mutex-protected queue of baseline_queue.h.
#include "labs/lockfree_ring/baseline_queue.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/timing.h"

namespace lockfree_ring::baseline {
namespace {

std::byte* Slots(MutexQueueHeader* header) {
  return reinterpret_cast<std::byte*>(header) + sizeof(MutexQueueHeader);
}

// Sets up the process-shared mutex and condition variables of a fresh header.
absl::Status InitSync(MutexQueueHeader* header, const std::string& name) {
  pthread_mutexattr_t mutex_attr;
  int rc = ::pthread_mutexattr_init(&mutex_attr);
  if (rc != 0) return ipc::ErrnoError("pthread_mutexattr_init", name, rc);
  rc = ::pthread_mutexattr_setpshared(&mutex_attr, PTHREAD_PROCESS_SHARED);
  if (rc != 0) return ipc::ErrnoError("pthread_mutexattr_setpshared", name, rc);
  rc = ::pthread_mutex_init(&header->mutex, &mutex_attr);
  if (rc != 0) return ipc::ErrnoError("pthread_mutex_init", name, rc);
  rc = ::pthread_mutexattr_destroy(&mutex_attr);
  if (rc != 0) return ipc::ErrnoError("pthread_mutexattr_destroy", name, rc);

  pthread_condattr_t cond_attr;
  rc = ::pthread_condattr_init(&cond_attr);
  if (rc != 0) return ipc::ErrnoError("pthread_condattr_init", name, rc);
  rc = ::pthread_condattr_setpshared(&cond_attr, PTHREAD_PROCESS_SHARED);
  if (rc != 0) return ipc::ErrnoError("pthread_condattr_setpshared", name, rc);
  rc = ::pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC);
  if (rc != 0) return ipc::ErrnoError("pthread_condattr_setclock", name, rc);
  rc = ::pthread_cond_init(&header->not_empty, &cond_attr);
  if (rc != 0) return ipc::ErrnoError("pthread_cond_init", name, rc);
  rc = ::pthread_cond_init(&header->not_full, &cond_attr);
  if (rc != 0) return ipc::ErrnoError("pthread_cond_init", name, rc);
  rc = ::pthread_condattr_destroy(&cond_attr);
  if (rc != 0) return ipc::ErrnoError("pthread_condattr_destroy", name, rc);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MutexQueue> MutexQueue::Create(const std::string& name, uint64_t capacity,
                                              uint64_t slot_size) {
  if (capacity == 0 || (capacity & (capacity - 1)) != 0 || capacity > (uint64_t{1} << 30) ||
      slot_size == 0 || slot_size > 65536) {
    return absl::InvalidArgumentError(absl::StrCat("MutexQueue::Create(", name, "): capacity ",
                                                   capacity, " and slot size ", slot_size));
  }
  const size_t size = sizeof(MutexQueueHeader) + capacity * slot_size;
  int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd == -1) return ipc::ErrnoError("shm_open", name);
  auto fail = [&](absl::Status status) {
    ::close(fd);  // best effort: the status says what went wrong
    ::shm_unlink(name.c_str());
    return status;
  };
  if (::ftruncate(fd, static_cast<off_t>(size)) == -1)
    return fail(ipc::ErrnoError("ftruncate", name));
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return fail(ipc::ErrnoError("mmap", name));
  MutexQueue queue(name, base, size);  // unmaps on the error paths below
  if (::close(fd) == -1) {
    absl::Status status = ipc::ErrnoError("close", name);
    ::shm_unlink(name.c_str());
    return status;
  }
  auto* header = new (base) MutexQueueHeader{};
  header->capacity = capacity;
  header->slot_size = slot_size;
  if (absl::Status status = InitSync(header, name); !status.ok()) {
    ::shm_unlink(name.c_str());
    return status;
  }
  return queue;
}

absl::StatusOr<MutexQueue> MutexQueue::Open(const std::string& name) {
  int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  if (fd == -1) return ipc::ErrnoError("shm_open", name);
  struct stat st;
  if (::fstat(fd, &st) == -1) {
    absl::Status status = ipc::ErrnoError("fstat", name);
    ::close(fd);
    return status;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < sizeof(MutexQueueHeader)) {
    ::close(fd);
    return ipc::ErrnoError("MutexQueue::Open", name, EINVAL);
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    absl::Status status = ipc::ErrnoError("mmap", name);
    ::close(fd);
    return status;
  }
  MutexQueue queue(name, base, size);
  if (::close(fd) == -1) return ipc::ErrnoError("close", name);
  return queue;
}

absl::Status MutexQueue::Unlink(const std::string& name) {
  if (::shm_unlink(name.c_str()) == -1) return ipc::ErrnoError("shm_unlink", name);
  return absl::OkStatus();
}

MutexQueue::MutexQueue(MutexQueue&& other) noexcept
    : name_(std::move(other.name_)),
      header_(std::exchange(other.header_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MutexQueue::~MutexQueue() {
  // munmap fails only for arguments we never pass.
  if (header_ != nullptr) ::munmap(header_, size_);
}

absl::Status MutexQueue::Push(const void* slot, absl::Duration timeout) {
  const struct timespec deadline = ipc::MonotonicDeadlineIn(timeout);
  int rc = ::pthread_mutex_lock(&header_->mutex);
  if (rc != 0) return ipc::ErrnoError("pthread_mutex_lock", name_, rc);
  // header_->mutex is held from here: head, tail and the slots are ours.
  while (header_->head - header_->tail == header_->capacity) {
    rc = ::pthread_cond_timedwait(&header_->not_full, &header_->mutex, &deadline);
    if (rc != 0) {
      ::pthread_mutex_unlock(&header_->mutex);  // cannot fail: we hold it
      return ipc::ErrnoError("pthread_cond_timedwait", name_, rc);
    }
  }
  std::memcpy(Slots(header_) + (header_->head & (header_->capacity - 1)) * header_->slot_size, slot,
              header_->slot_size);
  ++header_->head;
  rc = ::pthread_cond_signal(&header_->not_empty);
  if (rc != 0) {
    ::pthread_mutex_unlock(&header_->mutex);
    return ipc::ErrnoError("pthread_cond_signal", name_, rc);
  }
  rc = ::pthread_mutex_unlock(&header_->mutex);
  if (rc != 0) return ipc::ErrnoError("pthread_mutex_unlock", name_, rc);
  return absl::OkStatus();
}

absl::Status MutexQueue::Pop(void* slot, absl::Duration timeout) {
  const struct timespec deadline = ipc::MonotonicDeadlineIn(timeout);
  int rc = ::pthread_mutex_lock(&header_->mutex);
  if (rc != 0) return ipc::ErrnoError("pthread_mutex_lock", name_, rc);
  while (header_->head == header_->tail) {
    rc = ::pthread_cond_timedwait(&header_->not_empty, &header_->mutex, &deadline);
    if (rc != 0) {
      ::pthread_mutex_unlock(&header_->mutex);
      return ipc::ErrnoError("pthread_cond_timedwait", name_, rc);
    }
  }
  std::memcpy(slot, Slots(header_) + (header_->tail & (header_->capacity - 1)) * header_->slot_size,
              header_->slot_size);
  ++header_->tail;
  rc = ::pthread_cond_signal(&header_->not_full);
  if (rc != 0) {
    ::pthread_mutex_unlock(&header_->mutex);
    return ipc::ErrnoError("pthread_cond_signal", name_, rc);
  }
  rc = ::pthread_mutex_unlock(&header_->mutex);
  if (rc != 0) return ipc::ErrnoError("pthread_mutex_unlock", name_, rc);
  return absl::OkStatus();
}

}  // namespace lockfree_ring::baseline
