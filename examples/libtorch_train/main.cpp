// libtorch_train: trains a small MLP on the UCI handwritten digits with LibTorch, tracks the
// run in MLflow with mlflowpp, and publishes the model:
//
//   1. params, tags, `train_loss` per mini-batch step and `train_accuracy`, `test_accuracy`,
//      `test_loss` per epoch, through the asynchronous logger (ActiveRun::log_metric);
//   2. a TorchScript checkpoint, `model.pt`: a torch::jit::Module whose parameters are
//      registered and whose forward is TorchScript source (see torch_mlp.hpp), trained with
//      torch::optim::SGD, saved, and loaded back with torch::jit::load to check that it
//      gives bit-identical outputs on the test set;
//   3. an `MLmodel` file describing it (a `torchscript` flavor; see mlmodel.hpp for why);
//   4. an MLflow 3 logged model "digits-mlp" (model_type "torchscript", the run as its
//      source, the hyper-parameters as params), recorded as a run output; model.pt and
//      MLmodel uploaded to the model's own artifact location (Client::log_model_artifact,
//      `mlflow-artifacts:/<exp>/models/<model_id>/artifacts`, as mlflow.<flavor>.log_model
//      lays it out in MLflow 3); finalized READY (UPLOAD_FAILED when an upload fails); its
//      final metrics linked to it (Metric::model_id);
//   5. a registered model version (--model-name) from "models:/<model_id>" (the server
//      records the link in the logged model's `mlflow.modelVersions` tag), with the alias
//      `champion`; then the run ends FINISHED.
//
// The last two lines of stdout are `run_id=<id>` and `model_uri=models:/<name>@champion`.
//
//   MLFLOW_TRACKING_URI=http://localhost:5000 ./libtorch_train --epochs 10
//   ./libtorch_train --self-check     # no server: the ABI / protobuf check (self_check.cpp)

#include <stdlib.h>       // mkdtemp
#include <torch/utils.h>  // manual_seed, get_num_threads
#include <torch/version.h>
#include <unistd.h>  // isatty

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "digits.hpp"
#include "mlmodel.hpp"
#include "self_check.hpp"
#include "torch_mlp.hpp"

#ifndef MLFLOWPP_DIGITS_CSV
#define MLFLOWPP_DIGITS_CSV "examples/data/digits.csv"
#endif

namespace {

constexpr const char* kLoggedModelName = "digits-mlp";
constexpr const char* kModelType = "torchscript";
constexpr const char* kAlias = "champion";
constexpr const char* kMlflowVersion = "3.18.0";  // the MLflow release mlflowpp is tested against

struct Args {
  int epochs = 10;
  double lr = 0.1;
  double momentum = 0.9;
  int hidden = 64;
  int batch_size = 32;
  uint32_t seed = 42;
  std::string data = MLFLOWPP_DIGITS_CSV;
  std::string experiment;
  std::string run_name = "libtorch-mlp";
  std::string model_name = "digits-libtorch";
  std::string out_dir;  // empty: a new directory under $TMPDIR (or /tmp)
  bool self_check = false;
};

void print_usage(std::ostream& out, const char* prog) {
  out << "usage: " << prog << " [options]\n"
      << "Trains a 64-hidden-10 MLP on the UCI digits with LibTorch, logs the run to MLflow\n"
      << "(MLFLOW_TRACKING_URI), saves a TorchScript model.pt with an MLmodel file, logs them as\n"
      << "an MLflow 3 logged model and registers a version with the alias 'champion'.\n\n"
      << "options (--opt VALUE or --opt=VALUE):\n"
      << "  --epochs N          training epochs (default 10)\n"
      << "  --lr X              SGD learning rate (default 0.1)\n"
      << "  --momentum X        SGD momentum in [0, 1) (default 0.9)\n"
      << "  --hidden N          hidden units (default 64)\n"
      << "  --batch-size N      mini-batch size (default 32)\n"
      << "  --seed N            seed of the split, the initial weights and the shuffling (default 42)\n"
      << "  --data PATH         digits CSV (default " << MLFLOWPP_DIGITS_CSV << ")\n"
      << "  --experiment NAME   MLflow experiment, created if missing\n"
      << "                      (default: $MLFLOW_EXPERIMENT_NAME, else \"digits-libtorch\")\n"
      << "  --run-name NAME     MLflow run name (default \"libtorch-mlp\")\n"
      << "  --model-name NAME   registered model (default \"digits-libtorch\")\n"
      << "  --out-dir DIR       where model.pt and MLmodel are written (created if missing;\n"
      << "                      default: a new directory under $TMPDIR or /tmp, kept)\n"
      << "  --self-check        check that mlflowpp and LibTorch share one C++ ABI and one\n"
      << "                      protobuf runtime, then exit (no server needed)\n"
      << "  --help              show this help\n";
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
    a.experiment = "digits-libtorch";
  }
  for (int i = 1; i < argc; ++i) {
    std::string opt = argv[i];
    if (opt == "--help" || opt == "-h") return std::nullopt;
    if (opt == "--self-check") {
      a.self_check = true;
      continue;
    }
    std::optional<std::string> inline_value;
    if (const auto eq = opt.find('='); opt.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = opt.substr(eq + 1);
      opt.resize(eq);
    }
    static const std::set<std::string> kWithValue = {
        "--epochs", "--lr",         "--momentum", "--hidden",     "--batch-size", "--seed",
        "--data",   "--experiment", "--run-name", "--model-name", "--out-dir"};
    if (kWithValue.count(opt) == 0) throw UsageError{"unknown option '" + opt + "'"};
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
      if (!v || !(*v > 0.0) || *v > 1e6)
        throw UsageError{"--lr expects a positive number, got '" + value + "'"};
      a.lr = *v;
    } else if (opt == "--momentum") {
      const auto v = parse_double(value);
      if (!v || !(*v >= 0.0 && *v < 1.0))
        throw UsageError{"--momentum expects a number in [0, 1), got '" + value + "'"};
      a.momentum = *v;
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
    } else if (opt == "--model-name") {
      // The registry's rules (checked again by mlflowpp): caught here, before training.
      if (value.empty() || value.size() > 256 || value.find_first_of("/:") != std::string::npos)
        throw UsageError{"--model-name needs 1..256 characters without '/' or ':', got '" + value + "'"};
      a.model_name = value;
    } else if (opt == "--out-dir") {
      if (value.empty()) throw UsageError{"--out-dir needs a non-empty path"};
      a.out_dir = value;
    }
  }
  return a;
}

/// Shortest "%.*g" text that reads back as exactly `v` (0.1 → "0.1").
std::string format_double(double v) {
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string format_fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string make_out_dir(const std::string& requested) {
  if (!requested.empty()) {
    std::filesystem::create_directories(requested);
    return requested;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/libtorch_train.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("cannot create a directory like " + tmpl + ": " + std::strerror(errno));
  return tmpl;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write '" + path + "'");
}

/// ArtifactOptions::progress: one line per uploaded file on stdout, and a live percentage
/// on stderr when it is a terminal.
class UploadProgress {
 public:
  void operator()(const mlflowpp::TransferProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.artifact_path != path_ || p.bytes_done < last_) start_ = now;  // new file, or a retry
    path_ = p.artifact_path;
    last_ = p.bytes_done;
    const bool done = p.bytes_total >= 0 && p.bytes_done == p.bytes_total;
    if (tty_ && !done && p.bytes_total > 0) {
      std::fprintf(stderr, "\r  uploading %s %3.0f%%", p.artifact_path.c_str(),
                   100.0 * static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total));
      std::fflush(stderr);
    }
    if (done && reported_.insert(p.artifact_path).second) {
      if (tty_) std::fprintf(stderr, "\r%60s\r", "");
      const double s = std::chrono::duration<double>(now - start_).count();
      std::cout << "uploaded " << p.artifact_path << " (" << p.bytes_total << " bytes, " << format_fixed(s, 2)
                << " s)" << std::endl;
    }
  }

 private:
  bool tty_ = isatty(2) != 0;
  std::string path_;
  int64_t last_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::set<std::string> reported_;
};

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int run(const Args& args) {
  using clock = std::chrono::steady_clock;

  // Everything that can fail without a server comes first, so that a bad path or a
  // missing MLFLOW_TRACKING_URI does not leave a FAILED run behind.
  const digits::Dataset data = digits::load_digits(args.data);
  const digits::Split split = digits::train_test_split(data, 0.2, args.seed);
  const torch_mlp::TensorData train = torch_mlp::to_tensors(split.train);
  const torch_mlp::TensorData test = torch_mlp::to_tensors(split.test);
  const std::size_t batch = static_cast<std::size_t>(args.batch_size);
  const std::size_t steps_per_epoch = (split.train.size() + batch - 1) / batch;
  std::cout << "data: " << data.size() << " samples from " << args.data << " (train " << split.train.size()
            << ", test " << split.test.size() << "), " << steps_per_epoch << " steps per epoch" << std::endl;

  auto client = mlflowpp::Client::from_env();
  const std::string out_dir = make_out_dir(args.out_dir);
  const std::string model_file = out_dir + "/model.pt";
  const std::string mlmodel_file = out_dir + "/MLmodel";

  mlflowpp::StartRunOptions so;
  so.experiment_name = args.experiment;
  so.run_name = args.run_name;
  auto run = client.start_run(so);
  std::cout << "tracking: " << client.tracking_uri() << ", experiment '" << args.experiment << "' (id "
            << run.experiment_id() << "), run " << run.run_id() << std::endl;

  const std::vector<std::pair<std::string, std::string>> hyper = {
      {"lr", format_double(args.lr)},
      {"momentum", format_double(args.momentum)},
      {"hidden", std::to_string(args.hidden)},
      {"batch_size", std::to_string(args.batch_size)},
      {"epochs", std::to_string(args.epochs)},
      {"seed", std::to_string(args.seed)},
      {"optimizer", "sgd-momentum"}};
  std::map<std::string, std::string> params(hyper.begin(), hyper.end());
  params["train_size"] = std::to_string(split.train.size());
  params["test_size"] = std::to_string(split.test.size());
  run.log_params(params);
  run.set_tags({{"model", "mlp"},
                {"dataset", "uci-digits"},
                {"framework", "libtorch"},
                {"torch_version", TORCH_VERSION},
                {"model_format", "torchscript"}});

  // ---- training
  torch::manual_seed(args.seed);
  torch::jit::Module model = torch_mlp::make_mlp(args.hidden);
  auto optimizer = torch_mlp::make_sgd(model, args.lr, args.momentum);
  torch_mlp::TrainConfig tc;
  tc.batch_size = args.batch_size;
  int64_t step = 0;  // global mini-batch counter: train_loss is logged at steps 1..total
  torch_mlp::Eval test_eval;
  const auto t0 = clock::now();
  for (int epoch = 1; epoch <= args.epochs; ++epoch) {
    const double mean_loss = torch_mlp::train_epoch(model, *optimizer, train, tc, [&](double loss) {
      ++step;
      run.log_metric("train_loss", loss, step);
    });
    const torch_mlp::Eval train_eval = torch_mlp::evaluate(model, train);
    test_eval = torch_mlp::evaluate(model, test);
    run.log_metrics({{"train_accuracy", train_eval.accuracy},
                     {"test_accuracy", test_eval.accuracy},
                     {"test_loss", test_eval.loss}},
                    epoch);
    std::cout << "epoch " << epoch << "/" << args.epochs << "  loss=" << format_fixed(mean_loss, 4)
              << "  train_acc=" << format_fixed(train_eval.accuracy, 4)
              << "  test_acc=" << format_fixed(test_eval.accuracy, 4) << std::endl;
  }
  const double train_s = std::chrono::duration<double>(clock::now() - t0).count();
  std::cout << "trained " << step << " steps in " << format_fixed(train_s, 2) << " s ("
            << torch::get_num_threads() << " intra-op threads)" << std::endl;
  std::cout << "final test_accuracy=" << format_fixed(test_eval.accuracy, 4) << std::endl;
  run.log_metric("train_seconds", train_s);

  // ---- TorchScript checkpoint, checked by loading it back
  const torch_mlp::SaveCheck saved = torch_mlp::save_and_verify(model, model_file, test);
  if (!saved.identical) {
    throw std::runtime_error("torch::jit::load(" + model_file +
                             ") gives different outputs on the test set (max |diff| " +
                             format_double(saved.max_abs_diff) + ")");
  }
  std::cout << "torchscript: saved " << model_file << " (" << saved.file_bytes
            << " bytes); torch::jit::load gives identical logits on the " << test.size() << " test samples"
            << std::endl;
  run.set_tag("torchscript_reload_check", "identical");

  // ---- MLflow 3 logged model: create (PENDING), record it as the run's output, write
  // MLmodel with its id, upload the files to its artifact location, finalize.
  std::vector<mlflowpp::LoggedModelParam> model_params;
  for (const auto& [k, v] : hyper) model_params.push_back({k, v});
  mlflowpp::CreateLoggedModelOptions model_options;
  model_options.name = kLoggedModelName;
  model_options.source_run_id = run.run_id();
  model_options.tags = {{"framework", "libtorch"}};
  model_options.params = std::move(model_params);
  model_options.model_type = kModelType;
  const mlflowpp::LoggedModel logged = client.create_logged_model(run.experiment_id(), model_options);
  const std::string& model_id = logged.info.model_id;
  std::cout << "logged model: " << model_id << " '" << logged.info.name << "' (" << kModelType << ") at "
            << logged.info.artifact_uri << std::endl;
  client.log_outputs(run.run_id(), {{model_id, step}});

  // As MLflow 3 writes it for a logged model: artifact_path is the model's artifact
  // location and model_uuid its id.
  mlmodel::TorchScriptModelInfo mi;
  mi.artifact_path = logged.info.artifact_uri;
  mi.model_data = "model.pt";
  mi.pytorch_version = TORCH_VERSION;
  mi.mlflow_version = kMlflowVersion;
  mi.model_id = model_id;
  mi.model_uuid = model_id;
  mi.run_id = run.run_id();
  mi.model_size_bytes = saved.file_bytes;
  mi.input_features = digits::kFeatures;
  mi.output_classes = digits::kClasses;
  write_file(mlmodel_file, mlmodel::to_yaml(mi));

  mlflowpp::ArtifactOptions ao = mlflowpp::ArtifactOptions::from_env();
  ao.progress = UploadProgress();
  try {
    client.log_model_artifact(model_id, model_file, "", ao);
    client.log_model_artifact(model_id, mlmodel_file, "", ao);
  } catch (...) {
    try {
      client.finalize_logged_model(model_id, mlflowpp::LoggedModelStatus::kUploadFailed);
    } catch (const std::exception& e) {
      std::cerr << "warning: could not mark logged model " << model_id << " UPLOAD_FAILED: " << e.what()
                << std::endl;
    }
    throw;
  }
  client.finalize_logged_model(model_id, mlflowpp::LoggedModelStatus::kReady);
  // The model's final metrics, linked to it (Metric::model_id) synchronously, so that an
  // error reaches us (see client.hpp, logged models).
  std::vector<mlflowpp::Metric> model_metrics;
  for (const auto& [key, value] : {std::pair<const char*, double>{"final_test_accuracy", test_eval.accuracy},
                                   std::pair<const char*, double>{"final_test_loss", test_eval.loss}}) {
    mlflowpp::Metric m;
    m.key = key;
    m.value = value;
    m.timestamp = now_ms();
    m.step = step;
    m.model_id = model_id;
    model_metrics.push_back(m);
  }
  client.log_batch(run.run_id(), model_metrics);

  // ---- registry: a version of the logged model, alias champion
  mlflowpp::RegisterModelOptions ro;
  ro.tags = {{"model_format", "torchscript"}};
  ro.description = "TorchScript MLP on the UCI digits (libtorch_train); load model.pt with torch.jit.load";
  const mlflowpp::ModelVersion mv = client.register_model("models:/" + model_id, args.model_name, ro);
  client.set_registered_model_alias(args.model_name, kAlias, mv.version);
  std::cout << "registered: " << mv.name << " version " << mv.version << " (source " << mv.source
            << "), alias " << kAlias << std::endl;

  const mlflowpp::EndRunResult res = run.end();
  if (res.flush.rejected != 0 || res.flush.dropped != 0) {
    std::cerr << "warning: " << res.flush.rejected << " logged item(s) rejected and " << res.flush.dropped
              << " dropped" << std::endl;
  }
  if (!res.flush.complete) {
    std::cerr << "error: logged data not fully delivered: " << res.flush.pending
              << " item(s) still pending at the end of run " << run.run_id() << std::endl;
    return 1;
  }
  if (!res.status_set) {
    std::cerr << "error: could not mark run " << run.run_id()
              << " finished: " << (res.error.empty() ? "unknown error" : res.error) << std::endl;
    return 1;
  }
  const mlflowpp::LoggerStats st = client.async_logger().stats();
  std::cout << "mlflow: " << st.delivered << " logged items delivered in " << st.requests
            << " request(s) (log-batch and the run's end), " << st.retries << " retried; files in " << out_dir
            << std::endl;
  std::cout << "run_id=" << run.run_id() << std::endl;
  std::cout << "model_uri=models:/" << args.model_name << "@" << kAlias << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* prog = argc > 0 && argv[0] ? argv[0] : "libtorch_train";
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
    if (args->self_check) return self_check::run(std::cout);
    return run(*args);
  } catch (const mlflowpp::Error& e) {
    std::cerr << "error: " << e.what() << std::endl;
  } catch (const c10::Error& e) {
    std::cerr << "error (LibTorch): " << e.what_without_backtrace() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
  }
  return 1;
}
