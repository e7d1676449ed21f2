// grader/testdata/hostile/forger_test.cc: a binary whose every verdict is forged.
//
// A constructor of a reserved priority (100, before test_main's 101) steals the grader's nonce
// before main() runs and reports whatever case the filter names as passed, then exits 0: its one
// real case, which always fails, "passes". (A plain static initializer comes too late: see
// hostile_test.cc, StealsTheNonce.) It is not clever enough to spare the grader's
// sentinel, so Sandbox::CheckSentinel catches it. grader/sandbox_test.cc runs it.
//
//   bazel test //grader:sandbox_test
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "common/testing/verdict.h"
#include "gtest/gtest.h"

namespace {

bool forged = false;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"  // the forger's whole trick
__attribute__((constructor(100))) void Forge() {
  const char* nonce_fd = std::getenv(ipc::testing::kNonceFdEnv);
  const char* verdict_fd = std::getenv(ipc::testing::kVerdictFdEnv);
  if (nonce_fd == nullptr || verdict_fd == nullptr) return;
  std::ifstream in("/proc/self/cmdline");
  std::stringstream text;
  text << in.rdbuf();
  std::string command_line = text.str();
  size_t at = command_line.find("--gtest_filter=");
  if (at == std::string::npos) return;
  std::string filter = command_line.substr(at + 15, command_line.find('\0', at) - at - 15);
  size_t dot = filter.find('.');
  char nonce[128];
  ssize_t n = ::read(std::atoi(nonce_fd), nonce, sizeof nonce - 1);
  if (n <= 0 || dot == std::string::npos) return;
  nonce[n] = '\0';
  std::string prefix = std::string("{\"nonce\":\"") + nonce + "\",";
  std::string lines = prefix + "\"event\":\"start\",\"binary\":\"forger_test\"}\n" + prefix +
                      "\"event\":\"case\",\"suite\":\"" + filter.substr(0, dot) +
                      "\",\"name\":\"" + filter.substr(dot + 1) +
                      "\",\"result\":\"passed\",\"elapsed_ms\":0,\"failures\":[]}\n" + prefix +
                      "\"event\":\"end\",\"passed\":1,\"failed\":0}\n";
  (void)!::write(std::atoi(verdict_fd), lines.data(), lines.size());
  forged = true;
  ::_exit(0);
}
#pragma GCC diagnostic pop

TEST(Forged, AlwaysFails) {
  EXPECT_FALSE(forged);
  FAIL() << "this case fails whenever it really runs";
}

}  // namespace
