// labs/numa/numa_test_util.cc: see numa_test_util.h.
#include "labs/numa/numa_test_util.h"

#include <numa.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/testing.h"
#include "gtest/gtest.h"
#include "labs/numa/numa.h"
#include "labs/numa/numa_guest.h"

namespace numa::test_util {

std::vector<int> MemoryNodes() {
  std::vector<int> nodes;
  for (int n = 0; n <= numa_max_node(); ++n) {
    if (numa_bitmask_isbitset(numa_all_nodes_ptr, n)) nodes.push_back(n);
  }
  return nodes;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::string made;
  for (absl::string_view part :
       absl::StrSplit(path.substr(0, path.rfind('/')), '/', absl::SkipEmpty())) {
    absl::StrAppend(&made, "/", part);
    ::mkdir(made.c_str(), 0755);  // EEXIST is fine
  }
  std::ofstream(path) << text;
}

bool LimitAddressSpaceToNow() {
  long pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  const rlim_t now = static_cast<rlim_t>(pages) * ::sysconf(_SC_PAGESIZE);
  struct rlimit limit = {now, now};
  return ::setrlimit(RLIMIT_AS, &limit) == 0;
}

void CheckCaseInGuest(int nodes, const std::string& suite, const std::string& name) {
  if (guest::InGuest()) GTEST_SKIP() << "already inside a guest";
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitized binary is too slow under TCG emulation";
#endif
  absl::StatusOr<std::string> dir = guest::GuestDir();
  if (!dir.ok()) GTEST_SKIP() << dir.status().message();
  // Fail fast on unfinished code instead of booting a machine to find out.
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  ASSERT_THAT(NodeMemory::Create(page, Policy::kBind, {0}), ipc::testing::IsOk()) << "Task 2 first";
  ASSERT_THAT(CpusOfNode(0), ipc::testing::IsOk()) << "Task 4 first";
  const absl::StatusOr<guest::GuestResult>& boot = guest::BootOnce(nodes, suite + ".*");
  ASSERT_THAT(boot, ipc::testing::IsOk());
  const std::string full = absl::StrCat(suite, ".", name);
  auto verdict = boot->cases.find(full);
  ASSERT_TRUE(verdict != boot->cases.end()) << full << " did not run in the guest:\n"
                                            << boot->console;
  EXPECT_EQ(verdict->second, "passed") << full << " in a " << nodes << "-node guest:\n"
                                       << boot->console;
}

}  // namespace numa::test_util
