// train_digits: trains a small MLP on the UCI handwritten digits and tracks the run in
// MLflow with mlflowpp (params, tags, a train_loss point per mini-batch, train/test
// accuracy per epoch). The last line of stdout is `run_id=<id>`.
//
//   MLFLOW_TRACKING_URI=http://localhost:5000 ./train_digits --epochs 20 --lr 0.1

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <mlflowpp/mlflowpp.hpp>
#include <optional>
#include <string>

#include "digits.hpp"

#ifndef MLFLOWPP_DIGITS_CSV
#define MLFLOWPP_DIGITS_CSV "examples/data/digits.csv"
#endif

namespace {

struct Args {
  int epochs = 20;
  double lr = 0.1;
  int hidden = 64;
  int batch_size = 32;
  uint32_t seed = 42;
  std::string data = MLFLOWPP_DIGITS_CSV;
  std::string experiment;
  std::string run_name = "mlp-digits";
};

void print_usage(std::ostream& out, const char* prog) {
  out << "usage: " << prog << " [options]\n"
      << "Trains a 64-hidden-10 MLP on the UCI digits and logs the run to MLflow\n"
      << "(MLFLOW_TRACKING_URI: a tracking server, or sqlite:///path; unset: ./mlflow.db).\n\n"
      << "options (--opt VALUE or --opt=VALUE):\n"
      << "  --epochs N         training epochs (default 20)\n"
      << "  --lr X             SGD learning rate, momentum 0.9 (default 0.1)\n"
      << "  --hidden N         hidden units (default 64)\n"
      << "  --batch-size N     mini-batch size (default 32)\n"
      << "  --seed N           seed of the split, the initial weights and the shuffling\n"
      << "                     (default 42)\n"
      << "  --data PATH        digits CSV (default " << MLFLOWPP_DIGITS_CSV << ")\n"
      << "  --experiment NAME  MLflow experiment, created if missing\n"
      << "                     (default: $MLFLOW_EXPERIMENT_NAME, else \"digits\")\n"
      << "  --run-name NAME    MLflow run name (default \"mlp-digits\")\n"
      << "  --help             show this help\n";
}

/// Thrown for a bad command line: usage on stderr, exit status 2.
struct UsageError {
  std::string message;
};

std::optional<long long> parse_int(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE || end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (errno == ERANGE || end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

long long int_in_range(const std::string& opt, const std::string& value, long long lo, long long hi) {
  const auto v = parse_int(value);
  if (!v || *v < lo || *v > hi) {
    throw UsageError{opt + " expects an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                     ", got '" + value + "'"};
  }
  return *v;
}

/// Returns std::nullopt for --help.
std::optional<Args> parse_args(int argc, char** argv) {
  Args a;
  if (const char* env = std::getenv("MLFLOW_EXPERIMENT_NAME"); env && *env) {
    a.experiment = env;
  } else {
    a.experiment = "digits";
  }
  for (int i = 1; i < argc; ++i) {
    std::string opt = argv[i];
    if (opt == "--help" || opt == "-h") return std::nullopt;
    std::optional<std::string> inline_value;
    if (const auto eq = opt.find('='); opt.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = opt.substr(eq + 1);
      opt.resize(eq);
    }
    const bool known = opt == "--epochs" || opt == "--lr" || opt == "--hidden" || opt == "--batch-size" ||
                       opt == "--seed" || opt == "--data" || opt == "--experiment" || opt == "--run-name";
    if (!known) throw UsageError{"unknown option '" + opt + "'"};
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= argc) throw UsageError{opt + " needs a value"};
      value = argv[++i];
    }
    if (opt == "--epochs") {
      a.epochs = static_cast<int>(int_in_range(opt, value, 1, 1000000));
    } else if (opt == "--lr") {
      const auto v = parse_double(value);
      if (!v || !(*v > 0.0) || *v > 1e6) {
        throw UsageError{"--lr expects a positive number, got '" + value + "'"};
      }
      a.lr = *v;
    } else if (opt == "--hidden") {
      a.hidden = static_cast<int>(int_in_range(opt, value, 1, 100000));
    } else if (opt == "--batch-size") {
      a.batch_size = static_cast<int>(int_in_range(opt, value, 1, 1000000));
    } else if (opt == "--seed") {
      a.seed = static_cast<uint32_t>(int_in_range(opt, value, 0, std::numeric_limits<uint32_t>::max()));
    } else if (opt == "--data") {
      if (value.empty()) throw UsageError{"--data needs a non-empty path"};
      a.data = value;
    } else if (opt == "--experiment") {
      if (value.empty()) throw UsageError{"--experiment needs a non-empty name"};
      a.experiment = value;
    } else if (opt == "--run-name") {
      a.run_name = value;
    }
  }
  return a;
}

/// The digits file as an MLflow dataset (what Python's mlflow.data records for a local
/// file): a content digest, the file as a "local" source, a profile, context "train".
mlflowpp::DatasetInput dataset_input(const std::string& path, const digits::Dataset& data) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t h = 1469598103934665603ull;  // FNV-1a of the file's bytes
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char digest[17];
  std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(h));
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(path, ec).string();
  std::string uri;  // JSON string of the path ('"' and '\\' escaped; paths hold no control characters)
  for (char c : ec ? path : absolute) {
    if (c == '"' || c == '\\') uri += '\\';
    uri += c;
  }
  mlflowpp::DatasetInput d;
  d.dataset.name = "uci-digits";
  d.dataset.digest = std::string(digest, 8);
  d.dataset.source_type = "local";
  d.dataset.source = "{\"uri\": \"" + uri + "\"}";
  d.dataset.profile = "{\"num_rows\": " + std::to_string(data.size()) +
                      ", \"num_elements\": " + std::to_string(data.size() * (digits::kFeatures + 1)) + "}";
  d.tags.push_back({"mlflow.data.context", "train"});
  return d;
}

std::string format_fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

int run(const Args& args) {
  using clock = std::chrono::steady_clock;

  // Everything that can fail without a server comes first, so that a bad path or a
  // missing MLFLOW_TRACKING_URI does not leave a FAILED run behind.
  const digits::Dataset data = digits::load_digits(args.data);
  const digits::Split split = digits::train_test_split(data, 0.2, args.seed);
  const std::size_t batch = static_cast<std::size_t>(args.batch_size);
  const std::size_t steps_per_epoch = (split.train.size() + batch - 1) / batch;
  std::cout << "data: " << data.size() << " samples from " << args.data << " (train " << split.train.size()
            << ", test " << split.test.size() << "), " << steps_per_epoch << " steps per epoch" << std::endl;

  // Ctrl-C or a scheduler's SIGTERM: the run ends KILLED after its data is drained.
  mlflowpp::install_signal_handlers();
  auto client = mlflowpp::Client::from_env();
  mlflowpp::StartRunOptions so;
  so.experiment_name = args.experiment;
  so.run_name = args.run_name;
  auto run = client.start_run(so);
  std::cout << "tracking: " << client.tracking_uri() << ", experiment '" << args.experiment << "' (id "
            << run.experiment_id() << "), run " << run.run_id() << std::endl;

  run.log_params({{"lr", args.lr},  // numbers and strings: stored as Python's str() writes them
                  {"hidden", args.hidden},
                  {"batch_size", args.batch_size},
                  {"epochs", args.epochs},
                  {"seed", args.seed},
                  {"optimizer", "sgd-momentum"},
                  {"train_size", split.train.size()},
                  {"test_size", split.test.size()}});
  run.log_input(dataset_input(args.data, data));  // the run's Datasets panel
  run.set_tags({{"model", "mlp"}, {"dataset", "uci-digits"}, {"framework", "mlflowpp"}});

  digits::Mlp model(args.hidden, args.seed);
  std::mt19937 shuffle_rng(args.seed + 1u);  // independent of the split's stream
  const float lr = static_cast<float>(args.lr);
  int64_t step = 0;  // global mini-batch counter: train_loss is logged at steps 1..total
  double test_acc = 0.0;
  const auto t0 = clock::now();
  for (int epoch = 1; epoch <= args.epochs; ++epoch) {
    const double mean_loss = digits::train_epoch(model, split.train, batch, lr, shuffle_rng, [&](float loss) {
      ++step;
      run.log_metric("train_loss", loss, step);
    });
    const double train_acc = model.accuracy(split.train);
    test_acc = model.accuracy(split.test);
    run.log_metric("train_accuracy", train_acc, epoch);
    run.log_metric("test_accuracy", test_acc, epoch);
    std::cout << "epoch " << epoch << "/" << args.epochs << "  loss=" << format_fixed(mean_loss, 4)
              << "  train_acc=" << format_fixed(train_acc, 4) << "  test_acc=" << format_fixed(test_acc, 4)
              << std::endl;
  }
  const double train_s = std::chrono::duration<double>(clock::now() - t0).count();
  std::cout << "trained " << step << " steps in " << format_fixed(train_s, 2) << " s" << std::endl;
  std::cout << "final test_accuracy=" << format_fixed(test_acc, 4) << std::endl;

  // The test set's confusion matrix (rows: true class, columns: predicted) as an artifact,
  // confusion_matrix.json, beside the run's metrics.
  std::string matrix = "{\"labels\": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], \"rows_true_columns_predicted\": [";
  {
    std::vector<int> counts(digits::kClasses * digits::kClasses, 0);
    for (std::size_t i = 0; i < split.test.size(); ++i)
      ++counts[static_cast<std::size_t>(split.test.y[i] * digits::kClasses +
                                        model.predict(&split.test.x[i * digits::kFeatures]))];
    for (int r = 0; r < digits::kClasses; ++r) {
      matrix += r ? ", [" : "[";
      for (int c = 0; c < digits::kClasses; ++c)
        matrix +=
            (c ? ", " : "") + std::to_string(counts[static_cast<std::size_t>(r * digits::kClasses + c)]);
      matrix += "]";
    }
  }
  matrix += "]}";
  client.log_dict(run.run_id(), matrix, "confusion_matrix.json");

  const mlflowpp::EndRunResult res = run.end();
  if (!res.flush.complete || !res.status_set) {
    std::cerr << "error: run " << run.run_id() << ": " << res.summary() << std::endl;
    return 1;
  }
  if (!res.flush.ok()) std::cerr << "warning: run " << run.run_id() << ": " << res.summary() << std::endl;
  const mlflowpp::LoggerStats st = client.async_logger().stats();
  std::cout << "mlflow: " << st.delivered << " logged items delivered in " << st.requests
            << " request(s) (log-batch and the run's end), " << st.retries << " retried" << std::endl;
  // A tracking server: the run's page, in the UI's "Model training" view (MLflow 3 opens an
  // experiment in its GenAI view unless told otherwise).
  if (std::string uri = client.tracking_uri();
      uri.rfind("http://", 0) == 0 || uri.rfind("https://", 0) == 0) {
    while (!uri.empty() && uri.back() == '/') uri.pop_back();
    std::cout << "view the run at: " << uri << "/#/experiments/" << run.experiment_id() << "/runs/"
              << run.run_id() << "?workflowType=machine_learning" << std::endl;
  }
  std::cout << "run_id=" << run.run_id() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* prog = argc > 0 && argv[0] ? argv[0] : "train_digits";
  std::optional<Args> args;
  try {
    args = parse_args(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << prog << ": " << e.message << "\n";
    print_usage(std::cerr, prog);
    return 2;
  }
  if (!args) {
    print_usage(std::cout, prog);
    return 0;
  }
  try {
    return run(*args);
  } catch (const mlflowpp::Error& e) {
    std::cerr << "error: " << e.what() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
  }
  return 1;
}
