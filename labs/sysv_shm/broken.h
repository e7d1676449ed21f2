// labs/sysv_shm/broken.h: the course notes' patterns, as they were written. Not yours to fix.
//
// Each function here reproduces a defect that the notes (001 §1.2, 003 §3.1, §4.1, 002 §Problem)
// shipped and that we observed on the project machine. The "find the bug" tests run them next to
// your code: the broken version must misbehave, deterministically, while yours does not. Your
// job is to explain why in ANSWERS.md; the code stays as it is.
//
// Partner files: broken.cc (the code), sysv_shm_test.cc (the tests that expose it), README.md
// ("Find the bug").
#ifndef IPC_LABS_LABS_SYSV_SHM_BROKEN_H_
#define IPC_LABS_LABS_SYSV_SHM_BROKEN_H_

#include <pthread.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "labs/sysv_shm/sysv_shm.h"

namespace sysv_shm::broken {

// KeyFromPathUnchecked()
//
// 003 §3.1/§4.1: `key_t key = ftok("/tmp/msgq", 65);` and straight on to shmget/msgget. Returns
// ftok's value as it is, including its failure value -1 (SV2).
key_t KeyFromPathUnchecked(const std::string& path, int proj_id);

// UnlockedIncrement()
//
// 002 §Problem, 003 §4.1 "dangerous code": `counter = counter + 1` on shared memory without a
// lock, written out as the load and the store the CPU really does, with `between` called in the
// middle (a test uses it to make two processes interleave at the worst moment; SV12).
void UnlockedIncrement(volatile int64_t* counter, const std::function<void()>& between);

// StartProducerAlwaysInitialising()
//
// 001 §1.2's producer start-up: the comment says "only the first process initialises", the code
// runs sem_init(empty, 1, 1024), sem_init(full, 1, 0) and zeroes head, tail and count every time
// a producer starts, on a ring that may be full of items (SV9).
void StartProducerAlwaysInitialising(RingLayout* ring);

// AttachMutexBlockAlwaysInitialising()
//
// 003 §4.1's start-up: shmget/shmat unchecked, then pthread_mutex_init(PROCESS_SHARED) on the
// segment whether or not another process created it and holds the lock (SV15).
void AttachMutexBlockAlwaysInitialising(MutexBlockLayout* block);

// MutexOnlyMailbox
//
// 003 §4.1's "channel": a message slot guarded by a process-shared mutex and nothing else. The
// writer locks, overwrites, unlocks; the reader locks, copies whatever is there, unlocks. Mutual
// exclusion, but no hand-off (SV14).
struct MutexOnlyMailbox {
  pthread_mutex_t mutex;
  uint32_t length;
  char message[kMaxMessage];
};

// Initialises `box` (process-shared mutex, empty message). Returns pthread's error or 0.
int InitMutexOnlyMailbox(MutexOnlyMailbox* box);

// The writer's and the reader's halves, exactly as 003 §4.1 does them.
void MutexOnlyWrite(MutexOnlyMailbox* box, absl::string_view message);
std::string MutexOnlyRead(MutexOnlyMailbox* box);

}  // namespace sysv_shm::broken

#endif  // IPC_LABS_LABS_SYSV_SHM_BROKEN_H_
