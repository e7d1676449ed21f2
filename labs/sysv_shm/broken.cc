// labs/sysv_shm/broken.cc: the course notes' defective patterns (see broken.h). Not yours to fix;
// explain them in ANSWERS.md. The tests in sysv_shm_test.cc show each one failing.
#include "labs/sysv_shm/broken.h"

#include <semaphore.h>
#include <sys/ipc.h>

#include <algorithm>
#include <cstring>

namespace sysv_shm::broken {

key_t KeyFromPathUnchecked(const std::string& path, int proj_id) {
  return ::ftok(path.c_str(), proj_id);  // BUG (SV2): -1 is returned as if it were a key
}

void UnlockedIncrement(volatile int64_t* counter, const std::function<void()>& between) {
  int64_t value = *counter;  // load
  between();                 // BUG (SV12): another process may load the same value here
  *counter = value + 1;      // store: one of two increments is lost
}

void StartProducerAlwaysInitialising(RingLayout* ring) {
  // BUG (SV9): runs on every start, not only in the process that created the segment.
  ::sem_init(&ring->empty, 1, kRingCapacity);
  ::sem_init(&ring->full, 1, 0);
  ring->head = 0;
  ring->tail = 0;
  ring->count.store(0);
  ring->ready.store(1);
}

void AttachMutexBlockAlwaysInitialising(MutexBlockLayout* block) {
  // BUG (SV15): initialises a mutex that another process may hold right now.
  pthread_mutexattr_t attr;
  ::pthread_mutexattr_init(&attr);
  ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  ::pthread_mutex_init(&block->mutex, &attr);
  ::pthread_mutexattr_destroy(&attr);
  block->ready.store(1);
}

int InitMutexOnlyMailbox(MutexOnlyMailbox* box) {
  pthread_mutexattr_t attr;
  int err = ::pthread_mutexattr_init(&attr);
  if (err != 0) return err;
  err = ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (err == 0) err = ::pthread_mutex_init(&box->mutex, &attr);
  ::pthread_mutexattr_destroy(&attr);
  box->length = 0;
  return err;
}

void MutexOnlyWrite(MutexOnlyMailbox* box, absl::string_view message) {
  ::pthread_mutex_lock(&box->mutex);
  size_t n = std::min(message.size(), kMaxMessage);
  std::memcpy(box->message, message.data(), n);  // BUG (SV14): overwrites an unread message
  box->length = static_cast<uint32_t>(n);
  ::pthread_mutex_unlock(&box->mutex);
}

std::string MutexOnlyRead(MutexOnlyMailbox* box) {
  ::pthread_mutex_lock(&box->mutex);
  std::string message(box->message, box->length);  // BUG (SV14): may read the same one twice
  ::pthread_mutex_unlock(&box->mutex);
  return message;
}

}  // namespace sysv_shm::broken
