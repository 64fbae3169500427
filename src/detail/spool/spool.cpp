// The on-disk spool journal (docs/adr/0005-spool.md).
// One file (~600 lines) on purpose: the writer, the reader and adoption share the record
// format's helpers and the registry of journal descriptors that a forked child closes;
// splitting them would turn those private helpers into an interface.
#include "detail/spool/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <system_error>
#include <utility>

#include "detail/core/clock.hpp"
#include "detail/core/env.hpp"
#include "detail/core/text.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {
namespace {

// ---- Journals held open by this process, closed in a forked child --------------------
// flock belongs to the open file description, which a child shares: a child that kept the
// descriptor would keep a dead parent's journal locked (never adopted). The child handler
// closes every registered descriptor (a bare close: no LOCK_UN, which would unlock the
// parent's journal too). Lock-free so that the handler is async-signal-safe.

// Slots hold fd + 1 (0: free), so that zero-initialization means empty.
constexpr std::size_t kMaxTrackedFds = 256;
std::atomic<int> g_journal_fds[kMaxTrackedFds];

void remember_fd(int fd) noexcept {
  for (auto& slot : g_journal_fds) {
    int expected = 0;
    if (slot.compare_exchange_strong(expected, fd + 1)) return;
  }
}

/// True when `fd` was registered (and is no longer).
bool forget_fd(int fd) noexcept {
  for (auto& slot : g_journal_fds) {
    int expected = fd + 1;
    if (slot.compare_exchange_strong(expected, 0)) return true;
  }
  return false;
}

void close_journals_in_child() noexcept {
  for (auto& slot : g_journal_fds) {
    const int v = slot.exchange(0);
    if (v > 0) ::close(v - 1);
  }
}

__attribute__((constructor)) void register_journal_fork_handler() {
  pthread_atfork(nullptr, nullptr, close_journals_in_child);
}

// ---- CRC-32C -------------------------------------------------------------------------

struct Crc32cTable {
  std::array<uint32_t, 256> t{};
  constexpr Crc32cTable() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : (c >> 1);
      t[i] = c;
    }
  }
};
constexpr Crc32cTable kCrcTable{};

// ---- little-endian helpers -------------------------------------------------------------

void put_u32(unsigned char* p, uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char* p) noexcept {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64(const unsigned char* p) noexcept {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// ---- system helpers --------------------------------------------------------------------

[[noreturn]] void throw_errno(const std::string& what, int err) {
  throw Error("mlflowpp spool: " + what + ": " + std::generic_category().message(err));
}

bool write_all(int fd, const void* data, std::size_t n, uint64_t offset) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (w == 0) {
      errno = EIO;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return true;
}

void fsync_dir(const std::string& dir) noexcept {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

void make_dirs(const std::string& dir) {
  if (dir.empty()) throw Error("mlflowpp spool: empty spool directory");
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    const std::string prefix = dir.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), 0700) == 0) {
      // A new folder's own entry is durable only once its parent is synced (the spool's
      // server folder is made again after every clean run removed it).
      const auto slash = prefix.find_last_of('/');
      fsync_dir(slash == 0 ? "/" : prefix.substr(0, slash));
    } else if (errno != EEXIST) {
      throw_errno("mkdir " + prefix, errno);
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) throw_errno("stat " + dir, errno);
  if (!S_ISDIR(st.st_mode)) throw Error("mlflowpp spool: " + dir + " is not a directory");
}

uint32_t crc32c(const void* data, std::size_t size, uint32_t crc) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) crc = kCrcTable.t[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

// ---- JournalWriter -----------------------------------------------------------------------

struct JournalWriter::Codec {
  ZSTD_CCtx* cctx = nullptr;
  Codec() : cctx(ZSTD_createCCtx()) {
    if (!cctx) throw Error("mlflowpp spool: ZSTD_createCCtx failed");
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
  }
  ~Codec() { ZSTD_freeCCtx(cctx); }
  Codec(const Codec&) = delete;
  Codec& operator=(const Codec&) = delete;
};

JournalWriter::JournalWriter(int fd, std::string path, uint64_t size, FsyncPolicy policy)
    : fd_(fd), path_(std::move(path)), size_(size), policy_(policy), codec_(std::make_unique<Codec>()) {
  remember_fd(fd_);
}

JournalWriter::JournalWriter(JournalWriter&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)),
      size_(o.size_),
      policy_(o.policy_),
      unsynced_(std::exchange(o.unsynced_, 0)),
      first_unsynced_(o.first_unsynced_),
      codec_(std::move(o.codec_)),
      buffer_(std::move(o.buffer_)) {}

JournalWriter& JournalWriter::operator=(JournalWriter&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    size_ = o.size_;
    policy_ = o.policy_;
    unsynced_ = std::exchange(o.unsynced_, 0);
    first_unsynced_ = o.first_unsynced_;
    codec_ = std::move(o.codec_);
    buffer_ = std::move(o.buffer_);
  }
  return *this;
}

JournalWriter::~JournalWriter() { close(); }

JournalWriter JournalWriter::create(const std::string& dir, FsyncPolicy policy) {
  std::random_device rd;
  const uint64_t rnd = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char name[96];
  std::snprintf(name, sizeof name, "%013lld-%ld-%016llx", static_cast<long long>(now_ms()),
                static_cast<long>(::getpid()), static_cast<unsigned long long>(rnd));
  const std::string final_path = dir + "/" + name + std::string(kJournalSuffix);
  const std::string tmp_path = dir + "/." + name + ".tmp";

  // Another process may remove the folder as it empties it at a clean shutdown
  // (remove_dir_if_empty), between our mkdir and open: make it again, a few times.
  int fd = -1;
  for (int attempt = 0;; ++attempt) {
    try {
      make_dirs(dir);
    } catch (const Error&) {
      if (attempt >= 3) throw;
      continue;
    }
    fd = ::open(tmp_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0 || errno != ENOENT || attempt >= 3) break;
  }
  if (fd < 0) throw_errno("create " + tmp_path, errno);
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::unlink(tmp_path.c_str());
    ::close(fd);
    throw_errno(what, err);
  };
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) fail("flock " + tmp_path);
  if (!write_all(fd, kJournalHeader, kJournalHeaderSize, 0)) fail("write " + tmp_path);
  if (policy.mode != FsyncMode::kNever && ::fdatasync(fd) != 0) fail("fdatasync " + tmp_path);
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) fail("rename " + tmp_path);
  if (policy.mode != FsyncMode::kNever) fsync_dir(dir);
  return JournalWriter(fd, final_path, kJournalHeaderSize, policy);
}

std::size_t JournalWriter::append(RecordType type, std::string_view payload) {
  if (fd_ < 0) throw Error("mlflowpp spool: append to a closed journal");
  if (payload.size() > kMaxRecordRawSize)
    throw Error("mlflowpp spool: record of " + std::to_string(payload.size()) + " bytes over the " +
                std::to_string(kMaxRecordRawSize) + "-byte cap");
  const std::size_t bound = ZSTD_compressBound(payload.size());
  if (buffer_.size() < kRecordHeaderSize + bound) buffer_.resize(kRecordHeaderSize + bound);
  auto* buf = reinterpret_cast<unsigned char*>(buffer_.data());
  const std::size_t csize =
      ZSTD_compress2(codec_->cctx, buf + kRecordHeaderSize, bound, payload.data(), payload.size());
  if (ZSTD_isError(csize)) throw Error(std::string("mlflowpp spool: zstd: ") + ZSTD_getErrorName(csize));
  if (csize > kMaxRecordCompressedSize)
    throw Error("mlflowpp spool: compressed record over the " + std::to_string(kMaxRecordCompressedSize) +
                "-byte cap");
  put_u32(buf, kRecordMagic);
  buf[4] = static_cast<unsigned char>(type);
  buf[5] = buf[6] = buf[7] = 0;
  put_u32(buf + 8, static_cast<uint32_t>(csize));
  put_u32(buf + 12, static_cast<uint32_t>(payload.size()));
  put_u32(buf + 16, crc32c(buf + kRecordHeaderSize, csize, crc32c(buf, 16)));
  const std::size_t total = kRecordHeaderSize + csize;
  if (!write_all(fd_, buf, total, size_)) {
    const int err = errno;
    (void)::ftruncate(fd_, static_cast<off_t>(size_));  // keep the journal appendable
    throw_errno("write " + path_, err);
  }
  size_ += total;
  if (unsynced_++ == 0) first_unsynced_ = std::chrono::steady_clock::now();
  maybe_sync(type);
  return total;
}

std::size_t JournalWriter::append_ack(uint64_t first_undelivered) {
  unsigned char b[8];
  put_u64(b, first_undelivered);
  return append(RecordType::kAck, std::string_view(reinterpret_cast<const char*>(b), sizeof b));
}

void JournalWriter::maybe_sync(RecordType type) {
  switch (policy_.mode) {
    case FsyncMode::kNever:
      return;
    case FsyncMode::kEveryRecord:
      sync();
      return;
    case FsyncMode::kEveryNRecordsOrSeconds:
      if ((policy_.sync_run_records && (type == RecordType::kUpdateRun || type == RecordType::kCreateRun)) ||
          unsynced_ >= policy_.every_records ||
          std::chrono::steady_clock::now() - first_unsynced_ >= policy_.every)
        sync();
      return;
  }
}

void JournalWriter::sync() {
  if (fd_ < 0 || unsynced_ == 0) return;
  if (::fdatasync(fd_) != 0) throw_errno("fdatasync " + path_, errno);
  unsynced_ = 0;
}

void JournalWriter::sync_if_due() {
  if (policy_.mode != FsyncMode::kNever && unsynced_ > 0 &&
      std::chrono::steady_clock::now() - first_unsynced_ >= policy_.every)
    sync();
}

void JournalWriter::close() noexcept {
  if (fd_ < 0) return;
  if (policy_.mode != FsyncMode::kNever && unsynced_ > 0) (void)::fdatasync(fd_);
  forget_fd(fd_);
  ::close(fd_);  // never LOCK_UN: a forked child may share this open file description
  fd_ = -1;
  unsynced_ = 0;
}

void JournalWriter::abandon_after_fork() noexcept {
  // The fork handler normally closed it already; never close a number reused since.
  if (fd_ >= 0 && forget_fd(fd_)) ::close(fd_);
  fd_ = -1;
}

// ---- JournalReader -----------------------------------------------------------------------

struct JournalReader::Source {
  std::string_view memory;
  int fd = -1;
  bool owns_fd = false;
  ~Source() {
    if (owns_fd && fd >= 0) ::close(fd);
  }
};

JournalReader::JournalReader(std::unique_ptr<Source> source) : src_(std::move(source)) {
  dctx_ = ZSTD_createDCtx();
  if (src_->fd >= 0) {
    struct stat st {};
    if (::fstat(src_->fd, &st) == 0 && st.st_size > 0) file_size_ = static_cast<uint64_t>(st.st_size);
  } else {
    file_size_ = src_->memory.size();
  }
  char h[kJournalHeaderSize];
  header_ok_ = dctx_ != nullptr && file_size_ >= kJournalHeaderSize && read_at(0, h, sizeof h) &&
               std::memcmp(h, kJournalHeader, kJournalHeaderSize) == 0;
  pos_ = header_ok_ ? kJournalHeaderSize : 0;
  stopped_ = !header_ok_;
}

JournalReader::JournalReader(JournalReader&& o) noexcept
    : src_(std::move(o.src_)),
      dctx_(std::exchange(o.dctx_, nullptr)),
      file_size_(o.file_size_),
      pos_(o.pos_),
      header_ok_(o.header_ok_),
      stopped_(o.stopped_),
      compressed_(std::move(o.compressed_)) {}

JournalReader& JournalReader::operator=(JournalReader&& o) noexcept {
  if (this != &o) {
    ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx_));
    src_ = std::move(o.src_);
    dctx_ = std::exchange(o.dctx_, nullptr);
    file_size_ = o.file_size_;
    pos_ = o.pos_;
    header_ok_ = o.header_ok_;
    stopped_ = o.stopped_;
    compressed_ = std::move(o.compressed_);
  }
  return *this;
}

JournalReader::~JournalReader() { ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx_)); }

JournalReader JournalReader::open(const std::string& path) {
  auto src = std::make_unique<Source>();
  src->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src->fd < 0) throw_errno("open " + path, errno);
  src->owns_fd = true;
  return JournalReader(std::move(src));
}

JournalReader JournalReader::from_memory(std::string_view bytes) {
  auto src = std::make_unique<Source>();
  src->memory = bytes;
  return JournalReader(std::move(src));
}

bool JournalReader::read_at(uint64_t offset, void* dst, std::size_t n) noexcept {
  if (offset > file_size_ || n > file_size_ - offset) return false;
  if (src_->fd < 0) {
    std::memcpy(dst, src_->memory.data() + offset, n);
    return true;
  }
  auto* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const ssize_t r = ::pread(src_->fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

void JournalReader::seek(uint64_t offset) noexcept {
  if (!header_ok_) return;
  pos_ = std::max<uint64_t>(offset, kJournalHeaderSize);
  stopped_ = false;
}

bool JournalReader::next(Record& out) noexcept {
  if (stopped_) return false;
  auto stop = [this] {
    stopped_ = true;
    return false;
  };
  if (pos_ >= file_size_) return stop();
  unsigned char h[kRecordHeaderSize];
  if (!read_at(pos_, h, sizeof h)) return stop();
  const uint32_t magic = get_u32(h);
  const unsigned type = h[4];
  const uint32_t csize = get_u32(h + 8);
  const uint32_t rsize = get_u32(h + 12);
  const uint32_t crc = get_u32(h + 16);
  const uint64_t available = file_size_ - pos_ - kRecordHeaderSize;
  if (magic != kRecordMagic || type < 1 || type > 5 || h[5] != 0 || h[6] != 0 || h[7] != 0) return stop();
  if (csize == 0 || csize > kMaxRecordCompressedSize || rsize > kMaxRecordRawSize || csize > available)
    return stop();
  if (static_cast<RecordType>(type) == RecordType::kAck && rsize != 8) return stop();
  try {
    compressed_.resize(csize);
    if (!read_at(pos_ + kRecordHeaderSize, compressed_.data(), csize)) return stop();
    if (crc32c(compressed_.data(), csize, crc32c(h, 16)) != crc) return stop();
    // Exactly one frame, declaring exactly raw_size bytes: decompression is bounded by it.
    if (ZSTD_findFrameCompressedSize(compressed_.data(), csize) != csize) return stop();
    if (ZSTD_getFrameContentSize(compressed_.data(), csize) != rsize) return stop();
    out.payload.resize(rsize);
    const std::size_t n = ZSTD_decompressDCtx(static_cast<ZSTD_DCtx*>(dctx_), out.payload.data(), rsize,
                                              compressed_.data(), csize);
    if (ZSTD_isError(n) || n != rsize) return stop();
  } catch (...) {  // std::bad_alloc
    return stop();
  }
  out.type = static_cast<RecordType>(type);
  out.offset = pos_;
  out.next_offset = pos_ + kRecordHeaderSize + csize;
  pos_ = out.next_offset;
  return true;
}

JournalInfo JournalReader::scan() noexcept {
  JournalInfo info;
  info.file_size = file_size_;
  info.header_ok = header_ok_;
  if (!header_ok_) return info;
  seek(0);
  info.ack_offset = kJournalHeaderSize;
  std::vector<uint64_t> starts;  // record starts so far, increasing
  Record r;
  bool ok = true;
  while (next(r)) {
    ++info.records;
    if (r.type == RecordType::kAck) {
      const uint64_t v = get_u64(reinterpret_cast<const unsigned char*>(r.payload.data()));
      // Valid: the start of a record before this ACK, or this ACK's own offset (all delivered).
      if (v == r.offset || std::binary_search(starts.begin(), starts.end(), v)) info.ack_offset = v;
    }
    if (ok) {
      try {
        starts.push_back(r.offset);
      } catch (...) {
        ok = false;  // out of memory: later ACKs are ignored (more is replayed, never less)
      }
    }
  }
  info.valid_end = pos_;
  return info;
}

JournalInfo JournalReader::seek_past_last_ack() noexcept {
  const JournalInfo info = scan();
  if (info.header_ok) seek(info.ack_offset);
  return info;
}

// ---- directory operations ----------------------------------------------------------------

std::vector<std::string> list_journals(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return names;
    throw_errno("opendir " + dir, errno);
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (name.empty() || name[0] == '.' || !ends_with(name, kJournalSuffix)) continue;
    if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;
    names.emplace_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (auto& n : names) n = dir + "/" + n;
  return names;
}

std::optional<JournalWriter> try_adopt(const std::string& path, FsyncPolicy policy) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("open " + path, errno);
  }
  auto give_up = [fd] {
    ::close(fd);
    return std::nullopt;
  };
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK || errno == EINTR) return give_up();
    const int err = errno;
    ::close(fd);
    throw_errno("flock " + path, err);
  }
  // Removed (or replaced) by another adopter between our open() and flock()?
  struct stat by_fd {
  }, by_path{};
  if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_path) != 0 || by_fd.st_ino != by_path.st_ino ||
      by_fd.st_dev != by_path.st_dev)
    return give_up();

  uint64_t size = 0;
  {
    auto src = std::make_unique<JournalReader::Source>();
    src->fd = fd;  // not owned
    JournalReader reader(std::move(src));
    const JournalInfo info = reader.scan();
    size = info.valid_end;
    if (!info.header_ok) {
      // Never got its header (cannot happen with create(), which renames after writing it).
      if (::ftruncate(fd, 0) != 0 || !write_all(fd, kJournalHeader, kJournalHeaderSize, 0)) {
        const int err = errno;
        ::close(fd);
        throw_errno("rewrite header of " + path, err);
      }
      size = kJournalHeaderSize;
    } else if (info.valid_end < info.file_size) {
      // Drop the torn tail so that records we append (ACKs) follow the intact prefix.
      if (::ftruncate(fd, static_cast<off_t>(info.valid_end)) != 0) {
        const int err = errno;
        ::close(fd);
        throw_errno("truncate " + path, err);
      }
    }
  }
  if (policy.mode != FsyncMode::kNever) (void)::fdatasync(fd);
  return JournalWriter(fd, path, size, policy);
}

void remove_journal(JournalWriter&& writer) {
  if (writer.fd_ < 0) throw Error("mlflowpp spool: remove_journal on a closed journal");
  if (::unlink(writer.path_.c_str()) != 0 && errno != ENOENT) throw_errno("unlink " + writer.path_, errno);
  writer.unsynced_ = 0;  // nothing left to make durable
  forget_fd(writer.fd_);
  ::close(writer.fd_);
  writer.fd_ = -1;
}

std::string default_spool_dir() {
  if (std::string d = env_or_empty("MLFLOWPP_SPOOL_DIR"); !d.empty()) return d;
  if (std::string x = env_or_empty("XDG_STATE_HOME"); !x.empty() && x[0] == '/') return x + "/mlflowpp/spool";
  std::string home = env_or_empty("HOME");
  if (home.empty()) {
    struct passwd pw {};
    struct passwd* result = nullptr;
    char buf[4096];
    if (::getpwuid_r(::getuid(), &pw, buf, sizeof buf, &result) == 0 && result && result->pw_dir)
      home = result->pw_dir;
  }
  if (home.empty()) return {};
  return home + "/.local/state/mlflowpp/spool";
}

int64_t file_mtime_ms(const std::string& path) noexcept {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

uint64_t directory_bytes(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return 0;
    throw_errno("opendir " + dir, errno);
  }
  uint64_t total = 0;
  const int dfd = ::dirfd(d);
  while (const dirent* e = ::readdir(d)) {
    struct stat st {};
    if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      total += static_cast<uint64_t>(st.st_size);
  }
  ::closedir(d);
  return total;
}

}  // namespace mlflowpp::detail
