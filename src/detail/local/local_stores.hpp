#pragma once
// The embedded local store's implementations of the store seams (ADR 0001, ADR 0008): the
// tracking store (local_tracking.hpp) and the registry store with MLflow 3 logged models
// (local_registry.hpp), both over one LocalDatabase, with the semantics of
// MLflow's SqlAlchemyStore. Private: not installed.

#include <memory>

#include "detail/local/database.hpp"
#include "detail/store/registry_store.hpp"
#include "detail/store/tracking_store.hpp"

namespace mlflowpp::detail {

std::shared_ptr<TrackingStore> make_local_tracking_store(std::shared_ptr<LocalDatabase> db);
std::shared_ptr<RegistryStore> make_local_registry_store(std::shared_ptr<LocalDatabase> db);

}  // namespace mlflowpp::detail
