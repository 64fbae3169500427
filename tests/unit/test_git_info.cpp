// The git checkout behind the mlflow.source.git.* tags (src/api/git_info.hpp): commit,
// branch and remote URL read from temporary repositories made with the git command, the
// credentials stripped from the URL, a detached HEAD, no checkout, and the lookup order
// (MLFLOWPP_GIT_SOURCE_DIR, the executable's folder, the working folder).
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "api/context.hpp"
#include "api/git_info.hpp"
#include "support/scoped.hpp"
#include "support/temp_dir.hpp"

namespace d = mlflowpp::detail;

namespace {

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// Runs `git -C dir <args>` (a committer is given: the machine may have none configured)
/// and returns its output without the final newline; REQUIREs success.
std::string git(const std::string& dir, const std::string& args) {
  const std::string cmd = "git -C " + quote(dir) +
                          " -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main "
                          "-c commit.gpgsign=false " +
                          args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  INFO(cmd << "\n" << out);
  REQUIRE((rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

/// A repository in `dir` with one commit, on branch `branch`.
std::string make_repo(const std::string& dir, const std::string& branch = "main") {
  git(dir, "init -q");
  git(dir, "checkout -q -b " + quote(branch));
  git(dir, "commit -q --allow-empty -m first");
  return git(dir, "rev-parse HEAD");
}

std::optional<std::string> tag(const std::vector<mlflowpp::RunTag>& tags, const std::string& key) {
  for (const auto& t : tags)
    if (t.key == key) return t.value;
  return std::nullopt;
}

}  // namespace

TEST_CASE("git source: commit, branch and the first remote's URL without its credentials", "[unit][git]") {
  const support::TempDir dir("unit-git");
  const std::string repo = dir.str();
  const std::string commit = make_repo(repo, "feature/x");
  // Config order, not name order: "zeta" comes first.
  git(repo, "remote add zeta https://ci:s3cret@example.com/org/repo.git");
  git(repo, "remote add alpha https://other.example.com/org/mirror.git");
  std::filesystem::create_directories(dir / "src/deep");

  const d::GitInfo info = d::read_git_info((dir / "src/deep").string());  // a parent's checkout
  CHECK(info.commit == commit);
  CHECK(info.branch == "feature/x");
  CHECK(info.repo_url == "https://example.com/org/repo.git");
}

TEST_CASE("git source: a detached HEAD has no branch, a checkout without remotes no URL", "[unit][git]") {
  const support::TempDir dir("unit-git");
  const std::string repo = dir.str();
  const std::string commit = make_repo(repo);
  git(repo, "checkout -q --detach");
  const d::GitInfo info = d::read_git_info(repo);
  CHECK(info.commit == commit);
  CHECK(info.branch.empty());
  CHECK(info.repo_url.empty());
}

TEST_CASE("git source: nothing outside a checkout, before the first commit, or for a missing folder",
          "[unit][git]") {
  const support::TempDir dir("unit-git");
  std::filesystem::create_directories(dir / "plain");
  std::filesystem::create_directories(dir / "unborn");
  git((dir / "unborn").string(), "init -q");
  git((dir / "unborn").string(), "remote add origin https://example.com/r.git");
  // The temporary folder may itself lie inside a checkout on an odd machine: then skip.
  if (!d::read_git_info(dir.str()).commit.empty()) {
    WARN("skipped: the temporary folder is inside a git checkout");
    return;
  }
  for (const auto& p : {dir / "plain", dir / "unborn", dir / "missing"}) {
    const d::GitInfo info = d::read_git_info(p.string());
    CHECK(info.commit.empty());
    CHECK(info.branch.empty());
    CHECK(info.repo_url.empty());
  }
  CHECK(d::read_git_info("").commit.empty());
}

TEST_CASE("git source: credentials are stripped from URLs as Python strips them", "[unit][git]") {
  // Expected values: mlflow.utils.git_utils._strip_credentials_from_url of MLflow 3.18.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"https://u:p@h/x", "https://h/x"},
      {"https://tok@h:8443/x", "https://h:8443/x"},
      {"https://u:p@h", "https://h"},
      {"https://a@b@h/x", "https://h/x"},
      {"HTTPS://u@h/x", "https://h/x"},
      {"ssh://git@h/r", "ssh://h/r"},
      {"git@github.com:org/r.git", "git@github.com:org/r.git"},
      {"/srv/r.git", "/srv/r.git"},
      {"file:///srv/r", "file:///srv/r"},
      {"https://h/x?a=b@c", "https://h/x?a=b@c"},
      {"https://h/x", "https://h/x"},
      {"", ""},
  };
  for (const auto& [in, want] : cases) {
    INFO(in);
    CHECK(d::strip_url_credentials(in) == want);
  }
}

TEST_CASE("git source: lookup order is MLFLOWPP_GIT_SOURCE_DIR, the executable's folder, the working folder",
          "[unit][git]") {
  const support::TempDir dir("unit-git");
  std::filesystem::create_directories(dir / "a");
  std::filesystem::create_directories(dir / "b");
  std::filesystem::create_directories(dir / "plain");
  const std::string a = (dir / "a").string(), b = (dir / "b").string(), plain = (dir / "plain").string();
  const std::string commit_a = make_repo(a, "branch-a");
  const std::string commit_b = make_repo(b, "branch-b");

  char exe[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  REQUIRE(n > 0);
  const std::string exe_dir =
      std::filesystem::path(std::string(exe, static_cast<std::size_t>(n))).parent_path();

  {
    support::EnvVar unset("MLFLOWPP_GIT_SOURCE_DIR", nullptr);
    const support::Cwd cwd(b);
    CHECK(d::git_source_dirs() ==
          std::vector<std::string>{exe_dir, std::filesystem::current_path().string()});
    support::EnvVar empty("MLFLOWPP_GIT_SOURCE_DIR", "");  // empty counts as unset
    CHECK(d::git_source_dirs().size() == 2);
  }
  {
    support::EnvVar set("MLFLOWPP_GIT_SOURCE_DIR", a.c_str());
    const support::Cwd cwd(b);
    CHECK(d::git_source_dirs() == std::vector<std::string>{a});
    CHECK(d::source_git_info().commit == commit_a);  // explicit: the working folder is not looked at
    CHECK(d::source_git_info().branch == "branch-a");
  }
  {
    support::EnvVar set("MLFLOWPP_GIT_SOURCE_DIR",
                        plain.c_str());  // explicit, outside a checkout: no git tags
    const support::Cwd cwd(b);
    CHECK(d::source_git_info().commit.empty());
  }
  // The first folder in a checkout wins; one outside any is passed over.
  CHECK(d::find_git_info({a, b}).commit == commit_a);
  CHECK(d::find_git_info({b, a}).commit == commit_b);
  CHECK(d::find_git_info({plain, b}).commit == commit_b);
  CHECK(d::find_git_info({plain}).commit.empty());
}

TEST_CASE("git source: the system tags carry commit, branch and URL, and explicit tags win", "[unit][git]") {
  const support::TempDir dir("unit-git");
  const std::string repo = dir.str();
  const std::string commit = make_repo(repo, "release");
  git(repo, "remote add origin https://user:pw@example.com/team/model.git");
  support::EnvVar src("MLFLOWPP_GIT_SOURCE_DIR", repo.c_str());
  {
    support::EnvVar ctx("MLFLOW_RUN_CONTEXT", nullptr);
    const auto tags = d::system_tags("someone");
    CHECK(tag(tags, "mlflow.user") == std::optional<std::string>("someone"));
    CHECK(tag(tags, "mlflow.source.type") == std::optional<std::string>("LOCAL"));
    CHECK(tag(tags, "mlflow.source.name") == std::optional<std::string>(d::source_name()));
    CHECK(tag(tags, "mlflow.source.git.commit") == std::optional<std::string>(commit));
    CHECK(tag(tags, "mlflow.source.git.branch") == std::optional<std::string>("release"));
    CHECK(tag(tags, "mlflow.source.git.repoURL") ==
          std::optional<std::string>("https://example.com/team/model.git"));
  }
  {
    support::EnvVar ctx("MLFLOW_RUN_CONTEXT",
                        R"({"mlflow.source.git.commit": "abc123", "mlflow.source.name": "train"})");
    const auto tags = d::system_tags("someone");
    CHECK(tag(tags, "mlflow.source.git.commit") == std::optional<std::string>("abc123"));
    CHECK(tag(tags, "mlflow.source.name") == std::optional<std::string>("train"));
    CHECK(tag(tags, "mlflow.source.git.branch") == std::optional<std::string>("release"));
  }
  git(repo, "checkout -q --detach");
  {
    support::EnvVar ctx("MLFLOW_RUN_CONTEXT", nullptr);
    // Remembered per folder for the process's life: a new folder is needed to see the change.
    support::EnvVar other("MLFLOWPP_GIT_SOURCE_DIR", (repo + "/.").c_str());
    const auto tags = d::system_tags("someone");
    CHECK(tag(tags, "mlflow.source.git.commit") == std::optional<std::string>(commit));
    CHECK_FALSE(tag(tags, "mlflow.source.git.branch").has_value());
  }
}
