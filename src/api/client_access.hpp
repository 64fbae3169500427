#pragma once
// The library's own door into a Client (not API): building one over another transport
// (unit tests over a fake transport, integration tests over a recording one) and reaching
// its tracking store. Private: not installed; the public header only names the struct.

#include <memory>

#include "detail/http/http.hpp"
#include "detail/store/tracking_store.hpp"
#include "mlflowpp/client.hpp"

namespace mlflowpp::detail {

struct ClientAccess {
  /// A Client over `transport` (nullptr: libcurl), with the same stack as Client(options).
  static Client make(ClientOptions options, std::shared_ptr<Transport> transport);
  /// The tracking store behind `client`.
  static TrackingStore& store(Client& client);
  /// True when every request `client` made so far failed before its server saw it
  /// (Reachability::refused_everything); false for the local store.
  static bool refused_everything(const Client& client);
};

}  // namespace mlflowpp::detail
