// The embedded local store (ADR 0008) where only it applies: the schema against the pinned
// MLflow's, databases the pinned MLflow created, older and newer revisions, files that are
// not MLflow databases, paths that cannot work, a full disk, and many processes writing
// one file while the Python client reads it. Tagged [local]: these run only in the
// "local: ..." ctest entries (MLFLOWPP_TEST_BACKEND=local); the rest of the integration
// suite runs against both backends.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "detail/local/schema.hpp"
#include "detail/local/sqlite.hpp"
#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "mlflowpp/mlflowpp.hpp"
#include "support/python.hpp"
#include "support/temp_dir.hpp"

using namespace mlflowpp;
using itest::contains;
using itest::shell_quote;

namespace {

struct Proc {
  int exit_code = -1;
  std::string output;
};

/// Runs `cmd` through the shell with stdout+stderr captured.
Proc run_shell(const std::string& cmd) {
  Proc p;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return p;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) p.output.append(buf, n);
  const int rc = pclose(f);
  p.exit_code = (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
  return p;
}

/// Runs Python code with the pinned mlflow (MLFLOWPP_PYTHON); argv[1..] = args.
Proc run_python(const std::string& python, const std::string& code,
                const std::vector<std::string>& args = {}) {
  std::string cmd = "MLFLOW_DISABLE_TELEMETRY=true " + shell_quote(python) + " -c " + shell_quote(code);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return run_shell(cmd);
}

ClientOptions local_options(const std::string& db) {
  ClientOptions o = testing::options("sqlite:///" + db);
  return o;
}

void sql_exec(const std::string& db, const std::string& statements) {
  mlflowpp::detail::sql::Connection c(db, false, std::chrono::milliseconds(5000));
  c.exec(statements);
}

std::string refusal(const std::string& db) {
  try {
    Client c(local_options(db));
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

const char* kPythonSchema = R"py(
import logging, sqlite3, sys, tempfile, os
logging.disable(logging.CRITICAL)
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as R
def norm(sql):
    # MLflow's own migrations emit a table's constraints in an order that varies from one
    # creation to the next (alembic reflects them from a set): compare the clauses as a set.
    return "\n".join(sorted(line.strip().rstrip(",").strip() for line in (sql or "").splitlines()))
def objects(path):
    con = sqlite3.connect(path)
    rows = [(t, n, tb, norm(q)) for t, n, tb, q in con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").fetchall()]
    rev = con.execute("SELECT version_num FROM alembic_version").fetchall()
    con.close()
    return rows, rev
with tempfile.TemporaryDirectory() as tmp:
    theirs = os.path.join(tmp, "mlflow.db")
    SqlAlchemyStore("sqlite:///" + theirs, os.path.join(tmp, "mlruns"))
    R("sqlite:///" + theirs)
    a, ra = objects(theirs)
b, rb = objects(sys.argv[1])
if ra != rb:
    print("revision differs:", ra, rb); sys.exit(1)
sa, sb = set(a), set(b)
import difflib
ours_by_name = {r[:3]: r[3] for r in b}
for r in sorted(sa - sb):
    print("only in MLflow's:", r[:3])
    if r[:3] in ours_by_name:
        print("\n".join(difflib.unified_diff(r[3].splitlines(), ours_by_name[r[:3]].splitlines(), "MLflow's", "ours", lineterm="")))
for r in sorted(sb - sa): print("only in ours:", r[:3])
print("objects:", len(a), "revision:", ra[0][0])
sys.exit(0 if sa == sb else 1)
)py";

}  // namespace

TEST_CASE("local store: the schema we create is the pinned MLflow's, object for object",
          "[integration][local]") {
  const std::string python = support::python_or_skip("schema comparison");
  if (python.empty()) return;
  const support::TempDir dir("local-schema");
  const std::string db = (dir / "mlflow.db").string();
  { Client c(local_options(db)); }
  const Proc p = run_python(python, kPythonSchema, {db});
  INFO(p.output);
  CHECK(p.exit_code == 0);
  CHECK(contains(p.output, "revision: " + mlflowpp::detail::schema_head_revision()));
}

TEST_CASE("local store: a database the pinned MLflow created is written into and read back by it",
          "[integration][local]") {
  const std::string python = support::python_or_skip("a database MLflow created");
  if (python.empty()) return;
  const support::TempDir dir("local-theirs");
  const std::string db = (dir / "mlflow.db").string();
  Proc created = run_python(python,
                            "import logging,sys; logging.disable(logging.CRITICAL)\n"
                            "import mlflow\n"
                            "c = mlflow.MlflowClient('sqlite:///' + sys.argv[1])\n"
                            "c.create_experiment('made-by-python')\n",
                            {db});
  REQUIRE(created.exit_code == 0);
  Client client(local_options(db));
  const auto exp = client.get_experiment_by_name("made-by-python");
  REQUIRE(exp.has_value());
  auto run = client.create_run(exp->experiment_id);
  client.log_param(run.info.run_id, "lr", "0.01");
  for (int i = 0; i < 5; ++i) client.log_metric(run.info.run_id, "loss", 1.0 / (i + 1), std::nullopt, i);
  client.set_terminated(run.info.run_id, RunStatus::kFinished);
  Proc read = run_python(python,
                         "import logging,sys; logging.disable(logging.CRITICAL)\n"
                         "import mlflow\n"
                         "c = mlflow.MlflowClient('sqlite:///' + sys.argv[1])\n"
                         "r = c.get_run(sys.argv[2])\n"
                         "h = sorted((m.step, m.value) for m in c.get_metric_history(sys.argv[2], 'loss'))\n"
                         "assert r.info.status == 'FINISHED', r.info.status\n"
                         "assert r.data.params == {'lr': '0.01'}, r.data.params\n"
                         "assert h == [(i, 1.0 / (i + 1)) for i in range(5)], h\n"
                         "assert r.data.metrics['loss'] == 0.2, r.data.metrics\n"
                         "print('OK')\n",
                         {db, run.info.run_id});
  INFO(read.output);
  CHECK(read.exit_code == 0);
}

TEST_CASE(
    "local store: an older revision is refused with the upgrade command, a newer one is used when its "
    "columns are there",
    "[integration][local]") {
  const support::TempDir dir("local-revisions");
  const std::string db = (dir / "mlflow.db").string();
  { Client c(local_options(db)); }
  const auto& older = mlflowpp::detail::schema_older_revisions();
  REQUIRE_FALSE(older.empty());

  sql_exec(db, "UPDATE alembic_version SET version_num = '" + older.front() + "'");
  std::string why = refusal(db);
  INFO(why);
  CHECK(contains(why, older.front()));
  CHECK(contains(why, "mlflow db upgrade"));
  CHECK(contains(why, db));

  sql_exec(db, "UPDATE alembic_version SET version_num = 'ffff00000000'");
  CHECK(refusal(db).empty());  // newer, every written column present: used
  {
    Client c(local_options(db));
    const auto id = c.create_experiment(testing::unique_name("newer-rev"));
    CHECK_FALSE(id.empty());
  }

  sql_exec(db, "ALTER TABLE logged_model_tags RENAME TO logged_model_tags_v2");
  why = refusal(db);
  INFO(why);
  CHECK(contains(why, "ffff00000000"));
  CHECK(contains(why, "logged_model_tags"));
}

TEST_CASE("local store: files that are not MLflow databases and paths that cannot work get clear errors",
          "[integration][local]") {
  const support::TempDir dir("local-bad-files");
  {
    const std::string db = (dir / "other.db").string();
    mlflowpp::detail::sql::Connection c(db, true, std::chrono::milliseconds(100));
    c.exec("CREATE TABLE people (name TEXT)");
  }
  std::string why = refusal((dir / "other.db").string());
  INFO(why);
  CHECK(contains(why, "not an MLflow one"));
  CHECK(contains(why, "other.db"));

  {
    std::ofstream f(dir / "garbage.db", std::ios::binary);
    f << std::string(8192, 'x');
  }
  why = refusal((dir / "garbage.db").string());
  INFO(why);
  CHECK(contains(why, "not a SQLite database"));
  CHECK(contains(why, "garbage.db"));

  // A folder that cannot exist (a regular file in the path): the process runs as root in CI,
  // which no permission bit stops.
  { std::ofstream f(dir / "a-file", std::ios::binary); }
  why = refusal((dir / "a-file").string() + "/mlflow.db");
  INFO(why);
  CHECK(contains(why, "cannot open or create"));

  CHECK_THROWS_AS(Client(local_options("")), InvalidArgumentError);  // "sqlite:///" alone
  ClientOptions memory = testing::options("sqlite:///:memory:");
  CHECK_THROWS_WITH(Client(memory), Catch::Contains("in-memory"));
  ClientOptions host = testing::options("sqlite://host/mlflow.db");
  CHECK_THROWS_WITH(Client(host), Catch::Contains("sqlite:///relative/path"));
}

TEST_CASE("local store: a full disk fails the writes it stops, clearly, and loses nothing written before",
          "[integration][local]") {
  const support::TempDir dir("local-full");
  const std::string db = (dir / "mlflow.db").string();
  std::string run_id;
  {
    Client c(local_options(db));
    run_id = c.create_run("0").info.run_id;
    std::vector<Metric> before;
    for (int i = 0; i < 1000; ++i) before.push_back(itest::metric("before", i, 1700000000000 + i, i));
    c.log_batch(run_id, before, {}, {});
  }
  // The probe may grow no file past the database's size + 256 KiB (`ulimit -f`, in the
  // 512-byte blocks of /bin/sh): its writes then fail with EFBIG, as on a full disk.
  const auto db_size = std::filesystem::file_size(db);
  const auto blocks = (db_size + 256 * 1024) / 512;
  const Proc p = run_shell("cd " + shell_quote(dir.str()) + " && ulimit -f " + std::to_string(blocks) +
                           " && " + shell_quote(MLFLOWPP_LOCAL_WRITER_PROBE) + " " +
                           shell_quote("sqlite:///" + db) + " " + run_id + " full 2 20000");
  INFO(p.output);
  CHECK(contains(p.output, "DONE"));
  CHECK(contains(p.output, "ERROR"));
  CHECK(contains(p.output, "mlflow.db"));  // the error names the file
  // Every point the probe counted delivered is in the file, and no other.
  uint64_t delivered = 0;
  if (const auto at = p.output.find("DONE delivered="); at != std::string::npos)
    delivered = std::stoull(p.output.substr(at + 15));
  {
    mlflowpp::detail::sql::Connection count(db, false, std::chrono::milliseconds(5000));
    auto st = count.prepare("SELECT count(*) FROM metrics WHERE run_uuid = ?1 AND key LIKE 'full_t%'");
    st->bind(1, run_id);
    REQUIRE(st->step());
    CHECK(static_cast<uint64_t>(st->int64(0)) == delivered);
    CHECK(delivered < 40000);  // the limit did stop writes
  }
  // The file is consistent and holds everything committed before.
  Client c(local_options(db));
  const auto h = itest::sorted_history(c, run_id, "before");
  CHECK(h.size() == 1000);
  mlflowpp::detail::sql::Connection check(db, false, std::chrono::milliseconds(5000));
  auto st = check.prepare("PRAGMA integrity_check");
  REQUIRE(st->step());
  CHECK(st->text(0) == "ok");
}

TEST_CASE(
    "local store: 8 processes with 4 threads each write one file at once while the Python client reads it",
    "[integration][local]") {
  const std::string python = support::python_or_skip("a reader during the writes");
  const support::TempDir dir("local-writers");
  const std::string db = (dir / "mlflow.db").string();
  const std::string uri = "sqlite:///" + db;
  std::string run_id;
  {
    Client c(local_options(db));
    run_id = c.create_run("0").info.run_id;
  }
  const int procs = 8, threads = 4;
  const long points = 3000;
  // The reader: get_run and search_runs in a loop until the writers are done (a flag file).
  const std::string done_flag = (dir / "writers-done").string();
  std::string reader_cmd;
  if (!python.empty())
    reader_cmd = "MLFLOW_DISABLE_TELEMETRY=true " + shell_quote(python) + " -c " +
                 shell_quote(
                     "import logging, os, sys; logging.disable(logging.CRITICAL)\n"
                     "import mlflow\n"
                     "c = mlflow.MlflowClient(sys.argv[1])\n"
                     "n = 0\n"
                     "while not os.path.exists(sys.argv[3]):\n"
                     "    r = c.get_run(sys.argv[2]); c.search_runs(['0']); n += 1\n"
                     "print('READS', n)\n") +
                 " " + shell_quote(uri) + " " + run_id + " " + shell_quote(done_flag) + " > " +
                 shell_quote((dir / "reader.log").string()) + " 2>&1 & ";
  std::string cmd = "cd " + shell_quote(dir.str()) + " && " + reader_cmd + " pids=''";
  for (int p = 0; p < procs; ++p)
    cmd += "; " + shell_quote(MLFLOWPP_LOCAL_WRITER_PROBE) + " " + shell_quote(uri) + " " + run_id + " p" +
           std::to_string(p) + " " + std::to_string(threads) + " " + std::to_string(points) + " > " +
           shell_quote((dir / ("w" + std::to_string(p) + ".log")).string()) + " 2>&1 & pids=\"$pids $!\"";
  cmd += "; wait $pids; touch " + shell_quote(done_flag) + "; wait";
  const auto t0 = std::chrono::steady_clock::now();
  const Proc all = run_shell(cmd);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(all.output);
  for (int p = 0; p < procs; ++p) {
    const std::string log = itest::read_file((dir / ("w" + std::to_string(p) + ".log")).string());
    INFO("writer " << p << ": " << log);
    CHECK(contains(log, "DONE delivered=" + std::to_string(threads * points) + " dropped=0 complete=1"));
  }
  Client c(local_options(db));
  for (int p = 0; p < procs; ++p)
    for (int t = 0; t < threads; ++t) {
      const std::string key = "p" + std::to_string(p) + "_t" + std::to_string(t);
      const auto h = itest::sorted_history(c, run_id, key);
      CHECK(h.size() == static_cast<std::size_t>(points));
      bool each_once = h.size() == static_cast<std::size_t>(points);
      for (std::size_t i = 0; each_once && i < h.size(); ++i)
        each_once = h[i].step == static_cast<int64_t>(i);
      CHECK(each_once);
    }
  if (!python.empty()) {
    const std::string reader = itest::read_file((dir / "reader.log").string());
    INFO("reader: " << reader);
    CHECK(contains(reader, "READS"));
  }
  WARN(procs << " processes x " << threads << " threads x " << points
             << " points into one file: " << procs * threads * points << " points in " << secs << " s");
}

TEST_CASE("local store: 8 processes opening one new file at once all create it or use it, nothing lost",
          "[integration][local]") {
  const support::TempDir dir("local-fresh-race");
  const std::string db = (dir / "mlflow.db").string();
  const int procs = 8;
  std::string cmd = "cd " + shell_quote(dir.str()) + " && pids=''";
  for (int p = 0; p < procs; ++p)
    cmd += "; " + shell_quote(MLFLOWPP_LOCAL_WRITER_PROBE) + " " + shell_quote("sqlite:///" + db) + " new p" +
           std::to_string(p) + " 2 500 > " +
           shell_quote((dir / ("w" + std::to_string(p) + ".log")).string()) + " 2>&1 & pids=\"$pids $!\"";
  cmd += "; wait $pids";
  const Proc all = run_shell(cmd);
  INFO(all.output);
  Client c(local_options(db));
  for (int p = 0; p < procs; ++p) {
    const std::string log = itest::read_file((dir / ("w" + std::to_string(p) + ".log")).string());
    INFO("process " << p << ": " << log);
    CHECK(contains(log, "DONE delivered=1000 dropped=0 complete=1"));
    const auto at = log.find("RUN ");
    REQUIRE(at != std::string::npos);
    const std::string run_id = log.substr(at + 4, 32);
    CHECK(itest::sorted_history(c, run_id, "p" + std::to_string(p) + "_t0").size() == 500);
  }
  // One Default experiment, one schema.
  mlflowpp::detail::sql::Connection check(db, false, std::chrono::milliseconds(5000));
  auto st = check.prepare("SELECT count(*) FROM experiments WHERE experiment_id = 0");
  REQUIRE(st->step());
  CHECK(st->int64(0) == 1);
}
