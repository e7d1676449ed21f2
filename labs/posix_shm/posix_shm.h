// labs/posix_shm/posix_shm.h: the contract of the POSIX shared memory lab.
//
// Five pieces, each built on the one before (the handout, README.md, takes them in this order):
//
//   SharedRegion      a named object in /dev/shm, or an anonymous memfd, mapped MAP_SHARED:
//                     shm_open / memfd_create, ftruncate, fstat, mmap, munmap, shm_unlink.
//   SharedObject<T>   a typed object in a SharedRegion behind a checked header (magic, layout
//                     version, payload size), so a reader built with another layout gets an error.
//   Mailbox           a 16-byte, fixed little-endian layout (flag, i32, f64) with a flag
//                     handshake between a writer and a reader process; waiting is a futex wait
//                     with a deadline, never a sleep loop.
//   SendFd/ReceiveFd  hand a descriptor (a memfd) to another process over a Unix socket.
//
// You implement posix_shm.cc; this header, the tests and the programs shm_writer.cc and
// shm_reader.cc are fixed. Every failing call reaches the caller as an absl::Status made by
// ipc::ErrnoError (common/status.h), so `shm_open("/x"): Permission denied [EACCES]` names the call,
// the object and the errno. Run the tests with `./labctl test posix_shm`.
#ifndef IPC_LABS_LABS_POSIX_SHM_POSIX_SHM_H_
#define IPC_LABS_LABS_POSIX_SHM_POSIX_SHM_H_

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/fd.h"
#include "common/status.h"

namespace posix_shm {

// ScopedFd
//
// Owns one file descriptor and closes it when destroyed; move-only. The course's one descriptor
// owner, ipc::UniqueFd (common/fd.h): get(), valid(), Release(), Reset(), Close(). A
// default-constructed or moved-from ScopedFd holds -1 and closes nothing. (Plumbing, not a lesson.)
using ScopedFd = ::ipc::UniqueFd;

// How a region is mapped: PROT_READ, or PROT_READ | PROT_WRITE. A read-only mapping is opened
// O_RDONLY and a write through it is killed by SIGSEGV (PS3).
enum class Access { kReadOnly, kReadWrite };

// Options for SharedRegion::Create.
struct CreateOptions {
  // true: O_CREAT | O_EXCL, so an existing object (another program's, or a stale one left by a
  // crashed run) is an ALREADY_EXISTS error instead of being silently reused.
  // false: open the object if it exists, create it otherwise (see Create for the size rule).
  bool exclusive = true;
  // The object's permission bits, applied exactly (shm_open applies the umask; Create corrects
  // that with fchmod). 0600: only the creating user may open it (PS1).
  mode_t mode = 0600;
};

// SharedRegion
//
// A shared memory object mapped MAP_SHARED into this process, with its descriptor. Two kinds:
//   - named: an object in /dev/shm made by shm_open (Create, Open). It outlives every process
//     until someone calls Unlink; unmapping is not removing (PS4).
//   - anonymous: a memfd (CreateAnonymous) or any descriptor you were given (FromFd). It has no
//     name; it disappears when the last descriptor and mapping are gone.
//
// Ownership: the region owns its mapping and its descriptor; the destructor unmaps and closes.
// It never unlinks: removing the name is an explicit call (Unlink), because the object usually
// has to outlive its creator (the writer leaves it, the reader removes it). Move-only; a
// moved-from region is empty: data() == nullptr, size() == 0, name() == "", fd() == -1.
// Not thread-safe; share a region between processes, not threads.
class SharedRegion {
 public:
  // SharedRegion::Create()
  //
  // Creates the named object `name` of `size` bytes (shm_open with O_CREAT | O_RDWR, O_EXCL
  // unless !options.exclusive; fchmod to options.mode; ftruncate to `size` BEFORE mmap, since
  // touching a page beyond the end of the object raises SIGBUS (PS2)) and maps it read/write.
  // The new object reads as zeros.
  //
  // Non-exclusive create opens an existing object instead; it is used as it is when its size is
  // `size`, sized by this call when it is 0 (a peer created it an instant ago and has not yet
  // called ftruncate), and refused otherwise. It never resizes or removes an object it did not
  // create.
  //
  // Errors (nothing is left behind on any of them: an object this call created is unlinked):
  //   INVALID_ARGUMENT   a bad name (ipc::ValidatePosixName: no leading '/', another '/', longer
  //                      than NAME_MAX), size 0, or a size that does not fit in off_t;
  //   ALREADY_EXISTS     EEXIST: options.exclusive and the name exists (possibly a stale object
  //                      from a crashed run: remove it with Unlink(name));
  //   FAILED_PRECONDITION  !options.exclusive and the existing object has another non-zero size;
  //   PERMISSION_DENIED  EACCES from shm_open (an existing object you may not open read/write);
  //   other errno codes from shm_open, fchmod, ftruncate, fstat or mmap, named in the message.
  static absl::StatusOr<SharedRegion> Create(const std::string& name, size_t size,
                                             const CreateOptions& options = {});

  // SharedRegion::Open()
  //
  // Opens the existing named object `name` (O_RDONLY for kReadOnly, O_RDWR for kReadWrite),
  // reads its size with fstat (never trusts a size compiled into the caller: PS6) and maps all of
  // it with the matching protection. If `expected_size` is not 0, the object must have exactly
  // that size.
  //
  // Errors:
  //   INVALID_ARGUMENT   a bad name;
  //   NOT_FOUND          ENOENT: no such object (never created, or already unlinked: PS4);
  //   PERMISSION_DENIED  EACCES: its mode does not let you open it with `access`;
  //   FAILED_PRECONDITION  its size is 0 (the creator has not called ftruncate yet: PS2), or it
  //                      is not `expected_size` (the message gives both sizes: PS6);
  //   other errno codes from shm_open, fstat or mmap.
  static absl::StatusOr<SharedRegion> Open(const std::string& name,
                                           Access access = Access::kReadWrite,
                                           size_t expected_size = 0);

  // SharedRegion::CreateAnonymous()
  //
  // Creates an anonymous object of `size` bytes with memfd_create (close-on-exec; `debug_name`
  // shows in /proc/PID/fd as "memfd:debug_name" and need not be unique), sizes it with ftruncate
  // and maps it read/write (PS10). Hand fd() to another process (inherited across fork, or with
  // SendFd) for it to map the same memory.
  //
  // Errors: INVALID_ARGUMENT for size 0 or a size that does not fit in off_t; errno codes from
  // memfd_create, ftruncate or mmap.
  static absl::StatusOr<SharedRegion> CreateAnonymous(const std::string& debug_name, size_t size);

  // SharedRegion::FromFd()
  //
  // Maps the object behind `fd` (a memfd, an shm_open descriptor, a received descriptor). Takes
  // ownership of `fd`, and closes it on failure too. The size comes from fstat (PS11). The
  // region has no name.
  //
  // Errors:
  //   INVALID_ARGUMENT   `fd` holds no descriptor;
  //   FAILED_PRECONDITION  the object's size is 0, or not `expected_size` when that is not 0;
  //   PERMISSION_DENIED  EACCES from mmap: kReadWrite asked of a descriptor opened O_RDONLY (PS3);
  //   other errno codes from fstat or mmap.
  static absl::StatusOr<SharedRegion> FromFd(ScopedFd fd, Access access, size_t expected_size = 0);

  // SharedRegion::Unlink()
  //
  // Removes the name `name` from /dev/shm (shm_unlink). Processes that have it mapped keep their
  // mappings, and the memory lives until the last one is gone; a later Open gets NOT_FOUND (PS4).
  //
  // Errors: INVALID_ARGUMENT for a bad name; NOT_FOUND (ENOENT) if there is no such object;
  // PERMISSION_DENIED (EACCES) from shm_unlink.
  static absl::Status Unlink(const std::string& name);

  // SharedRegion::Unlink()
  //
  // Unlink(name()) for this region, which stays mapped and usable.
  //
  // Errors: FAILED_PRECONDITION for an empty (moved-from) or anonymous region; otherwise as
  // Unlink(name).
  absl::Status Unlink() const;

  // An empty region (maps nothing). Assign the result of Create/Open to it.
  SharedRegion() = default;
  SharedRegion(SharedRegion&& other) noexcept;
  SharedRegion& operator=(SharedRegion&& other) noexcept;
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  // Unmaps and closes (Reset); never unlinks.
  ~SharedRegion();

  // SharedRegion::data()
  //
  // The first byte of the mapping; nullptr for an empty region. Valid until this region is
  // destroyed, reset or moved from. Writing through it when access() is kReadOnly raises SIGSEGV.
  std::byte* data() const { return data_; }

  // SharedRegion::size()
  //
  // The mapped length in bytes (the object's size); 0 for an empty region.
  size_t size() const { return size_; }

  // SharedRegion::name()
  //
  // The object's name ("/..."), or "" for an anonymous or empty region.
  const std::string& name() const { return name_; }

  // SharedRegion::fd()
  //
  // The descriptor of the object, owned by this region (do not close it); -1 when empty.
  int fd() const { return fd_.get(); }

  // SharedRegion::access()
  //
  // How the region is mapped.
  Access access() const { return access_; }

  // SharedRegion::valid()
  //
  // True if something is mapped.
  bool valid() const { return data_ != nullptr; }

  // SharedRegion::Reset()
  //
  // Unmaps and closes the descriptor now, leaving the region empty. Does not unlink.
  void Reset();

 private:
  SharedRegion(std::byte* data, size_t size, std::string name, ScopedFd fd, Access access)
      : data_(data), size_(size), name_(std::move(name)), fd_(std::move(fd)), access_(access) {}

  std::byte* data_ = nullptr;  // start of the MAP_SHARED mapping, or nullptr
  size_t size_ = 0;            // length of the mapping
  std::string name_;           // "/name" for shm_open objects, "" otherwise
  ScopedFd fd_;                // the object's descriptor
  Access access_ = Access::kReadOnly;
};

// ---------------------------------------------------------------------------------------------
// A typed object behind a header.
//
// The object's first kObjectPayloadOffset bytes hold an ObjectHeader; the payload (a T) starts
// at kObjectPayloadOffset. Every field has a fixed width and offset, and the byte order is the
// machine's, which this header requires to be little-endian (PS15).

// "IPCO" read as a little-endian uint32.
inline constexpr uint32_t kObjectMagic = 0x4f435049;

// Where the payload starts: one cache line, enough for any payload alignment we allow.
inline constexpr size_t kObjectPayloadOffset = 64;

// ObjectHeader
//
// The header at offset 0 of every SharedObject. The creator fills in layout_version and
// payload_size, copies the initial payload, and only then stores `magic` with release order; an
// opener loads `magic` with acquire order, so a magic that reads kObjectMagic guarantees the
// rest is complete. A magic of 0 means "still being created".
struct ObjectHeader {
  std::atomic<uint32_t> magic;  // kObjectMagic when complete; pairs release (create) / acquire (open)
  uint32_t layout_version;      // the payload type's kLayoutVersion
  uint64_t payload_size;        // sizeof the payload type
};
static_assert(std::endian::native == std::endian::little,
              "the shared layouts of this lab are little-endian; a big-endian port must convert");
static_assert(std::is_standard_layout_v<ObjectHeader>);
static_assert(offsetof(ObjectHeader, magic) == 0);
static_assert(offsetof(ObjectHeader, layout_version) == 4);
static_assert(offsetof(ObjectHeader, payload_size) == 8);
static_assert(sizeof(ObjectHeader) == 16 && sizeof(ObjectHeader) <= kObjectPayloadOffset);
static_assert(std::atomic<uint32_t>::is_always_lock_free,
              "a lock-based atomic would put a process-local lock inside shared memory");
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

// What an opener expects of an object: the payload type's version, size and alignment.
struct ObjectLayout {
  uint32_t version = 0;
  uint64_t payload_size = 0;
  uint64_t payload_align = 1;
};

// CreateObjectRegion()
//
// Creates the named object for a payload described by `layout`: SharedRegion::Create(name,
// kObjectPayloadOffset + layout.payload_size, options), then writes the header and copies
// `initial_payload` (layout.payload_size bytes; nullptr leaves zeros), and publishes the magic
// last (release). Errors: INVALID_ARGUMENT if layout.payload_size is 0 or layout.payload_align
// exceeds kObjectPayloadOffset; ALREADY_EXISTS for a non-exclusive create of an object that is
// already complete (use OpenObjectRegion); otherwise as SharedRegion::Create. Nothing is left
// behind on failure.
absl::StatusOr<SharedRegion> CreateObjectRegion(const std::string& name, const ObjectLayout& layout,
                                                const void* initial_payload,
                                                const CreateOptions& options = {});

// OpenObjectRegion()
//
// Opens the named object with SharedRegion::Open(name, access) and checks its header against
// `layout` before anything reads the payload.
// Errors: as SharedRegion::Open, and FAILED_PRECONDITION with a message that says which check
// failed: the object is smaller than the header plus the payload; the magic is not kObjectMagic
// ("not a SharedObject, or not finished being created"); the layout version differs ("created
// with layout version 1, this reader expects 2"); or the payload size differs.
absl::StatusOr<SharedRegion> OpenObjectRegion(const std::string& name, const ObjectLayout& layout,
                                              Access access = Access::kReadWrite);

// SharedObject<T>
//
// A T living in a named shared memory object behind an ObjectHeader. T must be trivially
// copyable (it is copied as bytes and read by another process; no pointers, no virtuals, no
// std::string) and declare `static constexpr uint32_t kLayoutVersion`, which you bump whenever
// T's layout changes:
//
//   struct Point { static constexpr uint32_t kLayoutVersion = 1; int32_t x, y; };
//   IPC_ASSIGN_OR_RETURN(auto point, posix_shm::SharedObject<Point>::Create("/points", {1, 2}));
//   point->x = 3;
//
// Ownership and lifetime as SharedRegion (move-only, unmaps on destruction, never unlinks).
// Access to the payload from several processes needs your own synchronisation.
template <typename T>
class SharedObject {
  static_assert(std::is_trivially_copyable_v<T>,
                "a shared object is copied as bytes between processes: it must be trivially "
                "copyable (no pointers to process memory, no virtual functions, no std::string)");
  static_assert(std::is_same_v<std::remove_cv_t<decltype(T::kLayoutVersion)>, uint32_t>,
                "declare `static constexpr uint32_t kLayoutVersion` in the payload type");
  static_assert(alignof(T) <= kObjectPayloadOffset);

 public:
  // The layout an opener checks.
  static constexpr ObjectLayout Layout() { return {T::kLayoutVersion, sizeof(T), alignof(T)}; }

  // SharedObject::Create()
  //
  // Creates `name` holding a copy of `initial`. Errors: as CreateObjectRegion.
  static absl::StatusOr<SharedObject> Create(const std::string& name, const T& initial = T{},
                                             const CreateOptions& options = {}) {
    IPC_ASSIGN_OR_RETURN(SharedRegion region, CreateObjectRegion(name, Layout(), &initial, options));
    return SharedObject(std::move(region));
  }

  // SharedObject::Open()
  //
  // Opens `name` and checks its header against T. Errors: as OpenObjectRegion.
  static absl::StatusOr<SharedObject> Open(const std::string& name,
                                           Access access = Access::kReadWrite) {
    IPC_ASSIGN_OR_RETURN(SharedRegion region, OpenObjectRegion(name, Layout(), access));
    return SharedObject(std::move(region));
  }

  // SharedObject::get()
  //
  // The payload in shared memory; nullptr for an empty (moved-from) object.
  T* get() const {
    if (!region_.valid()) return nullptr;
    return std::launder(reinterpret_cast<T*>(region_.data() + kObjectPayloadOffset));
  }
  T* operator->() const { return get(); }
  T& operator*() const { return *get(); }

  // SharedObject::region()
  //
  // The underlying region (header included).
  const SharedRegion& region() const { return region_; }

  // SharedObject::Unlink()
  //
  // Removes the name; see SharedRegion::Unlink().
  absl::Status Unlink() const { return region_.Unlink(); }

  SharedObject() = default;

 private:
  explicit SharedObject(SharedRegion region) : region_(std::move(region)) {}
  SharedRegion region_;
};

// ---------------------------------------------------------------------------------------------
// The mailbox: one message slot and a flag handshake between a writer and a reader process.
//
// Both programs (shm_writer.cc, shm_reader.cc) use this one layout definition (PS13): the flag
// word, then an int32, then a float64, 16 bytes in all, every field at a multiple of its
// alignment (PS14), little-endian (PS15), as in the notes' "i32 + f64 + spare" file (PS12).
//
//   offset  0        4        8                16
//           +--------+--------+----------------+
//           | state  |  i32   |      f64       |
//           +--------+--------+----------------+
//
// The state word holds kFullBit (a message is in the slot) and kSleepersBit (a process sleeps
// in FUTEX_WAIT on this word and must be woken when it changes).

// MailboxLayout
//
// The 16 bytes of the mailbox object. The writer writes i32 and f64, then sets kFullBit with a
// release store; the reader loads state with acquire order, reads i32 and f64, then clears
// kFullBit (release) through the same read/write mapping (PS16), which frees the slot.
struct MailboxLayout {
  std::atomic<uint32_t> state;  // kFullBit | kSleepersBit; the futex word. Guards i32 and f64.
  int32_t i32;                  // written only while !kFullBit (by the writer)
  double f64;                   // written only while !kFullBit (by the writer)
};
inline constexpr uint32_t kFullBit = 1;      // the slot holds an unread message
inline constexpr uint32_t kSleepersBit = 2;  // someone may sleep in FUTEX_WAIT on `state`
inline constexpr size_t kMailboxSize = 16;

static_assert(std::is_standard_layout_v<MailboxLayout>);
static_assert(sizeof(MailboxLayout) == kMailboxSize);
static_assert(offsetof(MailboxLayout, state) == 0);
static_assert(offsetof(MailboxLayout, i32) == 4);
static_assert(offsetof(MailboxLayout, f64) == 8);
static_assert(offsetof(MailboxLayout, state) % alignof(std::atomic<uint32_t>) == 0);
static_assert(offsetof(MailboxLayout, i32) % alignof(int32_t) == 0);
static_assert(offsetof(MailboxLayout, f64) % alignof(double) == 0);
static_assert(alignof(MailboxLayout) == 8);
static_assert(std::numeric_limits<double>::is_iec559 && sizeof(double) == 8,
              "f64 is an IEEE 754 binary64");

// One message.
struct Message {
  int32_t i32 = 0;
  double f64 = 0;
};

// Mailbox
//
// A one-slot mailbox in the named object `name`, shared by one writer and one reader process.
// Either may start first (PS5): both Attach, which creates the object or opens the one the peer
// created. Waiting spins briefly, then sleeps in the kernel (FUTEX_WAIT on the state word) until
// the peer changes it or the deadline passes; it never polls with sleep().
//
// Ownership: as SharedRegion (move-only; unmaps, never unlinks). By convention the reader
// unlinks after reading and the writer leaves the object for it (PS4); call Unlink() to remove it
// on any other path.
class Mailbox {
 public:
  // Mailbox::Attach()
  //
  // Opens the mailbox `name` read/write, creating it (mode 0600, 16 zero bytes: empty) if it does
  // not exist. Errors: INVALID_ARGUMENT for a bad name; FAILED_PRECONDITION if an object of
  // another size has the name (a stale or foreign object: it is left untouched; remove it with
  // SharedRegion::Unlink); errno codes as SharedRegion::Create.
  static absl::StatusOr<Mailbox> Attach(const std::string& name);

  // Mailbox::Send()
  //
  // Waits until the slot is empty, writes `message` into it and publishes it (kFullBit, release),
  // waking a sleeping reader. absl::ZeroDuration() makes it a try: it never waits.
  // Errors: DEADLINE_EXCEEDED if the slot stayed full for `timeout` (the reader is dead or slow);
  // FAILED_PRECONDITION for an empty (moved-from) mailbox; errno codes from futex.
  absl::Status Send(const Message& message, absl::Duration timeout);

  // Mailbox::Receive()
  //
  // Waits until the slot is full (acquire), copies the message out, and empties the slot
  // (clears kFullBit, release), waking a sleeping writer. absl::ZeroDuration() makes it a try.
  // Errors: DEADLINE_EXCEEDED if no message came within `timeout` (is the writer running?);
  // FAILED_PRECONDITION for an empty mailbox; errno codes from futex.
  absl::StatusOr<Message> Receive(absl::Duration timeout);

  // Mailbox::Unlink()
  //
  // Removes the name; this mailbox stays usable. Errors: as SharedRegion::Unlink().
  absl::Status Unlink() const { return region_.Unlink(); }

  // Mailbox::layout()
  //
  // The shared bytes, for inspection (tests, debuggers); nullptr when empty.
  MailboxLayout* layout() const { return layout_; }

  // Mailbox::region()
  //
  // The underlying region.
  const SharedRegion& region() const { return region_; }

  Mailbox() = default;
  Mailbox(Mailbox&& other) noexcept
      : region_(std::move(other.region_)), layout_(std::exchange(other.layout_, nullptr)) {}
  Mailbox& operator=(Mailbox&& other) noexcept {
    region_ = std::move(other.region_);
    layout_ = std::exchange(other.layout_, nullptr);
    return *this;
  }

 private:
  explicit Mailbox(SharedRegion region)
      : region_(std::move(region)),
        layout_(region_.valid() ? reinterpret_cast<MailboxLayout*>(region_.data()) : nullptr) {}

  SharedRegion region_;
  MailboxLayout* layout_ = nullptr;  // points into region_
};

// ---------------------------------------------------------------------------------------------
// Handing a descriptor to another process (PS10, PS11).

// SendFd()
//
// Sends a copy of descriptor `fd` over the connected Unix socket `socket_fd` (sendmsg with an
// SCM_RIGHTS control message and one byte of data). The receiver gets its own descriptor for the
// same open file; `fd` stays open here. Errors: errno codes from sendmsg (EPIPE if the peer is
// gone; SIGPIPE is not raised: MSG_NOSIGNAL).
absl::Status SendFd(int socket_fd, int fd);

// ReceiveFd()
//
// Blocks until a descriptor sent with SendFd arrives on `socket_fd` and returns it (close-on-exec,
// owned by the caller). Errors: UNAVAILABLE if the peer closed the socket without sending one;
// DATA_LOSS if a message came without exactly one descriptor (or was truncated); errno codes from
// recvmsg.
absl::StatusOr<ScopedFd> ReceiveFd(int socket_fd);

}  // namespace posix_shm

#endif  // IPC_LABS_LABS_POSIX_SHM_POSIX_SHM_H_
