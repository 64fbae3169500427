// Experiments against the real server: create/get/search/rename/delete/restore/tags and
// the server's errors for them.
#include <catch2/catch.hpp>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"

using mlflowpp::Experiment;
using mlflowpp::SearchExperimentsOptions;
using mlflowpp::ServerError;
using mlflowpp::ViewType;

namespace {

std::vector<std::string> names_of(const std::vector<Experiment>& exps) {
  std::vector<std::string> names;
  for (const auto& e : exps) names.push_back(e.name);
  return names;
}

}  // namespace

TEST_CASE("experiments: create with tags, get, get by name, get_or_create", "[integration][experiments]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string name = testing::unique_name("itest-exp-create");
  const int64_t before = testing::now_ms();

  const std::string id = client.create_experiment(name, "", {{"team", "ml"}, {"note", "héllo \"quoted\""}});
  REQUIRE_FALSE(id.empty());
  REQUIRE(id != "0");

  const Experiment e = client.get_experiment(id);
  CHECK(e.experiment_id == id);
  CHECK(e.name == name);
  CHECK(e.lifecycle_stage == "active");
  CHECK_FALSE(e.artifact_location.empty());
  CHECK(e.creation_time >= before - 5000);
  CHECK(e.creation_time <= testing::now_ms() + 5000);
  CHECK(e.tag("team") == std::optional<std::string>("ml"));
  CHECK(e.tag("note") == std::optional<std::string>("héllo \"quoted\""));
  CHECK_FALSE(e.tag("absent").has_value());

  auto by_name = client.get_experiment_by_name(name);
  REQUIRE(by_name.has_value());
  CHECK(by_name->experiment_id == id);
  CHECK(by_name->name == name);
  CHECK(by_name->tag("team") == std::optional<std::string>("ml"));

  CHECK_FALSE(client.get_experiment_by_name(name + "-missing").has_value());

  // get_or_create: returns the existing id, repeatedly.
  CHECK(client.get_or_create_experiment(name) == id);
  CHECK(client.get_or_create_experiment(name) == id);

  // ... and creates a missing experiment exactly once.
  const std::string name2 = name + "-goc";
  REQUIRE_FALSE(client.get_experiment_by_name(name2).has_value());
  const std::string id2 = client.get_or_create_experiment(name2);
  CHECK(id2 != id);
  CHECK(client.get_or_create_experiment(name2) == id2);
  auto e2 = client.get_experiment_by_name(name2);
  REQUIRE(e2.has_value());
  CHECK(e2->experiment_id == id2);
  CHECK(client.get_experiment(id2).name == name2);
}

TEST_CASE("experiments: search with filter, order_by, view_type and paging", "[integration][experiments]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string prefix = testing::unique_name("itest-exp-search");

  // Created out of order, so that ordering is really done by the server.
  std::map<std::string, std::string> ids;  // suffix -> id
  for (const char* suffix : {"c", "a", "e", "b", "d"}) {
    const std::string group = std::string(suffix) < "c" ? "low" : "high";
    ids[suffix] = client.create_experiment(prefix + "-" + suffix, "", {{"group", group}});
  }
  const std::vector<std::string> asc = {prefix + "-a", prefix + "-b", prefix + "-c", prefix + "-d",
                                        prefix + "-e"};
  const std::vector<std::string> desc(asc.rbegin(), asc.rend());

  SearchExperimentsOptions o;
  o.filter_string = "name LIKE '" + prefix + "-%'";
  o.order_by = {"name ASC"};
  auto page = client.search_experiments(o);
  CHECK(names_of(page.items) == asc);
  CHECK(page.next_page_token.empty());

  o.order_by = {"name DESC"};
  CHECK(names_of(client.search_experiments(o).items) == desc);

  // Filter on a tag too.
  {
    SearchExperimentsOptions t = o;
    t.filter_string += " AND tags.group = 'low'";
    CHECK(names_of(client.search_experiments(t).items) ==
          std::vector<std::string>{prefix + "-b", prefix + "-a"});
  }

  // Paging: 2 + 2 + 1.
  o.order_by = {"name ASC"};
  o.max_results = 2;
  auto p1 = client.search_experiments(o);
  CHECK(names_of(p1.items) == std::vector<std::string>{asc[0], asc[1]});
  REQUIRE_FALSE(p1.next_page_token.empty());
  o.page_token = p1.next_page_token;
  auto p2 = client.search_experiments(o);
  CHECK(names_of(p2.items) == std::vector<std::string>{asc[2], asc[3]});
  REQUIRE_FALSE(p2.next_page_token.empty());
  o.page_token = p2.next_page_token;
  auto p3 = client.search_experiments(o);
  CHECK(names_of(p3.items) == std::vector<std::string>{asc[4]});
  CHECK(p3.next_page_token.empty());

  // search_all walks every page.
  o.page_token.clear();
  auto all = client.search_all_experiments(o);
  CHECK(names_of(all) == asc);
  for (const auto& e : all) CHECK(e.experiment_id == ids[e.name.substr(e.name.size() - 1)]);

  // view_type after a delete.
  client.delete_experiment(ids["b"]);
  SearchExperimentsOptions v;
  v.filter_string = "name LIKE '" + prefix + "-%'";
  v.order_by = {"name ASC"};
  v.view_type = ViewType::kActiveOnly;
  CHECK(names_of(client.search_all_experiments(v)) ==
        std::vector<std::string>{asc[0], asc[2], asc[3], asc[4]});
  v.view_type = ViewType::kDeletedOnly;
  auto deleted = client.search_all_experiments(v);
  REQUIRE(names_of(deleted) == std::vector<std::string>{asc[1]});
  CHECK(deleted[0].lifecycle_stage == "deleted");
  CHECK(deleted[0].experiment_id == ids["b"]);
  v.view_type = ViewType::kAll;
  CHECK(names_of(client.search_all_experiments(v)) == asc);
}

TEST_CASE("experiments: rename, delete and restore, set and delete tags", "[integration][experiments]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string name = testing::unique_name("itest-exp-lifecycle");
  const std::string id = client.create_experiment(name);

  // rename
  const std::string renamed = name + "-renamed";
  client.rename_experiment(id, renamed);
  CHECK(client.get_experiment(id).name == renamed);
  CHECK_FALSE(client.get_experiment_by_name(name).has_value());
  auto by_new = client.get_experiment_by_name(renamed);
  REQUIRE(by_new.has_value());
  CHECK(by_new->experiment_id == id);

  // delete + restore
  client.delete_experiment(id);
  CHECK(client.get_experiment(id).lifecycle_stage == "deleted");
  auto deleted_by_name = client.get_experiment_by_name(renamed);
  REQUIRE(deleted_by_name.has_value());
  CHECK(deleted_by_name->lifecycle_stage == "deleted");
  // A deleted experiment is not silently reused (as mlflow.set_experiment refuses it).
  CHECK_THROWS_AS(client.get_or_create_experiment(renamed), mlflowpp::Error);
  client.restore_experiment(id);
  CHECK(client.get_experiment(id).lifecycle_stage == "active");
  CHECK(client.get_or_create_experiment(renamed) == id);

  // experiment tags: set, overwrite, delete
  client.set_experiment_tag(id, "owner", "alice");
  client.set_experiment_tag(id, "stage", "dev");
  CHECK(client.get_experiment(id).tag("owner") == std::optional<std::string>("alice"));
  client.set_experiment_tag(id, "owner", "bob\n\"tab\t\"");
  auto e = client.get_experiment(id);
  CHECK(e.tag("owner") == std::optional<std::string>("bob\n\"tab\t\""));
  CHECK(e.tag("stage") == std::optional<std::string>("dev"));
  client.delete_experiment_tag(id, "owner");
  e = client.get_experiment(id);
  CHECK_FALSE(e.tag("owner").has_value());
  CHECK(e.tag("stage") == std::optional<std::string>("dev"));
}

TEST_CASE("experiments: server errors for duplicates and missing ids", "[integration][experiments][errors]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string name = testing::unique_name("itest-exp-errors");
  const std::string id = client.create_experiment(name);

  auto dup = itest::thrown<ServerError>([&] { client.create_experiment(name); });
  REQUIRE(dup.has_value());
  CHECK(dup->is_already_exists());
  CHECK(dup->http_status() == 400);
  CHECK(dup->error_code() == "RESOURCE_ALREADY_EXISTS");
  CHECK_FALSE(dup->is_not_found());

  // The name of a deleted experiment stays taken.
  client.delete_experiment(id);
  auto dup_deleted = itest::thrown<ServerError>([&] { client.create_experiment(name); });
  REQUIRE(dup_deleted.has_value());
  CHECK(dup_deleted->is_already_exists());

  auto missing = itest::thrown<ServerError>([&] { client.get_experiment("987654321098"); });
  REQUIRE(missing.has_value());
  CHECK(missing->is_not_found());
  CHECK(missing->http_status() == 404);
  CHECK(missing->error_code() == "RESOURCE_DOES_NOT_EXIST");
  CHECK_FALSE(missing->server_message().empty());
  CHECK(itest::contains(missing->what(), "404"));

  // Refused before sending.
  CHECK_THROWS_AS(client.create_experiment(""), mlflowpp::InvalidArgumentError);
  CHECK_THROWS_AS(client.create_experiment(std::string(257, 'x')), mlflowpp::InvalidArgumentError);
}

TEST_CASE("experiments: names with URL-special characters", "[integration][experiments]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  // get-by-name is a GET: the name travels in the query string.
  const std::string name = testing::unique_name("itest-exp a+b & c=d?e#f%20g/h;i 'j' \"k\" é 损");
  const std::string id = client.create_experiment(name);
  auto e = client.get_experiment_by_name(name);
  REQUIRE(e.has_value());
  CHECK(e->experiment_id == id);
  CHECK(e->name == name);
  CHECK(client.get_experiment(id).name == name);
  // A name that differs only where encoding matters must not be found.
  std::string almost = name;
  almost.replace(almost.find('+'), 1, " ");
  CHECK_FALSE(client.get_experiment_by_name(almost).has_value());
}
