// labs/numa/broken.cc: the course notes' defective NUMA code (see broken.h). Not yours to fix;
// explain it in ANSWERS.md. The tests in numa_test.cc show each defect.
#include "labs/numa/broken.h"

#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>

#include <algorithm>

namespace numa::broken {

void* NotesAllocate(size_t size, int node, std::string* log) {
  if (numa_available()) {  // BUG (NU2): numa_available() is 0 when NUMA works
    void* ptr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    unsigned long nodemask = 1UL << node;
    mbind(ptr, size, MPOL_BIND, &nodemask, 64, 0);
    return ptr;
  }
  log->append("NUMA unsupported\n");
  // BUG (NU5): MAP_FAILED is returned as is; the caller tests only `ptr == NULL`.
  return mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
}

int NotesBindWorker(int node) {
  struct bitmask* mask = numa_allocate_nodemask();
  numa_bitmask_setbit(mask, node);
  int result = numa_sched_setaffinity(0, mask);  // BUG (NU4): a node mask where CPUs belong
  numa_free_nodemask(mask);
  return result;
}

std::vector<int> NotesNodeIds() {
  std::vector<int> ids;
  const int num_nodes = numa_max_node() + 1;
  for (int i = 0; i < num_nodes && i < 4; i++) ids.push_back(i);  // BUG (NU7): i is not an id
  return ids;
}

}  // namespace numa::broken
