#include "mlmodel.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <sstream>

namespace mlmodel {

namespace {

/// A YAML single-quoted scalar ('' stands for one quote; no other escapes exist).
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

/// MLflow's TensorSpec as JSON (mlflow.types.schema.TensorSpec.to_dict, as json.dumps writes it).
std::string tensor_spec_json(int64_t width) {
  return "[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [-1, " +
         std::to_string(width) + "]}}]";
}

}  // namespace

std::string to_yaml(const TorchScriptModelInfo& info) {
  std::ostringstream y;
  y << "# A TorchScript archive written by LibTorch (torch::jit::Module::save) in mlflowpp's\n"
    << "# libtorch_train example. Not a pickled model and not a pyfunc: load it with\n"
    << "# torch.jit.load('<this directory>/" << info.model_data << "') (Python) or\n"
    << "# torch::jit::load (C++). The input is float32 [n, " << info.input_features
    << "] (8x8 pixels in [0, 1]),\n"
    << "# the output float32 [n, " << info.output_classes << "] logits.\n";
  y << "artifact_path: " << quoted(info.artifact_path) << "\n";
  y << "flavors:\n"
    << "  torchscript:\n"
    << "    model_data: " << quoted(info.model_data) << "\n"
    << "    pytorch_version: " << quoted(info.pytorch_version) << "\n"
    << "    loader: torch.jit.load\n";
  y << "mlflow_version: " << quoted(info.mlflow_version) << "\n";
  if (!info.model_id.empty()) y << "model_id: " << quoted(info.model_id) << "\n";
  if (info.model_size_bytes >= 0) y << "model_size_bytes: " << info.model_size_bytes << "\n";
  y << "model_uuid: " << quoted(info.model_uuid.empty() ? new_uuid_hex() : info.model_uuid) << "\n";
  y << "run_id: " << quoted(info.run_id) << "\n";
  y << "signature:\n"
    << "  inputs: " << quoted(tensor_spec_json(info.input_features)) << "\n"
    << "  outputs: " << quoted(tensor_spec_json(info.output_classes)) << "\n"
    << "  params: null\n";
  y << "utc_time_created: " << quoted(info.utc_time_created.empty() ? utc_now() : info.utc_time_created)
    << "\n";
  return y.str();
}

std::string new_uuid_hex() {
  std::random_device rd;
  unsigned char b[16];
  for (int i = 0; i < 16; i += 4) {
    const uint32_t r = rd();
    for (int k = 0; k < 4; ++k) b[i + k] = static_cast<unsigned char>(r >> (8 * k));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  char out[33];
  for (int i = 0; i < 16; ++i) std::snprintf(out + 2 * i, 3, "%02x", b[i]);
  return std::string(out, 32);
}

std::string utc_now() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t secs = system_clock::to_time_t(now);
  const auto micros = duration_cast<microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06lld", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros));
  return buf;
}

}  // namespace mlmodel
