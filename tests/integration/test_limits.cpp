// Hard-coded limits against the pinned server (issue 9): what the SDK refuses before
// sending is exactly what the server would refuse, at the boundary.
#include <catch2/catch.hpp>
#include <mlflowpp/mlflowpp.hpp>
#include <string>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"

TEST_CASE("limits: an experiment tag of 20,000 characters is stored, 20,001 refused before sending",
          "[integration][limits]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-limits"));
  const std::string at_limit(20000, 'v');
  client.set_experiment_tag(exp, "long", at_limit);
  std::string stored;
  for (const auto& t : client.get_experiment(exp).tags)
    if (t.key == "long") stored = t.value;
  CHECK(stored == at_limit);
  auto e = itest::thrown<mlflowpp::InvalidArgumentError>(
      [&] { client.set_experiment_tag(exp, "longer", std::string(20001, 'v')); });
  REQUIRE(e.has_value());
  CHECK(std::string(e->what()).find("20000") != std::string::npos);
  // Multi-byte characters count as one each, as in Python's len().
  const std::string accents = itest::repeat("\xC3\xA9", 20000);
  client.set_experiment_tag(exp, "accents", accents);
  for (const auto& t : client.get_experiment(exp).tags)
    if (t.key == "accents") CHECK(t.value == accents);
}

TEST_CASE("limits: dataset inputs at their limits are stored, one over is refused before sending",
          "[integration][limits]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-limits-inputs"));
  const std::string run_id = client.create_run(exp).info.run_id;
  mlflowpp::DatasetInput in;
  in.dataset.name = std::string(500, 'n');
  in.dataset.digest = std::string(36, 'd');
  in.dataset.source_type = "local";
  in.dataset.source = "{\"uri\": \"digits.csv\"}";
  in.tags.push_back({std::string(255, 'k'), std::string(500, 'v')});
  client.log_inputs(run_id, {in});
  const auto run = client.get_run(run_id);
  REQUIRE(run.inputs.dataset_inputs.size() == 1);
  CHECK(run.inputs.dataset_inputs.front().dataset.name == in.dataset.name);
  in.tags.front().value.push_back('v');
  CHECK_THROWS_AS(client.log_inputs(run_id, {in}), mlflowpp::InvalidArgumentError);
}
