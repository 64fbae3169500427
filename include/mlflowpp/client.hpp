#pragma once
/// @file client.hpp
/// The tracking client: typed, synchronous wrappers over MLflow's REST API
/// (`/api/2.0/mlflow/...`), named after the Python `MlflowClient`, plus start_run() for
/// the run lifecycle and async_logger() for non-blocking logging.
///
/// Errors: synchronous calls throw InvalidArgumentError (refused before sending),
/// ServerError (the server's HTTP status and MLflow error code), TransportError (no
/// usable answer after the retry policy) or ParseError (unreadable answer).
/// Thread safety: a Client may be used from many threads at once; copies share one
/// connection pool and one AsyncLogger. Constructors do no network I/O.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mlflowpp/artifacts.hpp"
#include "mlflowpp/entities.hpp"
#include "mlflowpp/options.hpp"
#include "mlflowpp/registry.hpp"
#include "mlflowpp/requests.hpp"

namespace mlflowpp {

class ActiveRun;
class AsyncLogger;

namespace detail {
struct ClientAccess;  // the library's own door (src/api/client_access.hpp); not API
}  // namespace detail

/// Thread-safe MLflow tracking client (copyable handle; copies share state).
class Client {
 public:
  /// Uses `options` as given (call ClientOptions::from_env() to read the environment).
  /// Throws InvalidArgumentError for invalid options. No network I/O.
  explicit Client(ClientOptions options);
  /// `Client(ClientOptions::from_env())`.
  static Client from_env();
  ~Client();
  Client(const Client&);
  Client& operator=(const Client&);
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  const ClientOptions& options() const noexcept;
  /// The tracking URI with any trailing '/' removed.
  const std::string& tracking_uri() const noexcept;

  // ---- experiments -------------------------------------------------------------------

  /// `POST /mlflow/experiments/create`. Returns the new experiment_id. A name used by an
  /// active or deleted experiment gives ServerError RESOURCE_ALREADY_EXISTS (HTTP 400).
  /// Names longer than 256 characters are refused (MLflow's SQL column width).
  std::string create_experiment(const std::string& name, const std::string& artifact_location = {},
                                const std::vector<ExperimentTag>& tags = {});
  /// `GET /mlflow/experiments/get`. Deleted experiments are returned too.
  Experiment get_experiment(const std::string& experiment_id);
  /// `GET /mlflow/experiments/get-by-name`; std::nullopt when no experiment has that name.
  std::optional<Experiment> get_experiment_by_name(const std::string& name);
  /// Returns the experiment's id, creating it when missing (safe against a concurrent
  /// creator: RESOURCE_ALREADY_EXISTS is answered by a second lookup). Throws
  /// InvalidArgumentError when the experiment of that name is deleted (restore it first),
  /// as the Python client's set_experiment does.
  std::string get_or_create_experiment(const std::string& name);
  /// `POST /mlflow/experiments/search`, one page.
  PagedList<Experiment> search_experiments(const SearchExperimentsOptions& options = {});
  /// Every page of search_experiments (options.page_token is the starting point).
  ///
  /// Every `search_all_*` call returns each entity once, in the server's order, even while
  /// other clients create or delete entities between its pages: MLflow's page tokens are
  /// offsets, so each page after the first is asked for with a small overlap (a quarter of
  /// `max_results`, at most 100) and, when deletions moved the window past what was
  /// returned, from further back; duplicates are dropped by identity. Entities created or
  /// deleted during the call may or may not be included. Costs about one request in four
  /// more than the bare page count at small page sizes. Not atomic; thread-safe.
  std::vector<Experiment> search_all_experiments(SearchExperimentsOptions options = {});
  /// `POST /mlflow/experiments/update` (rename).
  void rename_experiment(const std::string& experiment_id, const std::string& new_name);
  /// `POST /mlflow/experiments/delete` (soft delete; its runs are marked deleted too).
  void delete_experiment(const std::string& experiment_id);
  /// `POST /mlflow/experiments/restore`.
  void restore_experiment(const std::string& experiment_id);
  /// `POST /mlflow/experiments/set-experiment-tag` (key ≤ 250, value ≤ 5000 characters).
  void set_experiment_tag(const std::string& experiment_id, const std::string& key, const std::string& value);
  /// `POST /mlflow/experiments/delete-experiment-tag`.
  void delete_experiment_tag(const std::string& experiment_id, const std::string& key);

  // ---- runs --------------------------------------------------------------------------

  /// `POST /mlflow/runs/create`. Creates a RUNNING run; adds no system tags (see start_run).
  Run create_run(const std::string& experiment_id, const CreateRunOptions& options = {});
  /// `GET /mlflow/runs/get`. Deleted runs are returned too; metrics hold the latest point
  /// per key only.
  Run get_run(const std::string& run_id);
  /// `POST /mlflow/runs/update`. Fields left empty are not changed.
  RunInfo update_run(const std::string& run_id, std::optional<RunStatus> status = std::nullopt,
                     std::optional<int64_t> end_time = std::nullopt, const std::string& run_name = {});
  /// Marks a run terminated: update_run(status, end_time or now). Does not flush the async
  /// logger (ActiveRun::end does).
  void set_terminated(const std::string& run_id, RunStatus status = RunStatus::kFinished,
                      std::optional<int64_t> end_time = std::nullopt);
  /// `POST /mlflow/runs/delete` (soft delete).
  void delete_run(const std::string& run_id);
  /// `POST /mlflow/runs/restore`.
  void restore_run(const std::string& run_id);
  /// `POST /mlflow/runs/search`, one page.
  PagedList<Run> search_runs(const std::vector<std::string>& experiment_ids,
                             const SearchRunsOptions& options = {});
  /// Every page of search_runs; each run once (see search_all_experiments).
  std::vector<Run> search_all_runs(const std::vector<std::string>& experiment_ids,
                                   SearchRunsOptions options = {});

  /// `POST /mlflow/runs/log-metric`, synchronously (one request; for many points use
  /// log_batch or the async logger). Argument order as the Python client's
  /// `MlflowClient.log_metric(run_id, key, value, timestamp, step)`: `timestamp` is a
  /// TimestampMs (ms since the epoch; std::nullopt = now), never a bare integer, so that
  /// `log_metric(id, "loss", v, step)` cannot compile. Throws InvalidArgumentError (key
  /// rules, negative timestamp), ServerError, TransportError. Thread-safe.
  void log_metric(const std::string& run_id, const std::string& key, double value,
                  std::optional<TimestampMs> timestamp = std::nullopt, int64_t step = 0);
  /// `POST /mlflow/runs/log-parameter` (value ≤ 6000 characters; a different value for
  /// an existing key gives ServerError INVALID_PARAMETER_VALUE).
  void log_param(const std::string& run_id, const std::string& key, const std::string& value);
  /// `POST /mlflow/runs/set-tag` (value ≤ 8000 characters).
  void set_tag(const std::string& run_id, const std::string& key, const std::string& value);
  /// `POST /mlflow/runs/delete-tag`.
  void delete_tag(const std::string& run_id, const std::string& key);
  /// `POST /mlflow/runs/log-batch`, any number of items: split into as many requests as
  /// MLflow's limits need (≤ 1000 metrics, 100 params, 100 tags, 1000 entities, the
  /// request byte budget; never a param key twice in one request), sent in order.
  /// Every item is validated first; nothing is sent when one is invalid.
  void log_batch(const std::string& run_id, const std::vector<Metric>& metrics = {},
                 const std::vector<Param>& params = {}, const std::vector<RunTag>& tags = {});
  /// `POST /mlflow/runs/log-inputs`: records datasets used by the run.
  void log_inputs(const std::string& run_id, const std::vector<DatasetInput>& datasets);
  /// `GET /mlflow/metrics/get-history`, every page (25000 points per request), in the
  /// server's order.
  std::vector<Metric> get_metric_history(const std::string& run_id, const std::string& key);

  // ---- lifecycle and asynchronous logging --------------------------------------------

  /// Starts (or resumes) a run as `mlflow.start_run` does and returns its handle; see
  /// StartRunOptions for how the experiment is chosen. Adds the system tags and
  /// `mlflow.runName`. Throws like the calls it makes (get-by-name, create, runs/create),
  /// except that an unreachable server reached before starts the run offline, and one never
  /// reached fails within StartRunOptions::offline_after (StartRunOptions::offline_start).
  ActiveRun start_run(StartRunOptions options = {});
  /// `start_run` with an experiment name (created if missing) and a run name.
  ActiveRun start_run(const std::string& experiment_name, const std::string& run_name = {});

  /// The client's background batching logger (started on first use).
  AsyncLogger& async_logger();

  // ---- model registry ----------------------------------------------------------------
  //
  // Synchronous calls to `/api/2.0/mlflow/registered-models/...` and
  // `/api/2.0/mlflow/model-versions/...`, named as in the Python MlflowClient. Versions
  // are decimal strings ("3"), as on the wire and in ModelVersion::version; a version
  // that does not parse as a non-negative integer is refused before sending. Names of
  // registered models must be non-empty; new names (create, rename, register_model) are
  // checked as the server checks them: ≤ 256 characters (the SQL column), no '/' or ':',
  // not a path that normalizes to another name ("..", "a/./b"). Errors: InvalidArgumentError
  // (refused before sending), ServerError (RESOURCE_ALREADY_EXISTS as HTTP 400 for a
  // duplicate name; RESOURCE_DOES_NOT_EXIST as HTTP 404 for a missing model or version;
  // INVALID_PARAMETER_VALUE as HTTP 400 otherwise), TransportError, ParseError.
  // Thread-safe, like every Client call.

  /// `POST /mlflow/registered-models/create`. Tags: key ≤ 250, value ≤ 100000 characters.
  /// An existing name gives ServerError RESOURCE_ALREADY_EXISTS (HTTP 400,
  /// is_already_exists()).
  RegisteredModel create_registered_model(const std::string& name,
                                          const std::vector<RegisteredModelTag>& tags = {},
                                          const std::string& description = {});
  /// `GET /mlflow/registered-models/get`: the model with its tags, aliases and latest
  /// versions. A missing model gives ServerError RESOURCE_DOES_NOT_EXIST (HTTP 404).
  RegisteredModel get_registered_model(const std::string& name);
  /// `POST /mlflow/registered-models/rename`; returns the renamed model (its versions and
  /// aliases follow it). `new_name` is checked like a new name; an existing `new_name`
  /// gives RESOURCE_ALREADY_EXISTS.
  RegisteredModel rename_registered_model(const std::string& name, const std::string& new_name);
  /// `PATCH /mlflow/registered-models/update` (the description; "" clears it).
  RegisteredModel update_registered_model(const std::string& name, const std::string& description);
  /// `DELETE /mlflow/registered-models/delete` (hard delete of the model, its versions,
  /// tags and aliases; the files the versions point at are not touched).
  void delete_registered_model(const std::string& name);
  /// `GET /mlflow/registered-models/search`, one page (max_results 1..1000, default 100).
  PagedList<RegisteredModel> search_registered_models(const SearchRegisteredModelsOptions& options = {});
  /// Every page of search_registered_models (options.page_token is the starting point).
  std::vector<RegisteredModel> search_all_registered_models(SearchRegisteredModelsOptions options = {});
  /// `POST /mlflow/registered-models/set-tag` (key ≤ 250 with the run-tag key rules,
  /// value ≤ 100000 characters; last write wins). Note: MLflow's SQL column for registered
  /// model tag values is 5000 wide; SQLite ignores it, PostgreSQL and MySQL do not.
  void set_registered_model_tag(const std::string& name, const std::string& key, const std::string& value);
  /// `DELETE /mlflow/registered-models/delete-tag`. Deleting an absent key is not an error.
  void delete_registered_model_tag(const std::string& name, const std::string& key);
  /// `POST /mlflow/registered-models/alias`: points `alias` at `version` (moving it when it
  /// already exists). Aliases match `^[\w-]*$` (ASCII letters, digits, '_', '-'), are
  /// non-empty, ≤ 255 characters, and are not `latest` (any case) nor `v<digits>`
  /// (reserved); those are refused with InvalidArgumentError. A missing version gives
  /// ServerError RESOURCE_DOES_NOT_EXIST (HTTP 404).
  void set_registered_model_alias(const std::string& name, const std::string& alias,
                                  const std::string& version);
  /// `DELETE /mlflow/registered-models/alias`. Deleting an absent alias is not an error.
  void delete_registered_model_alias(const std::string& name, const std::string& alias);
  /// `GET /mlflow/registered-models/alias`: the version `alias` points at. An unknown
  /// alias gives ServerError INVALID_PARAMETER_VALUE with HTTP **400** (not 404) on
  /// MLflow 3.18; an unknown model gives RESOURCE_DOES_NOT_EXIST (404).
  ModelVersion get_model_version_by_alias(const std::string& name, const std::string& alias);
  /// `POST /mlflow/registered-models/get-latest-versions` (deprecated stages API): the
  /// latest version in each of `stages` ("None", "Staging", "Production", "Archived";
  /// case-insensitive), or in every stage when `stages` is empty.
  std::vector<ModelVersion> get_latest_versions(const std::string& name,
                                                const std::vector<std::string>& stages = {});

  /// `POST /mlflow/model-versions/create`: a new version of the existing registered model
  /// `name` (a missing one gives ServerError RESOURCE_DOES_NOT_EXIST, 404). `source`
  /// (required, non-empty) is where the model's files are: with options.run_id, a location
  /// inside that run's artifacts (e.g. "runs:/<run_id>/model" or "<run artifact_uri>/model");
  /// with options.model_id, "models:/<model_id>"; otherwise a storage URI such as
  /// "s3://bucket/path". The server refuses a source that does not belong to the given run
  /// or logged model (INVALID_PARAMETER_VALUE, 400). One request: it does not wait for
  /// READY (see wait_for_model_version_ready and register_model). Refused before sending
  /// (InvalidArgumentError): an empty name or source, a tag key breaking the run-tag key
  /// rules or over 250 characters, a tag value over 100000 characters. Python:
  /// `MlflowClient.create_model_version(name, source, run_id, tags, run_link, description,
  /// model_id=...)`, the optional ones in `options`:
  ///
  ///     CreateModelVersionOptions o;
  ///     o.run_id = run_id;
  ///     client.create_model_version("digits", "runs:/" + run_id + "/model", o);
  ModelVersion create_model_version(const std::string& name, const std::string& source,
                                    const CreateModelVersionOptions& options = {});
  /// `mlflow.register_model`: creates the registered model `name` if it does not exist
  /// (RESOURCE_ALREADY_EXISTS is ignored), creates a version, and waits until it is READY
  /// (options.await_registration_for; 0 does not wait). `model_uri` may be:
  /// - "runs:/<run_id>/<path>": as the Python client, the source becomes the run's
  ///   artifact_uri + "/" + path (get_run) with `run_id` set — unless the run has no
  ///   `MLmodel` file under `path` and logged a model (MLflow 3) named `path`, which is
  ///   then registered as "models:/<model_id>" (the one at the largest output step when
  ///   there are several). Python raises when neither exists; here the artifact location
  ///   is used, so that files logged by C++ code without an MLmodel file can be registered.
  /// - "models:/<model_id>": a logged model; the version gets that `model_id`.
  /// - anything else (a storage URI, "models:/<name>/<version>"): passed as the source.
  /// Throws like get_run, create_registered_model and create_model_version, and
  /// ModelVersionNotReadyError when the version fails or is not READY in time.
  ModelVersion register_model(const std::string& model_uri, const std::string& name,
                              const RegisterModelOptions& options = {});
  /// `GET /mlflow/model-versions/get`. Missing: RESOURCE_DOES_NOT_EXIST (404).
  ModelVersion get_model_version(const std::string& name, const std::string& version);
  /// `PATCH /mlflow/model-versions/update` (the description; "" clears it).
  ModelVersion update_model_version(const std::string& name, const std::string& version,
                                    const std::string& description);
  /// `DELETE /mlflow/model-versions/delete` (its tags and aliases go with it).
  void delete_model_version(const std::string& name, const std::string& version);
  /// `GET /mlflow/model-versions/search`, one page (max_results 1..200000, default
  /// 10000). `aliases` may be empty in the results (as in MLflow).
  PagedList<ModelVersion> search_model_versions(const SearchModelVersionsOptions& options = {});
  /// Every page of search_model_versions (options.page_token is the starting point).
  std::vector<ModelVersion> search_all_model_versions(SearchModelVersionsOptions options = {});
  /// `POST /mlflow/model-versions/set-tag` (key ≤ 250, value ≤ 100000 characters).
  void set_model_version_tag(const std::string& name, const std::string& version, const std::string& key,
                             const std::string& value);
  /// `DELETE /mlflow/model-versions/delete-tag`. Deleting an absent key is not an error.
  void delete_model_version_tag(const std::string& name, const std::string& version, const std::string& key);
  /// `POST /mlflow/model-versions/transition-stage` (deprecated by MLflow in favour of
  /// aliases, still served). `stage` is "None", "Staging", "Production" or "Archived"
  /// (case-insensitive; others give INVALID_PARAMETER_VALUE). With
  /// `archive_existing_versions`, other versions in that stage move to "Archived".
  ModelVersion transition_model_version_stage(const std::string& name, const std::string& version,
                                              const std::string& stage,
                                              bool archive_existing_versions = false);
  /// `GET /mlflow/model-versions/get-download-uri`: where the version's files are (the
  /// resolved storage location, e.g. a logged model's artifact_uri for a "models:/<id>"
  /// source, or the source itself).
  std::string get_model_version_download_uri(const std::string& name, const std::string& version);
  /// Polls get_model_version every `poll_interval` until the version is READY and returns
  /// it. Throws ModelVersionNotReadyError with reason kFailedRegistration (the message
  /// carries the server's status_message) or kTimeout (still PENDING_REGISTRATION after
  /// `timeout`), and whatever get_model_version throws. MLflow's own registry creates
  /// versions READY, so against it this returns after one request.
  ModelVersion wait_for_model_version_ready(
      const std::string& name, const std::string& version,
      std::chrono::milliseconds timeout = std::chrono::minutes(5),
      std::chrono::milliseconds poll_interval = std::chrono::seconds(1));

  // ---- logged models -----------------------------------------------------------------
  //
  // MLflow 3 logged models: `/api/2.0/mlflow/logged-models...`. A logged model belongs to
  // an experiment, has params (write-once), tags and metrics: a metric logged to a run
  // with Metric::model_id set (Client::log_batch) is also attached to that model and
  // appears in LoggedModel::data.metrics. (ActiveRun/AsyncLogger do not carry a model_id:
  // the server answers an unknown model_id with HTTP 400 BAD_REQUEST for the whole
  // request, after writing the run's metric rows, which the asynchronous path cannot
  // report per item; log model metrics synchronously so such an error reaches you.)
  // Errors: InvalidArgumentError, ServerError (RESOURCE_DOES_NOT_EXIST, 404, for a
  // missing model or experiment), TransportError, ParseError. Thread-safe.

  /// `POST /mlflow/logged-models`: creates a model in status PENDING in experiment
  /// `experiment_id` (upload its files, then finalize_logged_model); returns it with its
  /// model_id and artifact_uri. options.name empty: the server picks a random one;
  /// otherwise it must not contain '/', ':', '.', '%', '"' or '\''. The first 100 params go
  /// with the request, the rest through `POST /mlflow/logged-models/{model_id}/params` in
  /// requests of 100 (then the model is read again, `GET /mlflow/logged-models/{model_id}`),
  /// as the Python client does. Refused before sending (InvalidArgumentError): an empty
  /// experiment_id, an invalid name, an empty or repeated param key, an empty tag key. A
  /// missing experiment gives ServerError RESOURCE_DOES_NOT_EXIST (404). Python:
  /// `MlflowClient.create_logged_model(experiment_id, name, source_run_id, tags, params,
  /// model_type)`, the optional ones in `options`; the system tags (mlflow.user,
  /// mlflow.source.*) are added as by `mlflow.initialize_logged_model` unless
  /// options.system_tags is false.
  LoggedModel create_logged_model(const std::string& experiment_id,
                                  const CreateLoggedModelOptions& options = {});
  /// `PATCH /mlflow/logged-models/{model_id}`: sets the final status, kReady or
  /// kUploadFailed (anything else is refused with InvalidArgumentError: the server would
  /// store it). Returns the updated model.
  LoggedModel finalize_logged_model(const std::string& model_id, LoggedModelStatus status);
  /// `GET /mlflow/logged-models/{model_id}`. A deleted model gives RESOURCE_DOES_NOT_EXIST
  /// unless `allow_deleted`.
  LoggedModel get_logged_model(const std::string& model_id, bool allow_deleted = false);
  /// `DELETE /mlflow/logged-models/{model_id}` (soft delete; deleting twice is not an error).
  void delete_logged_model(const std::string& model_id);
  /// `POST /mlflow/logged-models/search`, one page, in the given experiments (at least one).
  PagedList<LoggedModel> search_logged_models(const std::vector<std::string>& experiment_ids,
                                              const SearchLoggedModelsOptions& options = {});
  /// Every page of search_logged_models (options.page_token is the starting point).
  std::vector<LoggedModel> search_all_logged_models(const std::vector<std::string>& experiment_ids,
                                                    SearchLoggedModelsOptions options = {});
  /// `PATCH /mlflow/logged-models/{model_id}/tags` (last write wins per key; keys non-empty).
  void set_logged_model_tags(const std::string& model_id, const std::vector<LoggedModelTag>& tags);
  /// `DELETE /mlflow/logged-models/{model_id}/tags/{key}`. The key travels in the URL path,
  /// where MLflow 3.18's router cannot take a '/': such keys are refused with
  /// InvalidArgumentError. An absent key gives RESOURCE_DOES_NOT_EXIST (404).
  void delete_logged_model_tag(const std::string& model_id, const std::string& key);
  /// `POST /mlflow/logged-models/{model_id}/params`, in requests of 100. Params are
  /// write-once: a key the model already has (even with the same value) gives ServerError
  /// BAD_REQUEST (400); keys must be unique within the call and non-empty.
  void log_model_params(const std::string& model_id, const std::vector<LoggedModelParam>& params);
  /// `POST /mlflow/runs/outputs`: records that the run produced these logged models (each
  /// at a step), shown in Run::outputs. The server does not check that the models exist.
  void log_outputs(const std::string& run_id, const std::vector<ModelOutput>& models);

  // ---- artifacts ---------------------------------------------------------------------
  //
  // Files of a run, stored where the run's `artifact_uri` points (see mlflowpp/artifacts.hpp
  // for how each kind of URI is reached): normally through the tracking server's artifact
  // proxy, `/api/2.0/mlflow-artifacts/artifacts/<path>` under the tracking URI (its path
  // prefix kept). Every call first reads the run (`GET /mlflow/runs/get`) for that URI.
  // Sizes are in bytes. Uploads stream from disk with a Content-Length (memory does not
  // grow with the file); downloads stream to a temporary file in the destination
  // directory, renamed into place only once complete and as long as announced, so a
  // failed download never leaves a partial file under the final name. Transfers are
  // retried per ClientOptions::retry (from the first byte again) and abandoned when they
  // stall (ArtifactOptions). Artifact paths are checked before any request (see
  // artifacts.hpp). `options`: this call's transfer settings; std::nullopt (the default)
  // uses the client's (ClientOptions::artifacts, read from the environment once by
  // ClientOptions::from_env). Errors: InvalidArgumentError (refused before sending: unsafe path,
  // missing local file, bad options), ServerError (e.g. RESOURCE_DOES_NOT_EXIST, HTTP
  // 404, for a missing run or artifact), TransportError, ParseError, and Error for local
  // I/O failures (unreadable source, full disk). Thread-safe, like every Client call; the
  // progress callback runs on the calling thread.

  /// `PUT /api/2.0/mlflow-artifacts/artifacts/<root>/<artifact_path>/<file name>`: uploads
  /// one file (any size, including 0 bytes) under `artifact_path` ("" = the run's artifact
  /// root), keeping its file name; an existing artifact of that path is replaced. With
  /// ArtifactOptions::enable_proxy_multipart_upload, large files try a multipart upload
  /// first (`POST .../mlflow-artifacts/mpu/create|complete|abort/...`).
  void log_artifact(const std::string& run_id, const std::string& local_file,
                    const std::string& artifact_path = {},
                    const std::optional<ArtifactOptions>& options = std::nullopt);
  /// Uploads every file under `local_dir` (recursively; symbolic links to files are
  /// followed, to directories are not) under `artifact_path`, one streamed PUT per file.
  /// Every relative path is checked before the first request. Empty directories cannot be
  /// stored through the proxy: they are listed in the result (and created for `file:` roots).
  LogArtifactsResult log_artifacts(const std::string& run_id, const std::string& local_dir,
                                   const std::string& artifact_path = {},
                                   const std::optional<ArtifactOptions>& options = std::nullopt);
  /// Stores `text` (bytes as given, normally UTF-8) as the artifact `artifact_file`, e.g.
  /// "notes/summary.txt" (a file path: not empty, not ending in '/').
  void log_text(const std::string& run_id, const std::string& text, const std::string& artifact_file,
                const std::optional<ArtifactOptions>& options = std::nullopt);
  /// Stores a dictionary as the JSON artifact `artifact_file` (e.g. "config.json").
  /// `json_text` is already-serialized JSON, which must parse (InvalidArgumentError
  /// otherwise) and is stored byte for byte. JSON is also valid YAML, so a ".yaml" name
  /// reads back with yaml.safe_load as well as json.load.
  void log_dict(const std::string& run_id, const std::string& json_text, const std::string& artifact_file,
                const std::optional<ArtifactOptions>& options = std::nullopt);
  /// Stores a string-to-string dictionary as a JSON object (keys sorted, indented by 2,
  /// as the Python client's json.dump(indent=2) writes it) in `artifact_file`.
  void log_dict(const std::string& run_id, const std::map<std::string, std::string>& dictionary,
                const std::string& artifact_file,
                const std::optional<ArtifactOptions>& options = std::nullopt);
  /// `GET /api/2.0/mlflow-artifacts/artifacts?path=<root>/<path>`: the entries directly
  /// under `path` ("" = the root), sorted by path, with paths relative to the artifact
  /// root and sizes of files. A path that is a file, or that does not exist, gives an
  /// empty list (as in the Python client).
  std::vector<FileInfo> list_artifacts(const std::string& run_id, const std::string& path = {});
  /// Every entry under `path`, at any depth (directories included, each before its
  /// contents), sorted by path: one listing request per directory.
  std::vector<FileInfo> list_artifacts_recursive(const std::string& run_id, const std::string& path = {});
  /// `GET /api/2.0/mlflow-artifacts/artifacts/<root>/<path>`: downloads the file or the
  /// whole directory `path` ("" = everything) into the local directory `dst_dir` (created
  /// when missing), keeping the relative layout: artifact "a/b.txt" lands in
  /// `dst_dir/a/b.txt`, and empty directories are created. Existing files of the same
  /// names are replaced. Returns the local path of `path` (`dst_dir` itself for "").
  /// A missing artifact gives ServerError RESOURCE_DOES_NOT_EXIST (404; also for `file:`
  /// roots, where no request is made). Each file is complete or absent; after a failure
  /// the files downloaded before it stay.
  std::string download_artifacts(const std::string& run_id, const std::string& path,
                                 const std::string& dst_dir,
                                 const std::optional<ArtifactOptions>& options = std::nullopt);
  /// `DELETE /api/2.0/mlflow-artifacts/artifacts/<root>/<path>`: deletes the file or the
  /// directory tree `path`; "" deletes every artifact of the run. Deleting a path that does
  /// not exist is not an error (the server's behaviour). With a local destination the
  /// server keeps the (now possibly empty) parent directories.
  void delete_artifacts(const std::string& run_id, const std::string& path);

  // Files of an MLflow 3 logged model, at its `artifact_uri` (e.g.
  // `mlflow-artifacts:/1/models/m-…/artifacts`), read with `GET /mlflow/logged-models/{id}`
  // first; otherwise exactly as the run-artifact calls above (same errors, streaming,
  // retries and path checks).

  /// Uploads one file into the logged model's artifacts under `artifact_path`
  /// (Python: `MlflowClient.log_model_artifact`).
  void log_model_artifact(const std::string& model_id, const std::string& local_file,
                          const std::string& artifact_path = {},
                          const std::optional<ArtifactOptions>& options = std::nullopt);
  /// Uploads a directory tree into the logged model's artifacts
  /// (Python: `MlflowClient.log_model_artifacts`).
  LogArtifactsResult log_model_artifacts(const std::string& model_id, const std::string& local_dir,
                                         const std::string& artifact_path = {},
                                         const std::optional<ArtifactOptions>& options = std::nullopt);
  /// The entries directly under `path` of the logged model's artifacts
  /// (Python: `MlflowClient.list_logged_model_artifacts`).
  std::vector<FileInfo> list_logged_model_artifacts(const std::string& model_id,
                                                    const std::string& path = {});
  /// Downloads `path` ("" = all) of the logged model's artifacts into `dst_dir`; returns the
  /// local path (as download_artifacts).
  std::string download_logged_model_artifacts(const std::string& model_id, const std::string& path,
                                              const std::string& dst_dir,
                                              const std::optional<ArtifactOptions>& options = std::nullopt);

 private:
  ActiveRun start_offline(const StartRunOptions& o, const std::string& env_name, const std::string& env_id,
                          std::vector<RunTag> tags, const std::string& why);
  struct Impl;
  explicit Client(std::shared_ptr<Impl> impl) noexcept;
  std::shared_ptr<Impl> impl_;
  friend class ActiveRun;
  friend struct detail::ClientAccess;
};

}  // namespace mlflowpp
