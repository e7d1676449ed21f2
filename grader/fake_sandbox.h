// grader/fake_sandbox.h: a scripted Sandbox for the grader's unit tests.
//
// The real sandbox (sandbox.h) needs root, bubblewrap and cgroups; the driver's logic does not.
// FakeSandbox answers ListCases from a table, RunCase from a per-case script (a fixed result, or
// a function of the run number, for speed tests), and CheckSentinel from a flag, and records
// every call. Thread-safe, so RunLab's parallel runs can use it. testonly.
#ifndef IPC_LABS_GRADER_FAKE_SANDBOX_H_
#define IPC_LABS_GRADER_FAKE_SANDBOX_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grader/sandbox.h"

namespace grader::testing {

class FakeSandbox : public Sandbox {
 public:
  using Script = std::function<CaseResult(int run)>;

  // FakeSandbox::AddBinary()
  //
  // `binary` lists `cases` (or fails to list with `list_error` if it is not OK).
  void AddBinary(const std::string& binary, std::vector<std::string> cases,
                 absl::Status list_error = absl::OkStatus()) {
    std::lock_guard<std::mutex> lock(mu_);
    binaries_[binary] = {std::move(cases), std::move(list_error)};
  }

  // FakeSandbox::SetResult()
  //
  // Every run of `binary`'s `case_name` returns `script(run)` (run counts from 0).
  void SetResult(const std::string& binary, const std::string& case_name, Script script) {
    std::lock_guard<std::mutex> lock(mu_);
    scripts_[binary + "#" + case_name] = std::move(script);
  }

  // FakeSandbox::SetForgedSentinel()
  //
  // Makes CheckSentinel report `binary` as forged.
  void SetForgedSentinel(const std::string& binary) {
    std::lock_guard<std::mutex> lock(mu_);
    forged_.push_back(binary);
  }

  // FakeSandbox::calls()
  //
  // "list B", "run B C", "sentinel B", in the order made.
  std::vector<std::string> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

  const std::vector<std::string>& warnings() const override { return warnings_; }

  absl::StatusOr<std::vector<std::string>> ListCases(const std::string& binary,
                                                     const CaseLimits&) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("list " + binary);
    auto it = binaries_.find(binary);
    if (it == binaries_.end()) return absl::NotFoundError("no such binary: " + binary);
    if (!it->second.error.ok()) return it->second.error;
    std::vector<std::string> cases = it->second.cases;
    cases.push_back("IpcLabsGraderSentinel.MustFail");  // as the real listener registers it
    return cases;
  }

  absl::StatusOr<CaseResult> RunCase(const std::string& binary, const std::string& case_name,
                                     const std::string&, const CaseLimits& limits) override {
    Script script;
    int run = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back("run " + binary + " " + case_name);
      last_limits_[case_name] = limits;
      run = runs_[binary + "#" + case_name]++;
      auto it = scripts_.find(binary + "#" + case_name);
      if (it == scripts_.end()) {
        CaseResult passed;
        passed.outcome = CaseResult::Outcome::kPassed;
        passed.summary = "passed";
        return passed;
      }
      script = it->second;
    }
    return script(run);
  }

  absl::StatusOr<std::vector<std::string>> CheckSentinel(const std::string& binary,
                                                         const std::string&,
                                                         const CaseLimits&) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("sentinel " + binary);
    for (const std::string& f : forged_) {
      if (f == binary) return std::vector<std::string>{"the sentinel case was reported passed"};
    }
    return std::vector<std::string>{};
  }

  // FakeSandbox::LimitsOf()
  //
  // The limits the last run of `case_name` was given.
  CaseLimits LimitsOf(const std::string& case_name) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = last_limits_.find(case_name);
    return it == last_limits_.end() ? CaseLimits{} : it->second;
  }

 private:
  struct Listing {
    std::vector<std::string> cases;
    absl::Status error;
  };
  mutable std::mutex mu_;  // guards everything below
  std::map<std::string, Listing> binaries_;
  std::map<std::string, Script> scripts_;
  std::map<std::string, int> runs_;
  std::map<std::string, CaseLimits> last_limits_;
  std::vector<std::string> forged_;
  std::vector<std::string> calls_;
  std::vector<std::string> warnings_;
};

// Results for scripts.
inline CaseResult Passed(std::string output = "") {
  CaseResult r;
  r.outcome = CaseResult::Outcome::kPassed;
  r.summary = "passed";
  r.exit_code = 0;
  r.output = std::move(output);
  return r;
}

inline CaseResult Failed(std::string file, int line, std::string message) {
  CaseResult r;
  r.outcome = CaseResult::Outcome::kFailed;
  r.summary = "failed";
  r.exit_code = 1;
  r.failures.push_back({std::move(file), line, std::move(message)});
  return r;
}

inline CaseResult Crashed() {
  CaseResult r;
  r.outcome = CaseResult::Outcome::kCrashed;
  r.signal = 11;
  r.summary = "killed by SIGSEGV (Segmentation fault)";
  return r;
}

inline CaseResult PassedButLeaked() {
  CaseResult r = Passed();
  ipc::IpcObject leak;
  leak.kind = ipc::IpcObject::Kind::kPosixShm;
  leak.name = "/ipclabs.1.ring.0";
  leak.size = 4096;
  r.leaks.push_back(leak);
  return r;
}

}  // namespace grader::testing

#endif  // IPC_LABS_GRADER_FAKE_SANDBOX_H_
