// The artifact repository behind MLflow's artifact proxy (mlflow-artifacts: URIs).
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "detail/artifacts/artifacts.hpp"
#include "detail/artifacts/bodies.hpp"
#include "detail/codec/json.hpp"
#include "detail/codec/json_read.hpp"
#include "detail/core/text.hpp"
#include "detail/rest/rest.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

namespace {

using namespace artifact_io;
namespace fs = std::filesystem;

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

}  // namespace

std::unique_ptr<ArtifactRepo> make_proxy_repo(std::shared_ptr<RestClient> rest, ArtifactLocation location) {
  return std::make_unique<ProxyRepo>(std::move(rest), std::move(location));
}

}  // namespace mlflowpp::detail
