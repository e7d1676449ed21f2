// common/ipc_snapshot.cc: see ipc_snapshot.h.
#include "common/ipc_snapshot.h"

#include <fcntl.h>
#include <mqueue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"

namespace ipc {
namespace {

namespace fs = std::filesystem;

// Reads one /proc/sysvipc table. Columns (shm): key shmid perms size cpid lpid nattch ...;
// (sem): key semid perms nsems ...; (msg): key msqid perms cbytes qnum ...
absl::Status ReadSysvTable(const std::string& path, IpcObject::Kind kind,
                           std::vector<IpcObject>* out) {
  std::ifstream in(path);
  if (!in) return ErrnoError("open", path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    long long key = 0, id = 0, perms = 0, a = 0, b = 0, c = 0, d = 0, e = 0;
    if (!(fields >> key >> id >> perms >> a)) continue;
    IpcObject object{kind};
    object.key = static_cast<key_t>(key);
    object.id = static_cast<int>(id);
    object.name = absl::StrFormat("key 0x%08x id %d", static_cast<unsigned>(object.key), object.id);
    switch (kind) {
      case IpcObject::Kind::kSysvShm:
        fields >> b >> c >> d;  // cpid lpid nattch
        object.size = static_cast<uint64_t>(a);
        object.creator_pid = static_cast<pid_t>(b);
        object.nattch = static_cast<int>(d);
        break;
      case IpcObject::Kind::kSysvSem:
        object.size = static_cast<uint64_t>(a);  // nsems
        break;
      default:
        fields >> e;  // qnum
        object.size = static_cast<uint64_t>(e);
        break;
    }
    out->push_back(object);
  }
  return absl::OkStatus();
}

bool IsMqueueMounted(const std::string& dir) {
  std::ifstream mounts("/proc/self/mounts");
  std::string device, mount_point, type, rest;
  while (mounts >> device >> mount_point >> type && std::getline(mounts, rest)) {
    if (mount_point == dir && type == "mqueue") return true;
  }
  return false;
}

}  // namespace

absl::string_view KindName(IpcObject::Kind kind) {
  switch (kind) {
    case IpcObject::Kind::kSysvShm:
      return "System V shared memory segment";
    case IpcObject::Kind::kSysvSem:
      return "System V semaphore set";
    case IpcObject::Kind::kSysvMsg:
      return "System V message queue";
    case IpcObject::Kind::kPosixShm:
      return "POSIX shared memory object";
    case IpcObject::Kind::kPosixSem:
      return "POSIX named semaphore";
    case IpcObject::Kind::kPosixMq:
      return "POSIX message queue";
  }
  return "IPC object";
}

std::string IpcObject::ToString() const {
  std::string text = absl::StrCat(KindName(kind), " ", name);
  switch (kind) {
    case Kind::kSysvShm:
      absl::StrAppend(&text, " (", size, " bytes, ", nattch, " attached, created by pid ",
                      creator_pid, ")");
      break;
    case Kind::kSysvSem:
      absl::StrAppend(&text, " (", size, " semaphores)");
      break;
    case Kind::kSysvMsg:
      absl::StrAppend(&text, " (", size, " messages queued)");
      break;
    case Kind::kPosixShm:
      absl::StrAppend(&text, " (", size, " bytes)");
      break;
    default:
      break;
  }
  return text;
}

absl::StatusOr<IpcSnapshot> IpcSnapshot::Take(const SnapshotOptions& options) {
  IpcSnapshot snapshot;
  const std::pair<const char*, IpcObject::Kind> tables[] = {
      {"shm", IpcObject::Kind::kSysvShm},
      {"sem", IpcObject::Kind::kSysvSem},
      {"msg", IpcObject::Kind::kSysvMsg},
  };
  for (const auto& [file, kind] : tables) {
    absl::Status status =
        ReadSysvTable(absl::StrCat(options.proc_sysvipc, "/", file), kind, &snapshot.objects);
    if (!status.ok()) return status;
  }

  std::error_code ec;
  for (fs::directory_iterator it(options.dev_shm, ec), end; !ec && it != end; it.increment(ec)) {
    std::string file = it->path().filename().string();
    IpcObject object{IpcObject::Kind::kPosixShm};
    std::string bare = file;
    if (absl::StartsWith(file, "sem.")) {
      object.kind = IpcObject::Kind::kPosixSem;
      bare = file.substr(4);
    }
    if (!absl::StartsWith(bare, options.posix_prefix)) continue;
    object.name = absl::StrCat("/", bare);
    std::error_code size_ec;
    if (object.kind == IpcObject::Kind::kPosixShm && it->is_regular_file(size_ec)) {
      object.size = it->file_size(size_ec);
    }
    snapshot.objects.push_back(object);
  }
  if (ec) return ErrnoError("opendir", options.dev_shm, ec.value());

  if (IsMqueueMounted(options.dev_mqueue)) {
    snapshot.mqueue_listed = true;
    for (fs::directory_iterator it(options.dev_mqueue, ec), end; !ec && it != end;
         it.increment(ec)) {
      std::string file = it->path().filename().string();
      if (!absl::StartsWith(file, options.posix_prefix)) continue;
      snapshot.objects.push_back({IpcObject::Kind::kPosixMq, absl::StrCat("/", file)});
    }
    if (ec) return ErrnoError("opendir", options.dev_mqueue, ec.value());
  }
  return snapshot;
}

std::vector<IpcObject> IpcSnapshot::NewSince(const IpcSnapshot& before) const {
  std::vector<IpcObject> fresh;
  for (const IpcObject& object : objects) {
    bool existed = std::any_of(before.objects.begin(), before.objects.end(),
                               [&](const IpcObject& old) {
                                 // A System V object is the same one only if its id matches too.
                                 return old == object && old.id == object.id;
                               });
    if (!existed) fresh.push_back(object);
  }
  return fresh;
}

std::vector<IpcObject> PosixObjectsNamed(const std::string& name) {
  std::vector<IpcObject> found;
  struct stat st;
  std::string bare = name.empty() ? name : name.substr(1);
  if (::stat(absl::StrCat("/dev/shm/", bare).c_str(), &st) == 0) {
    IpcObject object{IpcObject::Kind::kPosixShm, name};
    object.size = static_cast<uint64_t>(st.st_size);
    found.push_back(object);
  }
  if (::stat(absl::StrCat("/dev/shm/sem.", bare).c_str(), &st) == 0) {
    found.push_back({IpcObject::Kind::kPosixSem, name});
  }
  mqd_t mq = ::mq_open(name.c_str(), O_RDONLY | O_NONBLOCK);
  if (mq != static_cast<mqd_t>(-1)) {
    ::mq_close(mq);
    found.push_back({IpcObject::Kind::kPosixMq, name});
  } else if (errno == EACCES) {
    found.push_back({IpcObject::Kind::kPosixMq, name});  // it exists, we just may not open it
  }
  return found;
}

}  // namespace ipc
