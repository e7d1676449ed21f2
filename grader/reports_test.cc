// grader/reports_test.cc: every report writer, checked by hand and by the shared validators.
//
// The validators (../shared/formats) are found through $IPCLABS_SHARED_FORMATS or beside the
// source tree; where they are absent, the validation tests skip with a loud message.
//   bazel --output_base=... test //grader:reports_test
#include "grader/reports.h"

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/testing.h"
#include "gmock/gmock.h"
#include "grader/fake_sandbox.h"
#include "grader/files.h"
#include "grader/validate.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace grader {
namespace {

using ::ipc::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

// A submission with one of everything a report must show.
SubmissionReport Sample() {
  SubmissionReport report;
  report.student = "mallory <script>&\"'";
  report.submission = "/subs/mallory";
  report.wall_time = absl::Seconds(12.5);
  report.refusals.push_back("refused ../../x in the archive: its path leaves the folder");

  LabReport graded;
  graded.name = "posix_shm";
  graded.title = "POSIX shared memory";
  auto add = [&](BinaryKind kind, std::string name, CaseResult result, double points,
                 double max) {
    CaseReport c;
    c.binary = kind;
    c.name = std::move(name);
    c.result = std::move(result);
    c.result.wall_time = absl::Milliseconds(12);
    c.points = points;
    c.max_points = max;
    graded.cases.push_back(std::move(c));
  };
  add(BinaryKind::kPublic, "SharedRegionTest.Opens", testing::Passed(), 1, 1);
  add(BinaryKind::kPublic, "SharedRegionTest.Sizes",
      testing::Failed("posix_shm_test.cc", 42, "Expected: 4096\n  Actual: 0 <&> \x01\x02 \xff"), 0,
      1);
  CaseResult crashed = testing::Crashed();
  crashed.output = std::string(3 << 20, 'x') + "\r\n\x1b[31mred\x1b[0m";  // 3 MiB, hostile bytes
  add(BinaryKind::kHidden, "Hidden.Survives", crashed, 0, 2);
  CaseResult leaked = testing::PassedButLeaked();
  add(BinaryKind::kHidden, "Hidden.Leaks", leaked, 1, 2);
  graded.cases.back().note = "passed, but left 1 IPC object behind: lost 1 of 2 points";
  CaseResult skipped = testing::Passed();
  skipped.outcome = CaseResult::Outcome::kSkipped;
  skipped.summary = "io_uring unavailable";
  add(BinaryKind::kHidden, "Hidden.Uring", skipped, 0, 1);
  SpeedReport speed;
  speed.name = "throughput";
  speed.points = 2;
  speed.max_points = 4;
  speed.explanation = "median of 5 runs: 2.1x the baseline";
  graded.speed.push_back(speed);
  graded.suspicions.push_back("public binary: the sentinel case was reported passed");
  graded.points = 1 + 0 + 0 + 1 + 0 + 2;
  graded.max_points = 1 + 1 + 2 + 2 + 1 + 4;
  report.labs.push_back(graded);

  LabReport broken;
  broken.name = "sysv_shm";
  broken.title = "System V shared memory";
  broken.outcome = LabOutcome::kBuildFailed;
  broken.build_errors = "labs/sysv_shm/sysv_shm.cc:3:1: error: expected ';' before '}' token";
  broken.max_points = 5;
  report.labs.push_back(broken);

  LabReport missing;
  missing.name = "semaphores";
  missing.title = "Semaphores";
  missing.outcome = LabOutcome::kMissing;
  missing.problems.push_back("missing labs/semaphores/semaphores.cc");
  missing.max_points = 3;
  report.labs.push_back(missing);
  report.Total();
  return report;
}

class ReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IPC_ASSERT_OK_AND_ASSIGN(scratch_, ScratchDir::Create("reports-test-"));
  }

  // The source tree, found through this test's own source file in the runfiles.
  static std::string SourceTree() {
    std::error_code ec;
    std::filesystem::path self =
        std::filesystem::canonical("grader/reports_test.cc", ec);  // cwd: the runfiles root
    if (ec) return "";
    return self.parent_path().parent_path().string();
  }

  void Validate(const std::string& tool, const std::string& file) {
    std::optional<std::string> formats = FindSharedFormats(SourceTree());
    if (!formats) {
      GTEST_SKIP() << "\n*** ../shared/formats (validate-results-json, validate-junit) NOT FOUND: "
                      "the reports were NOT validated. Set IPCLABS_SHARED_FORMATS. ***";
    }
    EXPECT_THAT(RunValidator(*formats, tool, file), IsOk())
        << "the report would be rejected by its consumers; the validator's findings above "
           "say which rule (see ../shared/formats/README.md)";
  }

  std::optional<ScratchDir> scratch_;
};

TEST_F(ReportsTest, ResultsJsonStaysUnderOneMebibyteAndSaysItTrimmed) {
  std::string json = ResultsJson(Sample());
  EXPECT_LT(json.size(), 1000u * 1000u);
  EXPECT_THAT(json, HasSubstr("trimmed"));
  auto parsed = nlohmann::json::parse(json);
  EXPECT_EQ(parsed["score"], 4);
  double max = 0;
  for (const auto& t : parsed["tests"]) max += t["max_score"].get<double>();
  EXPECT_EQ(max, 11 + 5 + 3) << "a lab that was not built still shows its maximum";
}

TEST_F(ReportsTest, ResultsJsonHidesHiddenTestsUntilPublished) {
  auto parsed = nlohmann::json::parse(ResultsJson(Sample()));
  for (const auto& t : parsed["tests"]) {
    std::string name = t["name"];
    std::string visibility = t["visibility"];
    bool hidden = name.find("Hidden.") != std::string::npos ||
                  name.find("speed:") != std::string::npos;  // a speed item is hidden by default
    EXPECT_EQ(visibility, hidden ? "after_published" : "visible") << name;
  }
}

TEST_F(ReportsTest, ResultsJsonShrinksOutputsToFitTheCap) {
  std::string json = ResultsJson(Sample(), 20000);
  EXPECT_LE(json.size(), 20000u);
  EXPECT_NO_THROW(auto parsed = nlohmann::json::parse(json));
}

TEST_F(ReportsTest, ResultsJsonPassesTheSharedValidator) {
  std::string path = scratch_->path() + "/results.json";
  ASSERT_THAT(WriteFileAtomically(path, ResultsJson(Sample())), IsOk());
  Validate("validate-results-json", path);
}

TEST_F(ReportsTest, JunitPassesTheSharedValidatorDespiteHostileBytes) {
  std::string path = scratch_->path() + "/junit.xml";
  std::string xml = JunitXml(Sample());
  EXPECT_THAT(xml, Not(HasSubstr("\x01")));
  EXPECT_THAT(xml, Not(HasSubstr("<script>")));
  EXPECT_THAT(xml, HasSubstr("name=\"build\""));
  ASSERT_THAT(WriteFileAtomically(path, xml), IsOk());
  Validate("validate-junit", path);
}

TEST_F(ReportsTest, JunitOfAnAllPassingSubmissionValidates) {
  SubmissionReport report;
  report.student = "solutions";
  LabReport lab;
  lab.name = "x";
  CaseReport c;
  c.name = "A.B";
  c.result = testing::Passed();
  lab.cases.push_back(c);
  report.labs.push_back(lab);
  std::string path = scratch_->path() + "/junit.xml";
  ASSERT_THAT(WriteFileAtomically(path, JunitXml(report)), IsOk());
  Validate("validate-junit", path);
}

TEST_F(ReportsTest, MarkdownTellsWhatFailedAndWhy) {
  std::string md = MarkdownFeedback(Sample());
  EXPECT_THAT(md, HasSubstr("**Total: 4 of 19 points**"));
  EXPECT_THAT(md, HasSubstr("posix_shm_test.cc:42"));
  EXPECT_THAT(md, HasSubstr("Expected: 4096"));
  EXPECT_THAT(md, HasSubstr("killed by SIGSEGV"));
  EXPECT_THAT(md, HasSubstr("left behind: POSIX shared memory"));
  EXPECT_THAT(md, HasSubstr("expected ';' before '}' token"));
  EXPECT_THAT(md, HasSubstr("missing labs/semaphores/semaphores.cc"));
  EXPECT_THAT(md, Not(HasSubstr("sentinel"))) << "suspicions are for the instructor only";
  EXPECT_THAT(md, Not(HasSubstr("\x1b"))) << "terminal escapes from student output are removed";
}

TEST_F(ReportsTest, TerminalReportShowsEveryLabAndColoursOnlyWhenAsked) {
  std::string plain = TerminalReport(Sample(), false);
  EXPECT_THAT(plain, HasSubstr("posix_shm"));
  EXPECT_THAT(plain, HasSubstr("build failed"));
  EXPECT_THAT(plain, HasSubstr("SUSPECT (for the instructor)"));
  EXPECT_THAT(plain, Not(HasSubstr("\033[")));
  EXPECT_THAT(TerminalReport(Sample(), true), HasSubstr("\033["));
}

TEST(CleanTextTest, KeepsUtf8AndLineBreaksAndDropsControls) {
  EXPECT_EQ(CleanText("a\tb\nc"), "a\tb\nc");
  EXPECT_EQ(CleanText("crlf\r\n"), "crlf\n");
  EXPECT_EQ(CleanText("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(CleanText("\x01"), "\xEF\xBF\xBD");
  EXPECT_EQ(CleanText("\xff"), "\xEF\xBF\xBD");
  EXPECT_EQ(CleanText("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD") << "overlong '/' is not UTF-8";
}

TEST(TrimTextTest, CutsAtACharacterAndSaysSo) {
  EXPECT_EQ(TrimText("short", 10), "short");
  std::string cut = TrimText(std::string(10, 'a') + "\xC3\xA9", 11);
  EXPECT_EQ(cut, "aaaaaaaaaa\n[... trimmed: 10 of 12 bytes shown]");
}

TEST(CsvFieldTest, QuotesAndDefusesFormulas) {
  EXPECT_EQ(CsvField("alice"), "alice");
  EXPECT_EQ(CsvField("smith, j"), "\"smith, j\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
  EXPECT_EQ(CsvField("@SUM(A1)"), "'@SUM(A1)");
}

TEST(FormatPointsTest, IsShortAndExact) {
  EXPECT_EQ(FormatPoints(10), "10");
  EXPECT_EQ(FormatPoints(7.5), "7.5");
  EXPECT_EQ(FormatPoints(0.1 + 0.2), "0.3");
  EXPECT_EQ(FormatPoints(-0.0), "0");
}

}  // namespace
}  // namespace grader
