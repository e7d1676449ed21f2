// labs/lockfree_ring/baseline_queue.h: the speed baseline, a mutex-protected queue in shared
// memory. Not yours to edit.
//
// The grader times your SlotProducer/SlotConsumer against this queue in the same run, moving the
// same messages between the same two processes (lab.json "speed"); your grade is the ratio. It is
// the textbook design: one process-shared pthread mutex guards head, tail and the slots, and two
// process-shared condition variables put a blocked side to sleep.
//
//   Partner: the Speed* cases of the hidden tests, and //solutions/lockfree_ring:bench.
#ifndef IPC_LABS_LABS_LOCKFREE_RING_BASELINE_QUEUE_H_
#define IPC_LABS_LABS_LOCKFREE_RING_BASELINE_QUEUE_H_

#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lockfree_ring::baseline {

// The shared layout. `mutex` guards every field below it and the slots after the struct.
struct MutexQueueHeader {
  pthread_mutex_t mutex;     // process-shared
  pthread_cond_t not_empty;  // process-shared, CLOCK_MONOTONIC
  pthread_cond_t not_full;   // process-shared, CLOCK_MONOTONIC
  uint64_t capacity;         // slots; a power of two
  uint64_t slot_size;        // bytes
  uint64_t head;             // messages ever pushed
  uint64_t tail;             // messages ever popped
};

// MutexQueue
//
// One process's mapping of the queue. Move-only; the destructor unmaps (Unlink() removes the
// name). Any number of processes may push and pop.
class MutexQueue {
 public:
  // MutexQueue::Create()
  //
  // Creates the shared-memory object `name` (O_EXCL) for `capacity` slots (a power of two) of
  // `slot_size` bytes. Errors: INVALID_ARGUMENT for bad sizes; shm_open's, ftruncate's, mmap's,
  // and pthread_*init's. Nothing is left behind on error.
  static absl::StatusOr<MutexQueue> Create(const std::string& name, uint64_t capacity,
                                           uint64_t slot_size);

  // MutexQueue::Open()
  //
  // Maps the existing queue `name`. Errors: shm_open's (ENOENT), fstat's, mmap's; EINVAL if the
  // object is too small for its header.
  static absl::StatusOr<MutexQueue> Open(const std::string& name);

  // MutexQueue::Unlink()
  //
  // Removes the name. Errors: shm_unlink's.
  static absl::Status Unlink(const std::string& name);

  MutexQueue(MutexQueue&& other) noexcept;
  MutexQueue& operator=(MutexQueue&&) = delete;
  MutexQueue(const MutexQueue&) = delete;
  MutexQueue& operator=(const MutexQueue&) = delete;
  ~MutexQueue();

  // MutexQueue::Push()
  //
  // Copies slot_size bytes from `slot` into the queue, waiting while it is full. Errors:
  // ETIMEDOUT after `timeout`; pthread_* errors.
  absl::Status Push(const void* slot, absl::Duration timeout);

  // MutexQueue::Pop()
  //
  // Copies the oldest message into `slot`, waiting while the queue is empty. Errors: ETIMEDOUT
  // after `timeout`; pthread_* errors.
  absl::Status Pop(void* slot, absl::Duration timeout);

  uint64_t slot_size() const { return header_->slot_size; }

 private:
  MutexQueue(std::string name, void* base, size_t size)
      : name_(std::move(name)), header_(static_cast<MutexQueueHeader*>(base)), size_(size) {}

  std::string name_;
  MutexQueueHeader* header_ = nullptr;  // nullptr when moved from
  size_t size_ = 0;
};

}  // namespace lockfree_ring::baseline

#endif  // IPC_LABS_LABS_LOCKFREE_RING_BASELINE_QUEUE_H_
