#pragma once
// The state behind a mlflowpp::Client, shared by its copies. Private: the Client's
// methods are implemented across several files (client.cpp for tracking; others add
// the model registry and artifacts) and all reach the REST layer through this.

#include <memory>
#include <mutex>

#include "detail/http/http.hpp"
#include "detail/local/database.hpp"
#include "detail/rest/rest.hpp"
#include "detail/store/registry_store.hpp"
#include "detail/store/tracking_store.hpp"
#include "mlflowpp/async_logger.hpp"
#include "mlflowpp/client.hpp"

namespace mlflowpp {

struct Client::Impl {
  ClientOptions options;
  std::shared_ptr<detail::Transport> transport;
  /// REST only: what the transport has seen of the server (the fail-fast rule, ADR 0009).
  std::shared_ptr<detail::Reachability> reach;
  /// REST only (null for the embedded local store).
  std::shared_ptr<detail::RestClient> rest;
  /// The embedded local store's database (null for REST).
  std::shared_ptr<detail::LocalDatabase> local;
  std::shared_ptr<detail::TrackingStore> store;
  /// The model registry and logged models (client_registry.cpp, client_logged_models.cpp).
  std::shared_ptr<detail::RegistryStore> registry;
  /// The tracking URI without credentials, for messages and the spool folder's name.
  std::string target;
  std::once_flag logger_once;
  std::unique_ptr<AsyncLogger> logger;

  ~Impl() {
    if (logger) (void)logger->shutdown(options.logger.end_run_flush_timeout);  // last copy: nothing to tell
  }
};

}  // namespace mlflowpp
