// labs/mmap_fork/notes_cache.h: the course notes' way of opening a shared cache, bug included.
//
// "Find the bug" material for Part 3 (MF13), shipped with the lab and not yours to change: the
// notes (003 §Practical 2) run the cache's initialisation every time a process opens it, and
// that initialisation includes pthread_rwlock_init() on the shared lock. The test
// CacheFindTheBugTest in mmap_fork_test.cc shows what that does to a lock another process holds,
// next to what your SharedCache::Attach() does. Partner: notes_cache.cc.
#ifndef IPC_LABS_LABS_MMAP_FORK_NOTES_CACHE_H_
#define IPC_LABS_LABS_MMAP_FORK_NOTES_CACHE_H_

#include "absl/status/status.h"
#include "labs/mmap_fork/mmap_fork.h"

namespace mmap_fork::notes {

// OpenCacheLikeTheNotes()
//
// Does what the notes do on every open of the cache region at `header`: makes a
// PTHREAD_PROCESS_SHARED rwlock attribute and calls pthread_rwlock_init(&header->lock) again,
// whatever state the lock is in, and marks the region ready. Errors: pthread_rwlockattr_* and
// pthread_rwlock_init's.
absl::Status OpenCacheLikeTheNotes(CacheHeader* header);

}  // namespace mmap_fork::notes

#endif  // IPC_LABS_LABS_MMAP_FORK_NOTES_CACHE_H_
