// labs/false_sharing/baseline.cc: the speed baseline (see baseline.h). Not yours to change.
#include "labs/false_sharing/baseline.h"

#include <sched.h>

#include <memory>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/affinity.h"
#include "common/status.h"
#include "common/timing.h"

namespace false_sharing::baseline {

absl::StatusOr<RunResult> RunPackedPinned(const std::vector<int>& cpus, int64_t increments) {
  if (cpus.empty() || cpus.size() > static_cast<size_t>(kMaxWorkers) || increments < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the baseline needs 1 to ", kMaxWorkers, " CPUs and increments >= 1"));
  }
  auto block = std::make_unique<CounterBlock>();  // aligned new: alignas is honoured
  const size_t workers = cpus.size();
  std::vector<absl::Status> status(workers);
  std::vector<std::thread> threads;
  absl::Status started;
  for (size_t i = 0; i < workers; ++i) {
    try {
      threads.emplace_back([&, i] {
        status[i] = ipc::PinThisThread(cpus[i]);
        block->flags.ready.fetch_add(1, std::memory_order_acq_rel);
        if (!status[i].ok()) return;
        // Pairs with the release store of go below.
        while (block->flags.go.load(std::memory_order_acquire) == 0) ::sched_yield();
        std::atomic<int64_t>& counter = block->packed.count[i];
        // Relaxed: a counter tied to no other data; join() orders the final read.
        for (int64_t n = 0; n < increments; ++n) counter.fetch_add(1, std::memory_order_relaxed);
        block->ran_on[i].store(::sched_getcpu(), std::memory_order_relaxed);
      });
    } catch (const std::system_error& e) {
      started = ipc::ErrnoError("pthread_create", absl::StrCat("worker ", i), e.code().value());
      break;
    }
  }
  while (block->flags.ready.load(std::memory_order_acquire) < threads.size()) ::sched_yield();
  ipc::Stopwatch watch;
  block->flags.go.store(1, std::memory_order_release);
  for (std::thread& thread : threads) thread.join();
  RunResult result;
  result.elapsed = watch.Elapsed();
  result.layout = Layout::kPacked;
  IPC_RETURN_IF_ERROR(started);
  for (const absl::Status& s : status) IPC_RETURN_IF_ERROR(s);
  for (size_t i = 0; i < workers; ++i) {
    result.counts.push_back(block->packed.count[i].load(std::memory_order_relaxed));
    result.ran_on.push_back(block->ran_on[i].load(std::memory_order_relaxed));
  }
  return result;
}

}  // namespace false_sharing::baseline
