#pragma once
/// @file digits.hpp
/// The training logic of the train_digits example: loading the UCI digits CSV, a
/// deterministic train/test split and a small multi-layer perceptron trained with
/// mini-batch SGD with momentum. Plain C++17, no third-party code, no mlflowpp.
///
/// Determinism: all randomness comes from std::mt19937 seeded by the caller, so a given
/// seed gives the same split, the same initial weights and the same training run (with
/// one standard library and one compiler; std::normal_distribution is
/// implementation-defined across standard libraries).

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace digits {

inline constexpr int kFeatures = 64;  ///< 8×8 pixels
inline constexpr int kClasses = 10;   ///< labels 0..9

/// Row-major samples: `x` holds size() × kFeatures values in [0, 1], `y` the labels.
struct Dataset {
  std::vector<float> x;
  std::vector<int> y;

  std::size_t size() const noexcept { return y.size(); }
  /// Pointer to the kFeatures pixels of sample `i`.
  const float* row(std::size_t i) const noexcept { return x.data() + i * kFeatures; }
  /// Appends sample `i` of `other`.
  void push_back_from(const Dataset& other, std::size_t i);
};

/// Reads the digits CSV: no header, one sample per line, 64 integer pixels in 0..16
/// then the label in 0..9, comma-separated. Pixels are scaled to [0, 1] by /16. Lines
/// that are empty (or only whitespace) are skipped; a trailing '\r' is tolerated.
/// Throws std::runtime_error naming the path (and the line number for malformed
/// content) when the file cannot be read, a line is malformed or there are no samples.
Dataset load_digits(const std::string& path);

struct Split {
  Dataset train;
  Dataset test;
};

/// Shuffles the sample indices with std::mt19937(seed) and puts the first
/// round(size × test_fraction) of them in `test`, the rest in `train`.
/// Throws std::invalid_argument unless 0 < test_fraction < 1 and both parts are non-empty.
Split train_test_split(const Dataset& data, double test_fraction = 0.2, uint32_t seed = 42);

/// 64 → hidden (ReLU) → 10 (softmax) perceptron, cross-entropy loss, trained with
/// mini-batch SGD with (heavy-ball) momentum: v = momentum·v + grad; w -= lr·v.
/// Weights: He-normal for the hidden layer, Xavier (Glorot) normal for the output
/// layer, drawn from std::mt19937(seed); biases start at zero.
class Mlp {
 public:
  explicit Mlp(int hidden = 64, uint32_t seed = 42, float momentum = 0.9f);

  int hidden() const noexcept { return hidden_; }
  float momentum() const noexcept { return momentum_; }

  /// One SGD step on a batch of `n` samples (`x`: n × kFeatures, `y`: n labels).
  /// Returns the batch's mean cross-entropy loss before the update.
  float train_step(const float* x, const int* y, std::size_t n, float lr);
  /// Same, with the batch size taken from `batch_y.size()`.
  float train_step(const std::vector<float>& batch_x, const std::vector<int>& batch_y, float lr);

  /// The predicted class of one sample (kFeatures values).
  int predict(const float* x) const;
  /// Fraction of samples whose predicted class equals the label (0 for no samples).
  double accuracy(const std::vector<float>& x, const std::vector<int>& y) const;
  double accuracy(const Dataset& data) const { return accuracy(data.x, data.y); }
  /// Mean cross-entropy loss over the samples (0 for no samples).
  double loss(const std::vector<float>& x, const std::vector<int>& y) const;
  double loss(const Dataset& data) const { return loss(data.x, data.y); }

 private:
  /// Forward pass of one sample: fills `h` (hidden activations, after ReLU) and
  /// `logits`.
  void forward(const float* x, float* h, float* logits) const;

  int hidden_;
  float momentum_;
  std::vector<float> w1_, b1_, w2_, b2_;          // w1_: hidden × 64, w2_: 10 × hidden (row-major)
  std::vector<float> v_w1_, v_b1_, v_w2_, v_b2_;  // momentum buffers
  std::vector<float> g_w1_, g_b1_, g_w2_, g_b2_;  // gradient scratch
};

/// Runs one epoch: shuffles the order of `train` with `rng`, then calls train_step on
/// consecutive batches of `batch_size` (the last one may be smaller). `on_step(loss)` is
/// called after every step. Returns the mean of the batch losses.
template <typename OnStep>
double train_epoch(Mlp& model, const Dataset& train, std::size_t batch_size, float lr, std::mt19937& rng,
                   OnStep&& on_step);

}  // namespace digits

// ---- template implementation ---------------------------------------------------------

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace digits {

template <typename OnStep>
double train_epoch(Mlp& model, const Dataset& train, std::size_t batch_size, float lr, std::mt19937& rng,
                   OnStep&& on_step) {
  if (batch_size == 0) throw std::invalid_argument("train_epoch: batch_size must be > 0");
  const std::size_t n = train.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::shuffle(order.begin(), order.end(), rng);

  std::vector<float> bx;
  std::vector<int> by;
  bx.reserve(batch_size * kFeatures);
  by.reserve(batch_size);
  double loss_sum = 0.0;
  std::size_t steps = 0;
  for (std::size_t start = 0; start < n; start += batch_size) {
    const std::size_t end = std::min(n, start + batch_size);
    bx.clear();
    by.clear();
    for (std::size_t k = start; k < end; ++k) {
      const float* r = train.row(order[k]);
      bx.insert(bx.end(), r, r + kFeatures);
      by.push_back(train.y[order[k]]);
    }
    const float loss = model.train_step(bx, by, lr);
    loss_sum += loss;
    ++steps;
    on_step(loss);
  }
  return steps ? loss_sum / static_cast<double>(steps) : 0.0;
}

}  // namespace digits
