// Tests of common/affinity.h.
#include "common/affinity.h"

#include <sched.h>

#include <thread>

#include "common/testing/testing.h"
#include "gtest/gtest.h"

namespace ipc {
namespace {

TEST(AffinityTest, PinsAThreadToEachAllowedCpu) {
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<int> cpus, AllowedCpus());
  ASSERT_FALSE(cpus.empty());
  for (int cpu : cpus) {
    std::thread([cpu] {
      IPC_ASSERT_OK(PinThisThread(cpu));
      IPC_ASSERT_OK_AND_ASSIGN(std::vector<int> now, AllowedCpus());
      EXPECT_EQ(now, std::vector<int>{cpu});
      EXPECT_EQ(::sched_getcpu(), cpu);
    }).join();
  }
}

TEST(AffinityTest, AnImpossibleCpuIsAClearError) {
  std::thread([] {
    absl::Status status = PinThisThread(CPU_SETSIZE - 1);
    EXPECT_THAT(status, testing::HasErrno(EINVAL));
    EXPECT_THAT(status, testing::MessageHas("CPU 1023"));
  }).join();
}

}  // namespace
}  // namespace ipc
