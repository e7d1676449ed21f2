// grader/bazel_build.h: build every lab's test binaries in the stage with one Bazel call.
//
// `bazel build --keep_going` builds what it can; the Build Event Protocol file it writes
// (--build_event_json_file) says which targets completed, where each binary is, and which
// actions failed with what on stderr. A lab whose targets did not all build scores zero, and its
// feedback carries the compiler's first errors (TrimCompilerErrors); the other labs go on.
// Binaries are linked statically against the project's libraries (--dynamic_mode=off) so they
// can be copied out of Bazel's output base, which the sandbox's unprivileged user cannot read.
// Partner: grader/grade.h. Tests: grader/bazel_build_test.cc (the BEP parsing and trimming).
#ifndef IPC_LABS_GRADER_BAZEL_BUILD_H_
#define IPC_LABS_GRADER_BAZEL_BUILD_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace grader {

// How to run Bazel.
struct BazelOptions {
  std::string bazel = "bazel";                  // the program (found on PATH)
  std::vector<std::string> startup_options;     // e.g. "--output_user_root=..."
  std::string disk_cache;                       // --disk_cache (empty: none)
  std::vector<std::string> build_options;       // more flags for `build`
  absl::Duration timeout = absl::Minutes(30);   // the whole build
};

// One lab to build.
struct BuildRequest {
  std::string lab;
  bool hidden = false;  // grader/hidden/<lab> exists: build its student variant too
};

// What the build did for one lab.
struct LabBuild {
  bool ok = false;
  std::string public_binary;  // absolute paths in the output base, when ok
  std::string hidden_binary;
  std::string errors;  // the compiler's first errors, trimmed (when not ok)
};

// The whole build.
struct BuildResult {
  std::map<std::string, LabBuild> labs;
  int exit_code = 0;
  std::string log_tail;  // the end of Bazel's own output (for grader errors)
  absl::Duration wall_time;
};

// PublicTarget() / HiddenTarget()
//
// "//labs/L:L_test" and "//grader/hidden/L:student/L_hidden_test".
std::string PublicTarget(absl::string_view lab);
std::string HiddenTarget(absl::string_view lab);

// BuildLabs()
//
// Runs Bazel in `stage` on every requested lab's targets and reads its build events.
// Errors: Bazel could not be started, timed out, or wrote no build events (a broken stage or
// server: the grader's failure, not a student's).
absl::StatusOr<BuildResult> BuildLabs(const std::string& stage,
                                      const std::vector<BuildRequest>& labs,
                                      const BazelOptions& options);

// ParseBuildEvents()
//
// Reads a BEP JSON file's text (one event per line) into per-lab results for `labs`: a lab is ok
// only if all its targets completed successfully; failed actions' stderr files are read and
// attributed to the lab of their label (//labs/L:..., //grader/hidden/L:...). `stage` is cut
// from paths in the messages. Failures outside any lab go to `unattributed`.
std::map<std::string, LabBuild> ParseBuildEvents(absl::string_view bep,
                                                 const std::vector<BuildRequest>& labs,
                                                 const std::string& stage,
                                                 std::string* unattributed);

// TrimCompilerErrors()
//
// Compiler output made readable for a student: Bazel's sandbox chatter and the stage path are
// removed, and output is cut after `max_errors` "error:" lines plus their context, or
// `max_lines` lines, with a note.
std::string TrimCompilerErrors(absl::string_view output, const std::string& stage,
                               int max_errors = 3, int max_lines = 40);

}  // namespace grader

#endif  // IPC_LABS_GRADER_BAZEL_BUILD_H_
