// grader/reports.cc: the report writers (reports.h).
//
// Every writer reads the same SubmissionReport; none decides a score. Text that came from a
// student's program (failure messages, captured output, compiler errors) passes through
// CleanText before it reaches a report, so a stray byte cannot make a report unreadable.
#include "grader/reports.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grader/files.h"
#include "nlohmann/json.hpp"

namespace grader {
namespace {

using Json = nlohmann::json;

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

double Round(double x) { return std::round(x * 1e4) / 1e4; }

// Length of the valid UTF-8 sequence at text[i], or 0 if it is not valid.
size_t Utf8Length(absl::string_view text, size_t i) {
  unsigned char c = static_cast<unsigned char>(text[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) {
    unsigned char d = static_cast<unsigned char>(text[i + k]);
    if ((d >> 6) != 0x2) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF || cp == 0xFFFE || cp == 0xFFFF) {
    return 0;
  }
  return n;
}

bool IsPassed(const CaseReport& c) {
  return c.result.outcome == CaseResult::Outcome::kPassed && c.result.leaks.empty();
}

std::string Pct(double points, double max) {
  return max > 0 ? absl::StrFormat("%3.0f%%", 100 * points / max) : "   -";
}

// What happened to one case, in sentences, with its output trimmed to `output_cap`.
std::string CaseText(const CaseReport& c, size_t output_cap) {
  std::string text = CaseOutcomeName(c.result.outcome);
  if (!c.result.summary.empty() && c.result.summary != text) {
    absl::StrAppend(&text, ": ", c.result.summary);
  }
  absl::StrAppend(&text, "\n");
  for (const Failure& f : c.result.failures) {
    absl::StrAppend(&text, f.file, f.line > 0 ? absl::StrCat(":", f.line) : "", ": ", f.message,
                    "\n");
  }
  for (const ipc::IpcObject& leak : c.result.leaks) {
    absl::StrAppend(&text, "leaked: ", leak.ToString(), "\n");
  }
  if (!c.note.empty()) absl::StrAppend(&text, c.note, "\n");
  if (output_cap > 0 && !c.result.output.empty()) {
    absl::StrAppend(&text, "--- output", c.result.output_truncated ? " (cut by the sandbox)" : "",
                    " ---\n", TrimText(c.result.output, output_cap), "\n");
  }
  return TrimText(text, std::max<size_t>(output_cap, 512) + 4096);
}

std::string LabProblemText(const LabReport& lab) {
  std::string text = absl::StrCat(LabOutcomeName(lab.outcome), "\n");
  for (const std::string& p : lab.problems) absl::StrAppend(&text, p, "\n");
  if (!lab.build_errors.empty()) {
    absl::StrAppend(&text, "The compiler said:\n", lab.build_errors, "\n");
  }
  return CleanText(text);
}

std::string Fence(absl::string_view body) {
  size_t longest = 0, run = 0;
  for (char c : body) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

std::string XmlEscape(absl::string_view text) {
  std::string clean = CleanText(text);
  return absl::StrReplaceAll(clean, {{"&", "&amp;"},
                                     {"<", "&lt;"},
                                     {">", "&gt;"},
                                     {"\"", "&quot;"},
                                     {"'", "&apos;"},
                                     {"\t", "&#9;"},
                                     {"\n", "&#10;"}});
}

// XML text content: line breaks stay as they are (only attributes need them escaped).
std::string XmlText(absl::string_view text) {
  std::string clean = CleanText(text);
  return absl::StrReplaceAll(clean, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}});
}

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.3f", std::max(0.0, absl::ToDoubleSeconds(d)));
}

// The last non-empty line: GoogleTest puts the test's own message (the one that teaches) last.
std::string LastLine(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  return lines.empty() ? "" : std::string(absl::StripAsciiWhitespace(lines.back()));
}

// The compiler's first "error:" line (the one to fix first), else the first line.
std::string FirstErrorLine(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(line, "error:")) return std::string(line);
  }
  size_t nl = text.find('\n');
  return std::string(text.substr(0, nl == absl::string_view::npos ? text.size() : nl));
}

std::string FirstLine(absl::string_view text) {
  size_t nl = text.find('\n');
  return std::string(text.substr(0, nl == absl::string_view::npos ? text.size() : nl));
}

}  // namespace

std::string FormatPoints(double points) {
  std::string s = absl::StrFormat("%.2f", Round(points));
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string CleanText(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t n = Utf8Length(text, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
    } else if (n == 1 && (c < 0x20 || c == 0x7F) && c != '\n' && c != '\t') {
      if (c != '\r') out += kReplacement;
      ++i;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
  return out;
}

std::string TrimText(absl::string_view text, size_t max_bytes) {
  std::string clean = CleanText(text);
  if (clean.size() <= max_bytes) return clean;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(clean[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(clean.substr(0, cut), "\n[... trimmed: ", cut, " of ", clean.size(),
                      " bytes shown]");
}

std::string TerminalReport(const SubmissionReport& report, bool colour) {
  auto paint = [colour](absl::string_view code, absl::string_view text) {
    return colour ? absl::StrCat("\033[", code, "m", text, "\033[0m") : std::string(text);
  };
  auto score_colour = [](double p, double max) {
    return max <= 0 ? "0" : p >= max - 1e-9 ? "32" : p > 0 ? "33" : "31";
  };
  std::string out = absl::StrCat(paint("1", absl::StrCat("Submission ", report.student)), "  (",
                                 report.submission, ", graded in ",
                                 absl::StrFormat("%.1f s", absl::ToDoubleSeconds(report.wall_time)),
                                 ")\n");
  absl::StrAppend(&out, absl::StrFormat("  %-18s %-11s %4s  %-14s %s\n", "LAB", "POINTS", "", "CASES",
                                        "STATUS"));
  for (const LabReport& lab : report.labs) {
    int passed = 0;
    for (const CaseReport& c : lab.cases) passed += IsPassed(c) ? 1 : 0;
    std::string cases = lab.cases.empty() ? "-" : absl::StrCat(passed, "/", lab.cases.size(),
                                                               " passed");
    std::string status = LabOutcomeName(lab.outcome);
    if (lab.outcome != LabOutcome::kGraded && !lab.problems.empty()) {
      absl::StrAppend(&status, ": ", lab.problems.front());
    } else if (lab.outcome == LabOutcome::kBuildFailed) {
      absl::StrAppend(&status, ": ", FirstErrorLine(lab.build_errors));
    }
    std::string points = absl::StrFormat("%5s/%-5s", FormatPoints(lab.points),
                                         lab.max_known ? FormatPoints(lab.max_points) : "?");
    absl::StrAppend(&out, absl::StrFormat("  %-18s %s %s  %-14s %s\n", lab.name,
                                          paint(score_colour(lab.points, lab.max_points), points),
                                          Pct(lab.points, lab.max_points), cases,
                                          CleanText(status)));
  }
  absl::StrAppend(&out, absl::StrFormat(
                            "  %-18s %s %s\n", "TOTAL",
                            paint(absl::StrCat("1;", score_colour(report.points, report.max_points)),
                                  absl::StrFormat("%5s/%-5s", FormatPoints(report.points),
                                                  FormatPoints(report.max_points))),
                            Pct(report.points, report.max_points)));

  // What went wrong, lab by lab, briefly (the Markdown feedback has the rest).
  for (const LabReport& lab : report.labs) {
    std::vector<std::string> lines;
    for (const CaseReport& c : lab.cases) {
      if (IsPassed(c)) continue;
      std::string why = c.result.failures.empty() ? c.result.summary : c.result.failures[0].message;
      if (!c.note.empty() && c.result.outcome == CaseResult::Outcome::kPassed) why = c.note;
      lines.push_back(absl::StrCat(c.name, " (", BinaryKindName(c.binary), ", ",
                                   FormatPoints(c.points), "/", FormatPoints(c.max_points), "): ",
                                   CaseOutcomeName(c.result.outcome), ": ",
                                   TrimText(LastLine(CleanText(why)), 160)));
    }
    for (const SpeedReport& s : lab.speed) {
      lines.push_back(absl::StrCat("speed \"", s.name, "\" (", FormatPoints(s.points), "/",
                                   FormatPoints(s.max_points), "): ", s.explanation));
    }
    for (const std::string& p : lab.problems) lines.push_back(p);
    if (lines.empty() && lab.suspicions.empty() && lab.grader_errors.empty()) continue;
    absl::StrAppend(&out, "\n", paint("1", lab.name), "\n");
    size_t shown = 0;
    for (const std::string& line : lines) {
      if (++shown > 12) {
        absl::StrAppend(&out, "  ... and ", lines.size() - 12, " more (see feedback.md)\n");
        break;
      }
      absl::StrAppend(&out, "  - ", line, "\n");
    }
    if (lab.outcome == LabOutcome::kBuildFailed && !lab.build_errors.empty()) {
      absl::StrAppend(&out, "  compiler:\n");
      for (absl::string_view line : absl::StrSplit(lab.build_errors, '\n')) {
        absl::StrAppend(&out, "    ", line, "\n");
      }
    }
    for (const std::string& s : lab.suspicions) {
      absl::StrAppend(&out, "  ", paint("1;31", "SUSPECT (for the instructor):"), " ", s, "\n");
    }
    for (const std::string& e : lab.grader_errors) {
      absl::StrAppend(&out, "  ", paint("1;35", "GRADER ERROR:"), " ", e, "\n");
    }
    for (const std::string& n : lab.notes) absl::StrAppend(&out, "  note: ", n, "\n");
  }
  for (const std::string& r : report.refusals) absl::StrAppend(&out, "\n  ", r);
  if (!report.refusals.empty()) out += "\n";
  for (const std::string& e : report.grader_errors) {
    absl::StrAppend(&out, "\n", paint("1;35", "GRADER ERROR:"), " ", e, "\n");
  }
  for (const std::string& w : report.warnings) {
    absl::StrAppend(&out, "\n", paint("1;33", "WARNING:"), " ", w, "\n");
  }
  return out;
}

std::string ResultsJson(const SubmissionReport& report, size_t max_bytes) {
  for (size_t cap : {size_t{8192}, size_t{2048}, size_t{512}, size_t{0}}) {
    Json tests = Json::array();
    for (const LabReport& lab : report.labs) {
      if (lab.outcome != LabOutcome::kGraded) {
        tests.push_back({{"name", absl::StrCat(lab.name, ": build")},
                         {"score", 0},
                         {"max_score", Round(lab.max_points)},
                         {"status", "failed"},
                         {"output", TrimText(LabProblemText(lab), std::max<size_t>(cap, 1024))},
                         {"visibility", "visible"}});
        continue;
      }
      for (const CaseReport& c : lab.cases) {
        std::string output = CaseText(c, cap);
        if (cap == 0 && !c.result.output.empty()) {
          absl::StrAppend(&output, "[captured output left out: results.json must stay under 1 MiB; "
                                   "see feedback.md]\n");
        }
        tests.push_back({{"name", absl::StrCat(lab.name, ": ", c.name)},
                         {"score", Round(c.points)},
                         {"max_score", Round(c.max_points)},
                         {"status", IsPassed(c) ? "passed" : "failed"},
                         {"output", output},
                         {"visibility",
                          c.binary == BinaryKind::kHidden ? "after_published" : "visible"}});
      }
      for (const SpeedReport& s : lab.speed) {
        tests.push_back({{"name", absl::StrCat(lab.name, ": speed: ", s.name)},
                         {"score", Round(s.points)},
                         {"max_score", Round(s.max_points)},
                         {"status", s.points >= s.max_points ? "passed" : "failed"},
                         {"output", CleanText(s.explanation)},
                         {"visibility",
                          s.binary == BinaryKind::kHidden ? "after_published" : "visible"}});
      }
      if (!lab.problems.empty()) {
        // A graded lab with problems (a binary that could not list its cases): say so.
        tests.push_back({{"name", absl::StrCat(lab.name, ": notes")},
                         {"score", 0},
                         {"max_score", 0},
                         {"status", "failed"},
                         {"output", CleanText(absl::StrJoin(lab.problems, "\n"))},
                         {"visibility", "visible"}});
      }
    }
    double score = 0;
    for (const Json& t : tests) score += t["score"].get<double>();
    std::string summary = absl::StrCat("IPC Labs: ", FormatPoints(report.points), " of ",
                                       FormatPoints(report.max_points), " points.");
    for (const std::string& r : report.refusals) absl::StrAppend(&summary, "\n", CleanText(r));
    Json json = {{"score", Round(score)},
                 {"execution_time", std::lround(absl::ToDoubleSeconds(report.wall_time))},
                 {"output", summary},
                 {"visibility", "visible"},
                 {"stdout_visibility", "hidden"},
                 {"tests", tests}};
    std::string text = json.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
    if (text.size() <= max_bytes || cap == 0) return text;
  }
  return "{}";  // not reached: cap 0 always returns
}

std::string JunitXml(const SubmissionReport& report) {
  struct Suite {
    std::string name;
    std::string body;
    int tests = 0, failures = 0, errors = 0, skipped = 0;
    double time = 0;
  };
  std::vector<Suite> suites;
  for (const LabReport& lab : report.labs) {
    if (lab.outcome != LabOutcome::kGraded) {
      Suite s{absl::StrCat(lab.name)};
      s.tests = 1;
      s.failures = 1;
      s.body = absl::StrCat("    <testcase classname=\"", XmlEscape(lab.name),
                            "\" name=\"build\" time=\"0\">\n      <failure message=\"",
                            XmlEscape(absl::StrCat(LabOutcomeName(lab.outcome), ": ",
                                                   lab.problems.empty() ? FirstLine(lab.build_errors)
                                                                        : lab.problems.front())),
                            "\" type=\"", XmlEscape(LabOutcomeName(lab.outcome)), "\">",
                            XmlText(TrimText(LabProblemText(lab), 16384)),
                            "</failure>\n    </testcase>\n");
      suites.push_back(std::move(s));
      continue;
    }
    for (BinaryKind kind : {BinaryKind::kPublic, BinaryKind::kHidden}) {
      Suite s{absl::StrCat(lab.name, ".", BinaryKindName(kind))};
      for (const CaseReport& c : lab.cases) {
        if (c.binary != kind) continue;
        size_t dot = c.name.find('.');
        std::string suite_name = dot == std::string::npos ? "" : c.name.substr(0, dot);
        std::string case_name = dot == std::string::npos ? c.name : c.name.substr(dot + 1);
        double t = absl::ToDoubleSeconds(c.result.wall_time);
        s.time += t;
        ++s.tests;
        absl::StrAppend(&s.body, "    <testcase classname=\"",
                        XmlEscape(absl::StrCat(lab.name, ".", suite_name)), "\" name=\"",
                        XmlEscape(case_name), "\" time=\"", Seconds(c.result.wall_time), "\"");
        std::string detail = XmlText(CaseText(c, 0));
        std::string output = c.result.output.empty()
                                 ? ""
                                 : absl::StrCat("      <system-out>",
                                                XmlText(TrimText(c.result.output, 8192)),
                                                "</system-out>\n");
        switch (c.result.outcome) {
          case CaseResult::Outcome::kPassed:
            if (c.result.leaks.empty()) {
              absl::StrAppend(&s.body, "/>\n");
              continue;
            }
            ++s.failures;
            absl::StrAppend(&s.body, ">\n      <failure message=\"", XmlEscape(FirstLine(c.note)),
                            "\" type=\"leak\">", detail, "</failure>\n", output,
                            "    </testcase>\n");
            continue;
          case CaseResult::Outcome::kFailed: {
            ++s.failures;
            std::string message = c.result.failures.empty() ? c.result.summary
                                                            : c.result.failures[0].message;
            absl::StrAppend(&s.body, ">\n      <failure message=\"",
                            XmlEscape(TrimText(FirstLine(message), 512)), "\" type=\"failed\">",
                            detail, "</failure>\n", output, "    </testcase>\n");
            continue;
          }
          case CaseResult::Outcome::kSkipped:
            ++s.skipped;
            absl::StrAppend(&s.body, ">\n      <skipped message=\"", XmlEscape(c.result.summary),
                            "\"/>\n", output, "    </testcase>\n");
            continue;
          default:
            ++s.errors;
            absl::StrAppend(&s.body, ">\n      <error message=\"",
                            XmlEscape(TrimText(c.result.summary, 512)), "\" type=\"",
                            XmlEscape(CaseOutcomeName(c.result.outcome)), "\">", detail,
                            "</error>\n", output, "    </testcase>\n");
            continue;
        }
      }
      for (const SpeedReport& sp : lab.speed) {
        if (sp.binary != kind) continue;
        ++s.tests;
        absl::StrAppend(&s.body, "    <testcase classname=\"", XmlEscape(lab.name),
                        ".speed\" name=\"", XmlEscape(sp.name), "\" time=\"0\"");
        if (sp.points >= sp.max_points) {
          absl::StrAppend(&s.body, "/>\n");
        } else {
          ++s.failures;
          absl::StrAppend(&s.body, ">\n      <failure message=\"",
                          XmlEscape(absl::StrCat(FormatPoints(sp.points), " of ",
                                                 FormatPoints(sp.max_points), " points")),
                          "\" type=\"speed\">", XmlText(sp.explanation),
                          "</failure>\n    </testcase>\n");
        }
      }
      if (s.tests > 0) suites.push_back(std::move(s));
    }
  }
  int tests = 0, failures = 0, errors = 0;
  double time = 0;
  for (const Suite& s : suites) {
    tests += s.tests;
    failures += s.failures;
    errors += s.errors;
    time += s.time;
  }
  std::string out = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"",
      XmlEscape(absl::StrCat("ipclabs ", report.student)), "\" tests=\"", tests,
      "\" failures=\"", failures, "\" errors=\"", errors, "\" time=\"",
      absl::StrFormat("%.3f", time), "\">\n");
  for (const Suite& s : suites) {
    absl::StrAppend(&out, "  <testsuite name=\"", XmlEscape(s.name), "\" tests=\"", s.tests,
                    "\" failures=\"", s.failures, "\" errors=\"", s.errors, "\" skipped=\"",
                    s.skipped, "\" time=\"", absl::StrFormat("%.3f", s.time), "\">\n", s.body,
                    "  </testsuite>\n");
  }
  absl::StrAppend(&out, "</testsuites>\n");
  return out;
}

std::string MarkdownFeedback(const SubmissionReport& report) {
  auto block = [](absl::string_view body) {
    std::string clean = CleanText(body);
    std::string fence = Fence(clean);
    return absl::StrCat(fence, "\n", clean, clean.empty() || clean.back() == '\n' ? "" : "\n",
                        fence, "\n");
  };
  auto md = [](absl::string_view text) {  // inline text: no tables or emphasis broken
    return absl::StrReplaceAll(CleanText(text), {{"|", "\\|"}, {"*", "\\*"}, {"_", "\\_"},
                                                 {"`", "\\`"}, {"<", "&lt;"}, {"\n", " "}});
  };
  std::string out = absl::StrCat("# IPC Labs feedback: ", md(report.student), "\n\n**Total: ",
                                 FormatPoints(report.points), " of ",
                                 FormatPoints(report.max_points), " points**\n\n");
  absl::StrAppend(&out, "| Lab | Points | Cases passed | Status |\n|---|---:|---:|---|\n");
  for (const LabReport& lab : report.labs) {
    int passed = 0;
    for (const CaseReport& c : lab.cases) passed += IsPassed(c) ? 1 : 0;
    absl::StrAppend(&out, "| ", md(lab.title), " (`", lab.name, "`) | ", FormatPoints(lab.points),
                    " / ", lab.max_known ? FormatPoints(lab.max_points) : "?", " | ",
                    lab.cases.empty() ? "-" : absl::StrCat(passed, " / ", lab.cases.size()),
                    " | ", LabOutcomeName(lab.outcome), " |\n");
  }
  if (!report.refusals.empty()) {
    absl::StrAppend(&out, "\n## Refused from your archive\n\n");
    for (const std::string& r : report.refusals) absl::StrAppend(&out, "- ", md(r), "\n");
  }
  for (const LabReport& lab : report.labs) {
    absl::StrAppend(&out, "\n## ", md(lab.title), ": ", FormatPoints(lab.points), " of ",
                    lab.max_known ? FormatPoints(lab.max_points) : "?", "\n\n");
    if (lab.outcome == LabOutcome::kMissing) {
      absl::StrAppend(&out, "This lab was not built, so it scores zero:\n\n");
      for (const std::string& p : lab.problems) absl::StrAppend(&out, "- ", md(p), "\n");
      absl::StrAppend(&out, "\nSubmit the file itself (not a link) inside `labs/", lab.name,
                      "/`, under the size limit.\n");
      continue;
    }
    if (lab.outcome == LabOutcome::kBuildFailed) {
      absl::StrAppend(&out, "Your code did not compile or link, so this lab scores zero. "
                            "The compiler's first errors:\n\n",
                      block(lab.build_errors),
                      "\nBuild it yourself with `./labctl test ", lab.name,
                      "` (or `bazel build //labs/", lab.name, ":", lab.name, "_test`).\n");
      continue;
    }
    if (lab.outcome == LabOutcome::kGraderError) {
      absl::StrAppend(&out, "The grader could not grade this lab; this is not your fault and "
                            "the course staff have been told.\n");
      continue;
    }
    for (const std::string& p : lab.problems) absl::StrAppend(&out, "- ", md(p), "\n");
    int passed = 0;
    for (const CaseReport& c : lab.cases) passed += IsPassed(c) ? 1 : 0;
    absl::StrAppend(&out, passed, " of ", lab.cases.size(), " test cases passed.\n");
    for (const CaseReport& c : lab.cases) {
      if (IsPassed(c)) continue;
      absl::StrAppend(&out, "\n### ", md(c.name), " (", BinaryKindName(c.binary), " test, ",
                      FormatPoints(c.points), " of ", FormatPoints(c.max_points), " points): ",
                      CaseOutcomeName(c.result.outcome), "\n\n");
      if (!c.result.summary.empty() && c.result.summary != CaseOutcomeName(c.result.outcome)) {
        absl::StrAppend(&out, md(c.result.summary), "\n\n");
      }
      for (const Failure& f : c.result.failures) {
        absl::StrAppend(&out, "`", absl::StrReplaceAll(CleanText(f.file), {{"`", "'"}}), ":", f.line,
                        "`\n\n",
                        block(TrimText(f.message, 4096)), "\n");
      }
      for (const ipc::IpcObject& leak : c.result.leaks) {
        absl::StrAppend(&out, "- left behind: ", md(leak.ToString()),
                        " (every object must be removed on every path: shm_unlink, sem_unlink, "
                        "mq_unlink, IPC_RMID)\n");
      }
      if (!c.note.empty()) absl::StrAppend(&out, "- ", md(c.note), "\n");
      if (!c.result.output.empty() && c.result.outcome != CaseResult::Outcome::kFailed) {
        absl::StrAppend(&out, "\nIts output (last part):\n\n",
                        block(TrimText(c.result.output.size() > 4096
                                           ? c.result.output.substr(c.result.output.size() - 4096)
                                           : c.result.output,
                                       4096)));
      }
    }
    for (const SpeedReport& s : lab.speed) {
      absl::StrAppend(&out, "\n### Speed: ", md(s.name), " (", FormatPoints(s.points), " of ",
                      FormatPoints(s.max_points), " points)\n\n", md(s.explanation), "\n");
    }
  }
  return out;
}

std::string SummaryJson(const SubmissionReport& report, absl::string_view content_hash) {
  Json labs = Json::object();
  for (const LabReport& lab : report.labs) {
    labs[lab.name] = {{"points", Round(lab.points)},
                      {"max_points", Round(lab.max_points)},
                      {"max_known", lab.max_known},
                      {"outcome", LabOutcomeName(lab.outcome)},
                      {"problems", lab.problems},
                      {"suspicions", lab.suspicions},
                      {"grader_errors", lab.grader_errors},
                      {"notes", lab.notes}};
  }
  Json json = {{"student", report.student},
               {"submission", report.submission},
               {"content_hash", std::string(content_hash)},
               {"points", Round(report.points)},
               {"max_points", Round(report.max_points)},
               {"wall_seconds", absl::ToDoubleSeconds(report.wall_time)},
               {"refusals", report.refusals},
               {"warnings", report.warnings},
               {"grader_errors", report.grader_errors},
               {"labs", labs}};
  return json.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
}

absl::Status WriteSubmissionReports(const SubmissionReport& report, const std::string& dir,
                                    absl::string_view content_hash) {
  if (absl::Status s = MakeDirs(dir); !s.ok()) return s;
  for (const auto& [name, text] :
       std::vector<std::pair<std::string, std::string>>{
           {"results.json", ResultsJson(report)},
           {"junit.xml", JunitXml(report)},
           {"feedback.md", MarkdownFeedback(report)},
           {"report.txt", TerminalReport(report, /*colour=*/false)},
           {"summary.json", SummaryJson(report, content_hash)}}) {
    if (absl::Status s = WriteFileAtomically(absl::StrCat(dir, "/", name), text); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

std::string CsvField(absl::string_view field) {
  std::string text = CleanText(field);
  if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@')) {
    text.insert(0, "'");
  }
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

}  // namespace grader
