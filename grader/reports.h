// grader/reports.h: the grader's reports, written from a SubmissionReport (results.h).
//
//   terminal     a table for people: one row per lab, then what went wrong (colour on a tty)
//   results.json Gradescope's format: score, tests[] (name, score, max_score, status, output,
//                visibility: hidden tests "after_published"); kept under 1 MiB by trimming each
//                test's output, with a note saying so
//   junit.xml    JUnit XML (one <testsuite> per lab and binary) for Jenkins, GitLab, GitHub
//   feedback.md  Markdown for the student: what failed and why, and where to look
//   gradebook    CSV, one row per student and one column per lab (batch.h writes it)
// Both machine-readable reports pass ../shared/formats/validate-results-json and validate-junit
// (reports_test.cc runs them). Text from student programs is made valid UTF-8 and stripped of
// control characters before it reaches any report.
// Partner: grader/grade.h and grader/batch.h call WriteSubmissionReports.
#ifndef IPC_LABS_GRADER_REPORTS_H_
#define IPC_LABS_GRADER_REPORTS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grader/results.h"

namespace grader {

// CleanText()
//
// `text` as valid UTF-8 (bad bytes become U+FFFD) without control characters other than
// newline and tab (a carriage return is dropped; others become U+FFFD).
std::string CleanText(absl::string_view text);

// TrimText()
//
// CleanText(text), cut to at most `max_bytes` (at a character boundary) with a last line saying
// how much was left out: "[... trimmed: 812 of 90000 bytes shown]".
std::string TrimText(absl::string_view text, size_t max_bytes);

// TerminalReport()
//
// The table and findings for a person at a terminal; ANSI colours if `colour`.
std::string TerminalReport(const SubmissionReport& report, bool colour);

// ResultsJson()
//
// Gradescope's results.json, at most `max_bytes` bytes: each test's output is trimmed harder
// until the whole file fits (down to a note that the output was dropped).
std::string ResultsJson(const SubmissionReport& report, size_t max_bytes = 1000 * 1000);

// JunitXml()
//
// JUnit XML: <testsuites> holding one <testsuite> per lab and binary; a lab that was not built
// is one test case named "build" with a <failure>.
std::string JunitXml(const SubmissionReport& report);

// MarkdownFeedback()
//
// The student's feedback: total, a table of labs, then per lab what failed and why.
std::string MarkdownFeedback(const SubmissionReport& report);

// SummaryJson()
//
// The grader's own record of one submission (points per lab, findings, instructor notes), read
// back by batch for the gradebook and for resuming.
std::string SummaryJson(const SubmissionReport& report, absl::string_view content_hash);

// WriteSubmissionReports()
//
// Writes results.json, junit.xml, feedback.md, summary.json and report.txt (the terminal
// report without colour) into `dir` (created if needed). Errors: writing failed.
absl::Status WriteSubmissionReports(const SubmissionReport& report, const std::string& dir,
                                    absl::string_view content_hash);

// CsvField()
//
// One CSV field (RFC 4180): quoted when it holds a comma, quote, or line break; a text field that
// starts with = + - @ gets a leading apostrophe, so a spreadsheet never runs it as a formula.
std::string CsvField(absl::string_view field);

// FormatPoints()
//
// "7.5", "10", "0.33" (at most two decimals, no trailing zeros).
std::string FormatPoints(double points);

}  // namespace grader

#endif  // IPC_LABS_GRADER_REPORTS_H_
