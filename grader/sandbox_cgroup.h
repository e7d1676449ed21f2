// grader/sandbox_cgroup.h: the pids and memory cgroups (v1) that hold one test case.
//
// rlimits are per process (RLIMIT_AS) or per uid across the whole machine (RLIMIT_NPROC), so they
// cannot hold a fork bomb or a memory bomb spread over many processes. A cgroup can: every process
// of a case lives in pids/<grader>/<case> and memory/<grader>/<case>, whose pids.max and
// memory.limit_in_bytes bound the case as a whole. The grader's own directory is created below
// the cgroup the grader already runs in, so whatever limits the machine puts on the grader still
// hold for its cases. Used by sandbox.cc; DESIGN.md "Containment" records what was verified.
#ifndef IPC_LABS_GRADER_SANDBOX_CGROUP_H_
#define IPC_LABS_GRADER_SANDBOX_CGROUP_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace grader {

// Where this grader's case cgroups live: one directory per controller.
struct CgroupRoots {
  std::string pids;    // e.g. /sys/fs/cgroup/pids/ipclabs-grader-123
  std::string memory;  // e.g. /sys/fs/cgroup/memory/<grader's own cgroup>/ipclabs-grader-123
};

// FindCgroupRoots()
//
// Finds the v1 pids and memory hierarchies (/proc/self/mounts), the grader's own cgroup in each
// (/proc/self/cgroup), creates "ipclabs-<name>" below it (`name` as is if it already starts with
// "ipclabs-"), and removes the case cgroups a crashed
// run left there (killing their processes first). Also sweeps sibling "ipclabs-grader-<pid>"
// directories whose grader process is gone. Errors: no v1 pids or memory hierarchy, or the
// directories are not writable (not root): the caller then runs without cgroups, and says so.
absl::StatusOr<CgroupRoots> FindCgroupRoots(const std::string& name);

// CaseCgroup
//
// The two cgroups of one case. Move-only; the destructor kills whatever is left in them and
// removes them (Remove() does it explicitly and reports errors).
class CaseCgroup {
 public:
  // CaseCgroup::Create()
  //
  // Creates <roots>/<case_name> in both hierarchies and sets pids.max = `max_pids` and
  // memory.limit_in_bytes (and memory.memsw.limit_in_bytes when swap accounting is on) =
  // `memory_bytes`. Errors: mkdir's or write's, naming the file.
  static absl::StatusOr<CaseCgroup> Create(const CgroupRoots& roots, const std::string& case_name,
                                           int max_pids, int64_t memory_bytes);

  CaseCgroup(CaseCgroup&& other) noexcept;
  CaseCgroup& operator=(CaseCgroup&& other) noexcept;
  CaseCgroup(const CaseCgroup&) = delete;
  CaseCgroup& operator=(const CaseCgroup&) = delete;
  ~CaseCgroup();

  // CaseCgroup::procs_files()
  //
  // The two cgroup.procs files; a process joins both by writing "0" to each (before exec).
  std::vector<std::string> procs_files() const;

  // CaseCgroup::OomKills()
  //
  // How many processes the memory cgroup's OOM killer ended ("oom_kill" in memory.oom_control).
  int64_t OomKills() const;

  // CaseCgroup::PeakMemory() / PeakPids() / PidsLimitHits()
  //
  // memory.max_usage_in_bytes, pids.peak and the "max" count of pids.events (forks refused);
  // -1 when the kernel does not provide the file.
  int64_t PeakMemory() const;
  int64_t PeakPids() const;
  int64_t PidsLimitHits() const;

  // CaseCgroup::KillAll()
  //
  // Sends SIGKILL to every process still in either cgroup, until both are empty (bounded).
  // Errors: a process that would not go away within about a second.
  absl::Status KillAll();

  // CaseCgroup::Remove()
  //
  // KillAll(), then rmdir both directories, retrying on EBUSY (a dying task lingers briefly).
  // Idempotent. Errors: rmdir's, naming the directory.
  absl::Status Remove();

 private:
  CaseCgroup(std::string pids_dir, std::string memory_dir)
      : pids_dir_(std::move(pids_dir)), memory_dir_(std::move(memory_dir)) {}

  std::string pids_dir_;    // empty once removed (or moved from)
  std::string memory_dir_;  // empty once removed (or moved from)
};

// RemoveCgroupTree()
//
// Kills the processes of `dir` and of every cgroup below it, then removes them all, deepest
// first, retrying on EBUSY. Used to sweep what a crashed grader left. Errors: rmdir's.
absl::Status RemoveCgroupTree(const std::string& dir);

}  // namespace grader

#endif  // IPC_LABS_GRADER_SANDBOX_CGROUP_H_
