// labs/false_sharing/broken.cc: the course notes' defective patterns (see broken.h). Not yours to
// fix; explain them in ANSWERS.md. The tests in false_sharing_test.cc show each one failing.
//
// Only the marked lines are the notes' defects. The rest (the drivers that fork, pin and time the
// notes' ring) is written the way the lab asks you to write yours, so that a comparison with your
// RunRing() differs in the one thing it is meant to show.
#include "labs/false_sharing/broken.h"

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/affinity.h"
#include "common/process.h"
#include "common/status.h"
#include "common/timing.h"

namespace false_sharing::broken {
namespace {

// The notes' shared struct: the four counters, then the flags, all in one 64-byte line (FS6).
struct NotesCounters {
  PackedCounters counters;
  std::atomic<bool> start;
  std::atomic<bool> stop;
};

void Relax(int* spins) {
  if (++*spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    return;
  }
  *spins = 0;
  ::sched_yield();
}

}  // namespace

CounterBlock* MapCountersUnchecked() {
  void* counters = ::mmap(nullptr, sizeof(CounterBlock), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return static_cast<CounterBlock*>(counters);  // BUG (FS8): MAP_FAILED is never tested
}

absl::StatusOr<NotesHarnessResult> RunNotesHarness(absl::Duration duration) {
  constexpr int kNumThreads = 4;  // BUG (FS4): fixed, whatever the machine has
  static NotesCounters shared;    // the notes' global
  for (auto& c : shared.counters.count) c.store(0);
  shared.start.store(false);
  shared.stop.store(false);

  NotesHarnessResult result;
  result.threads = kNumThreads;
  std::vector<std::thread> threads;
  absl::Status started;
  for (int t = 0; t < kNumThreads; ++t) {
    try {
      // BUG (FS4): never pinned; the scheduler may put two threads on one core, or move them.
      threads.emplace_back([t, &result] {
        while (!shared.start.load()) ::usleep(1);  // BUG (FS3): each wakes 50+ µs late, unevenly
        while (!shared.stop.load()) {              // BUG (FS6): the flag sits in the counters' line
          shared.counters.count[t].fetch_add(1);   // FS2: four counters in one line
        }
        result.ran_on[t] = ::sched_getcpu();
      });
    } catch (const std::system_error& e) {
      started = ipc::ErrnoError("pthread_create", absl::StrCat("thread ", t), e.code().value());
      break;
    }
  }
  ipc::Stopwatch watch;
  shared.start.store(true);
  absl::SleepFor(duration);
  shared.stop.store(true);
  for (std::thread& thread : threads) thread.join();
  result.elapsed = watch.Elapsed();
  IPC_RETURN_IF_ERROR(started);
  for (auto& c : shared.counters.count) result.total += c.load();
  return result;
}

absl::StatusOr<RingResult> RunNotesRing(const RingOptions& options) {
  if (options.items == 0) return absl::InvalidArgumentError("a ring run needs at least one item");
  IPC_ASSIGN_OR_RETURN(std::vector<int> allowed, ipc::AllowedCpus());
  for (int cpu : {options.producer_cpu, options.consumer_cpu}) {
    if (cpu < 0 || cpu >= CPU_SETSIZE || !std::binary_search(allowed.begin(), allowed.end(), cpu)) {
      return ipc::ErrnoError("pthread_setaffinity_np", absl::StrCat("CPU ", cpu), EINVAL);
    }
  }
  void* memory = ::mmap(nullptr, sizeof(NotesRingBlock), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    return ipc::ErrnoError("mmap", absl::StrCat(sizeof(NotesRingBlock), " bytes"));
  }
  struct Unmap {
    void* p;
    ~Unmap() { ::munmap(p, sizeof(NotesRingBlock)); }
  } unmap{memory};
  NotesRingBlock* ring = new (memory) NotesRingBlock();
  const uint64_t items = options.items;

  auto produce = [ring, items] {
    NotesRingControl& c = ring->control;
    int spins = 0;
    for (uint64_t item = 0; item < items; ++item) {
      while (c.count.load(std::memory_order_acquire) == kRingCapacity) {  // reads the shared line
        ++c.full_polls;  // BUG (FS7): the producer's statistics, in the consumer's line
        Relax(&spins);
      }
      const uint64_t tail = c.tail.load(std::memory_order_relaxed);
      ring->slots[tail % kRingCapacity] = item;
      c.tail.store(tail + 1, std::memory_order_relaxed);
      c.count.fetch_add(1, std::memory_order_release);  // BUG (FS7): both sides write count
      ++c.pushes;
    }
  };
  auto consume = [ring, items] {
    NotesRingControl& c = ring->control;
    uint64_t sum = 0;
    int spins = 0;
    for (uint64_t n = 0; n < items; ++n) {
      while (c.count.load(std::memory_order_acquire) == 0) {
        ++c.empty_polls;
        Relax(&spins);
      }
      const uint64_t head = c.head.load(std::memory_order_relaxed);
      sum += ring->slots[head % kRingCapacity];
      c.head.store(head + 1, std::memory_order_relaxed);
      c.count.fetch_sub(1, std::memory_order_release);
      ++c.pops;
    }
    ring->checksum = sum;
  };

  // The driver: the same as RunRing()'s (pinned sides, a start flag, deadlines).
  auto side = [&](int cpu, bool producer) -> std::function<int()> {
    return [=]() -> int {
      absl::Status pinned = ipc::PinThisThread(cpu);
      if (!pinned.ok()) {
        std::fprintf(stderr, "%s\n", pinned.ToString().c_str());
        return 1;
      }
      ring->flags.ready.fetch_add(1, std::memory_order_acq_rel);
      int spins = 0;
      while (ring->flags.go.load(std::memory_order_acquire) == 0) Relax(&spins);
      producer ? produce() : consume();
      return 0;
    };
  };
  const absl::Duration deadline = ipc::MonotonicNow() + options.timeout;
  const char* names[2] = {"producer", "consumer"};
  std::vector<ipc::Child> sides;
  IPC_ASSIGN_OR_RETURN(ipc::Child producer, ipc::Child::Fork(side(options.producer_cpu, true)));
  sides.push_back(std::move(producer));
  IPC_ASSIGN_OR_RETURN(ipc::Child consumer, ipc::Child::Fork(side(options.consumer_cpu, false)));
  sides.push_back(std::move(consumer));
  int spins = 0;
  while (ring->flags.ready.load(std::memory_order_acquire) < 2) {
    Relax(&spins);
    if (spins != 0) continue;
    for (size_t i = 0; i < 2; ++i) {
      absl::StatusOr<ipc::ExitStatus> exit = sides[i].TryWait();
      if (exit.ok())
        return absl::InternalError(absl::StrCat("the ", names[i], " ", exit->ToString()));
    }
    if (ipc::MonotonicNow() > deadline) {
      return absl::DeadlineExceededError("the ring's sides were not ready in time");
    }
  }
  ipc::Stopwatch watch;
  ring->flags.go.store(1, std::memory_order_release);
  for (size_t i = 0; i < 2; ++i) {
    IPC_ASSIGN_OR_RETURN(
        ipc::ExitStatus exit,
        sides[i].Wait(std::max(deadline - ipc::MonotonicNow(), absl::ZeroDuration())));
    if (!exit.Succeeded()) {
      return (exit.kind == ipc::ExitStatus::Kind::kTimedOut
                  ? absl::DeadlineExceededError
                  : absl::InternalError)(absl::StrCat("the ", names[i], " ", exit.ToString()));
    }
  }
  RingResult result;
  result.elapsed = watch.Elapsed();
  result.items = items;
  result.checksum = ring->checksum;
  result.pushes = ring->control.pushes;
  result.pops = ring->control.pops;
  return result;
}

}  // namespace false_sharing::broken
