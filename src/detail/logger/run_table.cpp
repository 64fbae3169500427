#include "detail/logger/run_table.hpp"

#include <utility>

namespace mlflowpp::detail {

uint32_t RunTable::handle_for(std::string_view run_id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = index_.find(std::string(run_id));
  if (it != index_.end()) return it->second;
  auto h = static_cast<uint32_t>(ids_.size());
  ids_.emplace_back(run_id);
  counts_.emplace_back();
  end_.emplace_back();
  index_.emplace(std::string(run_id), h);
  return h;
}

std::string RunTable::id_of(uint32_t run) const {
  std::lock_guard<std::mutex> lk(mu_);
  return run < ids_.size() ? ids_[run] : std::string();
}

std::vector<std::string> RunTable::ids() const {
  std::lock_guard<std::mutex> lk(mu_);
  return ids_;
}

void RunTable::count(uint32_t run, uint64_t delivered, uint64_t rejected, uint64_t dropped) noexcept {
  std::lock_guard<std::mutex> lk(mu_);
  if (run >= counts_.size()) return;
  counts_[run].delivered += delivered;
  counts_[run].rejected += rejected;
  counts_[run].dropped += dropped;
}

RunLogStats RunTable::stats(uint32_t run) const noexcept {
  std::lock_guard<std::mutex> lk(mu_);
  return run < counts_.size() ? counts_[run] : RunLogStats{};
}

void RunTable::set_end_state(uint32_t run, RunEndState state) noexcept {
  std::lock_guard<std::mutex> lk(mu_);
  if (run < end_.size()) end_[run] = std::move(state);
}

RunEndState RunTable::end_state(uint32_t run) const noexcept {
  std::lock_guard<std::mutex> lk(mu_);
  return run < end_.size() ? end_[run] : RunEndState{};
}

void RunTable::started(uint32_t run) {
  std::lock_guard<std::mutex> lk(mu_);
  live_.insert(run);
}

void RunTable::ended(uint32_t run) {
  std::lock_guard<std::mutex> lk(mu_);
  live_.erase(run);
}

bool RunTable::is_live(const std::string& run_id) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = index_.find(run_id);
  return it != index_.end() && live_.count(it->second) > 0;
}

void RunTable::keep_offline_payload(uint32_t run, const std::string& payload) {
  std::lock_guard<std::mutex> lk(mu_);
  offline_payloads_[run] = payload;
}

void RunTable::created(uint32_t run, const std::string& server_id) {
  std::lock_guard<std::mutex> lk(mu_);
  if (run < ids_.size()) {
    ids_[run] = server_id;
    index_.emplace(server_id, run);
  }
}

void RunTable::unresolvable(uint32_t run) {
  std::lock_guard<std::mutex> lk(mu_);
  unresolvable_.insert(run);
}

RunTable::Route RunTable::route(uint32_t run) const {
  std::lock_guard<std::mutex> lk(mu_);
  Route r;
  if (run < ids_.size()) r.run_id = ids_[run];
  r.unresolvable = unresolvable_.count(run) > 0;
  return r;
}

RunTable::Live RunTable::live() const {
  std::lock_guard<std::mutex> lk(mu_);
  Live out;
  for (uint32_t r : live_) {
    if (r < ids_.size()) out.run_ids.push_back(ids_[r]);
    if (auto it = offline_payloads_.find(r); it != offline_payloads_.end())
      out.create_payloads.push_back(it->second);
  }
  return out;
}

}  // namespace mlflowpp::detail
