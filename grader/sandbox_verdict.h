// grader/sandbox_verdict.h: the pure half of the sandbox: reading what a contained run said.
//
// Sandbox::RunCase (sandbox.cc) runs a case and collects raw facts: the lines written to the
// grader's verdict pipe, how the process ended, whether the memory cgroup's OOM killer fired,
// whether the wall-clock timeout expired. This file turns those facts into a CaseResult, and
// parses `--gtest_list_tests`. No system calls here, so grader/sandbox_test.cc checks every rule
// on any machine, root or not.
#ifndef IPC_LABS_GRADER_SANDBOX_VERDICT_H_
#define IPC_LABS_GRADER_SANDBOX_VERDICT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "grader/sandbox.h"

namespace grader {

// One "case" line of the verdict channel (common/testing/verdict.h).
struct VerdictCase {
  std::string suite;
  std::string name;
  std::string result;  // "passed", "failed" or "skipped"
  std::vector<Failure> failures;
};

// Everything the verdict channel said, sorted into trusted lines and suspicious ones.
struct VerdictReport {
  bool started = false;             // a "start" line with the right nonce
  bool ended = false;               // an "end" line with the right nonce
  std::vector<VerdictCase> cases;   // "case" lines with the right nonce, in order
  int wrong_nonce_lines = 0;        // well-formed lines whose nonce is not ours: forged
  int malformed_lines = 0;          // lines that are not a JSON object of the expected shape
};

// ParseVerdict()
//
// Parses the newline-separated JSON lines read from the verdict pipe. Only lines carrying
// `nonce` are trusted; the others are counted. A last line without a newline is parsed too.
VerdictReport ParseVerdict(absl::string_view text, absl::string_view nonce);

// The raw facts of one contained run.
struct RunFacts {
  bool timed_out = false;       // the wall-clock timeout expired and the namespace was killed
  int64_t oom_kills = 0;        // the memory cgroup's OOM-kill count (v1 oom_control oom_kill)
  bool exited = false;          // the sandbox ended with an exit code (else: by a signal)
  int exit_code = -1;           // when exited; bubblewrap reports a signal as 128 + N
  int signal = 0;               // when killed by a signal
  std::string output;           // captured stdout+stderr (already capped)
  bool output_truncated = false;
  absl::Duration wall_time;
};

// DecideOutcome()
//
// The rules, in order:
//   1. timed out                                  -> kTimedOut
//   2. the OOM killer fired and it did not pass  -> kOutOfMemory "ran out of memory (limit N MiB)"
//   3. a trusted "case" line for `case_name`:
//        failed                                   -> kFailed (failures copied)
//        passed/skipped + "end" line + exit 0     -> kPassed / kSkipped, unless the channel
//                                                     was tampered with (forged lines, or two
//                                                     verdicts for the case): kNoVerdict
//        passed/skipped, then a signal            -> kCrashed (it crashed while exiting)
//        passed/skipped, otherwise                -> kNoVerdict (the exit was not clean)
//   4. killed by a signal (or exit code 129..192, how bubblewrap reports one)
//        std::bad_alloc on SIGABRT                -> kOutOfMemory (address-space limit)
//        otherwise                                -> kCrashed
//   5. anything else                              -> kNoVerdict
// Suspicions (forged lines, a verdict for another case, fake framework output) are added for the
// instructor whatever the outcome. `limits` supplies the numbers quoted in summaries.
CaseResult DecideOutcome(const RunFacts& facts, const VerdictReport& report,
                         absl::string_view case_name, const CaseLimits& limits);

// ParseGtestList()
//
// Parses the output of `--gtest_list_tests` into full case names ("Suite.Case",
// "Prefix/Suite.Case/0"), dropping the "# GetParam() = ..." and "# TypeParam = ..." comments.
// Lines of any other shape are ignored.
std::vector<std::string> ParseGtestList(absl::string_view text);

// ValidateCaseName()
//
// OK if `name` is one case ("Suite.Case", no GoogleTest filter characters * ? : and no leading
// '-'), else INVALID_ARGUMENT saying why: the filter must select exactly that case.
absl::Status ValidateCaseName(absl::string_view name);

}  // namespace grader

#endif  // IPC_LABS_GRADER_SANDBOX_VERDICT_H_
