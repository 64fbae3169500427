#include "torch_mlp.hpp"

#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace torch_mlp {

TensorData to_tensors(const digits::Dataset& data) {
  const auto n = static_cast<int64_t>(data.size());
  TensorData t;
  t.x = torch::empty({n, digits::kFeatures}, torch::kFloat32);
  std::memcpy(t.x.data_ptr<float>(), data.x.data(), data.x.size() * sizeof(float));
  t.y = torch::empty({n}, torch::kInt64);
  auto* y = t.y.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) y[i] = data.y[static_cast<std::size_t>(i)];
  return t;
}

// Only builtins (torch.linear = aten::linear, torch.relu): the C++ compiler of define()
// has no Python resolver, so torch.nn.functional is not available here.
const char* const kForwardSource = R"JIT(
def forward(self, x: Tensor) -> Tensor:
    h = torch.relu(torch.linear(x, self.w1, self.b1))
    return torch.linear(h, self.w2, self.b2)
)JIT";

torch::jit::Module make_mlp(int hidden) {
  if (hidden <= 0) throw std::invalid_argument("make_mlp: hidden must be > 0");
  const int64_t h = hidden;
  torch::jit::Module m("DigitsMLP");  // saved as __torch__.DigitsMLP
  torch::NoGradGuard no_grad;
  // He (Kaiming) normal for the ReLU layer, Xavier (Glorot) normal for the logits layer.
  auto w1 = torch::randn({h, digits::kFeatures}) * std::sqrt(2.0 / digits::kFeatures);
  auto w2 = torch::randn({digits::kClasses, h}) * std::sqrt(2.0 / static_cast<double>(h + digits::kClasses));
  m.register_parameter("w1", w1.set_requires_grad(true), /*is_buffer=*/false);
  m.register_parameter("b1", torch::zeros({h}).set_requires_grad(true), false);
  m.register_parameter("w2", w2.set_requires_grad(true), false);
  m.register_parameter("b2", torch::zeros({digits::kClasses}).set_requires_grad(true), false);
  m.define(kForwardSource);
  return m;
}

std::unique_ptr<torch::optim::Optimizer> make_sgd(torch::jit::Module& model, double lr, double momentum) {
  std::vector<torch::Tensor> params;
  for (const auto& p : model.parameters()) params.push_back(p);
  return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(lr).momentum(momentum));
}

double train_epoch(torch::jit::Module& model, torch::optim::Optimizer& optimizer, const TensorData& train,
                   const TrainConfig& config, const std::function<void(double)>& on_step) {
  if (config.batch_size <= 0) throw std::invalid_argument("train_epoch: batch_size must be > 0");
  model.train(true);
  const int64_t n = train.size();
  const torch::Tensor order = torch::randperm(n, torch::kInt64);
  double loss_sum = 0.0;
  int64_t steps = 0;
  for (int64_t start = 0; start < n; start += config.batch_size) {
    const int64_t end = std::min(n, start + config.batch_size);
    const torch::Tensor idx = order.slice(0, start, end);
    const torch::Tensor bx = train.x.index_select(0, idx);
    const torch::Tensor by = train.y.index_select(0, idx);
    optimizer.zero_grad();
    const torch::Tensor out = model.forward({bx}).toTensor();
    torch::Tensor loss = torch::nn::functional::cross_entropy(out, by);
    loss.backward();
    optimizer.step();
    const double l = loss.item<double>();
    loss_sum += l;
    ++steps;
    if (on_step) on_step(l);
  }
  return steps ? loss_sum / static_cast<double>(steps) : 0.0;
}

torch::Tensor logits(torch::jit::Module& model, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  model.eval();
  return model.forward({x}).toTensor();
}

Eval evaluate(torch::jit::Module& model, const TensorData& data) {
  const torch::Tensor out = logits(model, data.x);
  Eval e;
  e.accuracy = out.argmax(1).eq(data.y).to(torch::kFloat64).mean().item<double>();
  e.loss = torch::nn::functional::cross_entropy(out, data.y).item<double>();
  return e;
}

SaveCheck save_and_verify(torch::jit::Module& model, const std::string& path, const TensorData& check) {
  model.eval();
  model.save(path);
  SaveCheck c;
  {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw std::runtime_error("cannot read back the saved model '" + path + "'");
    c.file_bytes = static_cast<int64_t>(in.tellg());
  }
  torch::jit::Module loaded = torch::jit::load(path);
  const torch::Tensor a = logits(model, check.x);
  const torch::Tensor b = logits(loaded, check.x);
  c.identical = a.sizes() == b.sizes() && torch::equal(a, b);
  c.max_abs_diff = a.sizes() == b.sizes() ? (a - b).abs().max().item<double>() : INFINITY;
  return c;
}

}  // namespace torch_mlp
