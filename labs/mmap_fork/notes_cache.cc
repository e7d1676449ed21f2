// labs/mmap_fork/notes_cache.cc: see notes_cache.h. The bug is on purpose (MF13).
#include "labs/mmap_fork/notes_cache.h"

#include <pthread.h>

#include "common/status.h"

namespace mmap_fork::notes {

absl::Status OpenCacheLikeTheNotes(CacheHeader* header) {
  pthread_rwlockattr_t attr;
  int rc = ::pthread_rwlockattr_init(&attr);
  if (rc != 0) return ipc::ErrnoError("pthread_rwlockattr_init", "notes cache", rc);
  rc = ::pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  // The bug: no check whether another process already initialised (and holds) the lock.
  if (rc == 0) rc = ::pthread_rwlock_init(&header->lock, &attr);
  ::pthread_rwlockattr_destroy(&attr);
  if (rc != 0) return ipc::ErrnoError("pthread_rwlock_init", "notes cache", rc);
  header->init_state.store(2, std::memory_order_release);
  return absl::OkStatus();
}

}  // namespace mmap_fork::notes
