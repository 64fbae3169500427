#include "detail/stack/stack.hpp"

#include <utility>

#include "detail/codec/json.hpp"
#include "detail/http/http.hpp"
#include "detail/local/database.hpp"
#include "detail/local/local_stores.hpp"
#include "detail/local/local_uri.hpp"
#include "detail/rest/rest.hpp"
#include "detail/store/registry_store.hpp"
#include "detail/store/tracking_store.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

TrackingStack make_tracking_stack(ClientOptions options, std::shared_ptr<Transport> transport) {
  warm_up_json();
  TrackingStack s;
  if (is_local_tracking_uri(options.tracking_uri)) {
    if (transport)
      throw InvalidArgumentError("a transport was given for a local tracking URI ('" + options.tracking_uri +
                                 "'): the local store sends no HTTP requests");
    const LocalTarget target = parse_local_target(options.tracking_uri);
    options.tracking_uri = target.uri;
    options.validate();
    s.options = std::move(options);
    s.local = LocalDatabase::open(target);
    s.store = make_local_tracking_store(s.local);
    s.registry = make_local_registry_store(s.local);
    s.target = target.uri;
    return s;
  }
  options.tracking_uri = take_userinfo(options.tracking_uri, options.username, options.password);
  options.validate();
  while (!options.tracking_uri.empty() && options.tracking_uri.back() == '/') options.tracking_uri.pop_back();
  s.options = std::move(options);
  s.reach = std::make_shared<Reachability>();
  s.transport =
      observe_reachability(transport ? std::move(transport) : make_curl_transport(s.options), s.reach);
  s.rest = std::make_shared<RestClient>(s.options, s.transport);
  s.store = make_rest_store(s.rest);
  s.registry = make_rest_registry_store(s.rest);
  s.target = s.rest->base_url();
  return s;
}

}  // namespace mlflowpp::detail
