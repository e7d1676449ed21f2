// Tests of grader/source_scan.h: what a forger needs is flagged, ordinary lab code is not.
#include "grader/source_scan.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace grader {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(SourceScanTest, FlagsCodeThatRunsBeforeMain) {
  EXPECT_THAT(ScanStudentSource("labs/x/x.cc", "int a;\n__attribute__ (( constructor(100))) void f();\n"),
              ElementsAre("labs/x/x.cc:2: runs code before main() (constructor attribute)"));
  EXPECT_THAT(ScanStudentSource("x.cc", "static S s __attribute__((init_priority(101)));"),
              ElementsAre(HasSubstr("init_priority")));
}

TEST(SourceScanTest, FlagsTheGradersChannelAndGoogleTestInternals) {
  EXPECT_THAT(ScanStudentSource("x.cc", "getenv(\"IPCLABS_NONCE_FD\");"),
              ElementsAre(HasSubstr("IPCLABS_")));
  EXPECT_THAT(ScanStudentSource("x.cc", "std::ifstream in(\"/proc/self/cmdline\");"),
              ElementsAre(HasSubstr("command line")));
  EXPECT_THAT(ScanStudentSource("x.cc", "::testing::UnitTest::GetInstance()->listeners();"),
              ElementsAre(HasSubstr("global test runner")));
  EXPECT_THAT(ScanStudentSource("x.cc", "auto* l = new MyListener; // : testing::TestEventListener"),
              ElementsAre(HasSubstr("event listener")));
}

TEST(SourceScanTest, LeavesOrdinaryLabCodeAlone) {
  EXPECT_THAT(ScanStudentSource("x.cc",
                                "pid_t pid = fork();\nif (pid == 0) _exit(Child());\n"
                                "std::ifstream stat(\"/proc/\" + std::to_string(pid) + \"/stat\");\n"
                                "int fd = shm_open(name.c_str(), O_RDWR, 0600);\n"),
              IsEmpty());
}

TEST(SourceScanTest, KnowsSourceFiles) {
  EXPECT_TRUE(IsSourceFile("labs/x/x.cc"));
  EXPECT_TRUE(IsSourceFile("a.h"));
  EXPECT_FALSE(IsSourceFile("ANSWERS.md"));
}

}  // namespace
}  // namespace grader
