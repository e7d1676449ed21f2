// grader/results.cc: the small pieces of logic in the results model (results.h).
#include "grader/results.h"

namespace grader {

const char* LabOutcomeName(LabOutcome outcome) {
  switch (outcome) {
    case LabOutcome::kGraded: return "graded";
    case LabOutcome::kMissing: return "missing files";
    case LabOutcome::kBuildFailed: return "build failed";
    case LabOutcome::kGraderError: return "grader error";
  }
  return "?";
}

const char* CaseOutcomeName(CaseResult::Outcome outcome) {
  switch (outcome) {
    case CaseResult::Outcome::kPassed: return "passed";
    case CaseResult::Outcome::kFailed: return "failed";
    case CaseResult::Outcome::kSkipped: return "skipped";
    case CaseResult::Outcome::kCrashed: return "crashed";
    case CaseResult::Outcome::kTimedOut: return "timed out";
    case CaseResult::Outcome::kOutOfMemory: return "out of memory";
    case CaseResult::Outcome::kNoVerdict: return "no verdict";
  }
  return "?";
}

void SubmissionReport::Total() {
  points = 0;
  max_points = 0;
  for (const LabReport& lab : labs) {
    points += lab.points;
    max_points += lab.max_points;
  }
}

bool SubmissionReport::HasGraderErrors() const {
  if (!grader_errors.empty()) return true;
  for (const LabReport& lab : labs) {
    if (!lab.grader_errors.empty() || lab.outcome == LabOutcome::kGraderError) return true;
    for (const SpeedReport& s : lab.speed) {
      if (s.grader_error) return true;
    }
  }
  return false;
}

}  // namespace grader
