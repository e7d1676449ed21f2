// Tests of common/names.h: names never collide and bad names get a sentence that says why.
#include "common/names.h"

#include <sys/shm.h>
#include <unistd.h>

#include <set>

#include "common/process.h"
#include "common/testing/testing.h"
#include "gtest/gtest.h"

namespace ipc {
namespace {

using ::ipc::testing::IsOk;
using ::ipc::testing::MessageHas;

TEST(UniqueNameTest, IsValidDistinctAndRemembered) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string name = UniqueName("ring");
    EXPECT_THAT(ValidatePosixName(name), IsOk()) << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate " << name;
    EXPECT_EQ(name.rfind("/" + NamePrefix(), 0), 0u) << name;
  }
  std::vector<std::string> issued = IssuedNames();
  for (const std::string& name : seen) {
    EXPECT_NE(std::find(issued.begin(), issued.end(), name), issued.end());
  }
}

TEST(UniqueNameTest, ChildrenKeepTheParentsPrefix) {
  std::string parent_prefix = NamePrefix();
  IPC_ASSERT_OK_AND_ASSIGN(Child child, Child::Fork([&] {
                             return NamePrefix() == parent_prefix ? 0 : 1;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(ExitStatus status, child.Wait(absl::Seconds(10)));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
}

TEST(ValidatePosixNameTest, RejectsEachBrokenRuleWithAReason) {
  EXPECT_THAT(ValidatePosixName("ring"), MessageHas("must start with '/'"));
  EXPECT_THAT(ValidatePosixName(""), MessageHas("must start with '/'"));
  EXPECT_THAT(ValidatePosixName("/"), MessageHas("at least one character"));
  EXPECT_THAT(ValidatePosixName("/logs/error"), MessageHas("only the leading one"));
  EXPECT_THAT(ValidatePosixName("/" + std::string(256, 'a')), MessageHas("NAME_MAX"));
  EXPECT_THAT(ValidatePosixName("/" + std::string(255, 'a')), IsOk());
  EXPECT_THAT(ValidatePosixName("ring", "mq_open name"), MessageHas("mq_open name \"ring\""));
}

TEST(UniqueSysvKeyTest, ReturnsAKeyNobodyUses) {
  key_t key = UniqueSysvKey();
  EXPECT_NE(key, IPC_PRIVATE);
  int id = ::shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
  ASSERT_NE(id, -1) << "shmget(IPC_EXCL) on a fresh key failed: " << ErrnoError("shmget", "");
  EXPECT_NE(UniqueSysvKey(), key);
  ASSERT_EQ(::shmctl(id, IPC_RMID, nullptr), 0);
}

}  // namespace
}  // namespace ipc
