// common/status.cc: see status.h.
#include "common/status.h"

#include <cstring>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ipc {
namespace {

constexpr absl::string_view kErrnoPayloadUrl = "type.ipclabs/errno";

}  // namespace

std::string ErrnoName(int err) {
  const char* name = ::strerrorname_np(err);  // glibc >= 2.32; nullptr for unknown values
  if (name == nullptr) return absl::StrCat("errno ", err);
  return name;
}

absl::Status ErrnoError(absl::string_view call, absl::string_view object, int err) {
  std::string message =
      object.empty() ? absl::StrCat(call, ": ") : absl::StrCat(call, "(\"", object, "\"): ");
  absl::StrAppend(&message, ::strerror(err), " [", ErrnoName(err), "]");
  absl::Status status(absl::ErrnoToStatusCode(err), message);
  status.SetPayload(kErrnoPayloadUrl, absl::Cord(absl::StrCat(err)));
  return status;
}

std::optional<int> ErrnoOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kErrnoPayloadUrl);
  int err = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &err)) return std::nullopt;
  return err;
}

absl::Status WithContext(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status result(status.code(), absl::StrCat(context, ": ", status.message()));
  status.ForEachPayload([&result](absl::string_view url, const absl::Cord& payload) {
    result.SetPayload(url, payload);
  });
  return result;
}

}  // namespace ipc
