// Cost of the training-thread side of logging: AsyncLogger::log_metric (enqueue only),
// over a transport that answers at once, so the network is out of the picture; and the
// worker's throughput (validate, serialize, send) behind it.
// Run: scripts/bench.sh (or build/bench/mlflowpp_bench_log_metric).
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>

#include "api/logger_access.hpp"
#include "detail/http/http.hpp"
#include "detail/logger/logger_core.hpp"
#include "detail/rest/rest.hpp"
#include "detail/store/tracking_store.hpp"
#include "mlflowpp/async_logger.hpp"

namespace {

class InstantTransport final : public mlflowpp::detail::Transport {
 public:
  mlflowpp::detail::HttpResponse perform(const mlflowpp::detail::HttpRequest&) override {
    return {200, "{}", "application/json", ""};
  }
};

constexpr int64_t kIterations = 1000000;

std::unique_ptr<mlflowpp::AsyncLogger> make_logger(std::size_t capacity) {
  mlflowpp::ClientOptions co;
  co.tracking_uri = "http://bench.invalid";
  auto rest = std::make_shared<mlflowpp::detail::RestClient>(co, std::make_shared<InstantTransport>());
  mlflowpp::detail::LoggerDeps deps;
  deps.store = mlflowpp::detail::make_rest_store(rest);
  deps.options.queue_capacity = capacity;
  deps.options.report_errors_to_stderr = false;
  return mlflowpp::detail::make_async_logger(std::make_unique<mlflowpp::detail::LoggerCore>(std::move(deps)));
}

const std::string kRunId = "0123456789abcdef0123456789abcdef";

// Every call is accepted: the queue holds all the iterations. Reports the enqueue cost,
// then (outside the timed loop) how long the worker needed to deliver everything.
void run_accepted(benchmark::State& state, const char* key) {
  auto logger = make_logger(static_cast<std::size_t>(kIterations) + 16);
  auto run = logger->handle_for(kRunId);
  int64_t step = 0;
  for (auto _ : state) logger->log_metric(run, key, 0.5, step++);
  auto t0 = std::chrono::steady_clock::now();
  auto r = logger->flush(std::chrono::minutes(5));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto s = logger->stats();
  state.counters["delivered"] = static_cast<double>(s.delivered);
  state.counters["dropped"] = static_cast<double>(s.dropped_queue_full);
  state.counters["requests"] = static_cast<double>(s.requests);
  state.counters["drain_s"] = secs;
  state.counters["complete"] = r.complete ? 1 : 0;
  state.SetItemsProcessed(state.iterations());
}

void BM_log_metric_accepted(benchmark::State& state) { run_accepted(state, "train_loss"); }
BENCHMARK(BM_log_metric_accepted)->Iterations(kIterations)->Unit(benchmark::kNanosecond);

void BM_log_metric_accepted_long_key(benchmark::State& state) {
  run_accepted(state, "model/encoder/layer_11/attention/grad_norm");
}
BENCHMARK(BM_log_metric_accepted_long_key)->Iterations(kIterations);

// Several training threads on one logger (a steady state: slots reused, the worker
// draining concurrently; some calls may find the queue full and count a drop).
mlflowpp::AsyncLogger& shared_logger() {
  static auto logger = make_logger(1 << 16);
  return *logger;
}

void BM_log_metric_threads(benchmark::State& state) {
  auto& logger = shared_logger();
  auto run = logger.handle_for(kRunId);
  int64_t step = 0;
  for (auto _ : state) logger.log_metric(run, "train_loss", 0.5, step++);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_log_metric_threads)->Threads(1)->Threads(2)->Threads(16)->UseRealTime();

void BM_log_param(benchmark::State& state) {
  auto logger = make_logger(static_cast<std::size_t>(kIterations) + 16);
  auto run = logger->handle_for(kRunId);
  for (auto _ : state) logger->log_param(run, "learning_rate", "0.001");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_log_param)->Iterations(kIterations);

}  // namespace

BENCHMARK_MAIN();
