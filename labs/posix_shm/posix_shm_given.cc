// labs/posix_shm/posix_shm_given.cc: the plumbing of posix_shm.h that is given, not a task.
//
// Moving and destroying a SharedRegion are the same in every implementation: they hand the
// mapping, the name and the descriptor over (or release them through Reset(), which is yours, in
// posix_shm.cc). This file is linked into both your library and the reference, and the grader
// always takes it from the pristine tree: do not edit it. Partner: posix_shm.cc (Task 1: Reset).
#include <string>
#include <utility>

#include "labs/posix_shm/posix_shm.h"

namespace posix_shm {

// The moved-from region is left empty: no mapping, no name, no descriptor.
SharedRegion::SharedRegion(SharedRegion&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      name_(std::exchange(other.name_, std::string())),
      fd_(std::move(other.fd_)),
      access_(other.access_) {}

SharedRegion& SharedRegion::operator=(SharedRegion&& other) noexcept {
  if (this != &other) {
    Reset();  // release what this region held before taking the other's
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    name_ = std::exchange(other.name_, std::string());
    fd_ = std::move(other.fd_);
    access_ = other.access_;
  }
  return *this;
}

SharedRegion::~SharedRegion() { Reset(); }

}  // namespace posix_shm
