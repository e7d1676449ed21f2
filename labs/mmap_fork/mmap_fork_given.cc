// labs/mmap_fork/mmap_fork_given.cc: the plumbing of mmap_fork.h that is given, not a task.
//
// Moving and destroying a Mapping (munmap), a CounterLock (unlock), a ReadView (move) and a
// MessageLog (a writer that never closed marks its file abandoned and takes the name away, with
// your UnlinkIfOurs()), and SharedCache::RegionBytes, are the same in every implementation. This
// file is linked into both your library and the reference, and the grader always takes it from
// the pristine tree: do not edit it. Partner: mmap_fork.cc.
#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <utility>

#include "labs/mmap_fork/mmap_fork.h"

namespace mmap_fork {

Mapping::Mapping(Mapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      sharing_(other.sharing_) {}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    Unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    sharing_ = other.sharing_;
  }
  return *this;
}

Mapping::~Mapping() { Unmap(); }

void Mapping::Unmap() {
  if (data_ == nullptr) return;
  if (::munmap(data_, size_) == -1) std::perror("munmap");
  data_ = nullptr;
  size_ = 0;
}

CounterLock::CounterLock(CounterLock&& other) noexcept
    : counter_(std::exchange(other.counter_, nullptr)), recovered_(other.recovered_) {}

CounterLock& CounterLock::operator=(CounterLock&& other) noexcept {
  if (this != &other) {
    if (counter_ != nullptr) ::pthread_mutex_unlock(&counter_->mutex);
    counter_ = std::exchange(other.counter_, nullptr);
    recovered_ = other.recovered_;
  }
  return *this;
}

CounterLock::~CounterLock() {
  if (counter_ == nullptr) return;
  int rc = ::pthread_mutex_unlock(&counter_->mutex);
  if (rc != 0) std::fprintf(stderr, "pthread_mutex_unlock(counter): %s\n", std::strerror(rc));
}

size_t SharedCache::RegionBytes(size_t capacity) {
  return sizeof(CacheHeader) + capacity * sizeof(CacheEntry);
}

ReadView::ReadView(ReadView&& other) noexcept : header_(std::exchange(other.header_, nullptr)) {}

MessageLog::MessageLog(MessageLog&& other) noexcept
    : mapping_(std::move(other.mapping_)),
      path_(std::move(other.path_)),
      writer_(other.writer_),
      closed_(other.closed_),
      dev_(other.dev_),
      ino_(other.ino_) {}

MessageLog& MessageLog::operator=(MessageLog&& other) noexcept {
  if (this != &other) {
    MessageLog old(std::move(*this));  // cleans up what this end held when it goes out of scope
    mapping_ = std::move(other.mapping_);
    path_ = std::move(other.path_);
    writer_ = other.writer_;
    closed_ = other.closed_;
    dev_ = other.dev_;
    ino_ = other.ino_;
  }
  return *this;
}

MessageLog::~MessageLog() {
  if (mapping_.data() == nullptr || !writer_ || closed_) return;
  // A writer that never closed (an error path): mark the file abandoned so that no reader takes
  // it from now on, and take the name away.
  uint32_t ready = kLogReady;
  file()->state.compare_exchange_strong(ready, kLogAbandoned, std::memory_order_acq_rel);
  UnlinkIfOurs();
}


}  // namespace mmap_fork
