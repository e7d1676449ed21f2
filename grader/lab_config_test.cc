// grader/lab_config_test.cc: lab.json parsing, validation and rubric matching.
//
// Each refusal test checks the exact sentence an instructor will read, because that sentence is
// the whole user interface of a typo in lab.json.
//   bazel --output_base=... test //grader:lab_config_test
#include "grader/lab_config.h"

#include <string>

#include "common/testing/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace grader {
namespace {

using ::ipc::testing::MessageHas;
using ::ipc::testing::StatusIs;
using ::testing::ElementsAre;

constexpr char kGood[] = R"json({
  "name": "posix_shm",
  "title": "POSIX shared memory",
  "student_files": ["posix_shm.cc", "src/extra.cc"],
  "limits": {"timeout_seconds": 10, "memory_mb": 512, "processes": 64, "cpu_seconds": 20,
             "open_files": 8192, "file_size_mb": 128, "tmpfs_mb": 32},
  "leak_penalty": 0.5,
  "rubric": [
    {"binary": "public", "case": "SharedRegionTest.*", "points": 1},
    {"binary": "hidden", "case": "Hidden.Survives*", "points": 2, "timeout_seconds": 20,
     "memory_mb": 64, "file_size_mb": 1100}
  ],
  "speed": [
    {"name": "throughput vs baseline", "binary": "hidden", "student_case": "Speed.Student",
     "baseline_case": "Speed.Baseline", "runs": 5, "higher_is_better": true,
     "thresholds": [{"ratio": 1.5, "points": 2}, {"ratio": 3.0, "points": 4}]}
  ]
})json";

TEST(LabConfigTest, ParsesEveryDocumentedField) {
  IPC_ASSERT_OK_AND_ASSIGN(LabConfig config,
                           LabConfig::Parse(kGood, "labs/posix_shm/lab.json", "posix_shm"));
  EXPECT_EQ(config.title, "POSIX shared memory");
  EXPECT_THAT(config.student_files, ElementsAre("posix_shm.cc", "src/extra.cc"));
  EXPECT_EQ(config.leak_penalty, 0.5);
  ASSERT_EQ(config.rubric.size(), 2u);
  EXPECT_EQ(config.rubric[1].binary, BinaryKind::kHidden);
  EXPECT_EQ(config.rubric[1].timeout_seconds, 20);
  ASSERT_EQ(config.speed.size(), 1u);
  EXPECT_EQ(config.speed[0].max_points(), 4);
  EXPECT_TRUE(config.speed[0].higher_is_better);
}

TEST(LabConfigTest, RubricItemOverridesTheLabLimits) {
  IPC_ASSERT_OK_AND_ASSIGN(LabConfig config,
                           LabConfig::Parse(kGood, "labs/posix_shm/lab.json", "posix_shm"));
  CaseLimits plain = config.LimitsFor(config.ItemFor(BinaryKind::kPublic, "SharedRegionTest.A"));
  EXPECT_EQ(plain.timeout, absl::Seconds(10));
  EXPECT_EQ(plain.memory_bytes, int64_t{512} << 20);
  CaseLimits hidden = config.LimitsFor(config.ItemFor(BinaryKind::kHidden, "Hidden.SurvivesX"));
  EXPECT_EQ(hidden.timeout, absl::Seconds(20));
  EXPECT_EQ(hidden.memory_bytes, int64_t{64} << 20);
  EXPECT_EQ(hidden.max_processes, 64);
  EXPECT_EQ(plain.open_files, 8192);
  EXPECT_EQ(plain.file_size_bytes, int64_t{128} << 20);
  EXPECT_EQ(plain.tmpfs_bytes, int64_t{32} << 20);
  EXPECT_EQ(hidden.file_size_bytes, int64_t{1100} << 20) << "an item may allow a larger file";
}

TEST(LabConfigTest, ItemForTakesTheFirstMatchOfTheRightBinary) {
  IPC_ASSERT_OK_AND_ASSIGN(LabConfig config,
                           LabConfig::Parse(kGood, "labs/posix_shm/lab.json", "posix_shm"));
  EXPECT_EQ(config.ItemFor(BinaryKind::kPublic, "SharedRegionTest.Opens"), &config.rubric[0]);
  EXPECT_EQ(config.ItemFor(BinaryKind::kHidden, "SharedRegionTest.Opens"), nullptr)
      << "a public pattern must not give points to a hidden case";
  EXPECT_EQ(config.ItemFor(BinaryKind::kPublic, "Other.Case"), nullptr);
  EXPECT_TRUE(config.IsSpeedCase(BinaryKind::kHidden, "Speed.Baseline"));
  EXPECT_FALSE(config.IsSpeedCase(BinaryKind::kPublic, "Speed.Baseline"));
}

TEST(MatchesPatternTest, FollowsGtestFilterRules) {
  EXPECT_TRUE(MatchesPattern("*", "A.B"));
  EXPECT_TRUE(MatchesPattern("A.*", "A.B"));
  EXPECT_TRUE(MatchesPattern("A.?", "A.B"));
  EXPECT_TRUE(MatchesPattern("*.B*", "Suite.Bx"));
  EXPECT_TRUE(MatchesPattern("A*B*C", "AxxBxxBxxC"));
  EXPECT_FALSE(MatchesPattern("A.?", "A.BC"));
  EXPECT_FALSE(MatchesPattern("A.B", "A.BC")) << "a pattern without * matches the whole name only";
  EXPECT_FALSE(MatchesPattern("B.*", "A.B"));
}

TEST(IsSafeRelativePathTest, RefusesEveryWayOut) {
  EXPECT_TRUE(IsSafeRelativePath("a.cc"));
  EXPECT_TRUE(IsSafeRelativePath("src/a.cc"));
  EXPECT_FALSE(IsSafeRelativePath(""));
  EXPECT_FALSE(IsSafeRelativePath("/etc/passwd"));
  EXPECT_FALSE(IsSafeRelativePath("../x.cc"));
  EXPECT_FALSE(IsSafeRelativePath("a/../../x.cc"));
  EXPECT_FALSE(IsSafeRelativePath("a//b"));
  EXPECT_FALSE(IsSafeRelativePath("./a"));
}

// Replaces the first occurrence of `from` in kGood by `to`.
std::string Edit(const std::string& from, const std::string& to) {
  std::string text = kGood;
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

absl::StatusOr<LabConfig> ParseEdited(const std::string& from, const std::string& to) {
  return LabConfig::Parse(Edit(from, to), "labs/posix_shm/lab.json", "posix_shm");
}

TEST(LabConfigTest, RefusesAnUnknownKeyAndNamesIt) {
  EXPECT_THAT(ParseEdited("\"leak_penalty\"", "\"leak_penality\""),
              MessageHas("labs/posix_shm/lab.json: leak_penality: unknown key"));
  EXPECT_THAT(ParseEdited("\"points\": 1}", "\"point\": 1}"),
              MessageHas("rubric[0].point: unknown key"));
}

TEST(LabConfigTest, RefusesANameThatIsNotTheFolder) {
  EXPECT_THAT(LabConfig::Parse(kGood, "labs/x/lab.json", "x"),
              MessageHas("name: is \"posix_shm\" but the lab's folder is \"x\""));
}

TEST(LabConfigTest, RefusesStudentFilesOutsideTheLabFolder) {
  EXPECT_THAT(ParseEdited("\"src/extra.cc\"", "\"../common/status.cc\""),
              MessageHas("student_files[1]: must be a path inside the lab folder"));
  EXPECT_THAT(ParseEdited("\"src/extra.cc\"", "\"/etc/passwd\""),
              MessageHas("student_files[1]"));
  EXPECT_THAT(ParseEdited("\"src/extra.cc\"", "\"BUILD\""),
              MessageHas("always come from the pristine tree"));
  EXPECT_THAT(ParseEdited("\"src/extra.cc\"", "\"posix_shm.cc\""), MessageHas("listed twice"));
}

TEST(LabConfigTest, RefusesBadNumbersWithTheRange) {
  EXPECT_THAT(ParseEdited("\"points\": 1}", "\"points\": -1}"),
              MessageHas("rubric[0].points: must be a number between 0 and"));
  EXPECT_THAT(ParseEdited("\"points\": 1}", "\"points\": \"1\"}"),
              MessageHas("rubric[0].points: must be a number"));
  EXPECT_THAT(ParseEdited("\"leak_penalty\": 0.5", "\"leak_penalty\": 1.5"),
              MessageHas("leak_penalty: must be a number between 0 and 1"));
  EXPECT_THAT(ParseEdited("\"processes\": 64", "\"processes\": 6.5"),
              MessageHas("limits.processes: must be a whole number"));
}

TEST(LabConfigTest, RefusesABinaryThatIsNeitherPublicNorHidden) {
  EXPECT_THAT(ParseEdited("\"binary\": \"public\"", "\"binary\": \"secret\""),
              MessageHas("rubric[0].binary: must be \"public\" or \"hidden\", got \"secret\""));
}

TEST(LabConfigTest, RefusesSpeedThresholdsOutOfOrder) {
  EXPECT_THAT(ParseEdited("\"ratio\": 3.0", "\"ratio\": 1.0"),
              MessageHas("speed[0].thresholds[1]: ratios must be strictly increasing"));
  EXPECT_THAT(ParseEdited("\"ratio\": 3.0, \"points\": 4", "\"ratio\": 3.0, \"points\": 1"),
              MessageHas("must not earn fewer points"));
  EXPECT_THAT(ParseEdited("\"Speed.Baseline\"", "\"Speed.Student\""),
              MessageHas("must be different cases"));
  EXPECT_THAT(ParseEdited("\"Speed.Baseline\"", "\"Speed.*\""), MessageHas("one exact case name"));
}

TEST(LabConfigTest, RefusesMissingRequiredParts) {
  EXPECT_THAT(LabConfig::Parse("{\"name\": \"x\"}", "labs/x/lab.json", "x"),
              MessageHas("student_files: is required"));
  EXPECT_THAT(LabConfig::Parse("{\"name\": \"x\", \"student_files\": [\"x.cc\"]}",
                               "labs/x/lab.json", "x"),
              MessageHas("rubric: is required"));
  EXPECT_THAT(LabConfig::Parse("{not json", "labs/x/lab.json", "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace grader
