// Client: the model registry (registered models, versions, aliases, tags) and
// register_model. Validates the arguments (nothing is sent when one is refused), runs
// register_model's URI resolution and the wait/poll and all-pages loops, and calls the
// registry store (detail/store/registry_store.hpp) for everything else. See client.hpp for
// the contract of every call.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <string_view>
#include <thread>

#include "api/client_impl.hpp"
#include "detail/core/text.hpp"
#include "detail/core/validation.hpp"
#include "detail/rest/paging.hpp"
#include "detail/store/registry_store.hpp"
#include "mlflowpp/client.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/registry.hpp"

namespace mlflowpp {

// ---- value types

const char* to_string(ModelVersionStatus status) noexcept {
  switch (status) {
    case ModelVersionStatus::kPendingRegistration:
      return "PENDING_REGISTRATION";
    case ModelVersionStatus::kFailedRegistration:
      return "FAILED_REGISTRATION";
    case ModelVersionStatus::kReady:
      return "READY";
  }
  return "READY";
}

std::optional<ModelVersionStatus> model_version_status_from_string(const std::string& name) noexcept {
  if (name == "PENDING_REGISTRATION") return ModelVersionStatus::kPendingRegistration;
  if (name == "FAILED_REGISTRATION") return ModelVersionStatus::kFailedRegistration;
  if (name == "READY") return ModelVersionStatus::kReady;
  return std::nullopt;
}

using detail::shown;
using detail::starts_with;

namespace {
template <typename List>
std::optional<std::string> find_value(const List& list, const std::string& key) {
  for (const auto& kv : list)
    if (kv.key == key) return kv.value;
  return std::nullopt;
}
}  // namespace

std::optional<std::string> ModelVersion::tag(const std::string& key) const { return find_value(tags, key); }
bool ModelVersion::has_alias(const std::string& alias) const {
  return std::find(aliases.begin(), aliases.end(), alias) != aliases.end();
}
std::optional<std::string> RegisteredModel::tag(const std::string& key) const {
  return find_value(tags, key);
}
std::optional<std::string> RegisteredModel::alias_version(const std::string& alias) const {
  for (const auto& a : aliases)
    if (a.alias == alias) return a.version;
  return std::nullopt;
}

// ---- validation (mlflow/utils/validation.py, as the 3.18 server applies it)

namespace {

constexpr std::size_t kMaxRegisteredModelNameLength = 256;  // SQL column width
constexpr std::size_t kMaxRegistryTagValueLength = 100000;
constexpr std::size_t kMaxAliasLength = 255;
constexpr int64_t kMaxRegisteredModelsPerPage = 1000;
constexpr int64_t kMaxModelVersionsPerPage = 200000;

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); });
}

// Names of existing models: only what cannot name anything.
void check_model_name(std::string_view name, std::string_view what = "registered model name") {
  if (blank(name)) throw InvalidArgumentError(fmt::format("{} must not be empty", what));
}

// Names a model is created or renamed to: `_validate_model_name` plus the SQL column width.
void check_new_model_name(std::string_view name, std::string_view what = "registered model name") {
  check_model_name(name, what);
  if (!detail::is_valid_utf8(name)) throw InvalidArgumentError(fmt::format("{} is not valid UTF-8", what));
  if (auto n = detail::utf8_length(name); n > kMaxRegisteredModelNameLength)
    throw InvalidArgumentError(fmt::format("{} '{}' is too long: {} characters, the limit is {}", what,
                                           shown(name), n, kMaxRegisteredModelNameLength));
  if (name.find_first_of("/:") != std::string_view::npos)
    throw InvalidArgumentError(fmt::format(
        "invalid {} '{}': names cannot contain '/' or ':' (MLflow 3.11 and later)", what, shown(name)));
  // posixpath.normpath(name) != name, "." or a leading "..": with '/' excluded above,
  // that leaves "." and names starting with "..".
  if (name == "." || name.substr(0, 2) == "..")
    throw InvalidArgumentError(
        fmt::format("invalid {} '{}': names may be used as file names and must not resolve to another name",
                    what, shown(name)));
}

void check_version(std::string_view version) {
  const bool digits =
      !version.empty() && version.size() <= 18 &&
      std::all_of(version.begin(), version.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits)
    throw InvalidArgumentError(
        fmt::format("invalid model version '{}': a version is a non-negative decimal integer such as \"3\"",
                    shown(version)));
}

void check_alias(std::string_view alias, bool setting) {
  if (alias.empty()) throw InvalidArgumentError("registered model alias must not be empty");
  for (char ch : alias) {
    auto c = static_cast<unsigned char>(ch);
    // ASCII exactly as `^[\w-]*$`; non-ASCII is left to the server (Python's \w is Unicode).
    const bool ok = c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok)
      throw InvalidArgumentError(fmt::format(
          "invalid registered model alias '{}': character '{}' is not allowed (aliases may contain "
          "letters, digits, '_' and '-')",
          shown(alias), ch));
  }
  if (auto n = detail::utf8_length(alias); n > kMaxAliasLength)
    throw InvalidArgumentError(
        fmt::format("registered model alias '{}' is too long: {} characters, the limit is {}", shown(alias),
                    n, kMaxAliasLength));
  if (!setting) return;
  std::string lower(alias);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  if (lower == "latest")
    throw InvalidArgumentError(fmt::format(
        "registered model alias '{}' is reserved: 'latest' (any case) names the newest version", alias));
  if (alias.size() >= 2 && (alias[0] == 'v' || alias[0] == 'V') &&
      std::all_of(alias.begin() + 1, alias.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw InvalidArgumentError(
        fmt::format("registered model alias '{}' is reserved: 'v<digits>' names a version", alias));
}

void check_registry_tag(std::string_view what, std::string_view key, std::string_view value) {
  detail::throw_if(detail::check_key(what, key));  // run-tag key rules, ≤ 250 characters
  detail::throw_if(detail::check_value(what, key, value, kMaxRegistryTagValueLength));
}

template <typename Tags>
void check_registry_tags(std::string_view what, const Tags& tags) {
  for (const auto& t : tags) check_registry_tag(what, t.key, t.value);
}

void check_max_results(int64_t v, int64_t max, const char* what) {
  if (v < 1 || v > max)
    throw InvalidArgumentError(fmt::format("{}: max_results must be 1..{}, got {}", what, max, v));
}

// A logged model name as the server accepts it (`_validate_logged_model_name`).
bool valid_logged_model_name(std::string_view name) {
  return !name.empty() && name.find_first_of("/:.%\"'") == std::string_view::npos;
}

}  // namespace

// ---- registered models

RegisteredModel Client::create_registered_model(const std::string& name,
                                                const std::vector<RegisteredModelTag>& tags,
                                                const std::string& description) {
  check_new_model_name(name);
  check_registry_tags("registered model tag", tags);
  return impl_->registry->create_registered_model(name, tags, description);
}

RegisteredModel Client::get_registered_model(const std::string& name) {
  check_model_name(name);
  return impl_->registry->get_registered_model(name);
}

RegisteredModel Client::rename_registered_model(const std::string& name, const std::string& new_name) {
  check_model_name(name);
  check_new_model_name(new_name, "new registered model name");
  return impl_->registry->rename_registered_model(name, new_name);
}

RegisteredModel Client::update_registered_model(const std::string& name, const std::string& description) {
  check_model_name(name);
  return impl_->registry->update_registered_model(name, description);
}

void Client::delete_registered_model(const std::string& name) {
  check_model_name(name);
  impl_->registry->delete_registered_model(name);
}

PagedList<RegisteredModel> Client::search_registered_models(const SearchRegisteredModelsOptions& options) {
  check_max_results(options.max_results, kMaxRegisteredModelsPerPage, "search_registered_models");
  return impl_->registry->search_registered_models(options);
}

std::vector<RegisteredModel> Client::search_all_registered_models(SearchRegisteredModelsOptions options) {
  std::string start = std::move(options.page_token);
  return detail::paging::collect_all<RegisteredModel>(
      std::move(start), options.max_results, "registered-models/search",
      [&](const std::string& token) {
        options.page_token = token;
        return search_registered_models(options);
      },
      [](const RegisteredModel& m) { return m.name; });
}

void Client::set_registered_model_tag(const std::string& name, const std::string& key,
                                      const std::string& value) {
  check_model_name(name);
  check_registry_tag("registered model tag", key, value);
  impl_->registry->set_registered_model_tag(name, key, value);
}

void Client::delete_registered_model_tag(const std::string& name, const std::string& key) {
  check_model_name(name);
  detail::throw_if(detail::check_key("registered model tag", key));
  impl_->registry->delete_registered_model_tag(name, key);
}

void Client::set_registered_model_alias(const std::string& name, const std::string& alias,
                                        const std::string& version) {
  check_model_name(name);
  check_alias(alias, true);
  check_version(version);
  impl_->registry->set_registered_model_alias(name, alias, version);
}

void Client::delete_registered_model_alias(const std::string& name, const std::string& alias) {
  check_model_name(name);
  check_alias(alias, false);
  impl_->registry->delete_registered_model_alias(name, alias);
}

ModelVersion Client::get_model_version_by_alias(const std::string& name, const std::string& alias) {
  check_model_name(name);
  check_alias(alias, false);
  return impl_->registry->get_model_version_by_alias(name, alias);
}

std::vector<ModelVersion> Client::get_latest_versions(const std::string& name,
                                                      const std::vector<std::string>& stages) {
  check_model_name(name);
  return impl_->registry->get_latest_versions(name, stages);
}

// ---- model versions

ModelVersion Client::create_model_version(const std::string& name, const std::string& source,
                                          const CreateModelVersionOptions& options) {
  check_model_name(name);
  if (source.empty()) throw InvalidArgumentError("create_model_version: source must not be empty");
  check_registry_tags("model version tag", options.tags);
  return impl_->registry->create_model_version(name, source, options);
}

ModelVersion Client::register_model(const std::string& model_uri, const std::string& name,
                                    const RegisterModelOptions& options) {
  check_new_model_name(name);
  if (model_uri.empty()) throw InvalidArgumentError("register_model: model_uri must not be empty");
  check_registry_tags("model version tag", options.tags);
  if (options.await_registration_for.count() > 0 && options.poll_interval.count() <= 0)
    throw InvalidArgumentError("register_model: poll_interval must be positive");

  CreateModelVersionOptions version;
  version.tags = options.tags;
  version.run_link = options.run_link;
  version.description = options.description;
  std::string source = model_uri;
  if (starts_with(model_uri, "runs:/")) {
    std::string_view rest = std::string_view(model_uri).substr(6);
    const auto slash = rest.find('/');
    const std::string run_id(rest.substr(0, slash));
    std::string path = slash == std::string_view::npos ? std::string() : std::string(rest.substr(slash + 1));
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (run_id.empty())
      throw InvalidArgumentError(
          fmt::format("register_model: '{}' is not a runs:/<run_id>/<path> URI", shown(model_uri)));
    version.run_id = run_id;
    const Run run = get_run(run_id);

    // As `mlflow.register_model`: an MLmodel file under the path means the run's own
    // artifacts; otherwise an MLflow 3 logged model of that name produced by the run.
    bool has_mlmodel = false;
    try {
      const std::string wanted = path.empty() ? "MLmodel" : path + "/MLmodel";
      for (const auto& p : impl_->registry->list_run_artifact_paths(run_id, path))
        has_mlmodel = has_mlmodel || p == wanted;
    } catch (const ServerError&) {
      // Listing is not possible (e.g. artifacts not served): decide without it.
    }
    if (!has_mlmodel && valid_logged_model_name(path)) {
      SearchLoggedModelsOptions so;
      so.filter_string = fmt::format("name = '{}'", path);
      so.max_results = 100;
      const LoggedModel* best = nullptr;
      int64_t best_step = 0;
      std::vector<LoggedModel> found;
      try {
        found = search_all_logged_models({run.info.experiment_id}, so);
      } catch (const ServerError&) {
        // A server without logged models (MLflow 2): the run's artifacts it is.
      }
      for (const auto& m : found) {
        if (m.info.source_run_id != run_id || m.info.name != path) continue;
        int64_t step = std::numeric_limits<int64_t>::min();
        for (const auto& out : run.outputs.model_outputs)
          if (out.model_id == m.info.model_id) step = std::max(step, out.step);
        if (best == nullptr || step > best_step) {
          best = &m;
          best_step = step;
        }
      }
      if (best != nullptr) version.model_id = best->info.model_id;
    }
    if (!version.model_id.empty()) {
      source = "models:/" + version.model_id;
    } else {
      std::string root = run.info.artifact_uri;
      while (!root.empty() && root.back() == '/') root.pop_back();
      source = path.empty() ? root : root + "/" + path;
    }
  } else if (starts_with(model_uri, "models:/")) {
    std::string_view rest = std::string_view(model_uri).substr(8);
    // "models:/<model_id>"; "models:/<name>/<version|stage>" and "models:/<name>@<alias>"
    // name registry versions and go to the server as they are.
    if (!rest.empty() && rest.find_first_of("/@") == std::string_view::npos)
      version.model_id = std::string(rest);
  }

  try {
    create_registered_model(name);
  } catch (const ServerError& e) {
    if (!e.is_already_exists()) throw;
  }
  ModelVersion mv = create_model_version(name, source, version);
  if (mv.status == ModelVersionStatus::kReady || options.await_registration_for.count() <= 0) return mv;
  return wait_for_model_version_ready(name, mv.version, options.await_registration_for,
                                      options.poll_interval);
}

ModelVersion Client::get_model_version(const std::string& name, const std::string& version) {
  check_model_name(name);
  check_version(version);
  return impl_->registry->get_model_version(name, version);
}

ModelVersion Client::update_model_version(const std::string& name, const std::string& version,
                                          const std::string& description) {
  check_model_name(name);
  check_version(version);
  return impl_->registry->update_model_version(name, version, description);
}

void Client::delete_model_version(const std::string& name, const std::string& version) {
  check_model_name(name);
  check_version(version);
  impl_->registry->delete_model_version(name, version);
}

PagedList<ModelVersion> Client::search_model_versions(const SearchModelVersionsOptions& options) {
  check_max_results(options.max_results, kMaxModelVersionsPerPage, "search_model_versions");
  return impl_->registry->search_model_versions(options);
}

std::vector<ModelVersion> Client::search_all_model_versions(SearchModelVersionsOptions options) {
  std::string start = std::move(options.page_token);
  return detail::paging::collect_all<ModelVersion>(
      std::move(start), options.max_results, "model-versions/search",
      [&](const std::string& token) {
        options.page_token = token;
        return search_model_versions(options);
      },
      [](const ModelVersion& v) { return v.name + "/" + v.version; });
}

void Client::set_model_version_tag(const std::string& name, const std::string& version,
                                   const std::string& key, const std::string& value) {
  check_model_name(name);
  check_version(version);
  check_registry_tag("model version tag", key, value);
  impl_->registry->set_model_version_tag(name, version, key, value);
}

void Client::delete_model_version_tag(const std::string& name, const std::string& version,
                                      const std::string& key) {
  check_model_name(name);
  check_version(version);
  detail::throw_if(detail::check_key("model version tag", key));
  impl_->registry->delete_model_version_tag(name, version, key);
}

ModelVersion Client::transition_model_version_stage(const std::string& name, const std::string& version,
                                                    const std::string& stage,
                                                    bool archive_existing_versions) {
  check_model_name(name);
  check_version(version);
  if (stage.empty()) throw InvalidArgumentError("transition_model_version_stage: stage must not be empty");
  return impl_->registry->transition_model_version_stage(name, version, stage, archive_existing_versions);
}

std::string Client::get_model_version_download_uri(const std::string& name, const std::string& version) {
  check_model_name(name);
  check_version(version);
  return impl_->registry->get_model_version_download_uri(name, version);
}

ModelVersion Client::wait_for_model_version_ready(const std::string& name, const std::string& version,
                                                  std::chrono::milliseconds timeout,
                                                  std::chrono::milliseconds poll_interval) {
  check_model_name(name);
  check_version(version);
  if (poll_interval.count() <= 0)
    throw InvalidArgumentError(fmt::format(
        "wait_for_model_version_ready: poll_interval must be positive, got {} ms", poll_interval.count()));
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    ModelVersion mv = get_model_version(name, version);
    if (mv.status == ModelVersionStatus::kReady) return mv;
    if (mv.status == ModelVersionStatus::kFailedRegistration) {
      std::string what = fmt::format(
          "model version {} of registered model '{}' failed to register (FAILED_REGISTRATION): {}", version,
          name, mv.status_message.empty() ? "no status message" : mv.status_message);
      throw ModelVersionNotReadyError(ModelVersionNotReadyError::Reason::kFailedRegistration, std::move(mv),
                                      what);
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      std::string what = fmt::format(
          "timed out after {} ms waiting for model version {} of registered model '{}' to become READY "
          "(still {}{}{})",
          timeout.count(), version, name, to_string(mv.status), mv.status_message.empty() ? "" : ": ",
          mv.status_message);
      throw ModelVersionNotReadyError(ModelVersionNotReadyError::Reason::kTimeout, std::move(mv), what);
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(poll_interval, deadline - now));
  }
}

}  // namespace mlflowpp
