// grader/grade.h: grade one submission, from staging to a scored SubmissionReport.
//
//   stage (stage.h) -> build (bazel_build.h) -> run and score (scoring.h) -> SubmissionReport
//
// The stage lives in a stable folder per job slot (STATE/stage-<k>, where STATE defaults to
// ~/.cache/ipclabs/grader/<name>-<hash of the tree path>), outside the tree so that
// `bazel test //...` in the tree never sees it, and stable so that Bazel's output base (keyed
// by the workspace path) stays warm: the second submission rebuilds only its student files.
// A slot is held with flock(2) for the whole grading, so parallel graders never share a stage.
// Built binaries are copied to a scratch folder the sandbox's unprivileged user can read.
// Partner: grader/main.cc (`grader grade`), grader/batch.h (`grader batch`).
#ifndef IPC_LABS_GRADER_GRADE_H_
#define IPC_LABS_GRADER_GRADE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grader/bazel_build.h"
#include "grader/lab_config.h"
#include "grader/results.h"
#include "grader/sandbox.h"
#include "grader/stage.h"

namespace grader {

// Everything one grading needs.
struct GradeOptions {
  std::string tree;        // the pristine tree (ROOT), absolute
  std::string submission;  // a folder or .tar.gz; empty: the tree's own labs/
  std::string student;     // the name in reports; empty: the submission's base name
  std::vector<std::string> labs;  // lab names to grade; empty: every lab in ROOT/labs
  int jobs = 1;                   // cases run in parallel
  std::string state_dir;          // empty: StateDirFor(tree)
  BazelOptions bazel;
  StageLimits limits;
  std::vector<std::string> exclude;  // absolute paths inside the tree that are not copied
  int slot = -1;                     // a fixed job slot; -1: the first free one
};

// StateDirFor()
//
// ~/.cache/ipclabs/grader/<tree base name>-<hash of the tree's path>.
std::string StateDirFor(const std::string& tree);

// SelectLabs()
//
// The labs of `tree` to grade: all (sorted) if `wanted` is empty, else `wanted` in its order.
// Errors: a wanted lab that has no labs/<lab>/lab.json (naming it and listing the labs).
absl::StatusOr<std::vector<std::string>> SelectLabs(const std::string& tree,
                                                    const std::vector<std::string>& wanted);

// SubmissionFingerprint()
//
// A hash of everything that decides a submission's grade: the student files it holds for
// `labs` (read without following links), or the archive's bytes, and the pristine folders those
// labs are built from (labs/<lab>, grader/hidden/<lab>, common/, tools/). Equal fingerprints:
// grading again gives the same result (other labs changing in the tree do not matter).
absl::StatusOr<std::string> SubmissionFingerprint(const std::string& tree,
                                                  const std::vector<std::string>& labs,
                                                  const std::string& submission);

// GradeSubmission()
//
// Stages, builds, runs and scores one submission. Problems of the submission (missing or refused
// files, compile errors, crashes) are findings in the report; the grader's own failures (Bazel
// would not start, the stage could not be written) are report.grader_errors, and leave the labs
// concerned at zero. Errors: only when no report can be made at all (no labs in the tree).
absl::StatusOr<SubmissionReport> GradeSubmission(const GradeOptions& options, Sandbox& sandbox);

}  // namespace grader

#endif  // IPC_LABS_GRADER_GRADE_H_
