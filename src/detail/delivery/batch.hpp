#pragma once
// Splits log-batch content into requests within every MLflow limit. Private.

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detail/core/validation.hpp"

namespace mlflowpp::detail {

enum class EntityKind : unsigned char { kMetric, kParam, kTag };

struct BatchLimits {
  std::size_t max_metrics = kMaxMetricsPerBatch;
  std::size_t max_params = kMaxParamsPerBatch;
  std::size_t max_tags = kMaxTagsPerBatch;
  std::size_t max_entities = kMaxEntitiesPerBatch;
  std::size_t max_bytes = 900000;  ///< whole request body, serialized
};

/// One metric, param or tag, already serialized. `origins` are caller-defined ids of the
/// items it stands for (an identical repeated param is folded into the first one).
struct Entity {
  EntityKind kind = EntityKind::kMetric;
  std::string key;
  std::string value;  ///< params only (to tell identical from conflicting repeats)
  std::string json;
  std::vector<std::size_t> origins;
};

/// One request's worth of entities (in the order they were added).
struct Chunk {
  std::vector<Entity> entities;
  std::size_t metrics = 0, params = 0, tags = 0;
  std::size_t bytes = 0;  ///< serialized size of the entities plus separators
  std::size_t size() const noexcept { return entities.size(); }
};

/// Fills chunks in order: a new chunk starts when adding the next entity would break a
/// count limit, the byte budget, or put a second param with the same key and a different
/// value in one request. An identical repeated param in the same chunk is folded.
class Batcher {
 public:
  Batcher(BatchLimits limits, std::size_t run_id_length);
  void add(Entity entity);
  /// The chunks so far (the current one included when not empty); resets the batcher.
  std::vector<Chunk> finish();

  /// Body bytes of a request for `run_id_length`-character run ids with no entities.
  static std::size_t envelope_bytes(std::size_t run_id_length) noexcept;

 private:
  bool fits(const Entity& e) const noexcept;
  void close_current();

  BatchLimits limits_;
  std::size_t envelope_;
  Chunk current_;
  std::unordered_map<std::string, std::size_t> param_index_;  // key → index in current_
  std::vector<Chunk> done_;
};

/// `{"run_id":…,"metrics":[…],"params":[…],"tags":[…]}` for `chunk`.
std::string chunk_body(std::string_view run_id, const Chunk& chunk);
/// Rebuilds the counters of a chunk made of `entities` (used when bisecting).
Chunk make_chunk(std::vector<Entity> entities);

}  // namespace mlflowpp::detail
