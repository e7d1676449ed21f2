// labs/semaphores/broken.h: two broken patterns from the course notes, shipped on purpose.
//
// "Find the bug" parts of the lab (README.md, ANSWERS.md). Do not fix them: the tests run them to
// show that they fail, then run your semaphores.cc to show that it does not. They compile against
// the contract (semaphores.h) and are linked with your library, but you do not own them; the
// grader always uses this copy. Partner files: broken.cc, broken_pc.cc (a third broken pattern,
// as a program), semaphores_test.cc.
#ifndef IPC_LABS_LABS_SEMAPHORES_BROKEN_H_
#define IPC_LABS_LABS_SEMAPHORES_BROKEN_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "labs/semaphores/semaphores.h"

namespace semaphores::broken {

// NaiveTakeForks()
//
// The textbook dining philosopher that deadlocks: takes the left fork (one semop), calls
// `between_forks` (the tests use it to make every philosopher hold a left fork at the same time,
// which otherwise happens only now and then), then takes the right fork (a second semop). Uses
// SEM_UNDO, so a killed philosopher gives its fork back. Blocks forever once all philosophers
// hold their left fork. Errors: those of SemSet::Op().
absl::Status NaiveTakeForks(SemSet& forks, int seat, const std::function<void()>& between_forks);

// MutexOnlyTransfer()
//
// The "producer/consumer" of notes 003 §4.2 (CURRICULUM SE13): a forked child stores the values
// 1..items, one every `produce_every`, into one shared int guarded by a semaphore of value 1; the
// parent polls that int every `poll_every` under the same semaphore and records a value only when
// it differs from the last one it saw. Mutual exclusion is not a hand-off: nothing makes the
// producer wait for the reader, so a slower reader misses values. Returns the values the parent
// recorded, in order, once the child has exited and its last value was read. Errors: mmap's,
// sem_init's, fork's, and "the producer failed" (INTERNAL) if the child did not exit 0.
absl::StatusOr<std::vector<int>> MutexOnlyTransfer(int items, absl::Duration produce_every,
                                                   absl::Duration poll_every);

}  // namespace semaphores::broken

#endif  // IPC_LABS_LABS_SEMAPHORES_BROKEN_H_
