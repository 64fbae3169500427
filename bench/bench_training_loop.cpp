// Scenario c (bench/scenarios/c_training_loop.py): a training loop whose step is a fixed
// amount of CPU work (~1 ms), then logs K metrics (distinct keys, like per-layer statistics)
// with ActiveRun::log_metrics against a tracking server (MLFLOW_TRACKING_URI). K = 0 is the
// baseline: the same loop, no client at all.
//
//   mlflowpp_bench_training_loop --calibrate [--work-us 1000]
//   mlflowpp_bench_training_loop --work-iters N --steps S [--warmup-steps W] [--metrics K]
//       [--experiment NAME] [--isolate C]
//
// --calibrate prints the iterations of busy work that take --work-us on this core; the scenario
// calibrates once and passes the same N to every process, so that baseline and logged runs do
// exactly the same work. The work is a fixed number of dependent floating-point operations, not
// a clock spin: CPU that other threads (the logger's) take from this core lengthens the step, as
// it would a real training step. W warm-up steps run (and log) before the S measured ones.
// --isolate C: after start_run, the training thread alone on core C, the logger's threads on the
// process's other cores (a training thread with a core of its own).
// Prints one JSON object: step times (mean, p50, p99, max), the time spent inside the logging
// call, the CPU of the training thread and of the whole process during the measured steps, and
// what the logger delivered (after run.end(), which waits for delivery: end_s).
#include <dirent.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mlflowpp/mlflowpp.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench_clock.hpp"
#include "json_line.hpp"
#include "proc_util.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The calling (training) thread alone on core `cpu`; every other thread of the process (the
// logger's, created by start_run) on the other cores the process may use.
void isolate(int cpu) {
  cpu_set_t others;
  if (sched_getaffinity(0, sizeof others, &others) != 0) throw std::runtime_error("sched_getaffinity failed");
  CPU_CLR(cpu, &others);
  if (CPU_COUNT(&others) == 0) throw std::runtime_error("--isolate needs a second core");
  const auto self = static_cast<pid_t>(syscall(SYS_gettid));
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      const pid_t tid = std::atoi(e->d_name);
      if (tid > 0 && tid != self) sched_setaffinity(tid, sizeof others, &others);
    }
    closedir(d);
  }
  cpu_set_t mine;
  CPU_ZERO(&mine);
  CPU_SET(cpu, &mine);
  if (sched_setaffinity(0, sizeof mine, &mine) != 0) throw std::runtime_error("sched_setaffinity failed");
}

double us(clock_type::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

}  // namespace

int main(int argc, char** argv) try {
  bool calibrate = false;
  int64_t work_us = 1000, steps = 2000, warmup = -1, metrics = 0;
  uint64_t work_iters = 0;
  std::string experiment = "bench-training-loop";
  int isolate_cpu = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--calibrate") {
      calibrate = true;
      continue;
    }
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + k);
    const std::string v = argv[++i];
    if (k == "--work-us") {
      work_us = std::atoll(v.c_str());
    } else if (k == "--work-iters") {
      work_iters = std::strtoull(v.c_str(), nullptr, 10);
    } else if (k == "--steps") {
      steps = std::atoll(v.c_str());
    } else if (k == "--warmup-steps") {
      warmup = std::atoll(v.c_str());
    } else if (k == "--metrics") {
      metrics = std::atoll(v.c_str());
    } else if (k == "--experiment") {
      experiment = v;
    } else if (k == "--isolate") {
      isolate_cpu = std::atoi(v.c_str());
    } else {
      throw std::runtime_error("unknown option " + k);
    }
  }
  if (calibrate) {
    const uint64_t n = bench::calibrate_busy_work(std::chrono::microseconds(work_us));
    std::printf("{\"work_iters\": %llu, \"work_us\": %lld}\n", static_cast<unsigned long long>(n),
                static_cast<long long>(work_us));
    return 0;
  }
  if (work_iters == 0 || steps < 1 || metrics < 0)
    throw std::runtime_error("need --work-iters N and --steps S");
  if (warmup < 0) warmup = std::max<int64_t>(10, steps / 20);

  std::vector<std::pair<std::string, double>> values;
  for (int64_t i = 0; i < metrics; ++i) {
    char key[64];
    std::snprintf(key, sizeof key, "layer_%03lld/grad_norm", static_cast<long long>(i));
    values.emplace_back(key, 0.0);
  }
  std::optional<mlflowpp::Client> client;
  std::optional<mlflowpp::ActiveRun> run;
  if (metrics > 0) {
    client.emplace(mlflowpp::Client::from_env());
    run.emplace(client->start_run(experiment, "cpp-" + std::to_string(metrics) + "-metrics"));
  }
  if (isolate_cpu >= 0) isolate(isolate_cpu);

  std::vector<double> step_us, log_us;
  step_us.reserve(static_cast<std::size_t>(steps));
  log_us.reserve(static_cast<std::size_t>(steps));
  double sink = 0, cpu0 = 0, tcpu0 = 0;
  for (int64_t s = -warmup; s < steps; ++s) {
    if (s == 0) {
      cpu0 = bench::process_cpu_s();
      tcpu0 = thread_cpu_s();
    }
    const auto t0 = clock_type::now();
    const double loss = bench::busy_work(work_iters, 1.0 + 1e-6 * static_cast<double>(s));
    sink += loss;
    const auto t1 = clock_type::now();
    if (run) {
      for (std::size_t i = 0; i < values.size(); ++i) values[i].second = loss + static_cast<double>(i);
      run->log_metrics(values, s + warmup);
    }
    const auto t2 = clock_type::now();
    if (s >= 0) {
      step_us.push_back(us(t2 - t0));
      log_us.push_back(us(t2 - t1));
    }
  }
  const double cpu = bench::process_cpu_s() - cpu0, tcpu = thread_cpu_s() - tcpu0;
  const double loop_mean = bench::mean(step_us), log_mean = bench::mean(log_us);
  std::sort(step_us.begin(), step_us.end());
  std::sort(log_us.begin(), log_us.end());

  bench::JsonLine out;
  out.add("client", "mlflowpp")
      .add("metrics", metrics)
      .add("steps", steps)
      .add("work_iters", work_iters)
      .add("mean_us", loop_mean)
      .add("p50_us", bench::quantile(step_us, 0.5))
      .add("p99_us", bench::quantile(step_us, 0.99))
      .add("max_us", step_us.back())
      .add("log_mean_us", log_mean)
      .add("log_p50_us", bench::quantile(log_us, 0.5))
      .add("log_p99_us", bench::quantile(log_us, 0.99))
      .add("thread_cpu_s", tcpu)
      .add("process_cpu_s", cpu)
      .add("sink", sink);
  if (run) {
    const auto e0 = clock_type::now();
    auto end = run->end();
    const auto st = client->async_logger().stats();
    std::vector<std::string> keys;
    for (const auto& kv : values) keys.push_back(kv.first);
    out.add("run_id", run->run_id())
        .add("points_per_key", steps + warmup)
        .add("end_s", std::chrono::duration<double>(clock_type::now() - e0).count())
        .add("status_set", end.status_set)
        .add("enqueued", st.enqueued)
        .add("delivered", st.delivered)
        .add("requests", st.requests)
        .add("queue_high_water", st.queue_high_water)
        .add("keys", keys);
  }
  out.print();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
