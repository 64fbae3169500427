#pragma once
// From ClientOptions to a TrackingStore: the transport (libcurl unless one is given), the
// REST client over it and the tracking store over that. One function, used by
// mlflowpp::Client and by the mlflowpp-sync tool, so that both normalize the options and
// wire the layers the same way. Private: not installed.

#include <memory>

#include "mlflowpp/options.hpp"

namespace mlflowpp::detail {

class Transport;
class RestClient;
class TrackingStore;

struct TrackingStack {
  /// As given, normalized: credentials moved out of the tracking URI into username and
  /// password, validated, no trailing '/'.
  ClientOptions options;
  std::shared_ptr<Transport> transport;
  std::shared_ptr<RestClient> rest;
  std::shared_ptr<TrackingStore> store;
};

/// Normalizes `options` (see TrackingStack::options), warms the JSON parser up and builds
/// the stack over `transport` (a libcurl transport configured from the options when null).
/// Throws InvalidArgumentError for options that cannot work (ClientOptions::validate).
TrackingStack make_tracking_stack(ClientOptions options, std::shared_ptr<Transport> transport = nullptr);

}  // namespace mlflowpp::detail
