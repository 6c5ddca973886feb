// The read-back counter (engine/sync_counter.h) and the training step it guards: a forward (conv, batch norm
// with its running statistics and counter, ReLU, pooling, linear), the fused AAM-softmax loss, the backward
// and the fused optimiser step read nothing back to the host — on a GPU, no device-to-host sync — until the
// loss value is asked for. Before issue 17's fixes this step made one read per BatchNorm layer (its
// num_batches_tracked) and one for the labels' validation in the loss.
#include <cmath>

#include "engine/layers.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "engine/sync_counter.h"
#include "support/check.h"

using namespace spk;

TEST_CASE("sync counter: every read of tensor values to the host is counted, on any device") {
  Tensor t = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::f32);
  const uint64_t before = sync_counter::host_reads();
  (void)t.to_double();
  (void)sum(t).item();
  (void)t.to_vector<float>();
  (void)t.to(Device::cpu());
  CHECK(sync_counter::host_reads() - before == 4);
  // Not reads on any device: a copy within one device (concat does so), and a tensor made from host values (on
  // a GPU an upload).
  Tensor same = Tensor::empty({3}, DType::f32);
  same.copy_(t);
  (void)concat({t, t}, 0);
  (void)Tensor::from_vector(std::vector<int64_t>{1, 2}, {2});
  CHECK(sync_counter::host_reads() - before == 4);
  CHECK(sync_counter::device_reads() == 0);   // nothing ran on a GPU
}

namespace {

struct TinyNet : Module {
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Conv2d> conv2;
  std::shared_ptr<Linear> fc;
  explicit TinyNet(Rng& rng) {
    conv = register_module("conv", std::make_shared<Conv2d>(1, 4, std::pair<int64_t, int64_t>{3, 3}, rng,
                                                            Conv2dOptions{.padding = {1, 1}}));
    bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(4));
    conv2 = register_module("conv2", std::make_shared<Conv2d>(4, 4, std::pair<int64_t, int64_t>{3, 3}, rng,
                                                             Conv2dOptions{.padding = {1, 1}}));
    bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(4));
    fc = register_module("fc", std::make_shared<Linear>(4, 8, rng));
  }
  Tensor forward(const Tensor& x) {
    Tensor h = relu(bn1->forward(conv->forward(x)));
    h = bn2->forward_relu(conv2->forward(h));
    return fc->forward(mean(h, {2, 3}));
  }
};

}  // namespace

TEST_CASE("sync counter: a training step reads nothing back until the loss is logged") {
  Rng rng(3);
  TinyNet net(rng);
  net.train();
  Tensor w = test::rand_input({5, 8}, rng).detach().to(DType::f32).set_requires_grad();
  net.to(DType::f32);
  NamedTensors params = net.named_parameters();
  params.emplace_back("loss.weight", w);
  Adam opt(params, 1e-3);
  const Tensor labels = Tensor::from_vector(std::vector<double>{0, 1, 4, 2, 3, 1}, {6}, DType::i64);
  for (int step = 0; step < 3; ++step) {
    const Tensor x = test::rand_input({6, 1, 5, 7}, rng).detach().to(DType::f32);
    const uint64_t before = sync_counter::host_reads();
    FusedLossOutput out = margin_softmax_ce(net.forward(x), w, labels, MarginSoftmaxOptions{});
    out.loss.backward();
    opt.step();
    opt.zero_grad();
    CHECK_MESSAGE(sync_counter::host_reads() == before, "step ", step, " read ",
                  sync_counter::host_reads() - before, " tensor(s) back to the host");
    CHECK(std::isfinite(out.loss.item()));   // the one read, per --log_interval in the trainer
    CHECK(sync_counter::host_reads() == before + 1);
  }
  CHECK(net.bn1->num_batches_tracked.to_vector<int64_t>()[0] == 3);
  CHECK(net.bn2->num_batches_tracked.to_vector<int64_t>()[0] == 3);
}
