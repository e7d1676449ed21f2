// labs/lockfree_ring/lockfree_ring_given.cc: the plumbing of lockfree_ring.h that is given, not a
// task.
//
// Moving and destroying a SharedRing or a producer/consumer handle, and the SharedRing accessors,
// are the same in every implementation: they hand the mapping and the handle's cached indices
// over, and a handle that goes away (destroyed, or assigned over) marks its side detached through
// internal::DetachSide(), which is yours, in lockfree_ring.cc (task 5). This file is linked into
// both your library and the reference, and the grader always takes it from the pristine tree: do
// not edit it. Partner: lockfree_ring.cc.
#include <sys/mman.h>

#include <string>
#include <utility>

#include "labs/lockfree_ring/lockfree_ring.h"

namespace lockfree_ring {

using internal::DetachSide;

SharedRing::SharedRing(SharedRing&& other) noexcept
    : name_(std::move(other.name_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

SharedRing& SharedRing::operator=(SharedRing&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(base_, size_);
    name_ = std::move(other.name_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SharedRing::~SharedRing() {
  if (base_ != nullptr) ::munmap(base_, size_);
}

std::byte* SharedRing::data() const {
  return static_cast<std::byte*>(base_) + header()->data_offset;
}

RingKind SharedRing::kind() const { return header()->kind; }

uint64_t SharedRing::capacity() const { return header()->capacity; }

uint32_t SharedRing::slot_size() const { return header()->slot_size; }

SlotProducer::SlotProducer(SlotProducer&& other) noexcept
    : header_(std::exchange(other.header_, nullptr)),
      slots_(other.slots_),
      name_(std::move(other.name_)),
      mask_(other.mask_),
      slot_size_(other.slot_size_),
      head_(other.head_),
      cached_tail_(other.cached_tail_),
      stats_(other.stats_) {}

SlotProducer& SlotProducer::operator=(SlotProducer&& other) noexcept {
  if (this != &other) {
    if (header_ != nullptr) DetachSide(&header_->producer_state, &header_->head);
    header_ = std::exchange(other.header_, nullptr);
    slots_ = other.slots_;
    name_ = std::move(other.name_);
    mask_ = other.mask_;
    slot_size_ = other.slot_size_;
    head_ = other.head_;
    cached_tail_ = other.cached_tail_;
    stats_ = other.stats_;
  }
  return *this;
}

SlotProducer::~SlotProducer() {
  if (header_ != nullptr) DetachSide(&header_->producer_state, &header_->head);
}

SlotConsumer::SlotConsumer(SlotConsumer&& other) noexcept
    : header_(std::exchange(other.header_, nullptr)),
      slots_(other.slots_),
      name_(std::move(other.name_)),
      mask_(other.mask_),
      slot_size_(other.slot_size_),
      tail_(other.tail_),
      cached_head_(other.cached_head_),
      stats_(other.stats_) {}

SlotConsumer& SlotConsumer::operator=(SlotConsumer&& other) noexcept {
  if (this != &other) {
    if (header_ != nullptr) DetachSide(&header_->consumer_state, &header_->tail);
    header_ = std::exchange(other.header_, nullptr);
    slots_ = other.slots_;
    name_ = std::move(other.name_);
    mask_ = other.mask_;
    slot_size_ = other.slot_size_;
    tail_ = other.tail_;
    cached_head_ = other.cached_head_;
    stats_ = other.stats_;
  }
  return *this;
}

SlotConsumer::~SlotConsumer() {
  if (header_ != nullptr) DetachSide(&header_->consumer_state, &header_->tail);
}

RecordProducer::RecordProducer(RecordProducer&& other) noexcept
    : header_(std::exchange(other.header_, nullptr)),
      buffer_(other.buffer_),
      name_(std::move(other.name_)),
      mask_(other.mask_),
      head_(other.head_),
      cached_tail_(other.cached_tail_),
      stats_(other.stats_) {}

RecordProducer& RecordProducer::operator=(RecordProducer&& other) noexcept {
  if (this != &other) {
    if (header_ != nullptr) DetachSide(&header_->producer_state, &header_->head);
    header_ = std::exchange(other.header_, nullptr);
    buffer_ = other.buffer_;
    name_ = std::move(other.name_);
    mask_ = other.mask_;
    head_ = other.head_;
    cached_tail_ = other.cached_tail_;
    stats_ = other.stats_;
  }
  return *this;
}

RecordProducer::~RecordProducer() {
  if (header_ != nullptr) DetachSide(&header_->producer_state, &header_->head);
}

RecordConsumer::RecordConsumer(RecordConsumer&& other) noexcept
    : header_(std::exchange(other.header_, nullptr)),
      buffer_(other.buffer_),
      name_(std::move(other.name_)),
      mask_(other.mask_),
      tail_(other.tail_),
      cached_head_(other.cached_head_),
      stats_(other.stats_) {}

RecordConsumer& RecordConsumer::operator=(RecordConsumer&& other) noexcept {
  if (this != &other) {
    if (header_ != nullptr) DetachSide(&header_->consumer_state, &header_->tail);
    header_ = std::exchange(other.header_, nullptr);
    buffer_ = other.buffer_;
    name_ = std::move(other.name_);
    mask_ = other.mask_;
    tail_ = other.tail_;
    cached_head_ = other.cached_head_;
    stats_ = other.stats_;
  }
  return *this;
}

RecordConsumer::~RecordConsumer() {
  if (header_ != nullptr) DetachSide(&header_->consumer_state, &header_->tail);
}


}  // namespace lockfree_ring
