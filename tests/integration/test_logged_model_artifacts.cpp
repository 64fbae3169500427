// Files of an MLflow 3 logged model: uploaded to its own artifact location and read back.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) { return itest::read_file(p.string()); }
}  // namespace

TEST_CASE("logged model artifacts: upload a file and a tree, list, download byte-exact", "[logged-models]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("lm-artifacts"));
  mlflowpp::CreateLoggedModelOptions co;
  co.name = "digits-mlp";
  co.model_type = "torchscript";
  auto model = client.create_logged_model(exp, co);
  const support::TempDir tmp("itest-lm-art");
  const fs::path& dir = tmp.path();
  fs::create_directories(dir / "tree" / "sub");
  std::string weights(300000, '\0');
  for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>(i * 131 % 251);
  std::ofstream(dir / "model.pt", std::ios::binary) << weights;
  std::ofstream(dir / "tree" / "MLmodel") << "artifact_path: model\nflavors: {}\n";
  std::ofstream(dir / "tree" / "sub" / "notes ü.txt") << "hello";

  client.log_model_artifact(model.info.model_id, (dir / "model.pt").string());
  auto result = client.log_model_artifacts(model.info.model_id, (dir / "tree").string(), "meta");
  CHECK(result.files == 2);

  auto top = client.list_logged_model_artifacts(model.info.model_id);
  REQUIRE(top.size() == 2);
  CHECK(top[0].path == "meta");
  CHECK(top[0].is_dir);
  CHECK(top[1].path == "model.pt");
  REQUIRE(top[1].file_size.has_value());
  CHECK(*top[1].file_size == static_cast<int64_t>(weights.size()));

  const fs::path out = dir / "out";
  auto local = client.download_logged_model_artifacts(model.info.model_id, "", out.string());
  CHECK(fs::path(local) == out);
  CHECK(slurp(out / "model.pt") == weights);
  CHECK(slurp(out / "meta" / "MLmodel") == "artifact_path: model\nflavors: {}\n");
  CHECK(slurp(out / "meta" / "sub" / "notes ü.txt") == "hello");
  CHECK_THROWS_AS(client.list_logged_model_artifacts("m-00000000000000000000000000000000"),
                  mlflowpp::ServerError);
}
