#include "detail/artifacts/artifacts.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <system_error>
#include <utility>

#include "detail/codec/json.hpp"
#include "detail/codec/json_read.hpp"
#include "detail/core/text.hpp"
#include "detail/core/validation.hpp"
#include "detail/rest/rest.hpp"
#include "mlflowpp/error.hpp"

namespace fs = std::filesystem;

namespace mlflowpp::detail {

namespace {

bool is_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

std::string errno_text(int err) { return std::system_category().message(err); }

[[noreturn]] void throw_io(const std::string& what, const std::string& path, int err) {
  throw Error(fmt::format("{} '{}': {}", what, path, errno_text(err)));
}

// The umask, read without changing it (umask(2) would race with other threads).
mode_t current_umask() {
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
void copy_stream(BodySource& src, BodySink& sink, ProgressReporter& progress) {
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

bool ok_status(long status) noexcept { return status >= 200 && status < 300; }

// ---- the artifact proxy --------------------------------------------------------------

class ProxyRepo final : public ArtifactRepo {
 public:
  ProxyRepo(std::shared_ptr<RestClient> rest, ArtifactLocation loc)
      : rest_(std::move(rest)), loc_(std::move(loc)) {}

  void upload_file(const std::string& local_file, const std::string& path,
                   const ArtifactOptions& o) override {
    FileSource src(local_file);
    if (o.enable_proxy_multipart_upload && src.size() >= o.multipart_upload_minimum_file_size &&
        try_multipart(local_file, src.size(), path, o))
      return;
    put(src, path, o);
  }

  void upload_bytes(const std::string& data, const std::string& path, const ArtifactOptions& o) override {
    MemorySource src(data);
    put(src, path, o);
  }

  std::vector<FileInfo> list(const std::string& path) override {
    HttpRequest req;
    req.method = "GET";
    req.url = loc_.list_url(path);
    req.headers = rest_->common_headers();
    req.headers.emplace_back("Accept: application/json");
    const std::string url = req.url;
    HttpResponse resp = rest_->send_with_retries(std::move(req), nullptr);
    if (!ok_status(resp.status)) throw_server_error("GET", url, resp);
    expect_json_object("GET", url, resp);
    std::vector<FileInfo> out;
    auto root = jsonread::parse_object(resp.body, "list artifacts");
    jsonread::dom::array files;
    if (jsonread::get_array(root, "files", files)) {
      for (jsonread::dom::element e : files) {
        jsonread::dom::object f;
        if (e.get(f)) continue;
        FileInfo info;
        const std::string name = jsonread::get_string(f, "path");
        if (!is_safe_listed_name(name))
          throw ParseError(fmt::format("the server listed an unsafe artifact name '{}' under '{}'",
                                       shown_path(name), shown_path(path)));
        info.path = join_artifact_path(path, name);
        jsonread::dom::element d;
        bool is_dir = false;
        if (jsonread::field(f, "is_dir", d) && d.get(is_dir) != simdjson::SUCCESS) is_dir = false;
        info.is_dir = is_dir;
        if (!is_dir) info.file_size = jsonread::get_opt_int64(f, "file_size").value_or(0);
        out.push_back(std::move(info));
      }
    }
    std::sort(out.begin(), out.end(), [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
    return out;
  }

  void download_file(const std::string& path, const std::string& local_file,
                     const ArtifactOptions& o) override {
    FileSink sink(fs::path(local_file).parent_path());
    ProgressReporter progress(o, TransferDirection::kDownload, path);
    progress(0, -1);
    HttpRequest req;
    req.method = "GET";
    req.url = loc_.file_url(path);
    req.headers = rest_->common_headers();
    req.download = &sink;
    req.expect_attachment = true;  // a gateway's login page is not the file
    req.progress = progress.fn();
    req.low_speed_limit = o.low_speed_limit;
    req.low_speed_time = o.low_speed_time;
    const std::string url = req.url;
    HttpResponse resp = rest_->send_with_retries(std::move(req), nullptr);
    if (!ok_status(resp.status)) throw_server_error("GET", url, resp);
    const int64_t n = sink.bytes_written();
    sink.commit(local_file);
    progress(n, n);
  }

  void remove(const std::string& path) override {
    HttpRequest req;
    req.method = "DELETE";
    req.url = loc_.file_url(path);
    req.headers = rest_->common_headers();
    req.headers.emplace_back("Accept: application/json");
    const std::string url = req.url;
    HttpResponse resp = rest_->send_with_retries(std::move(req), nullptr);
    if (!ok_status(resp.status)) throw_server_error("DELETE", url, resp);
    expect_json_object("DELETE", url, resp);  // MLflow answers {}
  }

  bool make_dir(const std::string&) override { return false; }

 private:
  void put(BodySource& src, const std::string& path, const ArtifactOptions& o) {
    ProgressReporter progress(o, TransferDirection::kUpload, path);
    progress(0, src.size());
    HttpRequest req;
    req.method = "PUT";
    req.url = loc_.file_url(path);
    req.headers = rest_->common_headers();
    req.headers.emplace_back("Content-Type: application/octet-stream");
    req.upload = &src;
    req.progress = progress.fn();
    req.low_speed_limit = o.low_speed_limit;
    req.low_speed_time = o.low_speed_time;
    const std::string url = req.url;
    HttpResponse resp = rest_->send_with_retries(std::move(req), nullptr);
    if (!ok_status(resp.status)) throw_server_error("PUT", url, resp);
    // MLflow's own answer to an upload is empty (no Content-Type, Content-Length 0); a JSON
    // object is accepted too. Anything else (a gateway's login page) is not an upload.
    if (!resp.body.empty()) expect_json_object("PUT", url, resp);
    progress(src.size(), src.size());
  }

  HttpResponse post_json(const std::string& url, std::string body) {
    HttpRequest req;
    req.method = "POST";
    req.url = url;
    req.headers = rest_->common_headers();
    req.headers.emplace_back("Content-Type: application/json");
    req.headers.emplace_back("Accept: application/json");
    req.body = std::move(body);
    // Creating, completing or aborting an upload is not idempotent: resent only when the
    // server certainly did not act (as the Python client does for such POSTs).
    return rest_->send_with_retries(std::move(req), nullptr, /*idempotent=*/false);
  }

  /// The multipart upload of MLflow's proxy (as the Python client's HttpArtifactRepository does it): create,
  /// PUT each part to its presigned URL, complete (abort on failure). false when the server cannot do it
  /// (501, or the message older servers send), so that the caller falls back to one PUT.
  bool try_multipart(const std::string& local_file, int64_t size, const std::string& path,
                     const ArtifactOptions& o) {
    const std::string dir(artifact_dirname(path));
    const std::string name(artifact_basename(path));
    const int64_t chunk = o.multipart_upload_chunk_size;
    const int64_t num_parts = std::max<int64_t>(1, (size + chunk - 1) / chunk);

    JsonWriter create;
    create.begin_object().key("path").value(name).key("num_parts").value(num_parts).end_object();
    const std::string create_url = loc_.mpu_url("create", dir);
    HttpResponse resp = post_json(create_url, create.take());
    if (!ok_status(resp.status)) {
      if (resp.status == 501) return false;
      const auto err = parse_error_body(resp.body);
      if (err.parsed && starts_with(err.message, "Multipart upload is not supported")) return false;
      throw_server_error("POST", create_url, resp);
    }

    struct Credential {
      std::string url;
      int64_t part_number = 0;
      std::vector<std::string> headers;
    };
    std::string upload_id;
    std::vector<Credential> credentials;
    expect_json_object("POST", create_url, resp);
    {
      auto root = jsonread::parse_object(resp.body, "create multipart upload");
      upload_id = jsonread::get_string(root, "upload_id");
      jsonread::dom::array arr;
      if (jsonread::get_array(root, "credentials", arr)) {
        for (jsonread::dom::element e : arr) {
          jsonread::dom::object c;
          if (e.get(c)) continue;
          Credential cred;
          cred.url = jsonread::get_string(c, "url");
          cred.part_number = jsonread::get_int64(c, "part_number");
          jsonread::dom::object hdrs;
          if (jsonread::get_object(c, "headers", hdrs)) {
            for (auto field : hdrs) {
              std::string_view v;
              if (!field.value.get(v)) cred.headers.push_back(fmt::format("{}: {}", field.key, v));
            }
          }
          credentials.push_back(std::move(cred));
        }
      }
    }
    if (static_cast<int64_t>(credentials.size()) != num_parts)
      throw ParseError(fmt::format("create multipart upload: asked for {} parts, the server gave {} URLs",
                                   num_parts, credentials.size()));

    try {
      ProgressReporter progress(o, TransferDirection::kUpload, path);
      progress(0, size);
      JsonWriter complete;
      complete.begin_object()
          .key("path")
          .value(name)
          .key("upload_id")
          .value(upload_id)
          .key("parts")
          .begin_array();
      for (std::size_t i = 0; i < credentials.size(); ++i) {
        const auto& cred = credentials[i];
        const int64_t offset = static_cast<int64_t>(i) * chunk;
        FileSource part(local_file, offset, chunk);
        HttpRequest req;
        req.method = "PUT";
        req.url = cred.url;
        req.headers = cred.headers;  // only the storage's own headers: not MLflow's
        req.upload = &part;
        req.send_credentials = false;
        req.low_speed_limit = o.low_speed_limit;
        req.low_speed_time = o.low_speed_time;
        if (o.progress)
          req.progress = [&progress, offset, size](int64_t done, int64_t) { progress(offset + done, size); };
        HttpResponse part_resp = rest_->send_with_retries(std::move(req), nullptr);
        if (!ok_status(part_resp.status))
          throw_server_error("PUT", fmt::format("(presigned URL of part {})", cred.part_number), part_resp);
        // Object storage answers a part with an empty body and its ETag; a page is not a part.
        if (!is_file_download(part_resp.content_type, "") && !part_resp.body.empty())
          throw_unexpected_response("PUT", fmt::format("(presigned URL of part {})", cred.part_number),
                                    part_resp, "an empty answer with an ETag");
        complete.begin_object()
            .key("part_number")
            .value(cred.part_number)
            .key("etag")
            .value(part_resp.etag)
            .key("url")
            .value(cred.url)
            .end_object();
      }
      complete.end_array().end_object();
      const std::string complete_url = loc_.mpu_url("complete", dir);
      HttpResponse done = post_json(complete_url, complete.take());
      if (!ok_status(done.status)) throw_server_error("POST", complete_url, done);
      expect_json_object("POST", complete_url, done);
      progress(size, size);
    } catch (...) {
      try {
        JsonWriter abort;
        abort.begin_object().key("path").value(name).key("upload_id").value(upload_id).end_object();
        (void)post_json(loc_.mpu_url("abort", dir), abort.take());
      } catch (...) {
        // The original failure is the one to report.
      }
      throw;
    }
    return true;
  }

  std::shared_ptr<RestClient> rest_;
  ArtifactLocation loc_;
};

// ---- a local directory (file: roots shared with the server) -----------------------------

class LocalRepo final : public ArtifactRepo {
 public:
  explicit LocalRepo(std::string root) : root_(std::move(root)) {}

  void upload_file(const std::string& local_file, const std::string& path,
                   const ArtifactOptions& o) override {
    FileSource src(local_file);
    write(src, path, o);
  }
  void upload_bytes(const std::string& data, const std::string& path, const ArtifactOptions& o) override {
    MemorySource src(data);
    write(src, path, o);
  }

  std::vector<FileInfo> list(const std::string& path) override {
    std::vector<FileInfo> out;
    const fs::path dir = resolve(path);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return out;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      // Uploads in progress (the server's and ours) are not artifacts yet.
      if (starts_with(name, ".artifact.uploading.") || starts_with(name, ".mlflowpp-download-")) continue;
      FileInfo info;
      info.path = join_artifact_path(path, name);
      std::error_code ec2;
      info.is_dir = it->is_directory(ec2);
      if (!info.is_dir) info.file_size = static_cast<int64_t>(it->file_size(ec2));
      out.push_back(std::move(info));
    }
    if (ec) throw Error(fmt::format("cannot list '{}': {}", dir.string(), ec.message()));
    std::sort(out.begin(), out.end(), [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
    return out;
  }

  void download_file(const std::string& path, const std::string& local_file,
                     const ArtifactOptions& o) override {
    const fs::path src_path = resolve(path);
    std::error_code ec;
    if (!fs::is_regular_file(src_path, ec))
      throw ServerError(404, "RESOURCE_DOES_NOT_EXIST", fmt::format("No such artifact: '{}'", path),
                        fmt::format("No such artifact: '{}' (local artifact root {})", path, root_));
    FileSource src(src_path.string());
    FileSink sink(fs::path(local_file).parent_path());
    ProgressReporter progress(o, TransferDirection::kDownload, path);
    copy_stream(src, sink, progress);
    sink.commit(local_file);
  }

  void remove(const std::string& path) override {
    std::error_code ec;
    fs::remove_all(resolve(path), ec);
    if (ec) throw Error(fmt::format("cannot delete '{}': {}", resolve(path).string(), ec.message()));
  }

  bool make_dir(const std::string& path) override {
    std::error_code ec;
    fs::create_directories(resolve(path), ec);
    if (ec) throw Error(fmt::format("cannot create '{}': {}", resolve(path).string(), ec.message()));
    return true;
  }

 private:
  /// root/path, refusing a result outside the root (through a symbolic link).
  fs::path resolve(const std::string& path) const {
    const fs::path root(root_);
    const fs::path p = path.empty() ? root : root / fs::path(path);
    std::error_code ec;
    const fs::path canon_root = fs::weakly_canonical(root, ec);
    const fs::path canon = fs::weakly_canonical(p, ec);
    if (!ec) {
      auto r = canon_root.begin();
      auto c = canon.begin();
      for (; r != canon_root.end(); ++r, ++c)
        if (c == canon.end() || *r != *c)
          throw InvalidArgumentError(fmt::format("artifact path '{}' resolves outside the artifact root {}",
                                                 shown_path(path), root_));
    }
    return p;
  }

  void write(BodySource& src, const std::string& path, const ArtifactOptions& o) {
    const fs::path dest = resolve(path);
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    if (ec)
      throw Error(fmt::format(
          "cannot create '{}': {} (the run's artifact root is a directory on the server's filesystem; "
          "mlflowpp can write there only when it shares that filesystem)",
          dest.parent_path().string(), ec.message()));
    FileSink sink(dest.parent_path());
    ProgressReporter progress(o, TransferDirection::kUpload, path);
    copy_stream(src, sink, progress);
    sink.commit(dest.string());
  }

  std::string root_;
};

}  // namespace

// ---- paths ----------------------------------------------------------------------------

std::optional<std::string> check_artifact_path(std::string_view what, std::string_view path,
                                               bool allow_empty) {
  auto fail = [&](std::string_view why) {
    return fmt::format("{} '{}' is not a safe relative artifact path: {}", what, shown_path(path), why);
  };
  if (path.empty()) {
    if (allow_empty) return std::nullopt;
    return fmt::format("{} must not be empty", what);
  }
  if (!is_valid_utf8(path)) return fail("it is not valid UTF-8");
  for (std::size_t i = 0; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c == 0x7f) return fail("control characters are not allowed");
    if (c == '\\') return fail("backslashes are not allowed (use '/')");
    if (c == '#') return fail("'#' is not allowed (MLflow's server refuses it)");
    if (c == '%' && i + 2 < path.size() && is_hex(path[i + 1]) && is_hex(path[i + 2]))
      return fail(
          "'%' followed by two hex digits is not allowed (MLflow's server percent-decodes paths again, so "
          "the "
          "name would change)");
  }
  if (path.front() == '/') return fail("absolute paths are not allowed");
  if (path.size() >= 2 && path[1] == ':' &&
      ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) &&
      (path.size() == 2 || path[2] == '/'))
    return fail("a Windows drive is not allowed");
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::string_view seg =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (seg.empty()) return fail("empty segments ('//' or a trailing '/') are not allowed");
    if (seg == "..") return fail("'..' segments are not allowed");
    if (seg == ".") return fail("'.' segments are not allowed");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return std::nullopt;
}

void require_artifact_path(std::string_view what, std::string_view path, bool allow_empty) {
  if (auto err = check_artifact_path(what, path, allow_empty)) throw InvalidArgumentError(*err);
}

bool is_safe_listed_name(std::string_view name) noexcept {
  if (name.empty() || name == "." || name == "..") return false;
  for (char c : name)
    if (c == '/' || c == '\\' || c == '\0') return false;
  return true;
}

std::string join_artifact_path(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string out(a);
  out.push_back('/');
  out.append(b);
  return out;
}

std::string_view artifact_basename(std::string_view path) noexcept {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view artifact_dirname(std::string_view path) noexcept {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string encode_artifact_path(std::string_view path) {
  std::string out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    out += url_encode(path.substr(start, slash == std::string_view::npos ? path.npos : slash - start));
    if (slash == std::string_view::npos) return out;
    out.push_back('/');
    start = slash + 1;
  }
}

// ---- locations ------------------------------------------------------------------------

std::string ArtifactLocation::file_url(std::string_view path) const {
  std::string url = api_prefix + "/mlflow-artifacts/artifacts";
  const std::string full = join_artifact_path(root, path);
  if (!full.empty()) url += "/" + encode_artifact_path(full);
  return url;
}

std::string ArtifactLocation::list_url(std::string_view path) const {
  return api_prefix + "/mlflow-artifacts/artifacts?path=" + url_encode(join_artifact_path(root, path));
}

std::string ArtifactLocation::mpu_url(std::string_view op, std::string_view dir) const {
  std::string url = api_prefix + "/mlflow-artifacts/mpu/" + std::string(op);
  const std::string full = join_artifact_path(root, dir);
  if (!full.empty()) url += "/" + encode_artifact_path(full);
  return url;
}

namespace {

/// "a//b/" → "a/b": segments of a decoded path, without empty ones.
std::string normalize_segments(std::string_view path) {
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::string_view seg =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (!seg.empty()) out = join_artifact_path(out, seg);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

struct UrlParts {
  std::string scheme;  // lower case
  std::string netloc;
  std::string path;  // as in the URL (still encoded), without query or fragment
};

UrlParts split_url(std::string_view url) {
  UrlParts p;
  const auto colon = url.find(':');
  if (colon == std::string_view::npos) return p;
  p.scheme = ascii_lower(url.substr(0, colon));
  std::string_view rest = url.substr(colon + 1);
  const auto qf = rest.find_first_of("?#");
  if (qf != std::string_view::npos) rest = rest.substr(0, qf);
  if (starts_with(rest, "//")) {
    rest.remove_prefix(2);
    const auto slash = rest.find('/');
    p.netloc = std::string(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  p.path = std::string(rest);
  return p;
}

}  // namespace

ArtifactLocation resolve_artifact_location(std::string_view tracking_uri, std::string_view artifact_uri) {
  ArtifactLocation loc;
  const std::string shown_uri = redact_url(std::string(artifact_uri));
  if (artifact_uri.empty()) throw InvalidArgumentError("the artifact URI is empty");
  if (artifact_uri.front() == '/') {
    loc.kind = ArtifactLocation::Kind::kLocal;
    loc.local_root = std::string(artifact_uri);
    return loc;
  }
  const UrlParts a = split_url(artifact_uri);
  if (a.scheme == "file") {
    if (!a.netloc.empty() && ascii_lower(a.netloc) != "localhost")
      throw InvalidArgumentError(fmt::format(
          "artifact URI '{}': a file: URI on another host ('{}') cannot be reached", shown_uri, a.netloc));
    loc.kind = ArtifactLocation::Kind::kLocal;
    loc.local_root = percent_decode(a.path);
    if (loc.local_root.empty() || loc.local_root.front() != '/')
      throw InvalidArgumentError(fmt::format("artifact URI '{}': not an absolute file: URI", shown_uri));
    return loc;
  }
  if (a.scheme == "mlflow-artifacts") {
    const UrlParts t = split_url(tracking_uri);
    if (t.scheme != "http" && t.scheme != "https")
      throw InvalidArgumentError(
          fmt::format("artifact URI '{}' needs an http(s) tracking URI to resolve against, got '{}'",
                      shown_uri, redact_url(std::string(tracking_uri))));
    if (!a.netloc.empty()) {
      // As in Python: "mlflow-artifacts://5000/x" is a port without a host.
      const bool numeric =
          std::all_of(a.netloc.begin(), a.netloc.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (numeric)
        throw InvalidArgumentError(fmt::format(
            "artifact URI '{}' was supplied with a port number ({}) but no host", shown_uri, a.netloc));
    }
    std::string prefix = t.path;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    loc.api_prefix = t.scheme + "://" + (a.netloc.empty() ? t.netloc : a.netloc) + prefix + "/api/2.0";
    std::string path = percent_decode(a.path);
    // "mlflow-artifacts:/api/2.0/mlflow-artifacts/artifacts/x" is what some tools write.
    static constexpr std::string_view kRoute = "/api/2.0/mlflow-artifacts/artifacts";
    if (starts_with(path, kRoute) && (path.size() == kRoute.size() || path[kRoute.size()] == '/'))
      path = path.substr(kRoute.size());
    loc.root = normalize_segments(path);
    return loc;
  }
  if (a.scheme == "http" || a.scheme == "https") {
    static constexpr std::string_view kRoute = "/mlflow-artifacts/artifacts";
    const auto at = a.path.find(kRoute);
    if (at == std::string::npos || a.netloc.empty())
      throw InvalidArgumentError(fmt::format(
          "artifact URI '{}' is not an MLflow artifact proxy URL (…/api/2.0/mlflow-artifacts/artifacts/…)",
          shown_uri));
    const std::string tail = a.path.substr(at + kRoute.size());
    if (!tail.empty() && tail.front() != '/')
      throw InvalidArgumentError(
          fmt::format("artifact URI '{}' is not an MLflow artifact proxy URL", shown_uri));
    loc.api_prefix = a.scheme + "://" + a.netloc + a.path.substr(0, at);
    loc.root = normalize_segments(percent_decode(tail));
    return loc;
  }
  throw InvalidArgumentError(fmt::format(
      "artifact URI '{}': the scheme '{}' is not supported. mlflowpp reaches artifacts through the tracking "
      "server's artifact proxy (mlflow-artifacts:, run the server with --serve-artifacts) or a shared "
      "filesystem (file:)",
      shown_uri, a.scheme));
}

std::unique_ptr<ArtifactRepo> make_artifact_repo(std::shared_ptr<RestClient> rest,
                                                 const std::string& artifact_uri) {
  ArtifactLocation loc = resolve_artifact_location(rest->base_url(), artifact_uri);
  if (loc.kind == ArtifactLocation::Kind::kLocal) return std::make_unique<LocalRepo>(loc.local_root);
  return std::make_unique<ProxyRepo>(std::move(rest), std::move(loc));
}

// ---- operations -----------------------------------------------------------------------

std::string plan_upload_file(const std::string& local_file, const std::string& artifact_path) {
  require_artifact_path("artifact_path", artifact_path, true);
  std::error_code ec;
  const fs::file_status st = fs::status(local_file, ec);
  if (ec || !fs::exists(st))
    throw InvalidArgumentError(fmt::format("local file '{}' does not exist", local_file));
  if (!fs::is_regular_file(st))
    throw InvalidArgumentError(fmt::format("'{}' is not a regular file", local_file));
  const std::string name = fs::path(local_file).filename().string();
  require_artifact_path("file name", name, false);
  return join_artifact_path(artifact_path, name);
}

UploadPlan plan_upload_dir(const std::string& local_dir, const std::string& artifact_path) {
  require_artifact_path("artifact_path", artifact_path, true);
  std::error_code ec;
  if (!fs::is_directory(local_dir, ec))
    throw InvalidArgumentError(
        fmt::format("local directory '{}' does not exist or is not a directory", local_dir));
  UploadPlan plan;
  const fs::path root(local_dir);
  std::vector<fs::path> dirs{root};
  while (!dirs.empty()) {
    const fs::path dir = dirs.back();
    dirs.pop_back();
    std::vector<fs::directory_entry> entries;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
    if (ec) throw Error(fmt::format("cannot list '{}': {}", dir.string(), ec.message()));
    const std::string rel_dir = dir == root ? std::string() : fs::relative(dir, root).generic_string();
    if (entries.empty() && dir != root) {
      plan.empty_dirs.push_back(join_artifact_path(artifact_path, rel_dir));
      plan.empty_dirs_local.push_back(rel_dir);
      continue;
    }
    for (const auto& e : entries) {
      const std::string rel = join_artifact_path(rel_dir, e.path().filename().string());
      std::error_code ec2;
      const bool is_link = e.is_symlink(ec2);
      if (e.is_directory(ec2)) {
        if (is_link) continue;  // as os.walk: symbolic links to directories are not followed
        require_artifact_path("local path", rel, false);
        dirs.push_back(e.path());
      } else if (e.is_regular_file(ec2)) {
        require_artifact_path("local path", rel, false);
        plan.files.push_back({e.path().string(), join_artifact_path(artifact_path, rel)});
      }
      // sockets, FIFOs, devices, dangling links: not artifacts
    }
  }
  std::sort(plan.files.begin(), plan.files.end(), [](const UploadPlan::File& a, const UploadPlan::File& b) {
    return a.artifact_path < b.artifact_path;
  });
  std::sort(plan.empty_dirs.begin(), plan.empty_dirs.end());
  std::sort(plan.empty_dirs_local.begin(), plan.empty_dirs_local.end());
  return plan;
}

LogArtifactsResult upload_tree(ArtifactRepo& repo, const UploadPlan& plan, const ArtifactOptions& options) {
  LogArtifactsResult result;
  for (const auto& f : plan.files) {
    repo.upload_file(f.local_path, f.artifact_path, options);
    ++result.files;
    std::error_code ec;
    const auto n = fs::file_size(f.local_path, ec);
    if (!ec) result.bytes += n;
  }
  for (std::size_t i = 0; i < plan.empty_dirs.size(); ++i)
    if (!repo.make_dir(plan.empty_dirs[i])) result.empty_dirs_skipped.push_back(plan.empty_dirs_local[i]);
  return result;
}

std::vector<FileInfo> list_recursive(ArtifactRepo& repo, const std::string& path) {
  std::vector<FileInfo> out;
  std::function<void(const std::string&)> walk = [&](const std::string& dir) {
    for (auto& info : repo.list(dir)) {
      const bool is_dir = info.is_dir;
      const std::string p = info.path;
      out.push_back(std::move(info));
      if (is_dir) walk(p);
    }
  };
  walk(path);
  std::sort(out.begin(), out.end(), [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
  return out;
}

namespace {

void download_tree(ArtifactRepo& repo, const std::string& path, const fs::path& local_dir,
                   const ArtifactOptions& options) {
  std::error_code ec;
  fs::create_directories(local_dir, ec);
  if (ec) throw Error(fmt::format("cannot create '{}': {}", local_dir.string(), ec.message()));
  for (const auto& info : repo.list(path)) {
    const fs::path local = local_dir / fs::path(std::string(artifact_basename(info.path)));
    if (info.is_dir) {
      download_tree(repo, info.path, local, options);
    } else {
      repo.download_file(info.path, local.string(), options);
    }
  }
}

}  // namespace

std::string download(ArtifactRepo& repo, const std::string& path, const std::string& dst_dir,
                     const ArtifactOptions& options) {
  const fs::path dst(dst_dir);
  const fs::path local = path.empty() ? dst : dst / fs::path(path);
  std::error_code ec;
  fs::create_directories(local.parent_path(), ec);
  if (ec) throw Error(fmt::format("cannot create '{}': {}", local.parent_path().string(), ec.message()));
  if (path.empty()) {
    download_tree(repo, path, local, options);
    return local.string();
  }
  // A directory lists its entries; a file (or a missing path) lists nothing. As in the
  // Python client, a single entry named like the path itself may be a store listing a file
  // as itself: the parent's listing decides. An empty listing may also be an empty
  // directory: the parent's listing tells it from a file.
  const auto entries = repo.list(path);
  bool is_dir = !entries.empty();
  const bool ambiguous = entries.size() == 1 && !entries[0].is_dir &&
                         entries[0].path == join_artifact_path(path, artifact_basename(path));
  if (entries.empty() || ambiguous) {
    is_dir = false;
    for (const auto& p : repo.list(std::string(artifact_dirname(path))))
      if (p.path == path && p.is_dir) is_dir = true;
  }
  if (is_dir) {
    download_tree(repo, path, local, options);
  } else {
    repo.download_file(path, local.string(), options);
  }
  return local.string();
}

std::string dict_to_json(const std::vector<std::pair<std::string, std::string>>& items) {
  if (items.empty()) return "{}";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : items) {
    out += first ? "\n  " : ",\n  ";
    first = false;
    append_json_string(out, k);
    out += ": ";
    append_json_string(out, v);
  }
  out += "\n}";
  return out;
}

}  // namespace mlflowpp::detail
