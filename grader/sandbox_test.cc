// grader/sandbox_test.cc: the grader's sandbox, tested against hostile test cases.
//
// Two parts. The first checks the pure rules (sandbox_verdict.h: which lines are trusted, which
// outcome a run gets, how --gtest_list_tests is read) on any machine. The second runs every case
// of grader/testdata/hostile/hostile_test.cc (its partner file) through Sandbox::RunCase and
// asserts the exact outcome, and, after each, that nothing is left on the host: no process of the
// case, no case cgroup, no IPC object, no file outside the sandbox. It needs root, bubblewrap and
// cgroup v1 (see DESIGN.md "Containment"); not as root it skips, loudly.
//
//   bazel --output_base=/root/.cache/bazel-ob-sandbox test //grader:sandbox_test
#include "grader/sandbox.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ipc_snapshot.h"
#include "common/testing/testing.h"
#include "gmock/gmock.h"
#include "grader/sandbox_verdict.h"
#include "gtest/gtest.h"

namespace grader {
namespace {

using ::ipc::IpcObject;
using ::ipc::testing::IsOk;
using ::ipc::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Outcome = CaseResult::Outcome;

constexpr char kNonce[] = "0123456789abcdef0123456789abcdef";

std::string Line(const std::string& body) {
  return absl::StrCat("{\"nonce\":\"", kNonce, "\",", body, "}\n");
}

std::string PassingRun(const std::string& suite, const std::string& name) {
  return Line("\"event\":\"start\",\"binary\":\"t\"") +
         Line(absl::StrCat("\"event\":\"case\",\"suite\":\"", suite, "\",\"name\":\"", name,
                           "\",\"result\":\"passed\",\"elapsed_ms\":1,\"failures\":[]")) +
         Line("\"event\":\"end\",\"passed\":1,\"failed\":0");
}

RunFacts ExitedWith(int code) {
  RunFacts facts;
  facts.exited = true;
  facts.exit_code = code;
  return facts;
}

// ---- The pure rules (any machine) -------------------------------------------------------------

TEST(ParseVerdictTest, TrustsOnlyLinesThatCarryTheNonce) {
  std::string text = PassingRun("S", "C") +
                     "{\"nonce\":\"guess\",\"event\":\"case\",\"suite\":\"S\",\"name\":\"D\","
                     "\"result\":\"passed\"}\n";
  VerdictReport report = ParseVerdict(text, kNonce);
  EXPECT_TRUE(report.started);
  EXPECT_TRUE(report.ended);
  ASSERT_EQ(report.cases.size(), 1u) << "only the line with our nonce is a verdict";
  EXPECT_EQ(report.cases[0].name, "C");
  EXPECT_EQ(report.wrong_nonce_lines, 1);
}

TEST(ParseVerdictTest, CountsLinesThatAreNotVerdicts) {
  VerdictReport report = ParseVerdict("[       OK ] S.C\n{\"no\":\"event\"}\n{broken", kNonce);
  EXPECT_EQ(report.malformed_lines, 3);
  EXPECT_THAT(report.cases, IsEmpty());
}

TEST(ParseVerdictTest, ReadsFailuresWithFileLineAndMessage) {
  VerdictReport report = ParseVerdict(
      Line("\"event\":\"case\",\"suite\":\"S\",\"name\":\"C\",\"result\":\"failed\","
           "\"failures\":[{\"file\":\"a.cc\",\"line\":7,\"message\":\"boom\\nmore\"}]"),
      kNonce);
  ASSERT_EQ(report.cases.size(), 1u);
  ASSERT_EQ(report.cases[0].failures.size(), 1u);
  EXPECT_EQ(report.cases[0].failures[0].file, "a.cc");
  EXPECT_EQ(report.cases[0].failures[0].line, 7);
  EXPECT_EQ(report.cases[0].failures[0].message, "boom\nmore");
}

TEST(DecideOutcomeTest, APassNeedsTheCaseLineTheEndLineAndExitCodeZero) {
  CaseLimits limits;
  VerdictReport full = ParseVerdict(PassingRun("S", "C"), kNonce);
  EXPECT_EQ(DecideOutcome(ExitedWith(0), full, "S.C", limits).outcome, Outcome::kPassed);
  EXPECT_EQ(DecideOutcome(ExitedWith(1), full, "S.C", limits).outcome, Outcome::kNoVerdict)
      << "a non-zero exit after a pass is not a pass";
  VerdictReport no_end = full;
  no_end.ended = false;
  EXPECT_EQ(DecideOutcome(ExitedWith(0), no_end, "S.C", limits).outcome, Outcome::kNoVerdict)
      << "a run that never reported its end did not finish";
  EXPECT_EQ(DecideOutcome(ExitedWith(0), full, "S.Other", limits).outcome, Outcome::kNoVerdict)
      << "a verdict for another case is no verdict for this one";
  EXPECT_EQ(DecideOutcome(ExitedWith(0), VerdictReport{}, "S.C", limits).outcome,
            Outcome::kNoVerdict)
      << "exit code 0 alone is never a pass";
}

TEST(DecideOutcomeTest, APassFromATamperedChannelIsNotTrusted) {
  std::string forged =
      "{\"nonce\":\"guess\",\"event\":\"case\",\"suite\":\"S\",\"name\":\"C\","
      "\"result\":\"passed\"}\n";
  CaseResult result =
      DecideOutcome(ExitedWith(0), ParseVerdict(PassingRun("S", "C") + forged, kNonce), "S.C", {});
  EXPECT_EQ(result.outcome, Outcome::kNoVerdict) << result.summary;
  EXPECT_THAT(result.summary, HasSubstr("tampered"));
  CaseResult twice = DecideOutcome(
      ExitedWith(0), ParseVerdict(PassingRun("S", "C") + PassingRun("S", "C"), kNonce), "S.C", {});
  EXPECT_EQ(twice.outcome, Outcome::kNoVerdict) << "two verdicts for one case: one is forged";
}

TEST(DecideOutcomeTest, AnOomKillIsReportedWithTheLimitNotAsSigkill) {
  CaseLimits limits;
  limits.memory_bytes = int64_t{64} << 20;
  RunFacts facts = ExitedWith(128 + SIGKILL);
  facts.oom_kills = 1;
  CaseResult result = DecideOutcome(facts, VerdictReport{}, "S.C", limits);
  EXPECT_EQ(result.outcome, Outcome::kOutOfMemory);
  EXPECT_THAT(result.summary, HasSubstr("ran out of memory (limit 64 MiB)"));
}

TEST(DecideOutcomeTest, BubblewrapsExitCodeAbove128IsASignal) {
  CaseResult result = DecideOutcome(ExitedWith(128 + SIGSEGV), VerdictReport{}, "S.C", {});
  EXPECT_EQ(result.outcome, Outcome::kCrashed);
  EXPECT_EQ(result.signal, SIGSEGV);
  EXPECT_THAT(result.summary, HasSubstr("killed by SIGSEGV"));
}

TEST(DecideOutcomeTest, TimeoutWinsOverEverything) {
  RunFacts facts = ExitedWith(128 + SIGKILL);
  facts.timed_out = true;
  facts.oom_kills = 3;
  EXPECT_EQ(DecideOutcome(facts, VerdictReport{}, "S.C", {}).outcome, Outcome::kTimedOut);
}

TEST(DecideOutcomeTest, PrintedFrameworkOutputIsSuspicious) {
  RunFacts facts = ExitedWith(0);
  facts.output = "[       OK ] S.C (0 ms)\n[  PASSED  ] 1 test.\n";
  CaseResult result = DecideOutcome(facts, VerdictReport{}, "S.C", {});
  EXPECT_EQ(result.outcome, Outcome::kNoVerdict);
  EXPECT_THAT(result.suspicions, Contains(HasSubstr("claims a pass")));
}

TEST(ParseGtestListTest, ReadsSuitesParameterisedAndTypedCases) {
  std::string listing =
      "Running main() from somewhere\n"
      "RingTest.\n"
      "  PushPop\n"
      "  Full\n"
      "Sizes/RingParamTest.\n"
      "  Holds/0  # GetParam() = 8\n"
      "  Holds/1  # GetParam() = 64\n"
      "Typed/0.  # TypeParam = int\n"
      "  Works\n";
  EXPECT_THAT(ParseGtestList(listing),
              ElementsAre("RingTest.PushPop", "RingTest.Full", "Sizes/RingParamTest.Holds/0",
                          "Sizes/RingParamTest.Holds/1", "Typed/0.Works"));
}

TEST(ValidateCaseNameTest, RefusesFilterPatterns) {
  EXPECT_THAT(ValidateCaseName("Suite.Case"), IsOk());
  EXPECT_THAT(ValidateCaseName("P/Suite.Case/3"), IsOk());
  for (const char* bad : {"Suite.*", "A.B:C.D", "-Suite.Case", "Suite.Ca?e", "NoDot", ""}) {
    EXPECT_THAT(ValidateCaseName(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

// ---- The hostile cases, contained (root) ------------------------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string HostileBinary() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::string base = srcdir ? absl::StrCat(srcdir, "/ipc_labs") : ".";
  return base + "/grader/testdata/hostile/hostile_test";
}

// This process's cgroup directory in the v1 hierarchy of `controller` (for leftover checks).
std::string OwnCgroupDir(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    size_t first = line.find(':'), second = line.find(':', first + 1);
    if (line.substr(first + 1, second - first - 1) == controller) {
      std::string path = line.substr(second + 1);
      return absl::StrCat("/sys/fs/cgroup/", controller, path == "/" ? "" : path);
    }
  }
  return "";
}

// Host processes whose executable is `binary` or whose name is `comm`.
std::vector<std::string> HostProcesses(const std::string& binary, const std::string& comm) {
  std::vector<std::string> found;
  std::error_code ec;
  std::string real = std::filesystem::canonical(binary, ec).string();
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code link_ec;
    std::string exe = std::filesystem::read_symlink(entry.path() / "exe", link_ec).string();
    std::string name = ReadFile(entry.path().string() + "/comm");
    if (!name.empty() && name.back() == '\n') name.pop_back();
    if ((!link_ec && exe == real) || name == comm) found.push_back(pid + " " + name);
  }
  return found;
}

class SandboxHostileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    cgroup_name_ = absl::StrCat("sandbox-test-", ::getpid());
    SandboxOptions options;
    options.cgroup_name = cgroup_name_;
    auto created = Sandbox::Create(options);
    ASSERT_TRUE(created.ok()) << "Sandbox::Create: " << created.status();
    sandbox_ = std::move(created).value().release();
    char pattern[] = "/tmp/ipclabs-sandbox-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    workdir_ = pattern;
    ASSERT_EQ(::chmod(workdir_.c_str(), 0755), 0) << "uid 65534 must enter the workdir";
  }

  static void TearDownTestSuite() {
    delete sandbox_;
    sandbox_ = nullptr;
    std::error_code ec;
    if (!workdir_.empty()) std::filesystem::remove_all(workdir_, ec);
    // The grader's own cgroup directories go with the sandbox.
    for (const char* controller : {"pids", "memory"}) {
      std::string dir = absl::StrCat(OwnCgroupDir(controller), "/ipclabs-", cgroup_name_);
      EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " outlived the Sandbox";
    }
  }

  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "\n*** NOT ROOT: the sandbox's containment (uid switch, cgroups) was NOT "
                      "tested. Run `bazel test //grader:sandbox_test` as root. ***";
    }
    ASSERT_NE(sandbox_, nullptr);
    EXPECT_THAT(sandbox_->warnings(), IsEmpty())
        << "on the project machine the sandbox must have everything (root, cgroups)";
    auto before = ipc::IpcSnapshot::Take();
    ASSERT_TRUE(before.ok()) << before.status();
    host_before_ = *std::move(before);
  }

  // After every case: nothing of it may be left on the host.
  void TearDown() override {
    if (::geteuid() != 0 || sandbox_ == nullptr) return;
    EXPECT_THAT(HostProcesses(HostileBinary(), "ipclabs-daemon"), IsEmpty())
        << "a process of the hostile binary survived its case";
    for (const char* controller : {"pids", "memory"}) {
      std::string dir = absl::StrCat(OwnCgroupDir(controller), "/ipclabs-", cgroup_name_);
      std::vector<std::string> cases;
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.is_directory()) cases.push_back(entry.path().string());
      }
      EXPECT_THAT(cases, IsEmpty()) << "a case cgroup was not removed";
    }
    for (const char* name : {"/ipclabs-leak-shm", "/ipclabs-leak-sem", "/ipclabs-leak-mq",
                             "/ipclabs-fill"}) {
      EXPECT_THAT(ipc::PosixObjectsNamed(name), IsEmpty()) << name << " reached the host";
    }
    auto after = ipc::IpcSnapshot::Take();
    ASSERT_TRUE(after.ok()) << after.status();
    for (const IpcObject& object : after->NewSince(host_before_)) {
      bool ours = object.key == 0 &&
                  std::any_of(last_.leaks.begin(), last_.leaks.end(), [&](const IpcObject& l) {
                    return l.kind == object.kind && l.id == object.id;
                  });
      EXPECT_FALSE(ours) << "the case's " << object.ToString() << " reached the host";
    }
  }

  // Runs one hostile case; on a failed expectation the case's summary and output are shown.
  CaseResult Run(const std::string& name, CaseLimits limits = {}) {
    auto result = sandbox_->RunCase(HostileBinary(), "Hostile." + name, workdir_, limits);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    last_ = *result;
    return *std::move(result);
  }

  static std::string Describe(const CaseResult& r) {
    std::string text = absl::StrCat("outcome: ", OutcomeName(r.outcome), "\nsummary: ", r.summary,
                                     "\nexit_code: ", r.exit_code, " signal: ", r.signal,
                                     "\nsuspicions:");
    for (const std::string& s : r.suspicions) absl::StrAppend(&text, "\n  ", s);
    absl::StrAppend(&text, "\nleaks:");
    for (const IpcObject& o : r.leaks) absl::StrAppend(&text, "\n  ", o.ToString());
    absl::StrAppend(&text, "\noutput:\n", r.output.substr(0, 3000));
    return text;
  }

  static Sandbox* sandbox_;
  static std::string workdir_;
  static std::string cgroup_name_;
  ipc::IpcSnapshot host_before_;
  CaseResult last_;
};

Sandbox* SandboxHostileTest::sandbox_ = nullptr;
std::string SandboxHostileTest::workdir_;
std::string SandboxHostileTest::cgroup_name_;

CaseLimits Short() {
  CaseLimits limits;
  limits.timeout = absl::Seconds(1);
  return limits;
}

TEST_F(SandboxHostileTest, WellBehavedCasePasses) {
  CaseResult r = Run("WellBehavedPasses");
  EXPECT_EQ(r.outcome, Outcome::kPassed) << Describe(r);
  EXPECT_THAT(r.leaks, IsEmpty()) << Describe(r);
  EXPECT_THAT(r.suspicions, IsEmpty()) << Describe(r);
  EXPECT_GT(r.peak_processes, 0) << "the pids cgroup must have counted the case";
}

TEST_F(SandboxHostileTest, PlainlyFailingCaseFailsWithItsAssertion) {
  CaseResult r = Run("PlainlyFails");
  ASSERT_EQ(r.outcome, Outcome::kFailed) << Describe(r);
  ASSERT_EQ(r.failures.size(), 1u) << Describe(r);
  EXPECT_THAT(r.failures[0].file, HasSubstr("hostile_test.cc"));
  EXPECT_GT(r.failures[0].line, 0);
  EXPECT_THAT(r.failures[0].message, HasSubstr("arithmetic is hard"));
  EXPECT_THAT(r.summary, HasSubstr("arithmetic is hard"));
}

TEST_F(SandboxHostileTest, SkippedCaseIsSkipped) {
  CaseResult r = Run("SkipsItself");
  EXPECT_EQ(r.outcome, Outcome::kSkipped) << Describe(r);
}

// From the inside: not root, no core dumps, own PID/net/IPC namespaces, private tmpfs.
TEST_F(SandboxHostileTest, CaseSeesItsCage) {
  CaseResult r = Run("ChecksItsCage");
  EXPECT_EQ(r.outcome, Outcome::kPassed) << Describe(r);
}

TEST_F(SandboxHostileTest, InfiniteLoopTimesOutAndTheNamespaceIsKilled) {
  CaseResult r = Run("LoopsForever", Short());
  EXPECT_EQ(r.outcome, Outcome::kTimedOut) << Describe(r);
  EXPECT_THAT(r.summary, HasSubstr("did not finish within 1s"));
  EXPECT_LT(r.wall_time, absl::Seconds(4)) << "the kill must be prompt";
}

TEST_F(SandboxHostileTest, CpuBurnerIsStoppedByTheCpuLimit) {
  CaseLimits limits;
  limits.cpu = absl::Seconds(1);
  limits.timeout = absl::Seconds(20);
  CaseResult r = Run("BurnsCpu", limits);
  EXPECT_EQ(r.outcome, Outcome::kCrashed) << Describe(r);
  EXPECT_EQ(r.signal, SIGXCPU) << Describe(r);
  EXPECT_THAT(r.summary, HasSubstr("CPU time limit"));
}

TEST_F(SandboxHostileTest, ForkBombIsHeldByThePidsCgroup) {
  CaseLimits limits = Short();
  limits.max_processes = 16;
  CaseResult r = Run("ForkBomb", limits);
  EXPECT_EQ(r.outcome, Outcome::kTimedOut) << Describe(r);
  EXPECT_LE(r.peak_processes, 16 + 2) << "16 for the case, 2 for bubblewrap";
  EXPECT_GT(r.forks_refused, 0) << "the pids cgroup must have refused forks";
}

TEST_F(SandboxHostileTest, MemoryBombRunsOutOfMemoryNotSigkill) {
  CaseLimits limits;
  limits.memory_bytes = int64_t{64} << 20;
  CaseResult r = Run("MemoryBomb", limits);
  EXPECT_EQ(r.outcome, Outcome::kOutOfMemory) << Describe(r);
  EXPECT_THAT(r.summary, HasSubstr("ran out of memory (limit 64 MiB)"));
  EXPECT_LE(r.peak_memory_bytes, int64_t{64} << 20);
}

TEST_F(SandboxHostileTest, FillingTmpStopsAtTheTmpfsSize) {
  CaseLimits limits;
  limits.tmpfs_bytes = int64_t{8} << 20;
  CaseResult r = Run("FillsTmp", limits);
  ASSERT_EQ(r.outcome, Outcome::kFailed) << Describe(r);
  EXPECT_THAT(r.failures[0].message, HasSubstr("No space left on device"));
  EXPECT_FALSE(std::filesystem::exists("/tmp/ipclabs-fill")) << "the host's /tmp was written";
}

TEST_F(SandboxHostileTest, FillingDevShmStopsAtTheTmpfsSizeAndIsALeak) {
  CaseLimits limits;
  limits.tmpfs_bytes = int64_t{8} << 20;
  CaseResult r = Run("FillsDevShm", limits);
  ASSERT_EQ(r.outcome, Outcome::kFailed) << Describe(r);
  EXPECT_THAT(r.failures[0].message, HasSubstr("No space left on device"));
  EXPECT_THAT(r.leaks, ElementsAre(AllOf(Field(&IpcObject::kind, IpcObject::Kind::kPosixShm),
                                         Field(&IpcObject::name, "/ipclabs-fill"))))
      << Describe(r);
}

TEST_F(SandboxHostileTest, SegfaultIsACrashWithItsSignal) {
  CaseResult r = Run("Segfaults");
  EXPECT_EQ(r.outcome, Outcome::kCrashed) << Describe(r);
  EXPECT_EQ(r.signal, SIGSEGV);
  EXPECT_THAT(r.summary, HasSubstr("killed by SIGSEGV"));
}

TEST_F(SandboxHostileTest, AbortInAChildIsReportedByTheTest) {
  CaseResult r = Run("AbortsInChild");
  ASSERT_EQ(r.outcome, Outcome::kFailed) << Describe(r);
  EXPECT_THAT(r.failures[0].message, HasSubstr("SIGABRT"));
}

TEST_F(SandboxHostileTest, DeadlockBetweenTwoProcessesTimesOut) {
  CaseResult r = Run("DeadlocksTwoProcesses", Short());
  EXPECT_EQ(r.outcome, Outcome::kTimedOut) << Describe(r);
}

// The grader's leak listing is what grades SV7/SV8 (a segment left behind), SE4/SE9 (named
// semaphores on every path), PS4 (/dev/shm empty) and the kernel persistence of SysV and POSIX
// queues (notes 004 B, mailbox ownership): every kind must be found, and freed with the case.
TEST_F(SandboxHostileTest, LeaksOfEveryKindAreListedAndFreed) {
  CaseResult r = Run("LeaksEveryKind");
  EXPECT_EQ(r.outcome, Outcome::kPassed) << Describe(r);
  std::set<IpcObject::Kind> kinds;
  for (const IpcObject& o : r.leaks) kinds.insert(o.kind);
  EXPECT_EQ(kinds.size(), 6u) << "SysV shm, sem, msg; POSIX shm, semaphore, queue\n"
                              << Describe(r);
  EXPECT_THAT(r.leaks, Contains(Field(&IpcObject::name, "/ipclabs-leak-shm")));
  EXPECT_THAT(r.leaks, Contains(Field(&IpcObject::name, "/ipclabs-leak-sem")));
  EXPECT_THAT(r.leaks, Contains(Field(&IpcObject::name, "/ipclabs-leak-mq")));
}

TEST_F(SandboxHostileTest, DaemonDiesWithItsCase) {
  CaseResult r = Run("LeavesDaemonBehind");
  EXPECT_EQ(r.outcome, Outcome::kPassed) << Describe(r);
  EXPECT_THAT(HostProcesses("/nonexistent", "ipclabs-daemon"), IsEmpty());
}

TEST_F(SandboxHostileTest, PrintedFakeSuccessIsNoVerdict) {
  CaseResult r = Run("PrintsFakeSuccess");
  EXPECT_EQ(r.outcome, Outcome::kNoVerdict) << Describe(r);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.suspicions, Contains(HasSubstr("claims a pass"))) << Describe(r);
}

TEST_F(SandboxHostileTest, ExitFromAStaticInitializerIsNoVerdict) {
  CaseResult r = Run("ExitsFromStaticInitializer");
  EXPECT_EQ(r.outcome, Outcome::kNoVerdict) << Describe(r);
  EXPECT_EQ(r.exit_code, 0);
}

TEST_F(SandboxHostileTest, ForgedGtestOutputIsIgnored) {
  CaseResult r = Run("ForgesGtestOutput");
  EXPECT_EQ(r.outcome, Outcome::kNoVerdict) << Describe(r);
  EXPECT_THAT(r.output, HasSubstr("forged"));
}

TEST_F(SandboxHostileTest, ForgedVerdictLinesAreRejectedAndReported) {
  CaseResult r = Run("ForgesVerdictPipe");
  EXPECT_EQ(r.outcome, Outcome::kNoVerdict) << Describe(r);
  EXPECT_THAT(r.suspicions, Contains(HasSubstr("wrong nonce"))) << Describe(r);
}

TEST_F(SandboxHostileTest, NetworkIsUnreachableFromACase) {
  // A listener on the host's loopback: the case must not reach it.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_NE(listener, -1);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::ofstream(workdir_ + "/host_port") << ntohs(address.sin_port) << "\n";

  CaseResult r = Run("TriesTheNetwork");
  ASSERT_EQ(r.outcome, Outcome::kFailed) << Describe(r);
  ASSERT_EQ(r.failures.size(), 2u) << Describe(r);
  EXPECT_THAT(r.failures[0].message, HasSubstr("Network is unreachable"));
  EXPECT_THAT(r.failures[1].message, HasSubstr("Connection refused"));
  EXPECT_EQ(::accept(listener, nullptr, nullptr), -1) << "the case reached the host's loopback";
  ::close(listener);
}

TEST_F(SandboxHostileTest, WritesOutsideScratchAreRefused) {
  CaseResult r = Run("WritesOutsideScratch");
  ASSERT_EQ(r.outcome, Outcome::kFailed) << Describe(r);
  ASSERT_EQ(r.failures.size(), 3u) << "workdir, /var/tmp and /etc must all be read-only\n"
                                   << Describe(r);
  for (const Failure& f : r.failures) EXPECT_THAT(f.message, HasSubstr("Read-only file system"));
  for (const std::string& path : {workdir_ + "/escape.txt", std::string("/var/tmp/ipclabs-hostile-escape"),
                                  std::string("/etc/ipclabs-hostile-escape"),
                                  std::string("/tmp/ipclabs-hostile-inside")}) {
    EXPECT_FALSE(std::filesystem::exists(path)) << path << " was written on the host";
  }
}

TEST_F(SandboxHostileTest, OutputFloodIsCappedWithANote) {
  CaseLimits limits;
  limits.output_cap_bytes = 16 << 10;
  CaseResult r = Run("FloodsOutput", limits);
  EXPECT_EQ(r.outcome, Outcome::kPassed) << Describe(r);
  EXPECT_TRUE(r.output_truncated);
  EXPECT_LE(r.output.size(), limits.output_cap_bytes + 100);
  EXPECT_THAT(r.output, HasSubstr("bytes dropped]"));
}

TEST_F(SandboxHostileTest, EndlessOutputStillTimesOutWithinTheCap) {
  CaseLimits limits = Short();
  limits.output_cap_bytes = 16 << 10;
  CaseResult r = Run("FloodsOutputForever", limits);
  EXPECT_EQ(r.outcome, Outcome::kTimedOut) << Describe(r);
  EXPECT_TRUE(r.output_truncated);
  EXPECT_LE(r.output.size(), limits.output_cap_bytes + 100);
  EXPECT_LT(r.wall_time, absl::Seconds(4)) << "reading output must never delay the kill";
}

// A static initializer that tries to steal the nonce (through the environment, or the descriptor
// numbers) and report a perfect pass comes too late: test_main's priority-101 constructor has
// read and closed the nonce descriptor first. The case then runs, and fails. (A thief that also
// uses priority 101 could still win by link order: DESIGN.md "The verdict channel"; the driver's
// scan of student sources is the next line of defence.)
TEST_F(SandboxHostileTest, NonceThiefInAStaticInitializerComesTooLate) {
  CaseResult r = Run("StealsTheNonce");
  EXPECT_EQ(r.outcome, Outcome::kFailed) << Describe(r);
}

TEST_F(SandboxHostileTest, InstructorFilesAreReadableUnlessHidden) {
  std::string secret_dir = absl::StrCat("/var/tmp/ipclabs-secret-", ::getpid());
  ASSERT_EQ(::mkdir(secret_dir.c_str(), 0755), 0) << secret_dir;
  std::ofstream(secret_dir + "/answer.txt") << "the reference solution\n";
  ASSERT_EQ(::chmod((secret_dir + "/answer.txt").c_str(), 0644), 0);
  std::ofstream(workdir_ + "/secret_path") << secret_dir << "/answer.txt\n";

  // `--ro-bind / /` shows the case every world-readable file of the host...
  CaseResult open_tree = Run("ReadsInstructorFiles");
  EXPECT_EQ(open_tree.outcome, Outcome::kPassed) << Describe(open_tree);
  EXPECT_THAT(open_tree.output, HasSubstr("stolen: the reference solution"));

  // ...unless the grader hides it (SandboxOptions::hidden_paths).
  SandboxOptions options;
  options.cgroup_name = cgroup_name_ + "-hidden";
  options.hidden_paths = {secret_dir, "/nonexistent/ignored"};
  auto hiding = Sandbox::Create(options);
  ASSERT_TRUE(hiding.ok()) << hiding.status();
  auto hidden = (*hiding)->RunCase(HostileBinary(), "Hostile.ReadsInstructorFiles", workdir_, {});
  ASSERT_TRUE(hidden.ok()) << hidden.status();
  ASSERT_EQ(hidden->outcome, Outcome::kFailed) << Describe(*hidden);
  EXPECT_THAT(hidden->failures[0].message, HasSubstr("No such file or directory"));
  EXPECT_THAT(hidden->output, ::testing::Not(HasSubstr("the reference solution")));
  std::error_code ec;
  std::filesystem::remove_all(secret_dir, ec);
}

// Cases run in parallel (the driver's jobs) must not disturb each other: a fork bomb holds its
// pids cgroup, and a well-behaved case next to it still passes every time.
TEST_F(SandboxHostileTest, ParallelCasesDoNotDisturbEachOther) {
  CaseLimits bomb_limits;
  bomb_limits.timeout = absl::Seconds(2);
  bomb_limits.max_processes = 16;
  absl::StatusOr<CaseResult> bomb;
  std::thread bomber([&] {
    bomb = sandbox_->RunCase(HostileBinary(), "Hostile.ForkBomb", workdir_, bomb_limits);
  });
  std::vector<std::string> outcomes;
  for (int i = 0; i < 5; ++i) {
    auto quiet = sandbox_->RunCase(HostileBinary(), "Hostile.WellBehavedPasses", workdir_, {});
    outcomes.push_back(quiet.ok() ? OutcomeName(quiet->outcome) : quiet.status().ToString());
  }
  bomber.join();
  EXPECT_THAT(outcomes, ::testing::Each("passed"));
  ASSERT_TRUE(bomb.ok()) << bomb.status();
  EXPECT_EQ(bomb->outcome, Outcome::kTimedOut) << Describe(*bomb);
}

TEST_F(SandboxHostileTest, SentinelOfAnHonestBinaryRaisesNoSuspicion) {
  auto suspicions = sandbox_->CheckSentinel(HostileBinary(), workdir_, CaseLimits{});
  ASSERT_TRUE(suspicions.ok()) << suspicions.status();
  EXPECT_THAT(*suspicions, IsEmpty());
}

TEST_F(SandboxHostileTest, SentinelCatchesABinaryThatForgesEveryVerdict) {
  std::string forger = HostileBinary().substr(0, HostileBinary().rfind('/')) + "/forger_test";
  auto forged_case = sandbox_->RunCase(forger, "Forged.AlwaysFails", workdir_, CaseLimits{});
  ASSERT_TRUE(forged_case.ok()) << forged_case.status();
  EXPECT_EQ(forged_case->outcome, Outcome::kPassed)
      << "the forger's own case looks passed: only the sentinel can tell\n"
      << Describe(*forged_case);
  auto suspicions = sandbox_->CheckSentinel(forger, workdir_, CaseLimits{});
  ASSERT_TRUE(suspicions.ok()) << suspicions.status();
  ASSERT_FALSE(suspicions->empty()) << "the sentinel passed and nobody noticed";
  EXPECT_THAT((*suspicions)[0], HasSubstr("was reported as passed"));
  EXPECT_THAT((*suspicions)[0], HasSubstr("forged"));
}

TEST_F(SandboxHostileTest, ListCasesFindsEveryHostileCaseButNotTheSentinel) {
  auto cases = sandbox_->ListCases(HostileBinary(), CaseLimits{});
  ASSERT_TRUE(cases.ok()) << cases.status();
  EXPECT_THAT(*cases, Contains("Hostile.WellBehavedPasses"));
  EXPECT_THAT(*cases, Contains("Hostile.BurnsCpu"));
  EXPECT_EQ(cases->size(), 25u);
  EXPECT_THAT(*cases, ::testing::Not(Contains(HasSubstr("IpcLabsGraderSentinel"))));
}

TEST_F(SandboxHostileTest, FilterPatternsAreRefused) {
  auto result = sandbox_->RunCase(HostileBinary(), "Hostile.*", workdir_, CaseLimits{});
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
}

// A grader that crashed left a case cgroup with a process in it: the next Create() removes both.
TEST_F(SandboxHostileTest, StaleCaseCgroupsAreSweptAtCreate) {
  pid_t dead = ::fork();
  ASSERT_NE(dead, -1);
  if (dead == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);
  std::string stale = absl::StrCat(OwnCgroupDir("pids"), "/ipclabs-grader-", dead);
  ASSERT_EQ(::mkdir(stale.c_str(), 0755), 0) << stale;
  ASSERT_EQ(::mkdir((stale + "/case-7").c_str(), 0755), 0);
  pid_t sleeper = ::fork();
  ASSERT_NE(sleeper, -1);
  if (sleeper == 0) {
    ::pause();
    ::_exit(0);
  }
  std::ofstream(stale + "/case-7/cgroup.procs") << sleeper << "\n";

  auto second = Sandbox::Create(SandboxOptions{});
  ASSERT_TRUE(second.ok()) << second.status();
  int status = 0;
  EXPECT_EQ(::waitpid(sleeper, &status, 0), sleeper);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the stale case's process must be killed";
  EXPECT_FALSE(std::filesystem::exists(stale)) << "the stale grader's cgroups must be removed";
}

}  // namespace
}  // namespace grader
