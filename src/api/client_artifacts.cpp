// Client's artifact calls (see the "artifacts" section of client.hpp and artifacts.hpp).
// The work is done by detail::ArtifactRepo (src/detail/artifacts/artifacts.cpp); this file reads
// the run's artifact URI and checks every argument before the first request.
#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/client_impl.hpp"
#include "detail/artifacts/artifacts.hpp"
#include "detail/codec/json_read.hpp"
#include "detail/core/env.hpp"
#include "mlflowpp/artifacts.hpp"
#include "mlflowpp/client.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp {

namespace {

using detail::env_bool;

std::optional<int64_t> env_int(const char* name, int64_t min) {
  auto v = detail::env_int(name, min, std::numeric_limits<long long>::max());
  return v ? std::optional<int64_t>(static_cast<int64_t>(*v)) : std::nullopt;
}

std::unique_ptr<detail::ArtifactRepo> repo_for_run(Client& client,
                                                   const std::shared_ptr<detail::RestClient>& rest,
                                                   const std::string& run_id) {
  if (run_id.empty()) throw InvalidArgumentError("run_id must not be empty");
  const Run run = client.get_run(run_id);
  if (run.info.artifact_uri.empty())
    throw ParseError(fmt::format("run {} has no artifact_uri in the server's answer", run_id));
  return detail::make_artifact_repo(rest, run.info.artifact_uri);
}

std::unique_ptr<detail::ArtifactRepo> repo_for_model(Client& client,
                                                     const std::shared_ptr<detail::RestClient>& rest,
                                                     const std::string& model_id) {
  if (model_id.empty()) throw InvalidArgumentError("model_id must not be empty");
  const LoggedModel model = client.get_logged_model(model_id);
  if (model.info.artifact_uri.empty())
    throw ParseError(fmt::format("logged model {} has no artifact_uri in the server's answer", model_id));
  return detail::make_artifact_repo(rest, model.info.artifact_uri);
}

void check_artifact_file(const std::string& artifact_file) {
  detail::require_artifact_path("artifact_file", artifact_file, false);
}

}  // namespace

ArtifactOptions ArtifactOptions::from_env() {
  ArtifactOptions o;
  if (auto v = env_bool("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD")) o.enable_proxy_multipart_upload = *v;
  if (auto v = env_int("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", 0))
    o.multipart_upload_minimum_file_size = *v;
  if (auto v = env_int("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", 1)) o.multipart_upload_chunk_size = *v;
  if (auto v = env_int("MLFLOWPP_ARTIFACT_LOW_SPEED_LIMIT", 1)) o.low_speed_limit = *v;
  if (auto v = env_int("MLFLOWPP_ARTIFACT_LOW_SPEED_TIME", 1)) o.low_speed_time = std::chrono::seconds(*v);
  return o;
}

void ArtifactOptions::validate() const {
  if (multipart_upload_minimum_file_size < 0)
    throw InvalidArgumentError(
        fmt::format("ArtifactOptions::multipart_upload_minimum_file_size must be ≥ 0, got {}",
                    multipart_upload_minimum_file_size));
  if (multipart_upload_chunk_size < 1)
    throw InvalidArgumentError(
        fmt::format("ArtifactOptions::multipart_upload_chunk_size must be ≥ 1 byte, got {}",
                    multipart_upload_chunk_size));
  if (low_speed_limit < 1)
    throw InvalidArgumentError(
        fmt::format("ArtifactOptions::low_speed_limit must be ≥ 1 byte/s, got {}", low_speed_limit));
  if (low_speed_time.count() < 1)
    throw InvalidArgumentError(
        fmt::format("ArtifactOptions::low_speed_time must be ≥ 1 s, got {} s", low_speed_time.count()));
}

void Client::log_artifact(const std::string& run_id, const std::string& local_file,
                          const std::string& artifact_path,
                          const std::optional<ArtifactOptions>& options_in) {
  const ArtifactOptions& options = options_in ? *options_in : impl_->options.artifacts;
  options.validate();
  const std::string dest = detail::plan_upload_file(local_file, artifact_path);
  repo_for_run(*this, impl_->rest, run_id)->upload_file(local_file, dest, options);
}

LogArtifactsResult Client::log_artifacts(const std::string& run_id, const std::string& local_dir,
                                         const std::string& artifact_path,
                                         const std::optional<ArtifactOptions>& options_in) {
  const ArtifactOptions& options = options_in ? *options_in : impl_->options.artifacts;
  options.validate();
  const detail::UploadPlan plan = detail::plan_upload_dir(local_dir, artifact_path);
  auto repo = repo_for_run(*this, impl_->rest, run_id);
  return detail::upload_tree(*repo, plan, options);
}

void Client::log_text(const std::string& run_id, const std::string& text, const std::string& artifact_file,
                      const std::optional<ArtifactOptions>& options_in) {
  const ArtifactOptions& options = options_in ? *options_in : impl_->options.artifacts;
  options.validate();
  check_artifact_file(artifact_file);
  repo_for_run(*this, impl_->rest, run_id)->upload_bytes(text, artifact_file, options);
}

void Client::log_dict(const std::string& run_id, const std::string& json_text,
                      const std::string& artifact_file, const std::optional<ArtifactOptions>& options_in) {
  const ArtifactOptions& options = options_in ? *options_in : impl_->options.artifacts;
  options.validate();
  check_artifact_file(artifact_file);
  {
    auto& parser = detail::jsonread::thread_parser();
    detail::jsonread::dom::element doc;
    if (auto err = parser.parse(json_text).get(doc))
      throw InvalidArgumentError(fmt::format("log_dict: the text for '{}' is not valid JSON: {}",
                                             artifact_file, simdjson::error_message(err)));
  }
  repo_for_run(*this, impl_->rest, run_id)->upload_bytes(json_text, artifact_file, options);
}

void Client::log_dict(const std::string& run_id, const std::map<std::string, std::string>& dictionary,
                      const std::string& artifact_file, const std::optional<ArtifactOptions>& options_in) {
  std::vector<std::pair<std::string, std::string>> items(dictionary.begin(), dictionary.end());
  log_dict(run_id, detail::dict_to_json(items), artifact_file, options_in);
}

std::vector<FileInfo> Client::list_artifacts(const std::string& run_id, const std::string& path) {
  detail::require_artifact_path("path", path, true);
  return repo_for_run(*this, impl_->rest, run_id)->list(path);
}

std::vector<FileInfo> Client::list_artifacts_recursive(const std::string& run_id, const std::string& path) {
  detail::require_artifact_path("path", path, true);
  auto repo = repo_for_run(*this, impl_->rest, run_id);
  return detail::list_recursive(*repo, path);
}

std::string Client::download_artifacts(const std::string& run_id, const std::string& path,
                                       const std::string& dst_dir,
                                       const std::optional<ArtifactOptions>& options_in) {
  const ArtifactOptions& options = options_in ? *options_in : impl_->options.artifacts;
  options.validate();
  detail::require_artifact_path("path", path, true);
  if (dst_dir.empty()) throw InvalidArgumentError("download_artifacts: dst_dir must not be empty");
  auto repo = repo_for_run(*this, impl_->rest, run_id);
  return detail::download(*repo, path, dst_dir, options);
}

void Client::delete_artifacts(const std::string& run_id, const std::string& path) {
  detail::require_artifact_path("path", path, true);
  repo_for_run(*this, impl_->rest, run_id)->remove(path);
}

// ---- logged models' artifacts

void Client::log_model_artifact(const std::string& model_id, const std::string& local_file,
                                const std::string& artifact_path,
                                const std::optional<ArtifactOptions>& options_in) {
  const ArtifactOptions& options = options_in ? *options_in : impl_->options.artifacts;
  options.validate();
  const std::string dest = detail::plan_upload_file(local_file, artifact_path);
  repo_for_model(*this, impl_->rest, model_id)->upload_file(local_file, dest, options);
}

LogArtifactsResult Client::log_model_artifacts(const std::string& model_id, const std::string& local_dir,
                                               const std::string& artifact_path,
                                               const std::optional<ArtifactOptions>& options_in) {
  const ArtifactOptions& options = options_in ? *options_in : impl_->options.artifacts;
  options.validate();
  const detail::UploadPlan plan = detail::plan_upload_dir(local_dir, artifact_path);
  auto repo = repo_for_model(*this, impl_->rest, model_id);
  return detail::upload_tree(*repo, plan, options);
}

std::vector<FileInfo> Client::list_logged_model_artifacts(const std::string& model_id,
                                                          const std::string& path) {
  detail::require_artifact_path("path", path, true);
  return repo_for_model(*this, impl_->rest, model_id)->list(path);
}

std::string Client::download_logged_model_artifacts(const std::string& model_id, const std::string& path,
                                                    const std::string& dst_dir,
                                                    const std::optional<ArtifactOptions>& options_in) {
  const ArtifactOptions& options = options_in ? *options_in : impl_->options.artifacts;
  options.validate();
  detail::require_artifact_path("path", path, true);
  if (dst_dir.empty())
    throw InvalidArgumentError("download_logged_model_artifacts: dst_dir must not be empty");
  auto repo = repo_for_model(*this, impl_->rest, model_id);
  return detail::download(*repo, path, dst_dir, options);
}

}  // namespace mlflowpp
