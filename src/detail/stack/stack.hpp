#pragma once
// From ClientOptions to the stores: for an http(s) tracking URI the transport (libcurl
// unless one is given), the REST client over it and the REST stores over that; for no
// tracking URI or a `sqlite:` one, the embedded local store's database and its stores.
// One function, used by mlflowpp::Client and by the mlflowpp-sync tool, so that both
// normalize the options and wire the layers the same way. Private: not installed.

#include <memory>
#include <string>

#include "mlflowpp/options.hpp"

namespace mlflowpp::detail {

class Transport;
struct Reachability;
class RestClient;
class TrackingStore;
class RegistryStore;
class LocalDatabase;

struct TrackingStack {
  /// As given, normalized: credentials moved out of the tracking URI into username and
  /// password, validated, no trailing '/'. For the local store: `sqlite:///<absolute path>`.
  ClientOptions options;
  /// REST only (null for the local store).
  std::shared_ptr<Transport> transport;
  /// REST only: what the transport has seen of the server (observe_reachability).
  std::shared_ptr<Reachability> reach;
  std::shared_ptr<RestClient> rest;
  /// Local store only (null for REST).
  std::shared_ptr<LocalDatabase> local;
  std::shared_ptr<TrackingStore> store;
  std::shared_ptr<RegistryStore> registry;
  /// The tracking URI without credentials, for messages and spool folder names.
  std::string target;
};

/// Normalizes `options` (see TrackingStack::options) and builds the stack: the local store
/// when options.tracking_uri is empty or `sqlite:` (the database is opened, created with
/// MLflow's schema when new, and checked), else REST over `transport` (a libcurl transport
/// configured from the options when null). Throws InvalidArgumentError for options that
/// cannot work (ClientOptions::validate) and for a database file that cannot be used.
TrackingStack make_tracking_stack(ClientOptions options, std::shared_ptr<Transport> transport = nullptr);

}  // namespace mlflowpp::detail
