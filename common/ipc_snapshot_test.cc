// Tests of common/ipc_snapshot.h: every kind of object is seen, and so is its removal.
#include "common/ipc_snapshot.h"

#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "common/names.h"
#include "common/testing/testing.h"
#include "gtest/gtest.h"

namespace ipc {
namespace {

using ::testing::Contains;
using ::testing::Field;
using ::testing::IsEmpty;

bool Has(const std::vector<IpcObject>& objects, IpcObject::Kind kind, const std::string& name) {
  for (const IpcObject& object : objects) {
    if (object.kind == kind && object.name == name) return true;
  }
  return false;
}

TEST(IpcSnapshotTest, SeesNewSystemVObjectsAndTheirRemoval) {
  IPC_ASSERT_OK_AND_ASSIGN(IpcSnapshot before, IpcSnapshot::Take());
  int shm = ::shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
  int sem = ::semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
  int msg = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  ASSERT_NE(shm, -1);
  ASSERT_NE(sem, -1);
  ASSERT_NE(msg, -1);
  IPC_ASSERT_OK_AND_ASSIGN(IpcSnapshot during, IpcSnapshot::Take());
  std::vector<IpcObject> fresh = during.NewSince(before);
  EXPECT_THAT(fresh, Contains(Field(&IpcObject::id, shm)));
  EXPECT_THAT(fresh, Contains(Field(&IpcObject::id, sem)));
  EXPECT_THAT(fresh, Contains(Field(&IpcObject::id, msg)));
  for (const IpcObject& object : fresh) {
    if (object.id == shm && object.kind == IpcObject::Kind::kSysvShm) {
      EXPECT_EQ(object.size, 8192u);
      EXPECT_EQ(object.creator_pid, ::getpid());
    }
    if (object.id == sem && object.kind == IpcObject::Kind::kSysvSem) {
      EXPECT_EQ(object.size, 3u);
    }
  }
  ASSERT_EQ(::shmctl(shm, IPC_RMID, nullptr), 0);
  ASSERT_EQ(::semctl(sem, 0, IPC_RMID), 0);
  ASSERT_EQ(::msgctl(msg, IPC_RMID, nullptr), 0);
  IPC_ASSERT_OK_AND_ASSIGN(IpcSnapshot after, IpcSnapshot::Take());
  EXPECT_THAT(after.NewSince(before), IsEmpty());
}

TEST(IpcSnapshotTest, SeesPosixSharedMemoryAndSemaphoresUnderThePrefix) {
  std::string shm_name = UniqueName("snap-shm");
  std::string sem_name = UniqueName("snap-sem");
  SnapshotOptions options;
  options.posix_prefix = NamePrefix();
  int fd = ::shm_open(shm_name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_NE(fd, -1) << ErrnoError("shm_open", shm_name);
  ASSERT_EQ(::ftruncate(fd, 100), 0);
  sem_t* sem = ::sem_open(sem_name.c_str(), O_CREAT | O_EXCL, 0600, 0);
  ASSERT_NE(sem, SEM_FAILED);
  IPC_ASSERT_OK_AND_ASSIGN(IpcSnapshot during, IpcSnapshot::Take(options));
  EXPECT_TRUE(Has(during.objects, IpcObject::Kind::kPosixShm, shm_name));
  EXPECT_TRUE(Has(during.objects, IpcObject::Kind::kPosixSem, sem_name));
  EXPECT_TRUE(Has(PosixObjectsNamed(shm_name), IpcObject::Kind::kPosixShm, shm_name));
  EXPECT_TRUE(Has(PosixObjectsNamed(sem_name), IpcObject::Kind::kPosixSem, sem_name));
  ::close(fd);
  ::sem_close(sem);
  ASSERT_EQ(::shm_unlink(shm_name.c_str()), 0);
  ASSERT_EQ(::sem_unlink(sem_name.c_str()), 0);
  IPC_ASSERT_OK_AND_ASSIGN(IpcSnapshot after, IpcSnapshot::Take(options));
  EXPECT_FALSE(Has(after.objects, IpcObject::Kind::kPosixShm, shm_name));
  EXPECT_THAT(PosixObjectsNamed(shm_name), IsEmpty());
}

TEST(IpcSnapshotTest, ProbesMessageQueuesByNameWithoutAMount) {
  std::string name = UniqueName("snap-mq");
  mq_attr attr{};
  attr.mq_maxmsg = 2;
  attr.mq_msgsize = 16;
  mqd_t mq = ::mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  ASSERT_NE(mq, static_cast<mqd_t>(-1)) << ErrnoError("mq_open", name);
  EXPECT_TRUE(Has(PosixObjectsNamed(name), IpcObject::Kind::kPosixMq, name));
  ::mq_close(mq);
  ASSERT_EQ(::mq_unlink(name.c_str()), 0);
  EXPECT_THAT(PosixObjectsNamed(name), IsEmpty());
}

TEST(IpcSnapshotTest, ReadsSysvTablesFromAnotherRoot) {
  std::string root = ::testing::TempDir() + "/fake_sysvipc";
  ASSERT_EQ(::system(("mkdir -p " + root).c_str()), 0);
  FILE* shm = std::fopen((root + "/shm").c_str(), "w");
  std::fputs(
      "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid"
      "      atime      dtime      ctime                   rss                  swap\n"
      "      4660         7   600                  4176   321   322      0     0     0     0     0"
      "          0          0 1700000000                     0                     0\n",
      shm);
  std::fclose(shm);
  for (const char* table : {"/sem", "/msg"}) {
    FILE* f = std::fopen((root + table).c_str(), "w");
    std::fputs("header\n", f);
    std::fclose(f);
  }
  SnapshotOptions options;
  options.proc_sysvipc = root;
  options.dev_shm = root;  // holds only the three tables, none with our prefix
  options.posix_prefix = "no-such-prefix";
  IPC_ASSERT_OK_AND_ASSIGN(IpcSnapshot snapshot, IpcSnapshot::Take(options));
  ASSERT_EQ(snapshot.objects.size(), 1u);
  EXPECT_EQ(snapshot.objects[0].ToString(),
            "System V shared memory segment key 0x00001234 id 7 (4176 bytes, 0 attached, created "
            "by pid 321)");
}

TEST(IpcSnapshotTest, AMissingProcDirectoryIsAnError) {
  SnapshotOptions options;
  options.proc_sysvipc = "/nonexistent";
  EXPECT_THAT(IpcSnapshot::Take(options), testing::HasErrno(ENOENT));
}

}  // namespace
}  // namespace ipc
