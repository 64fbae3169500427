#pragma once
// Streamed bodies of artifact transfers (the transport's BodySource/BodySink over local
// files and memory), progress reporting and file-system helpers, shared by the proxy and
// local repositories. Private to the artifacts room.

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "detail/core/text.hpp"
#include "detail/http/http.hpp"
#include "mlflowpp/artifacts.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail::artifact_io {

namespace fs = std::filesystem;

inline std::string errno_text(int err) { return std::system_category().message(err); }

[[noreturn]] inline void throw_io(const std::string& what, const std::string& path, int err) {
  throw Error(fmt::format("{} '{}': {}", what, path, errno_text(err)));
}

// The umask, read without changing it (umask(2) would race with other threads).
inline mode_t current_umask() {
  static const mode_t mask = [] {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
      if (starts_with(line, "Umask:")) return static_cast<mode_t>(std::strtol(line.c_str() + 6, nullptr, 8));
    }
    return static_cast<mode_t>(022);
  }();
  return mask;
}

// ---- streamed bodies over files ------------------------------------------------------

/// A region of a local file, read with pread (no buffer of our own: libcurl's fixed upload
/// buffer is the only copy, whatever the file's size).
class FileSource final : public BodySource {
 public:
  explicit FileSource(const std::string& path, int64_t offset = 0, int64_t length = -1)
      : path_(path), offset_(offset) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw_io("cannot open", path, errno);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      ::close(fd_);
      throw_io("cannot stat", path, err);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw InvalidArgumentError(fmt::format("'{}' is not a regular file", path));
    }
    const int64_t file_size = static_cast<int64_t>(st.st_size);
    length_ = length < 0 ? file_size - offset : std::min<int64_t>(length, file_size - offset);
    if (length_ < 0) length_ = 0;
    ::posix_fadvise(fd_, static_cast<off_t>(offset_), static_cast<off_t>(length_), POSIX_FADV_SEQUENTIAL);
  }
  ~FileSource() override {
    if (fd_ >= 0) ::close(fd_);
  }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  int64_t size() const override { return length_; }
  void rewind() override { pos_ = 0; }
  std::size_t read(char* buf, std::size_t n) override {
    const int64_t left = length_ - pos_;
    if (left <= 0 || n == 0) return 0;
    const std::size_t want = static_cast<std::size_t>(std::min<int64_t>(left, static_cast<int64_t>(n)));
    for (;;) {
      const ssize_t r = ::pread(fd_, buf, want, static_cast<off_t>(offset_ + pos_));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw_io("cannot read", path_, errno);
      if (r == 0)
        throw Error(fmt::format("'{}' shrank while it was being uploaded ({} of {} bytes read)", path_, pos_,
                                length_));
      pos_ += r;
      return static_cast<std::size_t>(r);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  int64_t offset_ = 0;
  int64_t length_ = 0;
  int64_t pos_ = 0;
};

class MemorySource final : public BodySource {
 public:
  explicit MemorySource(const std::string& data) : data_(data) {}
  int64_t size() const override { return static_cast<int64_t>(data_.size()); }
  void rewind() override { pos_ = 0; }
  std::size_t read(char* buf, std::size_t n) override {
    const std::size_t k = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  const std::string& data_;
  std::size_t pos_ = 0;
};

/// A temporary file in the destination directory, renamed over the final name by
/// commit(); removed when destroyed uncommitted. Readers of the final name never see a
/// partial file.
class FileSink final : public BodySink {
 public:
  explicit FileSink(const fs::path& dir) {
    std::string tmpl = (dir / ".mlflowpp-download-XXXXXX").string();
    fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd_ < 0) throw_io("cannot create a temporary file in", dir.string(), errno);
    path_ = std::move(tmpl);
  }
  ~FileSink() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  void reset() override {
    if (::ftruncate(fd_, 0) != 0) throw_io("cannot truncate", path_, errno);
    written_ = 0;
  }
  void write(const char* data, std::size_t n) override {
    while (n > 0) {
      const ssize_t w = ::pwrite(fd_, data, n, static_cast<off_t>(written_));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw_io("cannot write", path_, errno);
      data += w;
      n -= static_cast<std::size_t>(w);
      written_ += w;
    }
  }
  int64_t bytes_written() const override { return written_; }

  /// Gives the file the mode a newly created file gets (0666 & ~umask), closes it and
  /// renames it to `final_path` (replacing a file of that name).
  void commit(const std::string& final_path) {
    ::fchmod(fd_, 0666 & ~current_umask());
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw_io("cannot write", path_, errno);
    if (::rename(path_.c_str(), final_path.c_str()) != 0)
      throw_io("cannot rename the download to", final_path, errno);
    committed_ = true;
  }

 private:
  std::string path_;
  int fd_ = -1;
  int64_t written_ = 0;
  bool committed_ = false;
};

/// Deduplicating adapter from byte counts to the user's ProgressCallback.
class ProgressReporter {
 public:
  ProgressReporter(const ArtifactOptions& options, TransferDirection direction, std::string path)
      : callback_(options.progress) {
    p_.direction = direction;
    p_.artifact_path = std::move(path);
  }
  void operator()(int64_t done, int64_t total) {
    if (!callback_) return;
    if (done == p_.bytes_done && total == p_.bytes_total && reported_) return;
    p_.bytes_done = done;
    p_.bytes_total = total;
    reported_ = true;
    callback_(p_);
  }
  TransferProgressFn fn() {
    if (!callback_) return {};
    return [this](int64_t done, int64_t total) { (*this)(done, total); };
  }

 private:
  const ProgressCallback& callback_;
  TransferProgress p_;
  bool reported_ = false;
};

/// Copies a source into a sink (local artifact roots), reporting progress.
inline void copy_stream(BodySource& src, BodySink& sink, ProgressReporter& progress) {
  std::vector<char> buf(std::size_t{1} << 20);
  const int64_t total = src.size();
  progress(0, total);
  int64_t done = 0;
  for (;;) {
    const std::size_t n = src.read(buf.data(), buf.size());
    if (n == 0) break;
    sink.write(buf.data(), n);
    done += static_cast<int64_t>(n);
    progress(done, total);
  }
}

inline bool ok_status(long status) noexcept { return status >= 200 && status < 300; }

}  // namespace mlflowpp::detail::artifact_io
