#pragma once
/// @file torch_mlp.hpp
/// The LibTorch side of the libtorch_train example: a 64 → hidden (ReLU) → 10 perceptron
/// built directly as a TorchScript module, so that what is trained is what is saved.
///
/// The C++ API cannot trace or script a torch::nn::Module, and torch::save of one writes
/// only its tensors (an archive without code: nothing for Python to call). Instead the model is a
/// torch::jit::Module: its weights are registered with register_parameter, its `forward`
/// is TorchScript source compiled with define(), and torch::optim trains the parameter
/// tensors in place. Module::save then writes an ordinary TorchScript archive, the same
/// format as Python's `torch.jit.save`, loadable with `torch.jit.load` in Python or
/// `torch::jit::load` in C++. No mlflowpp here.

#include <torch/optim/optimizer.h>
#include <torch/script.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "digits.hpp"

namespace torch_mlp {

/// A data set as tensors: `x` float32 [n, 64] in [0, 1], `y` int64 [n] labels 0..9.
struct TensorData {
  torch::Tensor x;
  torch::Tensor y;
  int64_t size() const { return y.size(0); }
};

/// Copies a digits::Dataset into tensors.
TensorData to_tensors(const digits::Dataset& data);

/// The TorchScript source of the model's `forward`: logits (float32 [n, 10]) of a batch
/// of float32 [n, 64] inputs.
extern const char* const kForwardSource;

/// A TorchScript module `__torch__.DigitsMLP` with parameters w1 [hidden, 64], b1 [hidden],
/// w2 [10, hidden], b2 [10] and `forward` = kForwardSource. Weights: He-normal for the
/// hidden layer, Xavier-normal for the output layer (from the global torch generator,
/// seed it with torch::manual_seed); biases start at zero.
torch::jit::Module make_mlp(int hidden);

/// torch::optim::SGD with (heavy-ball) momentum over the module's parameters.
std::unique_ptr<torch::optim::Optimizer> make_sgd(torch::jit::Module& model, double lr, double momentum);

/// Hyper-parameters of train_epoch.
struct TrainConfig {
  int64_t batch_size = 32;
};

/// One epoch of mini-batch training: a random permutation of `train` (global torch
/// generator), then for each batch forward, cross-entropy, backward and `optimizer.step()`.
/// `on_step(loss)` is called after every step with the batch's mean loss (before the
/// update). Returns the mean of the batch losses.
double train_epoch(torch::jit::Module& model, torch::optim::Optimizer& optimizer, const TensorData& train,
                   const TrainConfig& config, const std::function<void(double)>& on_step);

/// Logits of the whole set (eval mode, no gradients).
torch::Tensor logits(torch::jit::Module& model, const torch::Tensor& x);
/// Fraction of correctly classified samples and mean cross-entropy loss.
struct Eval {
  double accuracy = 0.0;
  double loss = 0.0;
};
Eval evaluate(torch::jit::Module& model, const TensorData& data);

/// What save_and_verify found.
struct SaveCheck {
  int64_t file_bytes = 0;
  bool identical = false;     ///< torch::equal on the logits of every sample
  double max_abs_diff = 0.0;  ///< largest |difference| of a logit (0 when identical)
};
/// Saves `model` to `path` (Module::save) and loads it back with torch::jit::load, then
/// compares the logits both give on `check.x` (bit for bit).
SaveCheck save_and_verify(torch::jit::Module& model, const std::string& path, const TensorData& check);

}  // namespace torch_mlp
