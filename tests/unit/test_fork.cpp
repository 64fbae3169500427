// A forked child must not touch the parent's worker, locks or run: its logger drops
// (counted) and never blocks, and an inherited ActiveRun does not end the parent's run.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <thread>

#include "api/client_access.hpp"
#include "fake_transport.hpp"
#include "mlflowpp/active_run.hpp"
#include "mlflowpp/client.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;
using std::chrono::milliseconds;

namespace {
// Runs `child` in a forked process with a 10 s alarm; returns its exit status (-1 on a signal).
template <typename F>
int in_child(F&& child) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(10);  // a deadlock shows as SIGALRM, not as a hung test
    _exit(child() ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
}  // namespace

TEST_CASE("after fork, the child's logger drops without blocking, while producers run", "[fork]") {
  testing::LoggerRig rig;
  auto run = rig.core->handle_for("run-1");
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    int64_t i = 0;
    while (!stop.load()) rig.core->enqueue(ItemKind::kMetric, run, "m", 1.0, {}, i++, 1);
  });
  for (int k = 0; k < 20; ++k) {
    int status = in_child([&] {
      rig.core->enqueue(ItemKind::kMetric, run, "child", 1.0, {}, 0, 1);
      auto f = rig.core->flush(milliseconds(100));
      auto s = rig.core->shutdown(milliseconds(100));
      auto st = rig.core->stats();
      return !f.complete && !s.complete && st.dropped_after_fork >= 1 && rig.core->handle_for("other") == 0;
    });
    REQUIRE(status == 0);
  }
  stop = true;
  producer.join();
  CHECK(rig.core->flush(milliseconds(10000)).complete);
  CHECK(rig.core->stats().dropped_after_fork == 0);  // the parent's logger is untouched
}

TEST_CASE("an ActiveRun inherited by a forked child does not end the parent's run", "[fork]") {
  auto transport = std::make_shared<testing::FakeTransport>([](const HttpRequest& r) {
    if (r.url.find("/runs/update") != std::string::npos)
      return testing::ok(R"({"run_info":{"run_id":"r1","status":"FINISHED"}})");
    return testing::ok();
  });
  Client client = mlflowpp::detail::ClientAccess::make(testing::fake_options(), transport);
  RunInfo info;
  info.run_id = "r1";
  info.experiment_id = "0";
  {
    ActiveRun run(client, info);
    run.log_metric("loss", 0.5, 1);
    int status = in_child([&] {
      {
        ActiveRun moved = std::move(run);  // leaves scope in the child
      }
      for (const auto& r : transport->requests())
        if (r.url.find("/runs/update") != std::string::npos) return false;
      return true;
    });
    CHECK(status == 0);
    CHECK(run.ended() == false);  // in the parent, the handle was not moved
    auto result = run.end();
    CHECK(result.status_set);
  }
  int updates = 0;
  for (const auto& r : transport->requests()) updates += r.url.find("/runs/update") != std::string::npos;
  CHECK(updates == 1);  // only the parent's end()
}
