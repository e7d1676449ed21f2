// grader/sandbox.h: run one GoogleTest case of an untrusted test binary, contained.
//
// Every case runs alone: a fresh IPC, mount, PID, UTS and network namespace (bubblewrap, run as
// an unprivileged uid), a private tmpfs on /tmp and /dev/shm, its own mqueue mount, a read-only
// view of the host, rlimits (CPU, address space, file size, open files, no core), a pids and a
// memory cgroup, and a wall-clock timeout that kills the whole namespace. After it exits, the
// IPC objects left in its namespaces are listed (leaks). The case's verdict is read from a pipe
// the grader owns (common/testing/verdict.h), never from the exit code alone.
// Architecture: ../shared/DESIGN.md, "The grader", "Containment".
#ifndef IPC_LABS_GRADER_SANDBOX_H_
#define IPC_LABS_GRADER_SANDBOX_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/ipc_snapshot.h"

namespace grader {

// Limits for one case.
struct CaseLimits {
  absl::Duration timeout = absl::Seconds(10);  // wall clock; the namespace is killed after it
  absl::Duration cpu = absl::Seconds(20);      // RLIMIT_CPU
  int64_t memory_bytes = int64_t{512} << 20;   // memory cgroup (and RLIMIT_AS as a backstop)
  int max_processes = 64;                      // pids cgroup (and RLIMIT_NPROC)
  int64_t file_size_bytes = int64_t{64} << 20;  // RLIMIT_FSIZE
  int64_t tmpfs_bytes = int64_t{64} << 20;     // size of the private /tmp and /dev/shm each
  int open_files = 256;                        // RLIMIT_NOFILE
  size_t output_cap_bytes = 64 << 10;          // stdout+stderr kept; the rest is dropped, noted
};

// One failed assertion, as the test framework reported it.
struct Failure {
  std::string file;
  int line = 0;
  std::string message;
};

// What happened to one case.
struct CaseResult {
  enum class Outcome {
    kPassed,       // the framework reported a pass through the grader's pipe, and exit was clean
    kFailed,       // the framework reported a failure (failures[] says what)
    kSkipped,      // GTEST_SKIP (for example: io_uring unavailable)
    kCrashed,      // killed by a signal (signal says which) before reporting
    kTimedOut,     // the wall-clock timeout expired; the namespace was killed
    kOutOfMemory,  // the memory cgroup's OOM killer ended it ("ran out of memory (limit N MiB)")
    kNoVerdict,    // exited without a trustworthy report (e.g. _exit(0) early, forged output)
  };
  Outcome outcome = Outcome::kNoVerdict;
  std::string summary;            // one sentence for people: "killed by SIGSEGV (Segmentation fault)"
  std::vector<Failure> failures;  // for kFailed
  int exit_code = -1;             // when it exited
  int signal = 0;                 // when it was killed by a signal
  std::string output;             // captured stdout+stderr, capped
  bool output_truncated = false;
  std::vector<ipc::IpcObject> leaks;  // IPC objects left in its namespaces after it ended
  std::vector<std::string> suspicions;  // for the instructor: signs of a forged verdict
  absl::Duration wall_time;
  // Measured by the case's cgroups; -1 when the sandbox runs without cgroups.
  int64_t peak_memory_bytes = -1;  // memory.max_usage_in_bytes (includes its tmpfs files)
  int64_t peak_processes = -1;     // pids.peak (bubblewrap's two processes included)
  int64_t forks_refused = -1;      // pids.events "max": forks the pids limit refused
};

// OutcomeName()
//
// "passed", "failed", "skipped", "crashed", "timed out", "out of memory", "no verdict".
const char* OutcomeName(CaseResult::Outcome outcome);

// How the sandbox isolates, as detected at Create().
struct SandboxOptions {
  std::string bwrap = "/usr/bin/bwrap";
  uid_t run_as_uid = 65534;  // nobody: never run student code as root
  gid_t run_as_gid = 65534;
  // Paths inside which the test binary may read (bound read-only); "/" by default.
  std::string read_only_root = "/";
  // A name for this grader's cgroups, so parallel graders never share one: the directories are
  // "ipclabs-<cgroup_name>" ("ipclabs-" is not doubled). "" picks "grader-<pid>"; with that form
  // a later grader sweeps the directories of one that died.
  std::string cgroup_name;
  // Host directories a case must not see, each covered by an empty tmpfs: the instructor's tree
  // (solutions/, grader/hidden/), home directories. `--ro-bind / /` shows everything else that
  // uid 65534 may read. The binary's tree and the working directory are bound back if they lie
  // below one. Paths that do not exist are ignored.
  std::vector<std::string> hidden_paths;
};

class Sandbox {
 public:
  // Sandbox::Create()
  //
  // Checks what isolation this machine allows (bwrap present and working, cgroups writable,
  // running as root or not), sweeps stale case cgroups of earlier runs (killing what is left in
  // them), and returns a sandbox. It runs /bin/true through the whole machinery once, so a
  // machine where bubblewrap cannot make namespaces fails here, not at the first case.
  // warnings() says loudly what is weaker than designed (not root: student code runs under the
  // caller's uid; no cgroups: memory and process counts are unlimited). Only cgroup v1 (pids and
  // memory hierarchies) is supported; on a v2-only machine warnings() says so.
  // Errors: FAILED_PRECONDITION when bubblewrap is missing or cannot sandbox /bin/true.
  // The Sandbox owns its cgroup directories ("ipclabs-<cgroup_name>") and removes them when
  // destroyed. RunCase, ListCases and CheckSentinel may be called from several threads at once.
  static absl::StatusOr<std::unique_ptr<Sandbox>> Create(const SandboxOptions& options);

  virtual ~Sandbox() = default;

  // Sandbox::warnings()
  //
  // Sentences about isolation that is weaker than designed on this machine.
  virtual const std::vector<std::string>& warnings() const = 0;

  // Sandbox::ListCases()
  //
  // Runs `binary --gtest_list_tests` contained (the same limits, the binary's directory as the
  // working directory, at least 4 MiB of output kept) and returns the full names ("Suite.Case",
  // parameterised and typed names included; the grader's sentinel is not listed, as the verdict
  // channel is not opened). Errors: FAILED_PRECONDITION when the binary crashed, timed out or
  // exited non-zero while listing (the status says how, with the start of its output).
  virtual absl::StatusOr<std::vector<std::string>> ListCases(const std::string& binary,
                                                             const CaseLimits& limits) = 0;

  // Sandbox::RunCase()
  //
  // Runs exactly one case (`--gtest_filter=<case_name>`) of `binary`, contained, with `workdir`
  // as its working directory (read-only), and returns what happened. `binary` and `workdir` may
  // lie below a directory uid 65534 cannot enter (Bazel's output tree under /root): the sandbox
  // hides that directory and binds back only Bazel's bin/ root and `workdir`, at their own paths.
  // Errors: INVALID_ARGUMENT for a case name with filter characters (* ? : leading -); otherwise
  // only the grader's own failures (a cgroup could not be made, fork failed, bubblewrap failed to
  // start): everything the student's code does is a CaseResult.
  virtual absl::StatusOr<CaseResult> RunCase(const std::string& binary,
                                             const std::string& case_name,
                                             const std::string& workdir,
                                             const CaseLimits& limits) = 0;

  // Sandbox::CheckSentinel()
  //
  // Runs the grader's sentinel case (IpcLabsGraderSentinel.MustFail), which must be reported as
  // failed with its own message. Returns an empty list when it was; otherwise the suspicions to
  // report, the first saying what happened (reported passed: forged verdicts; crashed, no
  // verdict, ...: the binary tampers with the verdict channel). Errors: as RunCase.
  virtual absl::StatusOr<std::vector<std::string>> CheckSentinel(const std::string& binary,
                                                                 const std::string& workdir,
                                                                 const CaseLimits& limits) = 0;
};

}  // namespace grader

#endif  // IPC_LABS_GRADER_SANDBOX_H_
