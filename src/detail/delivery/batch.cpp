#include "detail/delivery/batch.hpp"

#include "detail/codec/json.hpp"

namespace mlflowpp::detail {

std::size_t Batcher::envelope_bytes(std::size_t run_id_length) noexcept {
  // {"run_id":"<id>","metrics":[],"params":[],"tags":[]}
  return std::string_view(R"({"run_id":"","metrics":[],"params":[],"tags":[]})").size() + run_id_length;
}

Batcher::Batcher(BatchLimits limits, std::size_t run_id_length)
    : limits_(limits), envelope_(envelope_bytes(run_id_length)) {}

bool Batcher::fits(const Entity& e) const noexcept {
  if (current_.size() + 1 > limits_.max_entities) return false;
  switch (e.kind) {
    case EntityKind::kMetric:
      if (current_.metrics + 1 > limits_.max_metrics) return false;
      break;
    case EntityKind::kParam:
      if (current_.params + 1 > limits_.max_params) return false;
      break;
    case EntityKind::kTag:
      if (current_.tags + 1 > limits_.max_tags) return false;
      break;
  }
  return envelope_ + current_.bytes + e.json.size() + 1 <= limits_.max_bytes;
}

void Batcher::close_current() {
  if (!current_.entities.empty()) done_.push_back(std::move(current_));
  current_ = Chunk{};
  param_index_.clear();
}

void Batcher::add(Entity e) {
  if (e.kind == EntityKind::kParam) {
    auto it = param_index_.find(e.key);
    if (it != param_index_.end()) {
      Entity& first = current_.entities[it->second];
      if (first.value == e.value) {  // identical repeat: one entry in this request
        first.origins.insert(first.origins.end(), e.origins.begin(), e.origins.end());
        return;
      }
      close_current();  // conflicting value: its own request, so its error stays its own
    }
  }
  if (!current_.entities.empty() && !fits(e)) close_current();
  switch (e.kind) {
    case EntityKind::kMetric:
      ++current_.metrics;
      break;
    case EntityKind::kParam:
      ++current_.params;
      param_index_.emplace(e.key, current_.entities.size());
      break;
    case EntityKind::kTag:
      ++current_.tags;
      break;
  }
  current_.bytes += e.json.size() + 1;
  current_.entities.push_back(std::move(e));
}

std::vector<Chunk> Batcher::finish() {
  close_current();
  return std::move(done_);
}

std::string chunk_body(std::string_view run_id, const Chunk& chunk) {
  std::string out;
  out.reserve(Batcher::envelope_bytes(run_id.size()) + chunk.bytes);
  out += "{\"run_id\":";
  append_json_string(out, run_id);
  const EntityKind kinds[] = {EntityKind::kMetric, EntityKind::kParam, EntityKind::kTag};
  const char* names[] = {",\"metrics\":[", ",\"params\":[", ",\"tags\":["};
  for (int k = 0; k < 3; ++k) {
    out += names[k];
    bool first = true;
    for (const Entity& e : chunk.entities) {
      if (e.kind != kinds[k]) continue;
      if (!first) out.push_back(',');
      out += e.json;
      first = false;
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

Chunk make_chunk(std::vector<Entity> entities) {
  Chunk c;
  for (const Entity& e : entities) {
    c.metrics += e.kind == EntityKind::kMetric;
    c.params += e.kind == EntityKind::kParam;
    c.tags += e.kind == EntityKind::kTag;
    c.bytes += e.json.size() + 1;
  }
  c.entities = std::move(entities);
  return c;
}

}  // namespace mlflowpp::detail
