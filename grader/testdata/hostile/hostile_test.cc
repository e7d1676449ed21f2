// grader/testdata/hostile/hostile_test.cc: test cases that attack the grader, on purpose.
//
// Each case is what a careless or malicious student submission could do inside a lab test: spin
// forever, fork-bomb, eat memory, fill /tmp and /dev/shm, crash, leak every kind of IPC object,
// leave a daemon behind, fake the test framework's output, exit from a static initializer, forge
// a report, use the network, write outside its scratch directory. The partner file,
// grader/sandbox_test.cc, runs each case through Sandbox::RunCase and asserts the exact outcome
// and that nothing is left on the host.
//
// Never run this binary by hand: outside the sandbox it would leak objects on your machine. Every
// case skips itself unless the grader started it (the grader's verdict channel is present when
// static initializers run; see common/testing/verdict.h).
//
//   bazel build //grader/testdata/hostile:hostile_test     (tagged manual)
//   bazel test //grader:sandbox_test                      (runs it, contained)
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <net/if.h>
#include <netinet/in.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/process.h"
#include "common/testing/verdict.h"
#include "gtest/gtest.h"

namespace {

// The whole command line, NUL-separated arguments joined by spaces.
std::string CommandLine() {
  std::ifstream in("/proc/self/cmdline");
  std::stringstream text;
  text << in.rdbuf();
  std::string line = text.str();
  for (char& c : line) {
    if (c == '\0') c = ' ';
  }
  return line;
}

// Was this process started by the grader's sandbox? (It sets IPCLABS_SANDBOXED; the verdict
// variables themselves are gone: test_main takes them before any other static initializer.)
const bool kUnderGrader = std::getenv("IPCLABS_SANDBOXED") != nullptr;

// Every hostile case starts with this: outside the grader it would do real damage.
#define REQUIRE_GRADER()                                                              \
  if (!kUnderGrader) GTEST_SKIP() << "hostile case: runs only inside the grader's sandbox " \
                                     "(grader/sandbox_test.cc)"

// Attack: `_exit(0)` from a static initializer, before GoogleTest or the grader's listener ever
// runs, when the filter names this case. A grader that trusts exit codes would score a pass.
const bool kExitedEarly = [] {
  if (CommandLine().find("Hostile.ExitsFromStaticInitializer") != std::string::npos) {
    std::printf("[==========] Running 1 test from 1 test suite.\n[  PASSED  ] 1 test.\n");
    std::fflush(stdout);
    ::_exit(0);
  }
  return false;
}();

// Attack: steal the nonce in a static initializer, write a perfect passing report with it, and
// leave before the case runs. The grader's descriptors are numbered 3 (verdict) and 4 (nonce);
// the thief tries the environment first and then the numbers directly. It comes too late:
// test_main's constructor (priority 101, in a statically linked binary) has already read and
// closed the nonce descriptor and removed the variables.
const bool kStoleNonce = [] {
  if (CommandLine().find("Hostile.StealsTheNonce") == std::string::npos) return false;
  const char* nonce_env = std::getenv(ipc::testing::kNonceFdEnv);
  const char* verdict_env = std::getenv(ipc::testing::kVerdictFdEnv);
  int nonce_fd = nonce_env != nullptr ? std::atoi(nonce_env) : 4;
  int verdict_fd = verdict_env != nullptr ? std::atoi(verdict_env) : 3;
  char nonce[128];
  ssize_t n = ::read(nonce_fd, nonce, sizeof nonce - 1);
  if (n <= 0) return false;
  nonce[n] = '\0';
  std::string prefix = std::string("{\"nonce\":\"") + nonce + "\",";
  std::string lines = prefix + "\"event\":\"start\",\"binary\":\"hostile_test\"}\n" + prefix +
                      "\"event\":\"case\",\"suite\":\"Hostile\",\"name\":\"StealsTheNonce\","
                      "\"result\":\"passed\",\"elapsed_ms\":0,\"failures\":[]}\n" +
                      prefix + "\"event\":\"end\",\"passed\":1,\"failed\":0}\n";
  (void)!::write(verdict_fd, lines.data(), lines.size());
  ::_exit(0);
}();

TEST(Hostile, WellBehavedPasses) { EXPECT_EQ(2 + 2, 4); }

TEST(Hostile, PlainlyFails) {
  EXPECT_EQ(2 + 2, 5) << "arithmetic is hard (this case fails on purpose)";
}

TEST(Hostile, SkipsItself) { GTEST_SKIP() << "nothing to do here (skips on purpose)"; }

// From the inside: the case must see a cage. Passes only when the sandbox is really there.
TEST(Hostile, ChecksItsCage) {
  REQUIRE_GRADER();
  EXPECT_NE(::getuid(), 0u) << "student code must never run as root";
  struct rlimit core;
  ASSERT_EQ(::getrlimit(RLIMIT_CORE, &core), 0);
  EXPECT_EQ(core.rlim_cur, 0u) << "core dumps must be off";
  EXPECT_LT(::getpid(), 10) << "the case runs in a fresh PID namespace";
  struct statfs fs;
  ASSERT_EQ(::statfs("/tmp", &fs), 0);
  EXPECT_EQ(fs.f_type, 0x01021994) << "/tmp is a private tmpfs";  // TMPFS_MAGIC
  ASSERT_EQ(::statfs("/dev/shm", &fs), 0);
  EXPECT_EQ(fs.f_type, 0x01021994) << "/dev/shm is a private tmpfs";
  struct if_nameindex* interfaces = ::if_nameindex();
  ASSERT_NE(interfaces, nullptr);
  int count = 0;
  for (struct if_nameindex* i = interfaces; i->if_index != 0; ++i) ++count;
  ::if_freenameindex(interfaces);
  EXPECT_EQ(count, 1) << "a fresh network namespace has only lo";
  // Only stdin, stdout, stderr and the grader's verdict pipe (3) may be open: no descriptor of
  // the grader or of bubblewrap (its status and block pipes) reaches student code.
  DIR* fds = ::opendir("/proc/self/fd");
  ASSERT_NE(fds, nullptr) << std::strerror(errno);
  while (struct dirent* entry = ::readdir(fds)) {
    if (entry->d_name[0] == '.') continue;
    int fd = std::atoi(entry->d_name);
    if (fd == ::dirfd(fds)) continue;  // the directory being listed
    EXPECT_LE(fd, 3) << "descriptor " << fd << " leaked into the sandbox";
  }
  ::closedir(fds);
  std::ifstream shm("/proc/sysvipc/shm");
  std::string header, row;
  std::getline(shm, header);
  EXPECT_FALSE(std::getline(shm, row)) << "a fresh IPC namespace has no segments: " << row;
}

TEST(Hostile, LoopsForever) {
  REQUIRE_GRADER();
  volatile unsigned long spins = 0;
  for (;;) spins = spins + 1;
}

// Every process keeps forking; when fork fails (pids limit), it waits a little and tries again.
TEST(Hostile, ForkBomb) {
  REQUIRE_GRADER();
  for (;;) {
    if (::fork() == -1) ::usleep(20000);
  }
}

TEST(Hostile, MemoryBomb) {
  REQUIRE_GRADER();
  std::vector<char*> hoard;
  for (;;) {
    char* chunk = static_cast<char*>(std::malloc(1 << 20));
    if (chunk == nullptr) continue;  // keep trying: the cgroup, not malloc, must stop us
    std::memset(chunk, 0x5a, 1 << 20);
    hoard.push_back(chunk);
  }
}

// Writes 1 MiB blocks to `path` until a write fails, then reports the error.
void FillFile(const char* path) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_NE(fd, -1) << "open(" << path << "): " << std::strerror(errno);
  std::vector<char> block(1 << 20, 'F');
  long long written = 0;
  for (;;) {
    ssize_t n = ::write(fd, block.data(), block.size());
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      FAIL() << "write(" << path << ") stopped after " << written << " bytes: "
             << std::strerror(err);
    }
    written += n;
  }
}

TEST(Hostile, FillsTmp) {
  REQUIRE_GRADER();
  FillFile("/tmp/ipclabs-fill");
}

TEST(Hostile, FillsDevShm) {
  REQUIRE_GRADER();
  FillFile("/dev/shm/ipclabs-fill");
}

TEST(Hostile, Segfaults) {
  REQUIRE_GRADER();
  int* volatile nowhere = nullptr;
  *nowhere = 42;
}

TEST(Hostile, AbortsInChild) {
  REQUIRE_GRADER();
  auto child = ipc::Child::Fork([] {
    std::abort();
    return 0;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  auto status = child->Wait(absl::Seconds(5));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->Succeeded()) << "the child " << status->ToString();
}

// Two processes, two semaphores, opposite order: each holds one and waits for the other.
TEST(Hostile, DeadlocksTwoProcesses) {
  REQUIRE_GRADER();
  void* shared = ::mmap(nullptr, 2 * sizeof(sem_t), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED) << std::strerror(errno);
  sem_t* first = static_cast<sem_t*>(shared);
  sem_t* second = first + 1;
  ASSERT_EQ(::sem_init(first, 1, 0), 0);   // held by the parent from the start
  ASSERT_EQ(::sem_init(second, 1, 0), 0);  // held by the child from the start
  auto child = ipc::Child::Fork([&] {
    while (::sem_wait(first) == -1) {}  // waits for the parent, who waits for us
    ::sem_post(second);
    return 0;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  while (::sem_wait(second) == -1) {}  // waits for the child, who waits for us
  ::sem_post(first);
}

// Creates one object of every kind and "forgets" to remove them.
TEST(Hostile, LeaksEveryKind) {
  REQUIRE_GRADER();
  ASSERT_NE(::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600), -1) << std::strerror(errno);
  ASSERT_NE(::semget(IPC_PRIVATE, 2, IPC_CREAT | 0600), -1) << std::strerror(errno);
  ASSERT_NE(::msgget(IPC_PRIVATE, IPC_CREAT | 0600), -1) << std::strerror(errno);
  int fd = ::shm_open("/ipclabs-leak-shm", O_CREAT | O_RDWR, 0600);
  ASSERT_NE(fd, -1) << std::strerror(errno);
  ASSERT_EQ(::ftruncate(fd, 8192), 0) << std::strerror(errno);
  ::close(fd);
  sem_t* sem = ::sem_open("/ipclabs-leak-sem", O_CREAT, 0600, 1);
  ASSERT_NE(sem, SEM_FAILED) << std::strerror(errno);
  ::sem_close(sem);
  mqd_t mq = ::mq_open("/ipclabs-leak-mq", O_CREAT | O_RDWR, 0600, nullptr);
  ASSERT_NE(mq, static_cast<mqd_t>(-1)) << std::strerror(errno);
  ::mq_close(mq);
}

// setsid + double fork: a daemon that outlives its test, renamed so the host can look for it.
TEST(Hostile, LeavesDaemonBehind) {
  REQUIRE_GRADER();
  pid_t first = ::fork();
  ASSERT_NE(first, -1);
  if (first == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    ::prctl(PR_SET_NAME, "ipclabs-daemon");
    for (int fd = 0; fd < 1024; ++fd) ::close(fd);
    for (;;) ::pause();
  }
  ::waitpid(first, nullptr, 0);
}

// Prints what a passing GoogleTest run prints, then leaves before the framework can say otherwise.
TEST(Hostile, PrintsFakeSuccess) {
  REQUIRE_GRADER();
  std::printf("[       OK ] Hostile.PrintsFakeSuccess (0 ms)\n"
              "[----------] 1 test from Hostile (0 ms total)\n\n"
              "[==========] 1 test from 1 test suite ran. (0 ms total)\n"
              "[  PASSED  ] 1 test.\n");
  std::fflush(stdout);
  ::_exit(0);
}

TEST(Hostile, ExitsFromStaticInitializer) {
  // Never reached under the grader: the static initializer above exits first.
  EXPECT_FALSE(kExitedEarly);
}

// Writes a passing JUnit report where --gtest_output would put it (or ./test_detail.xml in /tmp),
// then exits 0 before GoogleTest writes the real one.
TEST(Hostile, ForgesGtestOutput) {
  REQUIRE_GRADER();
  std::string path = "/tmp/test_detail.xml";
  std::string command_line = CommandLine();
  size_t at = command_line.find("--gtest_output=xml:");
  if (at != std::string::npos) {
    path = command_line.substr(at + 19, command_line.find(' ', at) - at - 19);
  }
  std::ofstream report(path);
  report << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"1\" failures=\"0\">"
            "<testsuite name=\"Hostile\" tests=\"1\" failures=\"0\"><testcase "
            "name=\"ForgesGtestOutput\" status=\"run\" result=\"completed\"/></testsuite>"
            "</testsuites>\n";
  report.close();
  std::printf("forged %s\n", path.c_str());
  std::exit(0);
}

// Writes forged verdict lines (with a guessed nonce) to every descriptor it may own, then exits 0.
TEST(Hostile, ForgesVerdictPipe) {
  REQUIRE_GRADER();
  const std::string forged =
      "{\"nonce\":\"00000000000000000000000000000000\",\"event\":\"case\",\"suite\":\"Hostile\","
      "\"name\":\"ForgesVerdictPipe\",\"result\":\"passed\",\"elapsed_ms\":0,\"failures\":[]}\n"
      "{\"nonce\":\"00000000000000000000000000000000\",\"event\":\"end\",\"passed\":1,"
      "\"failed\":0}\n";
  for (int fd = 3; fd < 64; ++fd) (void)!::write(fd, forged.data(), forged.size());
  ::_exit(0);
}

// Tries to reach the outside world and a port the grader's host listens on (its number is in
// ./host_port, written by sandbox_test). Both must fail.
TEST(Hostile, TriesTheNetwork) {
  REQUIRE_GRADER();
  int outside = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_NE(outside, -1) << std::strerror(errno);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(53);
  ::inet_pton(AF_INET, "1.1.1.1", &address.sin_addr);
  int rc = ::connect(outside, reinterpret_cast<sockaddr*>(&address), sizeof address);
  EXPECT_EQ(rc, 0) << "connect(1.1.1.1:53): " << std::strerror(errno);
  ::close(outside);

  int port = 0;
  std::ifstream("host_port") >> port;
  ASSERT_GT(port, 0) << "./host_port is missing";
  int local = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_NE(local, -1) << std::strerror(errno);
  address.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  rc = ::connect(local, reinterpret_cast<sockaddr*>(&address), sizeof address);
  EXPECT_EQ(rc, 0) << "connect(127.0.0.1:" << port << "): " << std::strerror(errno);
  ::close(local);
}

// Tries to create files outside its private /tmp: in its working directory and on the host.
TEST(Hostile, WritesOutsideScratch) {
  REQUIRE_GRADER();
  for (const char* path : {"escape.txt", "/var/tmp/ipclabs-hostile-escape",
                           "/etc/ipclabs-hostile-escape"}) {
    int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_NE(fd, -1) << "open(" << path << "): " << std::strerror(errno);
    if (fd != -1) ::close(fd);
  }
  // Allowed, and private: the host's /tmp must never see it.
  int fd = ::open("/tmp/ipclabs-hostile-inside", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EXPECT_NE(fd, -1) << "open(/tmp/ipclabs-hostile-inside): " << std::strerror(errno);
  if (fd != -1) ::close(fd);
}

// Prints 1 MiB, then passes: the grader keeps its cap and says how much it dropped.
TEST(Hostile, FloodsOutput) {
  REQUIRE_GRADER();
  std::string line(1023, 'x');
  line += '\n';
  for (int i = 0; i < 1024; ++i) std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
}

TEST(Hostile, StealsTheNonce) {
  // Reached when the theft above failed, as it must.
  EXPECT_FALSE(kStoleNonce);
  FAIL() << "this case fails whenever it really runs";
}

// Prints without end: the grader must still keep its cap and its deadline.
TEST(Hostile, FloodsOutputForever) {
  REQUIRE_GRADER();
  std::string line(1023, 'y');
  line += '\n';
  for (;;) std::fputs(line.c_str(), stdout);
}

// Tries to read an instructor's file (its path is in ./secret_path, written by sandbox_test):
// solutions and hidden tests live on the same machine.
TEST(Hostile, ReadsInstructorFiles) {
  REQUIRE_GRADER();
  std::string path;
  std::ifstream("secret_path") >> path;
  ASSERT_FALSE(path.empty()) << "./secret_path is missing";
  std::ifstream secret(path);
  ASSERT_TRUE(secret.is_open()) << "open(" << path << "): " << std::strerror(errno);
  std::string text;
  std::getline(secret, text);
  std::printf("stolen: %s\n", text.c_str());
}

// Burns CPU past RLIMIT_CPU (the grader sets a CPU limit below the wall-clock timeout).
TEST(Hostile, BurnsCpu) {
  REQUIRE_GRADER();
  volatile unsigned long spins = 0;
  for (;;) spins = spins + 1;
}

}  // namespace
