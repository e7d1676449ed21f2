// labs/numa/numa_guest.cc: boots a multi-node QEMU guest that runs this test binary (see
// numa_guest.h). Not yours to change.
#include "labs/numa/numa_guest.h"

#include <elf.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/process.h"
#include "common/status.h"
#include "common/timing.h"

namespace numa::guest {
namespace {

bool IsFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string FindQemu() {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "", ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/qemu-system-x86_64");
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return ::access("/usr/bin/qemu-system-x86_64", X_OK) == 0 ? "/usr/bin/qemu-system-x86_64" : "";
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ipc::ErrnoError("open", path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A "newc" cpio archive, the format the kernel unpacks into its initial root file system.
class Cpio {
 public:
  void Directory(const std::string& path) {
    if (path.empty() || !dirs_.insert(path).second) return;
    Directory(path.substr(0, path.rfind('/')));
    Entry(path, 040755, "");
  }
  void File(const std::string& path, const std::string& data, bool executable) {
    Directory(path.substr(0, path.rfind('/')));
    Entry(path, executable ? 0100755 : 0100644, data);
  }
  void Symlink(const std::string& path, const std::string& target) {
    if (!links_.insert(path).second) return;
    Directory(path.substr(0, path.rfind('/')));
    Entry(path, 0120777, target);
  }
  std::string Finish() {
    Entry("TRAILER!!!", 0, "");
    return std::move(out_);
  }

 private:
  void Entry(std::string path, unsigned mode, const std::string& data) {
    if (absl::StartsWith(path, "/")) path.erase(0, 1);
    absl::StrAppendFormat(&out_, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                          ++inode_, mode, 0, 0, 1, 0, data.size(), 0, 0, 0, 0, path.size() + 1, 0);
    out_ += path;
    out_.push_back('\0');
    Pad();
    out_ += data;
    Pad();
  }
  void Pad() { out_.append((4 - out_.size() % 4) % 4, '\0'); }

  std::string out_;
  std::set<std::string> dirs_;
  std::set<std::string> links_;
  unsigned inode_ = 0;
};

// The shared objects this process has loaded (the dynamic loader included), from /proc/self/maps.
std::vector<std::string> LoadedLibraries() {
  std::set<std::string> seen;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    if (absl::StrContains(path, ".so") && IsFile(path)) seen.insert(path);
  }
  return {seen.begin(), seen.end()};
}

// The PT_INTERP path of an ELF executable, or "" for a static one.
absl::StatusOr<std::string> Interpreter(const std::string& elf) {
  Elf64_Ehdr header;
  if (elf.size() < sizeof header) return absl::InvalidArgumentError("not an ELF file");
  std::memcpy(&header, elf.data(), sizeof header);
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph;
    const size_t at = header.e_phoff + static_cast<size_t>(i) * header.e_phentsize;
    if (at + sizeof ph > elf.size()) break;
    std::memcpy(&ph, elf.data() + at, sizeof ph);
    if (ph.p_type == PT_INTERP && ph.p_offset + ph.p_filesz <= elf.size()) {
      return std::string(elf.c_str() + ph.p_offset);  // NUL-terminated in the file
    }
  }
  return std::string();
}

std::string InitScript(const std::string& binary, const std::string& filter) {
  return absl::StrCat(R"SH(#!/bin/busybox sh
# The guest's first process: mount what the tests read, run them, report through isa-debug-exit.
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
$B mkdir -p /dev/shm /tmp
$B mount -t tmpfs shm /dev/shm
# /tmp stays part of the initramfs (already in memory): the test binary may live under it.
export IPCLABS_NUMA_GUEST=1 TEST_TMPDIR=/tmp PATH=/bin
echo "IPCLABS_GUEST_NODES $($B cat /sys/devices/system/node/online)"
')SH",
                      binary, R"SH(' --gtest_color=no '--gtest_filter=)SH", filter, R"SH('
rc=$?
echo "IPCLABS_GUEST_END rc=$rc"
if [ $rc -eq 0 ]; then v='\000'; else v='\001'; fi
# isa-debug-exit at port 0xf4 (244): QEMU exits with (v << 1) | 1.
$B printf "$v" | $B dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
$B poweroff -f
)SH");
}

}  // namespace

bool InGuest() { return std::getenv(kInGuestEnv) != nullptr; }

absl::StatusOr<std::string> GuestDir() {
  std::vector<std::string> places;
  if (const char* env = std::getenv("IPCLABS_NUMA_GUEST_DIR")) places.push_back(env);
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_dir != nullptr) {
    places.push_back(absl::StrCat(pw->pw_dir, "/.cache/ipclabs/numa-guest"));
  }
  places.push_back("/var/cache/ipclabs/numa-guest");
  std::string dir;
  for (const std::string& place : places) {
    if (IsFile(place + "/vmlinux") && IsFile(place + "/busybox")) {
      dir = place;
      break;
    }
  }
  if (dir.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no NUMA guest kernel in ", absl::StrJoin(places, " or "),
        ": run tools/numa_guest_setup.sh (./labctl setup does) to run the multi-node cases in a "
        "QEMU guest"));
  }
  if (FindQemu().empty()) {
    return absl::NotFoundError(
        "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86): the multi-node "
        "cases cannot run in a guest");
  }
  return dir;
}

absl::StatusOr<GuestResult> RunInGuest(int nodes, const std::string& filter,
                                       const std::string& scratch, absl::Duration timeout) {
  if (nodes < 1 || nodes > 8) return absl::InvalidArgumentError("a guest has 1 to 8 nodes");
  for (char c : filter) {
    if (!absl::ascii_isalnum(c) && !absl::StrContains("_.*:/-", c)) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected character in filter: ", filter));
    }
  }
  IPC_ASSIGN_OR_RETURN(std::string dir, GuestDir());

  // Phase 1: the initramfs: busybox, /init, this binary as /test, its shared libraries.
  Cpio cpio;
  for (const char* d : {"/bin", "/proc", "/sys", "/dev", "/tmp"}) cpio.Directory(d);
  IPC_ASSIGN_OR_RETURN(std::string busybox, ReadFile(dir + "/busybox"));
  cpio.File("/bin/busybox", busybox, true);
  // The binary keeps its own path, so that its $ORIGIN-relative run path (Bazel links tests
  // against libraries in a _solib directory beside them) finds the libraries copied below.
  char self_path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self_path, sizeof self_path - 1);
  if (n == -1) return ipc::ErrnoError("readlink", "/proc/self/exe");
  const std::string self(self_path, static_cast<size_t>(n));
  IPC_ASSIGN_OR_RETURN(std::string binary, ReadFile(self));
  cpio.File(self, binary, true);
  cpio.File("/init", InitScript(self, filter), true);
  // /proc/self/maps names each library's real file (libabsl_time.so.20220623.0.0); the loader
  // asks for its soname (libabsl_time.so.20220623), a symbolic link on the host: link every
  // shorter version-suffixed name to the file.
  for (const std::string& library : LoadedLibraries()) {
    IPC_ASSIGN_OR_RETURN(std::string data, ReadFile(library));
    cpio.File(library, data, true);
    const std::string base = library.substr(library.rfind('/') + 1);
    for (std::string name = library; name.size() > library.size() - base.size();) {
      const size_t dot = name.rfind('.');
      if (dot == std::string::npos || name.compare(dot, 3, ".so") == 0) break;
      name.resize(dot);
      cpio.Symlink(name, base);
    }
  }
  // The program interpreter as the binary names it (/lib64/ld-linux-x86-64.so.2), a link on the
  // host to the file /proc/self/maps shows.
  IPC_ASSIGN_OR_RETURN(std::string interpreter, Interpreter(binary));
  if (!interpreter.empty()) {
    char real[4096];
    if (::realpath(interpreter.c_str(), real) == nullptr)
      return ipc::ErrnoError("realpath", interpreter);
    if (interpreter != real) cpio.Symlink(interpreter, real);
  }
  const std::string initramfs = absl::StrCat(scratch, "/numa-guest-", ::getpid(), ".cpio");
  const std::string console_path = absl::StrCat(scratch, "/numa-guest-", ::getpid(), ".console");
  {
    std::ofstream out(initramfs, std::ios::binary | std::ios::trunc);
    out << cpio.Finish();
    if (!out) return ipc::ErrnoError("write", initramfs);
  }

  // Phase 2: boot. Node 0 holds the kernel and the initramfs, so it gets more memory. CPUs are
  // numbered against the nodes (node n has CPU nodes-1-n), so that CPU #n is not on node n: code
  // that confuses a node mask with a CPU mask (NU4) lands on the wrong node.
  std::vector<std::string> args = {"qemu-system-x86_64",
                                   "-accel",
                                   "tcg,tb-size=64",
                                   "-machine",
                                   "pc",
                                   "-cpu",
                                   "qemu64",
                                   "-m",
                                   absl::StrCat(256 + 128 * (nodes - 1), "M"),
                                   "-smp",
                                   absl::StrCat(nodes),
                                   "-display",
                                   "none",
                                   "-serial",
                                   "stdio",
                                   "-monitor",
                                   "none",
                                   "-no-reboot",
                                   "-nic",
                                   "none",
                                   "-kernel",
                                   dir + "/vmlinux",
                                   "-initrd",
                                   initramfs,
                                   "-append",
                                   "console=ttyS0 quiet panic=-1 rdinit=/init",
                                   "-device",
                                   "isa-debug-exit,iobase=0xf4,iosize=0x04"};
  for (int n = 0; n < nodes; ++n) {
    args.insert(
        args.end(),
        {"-object", absl::StrCat("memory-backend-ram,id=m", n, ",size=", n == 0 ? 256 : 128, "M"),
         "-numa", absl::StrCat("node,nodeid=", n, ",cpus=", nodes - 1 - n, ",memdev=m", n)});
  }
  const int console_fd =
      ::open(console_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (console_fd == -1) return ipc::ErrnoError("open", console_path);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd == -1) {
    ::close(console_fd);
    return ipc::ErrnoError("open", "/dev/null");
  }
  ipc::ExecOptions options;
  options.stdin_fd = null_fd;
  options.stdout_fd = console_fd;
  options.stderr_fd = console_fd;
  ipc::Stopwatch watch;
  absl::StatusOr<ipc::Child> qemu = ipc::Child::Exec(FindQemu(), args, options);
  ::close(console_fd);
  ::close(null_fd);
  if (!qemu.ok()) {
    ::unlink(initramfs.c_str());
    return qemu.status();
  }
  absl::StatusOr<ipc::ExitStatus> exit = qemu->Wait(timeout);
  GuestResult result;
  result.wall = watch.Elapsed();
  ::unlink(initramfs.c_str());
  IPC_ASSIGN_OR_RETURN(result.console, ReadFile(console_path));
  ::unlink(console_path.c_str());
  IPC_RETURN_IF_ERROR(exit.status());

  // Phase 3: the verdicts. "[       OK ] Suite.Name (12 ms)": the summary at the end repeats
  // failed and skipped names without a time, so only lines with " (" count.
  for (absl::string_view line : absl::StrSplit(result.console, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    for (const auto& [tag, verdict] :
         {std::pair{"[       OK ] ", "passed"}, std::pair{"[  FAILED  ] ", "failed"},
          std::pair{"[  SKIPPED ] ", "skipped"}}) {
      if (!absl::ConsumePrefix(&line, tag)) continue;
      const size_t paren = line.find(" (");
      if (paren != absl::string_view::npos)
        result.cases[std::string(line.substr(0, paren))] = verdict;
    }
  }
  const auto tail = [&] {
    std::string text = result.console;
    return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
  };
  if (exit->kind == ipc::ExitStatus::Kind::kTimedOut) {
    return absl::DeadlineExceededError(absl::StrCat("the guest did not finish within ",
                                                    absl::FormatDuration(timeout), ":\n", tail()));
  }
  // isa-debug-exit: 1 = the guest wrote 0 (all passed), 3 = it wrote 1 (a case failed).
  if (exit->kind != ipc::ExitStatus::Kind::kExited || (exit->code != 1 && exit->code != 3)) {
    return absl::InternalError(absl::StrCat("the guest never reported a verdict (QEMU ",
                                            exit->ToString(), "):\n", tail()));
  }
  result.all_passed = exit->code == 1;
  return result;
}

const absl::StatusOr<GuestResult>& BootOnce(int nodes, const std::string& filter) {
  static auto* boots = new std::map<int, absl::StatusOr<GuestResult>>();
  auto it = boots->find(nodes);
  if (it == boots->end()) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    it = boots->emplace(nodes, RunInGuest(nodes, filter, tmp ? tmp : "/tmp")).first;
    if (it->second.ok()) {
      std::printf("%d-node guest: booted, ran %zu cases and powered off in %s\n", nodes,
                  it->second->cases.size(), absl::FormatDuration(it->second->wall).c_str());
      std::fflush(stdout);
    }
  }
  return it->second;
}

}  // namespace numa::guest
