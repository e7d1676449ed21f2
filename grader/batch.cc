// grader/batch.cc: a class at a time (batch.h).
#include "grader/batch.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <optional>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "grader/files.h"
#include "grader/reports.h"
#include "nlohmann/json.hpp"

namespace grader {
namespace {

using Json = nlohmann::json;

uint64_t Fnv1a(absl::string_view text) {
  uint64_t h = 1469598103934665603ULL;  // the FNV-1a offset basis
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;  // the FNV-1a 64-bit prime
  }
  return h;
}

std::optional<Json> ReadSummary(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, 16 << 20);
  if (!text.ok()) return std::nullopt;
  Json json = Json::parse(*text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  return json;
}

bool SummaryHasGraderErrors(const Json& summary) {
  if (!summary.value("grader_errors", Json::array()).empty()) return true;
  Json labs = summary.value("labs", Json::object());  // named: items() must not outlive it
  for (auto it = labs.begin(); it != labs.end(); ++it) {
    if (it->is_object() && !it->value("grader_errors", Json::array()).empty()) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<BatchEntry>> ListSubmissions(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ipc::ErrnoError("opendir", dir);
  std::vector<BatchEntry> entries;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    std::string path = absl::StrCat(dir, "/", name);
    struct stat st;
    if (::stat(path.c_str(), &st) == -1) continue;  // a dangling link: not a submission
    std::string student = name;
    if (S_ISREG(st.st_mode)) {
      bool archive = false;
      for (const char* ext : {".tar.gz", ".tgz", ".tar"}) {
        if (absl::EndsWith(name, ext)) {
          student = name.substr(0, name.size() - strlen(ext));
          archive = true;
          break;
        }
      }
      if (!archive) continue;
    } else if (!S_ISDIR(st.st_mode)) {
      continue;
    }
    entries.push_back({student, path});
  }
  ::closedir(d);
  std::sort(entries.begin(), entries.end(),
            [](const BatchEntry& a, const BatchEntry& b) { return a.student < b.student; });
  return entries;
}

absl::StatusOr<std::pair<int, int>> ParseShard(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  int i = 0, n = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &i) || !absl::SimpleAtoi(parts[1], &n) ||
      n < 1 || i < 0 || i >= n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--shard must be i/n with 0 <= i < n (for example 0/4 ... 3/4), got \"", text, "\""));
  }
  return std::pair<int, int>(i, n);
}

bool InShard(const std::string& student, int index, int count) {
  return count <= 1 || static_cast<int>(Fnv1a(student) % static_cast<uint64_t>(count)) == index;
}

std::string SafeName(const std::string& student) {
  std::string out;
  for (char c : student) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
  }
  if (out.empty() || out == "." || out == "..") out = absl::StrCat("_", out);
  return out;
}

absl::Status WriteGradebook(const std::string& out, const std::vector<std::string>& labs) {
  DIR* d = ::opendir(out.c_str());
  if (d == nullptr) return ipc::ErrnoError("opendir", out);
  std::vector<std::string> folders;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") folders.push_back(name);
  }
  ::closedir(d);
  std::vector<Json> rows;
  for (const std::string& folder : folders) {
    std::optional<Json> summary = ReadSummary(absl::StrCat(out, "/", folder, "/summary.json"));
    if (summary) rows.push_back(*summary);
  }
  std::sort(rows.begin(), rows.end(), [](const Json& a, const Json& b) {
    return a.value("student", "") < b.value("student", "");
  });
  std::string csv = "student";
  for (const std::string& lab : labs) absl::StrAppend(&csv, ",", CsvField(lab));
  absl::StrAppend(&csv, ",total,max,flags\n");
  for (const Json& row : rows) {
    absl::StrAppend(&csv, CsvField(row.value("student", "?")));
    Json row_labs = row.value("labs", Json::object());
    for (const std::string& lab : labs) {
      if (row_labs.contains(lab)) {
        absl::StrAppend(&csv, ",", FormatPoints(row_labs[lab].value("points", 0.0)));
      } else {
        absl::StrAppend(&csv, ",");  // not graded in that run
      }
    }
    std::vector<std::string> flags;
    if (SummaryHasGraderErrors(row)) flags.push_back("grader error");
    for (auto it = row_labs.begin(); it != row_labs.end(); ++it) {
      if (it->is_object() && !it->value("suspicions", Json::array()).empty()) {
        flags.push_back(absl::StrCat("suspect verdict in ", it.key()));
      }
    }
    if (!row.value("refusals", Json::array()).empty()) flags.push_back("files refused");
    absl::StrAppend(&csv, ",", FormatPoints(row.value("points", 0.0)), ",",
                    FormatPoints(row.value("max_points", 0.0)), ",",
                    CsvField(absl::StrJoin(flags, "; ")), "\n");
  }
  return WriteFileAtomically(absl::StrCat(out, "/gradebook.csv"), csv);
}

absl::StatusOr<BatchSummary> RunBatch(const BatchOptions& options, Sandbox& sandbox) {
  IPC_ASSIGN_OR_RETURN(std::vector<BatchEntry> all, ListSubmissions(options.dir));
  IPC_ASSIGN_OR_RETURN(std::vector<std::string> labs,
                       SelectLabs(options.grade.tree, options.grade.labs));
  if (absl::Status s = MakeDirs(options.out); !s.ok()) return s;
  std::vector<BatchEntry> mine;
  for (BatchEntry& e : all) {
    if (InShard(e.student, options.shard_index, options.shard_count)) mine.push_back(std::move(e));
  }
  BatchSummary summary;
  summary.total = static_cast<int>(mine.size());

  absl::Time start = absl::Now();
  std::mutex mu;  // guards summary and the progress line
  int done = 0;
  auto progress = [&](const std::string& what) {
    // Called with mu held.
    ++done;
    double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
    int left = summary.total - done;
    std::string eta = done > summary.unchanged && left > 0
                          ? absl::StrFormat(", about %.0f s left",
                                            elapsed / (done - summary.unchanged) * left /
                                                std::max(1, options.jobs))
                          : "";
    std::string line = absl::StrFormat("[%d/%d] %s (%d graded, %d unchanged, %d failed%s)", done,
                                       summary.total, what, summary.graded, summary.unchanged,
                                       summary.failed, eta);
    if (options.progress_tty) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  };

  std::atomic<size_t> next{0};
  auto worker = [&](int slot) {
    for (size_t k = next.fetch_add(1, std::memory_order_relaxed); k < mine.size();
         k = next.fetch_add(1, std::memory_order_relaxed)) {
      // relaxed: the counter only hands out indices; each submission has its own folder.
      const BatchEntry& entry = mine[k];
      std::string dir = absl::StrCat(options.out, "/", SafeName(entry.student));
      absl::StatusOr<std::string> fingerprint =
          SubmissionFingerprint(options.grade.tree, labs, entry.path);
      if (fingerprint.ok()) {
        std::optional<Json> old = ReadSummary(absl::StrCat(dir, "/summary.json"));
        if (old && old->value("content_hash", "") == *fingerprint && !SummaryHasGraderErrors(*old)) {
          std::lock_guard<std::mutex> lock(mu);
          ++summary.unchanged;
          progress(absl::StrCat(entry.student, ": unchanged, kept"));
          continue;
        }
      }
      GradeOptions grade = options.grade;
      grade.submission = entry.path;
      grade.student = entry.student;
      grade.slot = slot;
      absl::StatusOr<SubmissionReport> report = GradeSubmission(grade, sandbox);
      absl::Status written =
          report.ok() ? WriteSubmissionReports(*report, dir, fingerprint.value_or(""))
                      : report.status();
      std::lock_guard<std::mutex> lock(mu);
      if (!written.ok()) {
        ++summary.failed;
        progress(absl::StrCat(entry.student, ": NOT GRADED: ", written.ToString()));
        continue;
      }
      ++summary.graded;
      if (report->HasGraderErrors()) ++summary.grader_errors;
      progress(absl::StrCat(entry.student, ": ", FormatPoints(report->points), "/",
                            FormatPoints(report->max_points), " in ",
                            absl::StrFormat("%.1f s", absl::ToDoubleSeconds(report->wall_time)),
                            report->HasGraderErrors() ? " (GRADER ERROR)" : ""));
    }
  };
  int threads = std::max(1, std::min<int>(options.jobs, static_cast<int>(mine.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (std::thread& t : pool) t.join();
  if (options.progress_tty) std::fprintf(stderr, "\n");
  if (absl::Status s = WriteGradebook(options.out, labs); !s.ok()) return s;
  return summary;
}

}  // namespace grader
