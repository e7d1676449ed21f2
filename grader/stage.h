// grader/stage.h: put a submission's student files onto a pristine copy of the tree.
//
// A submission is a folder shaped like labs/ (solutions/ is one), a repository root that holds
// labs/, or a .tar.gz of either (unpacked with archive.h). Staging has three steps:
//   1. OpenSubmission() finds the folder that holds the lab folders (unpacking a tarball first).
//   2. SyncTree() mirrors the pristine tree into a stable stage folder (one per job slot), writing
//      only what differs, so Bazel's output base for that folder stays warm and the next
//      submission rebuilds only the student files. .git, .grader, bazel-* and solutions/ are left
//      out (the student must not see the reference; the stage builds student targets only).
//   3. StageLab() copies the student files that lab.json names, and nothing else, from the
//      submission into the stage, refusing symbolic links, devices, FIFOs, sockets, folders,
//      files over the size cap and paths that leave the lab folder, one sentence each.
// Partner: grader/grade.h drives these; grader/archive.h unpacks tarballs.
// Tests: grader/stage_test.cc.
#ifndef IPC_LABS_GRADER_STAGE_H_
#define IPC_LABS_GRADER_STAGE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grader/files.h"
#include "grader/lab_config.h"

namespace grader {

// A submission, opened.
struct Submission {
  std::string base;  // the folder that holds <lab>/ folders
  std::vector<std::string> refusals;  // archive entries refused while unpacking, one line each
  // Refused archive entries by absolute path (as they would have been written), with the reason.
  std::map<std::string, std::string> refused_paths;
  std::optional<ScratchDir> unpacked;  // owns the unpacked tarball, if it was one
};

// Caps for the files copied from a submission.
struct StageLimits {
  int64_t max_file_bytes = int64_t{1} << 20;
};

// OpenSubmission()
//
// Opens `path`: a folder, or a file ending in .tar.gz/.tgz/.tar (unpacked into a scratch folder
// that the Submission owns). In the folder, `labs/` is used if it is a real folder; a tarball
// holding one top-level folder that is not a lab is entered first. `labs` are the lab names.
// Errors: the path does not exist or is neither a folder nor a tarball; the tarball is corrupt or
// over a cap (archive.h).
absl::StatusOr<Submission> OpenSubmission(const std::string& path,
                                          const std::vector<std::string>& labs,
                                          const StageLimits& limits = {});

// SyncTree()
//
// Makes `stage` a copy of `root` without `.git`, `.grader`, `bazel-*`, `solutions` (top level)
// and without the absolute paths in `exclude` (a submission or report folder inside the tree).
// Files whose content already matches are not rewritten; files and folders not in `root` are
// removed. Symbolic links in the pristine tree are copied as links. Errors: the first failing
// call, as an ipc::ErrnoError sentence.
absl::Status SyncTree(const std::string& root, const std::string& stage,
                      const std::vector<std::string>& exclude = {});

// What staging one lab found.
struct LabStaging {
  bool ok = true;                     // every student file that is built was copied
  std::vector<std::string> problems;  // "missing labs/x/x.cc", "refused labs/x/x.cc: ..."
  // Missing or refused written answers (IsWrittenAnswer): reported, but the lab is still built.
  std::vector<std::string> notes;
};

// IsWrittenAnswer()
//
// True for a student file that no build uses: a document (.md, .txt). Such a file (ANSWERS.md)
// is handed in for a person to read; when it is missing or refused the lab is still graded, with
// a note, because the tests do not depend on it. Every other student file is code: without it
// the lab scores zero (the pristine skeleton would otherwise be graded in its place).
bool IsWrittenAnswer(absl::string_view file);

// StageLab()
//
// Copies `config.student_files` from `submission.base/<lab>/` to `stage/labs/<lab>/`, each opened
// without following links (a linked folder on the way is refused too). A missing file gives
// "missing labs/<lab>/<file>"; a refused one "refused labs/<lab>/<file>: <why>" (in `notes`
// instead for a written answer). Files of a lab that is not ok are not copied at all (the
// pristine skeleton stays, and the lab is not built).
// Errors: only the grader's own failures (writing into the stage).
absl::StatusOr<LabStaging> StageLab(const LabConfig& config, const Submission& submission,
                                    const std::string& stage, const StageLimits& limits = {});

}  // namespace grader

#endif  // IPC_LABS_GRADER_STAGE_H_
