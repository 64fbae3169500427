#include "detail/store/stack.hpp"

#include <utility>

#include "detail/codec/json.hpp"
#include "detail/http/http.hpp"
#include "detail/rest/rest.hpp"
#include "detail/store/tracking_store.hpp"

namespace mlflowpp::detail {

TrackingStack make_tracking_stack(ClientOptions options, std::shared_ptr<Transport> transport) {
  options.tracking_uri = take_userinfo(options.tracking_uri, options.username, options.password);
  options.validate();
  while (!options.tracking_uri.empty() && options.tracking_uri.back() == '/') options.tracking_uri.pop_back();
  warm_up_json();
  TrackingStack s;
  s.options = std::move(options);
  s.transport = transport ? std::move(transport) : make_curl_transport(s.options);
  s.rest = std::make_shared<RestClient>(s.options, s.transport);
  s.store = make_rest_store(s.rest);
  return s;
}

}  // namespace mlflowpp::detail
