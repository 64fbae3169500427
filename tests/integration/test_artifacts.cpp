// Artifacts against the real MLflow server (through its artifact proxy, under a path
// prefix, at http(s) and file: roots), checked byte for byte, and cross-checked with the
// official Python client. The 2 GiB test is in test_artifacts_large.cpp.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <vector>

#include "detail/artifacts/artifacts.hpp"
#include "detail/rest/rest.hpp"
#include "integration/artifact_test_util.hpp"
#include "integration/itest_util.hpp"
#include "integration/server.hpp"

namespace fs = std::filesystem;
using atest::TempDir;
using mlflowpp::ArtifactOptions;
using mlflowpp::FileInfo;
using mlflowpp::InvalidArgumentError;
using mlflowpp::ServerError;

namespace {

/// "path" for directories, "path=size" for files: a listing in one comparable line each.
std::vector<std::string> describe(const std::vector<FileInfo>& files) {
  std::vector<std::string> out;
  for (const auto& f : files)
    out.push_back(f.is_dir ? f.path + "/" : f.path + "=" + std::to_string(f.file_size.value_or(-1)));
  return out;
}

/// Records the last progress report per artifact path.
struct ProgressLog {
  std::map<std::string, std::pair<int64_t, int64_t>> last;
  int calls = 0;
  ArtifactOptions options() {
    ArtifactOptions o;
    o.progress = [this](const mlflowpp::TransferProgress& p) {
      ++calls;
      last[p.artifact_path] = {p.bytes_done, p.bytes_total};
    };
    return o;
  }
};

/// The odd-named tree of the tree tests: nested and empty folders; spaces, '%', '+', '&',
/// 'ü', '日本' in names.
std::map<std::string, std::string> make_tree(const TempDir& tmp, const std::string& name) {
  std::map<std::string, std::string> files = {
      {"top.txt", "top level\n"},
      {"with space/100% sure.txt", "percent"},
      {"with space/a+b&c.bin", atest::random_bytes(4096, 21)},
      {"ü/日本/データ.csv", "x,y\n1,2\n"},
      {"ü/grün.txt", "ü"},
      {"nested/deeper/deepest/leaf.bin", atest::random_bytes(70000, 22)},
      {"zero", ""},
  };
  for (const auto& [rel, data] : files) atest::write_file(tmp / (name + "/" + rel), data);
  fs::create_directories(tmp / (name + "/empty"));
  fs::create_directories(tmp / (name + "/nested/empty too"));
  return files;
}

}  // namespace

TEST_CASE("artifacts: byte-exact round trips of 0 B, 1 B and a few MB", "[integration][artifacts]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string run = atest::new_run(client, "sizes");
  TempDir tmp;
  const std::map<std::string, std::string> files = {
      {"zero.bin", ""}, {"one.bin", "\x7f"}, {"few MB.bin", atest::random_bytes((3 << 20) + 17, 1)}};
  ProgressLog up;
  for (const auto& [name, data] : files) {
    atest::write_file(tmp / ("src/" + name), data);
    client.log_artifact(run, (tmp / ("src/" + name)).string(), "sizes", up.options());
  }
  CHECK(describe(client.list_artifacts(run, "sizes")) ==
        std::vector<std::string>{"sizes/few MB.bin=" + std::to_string((3 << 20) + 17), "sizes/one.bin=1",
                                 "sizes/zero.bin=0"});
  ProgressLog down;
  for (const auto& [name, data] : files) {
    INFO(name);
    const std::string local =
        client.download_artifacts(run, "sizes/" + name, (tmp / "dst").string(), down.options());
    CHECK(local == (tmp / ("dst/sizes/" + name)).string());
    CHECK(atest::read_file(local) == data);
    const auto n = static_cast<int64_t>(data.size());
    CHECK(up.last["sizes/" + name] == std::make_pair(n, n));
    CHECK(down.last["sizes/" + name] == std::make_pair(n, n));
  }
  // Replacing an artifact: the second upload wins.
  atest::write_file(tmp / "src/one.bin", "\x01\x02");
  client.log_artifact(run, (tmp / "src/one.bin").string(), "sizes", ArtifactOptions{});
  CHECK(atest::read_file(client.download_artifacts(run, "sizes/one.bin", (tmp / "dst2").string(),
                                                   ArtifactOptions{})) == "\x01\x02");
}

TEST_CASE("artifacts: a tree with nested and empty folders and odd names", "[integration][artifacts]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string run = atest::new_run(client, "tree");
  TempDir tmp;
  const auto files = make_tree(tmp, "src");

  const auto result = client.log_artifacts(run, (tmp / "src").string(), "tree", ArtifactOptions{});
  CHECK(result.files == files.size());
  uint64_t bytes = 0;
  for (const auto& [rel, data] : files) bytes += data.size();
  CHECK(result.bytes == bytes);
  // The proxy stores files only: empty folders cannot be recorded, and are reported. A local
  // artifact folder (the local store's mlruns/) keeps them, as Python's local repository does.
  const bool keeps_empty = testing::local_backend();
  if (keeps_empty)
    CHECK(result.empty_dirs_skipped.empty());
  else
    CHECK(result.empty_dirs_skipped == std::vector<std::string>{"empty", "nested/empty too"});

  CHECK(describe(client.list_artifacts(run)) == std::vector<std::string>{"tree/"});
  std::vector<std::string> level = {"tree/nested/", "tree/top.txt=10", "tree/with space/", "tree/zero=0",
                                    "tree/ü/"};
  if (keeps_empty) level.insert(level.begin(), "tree/empty/");
  CHECK(describe(client.list_artifacts(run, "tree")) == level);
  std::vector<std::string> all = {"tree/nested/",
                                  "tree/nested/deeper/",
                                  "tree/nested/deeper/deepest/",
                                  "tree/nested/deeper/deepest/leaf.bin=70000",
                                  "tree/top.txt=10",
                                  "tree/with space/",
                                  "tree/with space/100% sure.txt=7",
                                  "tree/with space/a+b&c.bin=4096",
                                  "tree/zero=0",
                                  "tree/ü/",
                                  "tree/ü/grün.txt=2",
                                  "tree/ü/日本/",
                                  "tree/ü/日本/データ.csv=8"};
  if (keeps_empty) {
    all.insert(all.begin(), "tree/empty/");
    all.insert(all.begin() + 5, "tree/nested/empty too/");
  }
  CHECK(describe(client.list_artifacts_recursive(run, "tree")) == all);

  // The whole tree comes back byte for byte.
  const std::string local = client.download_artifacts(run, "tree", (tmp / "dst").string(), ArtifactOptions{});
  CHECK(local == (tmp / "dst/tree").string());
  std::map<std::string, std::string> want = files;
  if (keeps_empty) want["empty/"] = want["nested/empty too/"] = "";
  CHECK(atest::tree(local) == want);

  // An empty folder on the server (left behind by a delete, with a local destination) is
  // listed, and downloaded as an empty folder.
  client.delete_artifacts(run, "tree/ü/日本/データ.csv");
  CHECK(describe(client.list_artifacts(run, "tree/ü")) ==
        std::vector<std::string>{"tree/ü/grün.txt=2", "tree/ü/日本/"});
  client.download_artifacts(run, "tree/ü", (tmp / "dst2").string(), ArtifactOptions{});
  CHECK(atest::tree(tmp / "dst2") ==
        std::map<std::string, std::string>{{"tree/ü/grün.txt", "ü"}, {"tree/ü/日本/", ""}});
  client.download_artifacts(run, "tree/ü/日本", (tmp / "dst3").string(), ArtifactOptions{});
  CHECK(atest::tree(tmp / "dst3") == std::map<std::string, std::string>{{"tree/ü/日本/", ""}});
}

TEST_CASE("artifacts: files, missing paths and deletes", "[integration][artifacts]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string run = atest::new_run(client, "misc");
  TempDir tmp;
  client.log_text(run, "abc", "d/e/f.txt", ArtifactOptions{});
  client.log_text(run, "xyz", "d/g.txt", ArtifactOptions{});

  // Listing a file, or a path that does not exist, gives nothing (as in Python).
  CHECK(client.list_artifacts(run, "d/e/f.txt").empty());
  CHECK(client.list_artifacts(run, "no/such/dir").empty());

  auto err = itest::thrown<ServerError>(
      [&] { client.download_artifacts(run, "d/missing.txt", (tmp / "dst").string(), ArtifactOptions{}); });
  REQUIRE(err.has_value());
  CHECK(err->http_status() == 404);
  CHECK(err->is_not_found());
  CHECK_FALSE(fs::exists(tmp / "dst/d/missing.txt"));
  CHECK(fs::is_empty(tmp / "dst/d"));  // no temporary left behind

  // A missing run.
  auto no_run =
      itest::thrown<ServerError>([&] { client.list_artifacts("0123456789abcdef0123456789abcdef"); });
  REQUIRE(no_run.has_value());
  CHECK(no_run->is_not_found());

  // Deleting a file, then a tree; deleting what is not there is not an error.
  client.delete_artifacts(run, "d/g.txt");
  CHECK(describe(client.list_artifacts(run, "d")) == std::vector<std::string>{"d/e/"});
  client.delete_artifacts(run, "d");
  CHECK(client.list_artifacts(run).empty());
  CHECK_NOTHROW(client.delete_artifacts(run, "never/there.txt"));
}

TEST_CASE("artifacts: log_text and log_dict read back exactly", "[integration][artifacts]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string run = atest::new_run(client, "text");
  TempDir tmp;
  const std::string text = "first line\nsecond: ü 日本 😀\n\ttab and \"quotes\"";
  client.log_text(run, text, "notes/read me.md", ArtifactOptions{});
  const std::string json = R"({"lr": 0.1, "layers": [64, 32], "name": "mlp ü"})";
  client.log_dict(run, json, "config/params.json", ArtifactOptions{});
  client.log_dict(run, {{"b", "2"}, {"a", "ü"}}, "config/map.yaml", ArtifactOptions{});
  client.download_artifacts(run, "", (tmp / "dst").string(), ArtifactOptions{});
  CHECK(atest::tree(tmp / "dst") == std::map<std::string, std::string>{
                                        {"notes/read me.md", text},
                                        {"config/params.json", json},
                                        {"config/map.yaml", "{\n  \"a\": \"ü\",\n  \"b\": \"2\"\n}"},
                                    });
}

TEST_CASE("artifacts: unsafe paths are refused without any request", "[integration][artifacts][rest]") {
  if (!testing::have_server()) return;
  std::shared_ptr<atest::RecordingTransport> rec;
  auto client = atest::recording_client(rec);
  const std::string run = atest::new_run(client, "unsafe");
  TempDir tmp;
  atest::write_file(tmp / "ok.txt", "x");
  atest::write_file(tmp / "tree/bad\\name.txt", "x");
  rec->clear();
  const std::string ok = (tmp / "ok.txt").string();
  for (const char* bad :
       {"../escape", "a/../../b", "/etc", "a\\b", "x#y", "a//b", "a/", "./a", "a%2e%2e", "C:/w"}) {
    INFO(bad);
    CHECK_THROWS_AS(client.log_artifact(run, ok, bad, ArtifactOptions{}), InvalidArgumentError);
    CHECK_THROWS_AS(client.log_text(run, "t", std::string(bad) + "/f.txt", ArtifactOptions{}),
                    InvalidArgumentError);
    CHECK_THROWS_AS(client.list_artifacts(run, bad), InvalidArgumentError);
    CHECK_THROWS_AS(client.download_artifacts(run, bad, (tmp / "dst").string(), ArtifactOptions{}),
                    InvalidArgumentError);
    CHECK_THROWS_AS(client.delete_artifacts(run, bad), InvalidArgumentError);
  }
  CHECK_THROWS_AS(client.log_artifacts(run, (tmp / "tree").string(), "", ArtifactOptions{}),
                  InvalidArgumentError);
  CHECK(rec->seen().empty());
  CHECK_FALSE(fs::exists(tmp / "dst"));
}

TEST_CASE("artifacts: a server under --static-prefix: the prefix is kept",
          "[integration][artifacts][prefix][rest]") {
  if (!testing::have_server()) return;
  const char* env = std::getenv("MLFLOWPP_TEST_PREFIX_TRACKING_URI");
  if (env == nullptr || *env == '\0') {
    if (testing::server_required()) FAIL("MLFLOWPP_TEST_PREFIX_TRACKING_URI is not set");
    WARN("skipped: MLFLOWPP_TEST_PREFIX_TRACKING_URI is not set");
    return;
  }
  const std::string uri = env;
  std::shared_ptr<atest::RecordingTransport> rec;
  auto client = atest::recording_client(rec, uri);
  const std::string run = atest::new_run(client, "prefix");
  TempDir tmp;
  const auto files = make_tree(tmp, "src");
  rec->clear();
  client.log_artifacts(run, (tmp / "src").string(), "p", ArtifactOptions{});
  CHECK(client.list_artifacts_recursive(run).size() == 14);  // "p/" and the 13 entries under it
  client.download_artifacts(run, "p", (tmp / "dst").string(), ArtifactOptions{});
  CHECK(atest::tree(tmp / "dst/p") == files);
  // Every artifact request went under the prefix.
  int artifact_requests = 0;
  for (const auto& line : rec->seen()) {
    if (line.find("/mlflow-artifacts/") == std::string::npos) continue;
    ++artifact_requests;
    INFO(line);
    CHECK(line.find(" " + uri + "/api/2.0/mlflow-artifacts/") != std::string::npos);
  }
  CHECK(artifact_requests > static_cast<int>(files.size()) * 2);
}

TEST_CASE("artifacts: http(s) proxy URLs and mlflow-artifacts://host:port roots",
          "[integration][artifacts][rest]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string uri = testing::tracking_uri();
  const std::string host =
      uri.substr(uri.find("://") + 3, uri.find('/', uri.find("://") + 3) - uri.find("://") - 3);
  const std::string tag = testing::unique_name("roots");
  for (const std::string& location : {uri + "/api/2.0/mlflow-artifacts/artifacts/" + tag + "-http",
                                      "mlflow-artifacts://" + host + "/" + tag + "-netloc"}) {
    INFO(location);
    TempDir tmp;
    const std::string text = "via " + location;
    // Through the resolver directly: the proxy serves any root under its destination.
    auto options = testing::options();
    auto rest = std::make_shared<mlflowpp::detail::RestClient>(
        options, mlflowpp::detail::make_curl_transport(options));
    auto repo = mlflowpp::detail::make_artifact_repo(rest, location);
    repo->upload_bytes(text, "a b/x.txt", ArtifactOptions{});
    CHECK(describe(mlflowpp::detail::list_recursive(*repo, "")) ==
          std::vector<std::string>{"a b/", "a b/x.txt=" + std::to_string(text.size())});
    CHECK(atest::read_file(mlflowpp::detail::download(*repo, "a b/x.txt", tmp.path().string(),
                                                      ArtifactOptions{})) == text);
    repo->remove("");
    CHECK(mlflowpp::detail::list_recursive(*repo, "").empty());

    // As a run's artifact root, when the server accepts such an experiment location: 3.18
    // refuses http(s) and mlflow-artifacts://host locations (the server would connect to
    // the host named in them) unless MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES allows it.
    std::string run;
    try {
      run = atest::new_run(client, "root", location);
    } catch (const ServerError& e) {
      CHECK(e.http_status() == 400);
      CHECK(e.error_code() == "INVALID_PARAMETER_VALUE");
      CHECK(itest::contains(e.server_message(), "MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES"));
      continue;
    }
    CHECK(client.get_run(run).info.artifact_uri.rfind(location, 0) == 0);
    client.log_text(run, text, "a b/x.txt", ArtifactOptions{});
    CHECK(describe(client.list_artifacts_recursive(run)) ==
          std::vector<std::string>{"a b/", "a b/x.txt=" + std::to_string(text.size())});
    CHECK(atest::read_file(client.download_artifacts(run, "a b/x.txt", (tmp / "run").string(),
                                                     ArtifactOptions{})) == text);
  }
}

TEST_CASE("artifacts: file: and absolute-path roots are used directly (shared filesystem)",
          "[integration][artifacts][rest]") {
  if (!testing::have_server()) return;
  std::shared_ptr<atest::RecordingTransport> rec;
  auto client = atest::recording_client(rec);
  TempDir roots("roots");
  const std::string plain = (roots / "plain").string();
  for (const std::string& location : {"file://" + (roots / "as uri").string(), plain}) {
    INFO(location);
    const std::string run = atest::new_run(client, "local", location);
    const std::string artifact_uri = client.get_run(run).info.artifact_uri;
    TempDir tmp;
    const auto files = make_tree(tmp, "src");
    rec->clear();
    const auto result = client.log_artifacts(run, (tmp / "src").string(), "t", ArtifactOptions{});
    CHECK(result.empty_dirs_skipped.empty());  // a directory can hold empty folders
    // The files are where the server would have put them.
    const fs::path where =
        artifact_uri.rfind("file://", 0) == 0 ? fs::u8path(artifact_uri.substr(7)) : fs::u8path(artifact_uri);
    auto with_empty = files;
    with_empty["empty/"] = "";
    with_empty["nested/empty too/"] = "";
    CHECK(atest::tree(where / "t") == with_empty);
    CHECK(client.list_artifacts_recursive(run, "t").size() == 15);
    client.download_artifacts(run, "t", (tmp / "dst").string(), ArtifactOptions{});
    CHECK(atest::tree(tmp / "dst/t") == with_empty);
    client.delete_artifacts(run, "t/ü");
    CHECK_FALSE(fs::exists(where / "t" / fs::u8path("ü")));
    // No request went to the artifact proxy: only runs/get.
    for (const auto& line : rec->seen()) CHECK(line.find("/mlflow/runs/get?") != std::string::npos);
  }
}

TEST_CASE("artifacts: multipart upload is opt-in, the real server (local destination) answers 501",
          "[integration][artifacts][rest]") {
  if (!testing::have_server()) return;
  std::shared_ptr<atest::RecordingTransport> rec;
  auto client = atest::recording_client(rec);
  const std::string run = atest::new_run(client, "mpu");
  TempDir tmp;
  const std::string data = atest::random_bytes((2 << 20) + 5, 31);
  atest::write_file(tmp / "parts.bin", data);
  ArtifactOptions o;
  o.enable_proxy_multipart_upload = true;
  o.multipart_upload_minimum_file_size = 1 << 20;
  o.multipart_upload_chunk_size = 1 << 20;
  rec->clear();
  client.log_artifact(run, (tmp / "parts.bin").string(), "m", o);
  const auto seen = rec->seen();
  REQUIRE(seen.size() == 3);  // runs/get, mpu/create (501), one PUT
  CHECK(seen[1].rfind("POST " + testing::tracking_uri() + "/api/2.0/mlflow-artifacts/mpu/create/", 0) == 0);
  CHECK(seen[2].rfind("PUT " + testing::tracking_uri() + "/api/2.0/mlflow-artifacts/artifacts/", 0) == 0);
  CHECK(atest::read_file(client.download_artifacts(run, "m/parts.bin", (tmp / "dst").string(),
                                                   ArtifactOptions{})) == data);
}

TEST_CASE("artifacts: the Python client reads what we upload, and we read what it uploads",
          "[integration][artifacts][python]") {
  if (!testing::have_server()) return;
  const std::string python = atest::python_or_skip();
  if (python.empty()) return;
  auto client = testing::client();
  const std::string run = atest::new_run(client, "python");
  TempDir tmp;
  const auto files = make_tree(tmp, "ours");
  atest::write_file(tmp / "ours/big.bin", atest::random_bytes((5 << 20) + 1, 41));
  client.log_artifacts(run, (tmp / "ours").string(), "from cpp", ArtifactOptions{});

  // Python downloads what we uploaded: the same files, byte for byte.
  const std::string common = " --tracking-uri " + atest::shell_quote(testing::tracking_uri()) + " --run-id " +
                             atest::shell_quote(run);
  auto ok = atest::crosscheck(python, "download" + common + " --path " + atest::shell_quote("from cpp") +
                                          " --expect " + atest::shell_quote((tmp / "ours").string()));
  INFO("crosscheck output:\n" << ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(itest::contains(ok.output, "crosscheck: OK (8 files"));

  // The comparison can fail: a changed byte is a mismatch.
  atest::write_file(tmp / "ours/top.txt", "top levem\n");
  auto bad = atest::crosscheck(python, "download" + common + " --path " + atest::shell_quote("from cpp") +
                                           " --expect " + atest::shell_quote((tmp / "ours").string()));
  INFO("crosscheck output (tampered):\n" << bad.output);
  CHECK(bad.exit_code == 1);
  CHECK(itest::contains(bad.output, "MISMATCH 'top.txt'"));

  // We download what Python uploaded.
  const auto theirs = make_tree(tmp, "theirs");
  auto up = atest::crosscheck(python, "upload" + common + " --src " +
                                          atest::shell_quote((tmp / "theirs").string()) +
                                          " --artifact-path " + atest::shell_quote("from python"));
  INFO("crosscheck output (upload):\n" << up.output);
  REQUIRE(up.exit_code == 0);
  client.download_artifacts(run, "from python", (tmp / "dst").string(), ArtifactOptions{});
  auto want_theirs = theirs;  // a local artifact folder keeps Python's empty folders too
  if (testing::local_backend()) want_theirs["empty/"] = want_theirs["nested/empty too/"] = "";
  CHECK(atest::tree(tmp / "dst/from python") == want_theirs);
}
