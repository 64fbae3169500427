#pragma once
/// @file registry.hpp
/// Value types of MLflow's model registry (`model_registry.proto`: RegisteredModel,
/// ModelVersion, aliases, tags) and of MLflow 3 logged models (`service.proto`:
/// LoggedModel), with the option structs of the Client calls that use them.
///
/// Units: every timestamp is an `int64_t` count of **milliseconds since the Unix epoch**.
/// Versions are decimal strings ("1", "2", ...), exactly as MLflow sends them and as the
/// Python client returns them (`ModelVersion.version` is a `str`); every Client call
/// that takes a version takes that string (use `std::to_string(n)` for an integer).
/// Value types are safe to read from many threads at once.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mlflowpp/entities.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp {

// ---------------------------------------------------------------------------------------
// Model registry
// ---------------------------------------------------------------------------------------

/// Status of a model version (`ModelVersionStatus`; numbered 1..3 on the wire). MLflow's
/// own SQL registry creates versions READY at once; other registries may report
/// PENDING_REGISTRATION first (see Client::wait_for_model_version_ready).
enum class ModelVersionStatus { kPendingRegistration = 1, kFailedRegistration = 2, kReady = 3 };

/// "PENDING_REGISTRATION", "FAILED_REGISTRATION" or "READY".
const char* to_string(ModelVersionStatus status) noexcept;
/// Parses a status name; std::nullopt for an unknown name.
std::optional<ModelVersionStatus> model_version_status_from_string(const std::string& name) noexcept;

/// A registered model tag: key ≤ 250 characters (run-tag key rules), value ≤ 100000
/// characters. Last write wins.
struct RegisteredModelTag {
  std::string key;
  std::string value;
};

/// A model version tag: key ≤ 250 characters (run-tag key rules), value ≤ 100000
/// characters. Last write wins.
struct ModelVersionTag {
  std::string key;
  std::string value;
};

/// An alias of a registered model pointing at one of its versions (`RegisteredModelAlias`).
struct RegisteredModelAlias {
  std::string alias;    ///< `^[\w-]*$`, ≤ 255 characters; not `latest` (any case) nor `v<digits>`
  std::string version;  ///< decimal string
};

/// A parameter of the model behind a version (`ModelParam`; filled by registries that
/// track it, not by MLflow's OSS server 3.18).
struct ModelParam {
  std::string name;
  std::string value;
};

/// A version of a registered model (`ModelVersion`).
struct ModelVersion {
  std::string name;                    ///< the registered model's name
  std::string version;                 ///< decimal string, e.g. "3"
  int64_t creation_timestamp = 0;      ///< ms since the epoch
  int64_t last_updated_timestamp = 0;  ///< ms since the epoch
  std::string user_id;                 ///< empty on MLflow's OSS server
  std::string current_stage;           ///< "None", "Staging", "Production" or "Archived" (deprecated stages)
  std::string description;
  /// Where the model's files are, as given at creation: a storage URI
  /// (`mlflow-artifacts:/...`, `s3://...`), `runs:/<run_id>/<path>` or `models:/<model_id>`.
  std::string source;
  std::string run_id;  ///< the run that produced the model; may be empty
  ModelVersionStatus status = ModelVersionStatus::kReady;
  std::string status_message;  ///< why registration failed, when it did
  std::vector<ModelVersionTag> tags;
  std::string run_link;  ///< a link to the run in another workspace; may be empty
  /// Aliases pointing at this version. Filled by get_model_version, get_model_version_by_alias
  /// and get_latest_versions; search_model_versions may leave it empty (as in MLflow).
  std::vector<std::string> aliases;
  /// The MLflow 3 logged model this version was registered from. The field is in the
  /// protocol, but MLflow's OSS server (3.18) neither stores nor returns it: there it is
  /// empty, and a version registered from a logged model shows it through `source`
  /// (`models:/<model_id>`) and the logged model's `mlflow.modelVersions` tag instead.
  std::string model_id;
  std::vector<ModelParam> model_params;  ///< when the registry sends them (not MLflow OSS 3.18)
  std::vector<Metric> model_metrics;     ///< when the registry sends them (not MLflow OSS 3.18)

  /// The value of tag `key`, if present.
  std::optional<std::string> tag(const std::string& key) const;
  /// True when `alias` points at this version (per `aliases`).
  bool has_alias(const std::string& alias) const;
};

/// A registered model (`RegisteredModel`).
struct RegisteredModel {
  std::string name;                    ///< ≤ 256 characters; no '/' or ':'
  int64_t creation_timestamp = 0;      ///< ms since the epoch
  int64_t last_updated_timestamp = 0;  ///< ms since the epoch
  std::string user_id;                 ///< empty on MLflow's OSS server
  std::string description;
  /// The latest version per stage (the deprecated stages API): for a model without
  /// stages, its newest version.
  std::vector<ModelVersion> latest_versions;
  std::vector<RegisteredModelTag> tags;
  std::vector<RegisteredModelAlias> aliases;
  std::string deployment_job_id;  ///< Databricks only; empty elsewhere

  /// The value of tag `key`, if present.
  std::optional<std::string> tag(const std::string& key) const;
  /// The version `alias` points at, if the alias exists.
  std::optional<std::string> alias_version(const std::string& alias) const;
};

/// Arguments of Client::search_registered_models (`GET /mlflow/registered-models/search`).
struct SearchRegisteredModelsOptions {
  /// e.g. "name LIKE 'digits%' AND tags.team = 'ml'" (`name` with = != LIKE ILIKE;
  /// `tags.<key>`). Empty: every registered model.
  std::string filter_string;
  int64_t max_results = 100;          ///< 1..1000 (the server's limit); Python's default is 100
  std::vector<std::string> order_by;  ///< e.g. {"name ASC", "last_updated_timestamp DESC"}
  std::string page_token;             ///< from a previous page; empty for the first
};

/// Arguments of Client::search_model_versions (`GET /mlflow/model-versions/search`).
struct SearchModelVersionsOptions {
  /// e.g. "name = 'digits' AND tags.stage = 'candidate'" (also `run_id`, `source_path`,
  /// `version_number`). Empty: every model version.
  std::string filter_string;
  int64_t max_results = 10000;        ///< 1..200000 (the server's limit); Python's default is 10000
  std::vector<std::string> order_by;  ///< e.g. {"version_number DESC"}
  std::string page_token;
};

/// Optional arguments of Client::create_model_version (`POST /mlflow/model-versions/create`),
/// named as the Python client's `MlflowClient.create_model_version(name, source, run_id=None,
/// tags=None, run_link=None, description=None, model_id=None)`; the required `name` and
/// `source` are the call's own arguments. Empty fields are not sent. (Python's
/// `await_creation_for` is Client::wait_for_model_version_ready here.)
struct CreateModelVersionOptions {
  /// The run that produced the model; the server then checks that `source` lies inside that
  /// run's artifacts ("runs:/<run_id>/..." or "<run artifact_uri>/...").
  std::string run_id;
  std::vector<ModelVersionTag> tags;  ///< key ≤ 250 (run-tag key rules), value ≤ 100000 characters
  std::string run_link;               ///< a link to the run in another workspace
  std::string description;
  /// The MLflow 3 logged model the version is made from (with source "models:/<model_id>").
  std::string model_id;
};

/// Arguments of Client::register_model (the C++ counterpart of `mlflow.register_model`).
struct RegisterModelOptions {
  std::vector<ModelVersionTag> tags;  ///< tags of the new version
  std::string description;            ///< description of the new version
  std::string run_link;
  /// How long to wait for the new version to become READY (0: do not wait); as Python's
  /// `await_registration_for` (300 s).
  std::chrono::milliseconds await_registration_for{std::chrono::minutes(5)};
  /// Time between two reads of the version while waiting (> 0).
  std::chrono::milliseconds poll_interval{std::chrono::seconds(1)};
};

/// Thrown by Client::wait_for_model_version_ready (and register_model) when a model
/// version did not become READY: either its registration failed (FAILED_REGISTRATION,
/// with the server's `status_message`), or it was still PENDING_REGISTRATION when the
/// timeout expired. `model_version()` is the last state read from the server.
class ModelVersionNotReadyError : public Error {
 public:
  /// Why the version is not READY.
  enum class Reason {
    kFailedRegistration,  ///< the registry reported FAILED_REGISTRATION
    kTimeout,             ///< still PENDING_REGISTRATION when the timeout expired
  };
  ModelVersionNotReadyError(Reason reason, ModelVersion last_seen, const std::string& what)
      : Error(what), reason_(reason), model_version_(std::move(last_seen)) {}
  Reason reason() const noexcept { return reason_; }
  /// True for Reason::kTimeout.
  bool timed_out() const noexcept { return reason_ == Reason::kTimeout; }
  /// The version as last read (its `status_message` says why a registration failed).
  const ModelVersion& model_version() const noexcept { return model_version_; }

 private:
  Reason reason_;
  ModelVersion model_version_;
};

// ---------------------------------------------------------------------------------------
// MLflow 3 logged models
// ---------------------------------------------------------------------------------------

/// Status of a logged model (`LoggedModelStatus`; on the wire "LOGGED_MODEL_PENDING", ...).
enum class LoggedModelStatus { kUnspecified = 0, kPending = 1, kReady = 2, kUploadFailed = 3 };

/// "LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY" or
/// "LOGGED_MODEL_UPLOAD_FAILED" (the wire names).
const char* to_string(LoggedModelStatus status) noexcept;
/// Parses a wire name (also the short forms "PENDING", "READY", "UPLOAD_FAILED");
/// std::nullopt for an unknown name.
std::optional<LoggedModelStatus> logged_model_status_from_string(const std::string& name) noexcept;

/// A logged model tag. Last write wins. Keys containing '/' can be set but not deleted
/// through the REST API (the key travels in the URL path).
struct LoggedModelTag {
  std::string key;
  std::string value;
};

/// A logged model parameter (`LoggedModelParameter`): write-once per key (logging a key
/// again, even with the same value, is refused by the server).
struct LoggedModelParam {
  std::string key;  ///< ≤ 255 characters (SQL column)
  std::string value;
};

/// A registered model version created from a logged model (`LoggedModelRegistrationInfo`).
struct LoggedModelRegistration {
  std::string name;
  std::string version;
};

/// Attributes of a logged model (`LoggedModelInfo`).
struct LoggedModelInfo {
  std::string model_id;  ///< "m-<32 hex>" on MLflow's own stores
  std::string experiment_id;
  std::string name;  ///< no '/', ':', '.', '%', '"' or '\''; random when not given at creation
  int64_t creation_timestamp_ms = 0;      ///< ms since the epoch
  int64_t last_updated_timestamp_ms = 0;  ///< ms since the epoch
  /// Where the model's files go, e.g. "mlflow-artifacts:/1/models/m-.../artifacts".
  std::string artifact_uri;
  LoggedModelStatus status = LoggedModelStatus::kUnspecified;
  int64_t creator_id = 0;
  std::string model_type;     ///< free-form, e.g. "torchscript", "agent"
  std::string source_run_id;  ///< the run that produced the model; may be empty
  std::string status_message;
  std::vector<LoggedModelTag> tags;
  /// Registered versions made from this model, when the server fills it (MLflow OSS 3.18
  /// does not; see the `mlflow.modelVersions` tag instead).
  std::vector<LoggedModelRegistration> registrations;

  /// The value of tag `key`, if present.
  std::optional<std::string> tag(const std::string& key) const;
};

/// Params and linked metrics of a logged model (`LoggedModelData`). `metrics` holds
/// every metric point logged with this model's id (`Metric::model_id`), each with its
/// `run_id`.
struct LoggedModelData {
  std::vector<LoggedModelParam> params;
  std::vector<Metric> metrics;

  std::optional<std::string> param(const std::string& key) const;
};

/// An MLflow 3 logged model (`LoggedModel`): info and data, as in the proto.
struct LoggedModel {
  LoggedModelInfo info;
  LoggedModelData data;
};

/// Optional arguments of Client::create_logged_model (`POST /mlflow/logged-models`), named
/// and ordered as the Python client's `MlflowClient.create_logged_model(experiment_id,
/// name=None, source_run_id=None, tags=None, params=None, model_type=None)`. Empty fields
/// are not sent. Unlike that call (and like the fluent API), the system tags are added.
struct CreateLoggedModelOptions {
  /// Empty: the server picks a random name. Otherwise no '/', ':', '.', '%', '"' or '\''.
  std::string name;
  std::string source_run_id;         ///< the run that produced the model
  std::vector<LoggedModelTag> tags;  ///< keys non-empty
  /// Write-once params: keys unique and non-empty. Any number: the first 100 go with the
  /// creation request, the rest in requests of 100 (as the Python client does).
  std::vector<LoggedModelParam> params;
  std::string model_type;  ///< free-form, e.g. "torchscript", "agent"
  /// Add the system tags Python's `mlflow.initialize_logged_model`, `create_external_model`
  /// and `log_model` set — the same as StartRunOptions::system_tags — under `tags` (a tag
  /// given there wins). They make the UI show "Created by" and "Logged from".
  bool system_tags = true;
};

/// A dataset a search_logged_models metric filter applies to.
struct LoggedModelSearchDataset {
  std::string dataset_name;    ///< required
  std::string dataset_digest;  ///< optional
};

/// One ordering clause of search_logged_models.
struct LoggedModelOrderBy {
  /// e.g. "creation_timestamp", "name", "metrics.accuracy", "params.alpha".
  std::string field_name;
  bool ascending = true;
  std::string dataset_name;    ///< only for metrics: order by the metric on this dataset
  std::string dataset_digest;  ///< only with dataset_name
};

/// Arguments of Client::search_logged_models (`POST /mlflow/logged-models/search`).
struct SearchLoggedModelsOptions {
  /// e.g. "params.alpha < 0.3 AND metrics.accuracy > 0.9 AND name = 'mlp'"
  /// (attributes, `metrics.`, `params.`, `tags.`).
  std::string filter_string;
  /// Restrict metric filters to metrics computed on these datasets.
  std::vector<LoggedModelSearchDataset> datasets;
  int64_t max_results = 50;  ///< 1..2^31−1; the protocol's default is 50
  std::vector<LoggedModelOrderBy> order_by;
  std::string page_token;
};

}  // namespace mlflowpp
