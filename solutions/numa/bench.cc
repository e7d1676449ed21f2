// solutions/numa/bench.cc: local against remote memory, as ratios measured in one run (NU6).
//
// A pointer chase through a random cycle of cache lines (latency) and a streaming read
// (bandwidth) over a 256 MiB buffer, far larger than the last-level cache, from a thread bound to
// the first node with CPUs, with the buffer bound first to that node and then to each other node.
// The notes' benchmark timed 1 KiB that stays in L1; this one measures memory. On a machine with
// one node there is nothing to compare and it says so; in an emulated multi-node guest the nodes
// are the same host memory and the ratios mean nothing.
//   bazel run -c opt //solutions/numa:bench        (or: ./labctl bench numa)
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "labs/numa/chase.h"
#include "labs/numa/numa.h"

int main() {
  absl::StatusOr<numa::Topology> topology = numa::ReadTopology();
  if (!topology.ok()) {
    std::printf("no NUMA topology: %s\n", std::string(topology.status().message()).c_str());
    return 1;
  }
  int local = -1;
  std::vector<int> others;
  for (const numa::Node& node : topology->nodes) {
    if (local == -1 && !node.cpus.empty() && node.total_bytes > 0) {
      local = node.id;
    } else if (node.total_bytes > 0) {
      others.push_back(node.id);
    }
  }
  std::printf("%zu NUMA node(s)\n", topology->nodes.size());
  if (local == -1 || others.empty()) {
    std::printf(
        "Only one node with memory: local and remote cannot be compared here. Run this on a "
        "machine with two or more real nodes (numactl --hardware shows them).\n");
    return 0;
  }
  if (absl::Status bound = numa::RunOnNode(local); !bound.ok()) {
    std::printf("RunOnNode(%d): %s\n", local, std::string(bound.message()).c_str());
    return 1;
  }
  constexpr size_t kBytes = size_t{256} << 20;
  auto measure = [&](int node, double* ns, double* gbps) -> bool {
    absl::StatusOr<numa::NodeMemory> memory =
        numa::NodeMemory::Create(kBytes, numa::Policy::kBind, {node});
    if (!memory.ok()) {
      std::printf("node %d: %s\n", node, std::string(memory.status().message()).c_str());
      return false;
    }
    numa::chase::LinkRandomCycle(memory->data(), kBytes);
    *ns = 1e9;
    *gbps = 0;
    for (int round = 0; round < 3; ++round) {
      *ns = std::min(*ns, numa::chase::ChaseNanosPerLoad(memory->data(), 4'000'000));
      *gbps = std::max(*gbps, numa::chase::StreamGigabytesPerSecond(memory->data(), kBytes));
    }
    return true;
  };
  double local_ns = 0, local_gbps = 0;
  if (!measure(local, &local_ns, &local_gbps)) return 1;
  std::printf("thread on node %d, buffer on node %d (local): %.1f ns per load, %.2f GB/s\n", local,
              local, local_ns, local_gbps);
  for (int node : others) {
    double ns = 0, gbps = 0;
    if (!measure(node, &ns, &gbps)) return 1;
    std::printf(
        "thread on node %d, buffer on node %d (distance %d): %.1f ns per load (%.2fx "
        "local), %.2f GB/s (%.2fx local)\n",
        local, node, topology->Find(local)->distances.at(node), ns, ns / local_ns, gbps,
        local_gbps / gbps);
  }
  return 0;
}
