// labs/semaphores/broken.cc: see broken.h. Deliberately wrong designs, with every call checked, so
// that the only defects are the ones under study. Not student-owned; do not fix.
#include "labs/semaphores/broken.h"

#include <semaphore.h>
#include <sys/mman.h>
#include <unistd.h>

#include <new>

#include "absl/strings/str_cat.h"
#include "common/process.h"
#include "common/status.h"

namespace semaphores::broken {

absl::Status NaiveTakeForks(SemSet& forks, int seat, const std::function<void()>& between_forks) {
  const unsigned short left = static_cast<unsigned short>(seat);
  const unsigned short right = static_cast<unsigned short>((seat + 1) % forks.size());
  // BUG (on purpose): two separate semops. Between them this philosopher holds one fork and waits
  // for the next, which its neighbour holds while waiting for the one after: a cycle of waits.
  absl::Status status = forks.Op({{left, -1, SEM_UNDO}});
  if (!status.ok()) return status;
  between_forks();
  return forks.Op({{right, -1, SEM_UNDO}});
}

namespace {
struct Mailbox {
  sem_t lock;     // value 1: mutual exclusion, and nothing else
  int value = 0;  // guarded by lock
};
}  // namespace

absl::StatusOr<std::vector<int>> MutexOnlyTransfer(int items, absl::Duration produce_every,
                                                   absl::Duration poll_every) {
  void* memory =
      ::mmap(nullptr, sizeof(Mailbox), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return ipc::ErrnoError("mmap", "mailbox");
  Mailbox* box = new (memory) Mailbox();
  if (::sem_init(&box->lock, 1, 1) == -1) {
    absl::Status status = ipc::ErrnoError("sem_init", "mailbox lock");
    ::munmap(memory, sizeof(Mailbox));
    return status;
  }
  auto cleanup = [&] {
    ::sem_destroy(&box->lock);
    ::munmap(memory, sizeof(Mailbox));
  };

  absl::StatusOr<ipc::Child> producer = ipc::Child::Fork([&] {
    for (int i = 1; i <= items; ++i) {
      absl::SleepFor(produce_every);
      while (::sem_wait(&box->lock) == -1) {
        if (errno != EINTR) return 1;
      }
      box->value = i;  // BUG (on purpose): overwrites a value the reader may not have seen yet
      if (::sem_post(&box->lock) == -1) return 1;
    }
    return 0;
  });
  if (!producer.ok()) {
    cleanup();
    return producer.status();
  }

  std::vector<int> seen;
  bool producer_done = false;
  for (;;) {
    absl::SleepFor(poll_every);
    // Read whether the producer has finished before reading the value: once it has, the value we
    // read next is its last one, and we can stop after it.
    if (!producer_done) {
      absl::StatusOr<ipc::ExitStatus> exit = producer->TryWait();
      if (exit.ok()) {
        if (!exit->Succeeded()) {
          cleanup();
          return absl::InternalError(absl::StrCat("the producer failed: ", exit->ToString()));
        }
        producer_done = true;
      }
    }
    while (::sem_wait(&box->lock) == -1) {
      if (errno != EINTR) {
        absl::Status status = ipc::ErrnoError("sem_wait", "mailbox lock");
        cleanup();
        return status;
      }
    }
    int value = box->value;
    if (::sem_post(&box->lock) == -1) {
      absl::Status status = ipc::ErrnoError("sem_post", "mailbox lock");
      cleanup();
      return status;
    }
    if (value != 0 && (seen.empty() || seen.back() != value)) seen.push_back(value);
    if (producer_done) break;
  }
  cleanup();
  return seen;
}

}  // namespace semaphores::broken
