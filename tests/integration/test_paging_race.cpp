// search_all_* against the real server while another thread creates and deletes entities
// of the same listing: MLflow pages with offsets, so without the overlap-and-dedupe rule
// of src/detail/rest/paging.hpp a listing repeats entities created before its cursor and skips
// entities shifted back by deletions. Each listing must hold every entity that existed
// throughout it exactly once, in the server's order.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <exception>
#include <functional>
#include <mlflowpp/mlflowpp.hpp>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"

namespace {

// What a race does: `create(j)` makes the j-th new entity and returns its identity,
// `remove(id)` deletes one, `list()` is the search_all_* under test (identities in order).
struct Race {
  std::vector<std::string> originals;  // in the listing's expected order
  int creates = 0;
  int deletes = 0;
  std::function<std::string(int)> create;
  std::function<void(const std::string&)> remove;
  std::function<std::vector<std::string>()> list;
};

// Lists repeatedly while a writer thread creates `creates` entities and deletes `deletes`
// of the originals, interleaved. Every listing: no identity twice; every original whose
// deletion had not started when the listing ended appears, in the originals' order. Then
// one listing after the writer: exactly the survivors and the created entities.
void run_race(const Race& race) {
  std::vector<std::string> victims = race.originals;
  std::shuffle(victims.begin(), victims.end(), std::mt19937(20240607));
  victims.resize(static_cast<std::size_t>(race.deletes));

  std::mutex mu;
  std::set<std::string> deleting;  // deletions started (under mu)
  std::vector<std::string> created;
  std::atomic<bool> done{false};
  std::atomic<bool> listing{false};  // a listing is in progress
  std::atomic<int> writes{0};        // creations and deletions completed
  // Each write starts while a listing is in progress: a fast store (the local one) otherwise
  // finishes every write in the gaps between listings of a loaded machine.
  auto await_listing = [&] {
    while (!listing) std::this_thread::yield();
  };
  std::exception_ptr writer_error;
  std::thread writer([&] {
    try {
      std::size_t next_victim = 0;
      for (int j = 0; j < race.creates; ++j) {
        await_listing();
        created.push_back(race.create(j));
        ++writes;
        // Spread the deletions over the creations.
        const auto due = static_cast<std::size_t>((j + 1) * race.deletes / race.creates);
        for (; next_victim < due; ++next_victim) {
          {
            std::lock_guard<std::mutex> lk(mu);
            deleting.insert(victims[next_victim]);
          }
          await_listing();
          race.remove(victims[next_victim]);
          ++writes;
        }
      }
    } catch (...) {
      writer_error = std::current_exception();  // Catch2's macros are for the main thread
    }
    done = true;
  });

  int listings = 0;
  int raced = 0;  // listings during which at least one write completed
  do {
    const int writes_before = writes;
    listing = true;
    const std::vector<std::string> ids = race.list();
    listing = false;
    if (writes != writes_before) ++raced;
    std::set<std::string> deleted_during;
    {
      std::lock_guard<std::mutex> lk(mu);
      deleted_during = deleting;
    }
    ++listings;
    INFO("listing " << listings << " of " << ids.size() << " entities, " << deleted_during.size()
                    << " deletions started");
    const std::set<std::string> unique(ids.begin(), ids.end());
    CHECK(unique.size() == ids.size());
    std::vector<std::string> expected;
    for (const auto& id : race.originals)
      if (deleted_during.count(id) == 0) expected.push_back(id);
    std::vector<std::string> got;
    const std::set<std::string> originals(race.originals.begin(), race.originals.end());
    for (const auto& id : ids)
      if (originals.count(id) > 0 && deleted_during.count(id) == 0) got.push_back(id);
    CHECK(got == expected);
  } while (!done);
  writer.join();
  if (writer_error) std::rethrow_exception(writer_error);
  INFO(listings << " listings, " << raced << " of them with writes completing during them");
  CHECK(raced >= 1);

  std::set<std::string> survivors(race.originals.begin(), race.originals.end());
  for (const auto& v : victims) survivors.erase(v);
  survivors.insert(created.begin(), created.end());
  const auto final_ids = race.list();
  CHECK(final_ids.size() == survivors.size());
  CHECK(std::set<std::string>(final_ids.begin(), final_ids.end()) == survivors);
}

// `count` distinct values in [0, span) that are not multiples of 10 (the originals hold
// those): new entities land before, between and after the originals.
std::vector<int> between_values(int count, int span, unsigned seed) {
  std::mt19937 rng(seed);
  std::set<int> used;
  std::vector<int> out;
  while (static_cast<int>(out.size()) < count) {
    const int v = static_cast<int>(rng() % static_cast<unsigned>(span));
    if (v % 10 == 0 || !used.insert(v).second) continue;
    out.push_back(v);
  }
  return out;
}

}  // namespace

TEST_CASE("paging race: search_all_runs returns each run once while runs are created and deleted",
          "[integration][paging]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  auto writer_client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-paging-runs"));
  const int64_t base = testing::now_ms() - 3600 * 1000;
  constexpr int kOriginals = 60;

  // start_time base + 10 i: the default order (start_time DESC) lists the last one first.
  Race race;
  for (int i = 0; i < kOriginals; ++i) {
    mlflowpp::CreateRunOptions co;
    co.start_time = base + 10 * i;
    race.originals.push_back(client.create_run(exp, co).info.run_id);
  }
  std::reverse(race.originals.begin(), race.originals.end());
  race.creates = 40;
  race.deletes = 20;
  // New runs at the front (now), and between the originals.
  const std::vector<int> offsets = between_values(race.creates, 10 * kOriginals, 7);
  race.create = [&](int j) {
    mlflowpp::CreateRunOptions co;
    co.start_time = j % 4 == 0 ? testing::now_ms() : base + offsets[static_cast<std::size_t>(j)];
    return writer_client.create_run(exp, co).info.run_id;
  };
  race.remove = [&](const std::string& id) { writer_client.delete_run(id); };
  race.list = [&] {
    mlflowpp::SearchRunsOptions so;
    so.max_results = 7;
    return itest::run_ids(client.search_all_runs({exp}, so));
  };
  run_race(race);
}

TEST_CASE("paging race: search_all_registered_models while models are created and deleted",
          "[integration][paging]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  auto writer_client = testing::client();
  const std::string prefix = testing::unique_name("itest-paging-rm");
  constexpr int kOriginals = 30;
  auto name_of = [&](int v) { return fmt::format("{}-{:05d}", prefix, v); };

  Race race;
  for (int i = 0; i < kOriginals; ++i)
    race.originals.push_back(client.create_registered_model(name_of(10 * i)).name);
  race.creates = 20;
  race.deletes = 10;
  const std::vector<int> values = between_values(race.creates, 10 * kOriginals + 10, 11);
  race.create = [&](int j) {
    return writer_client.create_registered_model(name_of(values[static_cast<std::size_t>(j)])).name;
  };
  race.remove = [&](const std::string& name) { writer_client.delete_registered_model(name); };
  race.list = [&] {
    mlflowpp::SearchRegisteredModelsOptions o;
    o.filter_string = "name LIKE '" + prefix + "-%'";
    o.order_by = {"name ASC"};
    o.max_results = 5;
    std::vector<std::string> names;
    for (const auto& m : client.search_all_registered_models(o)) names.push_back(m.name);
    return names;
  };
  run_race(race);
}

TEST_CASE("paging race: search_all_experiments while experiments are created and deleted",
          "[integration][paging]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  auto writer_client = testing::client();
  const std::string prefix = testing::unique_name("itest-paging-exp");
  constexpr int kOriginals = 30;
  auto name_of = [&](int v) { return fmt::format("{}-{:05d}", prefix, v); };

  Race race;
  for (int i = 0; i < kOriginals; ++i) race.originals.push_back(client.create_experiment(name_of(10 * i)));
  race.creates = 20;
  race.deletes = 10;
  const std::vector<int> values = between_values(race.creates, 10 * kOriginals + 10, 13);
  race.create = [&](int j) {
    return writer_client.create_experiment(name_of(values[static_cast<std::size_t>(j)]));
  };
  race.remove = [&](const std::string& id) { writer_client.delete_experiment(id); };
  race.list = [&] {
    mlflowpp::SearchExperimentsOptions o;
    o.filter_string = "name LIKE '" + prefix + "-%'";
    o.order_by = {"name ASC"};
    o.max_results = 5;
    std::vector<std::string> ids;
    for (const auto& e : client.search_all_experiments(o)) ids.push_back(e.experiment_id);
    return ids;
  };
  run_race(race);
}
