#pragma once
// Readers of the model registry's and the logged models' answers, built on the tolerant
// readers of detail/json_read.hpp: every field optional, unknown fields ignored, int64 as
// a number or a string, enums by name or number. Each throws ParseError when the body is
// not a JSON object (or lacks the one object the answer is about). Private.

#include <string>
#include <vector>

#include "mlflowpp/entities.hpp"
#include "mlflowpp/registry.hpp"

namespace mlflowpp::detail {

/// `{"registered_model": {...}}` (create, get, rename, update).
RegisteredModel parse_registered_model_response(const std::string& body);
/// `{"registered_models": [...], "next_page_token": "..."}`.
PagedList<RegisteredModel> parse_search_registered_models(const std::string& body);
/// `{"model_version": {...}}` (create, get, update, transition-stage, get by alias).
ModelVersion parse_model_version_response(const std::string& body);
/// `{"model_versions": [...], "next_page_token": "..."}` (search, get-latest-versions).
PagedList<ModelVersion> parse_model_versions(const std::string& body);
/// `{"artifact_uri": "..."}` (get-download-uri).
std::string parse_download_uri_response(const std::string& body);

/// `{"model": {...}}` (create, get, finalize).
LoggedModel parse_logged_model_response(const std::string& body);
/// `{"models": [...], "next_page_token": "..."}`.
PagedList<LoggedModel> parse_search_logged_models(const std::string& body);

/// The relative paths in a `GET /mlflow/artifacts/list` answer (`files[].path`).
std::vector<std::string> parse_artifact_list_paths(const std::string& body);

}  // namespace mlflowpp::detail
