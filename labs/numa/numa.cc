// labs/numa/numa.cc: YOUR implementation of numa.h.
//
// Work through the tasks of README.md in order; each TODO(student) below names its task. Until a
// function is written it returns absl::UnimplementedError, so every test fails at once with a
// message that says what to write. Check your work with
//   ./labctl test numa        (or: bazel test //labs/numa:numa_test)
// The contract, with every error a function must return, is numa.h.
//
// House rules: check every call on the next line against its own failure value (-1 for the
// system calls, MAP_FAILED for mmap, NULL for numa_alloc_onnode) and return
// ipc::ErrnoError("call", object); set a policy before the first touch; remove on every failure
// path what the function created.
#include "labs/numa/numa.h"

#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace numa {

// Task 1 -----------------------------------------------------------------------------------------

absl::Status CheckNumaAvailable() {
  // TODO(student): Task 1: numa_available() returns 0 when NUMA works (NU2).
  return absl::UnimplementedError("TODO(student): Task 1: CheckNumaAvailable (numa_available)");
}

absl::StatusOr<Topology> ReadTopology() {
  // TODO(student): Task 1: the nodes of numa_nodes_ptr, with CPUs, sizes and distances.
  return absl::UnimplementedError("TODO(student): Task 1: ReadTopology (libnuma)");
}

absl::StatusOr<Topology> ReadSysfsTopology(const std::string& root) {
  // TODO(student): Task 1: nodeN directories under root: cpulist, meminfo, distance.
  (void)root;
  return absl::UnimplementedError(
      "TODO(student): Task 1: ReadSysfsTopology (/sys/devices/system/node)");
}

// Task 2 -----------------------------------------------------------------------------------------
// Moving, unmapping and counting pages are given (numa_given.cc), and so is PolicyName().

void NodeMemory::Touch() {
  // TODO(student): Task 2: write one byte of every page (volatile), in order.
}

absl::Status NodeMemory::Unlink() {
  // TODO(student): Task 2: shm_unlink the object's name.
  return absl::UnimplementedError("TODO(student): Task 2: NodeMemory::Unlink (shm_unlink)");
}

absl::StatusOr<NodeMemory> NodeMemory::Create(size_t bytes, Policy policy, std::vector<int> nodes) {
  // TODO(student): Task 2: check the arguments, mmap MAP_SHARED|MAP_ANONYMOUS (check
  // MAP_FAILED), then mbind before any page is touched (NU3).
  (void)bytes;
  (void)policy;
  (void)nodes;
  return absl::UnimplementedError("TODO(student): Task 2: NodeMemory::Create (mmap, then mbind)");
}

absl::StatusOr<NodeMemory> NodeMemory::CreateShm(const std::string& name, size_t bytes,
                                                 Policy policy, std::vector<int> nodes) {
  // TODO(student): Task 2: shm_open O_CREAT|O_EXCL, ftruncate, mmap, mbind; unlink on errors.
  (void)name;
  (void)bytes;
  (void)policy;
  (void)nodes;
  return absl::UnimplementedError(
      "TODO(student): Task 2: NodeMemory::CreateShm (a shared memory object with a policy)");
}

absl::StatusOr<NodeMemory> NodeMemory::OpenShm(const std::string& name) {
  // TODO(student): Task 2: shm_open O_RDWR, fstat, mmap at the full size.
  (void)name;
  return absl::UnimplementedError("TODO(student): Task 2: NodeMemory::OpenShm");
}

absl::StatusOr<NodeMemory> AllocateNear(size_t bytes, int node, Availability availability) {
  // TODO(student): Task 2: bind where NUMA works (numa_available() == 0), else the fallback
  // with its mmap checked (NU2, NU5).
  (void)bytes;
  (void)node;
  (void)availability;
  return absl::UnimplementedError(
      "TODO(student): Task 2: AllocateNear (the notes' function, right)");
}

// Task 3 -----------------------------------------------------------------------------------------

absl::StatusOr<std::vector<int>> PageNodes(const void* addr, size_t bytes) {
  // TODO(student): Task 3: move_pages with nodes = NULL: one status per page.
  (void)addr;
  (void)bytes;
  return absl::UnimplementedError("TODO(student): Task 3: PageNodes (move_pages as a query)");
}

absl::StatusOr<int> NodeOfAddress(const void* addr) {
  // TODO(student): Task 3: get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR).
  (void)addr;
  return absl::UnimplementedError("TODO(student): Task 3: NodeOfAddress (get_mempolicy)");
}

absl::StatusOr<PolicyAt> PolicyOf(const void* addr) {
  // TODO(student): Task 3: get_mempolicy(MPOL_F_ADDR) with a node mask, decoded.
  (void)addr;
  return absl::UnimplementedError("TODO(student): Task 3: PolicyOf (get_mempolicy MPOL_F_ADDR)");
}

absl::StatusOr<NumaMapsEntry> NumaMapsFor(const void* start) {
  // TODO(student): Task 3: the /proc/self/numa_maps line that starts at `start`.
  (void)start;
  return absl::UnimplementedError("TODO(student): Task 3: NumaMapsFor (/proc/self/numa_maps)");
}

absl::Status MovePagesTo(void* addr, size_t bytes, int node) {
  // TODO(student): Task 3: move_pages with a node per page and MPOL_MF_MOVE; check each status.
  (void)addr;
  (void)bytes;
  (void)node;
  return absl::UnimplementedError("TODO(student): Task 3: MovePagesTo (move_pages to migrate)");
}

absl::StatusOr<ThreadPolicy> ThreadPolicy::Set(Policy policy, const std::vector<int>& nodes) {
  // TODO(student): Task 3: set_mempolicy for this thread.
  (void)policy;
  (void)nodes;
  return absl::UnimplementedError("TODO(student): Task 3: ThreadPolicy::Set (set_mempolicy)");
}

ThreadPolicy::~ThreadPolicy() {
  // TODO(student): Task 3: back to MPOL_DEFAULT when active_.
}

absl::StatusOr<OnNodeBuffer> OnNodeBuffer::Allocate(size_t bytes, int node) {
  // TODO(student): Task 3: numa_alloc_onnode (NULL on failure); check the node first.
  (void)bytes;
  (void)node;
  return absl::UnimplementedError(
      "TODO(student): Task 3: OnNodeBuffer::Allocate (numa_alloc_onnode)");
}

OnNodeBuffer::~OnNodeBuffer() {
  // TODO(student): Task 3: numa_free what Allocate got.
}

// Task 4 -----------------------------------------------------------------------------------------

absl::StatusOr<std::vector<int>> CpusOfNode(int node) {
  // TODO(student): Task 4: numa_node_to_cpus.
  (void)node;
  return absl::UnimplementedError("TODO(student): Task 4: CpusOfNode (numa_node_to_cpus)");
}

absl::Status RunOnNode(int node) {
  // TODO(student): Task 4: bind this thread to the node's CPUs, not to CPU #node (NU4).
  (void)node;
  return absl::UnimplementedError(
      "TODO(student): Task 4: RunOnNode (a CPU mask of the node's CPUs)");
}

}  // namespace numa
