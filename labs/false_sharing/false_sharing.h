// labs/false_sharing/false_sharing.h: the contract of the false sharing lab.
//
// Two cores that write two different variables can still fight over one cache line: the line is
// the unit the caches keep coherent, so each write takes the whole line away from the other core
// ("false sharing"). This lab makes that visible and measures it, in five pieces (the handout,
// README.md, takes them in this order):
//
//   SharedMapping    anonymous MAP_SHARED memory (threads and forked processes both see it);
//                    mmap's MAP_FAILED checked, never used as an address (FS8).
//   the layouts      PackedCounters (the notes' four longs in 32 bytes), PaddedCounters (one line
//                    per counter, alignas(kCacheLineSize)), proven with static_assert below (FS1).
//   WorkerCpus       as many workers as min(cores, 4), each pinned to its own CPU (FS4).
//   RunThreads / RunProcesses   pinned workers released together by a start flag, each
//                    incrementing its own counter; CompareLayouts alternates layouts and reports
//                    the median ratio (FS2, FS3, FS5).
//   RunRing          a single-producer/single-consumer ring between two processes whose hot
//                    fields live on separate lines, against the notes' ring (FS7).
//
// You implement false_sharing.cc; this header, the tests, false_sharing_given.cc (plumbing),
// broken.h/.cc (the notes' code) and baseline.h/.cc (the speed baseline) are fixed. Every failing call reaches the caller as an
// absl::Status made by ipc::ErrnoError (common/status.h), so `mmap("4096 bytes"): Cannot allocate
// memory [ENOMEM]` names the call, the object and the errno. Run the tests with
// `./labctl test false_sharing`.
#ifndef IPC_LABS_LABS_FALSE_SHARING_FALSE_SHARING_H_
#define IPC_LABS_LABS_FALSE_SHARING_FALSE_SHARING_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace false_sharing {

// kCacheLineSize
//
// The distance two independently written variables must keep so that they never share a cache
// line: C++17's std::hardware_destructive_interference_size. It is 64 with g++ on x86-64 (every
// x86 core since the Pentium 4 has 64-byte lines); it is larger where lines are (128 on Apple's
// M-series and IBM POWER), and a compiler may report more than one line to be safe, because the
// adjacent-line prefetcher on some parts pulls lines in pairs (FS1, FS9). The value is fixed
// when the program is compiled, and g++ warns wherever it is used (-Winterference-size): it may
// change with -mtune, so two programs built differently could disagree on a layout they share.
// Here every process of a run comes from one build (threads, or children forked from the test),
// so the warning is silenced for this one line; a layout shared between separately built
// programs should fix its number instead (posix_shm's Mailbox does). The static_asserts below
// hold for any value the compiler picks.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winterference-size"
inline constexpr size_t kCacheLineSize = std::hardware_destructive_interference_size;
#pragma GCC diagnostic pop
#if defined(__x86_64__)
static_assert(kCacheLineSize == 64, "x86-64 lines are 64 bytes");
#endif
static_assert(kCacheLineSize >= 64 && (kCacheLineSize & (kCacheLineSize - 1)) == 0,
              "a cache line is a power of two of at least 64 bytes on every CPU this lab supports");

// kMaxWorkers
//
// The most workers a run uses: the notes' NUM_THREADS (FS4). A run uses min(cores, kMaxWorkers).
inline constexpr int kMaxWorkers = 4;

// ---------------------------------------------------------------------------------------------
// The layouts (FS1, FS2, FS6). They are the contract between the workers and whoever reads the
// counters, so they live here with their layout proven at compile time.

// PackedCounters
//
// The notes' layout (001 §4.1): four atomic longs side by side in one 32-byte struct, one per
// thread. Each counter is written by one worker only, yet all four sit in one cache line, so
// every increment takes the line away from the other cores (false sharing, FS2).
struct PackedCounters {
  std::atomic<int64_t> count[kMaxWorkers];  // count[i]: written by worker i only
};
static_assert(sizeof(PackedCounters) == 32, "the notes' struct: four 8-byte counters, no gaps");
static_assert(offsetof(PackedCounters, count[1]) == 8, "neighbours 8 bytes apart: one line");

// PaddedCounter
//
// One counter that owns a whole cache line: aligned to the line (so it starts one) and padded to
// its size (so the next one starts the next line). The padding is spelled out: nothing else may
// be put there (FS1).
struct alignas(kCacheLineSize) PaddedCounter {
  std::atomic<int64_t> count;                               // written by one worker only
  char pad[kCacheLineSize - sizeof(std::atomic<int64_t>)];  // keeps the line to itself
};
static_assert(alignof(PaddedCounter) == kCacheLineSize, "each counter starts a line");
static_assert(sizeof(PaddedCounter) == kCacheLineSize, "each counter fills its line");

// PaddedCounters
//
// kMaxWorkers PaddedCounters: neighbours exactly one line apart.
struct PaddedCounters {
  PaddedCounter slot[kMaxWorkers];  // slot[i].count: written by worker i only
};
static_assert(offsetof(PaddedCounters, slot[1]) - offsetof(PaddedCounters, slot[0]) ==
                  kCacheLineSize,
              "neighbouring counters one line apart");
static_assert(sizeof(PaddedCounters) == kMaxWorkers * kCacheLineSize);

// StartFlags
//
// How a run releases its workers together. Read-mostly data that every worker polls must not
// share a line with data that workers write (FS6: the notes put their flags right after the
// counter array, inside the counters' line), so the flags start a line of their own.
struct alignas(kCacheLineSize) StartFlags {
  std::atomic<uint32_t> ready;  // each worker adds 1 once it is pinned and waiting
  std::atomic<uint32_t> go;     // the coordinator stores 1 (release) once ready == workers
};
static_assert(sizeof(StartFlags) == kCacheLineSize);

// CounterBlock
//
// Everything a run shares, as it sits in a SharedMapping: the packed counters alone in the first
// line, the padded counters one line each after them, the flags in a line of their own, and the
// CPU each worker finished on (written once per run, so sharing that last line costs nothing).
//
//   line 0        line 1    line 2    line 3    line 4    line 5      line 6
//   +-------------+---------+---------+---------+---------+-----------+-----------+
//   | p0 p1 p2 p3 | slot[0] | slot[1] | slot[2] | slot[3] | ready go  | ran_on[4] |
//   +-------------+---------+---------+---------+---------+-----------+-----------+
//   PackedCounters  PaddedCounters                          StartFlags
struct CounterBlock {
  alignas(kCacheLineSize) PackedCounters packed;  // alone in line 0
  PaddedCounters padded;                          // lines 1..kMaxWorkers
  StartFlags flags;                               // polled by every worker, written once
  alignas(kCacheLineSize) std::atomic<int32_t> ran_on[kMaxWorkers];  // worker i writes [i] once
};
static_assert(offsetof(CounterBlock, padded) == kCacheLineSize);
static_assert(offsetof(CounterBlock, flags) == (1 + kMaxWorkers) * kCacheLineSize);

// Layout
//
// Where a worker keeps its count during a run.
enum class Layout {
  kPacked,       // CounterBlock::packed.count[i], fetch_add per increment (FS2)
  kPadded,       // CounterBlock::padded.slot[i].count, fetch_add per increment (FS1)
  kThreadLocal,  // a local variable per worker, published once at the end to slot[i] (FS5)
};

// LayoutName()
//
// "packed", "padded" or "thread-local".
inline absl::string_view LayoutName(Layout layout) {
  switch (layout) {
    case Layout::kPacked:
      return "packed";
    case Layout::kPadded:
      return "padded";
    case Layout::kThreadLocal:
      return "thread-local";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Task 1: SharedMapping.

// SharedMapping
//
// Anonymous shared memory: mmap(NULL, bytes, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS,
// -1, 0). Zero-filled; threads see it as any memory, and processes forked after Create() share
// the same pages (a write in one is seen by the others). Move-only; the destructor unmaps.
class SharedMapping {
 public:
  // SharedMapping::Create()
  //
  // Maps `bytes` bytes (rounded up to whole pages by the kernel). Errors: INVALID_ARGUMENT for
  // bytes == 0 (checked before any call); mmap's failure as ipc::ErrnoError("mmap",
  // "<bytes> bytes"): ENOMEM when the address space limit (RLIMIT_AS) or memory runs out.
  // mmap reports failure with MAP_FAILED ((void*)-1), never NULL (FS8).
  static absl::StatusOr<SharedMapping> Create(size_t bytes);

  // SharedMapping::CreateFor<T>()
  //
  // Create(sizeof(T)), then constructs a T (value-initialised: zeroes) at the start. T must fit
  // the mapping's alignment (a page). Errors: Create()'s.
  template <typename T>
  static absl::StatusOr<SharedMapping> CreateFor() {
    static_assert(alignof(T) <= 4096, "a mapping is page-aligned");
    absl::StatusOr<SharedMapping> mapping = Create(sizeof(T));
    if (mapping.ok()) new (mapping->data()) T();
    return mapping;
  }

  SharedMapping() = default;
  SharedMapping(SharedMapping&& other) noexcept;
  SharedMapping& operator=(SharedMapping&& other) noexcept;
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  ~SharedMapping();

  // SharedMapping::data()
  //
  // The first byte (page-aligned), or nullptr for an empty (default or moved-from) mapping.
  void* data() const { return data_; }

  // SharedMapping::size()
  //
  // The size asked for in Create() (0 when empty).
  size_t size() const { return size_; }

  // SharedMapping::As<T>()
  //
  // The mapping's start as a T*. Requires sizeof(T) <= size().
  template <typename T>
  T* As() const {
    return static_cast<T*>(data_);
  }

  // SharedMapping::Reset()
  //
  // Unmaps (munmap) and leaves the mapping empty. Pages shared with forked processes stay alive
  // in those processes until they unmap or exit. Does nothing when empty.
  void Reset();

 private:
  SharedMapping(void* data, size_t size) : data_(data), size_(size) {}

  void* data_ = nullptr;  // from mmap; never MAP_FAILED
  size_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Task 2: which counter, which CPU.

// CounterFor()
//
// The counter that worker `worker` increments under `layout`: &block->packed.count[worker] for
// kPacked; &block->padded.slot[worker].count for kPadded and kThreadLocal (where it is written
// once, at the end). Errors: INVALID_ARGUMENT for a null block or a worker outside
// [0, kMaxWorkers).
absl::StatusOr<std::atomic<int64_t>*> CounterFor(CounterBlock* block, Layout layout, int worker);

// WorkerCpus()
//
// The CPUs to pin a run's workers to: min(allowed, max_workers) distinct CPUs from those this
// thread may run on (ipc::AllowedCpus), in increasing order, preferring CPUs on distinct
// physical cores (two hyperthreads of one core share its L1 cache, where false sharing costs
// little): the core of CPU n is the pair (physical_package_id, core_id) in
// /sys/devices/system/cpu/cpuN/topology/; where those files are missing, each CPU is its own
// core. With one allowed CPU the answer is that one CPU: the caller decides what a one-worker
// run can show (FS4: the notes fixed NUM_THREADS at 4 on a 2-vCPU machine). Errors:
// INVALID_ARGUMENT for max_workers outside [1, kMaxWorkers]; ipc::AllowedCpus()'s.
absl::StatusOr<std::vector<int>> WorkerCpus(int max_workers = kMaxWorkers);

// ---------------------------------------------------------------------------------------------
// Task 3 and 4: a run of pinned workers, as threads or as processes.

// RunOptions
//
// One run: one worker per CPU in `cpus`, each incrementing its own counter `increments` times.
struct RunOptions {
  Layout layout = Layout::kPadded;
  std::vector<int> cpus;                       // 1..kMaxWorkers distinct CPUs, e.g. WorkerCpus()
  int64_t increments = 1'000'000;              // per worker, >= 1
  absl::Duration timeout = absl::Seconds(30);  // RunProcesses: the longest it waits for workers
};

// RunResult
//
// What a run did and how long it took.
struct RunResult {
  Layout layout = Layout::kPadded;
  std::vector<int64_t> counts;  // counts[i]: worker i's counter, read after the run
  std::vector<int> ran_on;  // ran_on[i]: the CPU worker i was on when it finished (sched_getcpu)
  absl::Duration elapsed;   // from storing `go` to the last worker's end

  // RunResult::total()
  //
  // The sum of counts.
  int64_t total() const {
    int64_t sum = 0;
    for (int64_t c : counts) sum += c;
    return sum;
  }

  // RunResult::ops_per_second()
  //
  // total() / elapsed; 0 for a zero elapsed time.
  double ops_per_second() const {
    const double seconds = absl::ToDoubleSeconds(elapsed);
    return seconds > 0 ? static_cast<double>(total()) / seconds : 0;
  }
};

// RunThreads()
//
// Runs one thread per CPU of options.cpus, worker i on cpus[i], all sharing one CounterBlock in
// a SharedMapping. Each worker pins itself (ipc::PinThisThread), announces itself in
// flags.ready, waits for flags.go (acquire; spinning, with a yield now and then, never usleep:
// FS3), then increments CounterFor(block, layout, i) `increments` times with
// fetch_add(memory_order_relaxed) (kThreadLocal: adds to a local variable and stores the total
// once, with memory_order_release, at the end), stores sched_getcpu() in block->ran_on[i], and
// returns. The coordinator waits until ready == workers, starts the clock, stores go = 1
// (release), joins every thread, stops the clock, and reads counts and ran_on from the block.
// Every thread is joined on every path. Errors: INVALID_ARGUMENT for an empty `cpus`, more than
// kMaxWorkers, a CPU listed twice, or increments < 1; a CPU this process may not run on (not in
// ipc::AllowedCpus(), or outside [0, CPU_SETSIZE)) is ipc::ErrnoError("pthread_setaffinity_np",
// "CPU <n>", EINVAL), reported before any thread starts; SharedMapping::Create's errors; a
// failed pin inside a worker is that worker's status (the others are released and joined first).
absl::StatusOr<RunResult> RunThreads(const RunOptions& options);

// RunProcesses()
//
// The same run with one forked process per CPU (ipc::Child::Fork) instead of threads: the
// CounterBlock lives in a SharedMapping made before the first fork, so the workers' counters,
// the flags and block->ran_on are the same memory in every process. Each worker does what a
// RunThreads worker does, stores sched_getcpu() in block->ran_on[i] and exits 0. The coordinator
// waits for `ready`, starts the clock, stores go, waits for every worker with ipc::Child::Wait
// and the time left of options.timeout, and stops the clock. Errors: RunThreads's argument
// errors, before any fork; fork's; a worker that does not exit 0 is INTERNAL naming the worker,
// its CPU and its ExitStatus ("worker 1 on CPU 1 killed by signal SIGSEGV"); DEADLINE_EXCEEDED
// when a worker is still running (or not yet ready) at options.timeout. No worker outlives the
// call on any path (ipc::Child kills and reaps what it still owns).
absl::StatusOr<RunResult> RunProcesses(const RunOptions& options);

// ---------------------------------------------------------------------------------------------
// Task 5: the harness (FS3).

// CompareOptions
//
// Rounds of two runs each: the baseline layout and the candidate layout, the same workers.
struct CompareOptions {
  Layout baseline = Layout::kPacked;
  Layout candidate = Layout::kPadded;
  std::vector<int> cpus;           // as RunOptions::cpus
  int64_t increments = 1'000'000;  // per worker per run
  int rounds = 5;                  // >= 1
  bool processes = false;          // RunProcesses instead of RunThreads
};

// Comparison
//
// Every run in the order it ran, and the candidate's speed-up over the baseline.
struct Comparison {
  std::vector<RunResult> runs;  // 2 * rounds runs, in the order they ran
  std::vector<double> ratios;   // per round: candidate ops_per_second / baseline ops_per_second
  double median_ratio = 0;      // ipc::Median(ratios) (common/timing.h)
};

// CompareLayouts()
//
// Runs `rounds` rounds. Round r runs the baseline first when r is even and the candidate first
// when r is odd (the notes always ran the false-sharing variant first, so whatever the first run
// pays, warming caches and waking cores, was charged to one side only: FS3). Each round's ratio
// is candidate ops/s over baseline ops/s; the median of the rounds resists the one round that an
// interrupt or another process spoiled. Errors: INVALID_ARGUMENT for rounds < 1; the runs'
// errors (the first one stops the comparison).
absl::StatusOr<Comparison> CompareLayouts(const CompareOptions& options);

// ---------------------------------------------------------------------------------------------
// Task 6: a ring whose hot fields do not share a line (FS7).

// kRingCapacity
//
// Slots in the ring (a power of two, so an index maps to a slot with a mask).
inline constexpr uint64_t kRingCapacity = 1024;

// RingControl
//
// The ring's indices and statistics, grouped by who writes them: each side's line holds what
// that side writes plus its private copy of the other side's index. Nothing is written by both
// sides, and the number of items is tail - head, never a shared `count` (the notes keep head,
// tail, count and four statistics side by side in one line, and both sides write count: FS7).
struct RingControl {
  // The consumer's line. head pairs with the producer's acquire load of it in its full check.
  alignas(kCacheLineSize) std::atomic<uint64_t> head;  // next item to pop; consumer writes
  uint64_t cached_tail;  // the consumer's last view of tail (consumer only)
  uint64_t pops;         // items popped (consumer only)
  uint64_t empty_polls;  // pops that found the ring empty (consumer only)
  // The producer's line. tail pairs with the consumer's acquire load of it in its empty check.
  alignas(kCacheLineSize) std::atomic<uint64_t> tail;  // next slot to fill; producer writes
  uint64_t cached_head;  // the producer's last view of head (producer only)
  uint64_t pushes;       // items pushed (producer only)
  uint64_t full_polls;   // pushes that found the ring full (producer only)
};
static_assert(offsetof(RingControl, tail) - offsetof(RingControl, head) >= kCacheLineSize,
              "head and tail on separate lines (LR8, FS7)");
static_assert(sizeof(RingControl) == 2 * kCacheLineSize);

// RingBlock
//
// A whole ring as it sits in a SharedMapping.
struct RingBlock {
  RingControl control;
  alignas(kCacheLineSize) uint64_t slots[kRingCapacity];  // slot i % capacity holds item i
  StartFlags flags;                                       // releases both sides together
  alignas(kCacheLineSize) uint64_t checksum;              // the consumer's sum of what it popped
};

// RingOptions
//
// One ring run: the producer pushes 0, 1, ..., items - 1; the consumer pops and sums them.
struct RingOptions {
  int producer_cpu = 0;
  int consumer_cpu = 1;  // may equal producer_cpu on a one-CPU machine
  uint64_t items = 1'000'000;
  absl::Duration timeout = absl::Seconds(30);
};

// RingResult
//
// What a ring run did.
struct RingResult {
  uint64_t items = 0;      // options.items
  uint64_t checksum = 0;   // the consumer's sum: items * (items - 1) / 2 when nothing was lost
  uint64_t pushes = 0;     // control.pushes after the run
  uint64_t pops = 0;       // control.pops after the run
  absl::Duration elapsed;  // from storing go to both sides' end

  // RingResult::items_per_second()
  //
  // items / elapsed; 0 for a zero elapsed time.
  double items_per_second() const {
    const double seconds = absl::ToDoubleSeconds(elapsed);
    return seconds > 0 ? static_cast<double>(items) / seconds : 0;
  }
};

// RunRing()
//
// Forks a producer and a consumer (ipc::Child::Fork), pinned to their CPUs, sharing a RingBlock
// in a SharedMapping and released together by its StartFlags. The producer publishes each item
// with a release store of tail after writing the slot, and reads head (acquire) only when its
// cached copy says the ring is full; the consumer mirrors it. A side that finds the ring full or
// empty spins a little, then yields (sched_yield), so that both sides make progress on one CPU.
// Errors: INVALID_ARGUMENT for items == 0; a CPU this process may not run on is
// ipc::ErrnoError("pthread_setaffinity_np", "CPU <n>", EINVAL) before any fork; fork's; a side
// that does not exit 0 is INTERNAL with its ExitStatus; DEADLINE_EXCEEDED when a side outlives
// options.timeout (both are killed).
absl::StatusOr<RingResult> RunRing(const RingOptions& options);

}  // namespace false_sharing

#endif  // IPC_LABS_LABS_FALSE_SHARING_FALSE_SHARING_H_
