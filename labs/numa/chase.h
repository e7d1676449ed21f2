// labs/numa/chase.h: measuring memory the way NUMA shows (NU6). Not yours to change.
//
// The notes timed 1 KiB of a 4 MB region, which stays in the L1 cache after the first pass: it
// measures the cache, never the node. These helpers measure memory itself: a buffer far larger
// than the last-level cache, a pointer chase through a random cycle of cache lines (each load
// depends on the one before, so neither out-of-order execution nor the prefetchers can hide the
// latency), and a streaming read for bandwidth. The result is always used, so the compiler
// cannot drop the loads.
//
// Partners: the hidden tests' latency case, solutions/numa/bench.cc.
#ifndef IPC_LABS_LABS_NUMA_CHASE_H_
#define IPC_LABS_LABS_NUMA_CHASE_H_

#include <cstddef>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace numa::chase {

inline constexpr size_t kLine = 64;

// LinkRandomCycle()
//
// Makes the first 8 bytes of every 64-byte line of `buffer` point to the next line of one
// random cycle through all of them (Sattolo's algorithm). Writes every line: call it from the
// thread and under the policy that should place the pages.
inline void LinkRandomCycle(char* buffer, size_t bytes, uint64_t seed = 42) {
  const size_t lines = bytes / kLine;
  std::mt19937_64 random(seed);
  // perm[i] = the i-th line visited: the identity, shuffled into one single cycle.
  std::vector<uint32_t> perm(lines);
  for (size_t i = 0; i < lines; ++i) perm[i] = static_cast<uint32_t>(i);
  for (size_t i = lines - 1; i > 0; --i) {
    std::uniform_int_distribution<size_t> pick(0, i - 1);  // j < i: one single cycle
    std::swap(perm[i], perm[pick(random)]);
  }
  for (size_t i = 0; i < lines; ++i) {
    char* from = buffer + static_cast<size_t>(perm[i]) * kLine;
    char* to = buffer + static_cast<size_t>(perm[(i + 1) % lines]) * kLine;
    *reinterpret_cast<char**>(from) = to;
  }
}

// ChaseNanosPerLoad()
//
// Follows the cycle for `steps` dependent loads; returns nanoseconds per load.
inline double ChaseNanosPerLoad(char* buffer, size_t steps) {
  char* p = buffer;
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < steps; ++i) p = *reinterpret_cast<char**>(p);
  const absl::Duration elapsed = absl::Now() - start;
  // Use the result, so that the loads stay.
  asm volatile("" : : "r"(p) : "memory");
  return absl::ToDoubleNanoseconds(elapsed) / static_cast<double>(steps);
}

// StreamGigabytesPerSecond()
//
// Reads every 8-byte word of `buffer` once; returns GB/s.
inline double StreamGigabytesPerSecond(const char* buffer, size_t bytes) {
  const auto* words = reinterpret_cast<const uint64_t*>(buffer);
  uint64_t sum = 0;
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < bytes / 8; ++i) sum += words[i];
  const absl::Duration elapsed = absl::Now() - start;
  asm volatile("" : : "r"(sum) : "memory");
  return static_cast<double>(bytes) / absl::ToDoubleSeconds(elapsed) / 1e9;
}

}  // namespace numa::chase

#endif  // IPC_LABS_LABS_NUMA_CHASE_H_
