// grader/main.cc: the `grader` command: grade one submission, or a whole class.
//
//   grader grade --tree=ROOT [--submission=PATH] [--labs=a,b] --out=DIR [-j N]
//                [--expect-full-marks | --expect-zero]
//   grader batch DIR -j N [--shard i/n] --out=OUT [--tree=ROOT]
//
// It stages the submission onto a pristine copy of the tree, builds every lab's tests with Bazel,
// runs each case alone in the sandbox (sandbox.h), scores it with lab.json, and writes the
// reports (reports.h). `grader --help` documents every flag; docs/grader.md is the reference.
//   bazel run //grader -- grade --tree=$PWD --submission=$PWD/solutions --out=/tmp/report
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "grader/batch.h"
#include "grader/files.h"
#include "grader/grade.h"
#include "grader/reports.h"
#include "grader/sandbox.h"
#include "grader/validate.h"

ABSL_FLAG(std::string, tree, "", "the pristine tree (ROOT)");
ABSL_FLAG(std::string, submission, "", "the submission to grade");
ABSL_FLAG(std::string, labs, "", "labs to grade, comma-separated");
ABSL_FLAG(std::string, out, "", "where reports go");
ABSL_FLAG(std::string, student, "", "the student's name in reports");
ABSL_FLAG(int, jobs, 0, "parallel jobs");
ABSL_FLAG(std::string, shard, "0/1", "this machine's shard of a batch, i/n");
ABSL_FLAG(bool, expect_full_marks, false, "fail unless the grade is full marks");
ABSL_FLAG(bool, expect_zero, false, "fail unless the grade is zero");
ABSL_FLAG(std::string, state_dir, "", "the grader's stage and cache folder");
ABSL_FLAG(std::string, bazel, "bazel", "the Bazel program");
ABSL_FLAG(std::string, bazel_startup_options, "", "Bazel startup options, comma-separated");
ABSL_FLAG(std::string, bazel_build_options, "", "more Bazel build options, comma-separated");
ABSL_FLAG(std::string, disk_cache, "~/.cache/ipclabs/bazel-disk-cache", "Bazel's --disk_cache");
ABSL_FLAG(int, max_file_kib, 1024, "the largest student file accepted, KiB");
ABSL_FLAG(std::string, color, "auto", "auto, always or never");
ABSL_FLAG(bool, validate, true, "check the written reports with ../shared/formats");
ABSL_FLAG(std::string, bwrap, "/usr/bin/bwrap", "bubblewrap");

namespace {

constexpr int kExitOk = 0;
constexpr int kExitExpectation = 1;
constexpr int kExitUsage = 2;
constexpr int kExitGraderError = 3;
constexpr int kExitInvalidReport = 4;

constexpr char kHelp[] = R"(grader: grade IPC Labs submissions (docs/grader.md is the reference).

USAGE
  grader grade [--tree=ROOT] [--submission=PATH] [--labs=a,b] --out=DIR [-j N]
               [--expect-full-marks | --expect-zero]
  grader batch DIR [-j N] [--shard=i/n] --out=OUT [--tree=ROOT]
  grader --help

  grade   Grades one submission: a folder shaped like labs/ (solutions/ is one), a repository
          root holding labs/, or a .tar.gz of either. Without --submission it grades the tree's
          own labs/ (the student's working copy). Writes into DIR: results.json (Gradescope),
          junit.xml, feedback.md (for the student), report.txt and summary.json, and prints
          the table.
  batch   Grades every submission in DIR (subfolders and <student>.tar.gz), writing
          OUT/<student>/ and OUT/gradebook.csv. Resumable: unchanged submissions are kept.

FLAGS
  --tree=ROOT              The pristine tree: labs/, grader/hidden/, common/, WORKSPACE.
                           Default: $BUILD_WORKSPACE_DIRECTORY (under `bazel run`), else the
                           current folder.
  --submission=PATH        What to grade (grade only). Default: ROOT/labs.
  --labs=a,b               Grade only these labs. Default: every ROOT/labs/*/lab.json.
  --out=DIR                Where the reports go (required).
  --student=NAME           The name in the reports (grade only). Default: the submission's
                           folder or archive name.
  -j N, --jobs=N           grade: test cases run at once (default: the number of CPUs).
                           batch: submissions graded at once, each in its own stage and
                           Bazel server (default 1); cases then run one at a time.
  --shard=i/n              batch: grade only shard i of n (0 <= i < n), chosen by a hash of
                           the student's name: stable, so n machines can split a class.
  --expect-full-marks      grade: exit 1 unless every lab scores its full maximum with no
                           grader error (CI runs this on solutions/).
  --expect-zero            grade: exit 1 unless every lab builds and scores zero with no grader
                           error and no timeout (CI runs this on the untouched skeleton).
  --state-dir=DIR          The stage folders (one per job slot, kept warm) and caches.
                           Default: ~/.cache/ipclabs/grader/<tree name>-<hash>.
  --bazel=PATH             The Bazel program. Default: bazel.
  --bazel-startup-options=a,b   Startup options for every Bazel call (e.g. --output_user_root=...).
  --bazel-build-options=a,b     More options for `bazel build` (e.g. --config=asan).
  --disk-cache=DIR         Bazel's --disk_cache, shared by all stages and by the tree itself
                           (its .bazelrc names the same folder). Default:
                           ~/.cache/ipclabs/bazel-disk-cache. "" passes nothing (the tree's
                           .bazelrc decides); --bazel-build-options=--disk_cache= turns it off.
  --max-file-kib=N         The largest student file accepted, in KiB. Default: 1024.
  --color=auto|always|never  Colour in the terminal table. auto: only on a terminal and
                           without NO_COLOR in the environment.
  --validate / --novalidate  Check results.json and junit.xml with validate-results-json and
                           validate-junit, found in $IPCLABS_SHARED_FORMATS or
                           ROOT/../shared/formats. Default: on (skipped, loudly, when absent).
  --bwrap=PATH             bubblewrap, for the sandbox. Default: /usr/bin/bwrap.
  --help                   This text.

EXIT STATUS
  0  graded; reports written
  1  --expect-full-marks or --expect-zero did not hold (a sentence says why)
  2  usage error (unknown flag, missing --out, a lab that does not exist)
  3  the grader failed (could not stage, build or run; a lab.json is invalid; the sandbox is
     unavailable); reports are written where possible and say what failed
  4  a written report failed the shared format validators
)";

// Rewrites "-j N", "-jN" and "--some-flag" into the spelling Abseil parses ("--jobs=N",
// "--some_flag"), and reports --help/-h.
// Every flag this program defines (Abseil's own --helpfull and friends are not offered).
constexpr const char* kFlagNames[] = {
    "tree",  "submission", "labs",  "out",       "student", "jobs",
    "shard", "expect_full_marks",   "expect_zero", "state_dir", "bazel",
    "bazel_startup_options", "bazel_build_options", "disk_cache", "max_file_kib",
    "color", "validate", "bwrap"};

std::vector<std::string> Normalise(int argc, char** argv, bool& help, std::string& unknown) {
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && (arg == "--help" || arg == "-h" || arg == "-help" || arg == "--helpfull")) {
      help = true;
      continue;
    }
    if (i > 0 && arg == "-j" && i + 1 < argc) {
      out.push_back(absl::StrCat("--jobs=", argv[++i]));
      continue;
    }
    if (i > 0 && absl::StartsWith(arg, "-j") && arg.size() > 2 && arg[2] != '-') {
      out.push_back(absl::StrCat("--jobs=", arg.substr(2)));
      continue;
    }
    if (i > 0 && absl::StartsWith(arg, "--") && arg.size() > 2) {
      size_t eq = arg.find('=');
      std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      for (char& c : name) c = c == '-' ? '_' : c;
      std::string bare = absl::StartsWith(name, "no") ? name.substr(2) : name;
      if (std::find(std::begin(kFlagNames), std::end(kFlagNames), name) == std::end(kFlagNames) &&
          std::find(std::begin(kFlagNames), std::end(kFlagNames), bare) == std::end(kFlagNames)) {
        unknown = arg;  // Abseil would exit 1, which means "expectation failed" here
      }
      arg = absl::StrCat("--", name, eq == std::string::npos ? "" : arg.substr(eq));
    }
    out.push_back(arg);
  }
  return out;
}

std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipEmpty());
}

std::string Absolute(const std::string& path) {
  std::string expanded = grader::ExpandHome(path);
  if (expanded.empty() || expanded[0] == '/') return expanded;
  // Under `bazel run` the current folder is the runfiles tree; the user's is this variable.
  const char* user_cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (user_cwd != nullptr && *user_cwd != '\0') return absl::StrCat(user_cwd, "/", expanded);
  char cwd[4096];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return expanded;
  return absl::StrCat(cwd, "/", expanded);
}

bool UseColour() {
  std::string mode = absl::GetFlag(FLAGS_color);
  if (mode == "always") return true;
  if (mode == "never") return false;
  return std::getenv("NO_COLOR") == nullptr && ::isatty(STDOUT_FILENO) == 1;
}

// Why a report is not full marks, in a few lines ("" if it is).
std::string FullMarksShortfall(const grader::SubmissionReport& report) {
  std::vector<std::string> why;
  for (const grader::LabReport& lab : report.labs) {
    if (!lab.max_known || lab.max_points <= 0) {
      why.push_back(absl::StrCat(lab.name, ": its maximum is unknown or zero"));
    }
    if (lab.outcome != grader::LabOutcome::kGraded) {
      why.push_back(absl::StrCat(lab.name, ": ", grader::LabOutcomeName(lab.outcome), ": ",
                                 lab.problems.empty() ? lab.build_errors : lab.problems.front()));
      continue;
    }
    for (const grader::CaseReport& c : lab.cases) {
      // Full marks is about points: a 0-point case (informational, or a speed case's limits
      // holder) that does not pass costs nothing, and is shown in the table instead.
      if (c.max_points > 0 &&
          (c.points < c.max_points - 1e-9 ||
           c.result.outcome != grader::CaseResult::Outcome::kPassed || !c.result.leaks.empty())) {
        why.push_back(absl::StrCat(lab.name, ": ", c.name, " ",
                                   grader::CaseOutcomeName(c.result.outcome),
                                   c.result.failures.empty() ? absl::StrCat(": ", c.result.summary)
                                                             : absl::StrCat(": ", c.result.failures[0].message),
                                   c.note.empty() ? "" : absl::StrCat(" (", c.note, ")")));
      }
    }
    for (const grader::SpeedReport& s : lab.speed) {
      if (s.points < s.max_points - 1e-9) {
        why.push_back(absl::StrCat(lab.name, ": speed \"", s.name, "\": ", s.explanation));
      }
    }
    for (const std::string& s : lab.suspicions) why.push_back(absl::StrCat(lab.name, ": suspect: ", s));
  }
  return absl::StrJoin(why, "\n  ");
}

// Why a report is not a clean zero ("" if it is).
std::string ZeroShortfall(const grader::SubmissionReport& report) {
  std::vector<std::string> why;
  for (const grader::LabReport& lab : report.labs) {
    if (lab.outcome != grader::LabOutcome::kGraded) {
      why.push_back(absl::StrCat(lab.name, ": ", grader::LabOutcomeName(lab.outcome),
                                 " (the skeleton must build): ",
                                 lab.problems.empty() ? lab.build_errors : lab.problems.front()));
    }
    for (const grader::CaseReport& c : lab.cases) {
      if (c.points > 0) {
        why.push_back(absl::StrCat(lab.name, ": ", c.name, " passes on the skeleton for ",
                                   grader::FormatPoints(c.points),
                                   " points: a test that cannot fail"));
      }
      if (c.result.outcome == grader::CaseResult::Outcome::kTimedOut) {
        why.push_back(absl::StrCat(lab.name, ": ", c.name,
                                   " timed out on the skeleton: it must fail fast"));
      }
    }
    for (const grader::SpeedReport& s : lab.speed) {
      if (s.points > 0) why.push_back(absl::StrCat(lab.name, ": speed \"", s.name, "\" scores"));
    }
  }
  return absl::StrJoin(why, "\n  ");
}

// The sandbox, hiding from every case what a student's code must never read: the reference
// solutions and hidden tests of the tree, home folders (the grader's stage and caches live in
// /root), and `extra` (a class's other submissions, the reports).
absl::StatusOr<std::unique_ptr<grader::Sandbox>> MakeSandbox(const std::string& tree,
                                                             std::vector<std::string> extra) {
  grader::SandboxOptions options;
  options.bwrap = absl::GetFlag(FLAGS_bwrap);
  options.cgroup_name = "";  // "grader-<pid>": a later grader sweeps ours if we die
  options.hidden_paths = {absl::StrCat(tree, "/solutions"), absl::StrCat(tree, "/grader/hidden"),
                          "/root", "/home"};
  for (std::string& path : extra) options.hidden_paths.push_back(std::move(path));
  return grader::Sandbox::Create(options);
}

grader::GradeOptions CommonOptions(const std::string& tree) {
  grader::GradeOptions options;
  options.tree = tree;
  options.labs = SplitList(absl::GetFlag(FLAGS_labs));
  options.state_dir = absl::GetFlag(FLAGS_state_dir).empty()
                          ? ""
                          : Absolute(absl::GetFlag(FLAGS_state_dir));
  options.bazel.bazel = absl::GetFlag(FLAGS_bazel);
  options.bazel.startup_options = SplitList(absl::GetFlag(FLAGS_bazel_startup_options));
  options.bazel.build_options = SplitList(absl::GetFlag(FLAGS_bazel_build_options));
  options.bazel.disk_cache = absl::GetFlag(FLAGS_disk_cache);
  options.limits.max_file_bytes = int64_t{absl::GetFlag(FLAGS_max_file_kib)} * 1024;
  return options;
}

// Validates the two machine-readable reports in `dir`. Returns false if one is invalid.
bool ValidateReports(const std::string& tree, const std::string& dir) {
  if (!absl::GetFlag(FLAGS_validate)) return true;
  std::optional<std::string> formats = grader::FindSharedFormats(tree);
  if (!formats) {
    std::fprintf(stderr,
                 "WARNING: the shared format validators were not found ($IPCLABS_SHARED_FORMATS "
                 "or %s/../shared/formats): results.json and junit.xml were NOT validated.\n",
                 tree.c_str());
    return true;
  }
  bool ok = true;
  for (const auto& [tool, file] : {std::pair{"validate-results-json", "results.json"},
                                   std::pair{"validate-junit", "junit.xml"}}) {
    absl::Status s = grader::RunValidator(*formats, tool, absl::StrCat(dir, "/", file));
    if (!s.ok()) {
      std::fprintf(stderr, "INVALID REPORT: %s\n", std::string(s.message()).c_str());
      ok = false;
    }
  }
  return ok;
}

int Grade(const std::string& tree, const std::vector<std::string>& positional) {
  if (positional.size() > 2) {
    std::fprintf(stderr, "grader grade: unexpected argument \"%s\" (see --help)\n",
                 positional[2].c_str());
    return kExitUsage;
  }
  std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fprintf(stderr, "grader grade: --out=DIR is required (where the reports go)\n");
    return kExitUsage;
  }
  if (absl::GetFlag(FLAGS_expect_full_marks) && absl::GetFlag(FLAGS_expect_zero)) {
    std::fprintf(stderr, "grader grade: --expect-full-marks and --expect-zero exclude each other\n");
    return kExitUsage;
  }
  grader::GradeOptions options = CommonOptions(tree);
  if (!absl::GetFlag(FLAGS_submission).empty()) {
    options.submission = Absolute(absl::GetFlag(FLAGS_submission));
  }
  options.student = absl::GetFlag(FLAGS_student);
  int jobs = absl::GetFlag(FLAGS_jobs);
  options.jobs = jobs > 0 ? jobs : std::max(1, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));
  out = Absolute(out);
  options.exclude.push_back(out);
  absl::StatusOr<std::vector<std::string>> labs = grader::SelectLabs(tree, options.labs);
  if (!labs.ok()) {
    std::fprintf(stderr, "grader grade: %s\n", std::string(labs.status().message()).c_str());
    return kExitUsage;
  }

  std::vector<std::string> hide = {out};
  if (!options.submission.empty()) hide.push_back(options.submission);
  absl::StatusOr<std::unique_ptr<grader::Sandbox>> sandbox = MakeSandbox(tree, hide);
  if (!sandbox.ok()) {
    std::fprintf(stderr, "grader: the sandbox is unavailable, so nothing can be run safely: %s\n",
                 sandbox.status().ToString().c_str());
    return kExitGraderError;
  }
  absl::StatusOr<grader::SubmissionReport> report = grader::GradeSubmission(options, **sandbox);
  if (!report.ok()) {
    std::fprintf(stderr, "grader: could not grade %s: %s\n",
                 options.submission.empty() ? "the tree's labs" : options.submission.c_str(),
                 report.status().ToString().c_str());
    return kExitGraderError;
  }
  std::string fingerprint =
      grader::SubmissionFingerprint(tree, *labs, report->submission).value_or("");
  if (absl::Status s = grader::WriteSubmissionReports(*report, out, fingerprint); !s.ok()) {
    std::fprintf(stderr, "grader: could not write the reports: %s\n", s.ToString().c_str());
    return kExitGraderError;
  }
  std::cout << grader::TerminalReport(*report, UseColour()) << "\nReports: " << out
            << "/{results.json,junit.xml,feedback.md,report.txt,summary.json}\n";
  std::cout.flush();
  bool valid = ValidateReports(tree, out);
  if (report->HasGraderErrors()) {
    std::fprintf(stderr, "grader: the grader itself failed on part of this submission (GRADER "
                         "ERROR above); those labs score zero until it is fixed.\n");
    return kExitGraderError;
  }
  if (!valid) return kExitInvalidReport;
  if (absl::GetFlag(FLAGS_expect_full_marks)) {
    std::string why = FullMarksShortfall(*report);
    if (!why.empty()) {
      std::fprintf(stderr, "EXPECTED FULL MARKS for %s, got %s of %s:\n  %s\n",
                   report->student.c_str(), grader::FormatPoints(report->points).c_str(),
                   grader::FormatPoints(report->max_points).c_str(), why.c_str());
      return kExitExpectation;
    }
    std::fprintf(stderr, "Full marks, as expected: %s of %s.\n",
                 grader::FormatPoints(report->points).c_str(),
                 grader::FormatPoints(report->max_points).c_str());
  }
  if (absl::GetFlag(FLAGS_expect_zero)) {
    std::string why = ZeroShortfall(*report);
    if (!why.empty()) {
      std::fprintf(stderr, "EXPECTED A CLEAN ZERO for %s, got %s of %s:\n  %s\n",
                   report->student.c_str(), grader::FormatPoints(report->points).c_str(),
                   grader::FormatPoints(report->max_points).c_str(), why.c_str());
      return kExitExpectation;
    }
    std::fprintf(stderr, "A clean zero, as expected: every lab built, nothing passed for points, "
                         "no grader error.\n");
  }
  return kExitOk;
}

int Batch(const std::string& tree, const std::vector<std::string>& positional) {
  if (positional.size() != 3) {
    std::fprintf(stderr, "grader batch: give exactly one folder of submissions (see --help)\n");
    return kExitUsage;
  }
  std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fprintf(stderr, "grader batch: --out=OUT is required (where the reports go)\n");
    return kExitUsage;
  }
  absl::StatusOr<std::pair<int, int>> shard = grader::ParseShard(absl::GetFlag(FLAGS_shard));
  if (!shard.ok()) {
    std::fprintf(stderr, "grader batch: %s\n", std::string(shard.status().message()).c_str());
    return kExitUsage;
  }
  grader::BatchOptions options;
  options.dir = Absolute(positional[2]);
  options.out = Absolute(out);
  options.jobs = std::max(1, absl::GetFlag(FLAGS_jobs));
  options.shard_index = shard->first;
  options.shard_count = shard->second;
  options.grade = CommonOptions(tree);
  options.grade.jobs = 1;
  options.grade.exclude = {options.out, options.dir};
  options.progress_tty = ::isatty(STDERR_FILENO) == 1;
  absl::StatusOr<std::unique_ptr<grader::Sandbox>> sandbox =
      MakeSandbox(tree, {options.out, options.dir});
  if (!sandbox.ok()) {
    std::fprintf(stderr, "grader: the sandbox is unavailable, so nothing can be run safely: %s\n",
                 sandbox.status().ToString().c_str());
    return kExitGraderError;
  }
  for (const std::string& w : (*sandbox)->warnings()) {
    std::fprintf(stderr, "WARNING: %s\n", w.c_str());
  }
  absl::StatusOr<grader::BatchSummary> summary = grader::RunBatch(options, **sandbox);
  if (!summary.ok()) {
    std::fprintf(stderr, "grader batch: %s\n", summary.status().ToString().c_str());
    return kExitGraderError;
  }
  std::fprintf(stderr,
               "%d submissions in shard %d/%d: %d graded, %d unchanged, %d not graded, %d with "
               "grader errors. Gradebook: %s/gradebook.csv\n",
               summary->total, options.shard_index, options.shard_count, summary->graded,
               summary->unchanged, summary->failed, summary->grader_errors, options.out.c_str());
  return summary->failed > 0 || summary->grader_errors > 0 ? kExitGraderError : kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kHelp);
  bool help = false;
  std::string unknown;
  std::vector<std::string> args = Normalise(argc, argv, help, unknown);
  if (!unknown.empty()) {
    std::fprintf(stderr, "grader: unknown flag %s (grader --help lists every flag)\n",
                 unknown.c_str());
    return kExitUsage;
  }
  if (help || argc < 2) {
    std::fputs(kHelp, help ? stdout : stderr);
    return help ? kExitOk : kExitUsage;
  }
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  std::vector<char*> positional_c =
      absl::ParseCommandLine(static_cast<int>(cargs.size()), cargs.data());
  std::vector<std::string> positional(positional_c.begin(), positional_c.end());
  if (positional.size() < 2) {
    std::fprintf(stderr, "grader: say what to do: grade or batch (see --help)\n");
    return kExitUsage;
  }
  std::string tree = absl::GetFlag(FLAGS_tree);
  if (tree.empty()) {
    const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
    tree = workspace != nullptr ? workspace : ".";
  }
  tree = Absolute(tree);
  while (tree.size() > 1 && tree.back() == '/') tree.pop_back();
  if (positional[1] == "grade") return Grade(tree, positional);
  if (positional[1] == "batch") return Batch(tree, positional);
  std::fprintf(stderr, "grader: unknown command \"%s\": use grade or batch (see --help)\n",
               positional[1].c_str());
  return kExitUsage;
}
