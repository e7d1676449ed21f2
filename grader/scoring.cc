// grader/scoring.cc: running cases and scoring them (scoring.h).
//
// Cases run on a small pool of threads of the grader's own process; each case itself runs in
// its own contained process tree (the sandbox), so one case cannot disturb another.
#include "grader/scoring.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/testing/verdict.h"
#include "grader/files.h"
#include "nlohmann/json.hpp"

namespace grader {
namespace {

constexpr char kMetricPrefix[] = "IPCLABS_METRIC ";

std::string Points(double p) { return absl::StrFormat("%g", p); }

// A measurement as people read it: 1819790, not 1.81979e+06; 0.0123, not 0.012300.
std::string Measurement(double v) {
  return std::fabs(v) >= 1e4 ? absl::StrFormat("%.0f", v) : absl::StrFormat("%.4g", v);
}

std::string DirOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Lists a binary's cases, dropping the grader's sentinel (it is checked separately).
absl::StatusOr<std::vector<std::string>> ListRealCases(Sandbox& sandbox, const std::string& binary,
                                                       const CaseLimits& limits) {
  absl::StatusOr<std::vector<std::string>> cases = sandbox.ListCases(binary, limits);
  if (!cases.ok()) return cases;
  std::string sentinel = absl::StrCat(ipc::testing::kSentinelSuite, ".");
  cases->erase(std::remove_if(cases->begin(), cases->end(),
                              [&](const std::string& c) { return c.rfind(sentinel, 0) == 0; }),
               cases->end());
  return cases;
}

// Runs one speed item: alternating runs, each metric parsed.
void RunSpeed(const LabConfig& config, const SpeedItem& item, const std::string& binary,
              Sandbox& sandbox, LabReport& lab, SpeedReport& report) {
  std::string workdir = DirOf(binary);
  for (int run = 0; run < item.runs; ++run) {
    for (bool student : {true, false}) {
      const std::string& name = student ? item.student_case : item.baseline_case;
      // A rubric item matching the speed case may give it a longer timeout or more memory.
      CaseLimits limits = config.LimitsFor(config.ItemFor(item.binary, name));
      absl::StatusOr<CaseResult> result = sandbox.RunCase(binary, name, workdir, limits);
      if (!result.ok()) {
        lab.grader_errors.push_back(absl::StrCat("speed item \"", item.name, "\": running ", name,
                                                 ": ", result.status().ToString()));
        report.grader_error = true;
        report.explanation = "the grader could not run this comparison (see the grader log)";
        report.student.clear();
        return;
      }
      for (std::string& s : result->suspicions) lab.suspicions.push_back(std::move(s));
      std::string who = student ? "your case " : "the baseline case ";
      if (result->outcome != CaseResult::Outcome::kPassed || !result->leaks.empty()) {
        report.explanation = absl::StrCat(
            who, name, " did not pass cleanly in run ", run + 1, " (",
            result->leaks.empty() ? result->summary : "it leaked an IPC object",
            "); speed counts only for a correct, leak-free run");
        if (!student) {
          report.grader_error = true;
          lab.grader_errors.push_back(absl::StrCat("speed item \"", item.name, "\": baseline ",
                                                   name, " failed: ", result->summary));
        }
        report.student.clear();
        return;
      }
      absl::StatusOr<double> metric = ParseMetric(result->output, item.metric);
      if (!metric.ok()) {
        report.explanation = absl::StrCat(who, name, " reported no measurement: ",
                                          metric.status().message());
        if (!student) {
          report.grader_error = true;
          lab.grader_errors.push_back(absl::StrCat("speed item \"", item.name, "\": ",
                                                   report.explanation));
        }
        report.student.clear();
        return;
      }
      (student ? report.student : report.baseline).push_back(*metric);
    }
  }
}

}  // namespace

void ScoreCase(const LabConfig& config, const RubricItem* item, CaseReport& report) {
  report.max_points = item != nullptr ? item->points : 0;
  report.points = 0;
  const CaseResult& r = report.result;
  std::string leaks;
  if (!r.leaks.empty()) {
    leaks = absl::StrCat("left ", r.leaks.size(), " IPC object", r.leaks.size() == 1 ? "" : "s",
                         " behind (", r.leaks.front().ToString(),
                         r.leaks.size() > 1 ? ", ..." : "", ")");
  }
  switch (r.outcome) {
    case CaseResult::Outcome::kPassed:
      if (r.leaks.empty()) {
        report.points = report.max_points;
      } else {
        report.points = report.max_points * (1.0 - config.leak_penalty);
        report.note = absl::StrCat("passed, but ", leaks, ": lost ",
                                   Points(report.max_points - report.points), " of ",
                                   Points(report.max_points), " points (leak penalty ",
                                   Points(config.leak_penalty * 100), "%)");
      }
      break;
    case CaseResult::Outcome::kSkipped:
      report.note = "skipped: a skipped case earns nothing";
      break;
    default:
      if (!leaks.empty()) report.note = absl::StrCat("also ", leaks);
      break;
  }
}

absl::StatusOr<double> ParseMetric(absl::string_view output, absl::string_view metric) {
  std::optional<double> value;
  std::string name_seen;
  bool several = false;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, kMetricPrefix)) continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    absl::string_view name = line.substr(0, eq);
    if (!metric.empty() && name != metric) continue;
    if (metric.empty() && !name_seen.empty() && name != name_seen) several = true;
    name_seen = std::string(name);
    double v = 0;
    if (!absl::SimpleAtod(line.substr(eq + 1), &v) || !std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the value of metric ", name, " is not a finite number"));
    }
    value = v;
  }
  if (several) {
    return absl::InvalidArgumentError(
        "the case printed several metrics; lab.json must say which one (\"metric\")");
  }
  if (!value) {
    return absl::NotFoundError(absl::StrCat("no line \"", kMetricPrefix,
                                            metric.empty() ? "<name>" : std::string(metric),
                                            "=<value>\" on its output"));
  }
  return *value;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void ScoreSpeed(const SpeedItem& item, SpeedReport& report) {
  report.max_points = item.max_points();
  report.points = 0;
  report.ratio.reset();
  if (report.student.empty() || report.baseline.empty()) return;
  double student = Median(report.student);
  double baseline = Median(report.baseline);
  if (student <= 0 || baseline <= 0) {
    report.explanation = "a measurement was zero or negative, so no ratio can be formed";
    return;
  }
  double ratio = item.higher_is_better ? student / baseline : baseline / student;
  report.ratio = ratio;
  const SpeedThreshold* reached = nullptr;
  for (const SpeedThreshold& t : item.thresholds) {
    if (ratio >= t.ratio) reached = &t;
  }
  report.points = reached != nullptr ? reached->points : 0;
  std::string next;
  for (const SpeedThreshold& t : item.thresholds) {
    if (ratio < t.ratio) {
      next = absl::StrFormat("; %.2fx would earn %g", t.ratio, t.points);
      break;
    }
  }
  report.explanation = absl::StrFormat(
      "median of %d runs: yours %s, baseline %s (%s is better): %.2fx the baseline, %g of %g "
      "points%s",
      static_cast<int>(report.student.size()), Measurement(student), Measurement(baseline),
      item.higher_is_better ? "higher" : "lower", ratio, report.points, report.max_points, next);
}

std::string CaseListCache::Path(const std::string& lab, BinaryKind binary) const {
  return absl::StrCat(dir_, "/", lab, ".", BinaryKindName(binary), ".json");
}

std::optional<std::vector<std::string>> CaseListCache::Get(const std::string& lab,
                                                           BinaryKind binary,
                                                           const std::string& key) const {
  absl::StatusOr<std::string> text = ReadFile(Path(lab, binary), 4 << 20);
  if (!text.ok()) return std::nullopt;
  nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded() || !json.is_object() || json.value("key", "") != key ||
      !json.contains("cases") || !json["cases"].is_array()) {
    return std::nullopt;
  }
  std::vector<std::string> cases;
  for (const auto& c : json["cases"]) {
    if (c.is_string()) cases.push_back(c.get<std::string>());
  }
  return cases;
}

void CaseListCache::Put(const std::string& lab, BinaryKind binary, const std::string& key,
                        const std::vector<std::string>& cases) const {
  if (!MakeDirs(dir_).ok()) return;  // a cache that cannot be written only costs a max later
  nlohmann::json json = {{"key", key}, {"cases", cases}};
  (void)WriteFileAtomically(Path(lab, binary), json.dump(1));
}

void RunLab(const LabConfig& config, const LabBinaries& binaries, Sandbox& sandbox,
            const RunOptions& options, LabReport& report) {
  report.name = config.name;
  report.title = config.title;
  report.outcome = LabOutcome::kGraded;
  CaseLimits list_limits = config.LimitsFor(nullptr);

  // Phase 1: list every binary's cases, and queue those that are not speed cases.
  struct Binary {
    BinaryKind kind;
    std::string path;
    bool listed;
  };
  std::vector<Binary> runnable;
  for (auto [kind, path] : {std::pair{BinaryKind::kPublic, binaries.public_binary},
                            std::pair{BinaryKind::kHidden, binaries.hidden_binary}}) {
    if (path.empty()) continue;
    absl::StatusOr<std::vector<std::string>> cases = ListRealCases(sandbox, path, list_limits);
    if (!cases.ok()) {
      std::string why = absl::StrCat("the ", BinaryKindName(kind),
                                     " test binary could not list its cases: ",
                                     cases.status().message());
      report.problems.push_back(why);
      std::optional<std::vector<std::string>> cached =
          options.cache ? options.cache->Get(config.name, kind, options.cache_key) : std::nullopt;
      if (!cached) {
        report.max_known = false;
        report.grader_errors.push_back(absl::StrCat(why, " (and no earlier case list is cached, "
                                                         "so this lab's maximum is unknown)"));
        continue;
      }
      for (const std::string& name : *cached) {
        if (config.IsSpeedCase(kind, name)) continue;
        CaseReport c;
        c.binary = kind;
        c.name = name;
        c.result.outcome = CaseResult::Outcome::kNoVerdict;
        c.result.summary = "not run: the test binary could not list its cases";
        ScoreCase(config, config.ItemFor(kind, name), c);
        report.cases.push_back(std::move(c));
      }
      continue;
    }
    if (options.cache) options.cache->Put(config.name, kind, options.cache_key, *cases);
    for (const std::string& name : *cases) {
      if (config.IsSpeedCase(kind, name)) continue;
      CaseReport c;
      c.binary = kind;
      c.name = name;
      report.cases.push_back(std::move(c));
    }
    runnable.push_back({kind, path, true});
  }
  for (const RubricItem& item : config.rubric) {
    bool matched = std::any_of(report.cases.begin(), report.cases.end(), [&](const CaseReport& c) {
      return c.binary == item.binary && MatchesPattern(item.pattern, c.name);
    });
    for (const SpeedItem& speed : config.speed) {  // an item may exist to set speed cases' limits
      matched |= speed.binary == item.binary && (MatchesPattern(item.pattern, speed.student_case) ||
                                                 MatchesPattern(item.pattern, speed.baseline_case));
    }
    bool binary_built = item.binary == BinaryKind::kPublic ? !binaries.public_binary.empty()
                                                           : !binaries.hidden_binary.empty();
    if (!matched && binary_built) {
      report.notes.push_back(absl::StrCat("rubric item ", BinaryKindName(item.binary), " \"",
                                          item.pattern, "\" matches no case"));
    }
  }

  // Phase 2: run the queued cases, `jobs` at a time.
  auto path_of = [&](BinaryKind kind) {
    return kind == BinaryKind::kPublic ? binaries.public_binary : binaries.hidden_binary;
  };
  std::vector<size_t> todo;
  for (size_t i = 0; i < report.cases.size(); ++i) {
    if (report.cases[i].result.summary.empty()) todo.push_back(i);  // not a cached placeholder
  }
  std::atomic<size_t> next{0};
  std::mutex mu;  // guards report.grader_errors and report.suspicions from the workers
  auto worker = [&] {
    for (size_t k = next.fetch_add(1, std::memory_order_relaxed); k < todo.size();
         k = next.fetch_add(1, std::memory_order_relaxed)) {
      // relaxed: the counter only hands out indices; each case writes its own slot.
      CaseReport& c = report.cases[todo[k]];
      const RubricItem* item = config.ItemFor(c.binary, c.name);
      std::string binary = path_of(c.binary);
      absl::StatusOr<CaseResult> result =
          sandbox.RunCase(binary, c.name, DirOf(binary), config.LimitsFor(item));
      if (result.ok()) {
        c.result = *std::move(result);
      } else {
        c.result.outcome = CaseResult::Outcome::kNoVerdict;
        c.result.summary = "not run: the grader failed to run it (not your fault; tell staff)";
        std::lock_guard<std::mutex> lock(mu);
        report.grader_errors.push_back(
            absl::StrCat("running ", c.name, ": ", result.status().ToString()));
      }
      ScoreCase(config, item, c);
      if (!c.result.suspicions.empty()) {
        std::lock_guard<std::mutex> lock(mu);
        for (const std::string& s : c.result.suspicions) {
          report.suspicions.push_back(absl::StrCat(c.name, ": ", s));
        }
      }
    }
  };
  int threads = std::max(1, std::min<int>(options.jobs, static_cast<int>(todo.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();

  // Phase 3: the sentinel, once per binary that listed.
  for (const Binary& b : runnable) {
    absl::StatusOr<std::vector<std::string>> suspicions =
        sandbox.CheckSentinel(b.path, DirOf(b.path), list_limits);
    if (!suspicions.ok()) {
      report.grader_errors.push_back(absl::StrCat("the sentinel check of the ",
                                                  BinaryKindName(b.kind), " binary failed: ",
                                                  suspicions.status().ToString()));
      continue;
    }
    for (const std::string& s : *suspicions) {
      report.suspicions.push_back(absl::StrCat(BinaryKindName(b.kind), " binary: ", s));
    }
  }

  // Phase 4: speed items, one at a time (never in parallel with anything of this lab).
  for (const SpeedItem& item : config.speed) {
    SpeedReport s;
    s.name = item.name;
    s.binary = item.binary;
    std::string binary = path_of(item.binary);
    if (binary.empty()) {
      s.explanation = absl::StrCat("the ", BinaryKindName(item.binary), " binary was not built");
    } else {
      RunSpeed(config, item, binary, sandbox, report, s);
    }
    ScoreSpeed(item, s);
    report.speed.push_back(std::move(s));
  }

  report.points = 0;
  report.max_points = 0;
  for (const CaseReport& c : report.cases) {
    report.points += c.points;
    report.max_points += c.max_points;
  }
  for (const SpeedReport& s : report.speed) {
    report.points += s.points;
    report.max_points += s.max_points;
  }
}

void ScoreUnbuiltLab(const LabConfig& config, const RunOptions& options, LabReport& report) {
  report.name = config.name;
  report.title = config.title;
  report.points = 0;
  report.max_points = 0;
  bool from_cache = options.cache != nullptr;
  double cached_max = 0;
  for (BinaryKind kind : {BinaryKind::kPublic, BinaryKind::kHidden}) {
    if (!from_cache) break;
    std::optional<std::vector<std::string>> cases =
        options.cache->Get(config.name, kind, options.cache_key);
    if (!cases) {
      // A lab without hidden tests has no hidden cache: only the public one is required.
      if (kind == BinaryKind::kPublic) from_cache = false;
      continue;
    }
    for (const std::string& name : *cases) {
      if (config.IsSpeedCase(kind, name)) continue;
      const RubricItem* item = config.ItemFor(kind, name);
      if (item != nullptr) cached_max += item->points;
    }
  }
  double speed_max = 0;
  for (const SpeedItem& item : config.speed) speed_max += item.max_points();
  if (from_cache) {
    report.max_points = cached_max + speed_max;
  } else if (config.max_points) {
    report.max_points = *config.max_points;
  } else {
    report.max_known = false;
    report.notes.push_back(
        "this lab's maximum is unknown (it was never built by this grader, and lab.json has no "
        "\"max_points\"): its points count as 0 of 0");
  }
}

}  // namespace grader
