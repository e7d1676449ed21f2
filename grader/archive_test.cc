// grader/archive_test.cc: a hostile tarball writes nothing outside its folder.
//
// Each test builds an archive with one trick (tar_writer_for_test.h), unpacks it into a fresh
// scratch folder, and checks both the refusal sentence and that nothing escaped.
//   bazel --output_base=... test //grader:archive_test
#include "grader/archive.h"

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

using ::ipc::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing::TarWriter;

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IPC_ASSERT_OK_AND_ASSIGN(scratch_, ScratchDir::Create("archive-test-"));
    archive_ = absl::StrCat(scratch_->path(), "/in.tar.gz");
    dest_ = absl::StrCat(scratch_->path(), "/a/b/out");  // "../../x" from here stays in scratch
    ASSERT_THAT(MakeDirs(dest_), ::ipc::testing::IsOk());
  }

  absl::StatusOr<ExtractResult> Extract(const TarWriter& tar, ExtractLimits limits = {}) {
    EXPECT_TRUE(tar.Write(archive_));
    return ExtractTarGz(archive_, dest_, limits);
  }

  std::optional<ScratchDir> scratch_;
  std::string archive_;
  std::string dest_;
};

TEST_F(ArchiveTest, UnpacksPlainFilesAndFolders) {
  TarWriter tar;
  tar.Add("alice/", "", '5').Add("alice/labs/x/x.cc", "int x;\n").Add("./top.txt", "t");
  IPC_ASSERT_OK_AND_ASSIGN(ExtractResult result, Extract(tar));
  EXPECT_EQ(result.files_written, 2);
  EXPECT_THAT(result.refusals, IsEmpty());
  EXPECT_EQ(ReadFile(dest_ + "/alice/labs/x/x.cc").value_or(""), "int x;\n");
  EXPECT_TRUE(Exists(dest_ + "/top.txt"));
}

TEST_F(ArchiveTest, RefusesDotDotAndWritesNothingOutside) {
  TarWriter tar;
  tar.Add("../../escaped.txt", "gotcha").Add("x/../../escaped2.txt", "gotcha").Add("ok.txt", "ok");
  IPC_ASSERT_OK_AND_ASSIGN(ExtractResult result, Extract(tar));
  EXPECT_THAT(result.refusals,
              ElementsAre(HasSubstr("refused ../../escaped.txt in the archive: its path leaves"),
                          HasSubstr("refused x/../../escaped2.txt")));
  EXPECT_FALSE(Exists(scratch_->path() + "/a/escaped.txt"));
  EXPECT_FALSE(Exists(scratch_->path() + "/a/b/escaped2.txt"));
  EXPECT_TRUE(Exists(dest_ + "/ok.txt")) << "one bad entry must not cost the good ones";
}

TEST_F(ArchiveTest, RefusesAbsolutePaths) {
  std::string target = scratch_->path() + "/absolute.txt";
  TarWriter tar;
  tar.Add(target, "gotcha");
  IPC_ASSERT_OK_AND_ASSIGN(ExtractResult result, Extract(tar));
  EXPECT_THAT(result.refusals, ElementsAre(HasSubstr("it has an absolute path")));
  EXPECT_FALSE(Exists(target));
}

TEST_F(ArchiveTest, RefusesLinksDevicesAndFifosWithTheirTarget) {
  TarWriter tar;
  tar.Add("x/x.cc", "", '2', "/etc/passwd")
      .Add("x/hard.cc", "", '1', "/etc/shadow")
      .Add("x/fifo", "", '6')
      .Add("x/dev", "", '3');
  IPC_ASSERT_OK_AND_ASSIGN(ExtractResult result, Extract(tar));
  EXPECT_THAT(result.refusals,
              ElementsAre(HasSubstr("a symbolic link to /etc/passwd"),
                          HasSubstr("a hard link to /etc/shadow"), HasSubstr("a FIFO"),
                          HasSubstr("a character device")));
  EXPECT_EQ(result.refused_paths.at("x/x.cc"),
            "a symbolic link to /etc/passwd; only plain files are accepted");
  EXPECT_FALSE(Exists(dest_ + "/x/x.cc"));
  EXPECT_FALSE(Exists(dest_ + "/x/fifo"));
}

TEST_F(ArchiveTest, SymlinkThenWriteThroughItIsImpossible) {
  // The classic: entry 1 makes dir -> /tmp/elsewhere, entry 2 writes dir/file.
  std::string elsewhere = scratch_->path() + "/elsewhere";
  ASSERT_THAT(MakeDirs(elsewhere), ::ipc::testing::IsOk());
  TarWriter tar;
  tar.Add("dir", "", '2', elsewhere).Add("dir/file", "gotcha");
  IPC_ASSERT_OK_AND_ASSIGN(ExtractResult result, Extract(tar));
  EXPECT_FALSE(Exists(elsewhere + "/file"));
  EXPECT_TRUE(Exists(dest_ + "/dir/file")) << "dir/ is a real folder in dest, never the link";
}

TEST_F(ArchiveTest, RefusesAnOversizedFileButKeepsTheRest) {
  ExtractLimits limits;
  limits.max_file_bytes = 100;
  TarWriter tar;
  tar.Add("big.cc", std::string(101, 'x')).Add("small.cc", std::string(100, 'x'));
  IPC_ASSERT_OK_AND_ASSIGN(ExtractResult result, Extract(tar, limits));
  EXPECT_THAT(result.refusals,
              ElementsAre(HasSubstr("big.cc in the archive: it is 101 bytes, over the limit")));
  EXPECT_FALSE(Exists(dest_ + "/big.cc"));
  EXPECT_TRUE(Exists(dest_ + "/small.cc"));
}

TEST_F(ArchiveTest, RefusesAGzipBombAsAWhole) {
  ExtractLimits limits;
  limits.max_total_bytes = 64 << 10;
  limits.max_file_bytes = 1 << 20;
  TarWriter tar;
  tar.Add("zeros", std::string(1 << 20, '\0'));  // 1 MiB of zeros: about 1 KiB of gzip
  EXPECT_THAT(Extract(tar, limits), StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(ArchiveTest, RefusesTooManyEntries) {
  ExtractLimits limits;
  limits.max_entries = 3;
  TarWriter tar;
  for (int i = 0; i < 5; ++i) tar.Add(absl::StrCat("f", i), "x");
  EXPECT_THAT(Extract(tar, limits), StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(ArchiveTest, RefusesADuplicateName) {
  TarWriter tar;
  tar.Add("x.cc", "first").Add("x.cc", "second");
  IPC_ASSERT_OK_AND_ASSIGN(ExtractResult result, Extract(tar));
  EXPECT_THAT(result.refusals, ElementsAre(HasSubstr("the name appears twice")));
  EXPECT_EQ(ReadFile(dest_ + "/x.cc").value_or(""), "first");
}

TEST_F(ArchiveTest, ReadsGnuLongNames) {
  std::string long_name = std::string(120, 'n') + "/file.cc";
  TarWriter tar;
  tar.AddLongName(long_name).Add("ignored-short-name", "long");
  IPC_ASSERT_OK_AND_ASSIGN(ExtractResult result, Extract(tar));
  EXPECT_THAT(result.refusals, IsEmpty());
  EXPECT_TRUE(Exists(dest_ + "/" + long_name));
}

TEST_F(ArchiveTest, ALongNameCannotSmuggleDotDot) {
  TarWriter tar;
  tar.AddLongName("../../" + std::string(120, 'n')).Add("innocent", "x");
  IPC_ASSERT_OK_AND_ASSIGN(ExtractResult result, Extract(tar));
  EXPECT_THAT(result.refusals, SizeIs(1));
  EXPECT_FALSE(Exists(dest_ + "/innocent"));
}

TEST_F(ArchiveTest, RefusesGarbage) {
  ASSERT_THAT(WriteFileAtomically(archive_, std::string(2048, 'g')), ::ipc::testing::IsOk());
  EXPECT_THAT(ExtractTarGz(archive_, dest_), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ArchiveTest, RefusesATruncatedArchive) {
  TarWriter tar;
  tar.Add("x.cc", "data", '0', "", 5000);  // declares more data than follows
  EXPECT_FALSE(Extract(tar).ok());
}

}  // namespace
}  // namespace grader
