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
  if (!rest) {
    // The embedded local store: no server, so only local artifact folders can be reached.
    ArtifactLocation loc = resolve_artifact_location("http://localhost", artifact_uri);
    if (loc.kind == ArtifactLocation::Kind::kLocal) return make_local_repo(loc.local_root);
    throw InvalidArgumentError(
        fmt::format("artifact location '{}' is served by an MLflow server's artifact proxy; with a local "
                    "database (sqlite:) mlflowpp reaches local artifact folders only",
                    artifact_uri));
  }
  ArtifactLocation loc = resolve_artifact_location(rest->base_url(), artifact_uri);
  if (loc.kind == ArtifactLocation::Kind::kLocal) return make_local_repo(loc.local_root);
  return make_proxy_repo(std::move(rest), std::move(loc));
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
