// grader/archive.cc: the safe tar.gz reader of archive.h.
//
// The tar format is a run of 512-byte header blocks, each followed by its data rounded up to
// 512 bytes, ended by two zero blocks. Long names come from GNU 'L' entries or pax 'x' records
// ("path="), which apply to the next entry only. Everything is read through zlib's gzread, which
// also reads an uncompressed tar as it is.
#include "grader/archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "grader/files.h"
#include "grader/lab_config.h"

namespace grader {
namespace {

constexpr size_t kBlock = 512;

// Owns a gzFile.
class GzReader {
 public:
  explicit GzReader(gzFile file) : file_(file) {}
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  ~GzReader() {
    if (file_ != nullptr) gzclose(file_);
  }

  // Reads exactly `n` bytes into `out` (nullptr: discard). Counts them against the total cap.
  absl::Status Read(char* out, size_t n, const std::string& archive, int64_t max_total) {
    char scratch[kBlock * 16];
    while (n > 0) {
      size_t chunk = out != nullptr ? n : std::min(n, sizeof scratch);
      int got = gzread(file_, out != nullptr ? out : scratch, static_cast<unsigned>(chunk));
      if (got < 0) {
        int errnum = 0;
        const char* message = gzerror(file_, &errnum);
        return absl::InvalidArgumentError(
            absl::StrCat(archive, ": not a readable .tar.gz (", message, ")"));
      }
      if (got == 0) {
        return absl::InvalidArgumentError(absl::StrCat(archive, ": the archive ends too early"));
      }
      total_ += got;
      if (total_ > max_total) {
        return absl::ResourceExhaustedError(absl::StrCat(
            archive, ": unpacks to more than ", max_total >> 20, " MiB; refused as a whole"));
      }
      if (out != nullptr) out += got;
      n -= static_cast<size_t>(got);
    }
    return absl::OkStatus();
  }

 private:
  gzFile file_;
  int64_t total_ = 0;
};

// Parses an octal numeric header field (NUL- or space-terminated). False if it is not octal.
bool ParseOctal(const char* field, size_t size, int64_t& value) {
  value = 0;
  size_t i = 0;
  while (i < size && field[i] == ' ') ++i;
  bool any = false;
  for (; i < size && field[i] >= '0' && field[i] <= '7'; ++i) {
    value = value * 8 + (field[i] - '0');
    any = true;
    if (value > (int64_t{1} << 40)) return false;  // larger than any cap: refuse the archive
  }
  for (; i < size; ++i) {
    if (field[i] != '\0' && field[i] != ' ') return false;
  }
  return any || field[0] == '\0';
}

std::string Field(const char* field, size_t size) {
  return std::string(field, strnlen(field, size));
}

bool ChecksumOk(const char* header) {
  int64_t stored = 0;
  if (!ParseOctal(header + 148, 8, stored)) return false;
  int64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(header[i]);
  }
  return sum == stored;
}

// "./a/b/" -> "a/b"; the empty string for "." or "./".
std::string Normalise(std::string name) {
  while (name.rfind("./", 0) == 0) name.erase(0, 2);
  while (!name.empty() && name.back() == '/') name.pop_back();
  if (name == ".") name.clear();
  return name;
}

// Parses pax records "LEN key=value\n" and returns the value of `key`, if present.
std::optional<std::string> PaxValue(const std::string& records, absl::string_view key) {
  size_t pos = 0;
  while (pos < records.size()) {
    size_t space = records.find(' ', pos);
    if (space == std::string::npos) break;
    size_t length = 0;
    if (!absl::SimpleAtoi(absl::string_view(records).substr(pos, space - pos), &length) ||
        length == 0 || pos + length > records.size()) {
      break;
    }
    absl::string_view record = absl::string_view(records).substr(space + 1, pos + length - space - 2);
    size_t eq = record.find('=');
    if (eq != absl::string_view::npos && record.substr(0, eq) == key) {
      return std::string(record.substr(eq + 1));
    }
    pos += length;
  }
  return std::nullopt;
}

const char* TypeName(char type) {
  switch (type) {
    case '1': return "a hard link";
    case '2': return "a symbolic link";
    case '3': return "a character device";
    case '4': return "a block device";
    case '6': return "a FIFO (named pipe)";
    default: return "an entry of an unknown kind";
  }
}

absl::Status WriteEntry(const std::string& path, const std::string& data, bool executable) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  executable ? 0755 : 0644);
  if (fd == -1) return ipc::ErrnoError("open", path);
  absl::string_view rest = data;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n == -1 && errno == EINTR) continue;  // interrupted: write the rest
    if (n == -1) {
      absl::Status status = ipc::ErrnoError("write", path);
      ::close(fd);
      return status;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (::close(fd) == -1) return ipc::ErrnoError("close", path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ExtractResult> ExtractTarGz(const std::string& archive, const std::string& dest,
                                           const ExtractLimits& limits) {
  int fd = ::open(archive.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd == -1) return ipc::ErrnoError("open", archive);
  struct stat st;
  if (::fstat(fd, &st) == -1) {
    absl::Status status = ipc::ErrnoError("fstat", archive);
    ::close(fd);
    return status;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(archive, ": not a regular file"));
  }
  gzFile gz = gzdopen(fd, "rb");
  if (gz == nullptr) {
    ::close(fd);
    return absl::ResourceExhaustedError(absl::StrCat("gzdopen(", archive, "): out of memory"));
  }
  GzReader reader(gz);  // owns fd from here on

  ExtractResult result;
  std::set<std::string> seen;
  std::optional<std::string> long_name;  // from a GNU 'L' or pax 'x' entry: names the next one
  std::optional<int64_t> pax_size;
  int entries = 0;
  int zero_blocks = 0;
  char header[kBlock];
  for (;;) {
    if (absl::Status s = reader.Read(header, kBlock, archive, limits.max_total_bytes); !s.ok()) {
      // A tar without its two final zero blocks is common (some writers stop after one).
      if (zero_blocks > 0 && absl::IsInvalidArgument(s)) break;
      return s;
    }
    if (std::all_of(header, header + kBlock, [](char c) { return c == '\0'; })) {
      if (++zero_blocks == 2) break;
      continue;
    }
    zero_blocks = 0;
    if (++entries > limits.max_entries) {
      return absl::ResourceExhaustedError(absl::StrCat(
          archive, ": more than ", limits.max_entries, " entries; refused as a whole"));
    }
    if (!ChecksumOk(header)) {
      return absl::InvalidArgumentError(
          absl::StrCat(archive, ": entry ", entries, " has a bad header checksum (corrupt or not a tar)"));
    }
    int64_t size = 0;
    if ((static_cast<unsigned char>(header[124]) & 0x80) != 0 ||
        !ParseOctal(header + 124, 12, size)) {
      return absl::InvalidArgumentError(
          absl::StrCat(archive, ": entry ", entries, " has an unreadable size"));
    }
    char type = header[156];
    if (pax_size) size = *pax_size;
    int64_t padded = (size + static_cast<int64_t>(kBlock) - 1) / kBlock * kBlock;

    // Extension entries: they describe the next entry.
    if (type == 'L' || type == 'x' || type == 'g' || type == 'K') {
      if (size > (1 << 20)) {
        return absl::InvalidArgumentError(absl::StrCat(archive, ": an oversized extended header"));
      }
      std::string data(static_cast<size_t>(padded), '\0');
      if (absl::Status s = reader.Read(data.data(), data.size(), archive, limits.max_total_bytes);
          !s.ok()) {
        return s;
      }
      data.resize(static_cast<size_t>(size));
      if (type == 'L') long_name = std::string(data.c_str());
      if (type == 'x') {
        if (auto path = PaxValue(data, "path")) long_name = *path;
        if (auto value = PaxValue(data, "size")) {
          int64_t n = 0;
          if (!absl::SimpleAtoi(*value, &n) || n < 0) {
            return absl::InvalidArgumentError(absl::StrCat(archive, ": a bad pax size"));
          }
          pax_size = n;
        }
      }
      continue;
    }

    std::string raw_name = long_name ? *long_name : [&] {
      std::string prefix = Field(header + 345, 155);
      std::string name = Field(header, 100);
      return prefix.empty() ? name : absl::StrCat(prefix, "/", name);
    }();
    long_name.reset();
    pax_size.reset();
    std::string name = Normalise(raw_name);
    std::string shown = raw_name.empty() ? "(an empty name)" : raw_name;

    // Decide what to do with this entry; refusals skip its data.
    std::string refusal;
    bool safe_name = !name.empty() && IsSafeRelativePath(name);
    if (raw_name.empty() || name.empty()) {
      if (type != '5') refusal = "it has no name";
    } else if (raw_name.front() == '/') {
      refusal = "it has an absolute path";
    } else if (!safe_name) {
      refusal = "its path leaves the submission folder (\"..\" or an empty component)";
    } else if (type == '1' || type == '2' || type == '3' || type == '4' || type == '6' ||
               (type != '0' && type != '\0' && type != '7' && type != '5')) {
      refusal = TypeName(type);
      std::string target = Field(header + 157, 100);
      if ((type == '1' || type == '2') && !target.empty()) {
        absl::StrAppend(&refusal, " to ", target);
      }
      absl::StrAppend(&refusal, "; only plain files are accepted");
    } else if (type != '5' && size > limits.max_file_bytes) {
      refusal = absl::StrCat("it is ", size, " bytes, over the limit of ", limits.max_file_bytes,
                             " bytes");
    } else if (!seen.insert(name).second && type != '5') {
      refusal = "the name appears twice in the archive";
    }
    if (!refusal.empty()) {
      result.refusals.push_back(absl::StrCat("refused ", shown, " in the archive: ", refusal));
      if (safe_name) result.refused_paths[name] = refusal;
      if (absl::Status s = reader.Read(nullptr, static_cast<size_t>(padded), archive,
                                       limits.max_total_bytes);
          !s.ok()) {
        return s;
      }
      continue;
    }
    if (name.empty()) continue;  // "./" itself

    std::string path = absl::StrCat(dest, "/", name);
    if (type == '5') {
      if (absl::Status s = MakeDirs(path); !s.ok()) return s;
      continue;
    }
    size_t slash = path.find_last_of('/');
    if (absl::Status s = MakeDirs(path.substr(0, slash)); !s.ok()) return s;
    std::string data(static_cast<size_t>(padded), '\0');
    if (absl::Status s = reader.Read(data.data(), data.size(), archive, limits.max_total_bytes);
        !s.ok()) {
      return s;
    }
    data.resize(static_cast<size_t>(size));
    int64_t mode = 0;
    ParseOctal(header + 100, 8, mode);
    if (absl::Status s = WriteEntry(path, data, (mode & 0100) != 0); !s.ok()) {
      if (ipc::ErrnoOf(s) == EEXIST || ipc::ErrnoOf(s) == ENOTDIR || ipc::ErrnoOf(s) == EISDIR) {
        result.refusals.push_back(absl::StrCat("refused ", shown, " in the archive: ", s.message()));
        result.refused_paths[name] = "it clashes with another entry of the archive";
        continue;
      }
      return s;
    }
    ++result.files_written;
  }
  return result;
}

}  // namespace grader
