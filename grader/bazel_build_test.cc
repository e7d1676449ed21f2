// grader/bazel_build_test.cc: reading Bazel's build events and trimming compiler errors.
//
// The events below are shaped like those Bazel 4.2.3 writes with --build_event_json_file
// (recorded on the project machine, shortened): one lab builds, one fails to compile.
//   bazel --output_base=... test //grader:bazel_build_test
#include "grader/bazel_build.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/testing.h"
#include "gmock/gmock.h"
#include "grader/files.h"
#include "gtest/gtest.h"

namespace grader {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCompilerOutput[] =
    "1795440920.340361254: src/main/tools/linux-sandbox.cc:152: calling pipe(2)...\n"
    "/stage/labs/bad/bad.cc: In function 'int f()':\n"
    "/stage/labs/bad/bad.cc:1:18: error: 'undefined_thing' was not declared in this scope\n"
    "    1 | int f() { return undefined_thing; }\n"
    "      |                  ^~~~~~~~~~~~~~~\n"
    "labs/bad/bad.cc:2:19: error: expected ';' before '}' token\n"
    "labs/bad/bad.cc:3:1: error: third\n"
    "labs/bad/bad.cc:4:1: error: fourth, never shown\n"
    "1795440920.355558212: src/main/tools/linux-sandbox.cc:233: child exited normally with code 1\n";

TEST(TrimCompilerErrorsTest, KeepsTheFirstErrorsWithoutSandboxChatterOrStagePaths) {
  std::string trimmed = TrimCompilerErrors(kCompilerOutput, "/stage");
  EXPECT_THAT(trimmed, HasSubstr("labs/bad/bad.cc:1:18: error: 'undefined_thing'"));
  EXPECT_THAT(trimmed, HasSubstr("labs/bad/bad.cc:3:1: error: third"));
  EXPECT_THAT(trimmed, Not(HasSubstr("fourth")));
  EXPECT_THAT(trimmed, Not(HasSubstr("linux-sandbox")));
  EXPECT_THAT(trimmed, Not(HasSubstr("/stage/")));
  EXPECT_THAT(trimmed, HasSubstr("[... more errors follow; fix these first]"));
}

TEST(TrimCompilerErrorsTest, CapsTheNumberOfLines) {
  std::string many;
  for (int i = 0; i < 100; ++i) absl::StrAppend(&many, "note: line ", i, "\n");
  std::string trimmed = TrimCompilerErrors(many, "/stage", 3, 10);
  EXPECT_THAT(trimmed, HasSubstr("line 9"));
  EXPECT_THAT(trimmed, Not(HasSubstr("line 10\n")));
}

TEST(TargetsTest, NameTheStudentVariants) {
  EXPECT_EQ(PublicTarget("posix_shm"), "//labs/posix_shm:posix_shm_test");
  EXPECT_EQ(HiddenTarget("posix_shm"), "//grader/hidden/posix_shm:student/posix_shm_hidden_test");
}

TEST(ParseBuildEventsTest, SeparatesBuiltLabsFromBrokenOnes) {
  IPC_ASSERT_OK_AND_ASSIGN(ScratchDir dir, ScratchDir::Create("bep-test-"));
  std::string stderr_file = dir.path() + "/stderr-13";
  ASSERT_THAT(WriteFileAtomically(stderr_file, kCompilerOutput), ::ipc::testing::IsOk());
  std::string bep = absl::StrCat(
      R"({"id":{"targetCompleted":{"label":"//labs/good:good_test"}},"completed":{"success":true,)"
      R"("importantOutput":[{"name":"labs/good/good_test","uri":"file:///ob/bin/labs/good/good_test"}]}})"
      "\n",
      R"({"id":{"targetCompleted":{"label":"//grader/hidden/good:student/good_hidden_test"}},)"
      R"("completed":{"success":true,"importantOutput":[{"name":"x","uri":"file:///ob/bin/grader/hidden/good/student/good_hidden_test"}]}})"
      "\n",
      R"({"id":{"actionCompleted":{"primaryOutput":"bad.pic.o","label":"//labs/bad:bad"}},)"
      R"("action":{"exitCode":1,"stderr":{"name":"stderr","uri":"file://)",
      stderr_file, R"("},"label":"//labs/bad:bad","type":"CppCompile"}})", "\n",
      R"({"id":{"targetCompleted":{"label":"//labs/bad:bad_test"}},"completed":{"failureDetail":{"message":"x"}}})",
      "\n", "not json at all\n");
  std::string unattributed;
  std::map<std::string, LabBuild> labs = ParseBuildEvents(
      bep, {{"good", true}, {"bad", false}, {"halfbuilt", true}}, "/stage", &unattributed);
  EXPECT_TRUE(labs["good"].ok);
  EXPECT_EQ(labs["good"].public_binary, "/ob/bin/labs/good/good_test");
  EXPECT_EQ(labs["good"].hidden_binary, "/ob/bin/grader/hidden/good/student/good_hidden_test");
  EXPECT_FALSE(labs["bad"].ok);
  EXPECT_THAT(labs["bad"].errors, HasSubstr("error: 'undefined_thing' was not declared"));
  EXPECT_FALSE(labs["halfbuilt"].ok) << "a lab with no completed target did not build";
  EXPECT_THAT(labs["halfbuilt"].errors, HasSubstr("without a compiler message"));
  EXPECT_TRUE(unattributed.empty());
}

TEST(ParseBuildEventsTest, ALabWhosePublicBinaryBuiltButHiddenDidNotFails) {
  std::string bep =
      R"({"id":{"targetCompleted":{"label":"//labs/x:x_test"}},"completed":{"success":true,)"
      R"("importantOutput":[{"name":"x","uri":"file:///ob/x_test"}]}})"
      "\n"
      R"({"id":{"actionCompleted":{"label":"//grader/hidden/x:student/x_hidden_test"}},)"
      R"("action":{"exitCode":1,"label":"//grader/hidden/x:student/x_hidden_test","type":"CppLink"}})"
      "\n";
  std::map<std::string, LabBuild> labs = ParseBuildEvents(bep, {{"x", true}}, "/stage", nullptr);
  EXPECT_FALSE(labs["x"].ok);
  EXPECT_THAT(labs["x"].errors, HasSubstr("CppLink of //grader/hidden/x:student/x_hidden_test"));
}

}  // namespace
}  // namespace grader
