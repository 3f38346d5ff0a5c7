// Every OS-specific call of the native code, behind one small interface.
// Implementations (picked in binding.gyp, variable agfx_platform; never
// #ifdefs through the code; everything else in native/ calls only POSIX and
// these):
//   linux     platform_linux.cc: eventfds, accept4/SOCK_CLOEXEC/
//             MSG_CMSG_CLOEXEC, process_vm_readv/writev copies. The default
//             on Linux.
//   darwin    platform_posix.cc + platform_darwin.cc: what macOS runs. POSIX
//             sockets and fds made non-blocking/close-on-exec with fcntl,
//             pipes as interrupt fds, POSIX shm accepted for DMA_MAP, and
//             copies through the Mach VM calls (vm_read_overwrite/vm_write on
//             mach_task_self()).
//   portable  platform_posix.cc + platform_guarded_copy.cc: the same POSIX
//             file as darwin, with a memcpy guarded against SIGSEGV/SIGBUS
//             for the copies. Built on Linux (scripts/portable-test.sh) so
//             that everything of the darwin build but the Mach copies runs
//             under the integration suite here.
//
// Errors: functions returning int give 0 or a positive errno unless said
// otherwise. None of them blocks on a peer: the daemon never waits for what a
// peer controls, on the JS thread or under a lock (docs/design.md, "Threads
// and locks").
#pragma once
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace agfx::platform {

// ---- sockets and fds
// A unix stream socket, close-on-exec, non-blocking when asked; or -errno.
int UnixStreamSocket(bool nonblock);
// The next connection on a listening socket, non-blocking and
// close-on-exec; or -errno (EINTR included: the caller retries).
int Accept(int listen_fd);
// recvmsg without blocking; every fd received (SCM_RIGHTS) is close-on-exec
// from the moment it exists in this process.
ssize_t RecvMsg(int fd, msghdr* msg);
// sendmsg without blocking and without SIGPIPE when the peer is gone.
ssize_t SendMsg(int fd, const msghdr* msg);
// A close-on-exec duplicate of fd, or -errno.
int DupCloexec(int fd);
int SetNonBlocking(int fd);
int SetCloexec(int fd);
// 0 when fd is a regular file or shared-memory object holding at least
// `need` bytes (mmap of it cannot fault past the end); EBADF, or EINVAL for
// any other fd.
int CheckMappableFile(int fd, uint64_t need);
// CheckMappableFile's decision from an fstat result (unit tests inject
// XNU's). Shared memory as each kernel reports it: a memfd or /dev/shm file
// is S_IFREG on Linux, but XNU's pshm_stat (bsd/kern/posix_shm.c) fills
// st_mode with the permission bits only, no file type, and QEMU's
// memory-backend-shm (POSIX shm) is the only shared guest RAM it has on
// macOS. So: S_IFREG, or no type bits at all; and in both cases the size
// check, which is what keeps a mapping from faulting (a Linux anon inode,
// e.g. an eventfd, also has no type bits, and size 0).
int MappableFromStat(uint32_t st_mode, int64_t st_size, uint64_t need);

// ---- interrupts: the fds a VMM hands over to be written (SET_IRQS)
enum class NotifierKind { kEventFd, kPipe };
// What kind of interrupt fd this is: an eventfd (8-byte counter writes) or a
// pipe/FIFO (one byte per interrupt). EBADF, or EINVAL for anything else
// (writing into it would corrupt it) and for a pipe's read end (QEMU's
// EventNotifier off Linux is a pipe, and event_notifier_get_fd() returns its
// read end: the client must send the write end). darwin/portable: pipes and
// FIFOs only (no eventfd exists on macOS).
int ClassifyNotifier(int fd, NotifierKind* kind);
// Signals once, never blocking: true when written, or when the fd is full
// (the interrupt is already pending: the peer has not consumed the last one).
// The fd must be non-blocking (SetNonBlocking) for that to hold.
bool Notify(int fd, NotifierKind kind);

// ---- the VMM's side, for tools and tests
// An interrupt fd as this platform's VMM makes one, as a single fd that is
// both written (by the daemon, after SET_IRQS) and read (by the tool):
// linux: a non-blocking, close-on-exec eventfd; darwin/portable: an unlinked
// FIFO opened read-write (what ClassifyNotifier calls a pipe). -errno on
// failure.
int CreateEventFd();
// Reads and resets the counter (for a FIFO: the bytes waiting, one per
// signal): 0 or a positive errno (EAGAIN: nothing signalled, *value = 0).
int ReadEventFd(int fd, uint64_t* value);
// Signals `value` times (eventfd: adds value; FIFO: value bytes, at most
// what the pipe holds).
int WriteEventFd(int fd, uint64_t value);
// Anonymous shared memory of `size` bytes as a close-on-exec fd, as a VMM
// backs guest RAM (a memfd on Linux, an unlinked POSIX shm object where
// there is no memfd: QEMU's memory-backend-shm); or -errno.
int CreateSharedMemory(const char* name, uint64_t size);

// ---- a thread that owns a socket (the data plane)
// recvmsg that waits for data when the socket is in blocking mode (fds
// close-on-exec as with RecvMsg); EINTR is returned, not retried.
ssize_t RecvMsgWait(int fd, msghdr* msg);
int SetBlocking(int fd);
// Wakes a thread blocked reading `fd` (it reads end of stream); the socket
// stays open. 0 or a positive errno.
int ShutdownRead(int fd);

// ---- threads that poll (the data plane)
// A wake-up channel for a thread that waits in poll(): an eventfd on Linux
// (one fd for both ends), a pipe elsewhere; non-blocking, close-on-exec.
// 0 or a positive errno.
int CreateWakeup(int* read_fd, int* write_fd);
// Wakes the poller; never blocks (a wake-up still pending absorbs this one).
void Wake(int write_fd);
// Consumes every pending wake-up.
void DrainWakeup(int read_fd);
void CloseWakeup(int read_fd, int write_fd);
// Names the calling thread (ps, gdb, /proc); best effort.
void NameThread(const char* name);
// Asks the scheduler to let the calling thread, when it wakes, run within
// about `ns` nanoseconds instead of waiting out another thread's time slice
// (Linux 6.12+ EEVDF: a short sched_runtime, no privilege needed). False
// where the platform has no such thing; the thread then runs as any other.
bool RequestShortTimeSlice(uint64_t ns);

// ---- fault-safe copies within this process
// Copies that never fault: false (errno EFAULT) when any byte is not mapped,
// or lies past the end of a file that shrank since it was mapped (where a
// memcpy would take SIGBUS). SafeRead: `src` may be bad; SafeWrite: `dst`.
// linux: process_vm_readv/writev; darwin: vm_read_overwrite/vm_write on
// mach_task_self(); portable: memcpy under a SIGSEGV/SIGBUS guard.
bool SafeRead(void* dst, const void* src, size_t len);
bool SafeWrite(void* dst, const void* src, size_t len);
// Many SafeReads (the rows of a frame) in as few system calls as the
// platform allows.
struct CopySpan {
  void* dst;
  const void* src;
  size_t len;
};
bool SafeReadSpans(const CopySpan* spans, size_t count);

}  // namespace agfx::platform
