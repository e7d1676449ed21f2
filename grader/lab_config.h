// grader/lab_config.h: a lab's lab.json, read and checked.
//
// The grader finds labs by ROOT/labs/*/lab.json (docs/lab-authoring.md shows the format). This
// file turns one lab.json into a LabConfig, refusing anything it would otherwise have to guess
// about: an unknown key (a typo such as "leak_penality" would silently grade with the default),
// a path that leaves the lab folder, points below zero, speed thresholds out of order. Every error
// names the file and the JSON path: `labs/x/lab.json: rubric[2].points: must be a number >= 0`.
//
// It also matches GoogleTest case names against rubric patterns (`*` and `?`, as --gtest_filter).
// Partner: grader/scoring.h, which turns a LabConfig and the cases a binary lists into points.
// Tests: grader/lab_config_test.cc.
#ifndef IPC_LABS_GRADER_LAB_CONFIG_H_
#define IPC_LABS_GRADER_LAB_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grader/sandbox.h"

namespace grader {

// Which test binary of a lab: `public` is //labs/L:L_test, `hidden` is
// //grader/hidden/L:student/L_hidden_test.
enum class BinaryKind { kPublic, kHidden };

// BinaryKindName()
//
// "public" or "hidden".
const char* BinaryKindName(BinaryKind kind);

// The per-case limits a lab.json may set ("limits", and per rubric item).
struct LabLimits {
  double timeout_seconds = 10;
  int64_t memory_mb = 512;
  int processes = 64;
  double cpu_seconds = 20;
  int open_files = 256;        // RLIMIT_NOFILE
  int64_t file_size_mb = 64;   // RLIMIT_FSIZE: the largest file a case may write
  int64_t tmpfs_mb = 64;       // the size of the case's private /tmp and /dev/shm each
};

// One rubric item: every case of `binary` whose name matches `pattern` is worth `points`.
struct RubricItem {
  BinaryKind binary = BinaryKind::kPublic;
  std::string pattern;
  double points = 0;
  std::optional<double> timeout_seconds;  // overrides LabLimits for the matching cases
  std::optional<int64_t> memory_mb;
  std::optional<int64_t> file_size_mb;
};

// One speed threshold: a ratio (student vs baseline, >1 means the student is better) at or above
// `ratio` earns `points` (the highest threshold reached counts, not the sum).
struct SpeedThreshold {
  double ratio = 0;
  double points = 0;
};

// One speed item (lab.json "speed"): run `student_case` and `baseline_case` of `binary`
// alternately `runs` times; each run reports a metric on stdout (`IPCLABS_METRIC name=value`);
// compare the medians.
struct SpeedItem {
  std::string name;
  BinaryKind binary = BinaryKind::kHidden;
  std::string student_case;
  std::string baseline_case;
  std::string metric;  // the metric's name; empty: the case must print exactly one metric
  int runs = 5;
  bool higher_is_better = true;
  std::vector<SpeedThreshold> thresholds;  // ratios strictly increasing

  // SpeedItem::max_points()
  //
  // The most this item can earn: the points of its best threshold.
  double max_points() const;
};

// A lab's lab.json.
struct LabConfig {
  std::string name;  // the folder name under labs/
  std::string title;
  std::vector<std::string> student_files;  // relative to the lab folder, validated (no "..")
  LabLimits limits;
  double leak_penalty = 1.0;  // the fraction of a case's points lost when it leaks
  std::optional<double> max_points;  // optional: the lab's total, used when no case list exists
  std::vector<RubricItem> rubric;
  std::vector<SpeedItem> speed;

  // LabConfig::Parse()
  //
  // Parses and validates the text of a lab.json. `where` names the file in error messages
  // ("labs/posix_shm/lab.json"); `folder` is the lab's folder name, which "name" must equal.
  // Errors: INVALID_ARGUMENT with one sentence naming the file, the JSON path and the rule.
  static absl::StatusOr<LabConfig> Parse(absl::string_view text, absl::string_view where,
                                         absl::string_view folder);

  // LabConfig::Load()
  //
  // Reads ROOT/labs/<folder>/lab.json and parses it. Errors: the file cannot be read (NOT_FOUND
  // and friends, naming the path), or Parse()'s.
  static absl::StatusOr<LabConfig> Load(const std::string& root, const std::string& folder);

  // LabConfig::ItemFor()
  //
  // The first rubric item of `binary` whose pattern matches `case_name`, or nullptr: such a case
  // still runs and is reported, for 0 points.
  const RubricItem* ItemFor(BinaryKind binary, absl::string_view case_name) const;

  // LabConfig::LimitsFor()
  //
  // The sandbox limits for one case: the lab's limits, overridden by `item` if given.
  CaseLimits LimitsFor(const RubricItem* item) const;

  // LabConfig::IsSpeedCase()
  //
  // True if `case_name` of `binary` is a speed item's student or baseline case: those run only
  // in the speed comparison, not as ordinary cases.
  bool IsSpeedCase(BinaryKind binary, absl::string_view case_name) const;
};

// MatchesPattern()
//
// GoogleTest-filter matching of one pattern: `*` matches any run of characters (including none),
// `?` any one character, everything else itself.
bool MatchesPattern(absl::string_view pattern, absl::string_view name);

// FindLabs()
//
// The folder names of ROOT/labs/*/ that hold a lab.json, sorted. Errors: ROOT/labs unreadable.
absl::StatusOr<std::vector<std::string>> FindLabs(const std::string& root);

// IsSafeRelativePath()
//
// True if `path` is relative, non-empty, and has no "", "." or ".." component (so it names a
// file inside the folder it is relative to, as long as no component is a symbolic link).
bool IsSafeRelativePath(absl::string_view path);

}  // namespace grader

#endif  // IPC_LABS_GRADER_LAB_CONFIG_H_
