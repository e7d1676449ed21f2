// labs/semaphores/semaphores_given.cc: the plumbing of semaphores.h that is given, not a task.
//
// Moving and destroying the RAII types are the same in every implementation: they hand the
// semaphore, the mapping or the names over, and release what they held through the functions
// that are yours (Close(), Reset(), the destructors in semaphores.cc). This file is linked into
// both your library and the reference, and the grader always takes it from the pristine tree: do
// not edit it. Partner: semaphores.cc.
#include <string>
#include <utility>

#include "labs/semaphores/semaphores.h"

namespace semaphores {

NamedSemaphore::NamedSemaphore(NamedSemaphore&& other) noexcept
    : sem_(std::exchange(other.sem_, nullptr)), name_(std::move(other.name_)) {}

NamedSemaphore& NamedSemaphore::operator=(NamedSemaphore&& other) noexcept {
  if (this != &other) {
    (void)Close();
    sem_ = std::exchange(other.sem_, nullptr);
    name_ = std::move(other.name_);
  }
  return *this;
}

NamedSemaphore::~NamedSemaphore() { (void)Close(); }

SharedCounter::SharedCounter(SharedCounter&& other) noexcept
    : shared_(std::exchange(other.shared_, nullptr)) {}

SharedCounter& SharedCounter::operator=(SharedCounter&& other) noexcept {
  if (this != &other) {
    this->~SharedCounter();
    shared_ = std::exchange(other.shared_, nullptr);
  }
  return *this;
}

BoundedBuffer::BoundedBuffer(BoundedBuffer&& other) noexcept
    : shared_(std::exchange(other.shared_, nullptr)), capacity_(other.capacity_) {}

BoundedBuffer& BoundedBuffer::operator=(BoundedBuffer&& other) noexcept {
  if (this != &other) {
    this->~BoundedBuffer();
    shared_ = std::exchange(other.shared_, nullptr);
    capacity_ = other.capacity_;
  }
  return *this;
}

Barrier::Barrier(Barrier&& other) noexcept : shared_(std::exchange(other.shared_, nullptr)) {}

Barrier& Barrier::operator=(Barrier&& other) noexcept {
  if (this != &other) {
    this->~Barrier();
    shared_ = std::exchange(other.shared_, nullptr);
  }
  return *this;
}

NamedChannel::NamedChannel(NamedChannel&& other) noexcept
    : mutex_(std::exchange(other.mutex_, nullptr)),
      empty_(std::exchange(other.empty_, nullptr)),
      full_(std::exchange(other.full_, nullptr)),
      shared_(std::exchange(other.shared_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      capacity_(other.capacity_),
      prefix_(std::move(other.prefix_)) {}

NamedChannel& NamedChannel::operator=(NamedChannel&& other) noexcept {
  if (this != &other) {
    Reset();
    mutex_ = std::exchange(other.mutex_, nullptr);
    empty_ = std::exchange(other.empty_, nullptr);
    full_ = std::exchange(other.full_, nullptr);
    shared_ = std::exchange(other.shared_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    capacity_ = other.capacity_;
    prefix_ = std::move(other.prefix_);
  }
  return *this;
}

NamedChannel::~NamedChannel() { Reset(); }

}  // namespace semaphores
