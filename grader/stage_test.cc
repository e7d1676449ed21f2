// grader/stage_test.cc: staging copies exactly the student files, and refuses the tricks.
//
// Each test builds a small pristine tree and a submission in a scratch folder, stages, and checks
// the sentence a student would read and what ended up in the stage.
//   bazel --output_base=... test //grader:stage_test
#include "grader/stage.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/testing.h"
#include "gmock/gmock.h"
#include "grader/files.h"
#include "grader/tar_writer_for_test.h"
#include "gtest/gtest.h"

namespace grader {
namespace {

using ::ipc::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string Read(const std::string& path) { return ReadFile(path).value_or("<unreadable>"); }

class StageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IPC_ASSERT_OK_AND_ASSIGN(scratch_, ScratchDir::Create("stage-test-"));
    root_ = scratch_->path() + "/root";
    stage_ = scratch_->path() + "/stage";
    sub_ = scratch_->path() + "/sub";
    Write(root_ + "/WORKSPACE", "workspace(name = \"x\")\n");
    Write(root_ + "/labs/x/x.h", "// contract\n");
    Write(root_ + "/labs/x/x.cc", "// skeleton\n");
    Write(root_ + "/labs/x/x_test.cc", "// public tests\n");
    Write(root_ + "/labs/x/BUILD", "# build\n");
    Write(root_ + "/solutions/x/x.cc", "// reference\n");
    Write(root_ + "/.git/HEAD", "ref\n");
    Write(root_ + "/grader/hidden/x/x_hidden_test.cc", "// hidden\n");
    IPC_ASSERT_OK_AND_ASSIGN(config_,
                             LabConfig::Parse(R"({"name": "x", "student_files": ["x.cc"],
                                                  "rubric": [{"case": "*", "points": 1}]})",
                                              "labs/x/lab.json", "x"));
  }

  void Write(const std::string& path, const std::string& contents) {
    ASSERT_THAT(MakeDirs(path.substr(0, path.find_last_of('/'))), IsOk());
    ASSERT_THAT(WriteFileAtomically(path, contents), IsOk());
  }

  LabStaging Stage(const std::string& submission_path) {
    EXPECT_THAT(SyncTree(root_, stage_), IsOk());
    absl::StatusOr<Submission> submission = OpenSubmission(submission_path, {"x"}, limits_);
    EXPECT_THAT(submission, IsOk());
    if (!submission.ok()) return {};
    absl::StatusOr<LabStaging> staging = StageLab(config_, *submission, stage_, limits_);
    EXPECT_THAT(staging, IsOk());
    return staging.value_or(LabStaging{});
  }

  std::optional<ScratchDir> scratch_;
  std::string root_, stage_, sub_;
  LabConfig config_;
  StageLimits limits_;
};

TEST_F(StageTest, SyncCopiesTheTreeWithoutGitOrSolutions) {
  ASSERT_THAT(SyncTree(root_, stage_), IsOk());
  EXPECT_EQ(Read(stage_ + "/labs/x/x.cc"), "// skeleton\n");
  EXPECT_TRUE(Exists(stage_ + "/grader/hidden/x/x_hidden_test.cc"));
  EXPECT_FALSE(Exists(stage_ + "/solutions")) << "the reference must never reach the stage";
  EXPECT_FALSE(Exists(stage_ + "/.git"));
}

TEST_F(StageTest, SyncRestoresPristineFilesAndRemovesStrayOnes) {
  ASSERT_THAT(SyncTree(root_, stage_), IsOk());
  Write(stage_ + "/labs/x/x.cc", "// last student's work\n");
  Write(stage_ + "/labs/x/extra.cc", "// left behind\n");
  ASSERT_THAT(SyncTree(root_, stage_), IsOk());
  EXPECT_EQ(Read(stage_ + "/labs/x/x.cc"), "// skeleton\n");
  EXPECT_FALSE(Exists(stage_ + "/labs/x/extra.cc"));
}

TEST_F(StageTest, SyncLeavesUnchangedFilesAlone) {
  ASSERT_THAT(SyncTree(root_, stage_), IsOk());
  struct stat before;
  ASSERT_EQ(::stat((stage_ + "/labs/x/x.h").c_str(), &before), 0);
  ASSERT_THAT(SyncTree(root_, stage_), IsOk());
  struct stat after;
  ASSERT_EQ(::stat((stage_ + "/labs/x/x.h").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "rewriting unchanged files makes Bazel rehash them";
}

TEST_F(StageTest, CopiesOnlyTheStudentFiles) {
  Write(sub_ + "/x/x.cc", "// student\n");
  Write(sub_ + "/x/x_test.cc", "// a student's own 'tests' that always pass\n");
  Write(sub_ + "/x/BUILD", "# a student's BUILD\n");
  LabStaging staging = Stage(sub_);
  EXPECT_TRUE(staging.ok);
  EXPECT_THAT(staging.problems, IsEmpty());
  EXPECT_EQ(Read(stage_ + "/labs/x/x.cc"), "// student\n");
  EXPECT_EQ(Read(stage_ + "/labs/x/x_test.cc"), "// public tests\n");
  EXPECT_EQ(Read(stage_ + "/labs/x/BUILD"), "# build\n");
}

TEST_F(StageTest, AcceptsARepositoryRootHoldingLabs) {
  Write(sub_ + "/labs/x/x.cc", "// student in a repo\n");
  EXPECT_TRUE(Stage(sub_).ok);
  EXPECT_EQ(Read(stage_ + "/labs/x/x.cc"), "// student in a repo\n");
}

TEST_F(StageTest, AMissingFileIsNamed) {
  ASSERT_THAT(MakeDirs(sub_ + "/x"), IsOk());
  LabStaging staging = Stage(sub_);
  EXPECT_FALSE(staging.ok);
  EXPECT_THAT(staging.problems, ElementsAre("missing labs/x/x.cc"));
  EXPECT_EQ(Read(stage_ + "/labs/x/x.cc"), "// skeleton\n");
}

TEST_F(StageTest, AMissingWrittenAnswerIsANoteAndTheLabIsStillBuilt) {
  IPC_ASSERT_OK_AND_ASSIGN(config_,
                           LabConfig::Parse(R"({"name": "x", "student_files": ["x.cc", "ANSWERS.md"],
                                                "rubric": [{"case": "*", "points": 1}]})",
                                            "labs/x/lab.json", "x"));
  Write(sub_ + "/x/x.cc", "// student\n");
  LabStaging staging = Stage(sub_);
  EXPECT_TRUE(staging.ok) << "ANSWERS.md is read by a person, not built: the tests can still run";
  EXPECT_THAT(staging.problems, IsEmpty());
  EXPECT_THAT(staging.notes, ElementsAre(HasSubstr("missing labs/x/ANSWERS.md (a written answer")));
  EXPECT_EQ(Read(stage_ + "/labs/x/x.cc"), "// student\n");
  EXPECT_TRUE(IsWrittenAnswer("ANSWERS.md"));
  EXPECT_FALSE(IsWrittenAnswer("x.cc"));
}

TEST_F(StageTest, RefusesASymlinkToAHostFile) {
  ASSERT_THAT(MakeDirs(sub_ + "/x"), IsOk());
  ASSERT_EQ(::symlink("/etc/passwd", (sub_ + "/x/x.cc").c_str()), 0);
  LabStaging staging = Stage(sub_);
  EXPECT_FALSE(staging.ok);
  EXPECT_THAT(staging.problems,
              ElementsAre(HasSubstr("refused labs/x/x.cc: it is a symbolic link (to /etc/passwd)")));
  EXPECT_EQ(Read(stage_ + "/labs/x/x.cc"), "// skeleton\n");
}

TEST_F(StageTest, RefusesALinkedLabFolder) {
  Write(scratch_->path() + "/other/x.cc", "// someone else's\n");
  ASSERT_THAT(MakeDirs(sub_), IsOk());
  ASSERT_EQ(::symlink((scratch_->path() + "/other").c_str(), (sub_ + "/x").c_str()), 0);
  LabStaging staging = Stage(sub_);
  EXPECT_THAT(staging.problems, ElementsAre(HasSubstr("refused labs/x/x.cc: x is a symbolic link")));
}

TEST_F(StageTest, RefusesAFifoWithoutBlocking) {
  ASSERT_THAT(MakeDirs(sub_ + "/x"), IsOk());
  ASSERT_EQ(::mkfifo((sub_ + "/x/x.cc").c_str(), 0644), 0);
  LabStaging staging = Stage(sub_);
  EXPECT_THAT(staging.problems, ElementsAre(HasSubstr("it is a FIFO (named pipe)")));
}

TEST_F(StageTest, RefusesAFolderInPlaceOfAFile) {
  ASSERT_THAT(MakeDirs(sub_ + "/x/x.cc"), IsOk());
  EXPECT_THAT(Stage(sub_).problems, ElementsAre(HasSubstr("refused labs/x/x.cc: it is a folder")));
}

TEST_F(StageTest, RefusesAnOversizedFile) {
  limits_.max_file_bytes = 1000;
  Write(sub_ + "/x/x.cc", std::string(1001, 'x'));
  EXPECT_THAT(Stage(sub_).problems,
              ElementsAre("refused labs/x/x.cc: it is 1001 bytes, over the limit of 1000 bytes"));
}

TEST_F(StageTest, StagesATarballOfARepository) {
  std::string tgz = scratch_->path() + "/alice.tar.gz";
  testing::TarWriter tar;
  tar.Add("alice/labs/x/x.cc", "// from a tarball\n");
  ASSERT_TRUE(tar.Write(tgz));
  EXPECT_TRUE(Stage(tgz).ok);
  EXPECT_EQ(Read(stage_ + "/labs/x/x.cc"), "// from a tarball\n");
}

TEST_F(StageTest, ATarballSymlinkIsReportedAsRefusedNotMissing) {
  std::string tgz = scratch_->path() + "/mallory.tar.gz";
  testing::TarWriter tar;
  tar.Add("x/x.cc", "", '2', "/etc/shadow").Add("../../escape.cc", "x");
  ASSERT_TRUE(tar.Write(tgz));
  IPC_ASSERT_OK_AND_ASSIGN(Submission submission, OpenSubmission(tgz, {"x"}));
  EXPECT_THAT(submission.refusals, ElementsAre(HasSubstr("x/x.cc"), HasSubstr("../../escape.cc")));
  ASSERT_THAT(SyncTree(root_, stage_), IsOk());
  IPC_ASSERT_OK_AND_ASSIGN(LabStaging staging, StageLab(config_, submission, stage_));
  EXPECT_THAT(staging.problems,
              ElementsAre("refused labs/x/x.cc: a symbolic link to /etc/shadow; only plain files "
                          "are accepted"));
}

TEST_F(StageTest, RefusesSomethingThatIsNotASubmission) {
  Write(scratch_->path() + "/notes.txt", "hello");
  EXPECT_THAT(OpenSubmission(scratch_->path() + "/notes.txt", {"x"}),
              ::ipc::testing::MessageHas("is neither a folder nor a .tar.gz"));
  EXPECT_THAT(OpenSubmission(scratch_->path() + "/absent", {"x"}),
              ::ipc::testing::HasErrno(ENOENT));
}

}  // namespace
}  // namespace grader
