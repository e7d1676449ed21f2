// solutions/semaphores/bench.cc: what a semaphore hand-off costs, POSIX against System V.
//
// Two processes play ping-pong: the parent posts "ping" and waits for "pong", the child waits for
// "ping" and posts "pong", so one iteration is one round trip with two sleeps and two wake-ups.
// Measured over the reference implementation (semaphores.h):
//   - POSIX unnamed semaphores (sem_init pshared=1 in an anonymous shared mapping),
//   - POSIX named semaphores (sem_open; the same futex underneath, so the same speed is expected),
//   - a System V set (semop; every operation is a system call, even when it need not sleep),
//   - BoundedBuffer throughput, one producer and one consumer process, capacity 64 (per item).
// Then it prints the ratios of the times measured in this one run (never absolute numbers: the
// machine is shared). Run:
//   bazel run -c opt //solutions/semaphores:bench
// Partner: labs/semaphores/semaphores.h.
#include <sys/ipc.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <new>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "common/names.h"
#include "common/process.h"
#include "labs/semaphores/semaphores.h"

namespace semaphores {
namespace {

template <typename T>
T* MapShared() {
  void* memory =
      ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  return new (memory) T();
}

template <typename T>
void Unmap(T* shared) {
  shared->~T();
  ::munmap(shared, sizeof(T));
}

struct PingPong {
  sem_t ping;
  sem_t pong;
  std::atomic<bool> stop{false};
};

void Fail(benchmark::State& state, const absl::Status& status) {
  state.SkipWithError(status.ToString().c_str());
}

// Runs the ping-pong loop over two sem_t* (unnamed or named).
void PosixPingPong(benchmark::State& state, sem_t* ping, sem_t* pong, std::atomic<bool>* stop) {
  absl::StatusOr<ipc::Child> child = ipc::Child::Fork([&] {
    for (;;) {
      if (!Wait(ping).ok()) return 1;
      if (stop->load()) return 0;
      if (!Post(pong).ok()) return 1;
    }
  });
  if (!child.ok()) return Fail(state, child.status());
  for (auto _ : state) {
    (void)Post(ping);
    (void)Wait(pong);
  }
  stop->store(true);
  (void)Post(ping);
  (void)child->Wait(absl::Seconds(5));
}

void BM_PosixUnnamedPingPong(benchmark::State& state) {
  PingPong* shared = MapShared<PingPong>();
  if (shared == nullptr) return state.SkipWithError("mmap failed");
  if (absl::Status s = InitShared(&shared->ping, 0); !s.ok()) return Fail(state, s);
  if (absl::Status s = InitShared(&shared->pong, 0); !s.ok()) return Fail(state, s);
  PosixPingPong(state, &shared->ping, &shared->pong, &shared->stop);
  (void)Destroy(&shared->ping);
  (void)Destroy(&shared->pong);
  Unmap(shared);
}
BENCHMARK(BM_PosixUnnamedPingPong)->UseRealTime();

void BM_PosixNamedPingPong(benchmark::State& state) {
  PingPong* shared = MapShared<PingPong>();  // only for the stop flag
  if (shared == nullptr) return state.SkipWithError("mmap failed");
  const std::string ping_name = ipc::UniqueName("bench-ping"),
                    pong_name = ipc::UniqueName("bench-pong");
  absl::StatusOr<NamedSemaphore> ping = NamedSemaphore::Create(ping_name, 0);
  absl::StatusOr<NamedSemaphore> pong = NamedSemaphore::Create(pong_name, 0);
  if (ping.ok() && pong.ok()) {
    PosixPingPong(state, ping->get(), pong->get(), &shared->stop);
  } else {
    Fail(state, ping.ok() ? pong.status() : ping.status());
  }
  (void)NamedSemaphore::Unlink(ping_name);
  (void)NamedSemaphore::Unlink(pong_name);
  Unmap(shared);
}
BENCHMARK(BM_PosixNamedPingPong)->UseRealTime();

void BM_SysvPingPong(benchmark::State& state) {
  PingPong* shared = MapShared<PingPong>();  // only for the stop flag
  if (shared == nullptr) return state.SkipWithError("mmap failed");
  absl::StatusOr<SemSet> set = SemSet::Create(IPC_PRIVATE, {0, 0});
  if (!set.ok()) {
    Unmap(shared);
    return Fail(state, set.status());
  }
  absl::StatusOr<ipc::Child> child = ipc::Child::Fork([&] {
    for (;;) {
      if (!set->Op({{0, -1, 0}}).ok()) return 1;
      if (shared->stop.load()) return 0;
      if (!set->Op({{1, 1, 0}}).ok()) return 1;
    }
  });
  if (child.ok()) {
    for (auto _ : state) {
      (void)set->Op({{0, 1, 0}});
      (void)set->Op({{1, -1, 0}});
    }
    shared->stop.store(true);
    (void)set->Op({{0, 1, 0}});
    (void)child->Wait(absl::Seconds(5));
  } else {
    Fail(state, child.status());
  }
  Unmap(shared);
}
BENCHMARK(BM_SysvPingPong)->UseRealTime();

void BM_BoundedBufferPerItem(benchmark::State& state) {
  PingPong* shared = MapShared<PingPong>();  // only for the stop flag
  if (shared == nullptr) return state.SkipWithError("mmap failed");
  absl::StatusOr<BoundedBuffer> buffer = BoundedBuffer::Create(64);
  if (!buffer.ok()) {
    Unmap(shared);
    return Fail(state, buffer.status());
  }
  absl::StatusOr<ipc::Child> child = ipc::Child::Fork([&] {
    for (uint64_t i = 0; !shared->stop.load(); ++i) {
      if (!buffer->Put(i).ok()) return 1;
    }
    return 0;
  });
  if (child.ok()) {
    for (auto _ : state) benchmark::DoNotOptimize(buffer->Take());
    shared->stop.store(true);
    // Drain until the producer notices the flag (it may be blocked on a full buffer).
    while (!child->TryWait().ok()) (void)buffer->TakeFor(absl::Milliseconds(10));
  } else {
    Fail(state, child.status());
  }
  Unmap(shared);
}
BENCHMARK(BM_BoundedBufferPerItem)->UseRealTime();

// Keeps each benchmark's real time per iteration, to print ratios from this one run.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.iterations > 0) {
        ns_per_iteration_[run.benchmark_name()] = run.GetAdjustedRealTime();  // all in ns
      }
    }
  }
  double Get(const std::string& name) const {
    auto it = ns_per_iteration_.find(name);
    return it == ns_per_iteration_.end() ? 0.0 : it->second;
  }

 private:
  std::map<std::string, double> ns_per_iteration_;
};

}  // namespace
}  // namespace semaphores

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  semaphores::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const double unnamed = reporter.Get("BM_PosixUnnamedPingPong/real_time");
  const double named = reporter.Get("BM_PosixNamedPingPong/real_time");
  const double sysv = reporter.Get("BM_SysvPingPong/real_time");
  const double item = reporter.Get("BM_BoundedBufferPerItem/real_time");
  if (unnamed > 0 && named > 0 && sysv > 0 && item > 0) {
    std::printf("\nRatios measured in this run (same units, lower is faster):\n");
    std::printf("  System V semop round trip / POSIX unnamed round trip: %.2f\n", sysv / unnamed);
    std::printf("  POSIX named round trip    / POSIX unnamed round trip: %.2f\n", named / unnamed);
    std::printf("  BoundedBuffer per item    / POSIX unnamed round trip: %.2f\n", item / unnamed);
  }
  benchmark::Shutdown();
  return 0;
}
