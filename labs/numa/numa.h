// labs/numa/numa.h: the contract of the NUMA lab.
//
// On a machine with several NUMA nodes, each node is a group of CPUs with its own memory; a CPU
// reaches its own node's memory faster than another node's. Where a page lives is decided when
// it is first touched, by the policy in force then, and nothing in the program's text shows it.
// This lab reads the topology, places memory on purpose and proves where every page went, in four
// pieces (the handout, README.md, takes them in this order):
//
//   Topology          nodes, their CPUs, sizes and distances from libnuma, cross-checked with
//                     /sys/devices/system/node; numa_available() read correctly (NU1, NU2, NU7).
//   NodeMemory        anonymous or POSIX shared memory with an mbind policy (bind, preferred,
//                     interleave) set before the first touch; AllocateNear, the notes' function
//                     done right, with its fallback (NU2, NU3, NU5).
//   Where pages are   move_pages with no target (query) and with one (migrate),
//                     get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR), /proc/self/numa_maps;
//                     set_mempolicy and numa_alloc_onnode; first touch (NU3, NU8).
//   RunOnNode         a thread bound to a node's CPUs, not to CPU #node (NU4).
//
// You implement numa.cc; this header, the tests, numa_given.cc (plumbing), broken.h/.cc (the
// notes' code), numa_guest.h/.cc (the QEMU guests) and chase.h (measuring) are fixed.
// Every failing call reaches the caller as an absl::Status made by ipc::ErrnoError
// (common/status.h), so `mbind("node 7"): Invalid argument [EINVAL]` names the call, the object
// and the errno. The library links libnuma (numa.h, numaif.h; Bazel: @system_libs//:numa, NU10).
// Run the tests with `./labctl test numa`.
#ifndef IPC_LABS_LABS_NUMA_NUMA_H_
#define IPC_LABS_LABS_NUMA_NUMA_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace numa {

// ---------------------------------------------------------------------------------------------
// Task 1: topology.

// Node
//
// One NUMA node as the kernel describes it.
struct Node {
  int id = -1;                   // the node number; ids need not be contiguous (NU7)
  std::vector<int> cpus;         // its CPUs, increasing (a node may have none: memory only)
  int64_t total_bytes = 0;       // its memory (MemTotal of nodeN/meminfo); may be 0
  int64_t free_bytes = 0;        // free now (MemFree); changes from one read to the next
  std::map<int, int> distances;  // node id -> relative distance (10 = local), every node
};

// Topology
//
// Every node of the machine, by increasing id.
struct Topology {
  std::vector<Node> nodes;

  // Topology::Find()
  //
  // The node with `id`, or nullptr.
  const Node* Find(int id) const {
    for (const Node& node : nodes) {
      if (node.id == id) return &node;
    }
    return nullptr;
  }
};

// CheckNumaAvailable()
//
// OK if the NUMA API works here: numa_available() returns 0 when it does and -1 when it does not
// (the notes read it the other way round: NU2). Otherwise UNAVAILABLE with a sentence.
absl::Status CheckNumaAvailable();

// ReadTopology()
//
// The topology from libnuma: the nodes of numa_nodes_ptr (numa_bitmask_isbitset, up to
// numa_max_node(): ids need not be contiguous, NU7), each with numa_node_to_cpus,
// numa_node_size64 (total and free) and numa_distance to every node. Errors: UNAVAILABLE from
// CheckNumaAvailable(); numa_node_to_cpus's failure as ipc::ErrnoError("numa_node_to_cpus",
// "node N").
absl::StatusOr<Topology> ReadTopology();

// ReadSysfsTopology()
//
// The same from the files under `root` (normally /sys/devices/system/node): one nodeN directory
// per node, with `cpulist` ("0-3,8"), `meminfo` ("Node 0 MemTotal:  1024 kB" and "MemFree"
// lines) and `distance` (one number per node, in increasing node order). Errors: the directory
// or a file cannot be read (ipc::ErrnoError naming the path); a file that does not parse is
// INVALID_ARGUMENT naming the path and the line.
absl::StatusOr<Topology> ReadSysfsTopology(const std::string& root = "/sys/devices/system/node");

// ---------------------------------------------------------------------------------------------
// Task 2: memory with a policy, set before the first touch.

// Policy
//
// A NUMA memory policy (mbind, set_mempolicy). kDefault: allocate on the node of the CPU that
// first touches the page (first touch, NU8).
enum class Policy { kDefault, kBind, kPreferred, kInterleave };

// PolicyName()
//
// "default", "bind", "prefer", "interleave": the words /proc/PID/numa_maps uses.
const char* PolicyName(Policy policy);

// NodeMemory
//
// A MAP_SHARED mapping (anonymous, or of a POSIX shared memory object) whose policy was set with
// mbind before any page was touched. Move-only; the destructor unmaps (it never unlinks).
class NodeMemory {
 public:
  // NodeMemory::Create()
  //
  // mmap(bytes, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS), then mbind(policy, nodes):
  // kBind and kInterleave take one or more nodes, kPreferred exactly one, kDefault none. The
  // node mask is an unsigned long array with bit n for node n, and maxnode is its size in bits
  // (NU3). No page is touched. Errors: INVALID_ARGUMENT for bytes == 0 or a node list that does
  // not fit the policy (checked first); mmap's ENOMEM (never MAP_FAILED used as an address:
  // NU5); mbind's errno as ipc::ErrnoError("mbind", "node N"), EINVAL for a node that does not
  // exist. Nothing stays mapped on an error.
  static absl::StatusOr<NodeMemory> Create(size_t bytes, Policy policy, std::vector<int> nodes);

  // NodeMemory::CreateShm()
  //
  // The same over a new POSIX shared memory object `name` (shm_open O_CREAT|O_EXCL|O_RDWR 0600,
  // ftruncate, mmap MAP_SHARED). An mbind on a shared memory mapping sets the policy of the
  // object itself, so every process that maps it allocates its pages the same way. The caller
  // owns the name (Unlink()). Errors: Create()'s, shm_open's (EEXIST), ftruncate's; on an error
  // after shm_open the object is unlinked.
  static absl::StatusOr<NodeMemory> CreateShm(const std::string& name, size_t bytes, Policy policy,
                                              std::vector<int> nodes);

  // NodeMemory::OpenShm()
  //
  // Maps the existing object `name` read/write at its full size (fstat), with no mbind of its
  // own: the object's policy applies. Errors: shm_open's (ENOENT), fstat's, mmap's.
  static absl::StatusOr<NodeMemory> OpenShm(const std::string& name);

  NodeMemory() = default;
  NodeMemory(NodeMemory&& other) noexcept;
  NodeMemory& operator=(NodeMemory&& other) noexcept;
  NodeMemory(const NodeMemory&) = delete;
  NodeMemory& operator=(const NodeMemory&) = delete;
  ~NodeMemory();

  // NodeMemory::data() / size() / pages()
  //
  // The first byte (page-aligned; nullptr when empty), the size asked for, and the number of
  // pages it spans.
  char* data() const { return data_; }
  size_t size() const { return size_; }
  size_t pages() const;

  // NodeMemory::bound()
  //
  // True if an mbind was applied (false for kDefault, OpenShm, and AllocateNear's fallback).
  bool bound() const { return bound_; }

  // NodeMemory::Touch()
  //
  // Writes one byte of every page, in order, from the calling thread: the first touch, where
  // pages are allocated under the policy in force.
  void Touch();

  // NodeMemory::Unlink()
  //
  // shm_unlink of the object's name (CreateShm only); the mapping stays valid. Errors:
  // FAILED_PRECONDITION for anonymous memory; shm_unlink's (ENOENT).
  absl::Status Unlink();

  // NodeMemory::Reset()
  //
  // Unmaps now; the object is empty afterwards.
  void Reset();

 private:
  NodeMemory(char* data, size_t size, std::string name, bool bound)
      : data_(data), size_(size), name_(std::move(name)), bound_(bound) {}

  char* data_ = nullptr;  // from mmap, never MAP_FAILED
  size_t size_ = 0;
  std::string name_;  // the shm object's name; empty for anonymous memory
  bool bound_ = false;
};

// Availability
//
// How AllocateNear decides whether NUMA works: ask numa_available(), or act as if it did not
// (the fallback the notes never reach on a NUMA machine, NU2).
enum class Availability { kAsk, kForceUnavailable };

// AllocateNear()
//
// 001 §3.2's allocate_numa_memory, done right: where NUMA is available (numa_available() == 0),
// Create(bytes, kBind, {node}); otherwise the fallback, a plain anonymous MAP_SHARED mapping
// (bound() false) whose mmap result is checked like any other (NU5: the notes return MAP_FAILED
// from it and the caller only tests NULL). Errors: Create()'s; the fallback's mmap ENOMEM.
absl::StatusOr<NodeMemory> AllocateNear(size_t bytes, int node,
                                        Availability availability = Availability::kAsk);

// ---------------------------------------------------------------------------------------------
// Task 3: where the pages are.

// PageNodes()
//
// For each page of [addr, addr + bytes): the node it is on, from move_pages(0, count, pages,
// nodes = NULL, status, 0) (a query: nothing moves). A page not yet allocated reports -ENOENT
// (a negative errno, as move_pages does). `addr` must be page-aligned. Errors: INVALID_ARGUMENT
// for an unaligned addr or bytes == 0; move_pages's errno.
absl::StatusOr<std::vector<int>> PageNodes(const void* addr, size_t bytes);

// NodeOfAddress()
//
// The node of the page holding `addr`: get_mempolicy(&node, NULL, 0, addr,
// MPOL_F_NODE | MPOL_F_ADDR). Allocates the page if it was not (the kernel faults it in).
// Errors: get_mempolicy's (EFAULT for an unmapped address).
absl::StatusOr<int> NodeOfAddress(const void* addr);

// PolicyAt
//
// The policy governing one address.
struct PolicyAt {
  Policy policy = Policy::kDefault;
  std::vector<int> nodes;  // the policy's nodes, increasing (empty for kDefault)
};

// PolicyOf()
//
// get_mempolicy(&mode, mask, maxnode, addr, MPOL_F_ADDR), decoded. Errors: get_mempolicy's.
absl::StatusOr<PolicyAt> PolicyOf(const void* addr);

// NumaMapsEntry
//
// One line of /proc/self/numa_maps.
struct NumaMapsEntry {
  std::string policy;                     // as written: "default", "bind:0", "interleave:0-1", ...
  std::map<int, int64_t> pages_per_node;  // from the N<k>=<pages> fields
};

// NumaMapsFor()
//
// The line of /proc/self/numa_maps whose mapping starts at `start` (the address from mmap).
// Errors: NOT_FOUND when no line starts there; the file's read errors.
absl::StatusOr<NumaMapsEntry> NumaMapsFor(const void* start);

// MovePagesTo()
//
// Migrates every page of [addr, addr + bytes) to `node` with move_pages(0, count, pages, nodes,
// status, MPOL_MF_MOVE) and checks every page's status. Errors: INVALID_ARGUMENT as PageNodes;
// move_pages's errno (ENODEV or EINVAL for a node that does not exist); a page whose status is
// a negative errno after the call is that errno, naming the page.
absl::Status MovePagesTo(void* addr, size_t bytes, int node);

// ThreadPolicy
//
// set_mempolicy(policy, nodes) for the calling thread while it lives, and MPOL_DEFAULT again
// when it is destroyed. Move-only.
class ThreadPolicy {
 public:
  // ThreadPolicy::Set()
  //
  // Errors: INVALID_ARGUMENT as NodeMemory::Create; set_mempolicy's errno (EINVAL for a node
  // that does not exist).
  static absl::StatusOr<ThreadPolicy> Set(Policy policy, const std::vector<int>& nodes);

  ThreadPolicy(ThreadPolicy&& other) noexcept : active_(std::exchange(other.active_, false)) {}
  ThreadPolicy& operator=(ThreadPolicy&&) = delete;
  ThreadPolicy(const ThreadPolicy&) = delete;
  ThreadPolicy& operator=(const ThreadPolicy&) = delete;
  ~ThreadPolicy();

 private:
  ThreadPolicy() : active_(true) {}
  bool active_ = false;
};

// OnNodeBuffer
//
// numa_alloc_onnode memory (bound to one node, placed at first touch); numa_free on destruction.
// Move-only.
class OnNodeBuffer {
 public:
  // OnNodeBuffer::Allocate()
  //
  // Errors: INVALID_ARGUMENT for bytes == 0 or a node that does not exist
  // (numa_bitmask_isbitset(numa_all_nodes_ptr)); RESOURCE_EXHAUSTED when numa_alloc_onnode
  // returns NULL.
  static absl::StatusOr<OnNodeBuffer> Allocate(size_t bytes, int node);

  OnNodeBuffer(OnNodeBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  OnNodeBuffer& operator=(OnNodeBuffer&&) = delete;
  OnNodeBuffer(const OnNodeBuffer&) = delete;
  OnNodeBuffer& operator=(const OnNodeBuffer&) = delete;
  ~OnNodeBuffer();

  char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  OnNodeBuffer(char* data, size_t size) : data_(data), size_(size) {}
  char* data_ = nullptr;
  size_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Task 4: threads on a node.

// CpusOfNode()
//
// The CPUs of `node` (numa_node_to_cpus), increasing. Errors: INVALID_ARGUMENT for a node
// outside numa_nodes_ptr; numa_node_to_cpus's errno.
absl::StatusOr<std::vector<int>> CpusOfNode(int node);

// RunOnNode()
//
// Restricts the calling thread to the CPUs of `node` (numa_run_on_node, or sched_setaffinity
// with CpusOfNode(node)): afterwards sched_getaffinity is a subset of CpusOfNode(node), and all
// of them when the thread was allowed all of them. Not a node mask passed where a CPU mask
// belongs (NU4). Errors: INVALID_ARGUMENT for a node that does not exist; the call's errno.
absl::Status RunOnNode(int node);

}  // namespace numa

#endif  // IPC_LABS_LABS_NUMA_NUMA_H_
