// grader/sandbox_bench.cc: what the sandbox costs per test case.
//
// Runs one trivial passing case (Hostile.WellBehavedPasses of grader/testdata/hostile) three ways
// in the same run: directly (fork, exec, wait), inside bubblewrap alone (the same flags, as root),
// and through Sandbox::RunCase (cgroups, uid switch, bubblewrap's namespaces, verdict pipe, leak
// listing, cleanup). Sandboxed minus direct is the overhead per case; DESIGN.md ("Containment") aims for about 10 ms. Needs root.
//
//   bazel --output_base=/root/.cache/bazel-ob-sandbox run -c opt //grader:sandbox_bench
//
// Partner: grader/sandbox.cc (what is measured), grader/sandbox_test.cc (what is proven).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/process.h"
#include "grader/sandbox.h"

namespace {

std::string Binary() {
  const char* srcdir = std::getenv("RUNFILES_DIR");
  std::string base = srcdir ? absl::StrCat(srcdir, "/ipc_labs") : ".";
  return base + "/grader/testdata/hostile/hostile_test";
}

constexpr char kCase[] = "Hostile.WellBehavedPasses";

grader::Sandbox* SharedSandbox() {
  static grader::Sandbox* sandbox = [] {
    auto created = grader::Sandbox::Create(grader::SandboxOptions{});
    if (!created.ok()) {
      std::fprintf(stderr, "Sandbox::Create: %s\n", created.status().ToString().c_str());
      std::exit(1);
    }
    for (const std::string& warning : (*created)->warnings()) {
      std::fprintf(stderr, "WARNING: %s\n", warning.c_str());
    }
    return created->release();
  }();
  return sandbox;
}

// The baseline: the same case, run directly.
void BM_Direct(benchmark::State& state) {
  int dev_null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (dev_null == -1) {
    state.SkipWithError("open(/dev/null) failed");
    return;
  }
  ipc::ExecOptions options;
  options.stdout_fd = dev_null;  // the sandbox captures output too; neither prints it
  for (auto _ : state) {
    auto child =
        ipc::Child::Exec(Binary(), {Binary(), absl::StrCat("--gtest_filter=", kCase)}, options);
    if (!child.ok()) {
      state.SkipWithError(child.status().ToString().c_str());
      break;
    }
    auto status = child->Wait(absl::Seconds(10));
    if (!status.ok() || !status->Succeeded()) {
      state.SkipWithError("the direct run failed");
      break;
    }
  }
  ::close(dev_null);
}
BENCHMARK(BM_Direct)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// bubblewrap alone, with the sandbox's namespaces and mounts, run as root around the same case:
// what the kernel and bwrap cost, without the grader's cgroups, uid switch, pipes and leak listing.
void BM_BwrapAlone(benchmark::State& state) {
  int dev_null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (dev_null == -1) {
    state.SkipWithError("open(/dev/null) failed");
    return;
  }
  ipc::ExecOptions options;
  options.stdout_fd = dev_null;
  std::vector<std::string> args = {
      "bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
      "--new-session", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
      "--ro-bind", "/proc/sys", "/proc/sys", "--perms", "1777", "--size", "67108864", "--tmpfs",
      "/tmp", "--perms", "1777", "--size", "67108864", "--tmpfs", "/dev/shm", "--mqueue",
      "/dev/mqueue", "--clearenv", "--", Binary(), absl::StrCat("--gtest_filter=", kCase)};
  for (auto _ : state) {
    auto child = ipc::Child::Exec("/usr/bin/bwrap", args, options);
    if (!child.ok()) {
      state.SkipWithError(child.status().ToString().c_str());
      break;
    }
    auto status = child->Wait(absl::Seconds(10));
    if (!status.ok() || !status->Succeeded()) {
      state.SkipWithError("bwrap alone failed");
      break;
    }
  }
  ::close(dev_null);
}
BENCHMARK(BM_BwrapAlone)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The same case through the sandbox.
void BM_Sandboxed(benchmark::State& state) {
  grader::Sandbox* sandbox = SharedSandbox();
  std::string workdir = Binary().substr(0, Binary().rfind('/'));
  for (auto _ : state) {
    auto result = sandbox->RunCase(Binary(), kCase, workdir, grader::CaseLimits{});
    if (!result.ok() || result->outcome != grader::CaseResult::Outcome::kPassed) {
      state.SkipWithError(result.ok() ? result->summary.c_str()
                                      : result.status().ToString().c_str());
      return;
    }
  }
}
BENCHMARK(BM_Sandboxed)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

// Reports the overhead as well as the two times: "sandbox overhead per case: X ms (ratio R)".
int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "sandbox_bench needs root (cgroups, the uid switch)\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  struct Reporter : benchmark::ConsoleReporter {
    Reporter() : ConsoleReporter(OO_Tabular) {}  // no colours: the output goes into reports
    double direct_ms = 0, bwrap_ms = 0, sandboxed_ms = 0;
    void ReportRuns(const std::vector<Run>& runs) override {
      ConsoleReporter::ReportRuns(runs);
      for (const Run& run : runs) {
        double ms = run.GetAdjustedRealTime();  // in the benchmark's unit: ms
        if (run.benchmark_name().find("BM_Direct") == 0) direct_ms = ms;
        if (run.benchmark_name().find("BM_BwrapAlone") == 0) bwrap_ms = ms;
        if (run.benchmark_name().find("BM_Sandboxed") == 0) sandboxed_ms = ms;
      }
    }
  } reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  if (reporter.direct_ms > 0 && reporter.sandboxed_ms > 0) {
    std::printf("\nsandbox overhead per case: %.2f ms (direct %.2f ms, sandboxed %.2f ms, "
                "ratio %.2fx); DESIGN.md target: about 10 ms\n",
                reporter.sandboxed_ms - reporter.direct_ms, reporter.direct_ms,
                reporter.sandboxed_ms, reporter.sandboxed_ms / reporter.direct_ms);
    if (reporter.bwrap_ms > 0) {
      std::printf("  of which bubblewrap alone: %.2f ms; the grader's own work (cgroups, uid "
                  "switch, pipes, leak listing, cleanup): %.2f ms\n",
                  reporter.bwrap_ms - reporter.direct_ms, reporter.sandboxed_ms - reporter.bwrap_ms);
    }
  }
  return 0;
}
