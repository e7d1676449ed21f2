// grader/batch_test.cc: listing a class, sharding, the gradebook, and resuming.
//
// Grading itself needs Bazel; these tests point the grader at a Bazel that does not exist, so
// any submission that is graded (instead of kept as unchanged) shows up as a grader error.
//   bazel --output_base=... test //grader:batch_test
#include "grader/batch.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/testing.h"
#include "gmock/gmock.h"
#include "grader/fake_sandbox.h"
#include "grader/files.h"
#include "grader/reports.h"
#include "gtest/gtest.h"

namespace grader {
namespace {

using ::ipc::testing::IsOk;
using ::ipc::testing::MessageHas;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class BatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IPC_ASSERT_OK_AND_ASSIGN(scratch_, ScratchDir::Create("batch-test-"));
    tree_ = scratch_->path() + "/tree";
    dir_ = scratch_->path() + "/class";
    out_ = scratch_->path() + "/out";
    Write(tree_ + "/labs/x/lab.json", R"({"name": "x", "student_files": ["x.cc"],
                                          "max_points": 5,
                                          "rubric": [{"case": "*", "points": 1}]})");
    Write(tree_ + "/labs/x/x.cc", "// skeleton\n");
    Write(dir_ + "/alice/x/x.cc", "// alice\n");
    Write(dir_ + "/bob/labs/x/x.cc", "// bob\n");
    Write(dir_ + "/carol.tar.gz", "not really a tarball");
    Write(dir_ + "/notes.txt", "not a submission");
    Write(dir_ + "/.hidden/x/x.cc", "skipped");
  }

  void Write(const std::string& path, const std::string& contents) {
    ASSERT_THAT(MakeDirs(path.substr(0, path.find_last_of('/'))), IsOk());
    ASSERT_THAT(WriteFileAtomically(path, contents), IsOk());
  }

  BatchOptions Options() {
    BatchOptions options;
    options.dir = dir_;
    options.out = out_;
    options.grade.tree = tree_;
    options.grade.state_dir = scratch_->path() + "/state";
    options.grade.bazel.bazel = "/nonexistent/bazel";  // grading for real would need Bazel
    options.grade.bazel.disk_cache = "";
    return options;
  }

  std::optional<ScratchDir> scratch_;
  std::string tree_, dir_, out_;
  testing::FakeSandbox sandbox_;
};

TEST_F(BatchTest, ListsFoldersAndArchivesByStudent) {
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<BatchEntry> entries, ListSubmissions(dir_));
  std::vector<std::string> students;
  for (const BatchEntry& e : entries) students.push_back(e.student);
  EXPECT_THAT(students, ElementsAre("alice", "bob", "carol"));
  EXPECT_EQ(entries[2].path, dir_ + "/carol.tar.gz");
}

TEST(ShardTest, ParsesAndRefuses) {
  EXPECT_EQ(ParseShard("1/4").value(), std::make_pair(1, 4));
  EXPECT_THAT(ParseShard("4/4"), MessageHas("0 <= i < n"));
  EXPECT_THAT(ParseShard("1-4"), MessageHas("--shard must be i/n"));
  EXPECT_THAT(ParseShard("0/0"), MessageHas("--shard must be i/n"));
}

TEST(ShardTest, EveryStudentIsInExactlyOneShardAndItNeverMoves) {
  std::set<std::string> seen;
  for (int s = 0; s < 200; ++s) {
    std::string student = absl::StrCat("student", s);
    int shards = 0;
    for (int i = 0; i < 3; ++i) shards += InShard(student, i, 3) ? 1 : 0;
    EXPECT_EQ(shards, 1) << student;
    seen.insert(student);
  }
  // Stable: the shard depends on the name only (these values are FNV-1a of the name mod 3).
  EXPECT_TRUE(InShard("alice", 0, 1));
  int alice = InShard("alice", 0, 3) ? 0 : InShard("alice", 1, 3) ? 1 : 2;
  for (int round = 0; round < 3; ++round) EXPECT_TRUE(InShard("alice", alice, 3));
}

TEST(SafeNameTest, KeepsNamesInsideTheOutputFolder) {
  EXPECT_EQ(SafeName("alice.smith-2"), "alice.smith-2");
  EXPECT_EQ(SafeName("../../etc"), ".._.._etc");
  EXPECT_EQ(SafeName(".."), "_..");
  EXPECT_EQ(SafeName(""), "_");
  EXPECT_EQ(SafeName("a b/c"), "a_b_c");
}

TEST_F(BatchTest, GradebookHasOneRowPerStudentAndOneColumnPerLab) {
  Write(out_ + "/alice/summary.json",
        R"({"student": "alice", "points": 7.5, "max_points": 10, "grader_errors": [],
            "refusals": [], "labs": {"x": {"points": 7.5, "grader_errors": [], "suspicions": []}}})");
  Write(out_ + "/zed/summary.json",
        R"({"student": "=cmd|' /C calc'!A0", "points": 0, "max_points": 10, "grader_errors": [],
            "refusals": ["refused ../x"],
            "labs": {"x": {"points": 0, "grader_errors": ["boom"], "suspicions": ["forged"]}}})");
  ASSERT_THAT(WriteGradebook(out_, {"x", "y"}), IsOk());
  EXPECT_EQ(ReadFile(out_ + "/gradebook.csv").value_or(""),
            "student,x,y,total,max,flags\n"
            "'=cmd|' /C calc'!A0,0,,0,10,grader error; suspect verdict in x; files refused\n"
            "alice,7.5,,7.5,10,\n");
}

TEST_F(BatchTest, GradesEachStudentOnceAndKeepsUnchangedOnes) {
  BatchOptions options = Options();
  IPC_ASSERT_OK_AND_ASSIGN(BatchSummary first, RunBatch(options, sandbox_));
  EXPECT_EQ(first.total, 3);
  EXPECT_EQ(first.graded, 3);
  EXPECT_EQ(first.grader_errors, 2) << "alice and bob reach the (missing) Bazel; carol's "
                                       "archive is refused before that";
  std::string gradebook = ReadFile(out_ + "/gradebook.csv").value_or("");
  EXPECT_THAT(gradebook, HasSubstr("alice,0,0,5,grader error"));
  EXPECT_THAT(gradebook, HasSubstr("carol,0,0,5,files refused"));

  // Grader errors are graded again (they were not the student's fault); clean results are kept.
  IPC_ASSERT_OK_AND_ASSIGN(BatchSummary second, RunBatch(options, sandbox_));
  EXPECT_EQ(second.unchanged, 1) << "carol's result had no grader error and her archive is the same";
  EXPECT_EQ(second.graded, 2);

  Write(dir_ + "/carol.tar.gz", "a new, still broken, archive");
  IPC_ASSERT_OK_AND_ASSIGN(BatchSummary third, RunBatch(options, sandbox_));
  EXPECT_EQ(third.unchanged, 0) << "a changed submission is graded again";
}

TEST_F(BatchTest, AShardGradesOnlyItsStudents) {
  BatchOptions options = Options();
  int total = 0;
  for (int i = 0; i < 2; ++i) {
    options.shard_index = i;
    options.shard_count = 2;
    IPC_ASSERT_OK_AND_ASSIGN(BatchSummary s, RunBatch(options, sandbox_));
    total += s.total;
  }
  EXPECT_EQ(total, 3) << "the two shards split the class without overlap";
}

}  // namespace
}  // namespace grader
