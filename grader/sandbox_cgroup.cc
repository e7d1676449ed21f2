// grader/sandbox_cgroup.cc: see sandbox_cgroup.h.
#include "grader/sandbox_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace grader {
namespace {

namespace fs = std::filesystem;

// Writes `value` to a cgroup control file in one write(2), as the kernel expects.
absl::Status WriteControl(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd == -1) return ipc::ErrnoError("open", path);
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n == -1) return ipc::ErrnoError("write", absl::StrCat(path, " <- ", value), err);
  return absl::OkStatus();
}

// Reads a whole control file; "" when it cannot be read.
std::string ReadControl(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The number after `key` in a "key value" file (memory.oom_control, pids.events); -1 if absent.
int64_t KeyedValue(const std::string& path, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(ReadControl(path), '\n')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ' ');
    int64_t value;
    if (kv.first == key && absl::SimpleAtoi(kv.second, &value)) return value;
  }
  return -1;
}

int64_t SingleValue(const std::string& path) {
  int64_t value;
  std::string text = ReadControl(path);
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value)) return -1;
  return value;
}

// The pids listed in `dir`/cgroup.procs.
std::vector<pid_t> Procs(const std::string& dir) {
  std::vector<pid_t> pids;
  for (absl::string_view line :
       absl::StrSplit(ReadControl(dir + "/cgroup.procs"), '\n', absl::SkipEmpty())) {
    int pid;
    if (absl::SimpleAtoi(line, &pid)) pids.push_back(pid);
  }
  return pids;
}

// Kills everything in `dir` until it is empty; gives up after about a second.
absl::Status KillProcs(const std::string& dir) {
  for (int round = 0; round < 100; ++round) {
    std::vector<pid_t> pids = Procs(dir);
    if (pids.empty()) return absl::OkStatus();
    for (pid_t pid : pids) {
      if (::kill(pid, SIGKILL) == -1 && errno != ESRCH) return ipc::ErrnoError("kill", dir);
    }
    ::usleep(10000);  // the killed tasks leave cgroup.procs as they exit
  }
  return absl::DeadlineExceededError(
      absl::StrCat("processes in ", dir, " survived SIGKILL for a second"));
}

// rmdir, retrying on EBUSY: a task that was just killed stays charged to the cgroup briefly.
absl::Status RemoveDir(const std::string& dir) {
  for (int attempt = 0;; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
    if (errno != EBUSY || attempt >= 200) return ipc::ErrnoError("rmdir", dir);
    ::usleep(5000);  // EBUSY: wait for the last task to be released, then retry
  }
}

// The mount point of the v1 hierarchy that carries `controller`, from /proc/self/mounts.
std::string MountPointOf(absl::string_view controller) {
  std::ifstream mounts("/proc/self/mounts");
  std::string device, mount_point, type, options, rest;
  while (mounts >> device >> mount_point >> type >> options && std::getline(mounts, rest)) {
    if (type != "cgroup") continue;
    for (absl::string_view option : absl::StrSplit(options, ',')) {
      if (option == controller) return mount_point;
    }
  }
  return "";
}

// This process's cgroup in the v1 hierarchy of `controller`, from /proc/self/cgroup.
std::string OwnCgroupOf(absl::string_view controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3) continue;
    for (absl::string_view c : absl::StrSplit(fields[1], ',')) {
      if (c == controller) return std::string(fields[2]);
    }
  }
  return "";
}

// Removes sibling "ipclabs-grader-<pid>" directories of graders that are no longer running.
void SweepDeadGraders(const std::string& parent) {
  std::error_code ec;
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    int pid;
    if (!absl::StartsWith(name, "ipclabs-grader-") ||
        !absl::SimpleAtoi(name.substr(15), &pid) || !it->is_directory()) {
      continue;
    }
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive (or ours)
    (void)RemoveCgroupTree(it->path().string());  // best effort: a sweep must not stop a run
  }
}

// Creates <mount>/<own cgroup>/ipclabs-<name> for `controller`, sweeping leftovers.
absl::StatusOr<std::string> GraderDir(absl::string_view controller, const std::string& name) {
  std::string mount = MountPointOf(controller);
  if (mount.empty()) {
    return absl::UnavailableError(
        absl::StrCat("no cgroup v1 hierarchy with the ", controller, " controller is mounted"));
  }
  std::string parent = mount + OwnCgroupOf(controller);
  while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
  SweepDeadGraders(parent);
  std::string dir = absl::StrCat(parent, "/", absl::StartsWith(name, "ipclabs-") ? "" : "ipclabs-",
                                 name);
  if (::mkdir(dir.c_str(), 0755) == -1 && errno != EEXIST) return ipc::ErrnoError("mkdir", dir);
  // A grader of the same name that crashed left its case cgroups: remove them (not `dir`).
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory()) IPC_RETURN_IF_ERROR(RemoveCgroupTree(it->path().string()));
  }
  return dir;
}

}  // namespace

absl::Status RemoveCgroupTree(const std::string& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory()) IPC_RETURN_IF_ERROR(RemoveCgroupTree(it->path().string()));
  }
  IPC_RETURN_IF_ERROR(KillProcs(dir));
  return RemoveDir(dir);
}

absl::StatusOr<CgroupRoots> FindCgroupRoots(const std::string& name) {
  CgroupRoots roots;
  IPC_ASSIGN_OR_RETURN(roots.pids, GraderDir("pids", name));
  IPC_ASSIGN_OR_RETURN(roots.memory, GraderDir("memory", name));
  return roots;
}

absl::StatusOr<CaseCgroup> CaseCgroup::Create(const CgroupRoots& roots,
                                              const std::string& case_name, int max_pids,
                                              int64_t memory_bytes) {
  std::string pids_dir = absl::StrCat(roots.pids, "/", case_name);
  std::string memory_dir = absl::StrCat(roots.memory, "/", case_name);
  if (::mkdir(pids_dir.c_str(), 0755) == -1) return ipc::ErrnoError("mkdir", pids_dir);
  CaseCgroup cgroup(pids_dir, "");  // from here on, the destructor removes what exists
  if (::mkdir(memory_dir.c_str(), 0755) == -1) return ipc::ErrnoError("mkdir", memory_dir);
  cgroup.memory_dir_ = memory_dir;
  IPC_RETURN_IF_ERROR(WriteControl(pids_dir + "/pids.max", absl::StrCat(max_pids)));
  // memory before memsw: the kernel requires memsw.limit >= limit at every step.
  IPC_RETURN_IF_ERROR(
      WriteControl(memory_dir + "/memory.limit_in_bytes", absl::StrCat(memory_bytes)));
  std::string memsw = memory_dir + "/memory.memsw.limit_in_bytes";
  if (::access(memsw.c_str(), W_OK) == 0) {  // only with swap accounting
    IPC_RETURN_IF_ERROR(WriteControl(memsw, absl::StrCat(memory_bytes)));
  }
  return cgroup;
}

CaseCgroup::CaseCgroup(CaseCgroup&& other) noexcept
    : pids_dir_(std::exchange(other.pids_dir_, "")),
      memory_dir_(std::exchange(other.memory_dir_, "")) {}

CaseCgroup& CaseCgroup::operator=(CaseCgroup&& other) noexcept {
  if (this != &other) {
    (void)Remove();
    pids_dir_ = std::exchange(other.pids_dir_, "");
    memory_dir_ = std::exchange(other.memory_dir_, "");
  }
  return *this;
}

CaseCgroup::~CaseCgroup() { (void)Remove(); }

std::vector<std::string> CaseCgroup::procs_files() const {
  return {pids_dir_ + "/cgroup.procs", memory_dir_ + "/cgroup.procs"};
}

int64_t CaseCgroup::OomKills() const {
  return KeyedValue(memory_dir_ + "/memory.oom_control", "oom_kill");
}

int64_t CaseCgroup::PeakMemory() const {
  return SingleValue(memory_dir_ + "/memory.max_usage_in_bytes");
}

int64_t CaseCgroup::PeakPids() const { return SingleValue(pids_dir_ + "/pids.peak"); }

int64_t CaseCgroup::PidsLimitHits() const { return KeyedValue(pids_dir_ + "/pids.events", "max"); }

absl::Status CaseCgroup::KillAll() {
  for (const std::string& dir : {pids_dir_, memory_dir_}) {
    if (!dir.empty()) IPC_RETURN_IF_ERROR(KillProcs(dir));
  }
  return absl::OkStatus();
}

absl::Status CaseCgroup::Remove() {
  absl::Status status = KillAll();
  for (std::string* dir : {&pids_dir_, &memory_dir_}) {
    if (dir->empty()) continue;
    absl::Status removed = RemoveDir(*dir);
    if (removed.ok()) dir->clear();
    if (status.ok()) status = removed;
  }
  return status;
}

}  // namespace grader
