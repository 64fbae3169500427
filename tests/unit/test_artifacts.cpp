// Artifacts without sockets: path safety, URI resolution and URL layout, and the Client's
// artifact calls over the fake transport (streamed bodies, retries from the first byte,
// downloads that never leave a partial file, multipart upload and its 501 fallback), and
// over a local `file:` root.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "api/client_access.hpp"
#include "detail/artifacts/artifacts.hpp"
#include "fake_transport.hpp"
#include "mlflowpp/mlflowpp.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using mlflowpp::ArtifactOptions;
using mlflowpp::Client;
using mlflowpp::FileInfo;
using mlflowpp::InvalidArgumentError;
using mlflowpp::ServerError;
using mlflowpp::TransportError;
using mlflowpp::detail::ArtifactLocation;
using mlflowpp::detail::check_artifact_path;
using mlflowpp::detail::encode_artifact_path;
using mlflowpp::detail::resolve_artifact_location;
using testing::FakeTransport;
using testing::HttpRequest;
using testing::HttpResponse;

namespace {

constexpr const char* kRunId = "0123456789abcdef0123456789abcdef";
const std::string kBase = "http://mlflow.test:5000/prefix/api/2.0/mlflow-artifacts/artifacts/1/" +
                          std::string(kRunId) + "/artifacts";

std::string run_json(const std::string& artifact_uri) {
  return std::string(R"({"run":{"info":{"run_id":")") + kRunId + R"(","experiment_id":"1","artifact_uri":")" +
         artifact_uri + R"(","status":"RUNNING","lifecycle_stage":"active"}}})";
}

bool is_get_run(const HttpRequest& r) { return r.url.find("/api/2.0/mlflow/runs/get?") != std::string::npos; }

std::string read_all(mlflowpp::detail::BodySource* src) {
  std::string out;
  char buf[7];  // small on purpose: many reads
  for (;;) {
    const std::size_t n = src->read(buf, sizeof buf);
    if (n == 0) return out;
    out.append(buf, n);
  }
}

std::string random_bytes(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << data;
}

/// Names in `dir` (not recursive), to see that no temporary file is left behind.
std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

mlflowpp::ClientOptions quick_options() {
  auto o = testing::fake_options();
  o.retry.backoff_factor = 0.001;
  o.retry.backoff_jitter = 0.0;
  return o;
}

/// A client over a fake server whose runs/get answers `artifact_uri`, and whose other
/// answers come from `handler`.
struct Rig {
  std::shared_ptr<FakeTransport> transport;
  Client client;
  explicit Rig(FakeTransport::Handler handler,
               std::string artifact_uri = "mlflow-artifacts:/1/" + std::string(kRunId) + "/artifacts")
      : transport(std::make_shared<FakeTransport>([handler, artifact_uri](const HttpRequest& r) {
          if (is_get_run(r)) return testing::ok(run_json(artifact_uri));
          return handler(r);
        })),
        client(mlflowpp::detail::ClientAccess::make(quick_options(), transport)) {}
  std::vector<HttpRequest> artifact_requests() const {
    std::vector<HttpRequest> out;
    for (auto& r : transport->requests())
      if (!is_get_run(r)) out.push_back(r);
    return out;
  }
};

ArtifactOptions no_env() { return ArtifactOptions{}; }

}  // namespace

// ---- paths --------------------------------------------------------------------------------

TEST_CASE("artifact paths: safe names are accepted, as they are", "[artifacts]") {
  for (const char* p :
       {"a", "a/b/c.txt", "with space/x y.bin", "50% off", "pct%zz", "x+y&z", "ü/日本/データ.csv", ".hidden",
        "...", "a..b", "q?mark", "semi;colon", "col:on", "C:x", "~tilde", "emoji 😀"}) {
    INFO(p);
    CHECK_FALSE(check_artifact_path("path", p, false).has_value());
  }
  CHECK_FALSE(check_artifact_path("path", "", true).has_value());
}

TEST_CASE("artifact paths: unsafe ones are refused with a message naming the argument", "[artifacts]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "must not be empty"},
      {"/abs/x", "absolute"},
      {"a/../b", "'..'"},
      {"..", "'..'"},
      {"./a", "'.'"},
      {"a//b", "empty segments"},
      {"a/", "empty segments"},
      {"a\\b", "backslash"},
      {"a#b", "'#'"},
      {"a%41b", "two hex digits"},
      {"x%2F..", "two hex digits"},
      {"C:/windows", "Windows drive"},
      {"tab\there", "control"},
      {std::string("nul\0x", 5), "control"},
      {"bad\xff", "UTF-8"},
  };
  for (const auto& [path, why] : cases) {
    INFO(path);
    auto err = check_artifact_path("artifact_path", path, false);
    REQUIRE(err.has_value());
    CHECK_THAT(*err, Catch::Contains("artifact_path"));
    CHECK_THAT(*err, Catch::Contains(why));
  }
}

TEST_CASE("artifact paths: each segment is percent-encoded exactly once", "[artifacts]") {
  CHECK(encode_artifact_path("a b/ü+&/50% off") == "a%20b/%C3%BC%2B%26/50%25%20off");
  CHECK(encode_artifact_path("plain/name.txt") == "plain/name.txt");
  CHECK(encode_artifact_path("q?/x;y:z") == "q%3F/x%3By%3Az");
  CHECK(encode_artifact_path("日本") == "%E6%97%A5%E6%9C%AC");
}

// ---- URIs -----------------------------------------------------------------------------------

TEST_CASE("artifact URIs: mlflow-artifacts resolves against the tracking URI, keeping its prefix",
          "[artifacts]") {
  auto loc = resolve_artifact_location("http://h:5000/prefix", "mlflow-artifacts:/1/r/artifacts");
  CHECK(loc.kind == ArtifactLocation::Kind::kProxy);
  CHECK(loc.api_prefix == "http://h:5000/prefix/api/2.0");
  CHECK(loc.root == "1/r/artifacts");
  CHECK(loc.file_url("") == "http://h:5000/prefix/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts");
  CHECK(loc.file_url("d/a b.txt") ==
        "http://h:5000/prefix/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/d/a%20b.txt");
  CHECK(loc.list_url("d") ==
        "http://h:5000/prefix/api/2.0/mlflow-artifacts/artifacts?path=1%2Fr%2Fartifacts%2Fd");
  CHECK(loc.list_url("") == "http://h:5000/prefix/api/2.0/mlflow-artifacts/artifacts?path=1%2Fr%2Fartifacts");
  CHECK(loc.mpu_url("create", "sub") ==
        "http://h:5000/prefix/api/2.0/mlflow-artifacts/mpu/create/1/r/artifacts/sub");
  CHECK(loc.mpu_url("abort", "") == "http://h:5000/prefix/api/2.0/mlflow-artifacts/mpu/abort/1/r/artifacts");

  // A host in the artifact URI replaces the tracking URI's (scheme and prefix stay).
  loc =
      resolve_artifact_location("https://t.example/ml", "mlflow-artifacts://art.example:8443/1/r/artifacts");
  CHECK(loc.api_prefix == "https://art.example:8443/ml/api/2.0");
  CHECK(loc.root == "1/r/artifacts");
  // The bare root keeps the prefix too (Python's resolve_uri drops it in this one case).
  loc = resolve_artifact_location("http://h/mlflow", "mlflow-artifacts:/");
  CHECK(loc.file_url("x") == "http://h/mlflow/api/2.0/mlflow-artifacts/artifacts/x");
  // Repeated and trailing slashes collapse; escapes are decoded once and encoded once.
  loc = resolve_artifact_location("http://h", "mlflow-artifacts:///a//my%20exp/r/");
  CHECK(loc.root == "a/my exp/r");
  CHECK(loc.file_url("f") == "http://h/api/2.0/mlflow-artifacts/artifacts/a/my%20exp/r/f");
  CHECK_THROWS_AS(resolve_artifact_location("http://h", "mlflow-artifacts://5000/x"), InvalidArgumentError);
}

TEST_CASE("artifact URIs: http(s) proxy URLs are used as they are", "[artifacts]") {
  auto loc = resolve_artifact_location(
      "http://tracking:5000", "https://proxy.example/base/api/2.0/mlflow-artifacts/artifacts/7/r/artifacts/");
  CHECK(loc.kind == ArtifactLocation::Kind::kProxy);
  CHECK(loc.api_prefix == "https://proxy.example/base/api/2.0");
  CHECK(loc.root == "7/r/artifacts");
  CHECK(loc.file_url("m") == "https://proxy.example/base/api/2.0/mlflow-artifacts/artifacts/7/r/artifacts/m");
  CHECK_THROWS_AS(resolve_artifact_location("http://h", "http://h/some/other/place"), InvalidArgumentError);
}

TEST_CASE("artifact URIs: file: and absolute paths are local, other schemes are refused", "[artifacts]") {
  CHECK(resolve_artifact_location("http://h", "file:///srv/mlruns/1/r/artifacts").local_root ==
        "/srv/mlruns/1/r/artifacts");
  CHECK(resolve_artifact_location("http://h", "file://localhost/srv/a%20b").local_root == "/srv/a b");
  CHECK(resolve_artifact_location("http://h", "file:/srv/x").local_root == "/srv/x");
  const auto abs = resolve_artifact_location("http://h", "/srv/plain/path");
  CHECK(abs.kind == ArtifactLocation::Kind::kLocal);
  CHECK(abs.local_root == "/srv/plain/path");
  CHECK_THROWS_AS(resolve_artifact_location("http://h", "file://otherhost/srv/x"), InvalidArgumentError);
  for (const char* uri : {"s3://bucket/key", "gs://b/k", "dbfs:/x", "runs:/r/x", "relative/path"}) {
    INFO(uri);
    CHECK_THROWS_WITH(resolve_artifact_location("http://h", uri), Catch::Contains("not supported"));
  }
}

// ---- options ----------------------------------------------------------------------------------

TEST_CASE("ArtifactOptions: defaults, environment and validation", "[artifacts]") {
  ArtifactOptions d;
  CHECK_FALSE(d.enable_proxy_multipart_upload);
  CHECK(d.multipart_upload_minimum_file_size == 500LL * 1024 * 1024);
  CHECK(d.multipart_upload_chunk_size == 10LL * 1024 * 1024);
  CHECK(d.low_speed_limit == 1024);
  CHECK(d.low_speed_time == std::chrono::seconds(120));

  ::setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "TRUE", 1);
  ::setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1000", 1);
  ::setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "300", 1);
  ::setenv("MLFLOWPP_ARTIFACT_LOW_SPEED_LIMIT", "10", 1);
  ::setenv("MLFLOWPP_ARTIFACT_LOW_SPEED_TIME", "7", 1);
  auto e = ArtifactOptions::from_env();
  CHECK(e.enable_proxy_multipart_upload);
  CHECK(e.multipart_upload_minimum_file_size == 1000);
  CHECK(e.multipart_upload_chunk_size == 300);
  CHECK(e.low_speed_limit == 10);
  CHECK(e.low_speed_time == std::chrono::seconds(7));
  ::setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "0", 1);
  CHECK_THROWS_WITH(ArtifactOptions::from_env(), Catch::Contains("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"));
  ::setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "300", 1);
  ::setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "maybe", 1);
  CHECK_THROWS_WITH(ArtifactOptions::from_env(), Catch::Contains("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"));
  for (const char* v : {"MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE",
                        "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "MLFLOWPP_ARTIFACT_LOW_SPEED_LIMIT",
                        "MLFLOWPP_ARTIFACT_LOW_SPEED_TIME"})
    ::unsetenv(v);

  ArtifactOptions bad;
  bad.low_speed_time = std::chrono::seconds(0);
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("low_speed_time"));
}

// ---- the Client over the fake transport ------------------------------------------------------

TEST_CASE("log_artifact streams the file in one PUT under the prefixed, encoded URL", "[artifacts]") {
  const support::TempDir tmp("unit-artifacts");
  const std::string data = random_bytes(100000, 1);
  spit(tmp.path() / "w ü.bin", data);
  std::string received;
  Rig rig([&](const HttpRequest& r) {
    if (r.method == "PUT") received = read_all(r.upload);
    return testing::status(200, "");  // 3.18's streaming route answers an empty body
  });
  std::vector<mlflowpp::TransferProgress> seen;
  auto o = no_env();
  o.progress = [&](const mlflowpp::TransferProgress& p) { seen.push_back(p); };
  rig.client.log_artifact(kRunId, (tmp.path() / "w ü.bin").string(), "models/v 1", o);

  const auto reqs = rig.artifact_requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "PUT");
  CHECK(reqs[0].url == kBase + "/models/v%201/w%20%C3%BC.bin");
  CHECK(reqs[0].body.empty());  // streamed, not copied into the request
  CHECK(reqs[0].low_speed_time == std::chrono::seconds(120));
  CHECK(reqs[0].send_credentials);
  CHECK(std::find(reqs[0].headers.begin(), reqs[0].headers.end(), "Content-Type: application/octet-stream") !=
        reqs[0].headers.end());
  CHECK(received == data);
  REQUIRE(seen.size() >= 2);
  CHECK(seen.front().bytes_done == 0);
  CHECK(seen.back().bytes_done == 100000);
  CHECK(seen.back().bytes_total == 100000);
  CHECK(seen.back().artifact_path == "models/v 1/w ü.bin");
  CHECK(seen.back().direction == mlflowpp::TransferDirection::kUpload);
}

TEST_CASE("unsafe paths and missing files are refused before any request", "[artifacts]") {
  const support::TempDir tmp("unit-artifacts");
  spit(tmp.path() / "ok.txt", "x");
  spit(tmp.path() / "tree" / "bad#name.txt", "x");
  Rig rig([](const HttpRequest&) { return testing::ok(); });
  auto& c = rig.client;
  const std::string ok = (tmp.path() / "ok.txt").string();
  CHECK_THROWS_AS(c.log_artifact(kRunId, ok, "../escape", no_env()), InvalidArgumentError);
  CHECK_THROWS_AS(c.log_artifact(kRunId, ok, "/abs", no_env()), InvalidArgumentError);
  CHECK_THROWS_AS(c.log_artifact(kRunId, ok, "a\\b", no_env()), InvalidArgumentError);
  CHECK_THROWS_AS(c.log_artifact(kRunId, ok, "a#b", no_env()), InvalidArgumentError);
  CHECK_THROWS_AS(c.log_artifact(kRunId, (tmp.path() / "missing").string(), "", no_env()),
                  InvalidArgumentError);
  CHECK_THROWS_AS(c.log_artifact(kRunId, tmp.path().string(), "", no_env()),
                  InvalidArgumentError);  // a directory
  CHECK_THROWS_AS(c.log_artifacts(kRunId, (tmp.path() / "tree").string(), "", no_env()),
                  InvalidArgumentError);
  CHECK_THROWS_AS(c.log_artifacts(kRunId, ok, "", no_env()), InvalidArgumentError);  // not a directory
  CHECK_THROWS_AS(c.log_text(kRunId, "t", "dir/", no_env()), InvalidArgumentError);
  CHECK_THROWS_AS(c.log_text(kRunId, "t", "", no_env()), InvalidArgumentError);
  CHECK_THROWS_AS(c.log_dict(kRunId, "{not json", "x.json", no_env()), InvalidArgumentError);
  CHECK_THROWS_AS(c.list_artifacts(kRunId, "a//b"), InvalidArgumentError);
  CHECK_THROWS_AS(c.list_artifacts_recursive(kRunId, "../x"), InvalidArgumentError);
  CHECK_THROWS_AS(c.download_artifacts(kRunId, "a/../../etc", tmp.path().string(), no_env()),
                  InvalidArgumentError);
  CHECK_THROWS_AS(c.download_artifacts(kRunId, "x", "", no_env()), InvalidArgumentError);
  CHECK_THROWS_AS(c.delete_artifacts(kRunId, "/"), InvalidArgumentError);
  auto bad = no_env();
  bad.multipart_upload_chunk_size = 0;
  CHECK_THROWS_AS(c.log_artifact(kRunId, ok, "", bad), InvalidArgumentError);
  CHECK(rig.transport->requests().empty());  // not even runs/get
}

TEST_CASE("a retried upload starts again from the first byte", "[artifacts]") {
  const support::TempDir tmp("unit-artifacts");
  const std::string data = random_bytes(50000, 2);
  spit(tmp.path() / "f.bin", data);
  std::vector<std::string> bodies;
  int puts = 0;
  Rig rig([&](const HttpRequest& r) -> HttpResponse {
    ++puts;
    if (puts == 1) {  // the server reads part of the body, then fails
      char buf[1000];
      bodies.emplace_back(buf, r.upload->read(buf, sizeof buf));
      return testing::status(503, "busy");
    }
    if (puts == 2) {  // a connection reset mid-body
      char buf[3000];
      bodies.emplace_back(buf, r.upload->read(buf, sizeof buf));
      throw TransportError(55, "Send failure: Connection reset by peer");
    }
    bodies.push_back(read_all(r.upload));
    return testing::status(200, "");
  });
  rig.client.log_artifact(kRunId, (tmp.path() / "f.bin").string(), "", no_env());
  CHECK(puts == 3);
  REQUIRE(bodies.size() == 3);
  CHECK(bodies[0] == data.substr(0, 1000));
  CHECK(bodies[1] == data.substr(0, 3000));  // rewound before the second attempt
  CHECK(bodies[2] == data);                  // and again before the third
}

TEST_CASE("a download cut short is retried from an empty file, never a partial file", "[artifacts]") {
  const support::TempDir tmp("unit-artifacts");
  const std::string data = random_bytes(30000, 3);
  int gets = 0;
  Rig rig([&](const HttpRequest& r) -> HttpResponse {
    if (r.url.find("?path=") != std::string::npos) return testing::ok("{}");  // a file lists nothing
    ++gets;
    HttpResponse resp = testing::status(200, "");
    resp.content_length = static_cast<int64_t>(data.size());
    // The first attempt delivers half of what it announced (a connection cut short).
    const std::size_t n = gets == 1 ? data.size() / 2 : data.size();
    r.download->write(data.data(), n);
    return resp;
  });
  const std::string local = rig.client.download_artifacts(kRunId, "d/f.bin", tmp.path().string(), no_env());
  CHECK(gets == 2);
  CHECK(local == (tmp.path() / "d" / "f.bin").string());
  CHECK(slurp(local) == data);
  CHECK(names_in(tmp.path() / "d") == std::vector<std::string>{"f.bin"});  // no temporary left
}

TEST_CASE("a failed download leaves neither the file nor a temporary", "[artifacts]") {
  const support::TempDir tmp("unit-artifacts");
  SECTION("retries exhausted on a truncated body") {
    int gets = 0;
    Rig rig([&](const HttpRequest& r) -> HttpResponse {
      if (r.url.find("?path=") != std::string::npos) return testing::ok("{}");
      ++gets;
      HttpResponse resp = testing::status(200, "");
      resp.content_length = 100;
      r.download->write("0123456789", 10);
      return resp;
    });
    auto err = [&] {
      try {
        rig.client.download_artifacts(kRunId, "f.bin", tmp.path().string(), no_env());
      } catch (const TransportError& e) {
        return std::string(e.what());
      }
      return std::string();
    }();
    CHECK_THAT(err, Catch::Contains("received 10 of the 100 bytes"));
    CHECK(gets == 4);  // 1 + max_retries (3)
  }
  SECTION("the server's 404") {
    Rig rig([&](const HttpRequest& r) -> HttpResponse {
      if (r.url.find("?path=") != std::string::npos) return testing::ok("{}");
      return testing::mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", "No such artifact: 'f.bin'");
    });
    try {
      rig.client.download_artifacts(kRunId, "f.bin", tmp.path().string(), no_env());
      FAIL("no exception");
    } catch (const ServerError& e) {
      CHECK(e.is_not_found());
      CHECK(e.http_status() == 404);
    }
  }
  SECTION("a progress callback that throws") {
    Rig rig([&](const HttpRequest& r) -> HttpResponse {
      if (r.url.find("?path=") != std::string::npos) return testing::ok("{}");
      HttpResponse resp = testing::status(200, "");
      resp.content_length = 5;
      r.download->write("hello", 5);
      if (r.progress) r.progress(5, 5);
      return resp;
    });
    auto o = no_env();
    o.progress = [](const mlflowpp::TransferProgress& p) {
      if (p.bytes_done > 0) throw std::runtime_error("cancelled by the user");
    };
    CHECK_THROWS_WITH(rig.client.download_artifacts(kRunId, "f.bin", tmp.path().string(), o),
                      "cancelled by the user");
  }
  CHECK(names_in(tmp.path()).empty());
}

TEST_CASE("list_artifacts: full relative paths, sizes, sorted, and unsafe names from the server refused",
          "[artifacts]") {
  std::string listing = R"({"files":[{"path":"z.txt","is_dir":false,"file_size":12},
      {"path":"a dir","is_dir":true},{"path":"empty.bin","is_dir":false}]})";
  Rig rig([&](const HttpRequest&) { return testing::ok(listing); });
  auto files = rig.client.list_artifacts(kRunId, "sub/ü");
  REQUIRE(files.size() == 3);
  CHECK(files[0].path == "sub/ü/a dir");
  CHECK(files[0].is_dir);
  CHECK_FALSE(files[0].file_size.has_value());
  CHECK(files[1].path == "sub/ü/empty.bin");
  CHECK(files[1].file_size == std::optional<int64_t>(0));
  CHECK(files[2].path == "sub/ü/z.txt");
  CHECK(files[2].file_size == std::optional<int64_t>(12));
  auto reqs = rig.artifact_requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].url == "http://mlflow.test:5000/prefix/api/2.0/mlflow-artifacts/artifacts?path=1%2F" +
                           std::string(kRunId) + "%2Fartifacts%2Fsub%2F%C3%BC");
  CHECK(rig.client.list_artifacts(kRunId).size() == 3);

  listing = R"({"files":[{"path":"../../etc/passwd","is_dir":false}]})";
  CHECK_THROWS_AS(rig.client.list_artifacts(kRunId), mlflowpp::ParseError);
  listing = "{}";
  CHECK(rig.client.list_artifacts(kRunId).empty());
}

TEST_CASE("download_artifacts of a directory: the tree, with its empty directories", "[artifacts]") {
  const support::TempDir tmp("unit-artifacts");
  const std::map<std::string, std::string> listings = {
      {"", R"({"files":[{"path":"a.txt","is_dir":false,"file_size":1},{"path":"d","is_dir":true}]})"},
      {"/d", R"({"files":[{"path":"b c.bin","is_dir":false,"file_size":3},{"path":"e","is_dir":true}]})"},
      {"/d/e", R"({})"},
  };
  const std::map<std::string, std::string> files = {{"/a.txt", "A"}, {"/d/b%20c.bin", "BCD"}};
  const std::string list_prefix =
      "http://mlflow.test:5000/prefix/api/2.0/mlflow-artifacts/artifacts?path=1%2F" + std::string(kRunId) +
      "%2Fartifacts";
  Rig rig([&](const HttpRequest& r) -> HttpResponse {
    if (r.url.compare(0, list_prefix.size(), list_prefix) == 0) {
      std::string rest = mlflowpp::detail::percent_decode(r.url.substr(list_prefix.size()));
      auto it = listings.find(rest);
      return testing::ok(it == listings.end() ? "{}" : it->second);
    }
    auto it = files.find(r.url.substr(kBase.size()));
    if (it == files.end()) return testing::mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", "no");
    HttpResponse resp = testing::status(200, "");
    resp.content_length = static_cast<int64_t>(it->second.size());
    r.download->write(it->second.data(), it->second.size());
    return resp;
  });
  const auto dst = tmp.path() / "out";
  CHECK(rig.client.download_artifacts(kRunId, "", dst.string(), no_env()) == dst.string());
  CHECK(slurp(dst / "a.txt") == "A");
  CHECK(slurp(dst / "d" / "b c.bin") == "BCD");
  CHECK(fs::is_directory(dst / "d" / "e"));
  CHECK(fs::is_empty(dst / "d" / "e"));
  // A sub-directory lands under its own relative path.
  const auto dst2 = tmp.path() / "out2";
  CHECK(rig.client.download_artifacts(kRunId, "d", dst2.string(), no_env()) == (dst2 / "d").string());
  CHECK(slurp(dst2 / "d" / "b c.bin") == "BCD");
  // An empty directory is told from a file by its parent's listing.
  const auto dst3 = tmp.path() / "out3";
  CHECK(rig.client.download_artifacts(kRunId, "d/e", dst3.string(), no_env()) == (dst3 / "d" / "e").string());
  CHECK(fs::is_directory(dst3 / "d" / "e"));
}

TEST_CASE("log_text and log_dict upload their bytes as given", "[artifacts]") {
  std::map<std::string, std::string> got;
  Rig rig([&](const HttpRequest& r) {
    if (r.method == "PUT") got[r.url.substr(kBase.size())] = read_all(r.upload);
    return testing::status(200, "");
  });
  rig.client.log_text(kRunId, "line 1\nü 日本\n", "notes/read me.txt", no_env());
  rig.client.log_dict(kRunId, R"({"nested": {"a": [1, 2.5, null]}, "s": "x"})", "cfg.json", no_env());
  rig.client.log_dict(kRunId, std::map<std::string, std::string>{{"b", "2"}, {"a", "ü \"q\""}}, "m.yaml",
                      no_env());
  rig.client.log_dict(kRunId, std::map<std::string, std::string>{}, "empty.json", no_env());
  rig.client.log_dict(kRunId, {{"k", "v"}}, "braced.json", no_env());  // a braced list is the map
  CHECK(got["/notes/read%20me.txt"] == "line 1\nü 日本\n");
  CHECK(got["/cfg.json"] == R"({"nested": {"a": [1, 2.5, null]}, "s": "x"})");
  CHECK(got["/m.yaml"] == "{\n  \"a\": \"ü \\\"q\\\"\",\n  \"b\": \"2\"\n}");
  CHECK(got["/empty.json"] == "{}");
  CHECK(got["/braced.json"] == "{\n  \"k\": \"v\"\n}");
}

TEST_CASE("log_artifacts: one PUT per file, sorted, empty directories reported as skipped", "[artifacts]") {
  const support::TempDir tmp("unit-artifacts");
  const auto src = tmp.path() / "src";
  spit(src / "top.txt", "T");
  spit(src / "a b" / "c+d.bin", "CD");
  spit(src / "ü" / "日本" / "x.csv", "1,2\n");
  fs::create_directories(src / "empty");
  fs::create_directories(src / "nested" / "empty2");
  spit(src / "nested" / "f", "");
  std::map<std::string, std::string> got;
  Rig rig([&](const HttpRequest& r) {
    if (r.method == "PUT") got[r.url.substr(kBase.size())] = read_all(r.upload);
    return testing::status(200, "");
  });
  const auto res = rig.client.log_artifacts(kRunId, src.string(), "run data", no_env());
  CHECK(res.files == 4);
  CHECK(res.bytes == 1 + 2 + 4);
  CHECK(res.empty_dirs_skipped == std::vector<std::string>{"empty", "nested/empty2"});
  const std::map<std::string, std::string> want = {
      {"/run%20data/top.txt", "T"},
      {"/run%20data/a%20b/c%2Bd.bin", "CD"},
      {"/run%20data/%C3%BC/%E6%97%A5%E6%9C%AC/x.csv", "1,2\n"},
      {"/run%20data/nested/f", ""},
  };
  CHECK(got == want);
}

TEST_CASE("multipart upload: create, parts to presigned URLs without credentials, complete", "[artifacts]") {
  const support::TempDir tmp("unit-artifacts");
  const std::string data = random_bytes(10, 4);
  spit(tmp.path() / "big.bin", data);
  std::vector<std::string> parts(3);
  std::string complete_body, create_body;
  std::vector<HttpRequest> part_requests;
  Rig rig([&](const HttpRequest& r) -> HttpResponse {
    if (r.method == "POST" &&
        r.url == "http://mlflow.test:5000/prefix/api/2.0/mlflow-artifacts/mpu/create/1/" +
                     std::string(kRunId) + "/artifacts/m%20dir") {
      create_body = r.body;
      return testing::ok(R"({"upload_id":"up-1","credentials":[
          {"url":"https://bucket.s3.test/k?partNumber=1&sig=a","part_number":1,"headers":{"x-amz-meta":"m1"}},
          {"url":"https://bucket.s3.test/k?partNumber=2&sig=b","part_number":2,"headers":{}},
          {"url":"https://bucket.s3.test/k?partNumber=3&sig=c","part_number":3}]})");
    }
    if (r.method == "PUT" && r.url.rfind("https://bucket.s3.test/", 0) == 0) {
      part_requests.push_back(r);
      const int n = r.url[r.url.find("partNumber=") + 11] - '0';
      parts[static_cast<std::size_t>(n - 1)] = read_all(r.upload);
      HttpResponse resp = testing::status(200, "");
      resp.etag = "\"etag-" + std::to_string(n) + "\"";
      return resp;
    }
    if (r.method == "POST" && r.url.find("/mpu/complete/") != std::string::npos) {
      complete_body = r.body;
      return testing::ok("{}");
    }
    return testing::status(599, "unexpected " + r.method + " " + r.url);
  });
  auto o = no_env();
  o.enable_proxy_multipart_upload = true;
  o.multipart_upload_minimum_file_size = 10;
  o.multipart_upload_chunk_size = 4;
  rig.client.log_artifact(kRunId, (tmp.path() / "big.bin").string(), "m dir", o);

  CHECK(create_body == R"({"path":"big.bin","num_parts":3})");
  CHECK(parts[0] == data.substr(0, 4));
  CHECK(parts[1] == data.substr(4, 4));
  CHECK(parts[2] == data.substr(8, 2));
  REQUIRE(part_requests.size() == 3);
  for (const auto& r : part_requests) {
    CHECK_FALSE(r.send_credentials);  // presigned URLs carry their own authorization
    for (const auto& h : r.headers) CHECK_THAT(h, !Catch::StartsWith("X-MLflow"));
  }
  CHECK(part_requests[0].headers == std::vector<std::string>{"x-amz-meta: m1"});
  CHECK(complete_body ==
        R"({"path":"big.bin","upload_id":"up-1","parts":[)"
        R"({"part_number":1,"etag":"\"etag-1\"","url":"https://bucket.s3.test/k?partNumber=1&sig=a"},)"
        R"({"part_number":2,"etag":"\"etag-2\"","url":"https://bucket.s3.test/k?partNumber=2&sig=b"},)"
        R"({"part_number":3,"etag":"\"etag-3\"","url":"https://bucket.s3.test/k?partNumber=3&sig=c"}]})");
  // No single PUT through the proxy.
  for (const auto& r : rig.artifact_requests())
    CHECK(r.url.find("/mlflow-artifacts/artifacts/") == std::string::npos);
}

TEST_CASE("multipart upload: 501 NOT_IMPLEMENTED falls back to one PUT, a failed part aborts",
          "[artifacts]") {
  const support::TempDir tmp("unit-artifacts");
  const std::string data = random_bytes(9, 5);
  spit(tmp.path() / "f.bin", data);
  auto o = no_env();
  o.enable_proxy_multipart_upload = true;
  o.multipart_upload_minimum_file_size = 0;
  o.multipart_upload_chunk_size = 4;

  SECTION("501") {
    std::string put_body;
    Rig rig([&](const HttpRequest& r) -> HttpResponse {
      if (r.url.find("/mpu/create/") != std::string::npos)
        return testing::mlflow_error(501, "NOT_IMPLEMENTED",
                                     "Multipart upload is not supported for the current artifact repository");
      if (r.method == "PUT") put_body = read_all(r.upload);
      return testing::status(200, "");
    });
    rig.client.log_artifact(kRunId, (tmp.path() / "f.bin").string(), "", o);
    const auto reqs = rig.artifact_requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].method == "POST");
    CHECK(reqs[1].method == "PUT");
    CHECK(reqs[1].url == kBase + "/f.bin");
    CHECK(put_body == data);
  }
  SECTION("a part refused by the storage") {
    std::vector<std::string> seen;
    Rig rig([&](const HttpRequest& r) -> HttpResponse {
      seen.push_back(r.method + " " + r.url.substr(0, r.url.find('?')));
      if (r.url.find("/mpu/create/") != std::string::npos)
        return testing::ok(R"({"upload_id":"u","credentials":[{"url":"https://s.test/1","part_number":1},
            {"url":"https://s.test/2","part_number":2},{"url":"https://s.test/3","part_number":3}]})");
      if (r.url == "https://s.test/2") return testing::status(403, "<Error>AccessDenied</Error>");
      if (r.method == "PUT") (void)read_all(r.upload);
      return testing::ok("{}");
    });
    CHECK_THROWS_AS(rig.client.log_artifact(kRunId, (tmp.path() / "f.bin").string(), "", o), ServerError);
    REQUIRE(seen.size() == 4);
    CHECK(seen[1] == "PUT https://s.test/1");
    CHECK(seen[2] == "PUT https://s.test/2");
    CHECK(seen[3].find("POST http://mlflow.test:5000/prefix/api/2.0/mlflow-artifacts/mpu/abort/") == 0);
  }
  SECTION("below the minimum size, or disabled: no multipart") {
    Rig rig([&](const HttpRequest& r) -> HttpResponse {
      if (r.method == "PUT") (void)read_all(r.upload);
      return testing::status(200, "");
    });
    auto small = o;
    small.multipart_upload_minimum_file_size = 10;
    rig.client.log_artifact(kRunId, (tmp.path() / "f.bin").string(), "", small);
    auto off = o;
    off.enable_proxy_multipart_upload = false;
    rig.client.log_artifact(kRunId, (tmp.path() / "f.bin").string(), "", off);
    const auto reqs = rig.artifact_requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].method == "PUT");
    CHECK(reqs[1].method == "PUT");
  }
}

TEST_CASE("delete_artifacts sends DELETE for the file or the root", "[artifacts]") {
  Rig rig([](const HttpRequest&) { return testing::ok("{}"); });
  rig.client.delete_artifacts(kRunId, "d/x y");
  rig.client.delete_artifacts(kRunId, "");
  const auto reqs = rig.artifact_requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].method == "DELETE");
  CHECK(reqs[0].url == kBase + "/d/x%20y");
  CHECK(reqs[1].url == kBase);
}

TEST_CASE("a run whose artifact URI is on cloud storage is refused with a clear error", "[artifacts]") {
  Rig rig([](const HttpRequest&) { return testing::ok("{}"); }, "s3://bucket/1/r/artifacts");
  CHECK_THROWS_WITH(rig.client.list_artifacts(kRunId), Catch::Contains("--serve-artifacts"));
}

// ---- a local (file:) root: the client shares the server's filesystem ---------------------------

TEST_CASE("file: artifact roots are read and written directly, empty directories included", "[artifacts]") {
  const support::TempDir tmp("unit-artifacts");
  const auto root = tmp.path() / "server root" / "1" / kRunId / "artifacts";
  const auto src = tmp.path() / "src";
  const std::string big = random_bytes(3 << 20, 6);
  spit(src / "big.bin", big);
  spit(src / "a b" / "ü.txt", "ü");
  fs::create_directories(src / "empty" / "deeper");
  Rig rig([](const HttpRequest& r) { return testing::status(599, "no proxy request expected: " + r.url); },
          "file://" + mlflowpp::detail::encode_artifact_path(root.string()));

  int64_t last = -1;
  auto o = no_env();
  o.progress = [&](const mlflowpp::TransferProgress& p) { last = p.bytes_done; };
  const auto res = rig.client.log_artifacts(kRunId, src.string(), "up", o);
  CHECK(res.files == 2);
  CHECK(res.empty_dirs_skipped.empty());
  CHECK(last == static_cast<int64_t>(big.size()));  // files go in path order: big.bin is the last
  CHECK(slurp(root / "up" / "big.bin") == big);
  CHECK(fs::is_directory(root / "up" / "empty" / "deeper"));

  rig.client.log_text(kRunId, "hello", "t/x.txt", o);
  CHECK(slurp(root / "t" / "x.txt") == "hello");

  const auto all = rig.client.list_artifacts_recursive(kRunId);
  std::vector<std::string> paths;
  for (const auto& f : all) paths.push_back(f.path + (f.is_dir ? "/" : "=" + std::to_string(*f.file_size)));
  CHECK(paths == std::vector<std::string>{"t/", "t/x.txt=5", "up/", "up/a b/", "up/a b/ü.txt=2",
                                          "up/big.bin=" + std::to_string(big.size()), "up/empty/",
                                          "up/empty/deeper/"});

  const auto dst = tmp.path() / "dst";
  rig.client.download_artifacts(kRunId, "up", dst.string(), o);
  CHECK(slurp(dst / "up" / "big.bin") == big);
  CHECK(slurp(dst / "up" / "a b" / "ü.txt") == "ü");
  CHECK(fs::is_directory(dst / "up" / "empty" / "deeper"));

  try {
    rig.client.download_artifacts(kRunId, "missing.txt", dst.string(), o);
    FAIL("no exception");
  } catch (const ServerError& e) {
    CHECK(e.is_not_found());
  }
  rig.client.delete_artifacts(kRunId, "up");
  CHECK_FALSE(fs::exists(root / "up"));
  CHECK(rig.artifact_requests().empty());
}
