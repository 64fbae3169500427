#include "mlflowpp/entities.hpp"

#include "mlflowpp/version.hpp"

namespace mlflowpp {

const char* version() noexcept { return MLFLOWPP_VERSION_STRING; }

const char* to_string(RunStatus status) noexcept {
  switch (status) {
    case RunStatus::kRunning:
      return "RUNNING";
    case RunStatus::kScheduled:
      return "SCHEDULED";
    case RunStatus::kFinished:
      return "FINISHED";
    case RunStatus::kFailed:
      return "FAILED";
    case RunStatus::kKilled:
      return "KILLED";
  }
  return "RUNNING";
}

std::optional<RunStatus> run_status_from_string(const std::string& name) noexcept {
  if (name == "RUNNING") return RunStatus::kRunning;
  if (name == "SCHEDULED") return RunStatus::kScheduled;
  if (name == "FINISHED") return RunStatus::kFinished;
  if (name == "FAILED") return RunStatus::kFailed;
  if (name == "KILLED") return RunStatus::kKilled;
  return std::nullopt;
}

const char* to_string(ViewType view_type) noexcept {
  switch (view_type) {
    case ViewType::kActiveOnly:
      return "ACTIVE_ONLY";
    case ViewType::kDeletedOnly:
      return "DELETED_ONLY";
    case ViewType::kAll:
      return "ALL";
  }
  return "ACTIVE_ONLY";
}

namespace {
template <typename List>
std::optional<std::string> find_value(const List& list, const std::string& key) {
  for (const auto& kv : list)
    if (kv.key == key) return kv.value;
  return std::nullopt;
}
}  // namespace

std::optional<std::string> Experiment::tag(const std::string& key) const { return find_value(tags, key); }
std::optional<std::string> RunData::param(const std::string& key) const { return find_value(params, key); }
std::optional<std::string> RunData::tag(const std::string& key) const { return find_value(tags, key); }
std::optional<Metric> RunData::metric(const std::string& key) const {
  for (const auto& m : metrics)
    if (m.key == key) return m;
  return std::nullopt;
}

}  // namespace mlflowpp
