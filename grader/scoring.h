// grader/scoring.h: run a lab's test cases in the sandbox and turn what happened into points.
//
// The arithmetic (docs/grader.md, "Scoring"):
//   - A case is worth the points of the first rubric item whose pattern matches it (0 if none).
//   - passed: all its points; passed but leaked an IPC object: points x (1 - leak_penalty);
//     anything else (failed, skipped, crashed, timed out, out of memory, no verdict): 0.
//   - A speed item runs its student and baseline cases alternately `runs` times; each run prints
//     `IPCLABS_METRIC <name>=<value>`; ratio = median(student)/median(baseline) when higher is
//     better, the inverse otherwise, so a ratio above 1 always means "better than the baseline";
//     the item earns the points of the highest threshold the ratio reaches. Never an absolute time.
//   - A lab's total is the sum of its cases and speed items; a lab that was not built scores 0
//     of the maximum its last case list gave (CaseListCache), or of lab.json "max_points".
// Partner: grader/grade.h calls RunLab for each lab that built. Tests: grader/scoring_test.cc,
// with a fake Sandbox (fake_sandbox.h).
#ifndef IPC_LABS_GRADER_SCORING_H_
#define IPC_LABS_GRADER_SCORING_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "grader/lab_config.h"
#include "grader/results.h"
#include "grader/sandbox.h"

namespace grader {

// ScoreCase()
//
// Sets report.points, report.max_points and report.note from report.result, the rubric item that
// matched it (nullptr: worth nothing) and the lab's leak_penalty.
void ScoreCase(const LabConfig& config, const RubricItem* item, CaseReport& report);

// ParseMetric()
//
// Finds the last line `IPCLABS_METRIC <name>=<value>` in `output` and returns its value. With an
// empty `metric`, the output must name exactly one metric. Errors: none found, several names
// without `metric`, or a value that is not a finite number (NOT_FOUND / INVALID_ARGUMENT).
absl::StatusOr<double> ParseMetric(absl::string_view output, absl::string_view metric);

// Median()
//
// The median of `values` (the mean of the middle two for an even count); 0 for none.
double Median(std::vector<double> values);

// ScoreSpeed()
//
// Sets report.ratio, report.points, report.max_points and report.explanation from the samples
// in report.student and report.baseline. Both must hold at least one sample; otherwise the item
// scores 0 (the caller has put the reason in explanation already).
void ScoreSpeed(const SpeedItem& item, SpeedReport& report);

// CaseListCache
//
// Remembers the cases each lab binary listed, keyed by a hash of the lab's pristine sources, in
// one JSON file per lab and binary under `dir`, so a lab that fails to build still shows its
// true maximum. Thread-compatible; writes are atomic renames.
class CaseListCache {
 public:
  explicit CaseListCache(std::string dir) : dir_(std::move(dir)) {}

  // CaseListCache::Get()
  //
  // The cases stored for (lab, binary) under `key`, or nullopt.
  std::optional<std::vector<std::string>> Get(const std::string& lab, BinaryKind binary,
                                              const std::string& key) const;

  // CaseListCache::Put()
  //
  // Stores a listing. Failing to write is not an error for grading: it is ignored.
  void Put(const std::string& lab, BinaryKind binary, const std::string& key,
           const std::vector<std::string>& cases) const;

 private:
  std::string Path(const std::string& lab, BinaryKind binary) const;
  std::string dir_;
};

// A lab's built test binaries (empty path: none of that kind).
struct LabBinaries {
  std::string public_binary;
  std::string hidden_binary;
};

// How to run a lab.
struct RunOptions {
  int jobs = 1;                          // cases run in parallel
  const CaseListCache* cache = nullptr;  // optional
  std::string cache_key;                 // the lab's pristine hash, for the cache
};

// RunLab()
//
// For each binary: lists its cases (ListCases, the lab's limits), runs every case that is not a
// speed case (RunCase, in parallel up to options.jobs, each with its rubric item's limits),
// checks the sentinel (CheckSentinel), then runs the speed items; scores it all into `report`
// (cases, speed, suspicions, grader errors, points, max_points). A binary whose listing fails
// scores 0 for each case the cache remembers. Runs cases with the binary's folder as the working
// directory. `sandbox` must allow concurrent RunCase calls when jobs > 1.
void RunLab(const LabConfig& config, const LabBinaries& binaries, Sandbox& sandbox,
            const RunOptions& options, LabReport& report);

// ScoreUnbuiltLab()
//
// Sets the maximum of a lab that was not run (missing files, build failure): the cached case
// lists, else lab.json "max_points", else 0 with max_known = false. Its points are 0.
void ScoreUnbuiltLab(const LabConfig& config, const RunOptions& options, LabReport& report);

}  // namespace grader

#endif  // IPC_LABS_GRADER_SCORING_H_
