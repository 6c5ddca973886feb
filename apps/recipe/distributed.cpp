// spk_train --distributed: see distributed.h.
#include "apps/recipe/distributed.h"

#include "engine/autograd.h"
#include "engine/device.h"

namespace spk::recipe {

std::shared_ptr<dist::Communicator> make_train_communicator(const RecipeConfig& cfg) {
  dist::LaunchEnv env;
  try {
    env = dist::launch_env();
  } catch (const Error& e) {
    // Without --distributed, launcher variables that do not parse (set for something else) are not ours to judge.
    if (cfg.distributed) throw UsageError(std::string("--distributed: ") + e.what());
  }
  if (!cfg.distributed) {
    if (cfg.sync_bn) throw UsageError("--sync_bn: only with --distributed (one process sees its whole batch anyway)");
    // Several processes without --distributed would each train alone into the same --save_path.
    if (env.world_size > 1)
      throw UsageError("started as rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                       " (" + env.source + ") without --distributed: every process would train alone into the same "
                       "--save_path; add --distributed, or start one process");
    return dist::make_single_communicator();
  }
  if (!(cfg.dist_timeout >= 0)) throw UsageError("--dist_timeout: " + std::to_string(cfg.dist_timeout) + " is negative");
  // Not yet sharded (docs/distributed.md): pyannote's chunk batches and --ssl's view batches; and with
  // --skip_bad_files a rank whose batch lost every group would skip a step the others take.
  if (cfg.sampler == "pyannote") throw UsageError("--distributed: --sampler pyannote is not supported yet");
  if (cfg.ssl) throw UsageError("--distributed: --ssl is not supported yet");
  if (cfg.skip_bad_files) throw UsageError("--distributed: --skip_bad_files is not supported yet");
  dist::CommOptions o;
  o.timeout_s = cfg.dist_timeout;
  try {
    const Device d = Device::parse(cfg.device);
    if (d.is_cuda()) return dist::make_nccl_communicator(env.local_rank, o);
    std::shared_ptr<dist::Communicator> c = dist::make_mpi_communicator(o);
    // MPI ranks come from an MPI launcher: torchrun-style variables alone leave each process a world of one.
    if (c->world_size() != env.world_size)
      throw Error("the launcher set " + std::string(env.source == "mpirun" ? "OMPI_COMM_WORLD_SIZE" : "WORLD_SIZE") +
                  "=" + std::to_string(env.world_size) + " but MPI sees " + std::to_string(c->world_size()) +
                  " process(es): start CPU ranks with mpirun (torchrun-style variables serve --device cuda)");
    return c;
  } catch (const Error& e) {
    throw UsageError(std::string("--distributed: ") + e.what());
  }
}

void check_same_options(dist::Communicator& comm, const nlohmann::json& options) {
  if (comm.world_size() == 1) return;
  const nlohmann::json root = nlohmann::json::parse(comm.broadcast_string(options.dump()));
  std::string mine;   // this rank's first difference, as a sentence
  for (const auto& [key, value] : options.items()) {
    const auto it = root.find(key);
    if (it == root.end() || *it != value) {
      mine = "--" + key + " is " + value.dump() + " here but " + (it == root.end() ? "absent" : it->dump()) +
             " on rank 0";
      break;
    }
  }
  if (mine.empty() && root.size() != options.size()) mine = "rank 0 has options this rank lacks (another spk_train?)";
  // One slot per rank: 1 where it differs. Every rank sees the same sum, so every rank stops, or none.
  Tensor differs = Tensor::zeros({comm.world_size()}, DType::i32);
  differs.data<int32_t>()[comm.rank()] = mine.empty() ? 0 : 1;
  comm.all_reduce(differs, dist::ReduceOp::sum);
  std::string ranks;
  for (int r = 0; r < comm.world_size(); ++r)
    if (differs.data<int32_t>()[r]) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
  if (ranks.empty()) return;
  const std::string tail = "; every rank of a --distributed run must be started with the same flags and config";
  if (!mine.empty()) throw UsageError("--distributed: rank " + std::to_string(comm.rank()) + ": " + mine + tail);
  throw UsageError("--distributed: the flags of rank(s) " + ranks + " differ from rank 0's" + tail);
}

void broadcast_from_root(dist::Communicator& comm, const NamedTensors& state) {
  if (comm.world_size() == 1) return;
  std::vector<Tensor> ts;
  for (const auto& [name, t] : state) ts.push_back(t);
  comm.broadcast(ts, 0);
}

void average_gradients(dist::Communicator& comm, const NamedTensors& params) {
  if (comm.world_size() == 1) return;
  NoGradGuard ng;
  // First tensor: which parameters have a gradient on this rank; summed, the ranks agree on which will.
  Tensor has = Tensor::zeros({int64_t(params.size())}, DType::f32);
  std::vector<Tensor> ts = {has};
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i].second;
    const Tensor g = p.grad();
    if (g.defined()) has.data<float>()[i] = 1;
    ts.push_back(g.defined() ? g : Tensor::zeros(p.shape(), p.dtype(), p.device()));
  }
  const std::vector<Tensor> mean = comm.all_reduce(ts, dist::ReduceOp::mean);
  const std::vector<double> any = mean[0].to_double();
  for (size_t i = 0; i < params.size(); ++i) {
    if (any[i] > 0) params[i].second.set_grad(mean[i + 1]);
    else params[i].second.zero_grad();
  }
}

}  // namespace spk::recipe
