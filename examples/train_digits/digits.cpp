#include "digits.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

namespace digits {

// ---- data ----------------------------------------------------------------------------

void Dataset::push_back_from(const Dataset& other, std::size_t i) {
  const float* r = other.row(i);
  x.insert(x.end(), r, r + kFeatures);
  y.push_back(other.y[i]);
}

namespace {

[[noreturn]] void malformed(const std::string& path, std::size_t line_no, const std::string& what) {
  std::ostringstream msg;
  msg << path << ":" << line_no << ": malformed digits row: " << what;
  throw std::runtime_error(msg.str());
}

bool is_blank(const std::string& s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

Dataset load_digits(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open digits data file '" + path + "'");

  Dataset data;
  std::string line;
  std::size_t line_no = 0;
  int values[kFeatures + 1];
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (is_blank(line)) continue;

    const char* p = line.c_str();
    int count = 0;
    while (true) {
      if (count == kFeatures + 1) {
        malformed(path, line_no, "more than " + std::to_string(kFeatures + 1) + " fields");
      }
      // std::strtol skips leading whitespace itself; reject empty fields explicitly.
      const char* field = p;
      while (*field == ' ' || *field == '\t') ++field;
      if (*field == ',' || *field == '\0') {
        malformed(path, line_no, "empty field " + std::to_string(count + 1));
      }
      char* end = nullptr;
      errno = 0;
      const long v = std::strtol(field, &end, 10);
      if (end == field || errno == ERANGE || v < std::numeric_limits<int>::min() ||
          v > std::numeric_limits<int>::max()) {
        malformed(path, line_no, "field " + std::to_string(count + 1) + " is not an integer");
      }
      while (*end == ' ' || *end == '\t') ++end;
      if (*end != ',' && *end != '\0') {
        malformed(path, line_no, "field " + std::to_string(count + 1) + " is not an integer");
      }
      values[count++] = static_cast<int>(v);
      if (*end == '\0') break;
      p = end + 1;
    }
    if (count != kFeatures + 1) {
      malformed(path, line_no,
                "expected " + std::to_string(kFeatures + 1) + " fields, got " + std::to_string(count));
    }
    for (int j = 0; j < kFeatures; ++j) {
      if (values[j] < 0 || values[j] > 16) {
        malformed(path, line_no,
                  "pixel " + std::to_string(j + 1) + " = " + std::to_string(values[j]) + " is outside 0..16");
      }
    }
    const int label = values[kFeatures];
    if (label < 0 || label >= kClasses) {
      malformed(path, line_no, "label " + std::to_string(label) + " is outside 0..9");
    }
    for (int j = 0; j < kFeatures; ++j) data.x.push_back(static_cast<float>(values[j]) / 16.0f);
    data.y.push_back(label);
  }
  if (in.bad()) {
    throw std::runtime_error("error reading digits data file '" + path + "' after line " +
                             std::to_string(line_no));
  }
  if (data.size() == 0) throw std::runtime_error("no samples in digits data file '" + path + "'");
  return data;
}

Split train_test_split(const Dataset& data, double test_fraction, uint32_t seed) {
  if (!(test_fraction > 0.0 && test_fraction < 1.0)) {
    throw std::invalid_argument("train_test_split: test_fraction must be in (0, 1)");
  }
  const std::size_t n = data.size();
  const auto n_test = static_cast<std::size_t>(std::llround(static_cast<double>(n) * test_fraction));
  if (n_test == 0 || n_test >= n) {
    throw std::invalid_argument("train_test_split: " + std::to_string(n) +
                                " samples are too few for a non-empty train and test set");
  }
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  std::mt19937 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);

  Split s;
  s.test.x.reserve(n_test * kFeatures);
  s.test.y.reserve(n_test);
  s.train.x.reserve((n - n_test) * kFeatures);
  s.train.y.reserve(n - n_test);
  for (std::size_t k = 0; k < n; ++k) {
    (k < n_test ? s.test : s.train).push_back_from(data, idx[k]);
  }
  return s;
}

// ---- model ---------------------------------------------------------------------------

namespace {

/// Softmax of `logits` into `prob` (numerically stable); returns log(sum(exp(logits - max)))
/// + max, i.e. log-sum-exp, so that the cross-entropy of class c is lse - logits[c].
float softmax(const float* logits, float* prob) {
  float mx = logits[0];
  for (int k = 1; k < kClasses; ++k) mx = std::max(mx, logits[k]);
  float sum = 0.0f;
  for (int k = 0; k < kClasses; ++k) {
    prob[k] = std::exp(logits[k] - mx);
    sum += prob[k];
  }
  for (int k = 0; k < kClasses; ++k) prob[k] /= sum;
  return mx + std::log(sum);
}

}  // namespace

Mlp::Mlp(int hidden, uint32_t seed, float momentum) : hidden_(hidden), momentum_(momentum) {
  if (hidden <= 0) throw std::invalid_argument("Mlp: hidden must be > 0");
  if (!(momentum >= 0.0f && momentum < 1.0f)) {
    throw std::invalid_argument("Mlp: momentum must be in [0, 1)");
  }
  const auto h = static_cast<std::size_t>(hidden);
  w1_.resize(h * kFeatures);
  b1_.assign(h, 0.0f);
  w2_.resize(static_cast<std::size_t>(kClasses) * h);
  b2_.assign(kClasses, 0.0f);

  std::mt19937 rng(seed);
  // He (Kaiming) normal for the ReLU layer: std = sqrt(2 / fan_in).
  std::normal_distribution<float> he(0.0f, std::sqrt(2.0f / static_cast<float>(kFeatures)));
  for (float& w : w1_) w = he(rng);
  // Xavier (Glorot) normal for the softmax layer: std = sqrt(2 / (fan_in + fan_out)).
  std::normal_distribution<float> xavier(0.0f, std::sqrt(2.0f / static_cast<float>(hidden + kClasses)));
  for (float& w : w2_) w = xavier(rng);

  v_w1_.assign(w1_.size(), 0.0f);
  v_b1_.assign(b1_.size(), 0.0f);
  v_w2_.assign(w2_.size(), 0.0f);
  v_b2_.assign(b2_.size(), 0.0f);
  g_w1_.resize(w1_.size());
  g_b1_.resize(b1_.size());
  g_w2_.resize(w2_.size());
  g_b2_.resize(b2_.size());
}

void Mlp::forward(const float* x, float* h, float* logits) const {
  for (int j = 0; j < hidden_; ++j) {
    const float* w = w1_.data() + static_cast<std::size_t>(j) * kFeatures;
    float a = b1_[j];
    for (int i = 0; i < kFeatures; ++i) a += w[i] * x[i];
    h[j] = a > 0.0f ? a : 0.0f;
  }
  for (int k = 0; k < kClasses; ++k) {
    const float* w = w2_.data() + static_cast<std::size_t>(k) * hidden_;
    float a = b2_[k];
    for (int j = 0; j < hidden_; ++j) a += w[j] * h[j];
    logits[k] = a;
  }
}

float Mlp::train_step(const float* x, const int* y, std::size_t n, float lr) {
  if (n == 0) return 0.0f;
  std::fill(g_w1_.begin(), g_w1_.end(), 0.0f);
  std::fill(g_b1_.begin(), g_b1_.end(), 0.0f);
  std::fill(g_w2_.begin(), g_w2_.end(), 0.0f);
  std::fill(g_b2_.begin(), g_b2_.end(), 0.0f);

  std::vector<float> h(hidden_), dh(hidden_);
  float logits[kClasses], prob[kClasses];
  const float inv_n = 1.0f / static_cast<float>(n);
  double loss_sum = 0.0;

  for (std::size_t s = 0; s < n; ++s) {
    const float* xs = x + s * kFeatures;
    const int label = y[s];
    if (label < 0 || label >= kClasses) throw std::invalid_argument("Mlp::train_step: bad label");
    forward(xs, h.data(), logits);
    const float lse = softmax(logits, prob);
    loss_sum += static_cast<double>(lse - logits[label]);

    // dL/dlogits = (softmax - onehot) / n   (mean over the batch)
    float dlogit[kClasses];
    for (int k = 0; k < kClasses; ++k) dlogit[k] = (prob[k] - (k == label ? 1.0f : 0.0f)) * inv_n;

    std::fill(dh.begin(), dh.end(), 0.0f);
    for (int k = 0; k < kClasses; ++k) {
      const float d = dlogit[k];
      g_b2_[k] += d;
      float* gw = g_w2_.data() + static_cast<std::size_t>(k) * hidden_;
      const float* w = w2_.data() + static_cast<std::size_t>(k) * hidden_;
      for (int j = 0; j < hidden_; ++j) {
        gw[j] += d * h[j];
        dh[j] += d * w[j];
      }
    }
    for (int j = 0; j < hidden_; ++j) {
      if (h[j] <= 0.0f) continue;  // ReLU gradient is 0 where the unit is off
      const float d = dh[j];
      g_b1_[j] += d;
      float* gw = g_w1_.data() + static_cast<std::size_t>(j) * kFeatures;
      for (int i = 0; i < kFeatures; ++i) gw[i] += d * xs[i];
    }
  }

  auto update = [&](std::vector<float>& w, std::vector<float>& v, const std::vector<float>& g) {
    for (std::size_t i = 0; i < w.size(); ++i) {
      v[i] = momentum_ * v[i] + g[i];
      w[i] -= lr * v[i];
    }
  };
  update(w1_, v_w1_, g_w1_);
  update(b1_, v_b1_, g_b1_);
  update(w2_, v_w2_, g_w2_);
  update(b2_, v_b2_, g_b2_);

  return static_cast<float>(loss_sum / static_cast<double>(n));
}

float Mlp::train_step(const std::vector<float>& batch_x, const std::vector<int>& batch_y, float lr) {
  if (batch_x.size() != batch_y.size() * kFeatures) {
    throw std::invalid_argument("Mlp::train_step: batch_x must hold batch_y.size() × 64 values");
  }
  return train_step(batch_x.data(), batch_y.data(), batch_y.size(), lr);
}

int Mlp::predict(const float* x) const {
  std::vector<float> h(hidden_);
  float logits[kClasses];
  forward(x, h.data(), logits);
  return static_cast<int>(std::max_element(logits, logits + kClasses) - logits);
}

double Mlp::accuracy(const std::vector<float>& x, const std::vector<int>& y) const {
  if (x.size() != y.size() * kFeatures) {
    throw std::invalid_argument("Mlp::accuracy: x must hold y.size() × 64 values");
  }
  if (y.empty()) return 0.0;
  std::size_t correct = 0;
  for (std::size_t s = 0; s < y.size(); ++s) {
    if (predict(x.data() + s * kFeatures) == y[s]) ++correct;
  }
  return static_cast<double>(correct) / static_cast<double>(y.size());
}

double Mlp::loss(const std::vector<float>& x, const std::vector<int>& y) const {
  if (x.size() != y.size() * kFeatures) {
    throw std::invalid_argument("Mlp::loss: x must hold y.size() × 64 values");
  }
  if (y.empty()) return 0.0;
  std::vector<float> h(hidden_);
  float logits[kClasses], prob[kClasses];
  double sum = 0.0;
  for (std::size_t s = 0; s < y.size(); ++s) {
    forward(x.data() + s * kFeatures, h.data(), logits);
    sum += static_cast<double>(softmax(logits, prob) - logits[y[s]]);
  }
  return sum / static_cast<double>(y.size());
}

}  // namespace digits
