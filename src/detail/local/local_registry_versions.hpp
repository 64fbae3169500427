#pragma once
// The local registry store's model versions (local_registry_versions.cpp) and the row
// readers the registered-model half (local_registry_store.cpp) shares, with the semantics
// of the pinned MLflow's model-registry SqlAlchemyStore. Each function runs inside the
// caller's transaction (LocalDatabase::read / write). Private: not installed.

#include <cstdint>
#include <string>
#include <vector>

#include "detail/local/sqlite.hpp"
#include "mlflowpp/registry.hpp"

namespace mlflowpp::detail::local {

/// The workspace every registry row of a single-tenant MLflow carries.
inline constexpr const char* kWorkspace = "default";

/// MLflow's internal stage of a deleted (redacted) version.
inline constexpr const char* kStageDeleted = "Deleted_Internal";

/// "None", "Staging", "Production" or "Archived" for any casing; INVALID_PARAMETER_VALUE else.
std::string canonical_stage(const std::string& stage);
/// The version number of a decimal string; INVALID_PARAMETER_VALUE else.
int64_t parse_version(const std::string& version);

/// Throws RESOURCE_DOES_NOT_EXIST unless registered model `name` exists.
void require_registered_model(sql::Connection& c, const std::string& name);
/// Updates the registered model's last_updated_time.
void touch_registered_model(sql::Connection& c, const std::string& name, int64_t now);

/// A version that is not deleted, with its tags and (when `with_aliases`) its aliases;
/// RESOURCE_DOES_NOT_EXIST otherwise.
ModelVersion load_version(sql::Connection& c, const std::string& name, int64_t version, bool with_aliases);
/// The newest non-deleted version per stage, with tags (aliases when `with_aliases`).
std::vector<ModelVersion> latest_versions(sql::Connection& c, const std::string& name, bool with_aliases);

// ---- operations (one MLflow store call each)

ModelVersion create_version(sql::Connection& c, const std::string& name, const std::string& source,
                            const CreateModelVersionOptions& o);
ModelVersion update_version(sql::Connection& c, const std::string& name, const std::string& version,
                            const std::string& description);
void delete_version(sql::Connection& c, const std::string& name, const std::string& version);
PagedList<ModelVersion> search_versions(sql::Connection& c, const SearchModelVersionsOptions& o);
void set_version_tag(sql::Connection& c, const std::string& name, const std::string& version,
                     const std::string& key, const std::string& value);
void delete_version_tag(sql::Connection& c, const std::string& name, const std::string& version,
                        const std::string& key);
ModelVersion transition_stage(sql::Connection& c, const std::string& name, const std::string& version,
                              const std::string& stage, bool archive_existing_versions);
std::string download_uri(sql::Connection& c, const std::string& name, const std::string& version);

}  // namespace mlflowpp::detail::local
