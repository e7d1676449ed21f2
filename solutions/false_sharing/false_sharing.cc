// solutions/false_sharing/false_sharing.cc: the reference implementation of
// labs/false_sharing/false_sharing.h.
//
// Pinned workers released together by a start flag, counting into the packed or the padded
// layout, as threads or as forked processes; a harness that alternates layouts and keeps the
// median ratio; and an SPSC ring between two processes whose hot fields live on separate lines.
// Tests: bazel test //solutions/false_sharing:all //grader/hidden/false_sharing:all
// Benchmark: bazel run -c opt //solutions/false_sharing:bench
#include "labs/false_sharing/false_sharing.h"

#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/affinity.h"
#include "common/process.h"
#include "common/status.h"
#include "common/timing.h"

namespace false_sharing {
namespace {

// How long a waiting side spins (with a pause) before it yields the CPU. The peer is usually
// running on another core and answers within a few hundred nanoseconds; on one CPU it cannot
// run until we yield.
constexpr int kSpinsBeforeYield = 256;

// One step of a wait loop: pause (tells the core we are spinning, and frees the pipeline for
// a hyperthread sibling), and every kSpinsBeforeYield steps give the CPU away.
void Relax(int* spins) {
  if (++*spins < kSpinsBeforeYield) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    return;
  }
  *spins = 0;
  ::sched_yield();  // cannot fail on Linux
}

// Waits until the coordinator stores go. Spinning, not usleep(1): a sleeping worker wakes up
// 50 µs or more after the flag is set, each at a different time (FS3).
void WaitForGo(const StartFlags& flags) {
  int spins = 0;
  // Pairs with the coordinator's release store of go.
  while (flags.go.load(std::memory_order_acquire) == 0) Relax(&spins);
}

// Checks a run's worker CPUs: 1..kMaxWorkers, distinct, and each one this process may use. A CPU
// it may not use is the EINVAL pthread_setaffinity_np would give, reported before anything starts.
absl::Status ValidateCpus(const std::vector<int>& cpus) {
  if (cpus.empty() || cpus.size() > static_cast<size_t>(kMaxWorkers)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a run needs 1 to ", kMaxWorkers, " worker CPUs, got ", cpus.size()));
  }
  if (std::set<int>(cpus.begin(), cpus.end()).size() != cpus.size()) {
    return absl::InvalidArgumentError("a CPU is listed twice: each worker needs its own CPU");
  }
  IPC_ASSIGN_OR_RETURN(std::vector<int> allowed, ipc::AllowedCpus());
  for (int cpu : cpus) {
    if (cpu < 0 || cpu >= CPU_SETSIZE || !std::binary_search(allowed.begin(), allowed.end(), cpu)) {
      return ipc::ErrnoError("pthread_setaffinity_np", absl::StrCat("CPU ", cpu), EINVAL);
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRun(const RunOptions& options) {
  if (options.increments < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("increments must be at least 1, got ", options.increments));
  }
  return ValidateCpus(options.cpus);
}

// One worker's increments. Relaxed order: each counter is written by one worker only and is not
// tied to any other data; the join (threads) or the wait (processes) orders the final read.
void Count(std::atomic<int64_t>* counter, Layout layout, int64_t increments) {
  if (layout == Layout::kThreadLocal) {
    int64_t local = 0;
    for (int64_t n = 0; n < increments; ++n) {
      ++local;
      // Keeps one add per increment (the compiler would fold the loop into one addition), so the
      // comparison with the atomic layouts measures the same number of steps.
      asm volatile("" : "+r"(local));
    }
    counter->store(local, std::memory_order_release);  // the one publish (FS5)
    return;
  }
  for (int64_t n = 0; n < increments; ++n) counter->fetch_add(1, std::memory_order_relaxed);
}

// Everything one worker does once it is pinned: announce, wait, count, record its CPU.
absl::Status WorkAfterPinning(CounterBlock* block, Layout layout, int worker, int64_t increments) {
  IPC_ASSIGN_OR_RETURN(std::atomic<int64_t> * counter, CounterFor(block, layout, worker));
  block->flags.ready.fetch_add(1, std::memory_order_acq_rel);
  WaitForGo(block->flags);
  Count(counter, layout, increments);
  const int cpu = ::sched_getcpu();
  if (cpu == -1) return ipc::ErrnoError("sched_getcpu", "");
  block->ran_on[worker].store(cpu, std::memory_order_relaxed);
  return absl::OkStatus();
}

// Reads the counters and CPUs of a finished run into a RunResult.
absl::StatusOr<RunResult> Collect(CounterBlock* block, const RunOptions& options,
                                  absl::Duration elapsed) {
  RunResult result;
  result.layout = options.layout;
  result.elapsed = elapsed;
  for (size_t i = 0; i < options.cpus.size(); ++i) {
    IPC_ASSIGN_OR_RETURN(std::atomic<int64_t> * counter,
                         CounterFor(block, options.layout, static_cast<int>(i)));
    result.counts.push_back(counter->load(std::memory_order_acquire));
    result.ran_on.push_back(block->ran_on[i].load(std::memory_order_relaxed));
  }
  return result;
}

// The core of CPU `cpu` as (package, core) from sysfs; each CPU its own core where unreadable.
std::pair<long, long> CoreOf(int cpu) {
  const std::string dir = absl::StrCat("/sys/devices/system/cpu/cpu", cpu, "/topology/");
  long package = -1, core = -1;
  std::ifstream(dir + "physical_package_id") >> package;
  std::ifstream(dir + "core_id") >> core;
  if (package < 0 || core < 0) return {-1 - cpu, -1};  // unknown: unique per CPU
  return {package, core};
}

}  // namespace

// Task 1 -----------------------------------------------------------------------------------------


absl::StatusOr<SharedMapping> SharedMapping::Create(size_t bytes) {
  if (bytes == 0) return absl::InvalidArgumentError("a shared mapping needs at least one byte");
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) return ipc::ErrnoError("mmap", absl::StrCat(bytes, " bytes"));  // FS8
  return SharedMapping(data, bytes);
}

void SharedMapping::Reset() {
  if (data_ == nullptr) return;
  // munmap fails only for an address range that was never mapped: a bug, not a condition.
  ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

// Task 2 -----------------------------------------------------------------------------------------

absl::StatusOr<std::atomic<int64_t>*> CounterFor(CounterBlock* block, Layout layout, int worker) {
  if (block == nullptr) return absl::InvalidArgumentError("CounterFor needs a CounterBlock");
  if (worker < 0 || worker >= kMaxWorkers) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker ", worker, " is outside [0, ", kMaxWorkers, ")"));
  }
  if (layout == Layout::kPacked) return &block->packed.count[worker];
  return &block->padded.slot[worker].count;
}

absl::StatusOr<std::vector<int>> WorkerCpus(int max_workers) {
  if (max_workers < 1 || max_workers > kMaxWorkers) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_workers must be in [1, ", kMaxWorkers, "], got ", max_workers));
  }
  IPC_ASSIGN_OR_RETURN(std::vector<int> allowed, ipc::AllowedCpus());
  // First one CPU per physical core, then, if there are not enough cores, the siblings.
  std::vector<int> chosen, siblings;
  std::set<std::pair<long, long>> cores;
  for (int cpu : allowed) {
    (cores.insert(CoreOf(cpu)).second ? chosen : siblings).push_back(cpu);
  }
  chosen.insert(chosen.end(), siblings.begin(), siblings.end());
  chosen.resize(std::min(chosen.size(), static_cast<size_t>(max_workers)));
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

// Task 3 -----------------------------------------------------------------------------------------

absl::StatusOr<RunResult> RunThreads(const RunOptions& options) {
  IPC_RETURN_IF_ERROR(ValidateRun(options));
  IPC_ASSIGN_OR_RETURN(SharedMapping mapping, SharedMapping::CreateFor<CounterBlock>());
  CounterBlock* block = mapping.As<CounterBlock>();
  const size_t workers = options.cpus.size();

  // Phase 1: start the workers; each pins itself and announces itself in `ready`.
  std::vector<absl::Status> status(workers);
  std::vector<std::thread> threads;
  absl::Status started;
  for (size_t i = 0; i < workers; ++i) {
    try {
      threads.emplace_back([&, i] {
        status[i] = ipc::PinThisThread(options.cpus[i]);
        if (!status[i].ok()) {
          block->flags.ready.fetch_add(1,
                                       std::memory_order_acq_rel);  // do not keep Phase 2 waiting
          return;
        }
        status[i] =
            WorkAfterPinning(block, options.layout, static_cast<int>(i), options.increments);
      });
    } catch (const std::system_error& e) {  // pthread_create failed (EAGAIN at the process limit)
      started = ipc::ErrnoError("pthread_create", absl::StrCat("worker ", i), e.code().value());
      break;
    }
  }

  // Phase 2: wait until every started worker is ready, then release them together. Threads that
  // did start are released and joined even when another failed to start.
  int spins = 0;
  while (block->flags.ready.load(std::memory_order_acquire) < threads.size()) Relax(&spins);
  ipc::Stopwatch watch;
  block->flags.go.store(1, std::memory_order_release);  // pairs with WaitForGo's acquire load
  for (std::thread& thread : threads) thread.join();
  const absl::Duration elapsed = watch.Elapsed();

  IPC_RETURN_IF_ERROR(started);
  for (const absl::Status& s : status) IPC_RETURN_IF_ERROR(s);
  return Collect(block, options, elapsed);
}

// Task 4 -----------------------------------------------------------------------------------------

absl::StatusOr<RunResult> RunProcesses(const RunOptions& options) {
  IPC_RETURN_IF_ERROR(ValidateRun(options));
  IPC_ASSIGN_OR_RETURN(SharedMapping mapping, SharedMapping::CreateFor<CounterBlock>());
  CounterBlock* block = mapping.As<CounterBlock>();
  const size_t workers = options.cpus.size();
  const absl::Duration deadline = ipc::MonotonicNow() + options.timeout;

  // Phase 1: fork the workers. A Child that goes out of scope on an error path is killed and
  // reaped, so an early return leaves nothing running.
  std::vector<ipc::Child> children;
  for (size_t i = 0; i < workers; ++i) {
    IPC_ASSIGN_OR_RETURN(ipc::Child child, ipc::Child::Fork([&, i]() -> int {
                           absl::Status s = ipc::PinThisThread(options.cpus[i]);
                           if (s.ok())
                             s = WorkAfterPinning(block, options.layout, static_cast<int>(i),
                                                  options.increments);
                           if (s.ok()) return 0;
                           std::fprintf(stderr, "worker %zu: %s\n", i, s.ToString().c_str());
                           return 1;
                         }));
    children.push_back(std::move(child));
  }

  // Phase 2: wait until all are ready. A worker that dies first never will be: look for dead
  // workers while waiting, so a crash is reported at once instead of at the deadline.
  auto failure = [&](size_t i, const ipc::ExitStatus& exit) {
    return absl::InternalError(
        absl::StrCat("worker ", i, " on CPU ", options.cpus[i], " ", exit.ToString()));
  };
  int spins = 0;
  while (block->flags.ready.load(std::memory_order_acquire) < workers) {
    Relax(&spins);
    if (spins != 0) continue;  // check the children once per yield, not on every spin
    for (size_t i = 0; i < workers; ++i) {
      absl::StatusOr<ipc::ExitStatus> exit = children[i].TryWait();
      if (exit.ok()) return failure(i, *exit);
    }
    if (ipc::MonotonicNow() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("the workers were not ready within ",
                                                      absl::FormatDuration(options.timeout)));
    }
  }

  // Phase 3: release them together and wait for every one of them.
  ipc::Stopwatch watch;
  block->flags.go.store(1, std::memory_order_release);  // pairs with WaitForGo's acquire load
  for (size_t i = 0; i < workers; ++i) {
    IPC_ASSIGN_OR_RETURN(
        ipc::ExitStatus exit,
        children[i].Wait(std::max(deadline - ipc::MonotonicNow(), absl::ZeroDuration())));
    if (exit.kind == ipc::ExitStatus::Kind::kTimedOut) {
      return absl::DeadlineExceededError(
          absl::StrCat("worker ", i, " on CPU ", options.cpus[i], " ", exit.ToString()));
    }
    if (!exit.Succeeded()) return failure(i, exit);
  }
  return Collect(block, options, watch.Elapsed());
}

// Task 5 -----------------------------------------------------------------------------------------

absl::StatusOr<Comparison> CompareLayouts(const CompareOptions& options) {
  if (options.rounds < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a comparison needs at least one round, got ", options.rounds));
  }
  RunOptions run;
  run.cpus = options.cpus;
  run.increments = options.increments;
  auto run_one = [&](Layout layout) -> absl::StatusOr<RunResult> {
    run.layout = layout;
    return options.processes ? RunProcesses(run) : RunThreads(run);
  };

  Comparison comparison;
  for (int round = 0; round < options.rounds; ++round) {
    // Alternate which layout goes first, so that neither always pays for going first (FS3).
    const bool baseline_first = round % 2 == 0;
    std::optional<RunResult> baseline, candidate;
    for (int k = 0; k < 2; ++k) {
      const bool is_baseline = (k == 0) == baseline_first;
      IPC_ASSIGN_OR_RETURN(RunResult result,
                           run_one(is_baseline ? options.baseline : options.candidate));
      (is_baseline ? baseline : candidate) = result;
      comparison.runs.push_back(std::move(result));
    }
    const double base = baseline->ops_per_second();
    comparison.ratios.push_back(base > 0 ? candidate->ops_per_second() / base : 0);
  }
  comparison.median_ratio = ipc::Median(comparison.ratios);
  return comparison;
}

// Task 6 -----------------------------------------------------------------------------------------

namespace {

// The producer: fills slot tail % capacity, then publishes it by storing tail + 1 (release).
// It reads the consumer's head only when its cached copy says the ring is full.
void Produce(RingBlock* ring, uint64_t items) {
  RingControl& c = ring->control;
  uint64_t tail = 0;
  int spins = 0;
  for (uint64_t item = 0; item < items; ++item) {
    while (tail - c.cached_head == kRingCapacity) {
      // Pairs with the consumer's release store of head: the slot it freed is ours to reuse.
      c.cached_head = c.head.load(std::memory_order_acquire);
      if (tail - c.cached_head == kRingCapacity) {
        ++c.full_polls;
        Relax(&spins);
      }
    }
    ring->slots[tail % kRingCapacity] = item;
    ++tail;
    // Publish the slot; pairs with the consumer's acquire load of tail.
    c.tail.store(tail, std::memory_order_release);
    ++c.pushes;
  }
}

// The consumer: the mirror image, summing what it pops into ring->checksum.
void Consume(RingBlock* ring, uint64_t items) {
  RingControl& c = ring->control;
  uint64_t head = 0, sum = 0;
  int spins = 0;
  for (uint64_t n = 0; n < items; ++n) {
    while (head == c.cached_tail) {
      // Pairs with the producer's release store of tail: the slot's contents are visible.
      c.cached_tail = c.tail.load(std::memory_order_acquire);
      if (head == c.cached_tail) {
        ++c.empty_polls;
        Relax(&spins);
      }
    }
    sum += ring->slots[head % kRingCapacity];
    ++head;
    // Hand the slot back; pairs with the producer's acquire load of head.
    c.head.store(head, std::memory_order_release);
    ++c.pops;
  }
  ring->checksum = sum;
}

}  // namespace

absl::StatusOr<RingResult> RunRing(const RingOptions& options) {
  if (options.items == 0) return absl::InvalidArgumentError("a ring run needs at least one item");
  IPC_RETURN_IF_ERROR(ValidateCpus({options.producer_cpu}));
  IPC_RETURN_IF_ERROR(ValidateCpus({options.consumer_cpu}));
  IPC_ASSIGN_OR_RETURN(SharedMapping mapping, SharedMapping::CreateFor<RingBlock>());
  RingBlock* ring = mapping.As<RingBlock>();
  const absl::Duration deadline = ipc::MonotonicNow() + options.timeout;

  // Phase 1: fork both sides; each pins itself, says it is ready and waits for go.
  auto side = [&](int cpu, bool producer) -> std::function<int()> {
    return [=]() -> int {
      absl::Status pinned = ipc::PinThisThread(cpu);
      if (!pinned.ok()) {
        std::fprintf(stderr, "%s: %s\n", producer ? "producer" : "consumer",
                     pinned.ToString().c_str());
        return 1;
      }
      ring->flags.ready.fetch_add(1, std::memory_order_acq_rel);
      WaitForGo(ring->flags);
      producer ? Produce(ring, options.items) : Consume(ring, options.items);
      return 0;
    };
  };
  const char* names[2] = {"producer", "consumer"};
  std::vector<ipc::Child> sides;
  IPC_ASSIGN_OR_RETURN(ipc::Child producer, ipc::Child::Fork(side(options.producer_cpu, true)));
  sides.push_back(std::move(producer));
  IPC_ASSIGN_OR_RETURN(ipc::Child consumer, ipc::Child::Fork(side(options.consumer_cpu, false)));
  sides.push_back(std::move(consumer));

  // Phase 2: wait for both to be ready (noticing one that died), release them, wait for both.
  int spins = 0;
  while (ring->flags.ready.load(std::memory_order_acquire) < 2) {
    Relax(&spins);
    if (spins != 0) continue;
    for (size_t i = 0; i < 2; ++i) {
      absl::StatusOr<ipc::ExitStatus> exit = sides[i].TryWait();
      if (exit.ok())
        return absl::InternalError(absl::StrCat("the ", names[i], " ", exit->ToString()));
    }
    if (ipc::MonotonicNow() > deadline)
      return absl::DeadlineExceededError("the ring's sides were not ready in time");
  }
  ipc::Stopwatch watch;
  ring->flags.go.store(1, std::memory_order_release);  // pairs with WaitForGo's acquire load
  for (size_t i = 0; i < 2; ++i) {
    IPC_ASSIGN_OR_RETURN(
        ipc::ExitStatus exit,
        sides[i].Wait(std::max(deadline - ipc::MonotonicNow(), absl::ZeroDuration())));
    if (exit.kind == ipc::ExitStatus::Kind::kTimedOut) {
      return absl::DeadlineExceededError(absl::StrCat("the ", names[i], " ", exit.ToString()));
    }
    if (!exit.Succeeded())
      return absl::InternalError(absl::StrCat("the ", names[i], " ", exit.ToString()));
  }
  RingResult result;
  result.elapsed = watch.Elapsed();
  result.items = options.items;
  result.checksum = ring->checksum;
  result.pushes = ring->control.pushes;
  result.pops = ring->control.pops;
  return result;
}

}  // namespace false_sharing
