// labs/sysv_shm/sysv_shm.h: the contract of the System V shared memory lab.
//
// Everything a student implements in sysv_shm.cc, documented like a library header: what each
// call does, which errno each failure carries (every failure is an ipc::ErrnoError naming the
// system call, so tests check the exact errno), and who owns what. Read the handout (README.md)
// first; it walks through these declarations in task order:
//
//   Task 1  keys          KeyFromPath                               (SV1, SV2, SV3)
//   Task 2  segments      Segment, Attachment, StatSegment,
//                         RemoveSegment, InspectSegment             (SV4-SV8, SV16)
//   Task 3  seed record   PublishSeed, TakeSeed                     (flag + int32 + float64)
//   Task 4  file transfer SendFile, ReceiveFile                     (blocks with a handshake)
//   Task 5  ring          SharedRing                                (SV9, SV10, SV11, SV17)
//   Task 6  mutex block   MutexBlock                                (SV12-SV15)
//
// Partner files: sysv_shm.cc (your implementation), sysv_shm_test.cc (public tests), the
// programs the tests exec (shm_tool.cc, xfr_writer.cc, xfr_reader.cc, ring_producer.cc,
// ring_consumer.cc) and broken.h (the "find the bug" code, which is not yours to fix).
//
// Run the public tests:  bazel test //labs/sysv_shm:sysv_shm_test
#ifndef IPC_LABS_LABS_SYSV_SHM_SYSV_SHM_H_
#define IPC_LABS_LABS_SYSV_SHM_SYSV_SHM_H_

#include <pthread.h>
#include <semaphore.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sysv_shm {

// ---------------------------------------------------------------------------------------------
// Task 1: keys
// ---------------------------------------------------------------------------------------------

// KeyFromPath()
//
// Derives a System V key from an existing file and a project id, as ftok(3) does: every process
// that passes the same (path, proj_id) gets the same key (SV1). Only the low 8 bits of `proj_id`
// are used, and they must not be 0.
//
// Errors: INVALID_ARGUMENT when proj_id's low 8 bits are 0; otherwise ftok's errno, e.g.
// ENOENT for a missing path (message: `ftok("/tmp/nope"): No such file or directory [ENOENT]`).
// Never returns the value -1 (key 0xffffffff): that is ftok's failure value, not a key (SV2).
absl::StatusOr<key_t> KeyFromPath(const std::string& path, int proj_id);

// ---------------------------------------------------------------------------------------------
// Task 2: segments
// ---------------------------------------------------------------------------------------------

// What shmctl(IPC_STAT) says about one segment.
struct SegmentInfo {
  int id = -1;             // shmid
  key_t key = 0;           // 0 (IPC_PRIVATE) for a private segment, and after IPC_RMID
  size_t size = 0;         // shm_segsz: the size given at creation, in bytes
  int nattch = 0;          // shm_nattch: attachments alive now, in all processes
  pid_t creator_pid = 0;   // shm_cpid
  pid_t last_pid = 0;      // shm_lpid: the last process to shmat or shmdt
  uid_t uid = 0;           // shm_perm.uid: the owner
  uid_t creator_uid = 0;   // shm_perm.cuid
  int mode = 0;            // shm_perm.mode & 0777: the permission bits only
  bool removed = false;    // SHM_DEST: IPC_RMID was called; it goes when nattch reaches 0
};

// StatSegment()
//
// Returns shmctl(id, IPC_STAT). Works on a segment marked for removal while it is still attached.
// Errors: EINVAL or EIDRM when no segment has this id (any more); EACCES without read permission.
absl::StatusOr<SegmentInfo> StatSegment(int id);

// RemoveSegment()
//
// shmctl(id, IPC_RMID): marks the segment for removal. Its key is released at once (a new shmget
// with that key makes a new segment); the memory lives on until the last attachment is gone, in
// every process (SV7). Errors: EINVAL or EIDRM for an unknown id; EPERM when the caller is
// neither the owner nor the creator (nor privileged).
absl::Status RemoveSegment(int id);

// InspectSegment()
//
// One line that says what `ipcs -m -i ID` says (SV16), as space-separated key=value pairs in
// this order:
//
//   shmid=5 key=0x00001234 bytes=1024 nattch=1 perms=0600 cpid=42 lpid=43 uid=0 cuid=0 dest=no
//
// `key` has 8 hex digits; `perms` is the permission bits in 4 octal digits (ipcs calls them
// access_perms); `dest` is yes after IPC_RMID. Errors: those of StatSegment().
absl::StatusOr<std::string> InspectSegment(int id);

// How to attach.
enum class Access {
  kReadWrite,  // shmat(id, nullptr, 0): needs read and write permission
  kReadOnly,   // shmat(id, nullptr, SHM_RDONLY): a store through the mapping raises SIGSEGV
};

// Attachment
//
// One shmat() mapping of a segment into this process, detached (shmdt) by the destructor. The
// kernel chooses the address. Move-only. Attachments are inherited across fork() (the child gets
// its own, and nattch counts it); they are dropped by exec and exit, which is why a killed
// process never leaves nattch too high.
class Attachment {
 public:
  // Attachment::Attach()
  //
  // Attaches segment `id`. The size is the segment's real size (IPC_STAT shm_segsz).
  // Errors (shmat's, checked against its failure value (void*)-1, not nullptr; SV6):
  // EINVAL or EIDRM for an id that does not exist (any more); EACCES when the segment's mode
  // does not grant `access` to the caller; ENOMEM.
  static absl::StatusOr<Attachment> Attach(int id, Access access);

  Attachment(Attachment&& other) noexcept;
  Attachment& operator=(Attachment&& other) noexcept;
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;
  ~Attachment();

  // Attachment::Detach()
  //
  // shmdt() now; afterwards data() is nullptr and the destructor does nothing. Detaching never
  // removes the segment (SV7). Errors: shmdt's (EINVAL). Detaching twice is OK (a no-op).
  absl::Status Detach();

  // The mapping (nullptr after Detach or a move), its size, and how it was attached.
  void* data() const { return data_; }
  size_t size() const { return size_; }
  int id() const { return id_; }
  bool read_only() const { return read_only_; }

 private:
  Attachment(void* data, size_t size, int id, bool read_only)
      : data_(data), size_(size), id_(id), read_only_(read_only) {}

  void* data_ = nullptr;
  size_t size_ = 0;
  int id_ = -1;
  bool read_only_ = false;
};

// Segment
//
// A System V shared memory segment, known by its id. A segment made by Create() is owned: the
// destructor (or Remove()) marks it for removal with IPC_RMID, so no path leaks it (SV8). A
// segment found by Open() is not owned: its destructor leaves it alone. Move-only.
//
// Thread-safety: a Segment is a handle; the memory it names is shared and needs its own
// synchronisation (Tasks 3-6).
class Segment {
 public:
  // Segment::Create()
  //
  // Creates a new segment of `size` bytes (zero-filled) with permission bits `mode`, using
  // shmget(key, size, IPC_CREAT | IPC_EXCL | mode): it never attaches to a segment somebody else
  // made under the same key (SV3, SV4). `key` may be IPC_PRIVATE (a new segment every time,
  // found only by its id). Errors: EEXIST when `key` is taken; EINVAL when size is 0 or above
  // kernel.shmmax; ENOSPC at kernel.shmmni segments or kernel.shmall pages.
  static absl::StatusOr<Segment> Create(key_t key, size_t size, int mode = 0600);

  // Segment::Open()
  //
  // Finds the existing segment under `key` with shmget(key, size, 0), without creating one.
  // Pass size 0 to accept any size (SV5): size() then reports the real size (IPC_STAT).
  // Errors: ENOENT when there is no segment under `key`; EINVAL when `size` is larger than the
  // segment (asking for 4096 bytes of a 1024-byte segment); EACCES without permission.
  static absl::StatusOr<Segment> Open(key_t key, size_t size = 0);

  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // Segment::~Segment()
  //
  // For an owned segment, marks it for removal (IPC_RMID), ignoring "already gone" (EINVAL,
  // EIDRM). Attachments made from it stay valid until they are detached.
  ~Segment();

  // Segment::Attach()
  //
  // Attachment::Attach(id(), access).
  absl::StatusOr<Attachment> Attach(Access access = Access::kReadWrite) const;

  // Segment::Stat()
  //
  // StatSegment(id()).
  absl::StatusOr<SegmentInfo> Stat() const;

  // Segment::Remove()
  //
  // Marks the segment for removal now (RemoveSegment(id())), owned or not; afterwards the
  // destructor does nothing. Errors: those of RemoveSegment().
  absl::Status Remove();

  // Segment::Persist()
  //
  // Gives up ownership: the destructor will leave the segment in the kernel, where it stays
  // until somebody removes it (ipcrm -m ID) or the machine reboots. For segments that must
  // outlive their creator; whoever calls this takes over the duty to remove it.
  void Persist() { owned_ = false; }

  int id() const { return id_; }
  key_t key() const { return key_; }
  size_t size() const { return size_; }
  bool owned() const { return owned_; }

 private:
  Segment(int id, key_t key, size_t size, bool owned)
      : id_(id), key_(key), size_(size), owned_(owned) {}

  int id_ = -1;
  key_t key_ = 0;
  size_t size_ = 0;
  bool owned_ = false;
};

// ---------------------------------------------------------------------------------------------
// Task 3: the seed record (a flag byte, an int32 and a float64 at fixed offsets)
// ---------------------------------------------------------------------------------------------

// The record's layout, in bytes from the start of the region. All numbers are little-endian on
// every machine (encode them explicitly; do not memcpy host order blindly). Bytes 1-3 are zero.
inline constexpr size_t kSeedFlagOffset = 0;     // uint8: 0 = empty, 1 = full
inline constexpr size_t kSeedInt32Offset = 4;    // int32, little-endian two's complement
inline constexpr size_t kSeedFloat64Offset = 8;  // float64, little-endian IEEE 754 binary64
inline constexpr size_t kSeedSize = 16;

// One record.
struct Seed {
  int32_t value = 0;
  double real = 0.0;
};

// PublishSeed()
//
// Waits until the flag byte at `region` says empty, writes `seed` into the record, then sets the
// flag to full with a release store, so a reader that sees "full" with an acquire load also sees
// both numbers, never half of an old and half of a new record. `region` must be at least
// kSeedSize bytes of shared memory. Waits by spinning briefly, then sleeping in short steps.
// Errors: INVALID_ARGUMENT for a null region or size < kSeedSize; DEADLINE_EXCEEDED when the
// flag stays full for `timeout` (nobody took the previous record).
absl::Status PublishSeed(void* region, size_t size, Seed seed, absl::Duration timeout);

// TakeSeed()
//
// Waits until the flag says full (acquire), reads the record, then sets the flag back to empty
// (release) so the writer may publish the next one. Errors: INVALID_ARGUMENT as PublishSeed;
// DEADLINE_EXCEEDED when nothing is published within `timeout`.
absl::StatusOr<Seed> TakeSeed(void* region, size_t size, absl::Duration timeout);

// ---------------------------------------------------------------------------------------------
// Task 4: file transfer in fixed-size blocks
// ---------------------------------------------------------------------------------------------

// Bytes of file data per block.
inline constexpr size_t kTransferBlockSize = 4096;

// The transfer segment. The writer creates it (IPC_EXCL), initialises the two semaphores, then
// sets `ready` (release); the reader waits for `ready` (acquire) before touching anything else.
// A block of `length` 0 marks the end of the file.
struct TransferLayout {
  std::atomic<uint32_t> ready;  // 0 until the writer has initialised the semaphores
  uint32_t reserved;            // zero
  sem_t block_ready;            // posted by the writer when a block is in `data`
  sem_t slot_free;              // posted by the reader when it has copied the block out
  uint64_t sequence;            // 0, 1, 2, ... one per block, the end block included
  uint32_t length;              // bytes of `data` in use; 0 = end of file
  uint32_t reserved2;           // zero
  char data[kTransferBlockSize];
};
static_assert(std::atomic<uint32_t>::is_always_lock_free,
              "the ready flag must be lock-free to work across processes");

// Options for both sides of a transfer.
struct TransferOptions {
  // How long to wait for the other side to show up (the reader for the segment to exist, the
  // writer for the reader to attach) and, after that, for each block or acknowledgement.
  absl::Duration timeout = absl::Seconds(5);
  // Sleep before each block is written (tests use it to slow the writer down).
  absl::Duration block_delay = absl::ZeroDuration();
};

// SendFile()
//
// The writer: creates the transfer segment under `key` (IPC_EXCL, mode 0600), reads `in_fd` to
// its end in blocks of up to kTransferBlockSize bytes (EINTR retried), and hands each block to the
// reader with a handshake (post block_ready, wait slot_free), so no block is lost or read twice.
// Ends with a block of length 0, waits for the reader to take it, and removes the segment.
// Returns when the reader has every byte. The segment is removed on every path.
// Errors: EEXIST when `key` is taken; read's errno; DEADLINE_EXCEEDED when the reader does not
// attach or stops taking blocks within options.timeout; ABORTED when the reader went away
// (detached or died) before the end.
absl::Status SendFile(key_t key, int in_fd, const TransferOptions& options = {});

// ReceiveFile()
//
// The reader: waits (up to options.timeout) for the segment under `key` to exist and be ready,
// attaches, and writes every block to `out_fd` in order (EINTR and short writes handled),
// checking that block sequence numbers are 0, 1, 2, ... The output is byte-identical to the
// writer's input. The reader marks the segment for removal as soon as it has attached, so that it
// disappears when both sides are gone, even if one is killed (SV7).
// Errors: DEADLINE_EXCEEDED when no segment appears or no block arrives within options.timeout;
// ABORTED when the writer went away mid-transfer (its attachment is gone: nattch fell to 1)
// or a sequence number is wrong; write's errno.
absl::Status ReceiveFile(key_t key, int out_fd, const TransferOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Task 5: a ring of int32 with two semaphores, in one segment
// ---------------------------------------------------------------------------------------------

inline constexpr int kRingCapacity = 1024;

// The ring segment (the shape of 001 §1.2, made safe). `head` has one writer (the producer) and
// `tail` one (the consumer); `count` is written by both and therefore atomic (SV11).
struct RingLayout {
  std::atomic<uint32_t> ready;  // set (release) by the process that created and initialised it
  uint32_t reserved;            // zero
  sem_t empty;                  // free slots: starts at kRingCapacity
  sem_t full;                   // filled slots: starts at 0
  int32_t items[kRingCapacity];
  int32_t head;                 // next slot to fill; producer only
  int32_t tail;                 // next slot to take; consumer only
  std::atomic<int32_t> count;   // items in the ring; both sides (fetch_add / fetch_sub)
};
static_assert(std::atomic<int32_t>::is_always_lock_free);

// SharedRing
//
// A bounded single-producer, single-consumer queue of int32 in a System V segment under one key,
// used by separately started processes. Whoever comes first creates and initialises it; every
// later process (a restarted producer, a consumer started first) joins without touching the
// semaphores or indexes (SV9, SV10). Move-only.
//
// Lifetime: the ring outlives the processes that use it (a producer may exit and be restarted).
// The destructor only detaches; Remove() marks the segment for removal (the consumer calls it
// when it has everything).
class SharedRing {
 public:
  // SharedRing::OpenOrCreate()
  //
  // Creates the ring under `key` with IPC_CREAT | IPC_EXCL | 0600 and initialises it (empty =
  // kRingCapacity, full = 0, head = tail = count = 0, then ready = 1 with a release store), or,
  // when the key is taken (EEXIST), opens the existing one and waits (up to `timeout`) for its
  // ready flag: a second process never initialises again. Errors: DEADLINE_EXCEEDED when the
  // ready flag does not appear; EINVAL when the existing segment is smaller than RingLayout;
  // shmget's, shmat's and sem_init's errno.
  static absl::StatusOr<SharedRing> OpenOrCreate(key_t key, absl::Duration timeout);

  SharedRing(SharedRing&& other) noexcept;
  SharedRing& operator=(SharedRing&& other) noexcept;
  SharedRing(const SharedRing&) = delete;
  SharedRing& operator=(const SharedRing&) = delete;
  ~SharedRing();

  // SharedRing::Push()
  //
  // Waits up to `timeout` for a free slot, stores `value`, and publishes it. Call from one
  // producer process at a time. Errors: DEADLINE_EXCEEDED when the ring stays full.
  absl::Status Push(int32_t value, absl::Duration timeout);

  // SharedRing::Pop()
  //
  // Waits up to `timeout` for an item and takes the oldest. Call from one consumer process at a
  // time. Errors: DEADLINE_EXCEEDED when the ring stays empty.
  absl::StatusOr<int32_t> Pop(absl::Duration timeout);

  // SharedRing::Count()
  //
  // Items in the ring now (the shared `count`).
  int32_t Count() const;

  // SharedRing::Remove()
  //
  // Marks the segment for removal (IPC_RMID). Processes still attached keep working; the key is
  // free at once. Errors: those of RemoveSegment().
  absl::Status Remove();

  int id() const { return id_; }
  RingLayout* layout() const { return ring_; }

 private:
  SharedRing(int id, RingLayout* ring) : id_(id), ring_(ring) {}

  int id_ = -1;
  RingLayout* ring_ = nullptr;  // our attachment; shmdt in the destructor
};

// ---------------------------------------------------------------------------------------------
// Task 6: a process-shared mutex, condition variable, counter and mailbox in one segment
// ---------------------------------------------------------------------------------------------

inline constexpr size_t kMaxMessage = 256;

// The mutex block segment. `mutex` and `changed` are PTHREAD_PROCESS_SHARED and initialised once,
// by the creator, before `ready` is set.
struct MutexBlockLayout {
  std::atomic<uint32_t> ready;  // set (release) after the mutex and condvar are initialised
  uint32_t reserved;            // zero
  pthread_mutex_t mutex;        // guards everything below
  pthread_cond_t changed;       // signalled when `full` changes
  int64_t counter;              // AddLocked()
  uint32_t full;                // 1 while `message` holds a message nobody has received yet
  uint32_t length;              // bytes of `message` in use
  char message[kMaxMessage];
};

// MutexBlock
//
// A segment shared by separately started processes: a counter under a process-shared mutex
// (SV13) and a one-slot mailbox with a hand-off (SV14): Send() waits until the previous message
// was received, so a slow receiver never misses one. Move-only; the destructor only detaches.
class MutexBlock {
 public:
  // MutexBlock::OpenOrCreate()
  //
  // As SharedRing::OpenOrCreate(): the IPC_EXCL winner initialises the mutex and condvar with
  // pthread_mutexattr_setpshared / pthread_condattr_setpshared(PTHREAD_PROCESS_SHARED), then sets
  // ready; everyone else waits for ready and never initialises again, so a lock held by another
  // process stays held (SV15). Errors: as SharedRing::OpenOrCreate(); pthread_*'s return values
  // as errno.
  static absl::StatusOr<MutexBlock> OpenOrCreate(key_t key, absl::Duration timeout);

  MutexBlock(MutexBlock&& other) noexcept;
  MutexBlock& operator=(MutexBlock&& other) noexcept;
  MutexBlock(const MutexBlock&) = delete;
  MutexBlock& operator=(const MutexBlock&) = delete;
  ~MutexBlock();

  // MutexBlock::Lock() / Unlock() / TryLock()
  //
  // The shared mutex. TryLock() returns false when another process holds it (EBUSY).
  absl::Status Lock();
  absl::Status Unlock();
  absl::StatusOr<bool> TryLock();

  // MutexBlock::AddLocked()
  //
  // Adds 1 to the counter `times` times, taking and releasing the mutex around each increment
  // (not once around the loop: the point is to contend). Errors: pthread_mutex_lock's.
  absl::Status AddLocked(int64_t times);

  // MutexBlock::Value()
  //
  // The counter, read under the mutex.
  absl::StatusOr<int64_t> Value();

  // MutexBlock::Send()
  //
  // Waits (up to `timeout`) until the mailbox is empty, puts `message` in it and signals.
  // Errors: INVALID_ARGUMENT for a message longer than kMaxMessage; DEADLINE_EXCEEDED.
  absl::Status Send(absl::string_view message, absl::Duration timeout);

  // MutexBlock::Receive()
  //
  // Waits (up to `timeout`) until the mailbox is full, takes the message, empties the mailbox
  // and signals. Errors: DEADLINE_EXCEEDED.
  absl::StatusOr<std::string> Receive(absl::Duration timeout);

  // MutexBlock::Remove()
  //
  // Marks the segment for removal (IPC_RMID). Errors: those of RemoveSegment().
  absl::Status Remove();

  int id() const { return id_; }
  MutexBlockLayout* layout() const { return block_; }

 private:
  MutexBlock(int id, MutexBlockLayout* block) : id_(id), block_(block) {}

  int id_ = -1;
  MutexBlockLayout* block_ = nullptr;  // our attachment; shmdt in the destructor
};

}  // namespace sysv_shm

#endif  // IPC_LABS_LABS_SYSV_SHM_SYSV_SHM_H_
