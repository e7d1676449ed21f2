// grader/archive.h: unpack a student's .tar.gz without trusting it.
//
// A submission may arrive as a tarball. `tar -xzf` would follow a symbolic link planted by one
// entry when writing the next, write to absolute paths or through "..", create devices, and fill
// the disk from a few kilobytes of gzip. ExtractTarGz reads the archive itself (zlib and the
// ustar/GNU/pax header formats) and writes only plain files and folders inside the destination:
//   - refused, with one line each: absolute paths, any ".." component, symbolic and hard links,
//     devices and FIFOs, a file larger than max_file_bytes, a name seen twice;
//   - refused as a whole (an error): a corrupt header, more than max_entries entries, or more than
//     max_total_bytes of unpacked data (a gzip bomb).
// Written files get mode 0644 (0755 if the owner could execute it) and folders 0755; owners and
// times in the archive are ignored.
// Partner: grader/stage.h, which turns a refused student file into the lab's finding.
// Tests: grader/archive_test.cc.
#ifndef IPC_LABS_GRADER_ARCHIVE_H_
#define IPC_LABS_GRADER_ARCHIVE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace grader {

// Caps for one archive.
struct ExtractLimits {
  int64_t max_file_bytes = int64_t{1} << 20;     // a larger entry is refused (not written)
  int64_t max_total_bytes = int64_t{256} << 20;  // unpacked bytes read in all; more: an error
  int max_entries = 20000;                       // more: an error
};

// What ExtractTarGz did.
struct ExtractResult {
  int files_written = 0;
  // One sentence per refused entry, for the report: "refused ../x in the archive: ...".
  std::vector<std::string> refusals;
  // The refused entries that have a safe name, by their path relative to the destination, with
  // the reason ("a symbolic link to /etc/passwd"): staging reports these instead of "missing".
  std::map<std::string, std::string> refused_paths;
};

// ExtractTarGz()
//
// Unpacks the gzip-compressed (or plain) tar archive `archive` into the existing, empty folder
// `dest`, as described above. Errors: the archive cannot be opened or is corrupt
// (INVALID_ARGUMENT, naming the entry), a cap above is exceeded (RESOURCE_EXHAUSTED), or
// writing fails (ipc::ErrnoError). On error, what was written so far stays in `dest`.
absl::StatusOr<ExtractResult> ExtractTarGz(const std::string& archive, const std::string& dest,
                                           const ExtractLimits& limits = {});

}  // namespace grader

#endif  // IPC_LABS_GRADER_ARCHIVE_H_
