#pragma once
/// @file mlmodel.hpp
/// Writes the `MLmodel` file (YAML, as MLflow's `mlflow.models.Model.to_yaml` lays it out)
/// that describes the TorchScript checkpoint of the libtorch_train example. No LibTorch,
/// no mlflowpp here.
///
/// Flavor: a custom `torchscript` flavor, not MLflow's `pytorch` flavor. The `pytorch`
/// flavor promises that `mlflow.pytorch.load_model` can load the model, and its loader
/// expects what `mlflow.pytorch.save_model` writes: a `data/` directory with a pickled
/// `model.pth` (torch.save), a pickle-module file, and (MLflow 3.18) a refusal to unpickle
/// by default — a TorchScript archive named there would be sent down the pickle path and
/// fail with a misleading error. MLflow's loaders ignore a flavor they do not know, while
/// `mlflow.models.Model.load` still reads the file, its signature and metadata. There is no
/// `python_function` flavor either: nothing here implements pyfunc, so
/// `mlflow.pyfunc.load_model` says so plainly. The file says what it is: load the model
/// with `torch.jit.load(<model dir>/model.pt)`.

#include <cstdint>
#include <string>

namespace mlmodel {

struct TorchScriptModelInfo {
  /// Where the files are: for an MLflow 3 logged model its artifact location (MLflow 3
  /// writes that), for files under a run's artifacts the path there (e.g. "model").
  std::string artifact_path = "model";
  std::string model_data = "model.pt";  ///< the TorchScript archive, relative to the MLmodel file
  std::string pytorch_version;          ///< LibTorch's version (TORCH_VERSION)
  std::string mlflow_version = "3.18.0";
  std::string model_id;  ///< the MLflow 3 logged model ("m-..."); omitted when empty
  std::string run_id;
  std::string model_uuid;         ///< 32 hex digits; generated when empty
  std::string utc_time_created;   ///< "YYYY-MM-DD HH:MM:SS.ffffff"; now when empty
  int64_t model_size_bytes = -1;  ///< omitted when negative
  int64_t input_features = 64;    ///< input: float32 [-1, input_features]
  int64_t output_classes = 10;    ///< output: float32 [-1, output_classes] (logits)
};

/// The YAML text of the MLmodel file.
std::string to_yaml(const TorchScriptModelInfo& info);

/// A random UUID (version 4) as 32 lowercase hex digits, as Python's uuid.uuid4().hex.
std::string new_uuid_hex();

/// The current UTC time as MLflow writes utc_time_created ("2025-01-31 12:34:56.123456").
std::string utc_now();

}  // namespace mlmodel
