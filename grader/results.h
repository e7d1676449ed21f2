// grader/results.h: what grading found, in one plain data model that every report reads.
//
// A SubmissionReport holds one LabReport per lab; a lab holds one CaseReport per test case and
// one SpeedReport per speed item, plus the lines that explain why it scored what it scored
// (missing or refused files, compiler errors, grader errors). The scoring code (scoring.h)
// fills it; the writers (reports.h) only read it.
#ifndef IPC_LABS_GRADER_RESULTS_H_
#define IPC_LABS_GRADER_RESULTS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grader/lab_config.h"
#include "grader/sandbox.h"

namespace grader {

// One test case, run and scored.
struct CaseReport {
  BinaryKind binary = BinaryKind::kPublic;
  std::string name;  // "Suite.Case"
  double points = 0;
  double max_points = 0;
  CaseResult result;
  std::string note;  // how the points were reached, when not simply all or nothing
};

// One speed item, measured and scored.
struct SpeedReport {
  std::string name;
  BinaryKind binary = BinaryKind::kHidden;
  double points = 0;
  double max_points = 0;
  std::vector<double> student;   // one metric per run
  std::vector<double> baseline;  // one metric per run
  std::optional<double> ratio;   // > 1: the student is better than the baseline
  std::string explanation;       // one sentence for the student
  bool grader_error = false;     // the baseline itself failed: the lab, not the student
};

// How a lab ended.
enum class LabOutcome {
  kGraded,       // built and run (its cases say the rest)
  kMissing,      // a student file was missing or refused: not built, zero
  kBuildFailed,  // did not compile or link: zero, with the compiler's first errors
  kGraderError,  // the grader could not grade it (a broken lab.json, a listing that crashed)
};

// LabOutcomeName()
//
// "graded", "missing files", "build failed", "grader error".
const char* LabOutcomeName(LabOutcome outcome);

// One lab of one submission.
struct LabReport {
  std::string name;
  std::string title;
  LabOutcome outcome = LabOutcome::kGraded;
  std::vector<std::string> problems;   // for the student: "missing labs/x/x.cc", ...
  std::string build_errors;            // the compiler's first errors, trimmed
  std::vector<CaseReport> cases;
  std::vector<SpeedReport> speed;
  std::vector<std::string> suspicions;     // for the instructor: signs of a forged verdict
  std::vector<std::string> grader_errors;  // for the instructor: the grader's own failures
  std::vector<std::string> notes;          // for the instructor: rubric items matching no case
  double points = 0;
  double max_points = 0;
  bool max_known = true;  // false: no case list and no "max_points" (max_points is a guess)
};

// One submission.
struct SubmissionReport {
  std::string student;     // a name for reports ("alice", or the submission folder's name)
  std::string submission;  // the path graded
  std::vector<LabReport> labs;
  std::vector<std::string> refusals;       // submission-level (archive entries)
  std::vector<std::string> warnings;       // sandbox isolation weaker than designed
  std::vector<std::string> grader_errors;  // could not stage, could not run Bazel, ...
  double points = 0;
  double max_points = 0;
  absl::Duration wall_time;

  // SubmissionReport::Total()
  //
  // Sums the labs' points and max_points into points and max_points.
  void Total();

  // SubmissionReport::HasGraderErrors()
  //
  // True if the grader failed anywhere (submission or lab level).
  bool HasGraderErrors() const;
};

// CaseOutcomeName()
//
// "passed", "failed", "skipped", "crashed", "timed out", "out of memory", "no verdict".
// (The same words as grader::OutcomeName, defined here so reports need no sandbox code.)
const char* CaseOutcomeName(CaseResult::Outcome outcome);

}  // namespace grader

#endif  // IPC_LABS_GRADER_RESULTS_H_
