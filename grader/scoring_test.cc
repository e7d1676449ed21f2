// grader/scoring_test.cc: the scoring arithmetic, leaks and speed thresholds included, run
// through RunLab with a scripted sandbox (fake_sandbox.h).
//   bazel --output_base=... test //grader:scoring_test
#include "grader/scoring.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/testing.h"
#include "gmock/gmock.h"
#include "grader/fake_sandbox.h"
#include "grader/files.h"
#include "gtest/gtest.h"

namespace grader {
namespace {

using ::testing::Contains;
using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::FakeSandbox;

constexpr char kLab[] = R"json({
  "name": "lab", "student_files": ["lab.cc"], "leak_penalty": 0.5,
  "limits": {"timeout_seconds": 7},
  "rubric": [
    {"binary": "public", "case": "Pub.*", "points": 2},
    {"binary": "hidden", "case": "Hid.Slow", "points": 3, "timeout_seconds": 30},
    {"binary": "hidden", "case": "Hid.*", "points": 1}
  ],
  "speed": [{"name": "ring throughput", "binary": "hidden", "student_case": "Speed.Student",
             "baseline_case": "Speed.Baseline", "runs": 3, "metric": "ops",
             "thresholds": [{"ratio": 1.5, "points": 2}, {"ratio": 3.0, "points": 4}]}]
})json";

class ScoringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IPC_ASSERT_OK_AND_ASSIGN(config_, LabConfig::Parse(kLab, "labs/lab/lab.json", "lab"));
    sandbox_.AddBinary("/b/pub", {"Pub.A", "Pub.B", "Other.C"});
    sandbox_.AddBinary("/b/hid", {"Hid.Slow", "Hid.D", "Speed.Student", "Speed.Baseline"});
    SetSpeed(/*student=*/300, /*baseline=*/100);
  }

  void SetSpeed(double student, double baseline) {
    sandbox_.SetResult("/b/hid", "Speed.Student", [student](int run) {
      return testing::Passed(absl::StrCat("noise\nIPCLABS_METRIC ops=", student + run, "\n"));
    });
    sandbox_.SetResult("/b/hid", "Speed.Baseline", [baseline](int run) {
      return testing::Passed(absl::StrCat("IPCLABS_METRIC ops=", baseline + run, "\n"));
    });
  }

  LabReport Run(int jobs = 1) {
    LabReport report;
    RunOptions options;
    options.jobs = jobs;
    RunLab(config_, {"/b/pub", "/b/hid"}, sandbox_, options, report);
    return report;
  }

  const CaseReport& Case(const LabReport& report, const std::string& name) {
    for (const CaseReport& c : report.cases) {
      if (c.name == name) return c;
    }
    ADD_FAILURE() << "no case " << name;
    static CaseReport none;
    return none;
  }

  LabConfig config_;
  FakeSandbox sandbox_;
};

TEST_F(ScoringTest, AllPassingEarnsEveryPoint) {
  LabReport report = Run();
  // Pub.A 2 + Pub.B 2 + Other.C 0 + Hid.Slow 3 + Hid.D 1 + speed 2 (2.98x: the 1.5x threshold),
  // of 2 + 2 + 0 + 3 + 1 + 4.
  EXPECT_THAT(report.points, DoubleEq(10));
  EXPECT_THAT(report.max_points, DoubleEq(12));
  EXPECT_EQ(report.cases.size(), 5u) << "speed cases run only in the speed comparison";
  EXPECT_EQ(Case(report, "Other.C").max_points, 0) << "an unmatched case still runs, for 0";
}

TEST_F(ScoringTest, FirstMatchingItemWinsAndItsLimitsApply) {
  LabReport report = Run();
  EXPECT_EQ(Case(report, "Hid.Slow").max_points, 3) << "Hid.Slow matches item 2 before Hid.*";
  EXPECT_EQ(sandbox_.LimitsOf("Hid.Slow").timeout, absl::Seconds(30));
  EXPECT_EQ(sandbox_.LimitsOf("Hid.D").timeout, absl::Seconds(7));
}

TEST_F(ScoringTest, FailuresCrashesAndSkipsEarnNothing) {
  sandbox_.SetResult("/b/pub", "Pub.A",
                     [](int) { return testing::Failed("lab_test.cc", 12, "Expected 1, got 2"); });
  sandbox_.SetResult("/b/pub", "Pub.B", [](int) { return testing::Crashed(); });
  sandbox_.SetResult("/b/hid", "Hid.D", [](int) {
    CaseResult r = testing::Passed();
    r.outcome = CaseResult::Outcome::kSkipped;
    return r;
  });
  LabReport report = Run();
  EXPECT_EQ(Case(report, "Pub.A").points, 0);
  EXPECT_EQ(Case(report, "Pub.B").points, 0);
  EXPECT_EQ(Case(report, "Hid.D").points, 0);
  EXPECT_THAT(Case(report, "Hid.D").note, HasSubstr("skipped"));
  EXPECT_THAT(report.points, DoubleEq(10 - 2 - 2 - 1));
}

TEST_F(ScoringTest, ALeakCostsTheLeakPenalty) {
  sandbox_.SetResult("/b/hid", "Hid.Slow", [](int) { return testing::PassedButLeaked(); });
  LabReport report = Run();
  const CaseReport& slow = Case(report, "Hid.Slow");
  EXPECT_THAT(slow.points, DoubleEq(1.5)) << "leak_penalty 0.5 of 3 points";
  EXPECT_THAT(slow.note, HasSubstr("lost 1.5 of 3 points (leak penalty 50%)"));
  EXPECT_THAT(slow.note, HasSubstr("/ipclabs.1.ring.0"));
}

TEST_F(ScoringTest, AFullLeakPenaltyTakesEverything) {
  config_.leak_penalty = 1.0;
  CaseReport c;
  c.result = testing::PassedButLeaked();
  RubricItem item;
  item.points = 2;
  ScoreCase(config_, &item, c);
  EXPECT_EQ(c.points, 0);
  EXPECT_EQ(c.max_points, 2);
}

TEST_F(ScoringTest, SpeedRunsAlternatelyAndComparesMedians) {
  LabReport report = Run();
  ASSERT_EQ(report.speed.size(), 1u);
  const SpeedReport& s = report.speed[0];
  EXPECT_THAT(s.student, ElementsAre(300, 301, 302));
  EXPECT_THAT(s.baseline, ElementsAre(100, 101, 102));
  ASSERT_TRUE(s.ratio.has_value());
  EXPECT_THAT(*s.ratio, DoubleEq(301.0 / 101.0));  // just below 3.0: the 1.5 threshold
  EXPECT_EQ(s.points, 2);
  EXPECT_EQ(s.max_points, 4);
  EXPECT_THAT(s.explanation, HasSubstr("3.00x would earn 4"));
  std::vector<std::string> speed_calls;
  for (const std::string& call : sandbox_.calls()) {
    if (call.find("Speed.") != std::string::npos) speed_calls.push_back(call);
  }
  EXPECT_THAT(speed_calls, ElementsAre("run /b/hid Speed.Student", "run /b/hid Speed.Baseline",
                                       "run /b/hid Speed.Student", "run /b/hid Speed.Baseline",
                                       "run /b/hid Speed.Student", "run /b/hid Speed.Baseline"))
      << "student and baseline alternate, so drift on a shared machine hits both alike";
}

TEST_F(ScoringTest, SpeedThresholdsMapRatiosToPoints) {
  SpeedItem item = config_.speed[0];
  auto points_for = [&](double student, double baseline) {
    SpeedReport s;
    s.student = {student};
    s.baseline = {baseline};
    ScoreSpeed(item, s);
    return s.points;
  };
  EXPECT_EQ(points_for(100, 100), 0);
  EXPECT_EQ(points_for(149, 100), 0);
  EXPECT_EQ(points_for(150, 100), 2) << "a threshold is reached at equality";
  EXPECT_EQ(points_for(299, 100), 2);
  EXPECT_EQ(points_for(300, 100), 4);
  EXPECT_EQ(points_for(1e9, 100), 4) << "the best threshold caps the item";
  item.higher_is_better = false;  // seconds: lower is better, the ratio inverts
  EXPECT_EQ(points_for(1, 3), 4);
  EXPECT_EQ(points_for(3, 1), 0);
}

TEST_F(ScoringTest, AFailingStudentSpeedCaseEarnsNoSpeedPoints) {
  sandbox_.SetResult("/b/hid", "Speed.Student", [](int run) {
    return run == 1 ? testing::Crashed() : testing::Passed("IPCLABS_METRIC ops=1000\n");
  });
  LabReport report = Run();
  EXPECT_EQ(report.speed[0].points, 0);
  EXPECT_THAT(report.speed[0].explanation, HasSubstr("did not pass cleanly in run 2"));
  EXPECT_FALSE(report.speed[0].grader_error);
}

TEST_F(ScoringTest, AFailingBaselineIsAGraderError) {
  sandbox_.SetResult("/b/hid", "Speed.Baseline", [](int) { return testing::Passed("no metric"); });
  LabReport report = Run();
  EXPECT_TRUE(report.speed[0].grader_error);
  EXPECT_THAT(report.grader_errors, Contains(HasSubstr("reported no measurement")));
}

TEST(ParseMetricTest, ReadsTheLastLineOfTheNamedMetric) {
  EXPECT_THAT(ParseMetric("IPCLABS_METRIC ops=1\nIPCLABS_METRIC ops=2.5\n", "ops"),
              ::ipc::testing::IsOk());
  EXPECT_EQ(ParseMetric("IPCLABS_METRIC ops=1\nIPCLABS_METRIC ops=2.5\n", "ops").value(), 2.5);
  EXPECT_EQ(ParseMetric("IPCLABS_METRIC seconds=0.25", "").value(), 0.25);
  EXPECT_THAT(ParseMetric("IPCLABS_METRIC a=1\nIPCLABS_METRIC b=2", ""),
              ::ipc::testing::MessageHas("several metrics"));
  EXPECT_THAT(ParseMetric("IPCLABS_METRIC ops=nan", "ops"),
              ::ipc::testing::MessageHas("not a finite number"));
  EXPECT_THAT(ParseMetric("ops=3", "ops"), ::ipc::testing::StatusIs(absl::StatusCode::kNotFound));
}

TEST(MedianTest, TakesTheMiddle) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median({}), 0);
}

TEST_F(ScoringTest, ParallelRunsGiveTheSameScore) {
  sandbox_.SetResult("/b/pub", "Pub.B", [](int) { return testing::Crashed(); });
  LabReport serial = Run(1);
  LabReport parallel = Run(4);
  EXPECT_THAT(parallel.points, DoubleEq(serial.points));
  EXPECT_EQ(parallel.cases.size(), serial.cases.size());
}

TEST_F(ScoringTest, AForgedSentinelIsReportedForTheInstructor) {
  sandbox_.SetForgedSentinel("/b/pub");
  LabReport report = Run();
  EXPECT_THAT(report.suspicions, ElementsAre(HasSubstr("public binary: the sentinel case")));
  EXPECT_THAT(sandbox_.calls(), Contains("sentinel /b/hid"));
  for (const CaseReport& c : report.cases) {
    EXPECT_NE(c.name, "IpcLabsGraderSentinel.MustFail") << "the sentinel is not a student case";
  }
}

TEST_F(ScoringTest, AListingThatCrashesUsesTheCachedCaseListForTheMaximum) {
  IPC_ASSERT_OK_AND_ASSIGN(ScratchDir dir, ScratchDir::Create("scoring-test-"));
  CaseListCache cache(dir.path());
  RunOptions options;
  options.cache = &cache;
  options.cache_key = "k1";
  LabReport first;
  RunLab(config_, {"/b/pub", "/b/hid"}, sandbox_, options, first);

  sandbox_.AddBinary("/b/pub", {}, absl::InternalError("killed by SIGSEGV while listing"));
  LabReport second;
  RunLab(config_, {"/b/pub", "/b/hid"}, sandbox_, options, second);
  EXPECT_THAT(second.max_points, DoubleEq(first.max_points));
  EXPECT_THAT(second.points, DoubleEq(first.points - 4));
  EXPECT_THAT(second.problems, ElementsAre(HasSubstr("could not list its cases")));

  LabReport unbuilt;
  ScoreUnbuiltLab(config_, options, unbuilt);
  EXPECT_THAT(unbuilt.max_points, DoubleEq(first.max_points));
  EXPECT_EQ(unbuilt.points, 0);

  options.cache_key = "k2";  // the tests changed: the cache no longer applies
  LabReport stale;
  ScoreUnbuiltLab(config_, options, stale);
  EXPECT_FALSE(stale.max_known);
  config_.max_points = 20;
  LabReport declared;
  ScoreUnbuiltLab(config_, options, declared);
  EXPECT_EQ(declared.max_points, 20);
}

}  // namespace
}  // namespace grader
