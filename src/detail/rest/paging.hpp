#pragma once
// "All pages" of a paged search (Client::search_all_*) that returns each entity once while
// writers race with the listing. In the rest room: page tokens are MLflow's REST API's, and
// reading them needs the codec (core may not include it).
//
// MLflow's SQL stores page with OFFSET: a next_page_token is base64 of a JSON object with an
// integer "offset" ({"offset": N} for runs, experiments and the registry; logged models add
// the request's experiment_ids, filter_string and order_by). Between two page requests,
// an entity created before the cursor shifts the rest forward (the next page repeats an
// entity), and an entity deleted before the cursor shifts it back (the next page skips
// one). Following the tokens blindly therefore duplicates and loses entities that exist
// during the whole listing. The rule here:
//
// 1. Every helper dedupes by the entity's identity (run_id, experiment_id, registered model
//    name, "name/version" of a model version, model_id), keeping the first occurrence in the
//    server's order.
// 2. When next_page_token decodes (standard base64, '=' padding) to a JSON object with a
//    top-level non-negative integer "offset", the next page is requested k entities
//    earlier (k = max(1, min(page_size / 4, 100)), none when page_size < 2): the same token
//    with only that offset changed (every other byte of the JSON kept, so logged models'
//    validation of the token against the request still passes). Offset 0 is sent as the
//    empty token (the first page): MLflow 3.18 refuses {"offset": 0} for runs, experiments
//    and the registry ("if not offset" in parse_start_offset_from_page_token).
// 3. Continuity: that overlapped page must contain an entity already returned. Since the
//    entities present throughout keep their relative order, a returned entity inside the
//    window proves that no entity after the ones returned so far starts before the window.
//    When the page holds none (deletions moved the window past the continuation), the
//    window is rewound further, doubling the gap, until it holds one or starts at offset 0;
//    its unseen entities are then added and paging continues from ITS next_page_token.
// 4. A token that does not decode that way (another server, a future MLflow: its own
//    parse_start_offset_from_page_token says the format "is not stable, so it should not
//    be relied upon") is followed as it is, with the dedupe of rule 1.
//
// What stays best effort: entities whose sort key changes during the listing; page size 1
// (no overlap is possible: dedupe only, so a deletion can still make it skip an entity);
// more churn than kMaxProbes rewind requests (then overlapped pages are accepted
// unchecked); opaque tokens (dedupe only). A listing that starts from a caller's page token
// may, after a rewind, include entities positioned before that token.
//
// Private: includes nothing of simdjson (paging.cpp does); never installed.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "mlflowpp/entities.hpp"

namespace mlflowpp::detail::paging {

/// Standard base64 (RFC 4648 alphabet, '=' padding).
std::string base64_encode(std::string_view bytes);
/// Strict standard base64: a non-empty multiple of 4 characters, the alphabet only, '='
/// only as the last one or two characters. std::nullopt otherwise.
std::optional<std::string> base64_decode(std::string_view text);

/// A page token that is base64 of a JSON object whose top-level "offset" is a non-negative
/// integer (MLflow's SQL stores).
struct OffsetToken {
  std::string json;            ///< the decoded token
  std::size_t digits_pos = 0;  ///< where the offset's digits are in `json`
  std::size_t digits_len = 0;  ///< how many digits
  int64_t offset = 0;
};

/// `token` decoded, or std::nullopt when it is not such a token (not base64, not a JSON
/// object, no top-level "offset", or one that is not a non-negative integer, a duplicated
/// "offset" key, or an escaped spelling of the key that cannot be replaced textually).
std::optional<OffsetToken> decode_offset_token(std::string_view token);
/// `token` with its offset replaced by `offset` (>= 0), re-encoded as standard base64.
std::string with_offset(const OffsetToken& token, int64_t offset);
/// The overlap k for a page size: max(1, min(page_size / 4, 100)), 0 when page_size < 2.
int64_t overlap_for(int64_t page_size);

/// The page-by-page decisions of the rule above, independent of the entity type: ask it
/// for the token of the next request, hand it that page's identities and next_page_token,
/// append the items at the positions it returns.
///
/// Progress (why the loop ends): every request is either
///   (a) a rewind probe whose page is discarded: each one consumes one of kMaxProbes, so
///       there are at most kMaxProbes of them per listing; or
///   (b) an accepted page. The request after an accepted page starting at offset s is
///       either the server's own token (progress is the server's, as in plain paging; a
///       token that repeats the one it answers is refused, it would loop forever) or the
///       overlapped start n - k, used only when it is > s (MLflow: n = s + page_size and
///       k <= page_size / 4). Only probes move a start back, so between the (finitely many)
///       rewinds the starts of accepted pages strictly increase, and the server stops
///       giving a token once the start passes its number of entities: the listing ends when
///       plain paging would, without writers in about N / (page_size - k) pages for N
///       entities instead of N / page_size. A rewind itself ends: its gap doubles up to the
///       cursor (offset 0 is accepted whatever it holds), at most 63 doublings.
class PageWalker {
 public:
  /// Rewind requests (probes) allowed in one listing.
  static constexpr int kMaxProbes = 256;

  /// `start_token`: the caller's page token ("" for the first page). `what` names the call
  /// in errors ("runs/search").
  PageWalker(std::string start_token, int64_t page_size, std::string what);

  /// The page token to request next, or std::nullopt when the listing is complete.
  std::optional<std::string> next_request() const;

  /// The answer to next_request(): the identities of the page's items in the server's order
  /// ("" for an item without one: always kept, never deduped) and its next_page_token.
  /// Returns the positions of the items to append, in order (empty for a discarded probe).
  /// Throws ParseError when the server answers a token with that same token.
  std::vector<std::size_t> take(const std::vector<std::string>& ids, const std::string& next_page_token);

  /// Requests made so far (for tests).
  std::size_t requests() const { return requests_; }
  /// Rewind probes made so far (for tests).
  int probes() const { return kMaxProbes - probes_left_; }

 private:
  void request_offset(int64_t offset);
  void plan_next(const std::string& next_page_token);

  std::string what_;
  int64_t overlap_;
  std::unordered_set<std::string> seen_;
  std::string request_;  // token of the pending request
  int64_t start_ = -1;   // its offset, -1 when not an offset token
  bool done_ = false;
  // An overlapped request awaiting the continuity check.
  bool checking_ = false;
  OffsetToken base_;    // the server's decoded next token
  int64_t cursor_ = 0;  // its offset
  int64_t gap_ = 0;     // how far before the cursor the pending request starts
  int probes_left_ = kMaxProbes;
  std::size_t requests_ = 0;
};

/// Every page from `start_token`: `fetch(token)` returns PagedList<T> for one page token,
/// `id_of(item)` the item's identity. Each entity once, in the server's order.
template <typename T, typename Fetch, typename IdOf>
std::vector<T> collect_all(std::string start_token, int64_t page_size, std::string what, Fetch&& fetch,
                           IdOf&& id_of) {
  std::vector<T> all;
  PageWalker walker(std::move(start_token), page_size, std::move(what));
  std::vector<std::string> ids;
  while (std::optional<std::string> token = walker.next_request()) {
    PagedList<T> page = fetch(*token);
    ids.clear();
    ids.reserve(page.items.size());
    for (const T& item : page.items) ids.push_back(id_of(item));
    for (std::size_t i : walker.take(ids, page.next_page_token)) all.push_back(std::move(page.items[i]));
  }
  return all;
}

}  // namespace mlflowpp::detail::paging
