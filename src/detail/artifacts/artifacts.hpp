#pragma once
// Artifacts: where a run's (or a logged model's) artifact root URI points, path safety,
// and the stores behind it: MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/...`,
// streamed PUT/GET through the RestClient's retry policy, optional multipart upload to
// presigned URLs) and a local directory for `file:` roots shared with the server.
// Everything here takes an artifact root URI, not a run id, so logged models
// (`LoggedModel::info.artifact_uri`) can use it as well. Private.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detail/core/text.hpp"  // percent_decode
#include "detail/http/http.hpp"
#include "mlflowpp/artifacts.hpp"

namespace mlflowpp::detail {

class RestClient;

// ---- paths ----------------------------------------------------------------------------

/// Checks a relative artifact path that will be sent to the server (or joined to a local
/// root): valid UTF-8, no control characters, no '\', no '#', not absolute, no leading
/// Windows drive ("C:/"), no empty, "." or ".." segments (so no trailing '/'), and no '%'
/// followed by two hex digits (MLflow's server percent-decodes paths a second time).
/// `allow_empty`: "" (the root) is acceptable. Returns the error message (naming `what`
/// and the path) or std::nullopt.
std::optional<std::string> check_artifact_path(std::string_view what, std::string_view path,
                                               bool allow_empty);
/// Throws InvalidArgumentError when check_artifact_path fails.
void require_artifact_path(std::string_view what, std::string_view path, bool allow_empty);
/// True for a name the server listed that is safe to use as one local path segment: not
/// empty, not "." or "..", no '/', '\' or NUL.
bool is_safe_listed_name(std::string_view name) noexcept;

/// `a/b` from `a` and `b`; either may be empty.
std::string join_artifact_path(std::string_view a, std::string_view b);
/// The last segment of a '/'-separated path.
std::string_view artifact_basename(std::string_view path) noexcept;
/// Everything before the last '/' ("" when there is none).
std::string_view artifact_dirname(std::string_view path) noexcept;
/// Percent-encodes each segment of a '/'-separated path exactly once (RFC 3986
/// unreserved characters kept), keeping the '/' separators.
std::string encode_artifact_path(std::string_view path);

// ---- where an artifact root URI points ------------------------------------------------

struct ArtifactLocation {
  enum class Kind { kProxy, kLocal };
  Kind kind = Kind::kProxy;
  /// kProxy: `<scheme>://<host>[/prefix]/api/2.0` (no trailing '/'): the routes
  /// `/mlflow-artifacts/artifacts` and `/mlflow-artifacts/mpu/...` hang under it.
  std::string api_prefix;
  /// kProxy: the artifact root under `/mlflow-artifacts/artifacts`, decoded, without
  /// leading or trailing '/', e.g. "1/<run_id>/artifacts".
  std::string root;
  /// kLocal: the absolute local directory of the artifact root.
  std::string local_root;

  /// kProxy: the URL of the file or directory `path` (relative to the root).
  std::string file_url(std::string_view path) const;
  /// kProxy: the listing URL of the directory `path`.
  std::string list_url(std::string_view path) const;
  /// kProxy: `mpu/<op>/<root>/<dir>` URL (op: "create", "complete", "abort").
  std::string mpu_url(std::string_view op, std::string_view dir) const;
};

/// Resolves an artifact root URI against the tracking URI, as MLflow's
/// MlflowArtifactsRepository.resolve_uri does, but always keeping the tracking URI's path
/// prefix (Python drops it for the bare root `mlflow-artifacts:/`):
/// - `mlflow-artifacts:/p` → `<tracking scheme>://<tracking
/// host><prefix>/api/2.0/mlflow-artifacts/artifacts/p`;
///   `mlflow-artifacts://host:port/p` replaces the host (a numeric host without a port is
///   refused, as in Python);
/// - `http(s)://…/mlflow-artifacts/artifacts…` → used as it is (split at that route);
/// - `file:///abs`, `file://localhost/abs`, `/abs` → a local directory.
/// Throws InvalidArgumentError for other schemes and malformed URIs.
ArtifactLocation resolve_artifact_location(std::string_view tracking_uri, std::string_view artifact_uri);

// ---- stores ---------------------------------------------------------------------------

/// A store of artifacts under one root. Paths are relative to the root and have passed
/// require_artifact_path. Thread-compatible (one call at a time per object).
class ArtifactRepo {
 public:
  virtual ~ArtifactRepo() = default;
  /// Uploads the local file `local_file` (whole, streamed) as `path` ("dir/name").
  virtual void upload_file(const std::string& local_file, const std::string& path,
                           const ArtifactOptions& options) = 0;
  /// Uploads `data` as `path`.
  virtual void upload_bytes(const std::string& data, const std::string& path,
                            const ArtifactOptions& options) = 0;
  /// One level of `path` ("" = root): full relative paths, sorted by path. A file or a
  /// missing path gives an empty list.
  virtual std::vector<FileInfo> list(const std::string& path) = 0;
  /// Downloads the file `path` to `local_file` (through a temporary file next to it,
  /// renamed on success).
  virtual void download_file(const std::string& path, const std::string& local_file,
                             const ArtifactOptions& options) = 0;
  /// Deletes the file or tree `path` ("" = everything).
  virtual void remove(const std::string& path) = 0;
  /// Creates the empty directory `path`; false when the store cannot represent one.
  virtual bool make_dir(const std::string& path) = 0;
};

/// The repository behind MLflow's artifact proxy at `location` (proxy_repo.cpp).
std::unique_ptr<ArtifactRepo> make_proxy_repo(std::shared_ptr<RestClient> rest, ArtifactLocation location);
/// The repository of a local directory `root` (local_repo.cpp).
std::unique_ptr<ArtifactRepo> make_local_repo(std::string root);

/// The store for `artifact_uri` (see resolve_artifact_location); proxy requests go
/// through `rest` (its retry policy, headers and transport). `rest` null (the embedded
/// local store): local folders only, InvalidArgumentError for a proxy location.
std::unique_ptr<ArtifactRepo> make_artifact_repo(std::shared_ptr<RestClient> rest,
                                                 const std::string& artifact_uri);

// ---- operations over a store (the Client's artifact calls) -----------------------------

/// A local tree to upload, checked before any request.
struct UploadPlan {
  struct File {
    std::string local_path;     ///< absolute or as given
    std::string artifact_path;  ///< destination, relative to the artifact root
  };
  std::vector<File> files;
  std::vector<std::string> empty_dirs;        ///< destination paths of empty local directories
  std::vector<std::string> empty_dirs_local;  ///< the same, relative to the local directory
};

/// Checks `artifact_path` and the local file (a regular file, readable name) and returns
/// the destination path ("artifact_path/<file name>"). No request.
std::string plan_upload_file(const std::string& local_file, const std::string& artifact_path);
/// Walks `local_dir` (files, symlinks to files; not into symlinked directories) and checks
/// every destination path. No request. Throws InvalidArgumentError.
UploadPlan plan_upload_dir(const std::string& local_dir, const std::string& artifact_path);
/// Uploads a plan; creates its empty directories where the store can.
LogArtifactsResult upload_tree(ArtifactRepo& repo, const UploadPlan& plan, const ArtifactOptions& options);
/// Every entry under `path`, depth first, sorted by path.
std::vector<FileInfo> list_recursive(ArtifactRepo& repo, const std::string& path);
/// Downloads the file or directory `path` into `dst_dir` (see Client::download_artifacts);
/// returns the local path of `path`.
std::string download(ArtifactRepo& repo, const std::string& path, const std::string& dst_dir,
                     const ArtifactOptions& options);

/// The JSON text of a string map, as Python's json.dump(indent=2) lays it out (UTF-8
/// kept as it is).
std::string dict_to_json(const std::vector<std::pair<std::string, std::string>>& items);

}  // namespace mlflowpp::detail
