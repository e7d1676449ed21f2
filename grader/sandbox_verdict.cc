// grader/sandbox_verdict.cc: see sandbox_verdict.h.
#include "grader/sandbox_verdict.h"

#include <signal.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/process.h"
#include "nlohmann/json.hpp"

namespace grader {
namespace {

// Reads a string field, or "" when it is missing or not a string.
std::string StringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

std::string Mebibytes(int64_t bytes) { return absl::StrCat(bytes >> 20, " MiB"); }

// A failure message on one line (runs of whitespace collapse to one space), at most 240 bytes,
// for a one-sentence summary: GoogleTest puts the student-facing text after the values.
std::string OneLine(const std::string& text) {
  std::string line;
  for (char c : text) {
    bool space = c == '\n' || c == '\t' || c == ' ';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line.push_back(space ? ' ' : c);
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  if (line.size() > 240) line = line.substr(0, 237) + "...";
  return line;
}

std::string CrashSummary(int sig, const CaseLimits& limits) {
  std::string text = absl::StrCat("killed by ", ipc::SignalName(sig), " (", ::strsignal(sig), ")");
  if (sig == SIGXCPU) {
    absl::StrAppend(&text, ": it used more than its CPU time limit (",
                    absl::FormatDuration(limits.cpu), ")");
  } else if (sig == SIGXFSZ) {
    absl::StrAppend(&text, ": it wrote a file larger than the limit (",
                    Mebibytes(limits.file_size_bytes), ")");
  }
  return text;
}

}  // namespace

const char* OutcomeName(CaseResult::Outcome outcome) {
  switch (outcome) {
    case CaseResult::Outcome::kPassed:
      return "passed";
    case CaseResult::Outcome::kFailed:
      return "failed";
    case CaseResult::Outcome::kSkipped:
      return "skipped";
    case CaseResult::Outcome::kCrashed:
      return "crashed";
    case CaseResult::Outcome::kTimedOut:
      return "timed out";
    case CaseResult::Outcome::kOutOfMemory:
      return "out of memory";
    case CaseResult::Outcome::kNoVerdict:
      return "no verdict";
  }
  return "unknown";
}

VerdictReport ParseVerdict(absl::string_view text, absl::string_view nonce) {
  VerdictReport report;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    nlohmann::json object =
        nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (!object.is_object() || !object.contains("event")) {
      ++report.malformed_lines;
      continue;
    }
    if (StringField(object, "nonce") != std::string(nonce) || nonce.empty()) {
      ++report.wrong_nonce_lines;
      continue;
    }
    std::string event = StringField(object, "event");
    if (event == "start") {
      report.started = true;
    } else if (event == "end") {
      report.ended = true;
    } else if (event == "case") {
      VerdictCase verdict{StringField(object, "suite"), StringField(object, "name"),
                          StringField(object, "result"), {}};
      auto failures = object.find("failures");
      if (failures != object.end() && failures->is_array()) {
        for (const nlohmann::json& failure : *failures) {
          if (!failure.is_object()) continue;
          Failure f{StringField(failure, "file"), 0, StringField(failure, "message")};
          auto line_field = failure.find("line");
          if (line_field != failure.end() && line_field->is_number_integer()) {
            f.line = line_field->get<int>();
          }
          verdict.failures.push_back(std::move(f));
        }
      }
      report.cases.push_back(std::move(verdict));
    } else {
      ++report.malformed_lines;
    }
  }
  return report;
}

CaseResult DecideOutcome(const RunFacts& facts, const VerdictReport& report,
                         absl::string_view case_name, const CaseLimits& limits) {
  using Outcome = CaseResult::Outcome;
  CaseResult result;
  result.output = facts.output;
  result.output_truncated = facts.output_truncated;
  result.wall_time = facts.wall_time;
  result.exit_code = facts.exited ? facts.exit_code : -1;
  // bubblewrap's init reports a case killed by signal N as exit code 128 + N, like a shell.
  int sig = facts.exited ? 0 : facts.signal;
  if (facts.exited && facts.exit_code > 128 && facts.exit_code <= 128 + 64) {
    sig = facts.exit_code - 128;
  }
  result.signal = sig;

  // What the instructor should know, whatever the outcome.
  if (report.wrong_nonce_lines > 0) {
    result.suspicions.push_back(absl::StrCat(
        report.wrong_nonce_lines,
        " line(s) on the grader's verdict channel carried a wrong nonce: something other than "
        "the test framework wrote to it (a forged verdict?)"));
  }
  if (report.malformed_lines > 0) {
    result.suspicions.push_back(absl::StrCat(report.malformed_lines,
                                             " malformed line(s) on the grader's verdict channel"));
  }
  const VerdictCase* verdict = nullptr;
  for (const VerdictCase& c : report.cases) {
    if (absl::StrCat(c.suite, ".", c.name) == case_name) {
      verdict = &c;
    } else {
      result.suspicions.push_back(absl::StrCat("the verdict channel reported a case that was not "
                                               "asked for: ",
                                               c.suite, ".", c.name));
    }
  }
  if (verdict != nullptr && !report.started) {
    result.suspicions.push_back("a verdict arrived without the framework's start line");
  }
  bool claims_pass = absl::StrContains(facts.output, "[  PASSED  ]") ||
                     absl::StrContains(facts.output, "[       OK ]");
  if (verdict == nullptr && claims_pass) {
    result.suspicions.push_back(
        "the output claims a pass (\"[       OK ]\" / \"[  PASSED  ]\") but the framework never "
        "reported one to the grader: printed by the code under test?");
  }

  if (facts.timed_out) {
    result.outcome = Outcome::kTimedOut;
    result.summary = absl::StrCat("did not finish within ", absl::FormatDuration(limits.timeout),
                                  ": the whole namespace was killed");
    return result;
  }
  bool clean_pass = verdict != nullptr && verdict->result != "failed" && report.ended &&
                    facts.exited && facts.exit_code == 0;
  if (facts.oom_kills > 0 && !clean_pass) {
    result.outcome = Outcome::kOutOfMemory;
    result.summary = absl::StrCat("ran out of memory (limit ", Mebibytes(limits.memory_bytes),
                                  "): the kernel's OOM killer ended ",
                                  facts.oom_kills == 1 ? "a process" : "processes", " of the case");
    return result;
  }
  if (verdict != nullptr) {
    if (verdict->result == "failed") {
      result.outcome = Outcome::kFailed;
      result.failures = verdict->failures;
      result.summary = absl::StrCat("failed: ", verdict->failures.size(), " assertion(s)");
      if (!verdict->failures.empty()) {
        const Failure& first = verdict->failures.front();
        absl::StrAppend(&result.summary, "; first at ", first.file, ":", first.line, ": ",
                        OneLine(first.message));
      }
      return result;
    }
    int verdicts_for_case = static_cast<int>(
        std::count_if(report.cases.begin(), report.cases.end(), [&](const VerdictCase& c) {
          return absl::StrCat(c.suite, ".", c.name) == case_name;
        }));
    if (clean_pass && (report.wrong_nonce_lines > 0 || verdicts_for_case > 1)) {
      // Someone else wrote to the channel: a pass (or skip) from it is not trusted. (A failure
      // still counts: no forger forges a failure.)
      result.outcome = Outcome::kNoVerdict;
      result.summary = absl::StrCat("reported ", verdict->result,
                                    ", but the grader's verdict channel was tampered with (",
                                    report.wrong_nonce_lines, " forged line(s), ",
                                    verdicts_for_case, " verdict(s) for the case)");
      return result;
    }
    if (clean_pass) {
      bool skipped = verdict->result == "skipped";
      result.outcome = skipped ? Outcome::kSkipped : Outcome::kPassed;
      result.summary = skipped ? "skipped" : "passed";
      return result;
    }
    if (sig != 0) {
      result.outcome = Outcome::kCrashed;
      result.summary = absl::StrCat("reported ", verdict->result, ", then was ",
                                    CrashSummary(sig, limits));
      return result;
    }
    result.outcome = Outcome::kNoVerdict;
    result.summary = absl::StrCat(
        "reported ", verdict->result, " but did not exit cleanly (",
        report.ended ? "" : "no end of run reported, ",
        facts.exited ? absl::StrCat("exit code ", facts.exit_code) : "no exit code", ")");
    return result;
  }
  if (sig != 0) {
    if (sig == SIGABRT && absl::StrContains(facts.output, "std::bad_alloc")) {
      result.outcome = Outcome::kOutOfMemory;
      result.summary = absl::StrCat("ran out of memory (address-space limit ",
                                    Mebibytes(limits.memory_bytes),
                                    "): an allocation failed (std::bad_alloc)");
      return result;
    }
    result.outcome = Outcome::kCrashed;
    result.summary = CrashSummary(sig, limits);
    return result;
  }
  result.outcome = Outcome::kNoVerdict;
  result.summary = absl::StrCat(
      facts.exited ? absl::StrCat("exited with code ", facts.exit_code) : "ended",
      " without reporting a verdict through the grader's channel (did it exit before the test "
      "framework finished, or print test output itself?)");
  return result;
}

std::vector<std::string> ParseGtestList(absl::string_view text) {
  std::vector<std::string> names;
  std::string suite;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    // Drop the "  # GetParam() = ..." / "  # TypeParam = ..." comment.
    size_t comment = line.find("  #");
    if (comment != absl::string_view::npos) line = line.substr(0, comment);
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line.empty()) continue;
    if (line[0] != ' ') {
      // "Suite." opens a suite; anything else at column 0 is noise (a program's own output).
      suite = absl::EndsWith(line, ".") && line.find(' ') == absl::string_view::npos
                  ? std::string(line)
                  : std::string();
      continue;
    }
    if (suite.empty() || !absl::StartsWith(line, "  ")) continue;
    absl::string_view name = line.substr(2);
    if (name.empty() || name.find(' ') != absl::string_view::npos) continue;
    names.push_back(absl::StrCat(suite, name));
  }
  return names;
}

absl::Status ValidateCaseName(absl::string_view name) {
  if (name.empty() || name.find('.') == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("case name \"", name, "\" is not of the form Suite.Case"));
  }
  if (name.find_first_of("*?:") != absl::string_view::npos || name[0] == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("case name \"", name,
                     "\" contains a GoogleTest filter character (* ? : or a leading -): the "
                     "sandbox runs exactly one case"));
  }
  return absl::OkStatus();
}

}  // namespace grader
