#pragma once
/// @file artifacts.hpp
/// Types of the artifact calls of Client (log_artifact, log_artifacts, log_text,
/// log_dict, list_artifacts, list_artifacts_recursive, download_artifacts,
/// delete_artifacts): FileInfo, the progress callback and ArtifactOptions.
///
/// Where artifacts go. A run's `artifact_uri` (from `GET /mlflow/runs/get`) decides:
/// - `mlflow-artifacts:/<path>` (or `mlflow-artifacts://host:port/<path>`): through the
///   tracking server's artifact proxy, `<tracking URI>/api/2.0/mlflow-artifacts/artifacts/<path>`
///   (the tracking URI's path prefix is kept; a host in the artifact URI replaces the
///   tracking URI's host, as in the Python client);
/// - `http(s)://…/api/2.0/mlflow-artifacts/artifacts/…`: that proxy URL as it is;
/// - `file:///<path>` or an absolute path `/…`: a directory on the server's filesystem,
///   which mlflowpp reads and writes directly (only useful when this process shares that
///   filesystem: same machine, or a shared mount);
/// - other schemes (`s3:`, `gs:`, `wasbs:`, `dbfs:`, …) are refused with
///   InvalidArgumentError: run the server with `--serve-artifacts` (the default) so that
///   clients go through its proxy.
///
/// Artifact paths are relative, '/'-separated, UTF-8. Refused before any request, with
/// InvalidArgumentError naming the argument: absolute paths, '..' and '.' segments, empty
/// segments ("a//b", a trailing '/'), backslashes, '#', control characters, a leading
/// Windows drive ("C:/"), and '%' followed by two hex digits (the server percent-decodes
/// paths a second time, so "a%41" would be stored as "aA"). Every other character
/// (spaces, '%', '+', '&', '?', non-ASCII letters, ...) round-trips exactly: each path
/// segment is percent-encoded once.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mlflowpp {

/// One entry of an artifact listing (`FileInfo` in MLflow's protos).
struct FileInfo {
  /// Path relative to the artifact root ('/'-separated), e.g. "model/weights.bin".
  std::string path;
  bool is_dir = false;
  /// Size in bytes; absent for directories.
  std::optional<int64_t> file_size;
};

/// The direction of a transfer reported by a ProgressCallback.
enum class TransferDirection { kUpload, kDownload };

/// What a ProgressCallback receives.
struct TransferProgress {
  TransferDirection direction = TransferDirection::kUpload;
  /// The file being transferred, relative to the artifact root (e.g. "data/train.csv").
  std::string artifact_path;
  /// Bytes moved so far in this attempt. A retried transfer starts again from 0.
  int64_t bytes_done = 0;
  /// Size of the file in bytes; -1 while unknown (a download before its Content-Length).
  int64_t bytes_total = -1;
};

/// Called as each file's bytes move (at least at the start and the end of every file,
/// and then as libcurl reports progress, about every few hundred milliseconds or every
/// buffer). Runs on the thread that made the call. An exception it throws abandons the
/// transfer and propagates to the caller (the partial download is removed).
using ProgressCallback = std::function<void(const TransferProgress&)>;

/// Settings of artifact transfers. The Client's artifact calls take them as their last
/// argument, defaulting to ArtifactOptions::from_env() (read at each call, as the Python
/// client reads its variables at each call).
///
/// Timeouts of transfers scale with the size: an upload or a download has no total
/// deadline; it is abandoned (TransportError, then retried per the client's RetryPolicy)
/// when fewer than `low_speed_limit` bytes/s move, on average, for `low_speed_time`.
/// A file of N bytes may thus take as long as it needs while it keeps moving, and a
/// stalled connection is given up after `low_speed_time`. The server's own work after
/// the last byte (moving the file into place) counts as a stall, so raise
/// `low_speed_time` for destinations that copy large files slowly after receiving them.
/// Listing and deleting are ordinary requests (ClientOptions::request_timeout).
struct ArtifactOptions {
  /// Per-file progress of every upload and download; none by default.
  ProgressCallback progress;
  /// MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD: for files of at least
  /// `multipart_upload_minimum_file_size` bytes, ask the server for a multipart upload
  /// (`POST /api/2.0/mlflow-artifacts/mpu/create/...`) and PUT the parts straight to the
  /// presigned URLs of its cloud storage (no MLflow credentials are sent to them). A
  /// server whose destination cannot do it (a local directory) answers 501
  /// NOT_IMPLEMENTED; the file then goes as one streamed PUT through the proxy.
  bool enable_proxy_multipart_upload = false;
  /// MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE, bytes (default 500 MiB).
  int64_t multipart_upload_minimum_file_size = int64_t{500} << 20;
  /// MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE, bytes per part (default 10 MiB; ≥ 1). Parts are
  /// sent one after another, each streamed from the file.
  int64_t multipart_upload_chunk_size = int64_t{10} << 20;
  /// MLFLOWPP_ARTIFACT_LOW_SPEED_LIMIT, bytes per second (≥ 1); see above.
  int64_t low_speed_limit = 1024;
  /// MLFLOWPP_ARTIFACT_LOW_SPEED_TIME, seconds in the environment (≥ 1 s); see above.
  std::chrono::seconds low_speed_time{120};

  /// Reads the variables named above (docs/env.md); unset ones keep the defaults.
  /// Throws InvalidArgumentError naming a malformed variable.
  static ArtifactOptions from_env();
  /// Throws InvalidArgumentError naming a field out of range.
  void validate() const;
};

/// What Client::log_artifacts did.
struct LogArtifactsResult {
  uint64_t files = 0;  ///< files uploaded
  uint64_t bytes = 0;  ///< their total size in bytes
  /// Empty local directories (relative to the local directory, '/'-separated) that could
  /// not be recorded: MLflow's artifact proxy stores files only and has no way to create
  /// an empty directory. Always empty for `file:` artifact roots, where they are created.
  std::vector<std::string> empty_dirs_skipped;
};

}  // namespace mlflowpp
