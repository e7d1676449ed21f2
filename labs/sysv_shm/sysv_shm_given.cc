// labs/sysv_shm/sysv_shm_given.cc: the plumbing of sysv_shm.h that is given, not a task.
//
// Moving and destroying an Attachment (which detach through your Attachment::Detach()), moving a
// Segment, a SharedRing or a MutexBlock, and Segment's two forwarding calls (Attach, Stat) are
// the same in every implementation. Removing an owned Segment when it is destroyed or assigned
// over, and detaching a SharedRing or MutexBlock, stay yours (sysv_shm.cc, Tasks 2, 5 and 6).
// This file is linked into both your library and the reference, and the grader always takes it
// from the pristine tree: do not edit it. Partner: sysv_shm.cc.
#include <utility>

#include "labs/sysv_shm/sysv_shm.h"

namespace sysv_shm {

// The moved-from attachment is left empty: no mapping, id -1.
Attachment::Attachment(Attachment&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      id_(std::exchange(other.id_, -1)),
      read_only_(other.read_only_) {}

Attachment& Attachment::operator=(Attachment&& other) noexcept {
  if (this != &other) {
    (void)Detach();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    id_ = std::exchange(other.id_, -1);
    read_only_ = other.read_only_;
  }
  return *this;
}

Attachment::~Attachment() { (void)Detach(); }

// The moved-from segment is left empty and unowned: its destructor removes nothing.
Segment::Segment(Segment&& other) noexcept
    : id_(std::exchange(other.id_, -1)),
      key_(other.key_),
      size_(other.size_),
      owned_(std::exchange(other.owned_, false)) {}

absl::StatusOr<Attachment> Segment::Attach(Access access) const {
  return Attachment::Attach(id_, access);
}

absl::StatusOr<SegmentInfo> Segment::Stat() const { return StatSegment(id_); }

// The moved-from ring and block are left detached (their destructors, yours, detach nothing).
SharedRing::SharedRing(SharedRing&& other) noexcept
    : id_(std::exchange(other.id_, -1)), ring_(std::exchange(other.ring_, nullptr)) {}

MutexBlock::MutexBlock(MutexBlock&& other) noexcept
    : id_(std::exchange(other.id_, -1)), block_(std::exchange(other.block_, nullptr)) {}

}  // namespace sysv_shm
