// grader/validate.h: check the grader's own reports with the shared format validators.
//
// ../shared/formats holds validate-results-json and validate-junit (python3; the JUnit one
// needs xmllint). The grader runs them on every report it writes when they can be found, and
// its tests run them on every writer's output, so a report that Gradescope or Jenkins would
// reject is caught here, not by a class of students.
#ifndef IPC_LABS_GRADER_VALIDATE_H_
#define IPC_LABS_GRADER_VALIDATE_H_

#include <optional>
#include <string>

#include "absl/status/status.h"

namespace grader {

// FindSharedFormats()
//
// The folder holding the validators: $IPCLABS_SHARED_FORMATS if set, else `tree`/../shared/formats
// (tree may be empty), else nullopt. A folder counts only if both validators are in it.
std::optional<std::string> FindSharedFormats(const std::string& tree);

// RunValidator()
//
// Runs `formats`/`tool` --strict on `file` (with a one-minute deadline). Errors:
// FAILED_PRECONDITION with the validator's findings if the file is invalid; the failing call if
// the validator could not run.
absl::Status RunValidator(const std::string& formats, const std::string& tool,
                          const std::string& file);

}  // namespace grader

#endif  // IPC_LABS_GRADER_VALIDATE_H_
