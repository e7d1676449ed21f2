// grader/sandbox.cc: run one untrusted test case, contained. See sandbox.h for the contract.
//
// One case, step by step (DESIGN.md "Containment" records why each step is there):
//
//   grader (root)                      launcher (forked)              sandbox (bubblewrap)
//   -------------                      -----------------              --------------------
//   mkdir pids/ and memory/ cgroups
//   pipes: output, verdict, nonce,
//          bwrap status, block
//   fork ----------------------------> write "0" to both cgroup.procs
//                                      hide unreadable dirs (mount)
//                                      descriptors to 0..7
//                                      setgroups, setresgid,
//                                      setresuid(65534)
//                                      rlimits (CPU AS FSIZE NOFILE
//                                      NPROC CORE=0)
//                                      exec bwrap -------------------> new user, IPC, mount, PID,
//                                                                      net, UTS namespaces; tmpfs
//   read {"child-pid": N} <----------------------------------------- --json-status-fd
//   pidfd_open(N); open /proc/N/ns/ipc and ns/mnt
//   write the block pipe -------------------------------------------> --block-fd: exec the test
//   poll: output (capped), verdict lines, exit; on timeout kill N by pidfd (the namespace dies)
//   fork a lister: setns(ipc, mnt), list /proc/sysvipc, /dev/shm, /dev/mqueue (leaks)
//   close the namespace fds (frees the leaks), read OOM and peaks, remove the cgroups
//
// The Bazel output tree lives under /root (mode 0700), which uid 65534 cannot enter. Instead of
// copying binaries (their shared libraries sit in _solib_k8 beside them, found through
// $ORIGIN-relative RPATHs), the launcher, still root, makes a private mount namespace in which
// the unreadable ancestor (/root) is hidden under an empty tmpfs and only the directories the case
// needs (Bazel's bin/ root, the working directory) are bind-mounted back at their own paths.
// bubblewrap's `--ro-bind / /` then takes that view, read-only. Paths, /proc/self/exe and RPATHs
// all stay the same, and nothing else under /root is visible to student code.
#include "grader/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/fd.h"
#include "common/process.h"
#include "common/status.h"
#include "common/testing/verdict.h"
#include "grader/sandbox_cgroup.h"
#include "grader/sandbox_verdict.h"
#include "nlohmann/json.hpp"

namespace grader {
namespace {

// The descriptors as the launcher arranges them for bubblewrap and the test.
constexpr int kVerdictFd = 3;  // the test writes verdict lines (IPCLABS_VERDICT_FD)
constexpr int kNonceFd = 4;    // the test reads the nonce (IPCLABS_NONCE_FD)
constexpr int kStatusFd = 5;   // bwrap --json-status-fd
constexpr int kBlockFd = 6;    // bwrap --block-fd
constexpr int kReportFd = 7;   // the launcher reports a failed step here (close-on-exec)
constexpr int kFirstUnusedFd = 8;

// At most this many directories are bound back (the bin/ root and the working directory).
constexpr size_t kMaxBinds = 8;
// The pids cgroup also counts bubblewrap's own two processes (the monitor and the namespace's
// init), so a case gets max_processes of its own.
constexpr int kBwrapProcesses = 2;
// With the pids cgroup in force, RLIMIT_NPROC is only a backstop: it counts every process of uid
// 65534 on the machine, so a tight value would let one case's fork bomb starve a parallel case.
constexpr rlim_t kNprocBackstop = 4096;
// How long bubblewrap may take to set up the namespaces before the grader gives up.
constexpr absl::Duration kSetupDeadline = absl::Seconds(10);
// After the sandbox's init is gone, how long its pipes may take to close.
constexpr absl::Duration kDrainGrace = absl::Seconds(5);
// ListCases keeps at least this much output (a suite may have thousands of cases).
constexpr size_t kListOutputCap = size_t{4} << 20;
constexpr size_t kVerdictCap = size_t{1} << 20;

using ::ipc::UniqueFd;

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

absl::StatusOr<Pipe> MakePipe(const char* what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) == -1) return ipc::ErrnoError("pipe2", what);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// 128 random bits, hex: the nonce that every trusted verdict line must carry.
absl::StatusOr<std::string> RandomNonce() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n == -1 && errno == EINTR) continue;  // interrupted: ask again
    if (n == -1) return ipc::ErrnoError("getrandom", "verdict nonce");
    got += static_cast<size_t>(n);
  }
  std::string hex;
  for (unsigned char b : bytes) absl::StrAppendFormat(&hex, "%02x", b);
  return hex;
}

// The launcher's steps, so a failure before exec names the call that failed.
enum LaunchStep : int {
  kJoinCgroup,
  kUnshareMounts,
  kPrivateMounts,
  kHideDir,
  kMakeMountPoint,
  kBindBack,
  kArrangeFds,
  kSetgroups,
  kSetresgid,
  kSetresuid,
  kParentDeath,
  kSetrlimit,
  kExecBwrap,
};

const char* LaunchStepCall(int step) {
  static const char* const kCalls[] = {
      "write(cgroup.procs)", "unshare(CLONE_NEWNS)", "mount(/, MS_PRIVATE)", "mount(tmpfs)",
      "mkdir(mount point)",  "mount(MS_BIND)",       "dup2",                 "setgroups",
      "setresgid",           "setresuid",            "prctl(PR_SET_PDEATHSIG)",
      "setrlimit",           "execve(bwrap)"};
  return step >= 0 && step <= kExecBwrap ? kCalls[step] : "launcher";
}

// A directory uid 65534 cannot enter, hidden under a tmpfs, and what is bound back inside it.
struct HiddenDir {
  std::string dir;                   // e.g. /root
  std::vector<std::string> exposed;  // e.g. /root/.cache/.../bazel-out/k8-fastbuild/bin
};

// Everything the launcher needs, prepared before fork: after fork in a possibly multi-threaded
// grader, the child may only make system calls (no allocation), until it execs bubblewrap.
struct LaunchPlan {
  std::vector<std::string> cgroup_procs;      // cgroup.procs files to join
  std::vector<std::string> hide;              // tmpfs over these
  std::vector<std::string> make_dirs;         // mount points to create inside the tmpfs, in order
  std::vector<std::string> binds;              // bound back at their own paths (<= kMaxBinds)
  int fds[kFirstUnusedFd] = {-1, -1, -1, -1, -1, -1, -1, -1};  // source of each target fd
  bool drop_privileges = false;
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t grader_pid = 0;
  std::vector<std::pair<int, struct rlimit>> rlimits;
  std::string bwrap;
  std::vector<std::string> argv_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

// Writes "/proc/self/fd/<fd>" into `buffer` (32 bytes) without allocating; returns it.
const char* ProcFdPath(int fd, char* buffer) {
  char digits[12];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + fd % 10);
    fd /= 10;
  } while (fd > 0 && n < 11);
  const char prefix[] = "/proc/self/fd/";
  size_t at = 0;
  for (; prefix[at] != '\0'; ++at) buffer[at] = prefix[at];
  while (n > 0) buffer[at++] = digits[--n];
  buffer[at] = '\0';
  return buffer;
}

// The launcher: runs in the forked child, never returns. Only system calls from here on.
[[noreturn]] void RunLauncher(const LaunchPlan& plan, int report_fd) {
  auto fail = [&report_fd](int step) {
    int message[2] = {step, errno};
    (void)!::write(report_fd, message, sizeof message);
    ::_exit(127);
  };

  // Join the case's cgroups first, so that everything below, bwrap included, is counted.
  for (const std::string& file : plan.cgroup_procs) {
    int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd == -1) fail(kJoinCgroup);
    if (::write(fd, "0", 1) != 1) fail(kJoinCgroup);
    ::close(fd);
  }

  // Hide what uid 65534 may not enter, and bind back what the case needs (see the file comment).
  if (!plan.hide.empty()) {
    if (::unshare(CLONE_NEWNS) == -1) fail(kUnshareMounts);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == -1) fail(kPrivateMounts);
    // Open what is bound back before it is hidden, in this namespace: a bind mount's source
    // must belong to the caller's mount namespace.
    int sources[kMaxBinds];
    char proc_paths[kMaxBinds][32];
    for (size_t i = 0; i < plan.binds.size(); ++i) {
      sources[i] = ::open(plan.binds[i].c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (sources[i] == -1) fail(kBindBack);
    }
    for (const std::string& dir : plan.hide) {
      if (::mount("ipclabs-hide", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                  "mode=0755,size=64k") == -1) {
        fail(kHideDir);
      }
    }
    for (const std::string& dir : plan.make_dirs) {
      if (::mkdir(dir.c_str(), 0755) == -1 && errno != EEXIST) fail(kMakeMountPoint);
    }
    for (size_t i = 0; i < plan.binds.size(); ++i) {
      if (::mount(ProcFdPath(sources[i], proc_paths[i]), plan.binds[i].c_str(), nullptr,
                  MS_BIND | MS_REC, nullptr) == -1) {
        fail(kBindBack);
      }
    }
  }

  // Descriptors: first out of the way (>= 32, so no source is overwritten), then into place.
  // dup2 clears close-on-exec on the copies, which is what bwrap and the test need.
  int moved[kFirstUnusedFd];
  for (int target = 0; target < kFirstUnusedFd; ++target) {
    moved[target] = ::fcntl(plan.fds[target], F_DUPFD_CLOEXEC, 32);
    if (moved[target] == -1) fail(kArrangeFds);
  }
  for (int target = 0; target < kFirstUnusedFd; ++target) {
    if (::dup2(moved[target], target) == -1) fail(kArrangeFds);
  }
  report_fd = kReportFd;
  if (::fcntl(kReportFd, F_SETFD, FD_CLOEXEC) == -1) fail(kArrangeFds);  // EOF means "exec'd"
  // Nothing else of the grader's (other cases' pipes, namespace fds) may reach the sandbox.
  if (::syscall(SYS_close_range, kFirstUnusedFd, ~0U, 0) == -1) fail(kArrangeFds);

  // Never run student code as root. Groups first: setgroups needs the privilege we drop next.
  if (plan.drop_privileges) {
    if (::setgroups(0, nullptr) == -1) fail(kSetgroups);
    if (::setresgid(plan.gid, plan.gid, plan.gid) == -1) fail(kSetresgid);
    if (::setresuid(plan.uid, plan.uid, plan.uid) == -1) fail(kSetresuid);
  }
  // Changing credentials cleared the parent-death signal: set it now, then make sure the grader
  // did not die in between (the signal would never come).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) == -1) fail(kParentDeath);
  if (::getppid() != plan.grader_pid) ::_exit(127);

  for (const auto& [resource, limit] : plan.rlimits) {
    if (::setrlimit(resource, &limit) == -1) fail(kSetrlimit);
  }
  ::execve(plan.bwrap.c_str(), plan.argv.data(), plan.envp.data());
  fail(kExecBwrap);
  ::_exit(127);  // not reached: fail() exits
}

// Writes `data` to the pipe `fd` in one write. If the reader is gone (bubblewrap died), returns
// EPIPE instead of letting SIGPIPE kill the grader: the signal is blocked in this thread for the
// write and a pending one is consumed.
absl::Status WriteWithoutSigpipe(int fd, absl::string_view data, const char* what) {
  sigset_t pipe_only, old_mask;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  int err = ::pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);
  if (err != 0) return ipc::ErrnoError("pthread_sigmask", what, err);
  ssize_t n;
  do {
    n = ::write(fd, data.data(), data.size());
  } while (n == -1 && errno == EINTR);  // interrupted: write again
  int write_err = errno;
  if (n == -1 && write_err == EPIPE) {
    const struct timespec no_wait = {0, 0};
    (void)::sigtimedwait(&pipe_only, nullptr, &no_wait);  // consume our SIGPIPE, if pending
  }
  err = ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (err != 0) return ipc::ErrnoError("pthread_sigmask", what, err);
  if (n == -1) return ipc::ErrnoError("write", what, write_err);
  if (static_cast<size_t>(n) != data.size()) {
    return absl::InternalError(absl::StrCat("write(", what, "): short write"));
  }
  return absl::OkStatus();
}

// The mode bits of `path`; nullopt when it cannot be stat'ed.
std::optional<mode_t> ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == -1) return std::nullopt;
  return st.st_mode;
}

// The topmost proper ancestor of `path` (canonical, absolute) that "others" cannot enter, or "".
std::string FirstClosedAncestor(const std::string& path) {
  std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  std::string prefix;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    absl::StrAppend(&prefix, "/", parts[i]);
    std::optional<mode_t> mode = ModeOf(prefix);
    if (mode && (*mode & S_IXOTH) == 0) return prefix;
  }
  return "";
}

// What the case must see of `binary`'s tree: Bazel's bin/ root ("<...>/bazel-out/<config>/bin",
// where _solib_k8 and the runfiles live), or else the binary's own directory.
std::string ExposedRootOf(const std::string& binary) {
  size_t at = binary.find("/bazel-out/");
  if (at != std::string::npos) {
    size_t config_end = binary.find('/', at + 11);
    if (config_end != std::string::npos && binary.compare(config_end, 5, "/bin/") == 0) {
      return binary.substr(0, config_end + 4);
    }
  }
  return binary.substr(0, binary.rfind('/'));
}

absl::StatusOr<std::string> RealPath(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return ipc::ErrnoError("realpath", path);
  std::string result(resolved);
  std::free(resolved);
  return result;
}

// The raw outcome of one contained run, before the verdict is read.
struct RawRun {
  RunFacts facts;
  std::string verdict_text;
  std::string nonce;
  std::vector<ipc::IpcObject> leaks;
  int64_t peak_memory = -1;
  int64_t peak_pids = -1;
  int64_t forks_refused = -1;
};

// Appends what `fd` (non-blocking) has to read into `out`, keeping at most `cap` bytes; counts
// the rest in `*dropped`. Reads at most 1 MiB per call, so that a case writing without pause
// cannot keep the caller from its deadline. Returns false at EOF (or a read error, which for a
// pipe is EOF for us).
bool Drain(int fd, std::string* out, size_t cap, size_t* dropped) {
  char buffer[65536];
  for (int round = 0; round < 16; ++round) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == -1 && errno == EINTR) continue;  // interrupted: read again
    if (n == -1 && errno == EAGAIN) return true;
    if (n <= 0) return false;
    size_t room = out->size() < cap ? cap - out->size() : 0;
    size_t keep = std::min(room, static_cast<size_t>(n));
    out->append(buffer, keep);
    *dropped += static_cast<size_t>(n) - keep;
    if (static_cast<size_t>(n) < sizeof buffer) return true;
  }
  return true;  // more to read: the next poll() says so
}

// Lists the IPC objects in the namespaces `ipc_ns` and `mnt_ns` refer to. A forked lister joins
// them (setns needs a single-threaded process; the fork is one) from outside the case's memory
// cgroup, so a case that filled its memory cannot get the lister OOM-killed. In the case's mount
// namespace /proc belongs to the case's dead PID namespace, where the lister has no /proc/self:
// it mounts a fresh proc in a private copy of that namespace first.
absl::StatusOr<ipc::IpcSnapshot> ListInNamespaces(int ipc_ns, int mnt_ns) {
  IPC_ASSIGN_OR_RETURN(Pipe pipe, MakePipe("leak lister"));
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == -1) return ipc::ErrnoError("fork", "leak lister");
  if (pid == 0) {
    pipe.read.Reset();
    auto fail = [&](const char* call) {
      std::string message = absl::StrCat("{\"error\":\"", call, ": ", std::strerror(errno), "\"}");
      (void)!::write(pipe.write.get(), message.data(), message.size());
      ::_exit(1);
    };
    if (::setns(ipc_ns, CLONE_NEWIPC) == -1) fail("setns(ipc)");
    if (::setns(mnt_ns, CLONE_NEWNS) == -1) fail("setns(mnt)");
    if (::unshare(CLONE_NEWNS) == -1) fail("unshare(CLONE_NEWNS)");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == -1) fail("mount(/)");
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == -1) {
      fail("mount(proc)");
    }
    absl::StatusOr<ipc::IpcSnapshot> snapshot = ipc::IpcSnapshot::Take();
    nlohmann::json out;
    if (!snapshot.ok()) {
      out["error"] = snapshot.status().ToString();
    } else {
      out["mqueue_listed"] = snapshot->mqueue_listed;
      out["objects"] = nlohmann::json::array();
      for (const ipc::IpcObject& o : snapshot->objects) {
        out["objects"].push_back({{"kind", static_cast<int>(o.kind)},
                                  {"name", o.name},
                                  {"key", o.key},
                                  {"id", o.id},
                                  {"size", o.size},
                                  {"cpid", o.creator_pid},
                                  {"nattch", o.nattch}});
      }
    }
    std::string text = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(pipe.write.get(), text.data() + done, text.size() - done);
      if (n == -1 && errno == EINTR) continue;  // interrupted: write the rest
      if (n <= 0) ::_exit(1);
      done += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  pipe.write.Reset();
  std::string text;
  size_t dropped = 0;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  pollfd poller{pipe.read.get(), POLLIN, 0};
  bool open = true;
  while (open && absl::Now() < deadline) {
    int ready = ::poll(&poller, 1, 100);
    if (ready == -1 && errno == EINTR) continue;  // interrupted: poll again
    if (ready == -1) break;
    if (ready == 1) open = Drain(pipe.read.get(), &text, size_t{16} << 20, &dropped);
  }
  if (open) ::kill(pid, SIGKILL);  // stuck: never wait forever for our own helper
  int wait_status;
  while (::waitpid(pid, &wait_status, 0) == -1 && errno == EINTR) {
  }
  nlohmann::json in = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!in.is_object()) {
    return absl::InternalError(absl::StrCat("the leak lister ", open ? "timed out" : "said nothing",
                                            " (", ipc::FromWaitStatus(wait_status).ToString(), ")"));
  }
  if (in.contains("error")) {
    return absl::InternalError(absl::StrCat("the leak lister failed: ", in["error"].dump()));
  }
  ipc::IpcSnapshot snapshot;
  snapshot.mqueue_listed = in.value("mqueue_listed", false);
  for (const nlohmann::json& o : in["objects"]) {
    ipc::IpcObject object{static_cast<ipc::IpcObject::Kind>(o.value("kind", 0))};
    object.name = o.value("name", "");
    object.key = o.value("key", 0);
    object.id = o.value("id", -1);
    object.size = o.value("size", uint64_t{0});
    object.creator_pid = o.value("cpid", 0);
    object.nattch = o.value("nattch", 0);
    snapshot.objects.push_back(std::move(object));
  }
  return snapshot;
}

class BwrapSandbox : public Sandbox {
 public:
  BwrapSandbox(SandboxOptions options, std::optional<CgroupRoots> roots, bool is_root,
               std::vector<std::string> warnings)
      : options_(std::move(options)),
        roots_(std::move(roots)),
        is_root_(is_root),
        warnings_(std::move(warnings)) {}

  ~BwrapSandbox() override {
    if (roots_) {
      (void)RemoveCgroupTree(roots_->pids);  // best effort: a later Create() sweeps the rest
      (void)RemoveCgroupTree(roots_->memory);
    }
  }

  const std::vector<std::string>& warnings() const override { return warnings_; }

  absl::StatusOr<std::vector<std::string>> ListCases(const std::string& binary,
                                                     const CaseLimits& limits) override {
    CaseLimits list_limits = limits;
    list_limits.output_cap_bytes = std::max(limits.output_cap_bytes, kListOutputCap);
    std::string directory = binary.substr(0, binary.rfind('/') + 1);
    IPC_ASSIGN_OR_RETURN(RawRun run, Launch(binary, {"--gtest_list_tests"},
                                            directory.empty() ? "." : directory, list_limits,
                                            /*verdict=*/false));
    auto failed = [&](const std::string& how) {
      return absl::FailedPreconditionError(absl::StrCat(
          "listing the cases of ", binary, " with --gtest_list_tests: ", how, "; its output:\n",
          run.facts.output.substr(0, 2000)));
    };
    if (run.facts.timed_out) {
      return failed(absl::StrCat("timed out after ", absl::FormatDuration(limits.timeout)));
    }
    if (!run.facts.exited) return failed(absl::StrCat("killed by ", ipc::SignalName(run.facts.signal)));
    if (run.facts.exit_code != 0) return failed(absl::StrCat("exit code ", run.facts.exit_code));
    if (run.facts.output_truncated) return failed("the list is longer than the output cap");
    return ParseGtestList(run.facts.output);
  }

  absl::StatusOr<CaseResult> RunCase(const std::string& binary, const std::string& case_name,
                                     const std::string& workdir,
                                     const CaseLimits& limits) override {
    IPC_RETURN_IF_ERROR(ValidateCaseName(case_name));
    IPC_ASSIGN_OR_RETURN(RawRun run,
                         Launch(binary, {absl::StrCat("--gtest_filter=", case_name),
                                         "--gtest_color=no"},
                                workdir, limits, /*verdict=*/true));
    CaseResult result =
        DecideOutcome(run.facts, ParseVerdict(run.verdict_text, run.nonce), case_name, limits);
    result.leaks = std::move(run.leaks);
    result.peak_memory_bytes = run.peak_memory;
    result.peak_processes = run.peak_pids;
    result.forks_refused = run.forks_refused;
    return result;
  }

  absl::StatusOr<std::vector<std::string>> CheckSentinel(const std::string& binary,
                                                         const std::string& workdir,
                                                         const CaseLimits& limits) override {
    std::string sentinel =
        absl::StrCat(ipc::testing::kSentinelSuite, ".", ipc::testing::kSentinelName);
    IPC_ASSIGN_OR_RETURN(CaseResult result, RunCase(binary, sentinel, workdir, limits));
    bool honest = result.outcome == CaseResult::Outcome::kFailed && result.failures.size() == 1 &&
                  absl::StrContains(result.failures[0].message, "fails on purpose");
    if (honest) return std::vector<std::string>{};
    std::vector<std::string> suspicions = std::move(result.suspicions);
    if (result.outcome == CaseResult::Outcome::kPassed) {
      suspicions.insert(suspicions.begin(),
                        absl::StrCat("the grader's sentinel case ", sentinel,
                                     ", which always fails, was reported as passed: the verdicts "
                                     "of ", binary, " are forged"));
    } else {
      suspicions.insert(suspicions.begin(),
                        absl::StrCat("the grader's sentinel case ", sentinel, " ended as \"",
                                     OutcomeName(result.outcome), "\" (", result.summary,
                                     ") instead of failing as it always does: the verdict "
                                     "channel of ", binary, " is tampered with"));
    }
    return suspicions;
  }

  // Runs bwrap once around /bin/true: proves that this machine lets us make the namespaces.
  absl::Status Probe() {
    CaseLimits limits;
    limits.timeout = absl::Seconds(10);
    IPC_ASSIGN_OR_RETURN(RawRun run, Launch("/bin/true", {}, "/", limits, /*verdict=*/false));
    if (!run.facts.exited || run.facts.exit_code != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("bubblewrap could not run /bin/true in a sandbox here: ",
                       run.facts.output));
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<RawRun> Launch(const std::string& binary_path, std::vector<std::string> args,
                                const std::string& workdir_path, const CaseLimits& limits,
                                bool verdict);

  const SandboxOptions options_;
  const std::optional<CgroupRoots> roots_;  // nullopt: no cgroups (see warnings_)
  const bool is_root_;
  const std::vector<std::string> warnings_;
  std::atomic<uint64_t> next_case_{0};  // names case cgroups; a counter only, hence relaxed
};

absl::StatusOr<RawRun> BwrapSandbox::Launch(const std::string& binary_path,
                                            std::vector<std::string> args,
                                            const std::string& workdir_path,
                                            const CaseLimits& limits, bool verdict) {
  IPC_ASSIGN_OR_RETURN(std::string binary, RealPath(binary_path));
  IPC_ASSIGN_OR_RETURN(std::string workdir, RealPath(workdir_path));
  RawRun run;
  LaunchPlan plan;

  // What uid 65534 cannot reach: hide the closed ancestor, bind back what the case needs.
  if (is_root_) {
    std::vector<HiddenDir> hidden;
    for (const std::string& needed : {ExposedRootOf(binary), workdir}) {
      std::string closed = FirstClosedAncestor(needed);
      if (closed.empty() || closed == "/") continue;
      auto it = std::find_if(hidden.begin(), hidden.end(),
                             [&](const HiddenDir& h) { return h.dir == closed; });
      if (it == hidden.end()) it = hidden.insert(hidden.end(), HiddenDir{closed, {}});
      bool covered = std::any_of(it->exposed.begin(), it->exposed.end(), [&](const auto& e) {
        return needed == e || absl::StartsWith(needed, e + "/");
      });
      if (!covered) it->exposed.push_back(needed);
    }
    for (const HiddenDir& h : hidden) {
      plan.hide.push_back(h.dir);
      for (const std::string& exposed : h.exposed) {
        if (ModeOf(exposed) == std::nullopt) return ipc::ErrnoError("stat", exposed);
        std::string prefix = h.dir;
        for (absl::string_view part :
             absl::StrSplit(absl::string_view(exposed).substr(h.dir.size()), '/',
                            absl::SkipEmpty())) {
          absl::StrAppend(&prefix, "/", part);
          plan.make_dirs.push_back(prefix);
        }
        plan.binds.push_back(exposed);
      }
    }
    if (plan.binds.size() > kMaxBinds) {
      return absl::InvalidArgumentError(absl::StrCat("too many directories to expose for ", binary));
    }
  }

  std::optional<CaseCgroup> cgroup;
  if (roots_) {
    std::string name = absl::StrCat("case-", next_case_.fetch_add(1, std::memory_order_relaxed));
    IPC_ASSIGN_OR_RETURN(CaseCgroup created,
                         CaseCgroup::Create(*roots_, name, limits.max_processes + kBwrapProcesses,
                                            limits.memory_bytes));
    cgroup.emplace(std::move(created));
    plan.cgroup_procs = cgroup->procs_files();
  }

  IPC_ASSIGN_OR_RETURN(Pipe output, MakePipe("case output"));
  IPC_ASSIGN_OR_RETURN(Pipe verdict_pipe, MakePipe("verdict"));
  IPC_ASSIGN_OR_RETURN(Pipe nonce_pipe, MakePipe("nonce"));
  IPC_ASSIGN_OR_RETURN(Pipe status, MakePipe("bwrap status"));
  IPC_ASSIGN_OR_RETURN(Pipe block, MakePipe("bwrap block"));
  IPC_ASSIGN_OR_RETURN(Pipe report, MakePipe("launcher report"));
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid()) return ipc::ErrnoError("open", "/dev/null");
  if (verdict) {
    IPC_ASSIGN_OR_RETURN(run.nonce, RandomNonce());
    // 33 bytes fit in the pipe's buffer: write, and close so that the reader sees EOF.
    if (::write(nonce_pipe.write.get(), run.nonce.data(), run.nonce.size()) !=
        static_cast<ssize_t>(run.nonce.size())) {
      return ipc::ErrnoError("write", "nonce pipe");
    }
  }
  nonce_pipe.write.Reset();

  plan.fds[0] = dev_null.get();
  plan.fds[1] = output.write.get();
  plan.fds[2] = output.write.get();
  plan.fds[kVerdictFd] = verdict_pipe.write.get();
  plan.fds[kNonceFd] = nonce_pipe.read.get();
  plan.fds[kStatusFd] = status.write.get();
  plan.fds[kBlockFd] = block.read.get();
  plan.fds[kReportFd] = report.write.get();
  plan.drop_privileges = is_root_;
  plan.uid = options_.run_as_uid;
  plan.gid = options_.run_as_gid;
  plan.grader_pid = ::getpid();
  auto limit = [&](int resource, rlim_t soft, rlim_t hard) {
    plan.rlimits.push_back({resource, {soft, hard}});
  };
  rlim_t cpu_seconds = static_cast<rlim_t>(std::max<int64_t>(1, absl::ToInt64Seconds(limits.cpu)));
  limit(RLIMIT_CPU, cpu_seconds, cpu_seconds + 1);  // SIGXCPU at the soft limit, SIGKILL after
  // With a memory cgroup, RLIMIT_AS is a loose backstop (virtual size is far above what a
  // process touches); without one it is the only memory limit there is.
  rlim_t address_space = static_cast<rlim_t>(
      cgroup ? limits.memory_bytes * 2 + (int64_t{256} << 20) : limits.memory_bytes);
  limit(RLIMIT_AS, address_space, address_space);
  limit(RLIMIT_FSIZE, static_cast<rlim_t>(limits.file_size_bytes),
        static_cast<rlim_t>(limits.file_size_bytes));
  limit(RLIMIT_NOFILE, static_cast<rlim_t>(limits.open_files),
        static_cast<rlim_t>(limits.open_files));
  rlim_t nproc = cgroup ? kNprocBackstop : static_cast<rlim_t>(limits.max_processes + kBwrapProcesses);
  limit(RLIMIT_NPROC, nproc, nproc);
  limit(RLIMIT_CORE, 0, 0);

  plan.bwrap = options_.bwrap;
  std::string tmpfs_size = absl::StrCat(limits.tmpfs_bytes);
  plan.argv_storage = {options_.bwrap,
                       "--unshare-all", "--unshare-user", "--disable-userns",
                       "--die-with-parent", "--new-session",
                       "--ro-bind", options_.read_only_root, "/",
                       "--dev", "/dev",
                       "--proc", "/proc",
                       "--ro-bind", "/proc/sys", "/proc/sys",
                       "--perms", "1777", "--size", tmpfs_size, "--tmpfs", "/tmp",
                       "--perms", "1777", "--size", tmpfs_size, "--tmpfs", "/dev/shm",
                       "--mqueue", "/dev/mqueue"};
  for (const std::string& hidden : options_.hidden_paths) {
    if (ModeOf(hidden) == std::nullopt) continue;  // nothing there to hide
    plan.argv_storage.insert(plan.argv_storage.end(), {"--tmpfs", hidden});
    std::string exposed = ExposedRootOf(binary);
    if (absl::StartsWith(exposed, hidden + "/")) {
      plan.argv_storage.insert(plan.argv_storage.end(), {"--ro-bind", exposed, exposed});
    }
  }
  // A binary kept below the private /tmp or /dev/shm (a Bazel output base under a HOME in /tmp,
  // say) would be hidden by those tmpfs mounts: bind its tree back, read-only, after them.
  if (std::string exposed = ExposedRootOf(binary);
      absl::StartsWith(exposed, "/tmp/") || absl::StartsWith(exposed, "/dev/shm/")) {
    plan.argv_storage.insert(plan.argv_storage.end(), {"--ro-bind", exposed, exposed});
  }
  plan.argv_storage.insert(plan.argv_storage.end(), {
                       // After the tmpfs mounts, which would hide a workdir below them.
                       "--ro-bind", workdir, workdir,
                       "--chdir", workdir,
                       "--clearenv",
                       "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
                       "--setenv", "HOME", "/tmp",
                       "--setenv", "TMPDIR", "/tmp",
                       "--setenv", "TEST_TMPDIR", "/tmp",
                       "--setenv", "LANG", "C.UTF-8",
                       // Not a secret: lets hostile test cases know they are contained.
                       "--setenv", "IPCLABS_SANDBOXED", "1",
                       "--json-status-fd", absl::StrCat(kStatusFd),
                       "--block-fd", absl::StrCat(kBlockFd)});
  if (verdict) {
    for (const auto& [name, fd] : {std::pair{ipc::testing::kVerdictFdEnv, kVerdictFd},
                                   std::pair{ipc::testing::kNonceFdEnv, kNonceFd}}) {
      plan.argv_storage.insert(plan.argv_storage.end(), {"--setenv", name, absl::StrCat(fd)});
    }
  }
  plan.argv_storage.push_back("--");
  plan.argv_storage.push_back(binary);
  for (std::string& arg : args) plan.argv_storage.push_back(std::move(arg));
  for (std::string& arg : plan.argv_storage) plan.argv.push_back(arg.data());
  plan.argv.push_back(nullptr);
  static char kPath[] = "PATH=/usr/bin:/bin";
  plan.envp = {kPath, nullptr};

  // Launch. From fork to exec the child makes system calls only (see RunLauncher).
  std::fflush(nullptr);
  pid_t launcher = ::fork();
  if (launcher == -1) return ipc::ErrnoError("fork", "sandbox launcher");
  if (launcher == 0) RunLauncher(plan, report.write.get());
  UniqueFd launcher_fd(PidfdOpen(launcher));
  if (!launcher_fd.valid()) {
    int err = errno;
    ::kill(launcher, SIGKILL);
    ::waitpid(launcher, nullptr, 0);
    return ipc::ErrnoError("pidfd_open", "sandbox launcher", err);
  }
  output.write.Reset();
  verdict_pipe.write.Reset();
  nonce_pipe.read.Reset();
  status.write.Reset();
  block.read.Reset();
  report.write.Reset();
  dev_null.Reset();
  for (int fd : {output.read.get(), verdict_pipe.read.get(), status.read.get()}) {
    if (::fcntl(fd, F_SETFL, O_NONBLOCK) == -1) return ipc::ErrnoError("fcntl(O_NONBLOCK)", "pipe");
  }

  int wait_status = 0;
  bool reaped = false;
  auto reap = [&](bool block_until_exit) {
    if (reaped) return;
    for (;;) {
      pid_t done = ::waitpid(launcher, &wait_status, block_until_exit ? 0 : WNOHANG);
      if (done == -1 && errno == EINTR) continue;  // interrupted: wait again
      reaped = done == launcher;
      return;
    }
  };
  // On any early return below: kill bubblewrap (its sandbox dies with it) and reap it.
  struct KillOnExit {
    std::function<void()> action;
    ~KillOnExit() { action(); }
  } kill_on_exit{[&] {
    if (!reaped) {
      PidfdSendSignal(launcher_fd.get(), SIGKILL);
      reap(true);
    }
  }};

  // Phase 1: wait for bubblewrap to report the namespace's init ("child-pid").
  std::string status_text, output_text;
  size_t status_dropped = 0, output_dropped = 0;
  pid_t init_pid = -1;
  absl::Time setup_deadline = absl::Now() + kSetupDeadline;
  while (init_pid == -1) {
    pollfd fds[2] = {{status.read.get(), POLLIN, 0}, {launcher_fd.get(), POLLIN, 0}};
    int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(setup_deadline - absl::Now()));
    if (wait_ms <= 0) return absl::DeadlineExceededError("bubblewrap did not start the sandbox");
    int ready = ::poll(fds, 2, wait_ms);
    if (ready == -1 && errno == EINTR) continue;  // interrupted: poll again
    if (ready == -1) return ipc::ErrnoError("poll", "bwrap status");
    bool status_open = Drain(status.read.get(), &status_text, 1 << 16, &status_dropped);
    for (absl::string_view line : absl::StrSplit(status_text, '\n', absl::SkipEmpty())) {
      nlohmann::json object = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
      if (object.is_object() && object.contains("child-pid") &&
          object["child-pid"].is_number_integer()) {
        init_pid = object["child-pid"].get<pid_t>();
      }
    }
    if (init_pid != -1) break;
    if (!status_open || (fds[1].revents & POLLIN)) {
      // The launcher or bubblewrap failed before the case started: say why.
      reap(true);
      int message[2] = {-1, 0};
      if (::read(report.read.get(), message, sizeof message) == sizeof message) {
        return ipc::ErrnoError(absl::StrCat("sandbox launcher: ", LaunchStepCall(message[0])),
                               binary, message[1]);
      }
      Drain(output.read.get(), &output_text, 4096, &output_dropped);
      return absl::FailedPreconditionError(
          absl::StrCat("bubblewrap failed before starting ", binary, " (",
                       ipc::FromWaitStatus(wait_status).ToString(), "): ", output_text));
    }
  }

  // Phase 2: hold the case's namespaces (for the leak listing) and its init (for the timeout)
  // while it is still blocked, then release it.
  UniqueFd init_fd(PidfdOpen(init_pid));
  if (!init_fd.valid()) return ipc::ErrnoError("pidfd_open", absl::StrCat("sandbox init ", init_pid));
  UniqueFd ipc_ns(::open(absl::StrCat("/proc/", init_pid, "/ns/ipc").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ipc_ns.valid()) return ipc::ErrnoError("open", absl::StrCat("/proc/", init_pid, "/ns/ipc"));
  UniqueFd mnt_ns(::open(absl::StrCat("/proc/", init_pid, "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  if (!mnt_ns.valid()) return ipc::ErrnoError("open", absl::StrCat("/proc/", init_pid, "/ns/mnt"));
  absl::Time start = absl::Now();
  IPC_RETURN_IF_ERROR(WriteWithoutSigpipe(block.write.get(), "go", "bwrap block pipe"));
  block.write.Reset();

  // Phase 3: collect output and verdict lines until everything is closed and bwrap has exited.
  absl::Time deadline = start + limits.timeout;
  std::optional<absl::Time> drain_deadline;
  bool output_open = true, verdict_open = true, status_open = true;
  size_t verdict_dropped = 0;
  while (!reaped || output_open || verdict_open || status_open) {
    absl::Time now = absl::Now();
    if (!run.facts.timed_out && !reaped && now >= deadline) {
      // The whole namespace dies with its init: no process of the case survives this.
      run.facts.timed_out = true;
      if (PidfdSendSignal(init_fd.get(), SIGKILL) == -1 && errno != ESRCH) {
        return ipc::ErrnoError("pidfd_send_signal", absl::StrCat("sandbox init ", init_pid));
      }
    }
    if (reaped && !drain_deadline) drain_deadline = now + kDrainGrace;
    if (drain_deadline && now >= *drain_deadline) break;  // a stuck pipe: stop listening
    absl::Time wake = drain_deadline ? *drain_deadline
                      : run.facts.timed_out ? now + kDrainGrace
                                            : deadline;
    int wait_ms = static_cast<int>(std::clamp<int64_t>(
        absl::ToInt64Milliseconds(wake - now) + 1, 0, 1000));
    pollfd fds[4] = {{output_open ? output.read.get() : -1, POLLIN, 0},
                     {verdict_open ? verdict_pipe.read.get() : -1, POLLIN, 0},
                     {status_open ? status.read.get() : -1, POLLIN, 0},
                     {reaped ? -1 : launcher_fd.get(), POLLIN, 0}};
    int ready = ::poll(fds, 4, wait_ms);
    if (ready == -1 && errno == EINTR) continue;  // interrupted: poll again
    if (ready == -1) return ipc::ErrnoError("poll", "sandbox pipes");
    if (fds[0].revents) output_open = Drain(output.read.get(), &output_text,
                                           limits.output_cap_bytes, &output_dropped);
    if (fds[1].revents) verdict_open = Drain(verdict_pipe.read.get(), &run.verdict_text,
                                            kVerdictCap, &verdict_dropped);
    if (fds[2].revents) status_open = Drain(status.read.get(), &status_text, 1 << 16,
                                           &status_dropped);
    if (fds[3].revents) reap(false);
  }
  run.facts.wall_time = absl::Now() - start;
  if (!reaped) {
    PidfdSendSignal(launcher_fd.get(), SIGKILL);
    reap(true);
  }
  ipc::ExitStatus exit = ipc::FromWaitStatus(wait_status);
  run.facts.exited = exit.kind == ipc::ExitStatus::Kind::kExited;
  run.facts.exit_code = exit.code;
  run.facts.signal = exit.signal;
  run.facts.output = std::move(output_text);
  if (output_dropped > 0) {
    run.facts.output_truncated = true;
    absl::StrAppend(&run.facts.output, run.facts.output.empty() || run.facts.output.back() == '\n'
                                           ? ""
                                           : "\n",
                    "[output truncated: ", output_dropped, " bytes dropped]\n");
  }

  // Phase 4: what is left. Leaks first (the namespaces are held by our fds, not by processes),
  // then free them, then the cgroups' counters, then the cgroups themselves.
  IPC_ASSIGN_OR_RETURN(ipc::IpcSnapshot left, ListInNamespaces(ipc_ns.get(), mnt_ns.get()));
  run.leaks = std::move(left.objects);
  ipc_ns.Reset();
  mnt_ns.Reset();
  if (cgroup) {
    IPC_RETURN_IF_ERROR(cgroup->KillAll());
    run.facts.oom_kills = std::max<int64_t>(0, cgroup->OomKills());
    run.peak_memory = cgroup->PeakMemory();
    run.peak_pids = cgroup->PeakPids();
    run.forks_refused = cgroup->PidsLimitHits();
    IPC_RETURN_IF_ERROR(cgroup->Remove());
  }
  return run;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Sandbox>> Sandbox::Create(const SandboxOptions& options) {
  if (::access(options.bwrap.c_str(), X_OK) == -1) {
    return ipc::WithContext(ipc::ErrnoError("access", options.bwrap),
                            "bubblewrap, the grader's sandbox, is missing: install Debian's "
                            "bubblewrap (./labctl setup)");
  }
  std::vector<std::string> warnings;
  bool is_root = ::geteuid() == 0;
  std::optional<CgroupRoots> roots;
  if (!is_root) {
    warnings.push_back(
        "NOT ROOT: student code runs under your own uid (not 65534), and without cgroups: "
        "MEMORY AND PROCESS COUNTS OF A TEST CASE ARE UNLIMITED (only rlimits apply). Grade "
        "as root for real containment.");
  } else {
    std::string name = options.cgroup_name.empty() ? absl::StrCat("grader-", ::getpid())
                                                   : options.cgroup_name;
    absl::StatusOr<CgroupRoots> found = FindCgroupRoots(name);
    if (found.ok()) {
      roots = *std::move(found);
    } else {
      warnings.push_back(absl::StrCat(
          "NO CGROUPS: MEMORY AND PROCESS COUNTS OF A TEST CASE ARE UNLIMITED (only rlimits "
          "apply; RLIMIT_NPROC counts every process of uid 65534 on this machine). Why: ",
          found.status().ToString(),
          ". This grader needs writable cgroup v1 pids and memory hierarchies (v2 is not "
          "supported yet)."));
    }
  }
  auto sandbox = std::make_unique<BwrapSandbox>(options, std::move(roots), is_root,
                                                std::move(warnings));
  IPC_RETURN_IF_ERROR(sandbox->Probe());
  return sandbox;
}

}  // namespace grader
