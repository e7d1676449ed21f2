// solutions/numa/numa.cc: the reference implementation of labs/numa/numa.h.
//
// Topology from libnuma and from sysfs, memory whose policy is set before the first touch, page
// placement proven three ways (move_pages, get_mempolicy, numa_maps), and threads bound to a
// node's CPUs. Tests: bazel test //solutions/numa:all //grader/hidden/numa:all
#include "labs/numa/numa.h"

#include <dirent.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace numa {
namespace {

// Node masks for mbind/set_mempolicy/get_mempolicy: one bit per node in unsigned longs. 1024
// nodes is the kernel's largest MAX_NUMNODES; maxnode is the mask's size in bits.
constexpr int kMaskWords = 1024 / (8 * sizeof(unsigned long));
constexpr unsigned long kMaxNode = kMaskWords * 8 * sizeof(unsigned long);
using NodeMask = std::array<unsigned long, kMaskWords>;

absl::StatusOr<NodeMask> MaskOf(const std::vector<int>& nodes) {
  NodeMask mask{};
  for (int node : nodes) {
    if (node < 0 || node >= static_cast<int>(kMaxNode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("node ", node, " is outside [0, ", kMaxNode, ")"));
    }
    mask[node / (8 * sizeof(unsigned long))] |= 1UL << (node % (8 * sizeof(unsigned long)));
  }
  return mask;
}

int ModeOf(Policy policy) {
  switch (policy) {
    case Policy::kBind:
      return MPOL_BIND;
    case Policy::kPreferred:
      return MPOL_PREFERRED;
    case Policy::kInterleave:
      return MPOL_INTERLEAVE;
    case Policy::kDefault:
      break;
  }
  return MPOL_DEFAULT;
}

// Checks that `nodes` fits `policy` (the header's rule), before any call.
absl::Status CheckPolicyNodes(Policy policy, const std::vector<int>& nodes) {
  const bool ok = policy == Policy::kDefault     ? nodes.empty()
                  : policy == Policy::kPreferred ? nodes.size() == 1
                                                 : !nodes.empty();
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("policy ", PolicyName(policy), " cannot take ", nodes.size(), " node(s)"));
}

std::string NodesText(const std::vector<int>& nodes) {
  return nodes.empty() ? "no node" : absl::StrCat("node ", absl::StrJoin(nodes, ","));
}

// mbind(addr, bytes, policy, nodes), or nothing for kDefault.
absl::Status Bind(void* addr, size_t bytes, Policy policy, const std::vector<int>& nodes) {
  if (policy == Policy::kDefault) return absl::OkStatus();
  IPC_ASSIGN_OR_RETURN(NodeMask mask, MaskOf(nodes));
  if (::mbind(addr, bytes, ModeOf(policy), mask.data(), kMaxNode, 0) == -1) {
    return ipc::ErrnoError("mbind", NodesText(nodes));
  }
  return absl::OkStatus();
}

// Parses "0-3,8" into {0, 1, 2, 3, 8}; an empty list is no CPUs.
absl::StatusOr<std::vector<int>> ParseList(absl::string_view text, const std::string& path) {
  std::vector<int> out;
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::pair<absl::string_view, absl::string_view> range =
        absl::StrSplit(part, absl::MaxSplits('-', 1));
    int first = 0, last = 0;
    if (!absl::SimpleAtoi(range.first, &first) ||
        !absl::SimpleAtoi(range.second.empty() ? range.first : range.second, &last) ||
        last < first) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": cannot parse \"", text, "\""));
    }
    for (int cpu = first; cpu <= last; ++cpu) out.push_back(cpu);
  }
  return out;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ipc::ErrnoError("open", path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

// Task 1 -----------------------------------------------------------------------------------------

absl::Status CheckNumaAvailable() {
  // 0 means available, -1 not: the notes read it the other way round (NU2).
  if (::numa_available() == 0) return absl::OkStatus();
  return absl::UnavailableError("numa_available() returned -1: this kernel has no NUMA API");
}

absl::StatusOr<Topology> ReadTopology() {
  IPC_RETURN_IF_ERROR(CheckNumaAvailable());
  std::vector<int> ids;
  for (int id = 0; id <= ::numa_max_node(); ++id) {
    if (::numa_bitmask_isbitset(::numa_nodes_ptr, id)) ids.push_back(id);  // NU7: gaps allowed
  }
  Topology topology;
  for (int id : ids) {
    Node node;
    node.id = id;
    IPC_ASSIGN_OR_RETURN(node.cpus, CpusOfNode(id));
    long long free = 0;
    node.total_bytes = ::numa_node_size64(id, &free);  // -1 where the node has no meminfo
    node.total_bytes = std::max<int64_t>(node.total_bytes, 0);
    node.free_bytes = std::max<long long>(free, 0);
    for (int other : ids) node.distances[other] = ::numa_distance(id, other);
    topology.nodes.push_back(std::move(node));
  }
  return topology;
}

absl::StatusOr<Topology> ReadSysfsTopology(const std::string& root) {
  DIR* dir = ::opendir(root.c_str());
  if (dir == nullptr) return ipc::ErrnoError("opendir", root);
  std::vector<int> ids;
  while (dirent* entry = ::readdir(dir)) {
    absl::string_view name = entry->d_name;
    int id = 0;
    if (absl::ConsumePrefix(&name, "node") && absl::SimpleAtoi(name, &id)) ids.push_back(id);
  }
  ::closedir(dir);
  std::sort(ids.begin(), ids.end());

  Topology topology;
  for (int id : ids) {
    const std::string node_dir = absl::StrCat(root, "/node", id, "/");
    Node node;
    node.id = id;
    IPC_ASSIGN_OR_RETURN(std::string cpulist, ReadFile(node_dir + "cpulist"));
    IPC_ASSIGN_OR_RETURN(node.cpus, ParseList(cpulist, node_dir + "cpulist"));
    IPC_ASSIGN_OR_RETURN(std::string meminfo, ReadFile(node_dir + "meminfo"));
    for (absl::string_view line : absl::StrSplit(meminfo, '\n', absl::SkipEmpty())) {
      // "Node 0 MemTotal:       13592792 kB"
      std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (words.size() < 4 || (words[2] != "MemTotal:" && words[2] != "MemFree:")) continue;
      int64_t kb = 0;
      if (!absl::SimpleAtoi(words[3], &kb)) {
        return absl::InvalidArgumentError(
            absl::StrCat(node_dir, "meminfo: cannot parse \"", line, "\""));
      }
      (words[2] == "MemTotal:" ? node.total_bytes : node.free_bytes) = kb * 1024;
    }
    IPC_ASSIGN_OR_RETURN(std::string distance, ReadFile(node_dir + "distance"));
    std::vector<absl::string_view> values = absl::StrSplit(distance, ' ', absl::SkipWhitespace());
    if (values.size() != ids.size()) {
      return absl::InvalidArgumentError(absl::StrCat(node_dir, "distance: ", values.size(),
                                                     " values for ", ids.size(), " nodes"));
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      int d = 0;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(values[i]), &d)) {
        return absl::InvalidArgumentError(
            absl::StrCat(node_dir, "distance: cannot parse \"", values[i], "\""));
      }
      node.distances[ids[i]] = d;
    }
    topology.nodes.push_back(std::move(node));
  }
  return topology;
}

// Task 2 -----------------------------------------------------------------------------------------

void NodeMemory::Touch() {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  for (size_t offset = 0; offset < size_; offset += page) {
    // volatile: the write must happen, here, from this thread (the first touch places the page).
    *static_cast<volatile char*>(data_ + offset) = 1;
  }
}

absl::Status NodeMemory::Unlink() {
  if (name_.empty()) return absl::FailedPreconditionError("anonymous memory has no name to unlink");
  if (::shm_unlink(name_.c_str()) == -1) return ipc::ErrnoError("shm_unlink", name_);
  return absl::OkStatus();
}

absl::StatusOr<NodeMemory> NodeMemory::Create(size_t bytes, Policy policy, std::vector<int> nodes) {
  if (bytes == 0) return absl::InvalidArgumentError("NodeMemory needs at least one byte");
  IPC_RETURN_IF_ERROR(CheckPolicyNodes(policy, nodes));
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) return ipc::ErrnoError("mmap", absl::StrCat(bytes, " bytes"));  // NU5
  NodeMemory memory(static_cast<char*>(data), bytes, "", policy != Policy::kDefault);
  IPC_RETURN_IF_ERROR(Bind(data, bytes, policy, nodes));  // before the first touch (NU3)
  return memory;
}

absl::StatusOr<NodeMemory> NodeMemory::CreateShm(const std::string& name, size_t bytes,
                                                 Policy policy, std::vector<int> nodes) {
  if (bytes == 0) return absl::InvalidArgumentError("NodeMemory needs at least one byte");
  IPC_RETURN_IF_ERROR(CheckPolicyNodes(policy, nodes));
  const int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd == -1) return ipc::ErrnoError("shm_open", name);
  // From here on, every error path removes the object this call created.
  auto fail = [&](absl::Status status) {
    ::close(fd);
    ::shm_unlink(name.c_str());
    return status;
  };
  if (::ftruncate(fd, static_cast<off_t>(bytes)) == -1)
    return fail(ipc::ErrnoError("ftruncate", name));
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) return fail(ipc::ErrnoError("mmap", name));
  ::close(fd);  // the mapping keeps the object
  NodeMemory memory(static_cast<char*>(data), bytes, name, policy != Policy::kDefault);
  if (absl::Status bound = Bind(data, bytes, policy, nodes); !bound.ok()) {
    ::shm_unlink(name.c_str());
    return bound;
  }
  return memory;
}

absl::StatusOr<NodeMemory> NodeMemory::OpenShm(const std::string& name) {
  const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  if (fd == -1) return ipc::ErrnoError("shm_open", name);
  struct stat st {};
  if (::fstat(fd, &st) == -1) {
    absl::Status status = ipc::ErrnoError("fstat", name);
    ::close(fd);
    return status;
  }
  if (st.st_size == 0) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(name, " has size 0: not created yet"));
  }
  void* data = ::mmap(nullptr, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  absl::Status mapped = data == MAP_FAILED ? ipc::ErrnoError("mmap", name) : absl::OkStatus();
  ::close(fd);
  IPC_RETURN_IF_ERROR(mapped);
  return NodeMemory(static_cast<char*>(data), static_cast<size_t>(st.st_size), name, false);
}

absl::StatusOr<NodeMemory> AllocateNear(size_t bytes, int node, Availability availability) {
  if (availability == Availability::kAsk && CheckNumaAvailable().ok()) {
    return NodeMemory::Create(bytes, Policy::kBind, {node});
  }
  // The fallback: plain shared memory, its mmap checked like any other (NU5).
  return NodeMemory::Create(bytes, Policy::kDefault, {});
}

// Task 3 -----------------------------------------------------------------------------------------

namespace {

absl::StatusOr<std::vector<void*>> PagesOf(const void* addr, size_t bytes) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  if (bytes == 0 || reinterpret_cast<uintptr_t>(addr) % page != 0) {
    return absl::InvalidArgumentError("a page range needs a page-aligned start and bytes > 0");
  }
  std::vector<void*> pages;
  for (size_t offset = 0; offset < bytes; offset += page) {
    pages.push_back(const_cast<char*>(static_cast<const char*>(addr)) + offset);
  }
  return pages;
}

}  // namespace

absl::StatusOr<std::vector<int>> PageNodes(const void* addr, size_t bytes) {
  IPC_ASSIGN_OR_RETURN(std::vector<void*> pages, PagesOf(addr, bytes));
  std::vector<int> status(pages.size(), 0);
  // nodes == NULL: a query; status[i] is page i's node, or -errno (-ENOENT: not allocated).
  if (::move_pages(0, pages.size(), pages.data(), nullptr, status.data(), 0) == -1) {
    return ipc::ErrnoError("move_pages", absl::StrCat(pages.size(), " pages"));
  }
  return status;
}

absl::StatusOr<int> NodeOfAddress(const void* addr) {
  int node = -1;
  if (::get_mempolicy(&node, nullptr, 0, const_cast<void*>(addr), MPOL_F_NODE | MPOL_F_ADDR) ==
      -1) {
    return ipc::ErrnoError("get_mempolicy", "MPOL_F_NODE|MPOL_F_ADDR");
  }
  return node;
}

absl::StatusOr<PolicyAt> PolicyOf(const void* addr) {
  int mode = 0;
  NodeMask mask{};
  if (::get_mempolicy(&mode, mask.data(), kMaxNode, const_cast<void*>(addr), MPOL_F_ADDR) == -1) {
    return ipc::ErrnoError("get_mempolicy", "MPOL_F_ADDR");
  }
  PolicyAt at;
  // Drop the mode flags (MPOL_F_STATIC_NODES 1<<15, MPOL_F_RELATIVE_NODES 1<<14,
  // MPOL_F_NUMA_BALANCING 1<<13: linux/mempolicy.h, which numaif.h does not define).
  mode &= ~((1 << 15) | (1 << 14) | (1 << 13));
  at.policy = mode == MPOL_BIND         ? Policy::kBind
              : mode == MPOL_PREFERRED  ? Policy::kPreferred
              : mode == MPOL_INTERLEAVE ? Policy::kInterleave
                                        : Policy::kDefault;
  if (at.policy != Policy::kDefault) {
    for (int node = 0; node < static_cast<int>(kMaxNode); ++node) {
      if (mask[node / (8 * sizeof(unsigned long))] &
          (1UL << (node % (8 * sizeof(unsigned long))))) {
        at.nodes.push_back(node);
      }
    }
  }
  return at;
}

absl::StatusOr<NumaMapsEntry> NumaMapsFor(const void* start) {
  std::ifstream maps("/proc/self/numa_maps");
  if (!maps) return ipc::ErrnoError("open", "/proc/self/numa_maps");
  const std::string prefix = absl::StrCat(absl::Hex(reinterpret_cast<uintptr_t>(start)), " ");
  for (std::string line; std::getline(maps, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    // "7f12a000 bind:0 anon=4 dirty=4 N0=4 kernelpagesize_kB=4"
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    NumaMapsEntry entry;
    if (words.size() > 1) entry.policy = words[1];
    for (size_t i = 2; i < words.size(); ++i) {
      absl::string_view word = words[i];
      int node = 0;
      int64_t pages = 0;
      if (!absl::ConsumePrefix(&word, "N")) continue;
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(word, absl::MaxSplits('=', 1));
      if (absl::SimpleAtoi(kv.first, &node) && absl::SimpleAtoi(kv.second, &pages)) {
        entry.pages_per_node[node] = pages;
      }
    }
    return entry;
  }
  return absl::NotFoundError(absl::StrCat("no line of /proc/self/numa_maps starts at ", prefix));
}

absl::Status MovePagesTo(void* addr, size_t bytes, int node) {
  IPC_ASSIGN_OR_RETURN(std::vector<void*> pages, PagesOf(addr, bytes));
  std::vector<int> nodes(pages.size(), node), status(pages.size(), 0);
  if (::move_pages(0, pages.size(), pages.data(), nodes.data(), status.data(), MPOL_MF_MOVE) ==
      -1) {
    return ipc::ErrnoError("move_pages", absl::StrCat("node ", node));
  }
  for (size_t i = 0; i < pages.size(); ++i) {
    if (status[i] < 0) {
      return ipc::ErrnoError("move_pages", absl::StrCat("page ", i, " to node ", node), -status[i]);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ThreadPolicy> ThreadPolicy::Set(Policy policy, const std::vector<int>& nodes) {
  IPC_RETURN_IF_ERROR(CheckPolicyNodes(policy, nodes));
  IPC_ASSIGN_OR_RETURN(NodeMask mask, MaskOf(nodes));
  if (::set_mempolicy(ModeOf(policy), policy == Policy::kDefault ? nullptr : mask.data(),
                      policy == Policy::kDefault ? 0 : kMaxNode) == -1) {
    return ipc::ErrnoError("set_mempolicy", NodesText(nodes));
  }
  return ThreadPolicy();
}

ThreadPolicy::~ThreadPolicy() {
  if (active_) ::set_mempolicy(MPOL_DEFAULT, nullptr, 0);  // cannot fail for MPOL_DEFAULT
}

absl::StatusOr<OnNodeBuffer> OnNodeBuffer::Allocate(size_t bytes, int node) {
  if (bytes == 0) return absl::InvalidArgumentError("OnNodeBuffer needs at least one byte");
  IPC_RETURN_IF_ERROR(CheckNumaAvailable());
  if (node < 0 || node > ::numa_max_node() ||
      !::numa_bitmask_isbitset(::numa_all_nodes_ptr, node)) {
    return absl::InvalidArgumentError(
        absl::StrCat("node ", node, " has no memory to allocate from"));
  }
  void* data = ::numa_alloc_onnode(bytes, node);  // NULL on failure, not MAP_FAILED
  if (data == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("numa_alloc_onnode(", bytes, ", ", node, ") failed"));
  }
  return OnNodeBuffer(static_cast<char*>(data), bytes);
}

OnNodeBuffer::~OnNodeBuffer() {
  if (data_ != nullptr) ::numa_free(data_, size_);
}

// Task 4 -----------------------------------------------------------------------------------------

absl::StatusOr<std::vector<int>> CpusOfNode(int node) {
  IPC_RETURN_IF_ERROR(CheckNumaAvailable());
  if (node < 0 || node > ::numa_max_node() || !::numa_bitmask_isbitset(::numa_nodes_ptr, node)) {
    return absl::InvalidArgumentError(absl::StrCat("node ", node, " does not exist"));
  }
  struct bitmask* cpus = ::numa_allocate_cpumask();
  std::vector<int> out;
  if (::numa_node_to_cpus(node, cpus) == -1) {
    absl::Status status = ipc::ErrnoError("numa_node_to_cpus", absl::StrCat("node ", node));
    ::numa_free_cpumask(cpus);
    return status;
  }
  for (unsigned cpu = 0; cpu < cpus->size; ++cpu) {
    if (::numa_bitmask_isbitset(cpus, cpu)) out.push_back(static_cast<int>(cpu));
  }
  ::numa_free_cpumask(cpus);
  return out;
}

absl::Status RunOnNode(int node) {
  IPC_ASSIGN_OR_RETURN(std::vector<int> cpus, CpusOfNode(node));
  // A CPU mask built from the node's CPUs (not a node mask: NU4), for the calling thread.
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof set, &set) == -1) {
    return ipc::ErrnoError("sched_setaffinity", absl::StrCat("CPUs of node ", node));
  }
  return absl::OkStatus();
}

}  // namespace numa
