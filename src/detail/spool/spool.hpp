#pragma once
// The on-disk spool journal (issue #4, docs/adr/0005-spool.md). Private: not installed.
//
// A journal is an append-only file of checksummed, zstd-compressed records, owned by one
// live process that holds flock(LOCK_EX) on it for its whole life. A journal whose lock can
// be taken belongs to a dead process and may be adopted (try_adopt). Nothing here touches
// the network.
//
// Thread-safety: a JournalWriter (and a JournalReader) is used by one thread at a time (the
// logger's worker). The free functions are thread-safe.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlflowpp::detail {

/// Record types (the `type` byte of a record header).
enum class RecordType : uint8_t {
  kLogBatch = 1,   ///< exact JSON body of POST /api/2.0/mlflow/runs/log-batch
  kUpdateRun = 2,  ///< JSON body of POST /api/2.0/mlflow/runs/update
  kCreateRun = 3,  ///< {"local_run_id":…,"experiment_id"|"experiment_name":…,"run_name","start_time","tags"}
  kAck = 4,        ///< 8-byte LE offset of the first record not yet delivered
  kRunStarted = 5,  ///< {"run_id":…}: an ActiveRun began logging (for the crash rule)
};

inline constexpr char kJournalHeader[8] = {'M', 'L', 'F', 'P', 'P', 'J', '1', '\n'};
inline constexpr std::size_t kJournalHeaderSize = 8;
inline constexpr uint32_t kRecordMagic = 0x4D4C5052;  // 'MLPR'
inline constexpr std::size_t kRecordHeaderSize = 20;
inline constexpr uint32_t kMaxRecordRawSize = 64u << 20;         // 64 MiB
inline constexpr uint32_t kMaxRecordCompressedSize = 64u << 20;  // 64 MiB
inline constexpr std::string_view kJournalSuffix = ".mlflowpp-journal";

/// CRC-32C (Castagnoli, reflected, as in iSCSI/ext4): crc32c("123456789") == 0xE3069283.
/// `crc` continues a previous value (start with 0).
uint32_t crc32c(const void* data, std::size_t size, uint32_t crc = 0) noexcept;

enum class FsyncMode : uint8_t {
  kNever,                   ///< leave it to the kernel (survives a process crash, not a power loss)
  kEveryRecord,             ///< fdatasync after every record
  kEveryNRecordsOrSeconds,  ///< after `every_records` records or `every` elapsed (default)
};

struct FsyncPolicy {
  FsyncMode mode = FsyncMode::kEveryNRecordsOrSeconds;
  uint32_t every_records = 64;
  std::chrono::milliseconds every{1000};
  /// UPDATE_RUN and CREATE_RUN records (run status: rare and not reconstructible) are synced
  /// at once unless the mode is kNever. ACK records are never synced on their own: a lost
  /// ACK only means a re-delivery, which the server deduplicates (ADR 0002).
  bool sync_run_records = true;
};

class JournalWriter;
std::optional<JournalWriter> try_adopt(const std::string& path, FsyncPolicy policy = {});
void remove_journal(JournalWriter&& writer);

/// Owns one journal: holds its flock and appends records. Move-only. Errors (I/O, a payload
/// over the caps) throw mlflowpp::Error; after a failed append the file is truncated back
/// to its last complete record when possible.
class JournalWriter {
 public:
  /// Creates a new journal `<start_ms>-<pid>-<random hex>.mlflowpp-journal` in `dir`
  /// (created with mode 0700 if missing, parents included). The file is created under a
  /// temporary name, locked, given its header and only then renamed into place, so an
  /// adopter never sees an unlocked new journal.
  static JournalWriter create(const std::string& dir, FsyncPolicy policy = {});

  JournalWriter(JournalWriter&&) noexcept;
  JournalWriter& operator=(JournalWriter&&) noexcept;
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  ~JournalWriter();  ///< close(): the lock is released, the file stays (for adoption)

  /// Appends one record; returns the bytes written (header + compressed payload).
  /// The record starts at the offset size() had before the call.
  std::size_t append(RecordType type, std::string_view payload);
  /// Appends an ACK record: `first_undelivered` is the offset of the first record not yet
  /// delivered (a record start, or size() when everything is delivered).
  std::size_t append_ack(uint64_t first_undelivered);
  /// fdatasync now if records were appended since the last sync.
  void sync();
  /// fdatasync if the policy's interval has elapsed with unsynced records (call it from
  /// the worker's periodic wakeup: append() alone only checks when a record arrives).
  void sync_if_due();

  uint64_t size() const noexcept { return size_; }
  const std::string& path() const noexcept { return path_; }
  bool is_open() const noexcept { return fd_ >= 0; }
  /// Records appended and not yet synced.
  uint32_t unsynced_records() const noexcept { return unsynced_; }

  /// Closes the file; the lock is released once no other descriptor of this open file
  /// (e.g. inherited by a forked child) remains.
  void close() noexcept;
  /// For a pthread_atfork child handler: closes the child's inherited descriptor without
  /// LOCK_UN (which would release the parent's lock too: flock belongs to the shared open
  /// file description) and without touching anything else. Async-signal-safe.
  void abandon_after_fork() noexcept;

 private:
  friend std::optional<JournalWriter> try_adopt(const std::string& path, FsyncPolicy policy);
  friend void remove_journal(JournalWriter&& writer);
  struct Codec;
  JournalWriter(int fd, std::string path, uint64_t size, FsyncPolicy policy);
  void maybe_sync(RecordType type);

  int fd_ = -1;
  std::string path_;
  uint64_t size_ = 0;
  FsyncPolicy policy_;
  uint32_t unsynced_ = 0;
  std::chrono::steady_clock::time_point first_unsynced_;  // oldest unsynced record
  std::unique_ptr<Codec> codec_;
  std::string buffer_;  // reused: header + compressed payload
};

struct Record {
  RecordType type = RecordType::kLogBatch;
  uint64_t offset = 0;       ///< where the record starts
  uint64_t next_offset = 0;  ///< where the next one starts
  std::string payload;       ///< decompressed (ACK: the 8 raw bytes)
};

/// What a full scan of a journal found.
struct JournalInfo {
  bool header_ok = false;   ///< false: not a journal (or created and never written)
  uint64_t records = 0;     ///< intact records, ACKs included
  uint64_t ack_offset = 0;  ///< last valid ACK (a record start or valid_end); else the first record
  uint64_t valid_end = 0;   ///< end of the intact prefix
  uint64_t file_size = 0;
  uint64_t ignored_tail_bytes() const noexcept { return file_size - valid_end; }
};

/// Reads a journal from a file or from memory. Never throws on corrupt input and never
/// allocates more than the hard caps: the first short, oversized or mis-checksummed record
/// (a torn tail) ends the journal, and ignored_tail_bytes() says how much was left.
class JournalReader {
 public:
  /// Opens `path` read-only (no lock taken: pass an adopted writer's path while holding it).
  /// Throws mlflowpp::Error when the file cannot be opened.
  static JournalReader open(const std::string& path);
  /// Reads `bytes`, which must outlive the reader (fuzzing, tests).
  static JournalReader from_memory(std::string_view bytes);
  static JournalReader from_memory(const std::string& bytes) { return from_memory(std::string_view(bytes)); }
  static JournalReader from_memory(std::string&&) = delete;  // would dangle

  JournalReader(JournalReader&&) noexcept;
  JournalReader& operator=(JournalReader&&) noexcept;
  ~JournalReader();

  bool header_ok() const noexcept { return header_ok_; }
  /// Positions the reader at `offset` (a record start from an earlier read, or 0 for the
  /// first record). An offset past the intact prefix simply yields nothing.
  void seek(uint64_t offset) noexcept;
  /// The next intact record, or false at the end of the intact prefix (or on bad input).
  bool next(Record& out) noexcept;
  /// Offset of the first byte not yet consumed as part of an intact record.
  uint64_t position() const noexcept { return pos_; }
  uint64_t file_size() const noexcept { return file_size_; }
  /// After next() returned false: bytes after the intact prefix (0 at a clean end).
  uint64_t ignored_tail_bytes() const noexcept { return stopped_ ? file_size_ - pos_ : 0; }

  /// Full pass from the first record: counts records, finds the last valid ACK and the end
  /// of the intact prefix. Leaves the reader positioned at the end.
  JournalInfo scan() noexcept;
  /// scan(), then seek(info.ack_offset): what is left to deliver, honouring the last ACK.
  JournalInfo seek_past_last_ack() noexcept;

 private:
  friend std::optional<JournalWriter> try_adopt(const std::string& path, FsyncPolicy policy);
  struct Source;
  explicit JournalReader(std::unique_ptr<Source> source);
  bool read_at(uint64_t offset, void* dst, std::size_t n) noexcept;

  std::unique_ptr<Source> src_;
  void* dctx_ = nullptr;  // ZSTD_DCtx
  uint64_t file_size_ = 0;
  uint64_t pos_ = 0;
  bool header_ok_ = false;
  bool stopped_ = false;
  std::string compressed_;  // reused
};

/// mkdir -p; directories it creates get mode 0700 (existing ones are left alone). Throws
/// Error when `dir` cannot be made or is not a directory.
void make_dirs(const std::string& dir);

/// Paths of the journals (`*.mlflowpp-journal`) in `dir`, oldest first (by name). Missing
/// directory: empty.
std::vector<std::string> list_journals(const std::string& dir);

/// Takes over the journal at `path` if its owner is dead (its flock can be taken without
/// waiting): returns a writer holding the lock, whose file has been cut back to its intact
/// prefix (a torn tail is dropped, so that appended ACKs stay readable). nullopt when the
/// owner is alive, the file is gone, or it was removed while we were locking it.
std::optional<JournalWriter> try_adopt(const std::string& path, FsyncPolicy policy);

/// Unlinks the journal while still holding its lock, then closes it.
void remove_journal(JournalWriter&& writer);

/// $MLFLOWPP_SPOOL_DIR, else $XDG_STATE_HOME/mlflowpp/spool (absolute XDG_STATE_HOME only),
/// else $HOME/.local/state/mlflowpp/spool, else the passwd entry's home. Empty strings
/// count as unset. Empty result when no home can be found.
std::string default_spool_dir();

/// Last modification of `path` in ms since the epoch (0 when it cannot be read).
int64_t file_mtime_ms(const std::string& path) noexcept;

/// Sum of the sizes of the regular files in `dir` (journals and in-creation temporaries);
/// 0 for a missing directory. For the caller's size cap.
uint64_t directory_bytes(const std::string& dir);

}  // namespace mlflowpp::detail
