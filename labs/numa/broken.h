// labs/numa/broken.h: the course notes' NUMA code (001 §3.2), as it was written. Not yours to
// fix.
//
// Each function reproduces a defect the notes shipped and that we observed on the project
// machine (1 node, 2 CPUs). The "find the bug" tests run them next to your code: the notes'
// version misbehaves, deterministically, while yours does not. Explain why in ANSWERS.md; the
// code stays as it is.
//
// Partner files: broken.cc (the code), numa_test.cc (the tests that expose it), README.md
// ("Find the bug").
#ifndef IPC_LABS_LABS_NUMA_BROKEN_H_
#define IPC_LABS_LABS_NUMA_BROKEN_H_

#include <cstddef>
#include <string>
#include <vector>

namespace numa::broken {

// NotesAllocate()
//
// 001 §3.2's allocate_numa_memory(size, node): `if (numa_available()) { mmap; mbind(MPOL_BIND) }
// else { printf("NUMA unsupported\n"); return mmap(...); }`. numa_available() is 0 when NUMA
// works, so a NUMA machine takes the fallback (NU2), and the fallback returns mmap's value as it
// is, MAP_FAILED included, to a caller that only tests NULL (NU5). Appends what it prints to
// `*log` instead of stdout. The caller unmaps `size` bytes.
void* NotesAllocate(size_t size, int node, std::string* log);

// NotesBindWorker()
//
// 001 §3.2's numa_worker: builds a node mask with bit `node` set and passes it to
// numa_sched_setaffinity, which expects a CPU mask: the calling thread is pinned to CPU #node,
// not to the node's CPUs (NU4). Returns numa_sched_setaffinity's result.
int NotesBindWorker(int node);

// NotesNodeIds()
//
// 001 §3.2's main loop: `for (int i = 0; i < num_nodes && i < 4; i++)` with i used as the node
// id, num_nodes = numa_max_node() + 1: assumes the ids are 0..n-1 and stops at 4 (NU7).
std::vector<int> NotesNodeIds();

}  // namespace numa::broken

#endif  // IPC_LABS_LABS_NUMA_BROKEN_H_
