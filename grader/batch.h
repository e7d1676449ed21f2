// grader/batch.h: grade a class: every submission in a folder, in parallel, resumable, sharded.
//
//   grader batch DIR -j N [--shard i/n] --out=OUT
//
// A submission is a subfolder of DIR or a DIR/<student>.tar.gz (.tgz); its name is the student.
// Each student's reports go to OUT/<student>/ (grade's reports plus summary.json); the class's
// gradebook is OUT/gradebook.csv, one row per student and one column per lab, rebuilt from every
// OUT/*/summary.json at the end (so shards that share OUT, or a rerun, fill one gradebook).
// Resuming: a student whose summary.json holds the same content fingerprint (grade.h) and no
// grader error is not graded again. Sharding: student s belongs to shard i of n when
// FNV-1a(s) mod n == i, a stable choice that does not depend on who else is in DIR.
// Partner: grader/main.cc. Tests: grader/batch_test.cc.
#ifndef IPC_LABS_GRADER_BATCH_H_
#define IPC_LABS_GRADER_BATCH_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "grader/grade.h"

namespace grader {

// One submission found in a batch folder.
struct BatchEntry {
  std::string student;  // the folder or archive name, without .tar.gz
  std::string path;
};

// ListSubmissions()
//
// The submissions in `dir`, sorted by student: subfolders and .tar.gz/.tgz/.tar files; names
// starting with '.' are skipped. Errors: opendir's.
absl::StatusOr<std::vector<BatchEntry>> ListSubmissions(const std::string& dir);

// ParseShard()
//
// "i/n" with 0 <= i < n -> {i, n}. Errors: INVALID_ARGUMENT with the rule.
absl::StatusOr<std::pair<int, int>> ParseShard(const std::string& text);

// InShard()
//
// True if `student` belongs to shard `index` of `count` (stable: depends on the name alone).
bool InShard(const std::string& student, int index, int count);

// SafeName()
//
// `student` as a folder name: letters, digits, '.', '_' and '-' kept, anything else '_', and
// never "", "." or "..".
std::string SafeName(const std::string& student);

// WriteGradebook()
//
// Writes OUT/gradebook.csv from every OUT/*/summary.json: header
// `student,<lab>...,total,max,flags`, one row per student sorted by name. `labs` fixes the lab
// columns. Errors: writing failed.
absl::Status WriteGradebook(const std::string& out, const std::vector<std::string>& labs);

// How to grade a class.
struct BatchOptions {
  std::string dir;
  std::string out;
  int jobs = 1;  // submissions graded at once (each in its own stage slot)
  int shard_index = 0;
  int shard_count = 1;
  GradeOptions grade;  // tree, labs, bazel, limits...; submission/student/slot are set per entry
  bool progress_tty = false;  // rewrite the progress line in place
};

// What a batch did.
struct BatchSummary {
  int total = 0;     // submissions in this shard
  int graded = 0;
  int unchanged = 0;  // skipped: already graded with the same content
  int failed = 0;     // grading could not produce a report
  int grader_errors = 0;
};

// RunBatch()
//
// Grades every submission of options.dir in this shard (skipping unchanged ones), writes each
// student's reports and the gradebook, and prints a progress line per submission to stderr.
// `sandbox` is shared by all workers. Errors: DIR unreadable, no labs, OUT unwritable.
absl::StatusOr<BatchSummary> RunBatch(const BatchOptions& options, Sandbox& sandbox);

}  // namespace grader

#endif  // IPC_LABS_GRADER_BATCH_H_
