// spk_train --distributed: see distributed.h.
#include "apps/recipe/distributed.h"

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops.h"

namespace spk::recipe {

namespace {
// --bucket_cap_mb in bytes (MB = 2^20, as PyTorch DDP's bucket_cap_mb).
int64_t bucket_bytes(const RecipeConfig& cfg) { return std::max<int64_t>(1, int64_t(cfg.bucket_cap_mb * (1 << 20))); }
// --ssl --trainfunc moco: every step queues the keys of all W ranks (MoCo's concat_all_gather), W·b of them.
// MoCo's gather and DINO's centre need every rank's full batch after each step: a rank whose share lost a file
// (--skip_bad_files) would not match.
void check_world_fits(const RecipeConfig& cfg, int world) {
  if (world > 1 && cfg.ssl && cfg.skip_bad_files && (cfg.trainfunc == "moco" || cfg.trainfunc == "dino"))
    throw UsageError("--skip_bad_files: not with --distributed --ssl --trainfunc " + cfg.trainfunc + " (every rank "
                     "must give its whole batch to the loss's shared state after each step)");
  if (cfg.ssl && cfg.trainfunc == "moco" && cfg.moco_queue < cfg.batch_size * world)
    throw UsageError("--moco_queue: " + std::to_string(cfg.moco_queue) + " is smaller than the keys one step queues "
                     "over " + std::to_string(world) + " ranks (--batch_size " + std::to_string(cfg.batch_size) +
                     " x " + std::to_string(world) + "); raise it to at least " +
                     std::to_string(cfg.batch_size * world));
}
}  // namespace

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
  // --sync_bn divides by every rank's batch size taken as equal, which bad files' groups dropped would break.
  if (cfg.skip_bad_files && cfg.sync_bn)
    throw UsageError("--sync_bn: not with --skip_bad_files (a rank's batch that lost groups would be normalised as if "
                     "full); leave one out");
  if (!(cfg.bucket_cap_mb > 0) || !(cfg.bucket_cap_mb <= 2048))
    throw UsageError("--bucket_cap_mb: " + flag_check::num(cfg.bucket_cap_mb) +
                     " is not in (0, 2048] (megabytes per gradient bucket; MPI counts a bucket's elements in 32 bits)");
  dist::CommOptions o;
  o.timeout_s = cfg.dist_timeout;
  o.bucket_bytes = bucket_bytes(cfg);
  std::shared_ptr<dist::Communicator> c;
  try {
    const Device d = Device::parse(cfg.device);
    if (d.is_cuda()) {
      c = dist::make_nccl_communicator(env.local_rank, o);
    } else {
      c = dist::make_mpi_communicator(o);
      // MPI ranks come from an MPI launcher: torchrun-style variables alone leave each process a world of one.
      if (c->world_size() != env.world_size)
        throw Error("the launcher set " + std::string(env.source == "mpirun" ? "OMPI_COMM_WORLD_SIZE" : "WORLD_SIZE") +
                    "=" + std::to_string(env.world_size) + " but MPI sees " + std::to_string(c->world_size()) +
                    " process(es): start CPU ranks with mpirun (torchrun-style variables serve --device cuda)");
    }
  } catch (const Error& e) {
    throw UsageError(std::string("--distributed: ") + e.what());
  }
  check_world_fits(cfg, c->world_size());
  return c;
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

double step_weight(dist::Communicator& comm, int64_t groups, bool skip_bad_files) {
  const int64_t W = comm.world_size();
  if (W == 1) return 1;
  if (!skip_bad_files) return 1.0 / double(W);   // equal batches: no collective needed
  Tensor total = Tensor::from_vector(std::vector<int64_t>{groups}, {1});
  comm.all_reduce(total, dist::ReduceOp::sum);
  const int64_t all = total.data<int64_t>()[0];
  return all > 0 ? double(groups) / double(all) : -1;
}

std::unique_ptr<dist::GradBuckets> make_grad_buckets(dist::Communicator& comm, const RecipeConfig& cfg,
                                                     const NamedTensors& params) {
  std::vector<Tensor> ts;
  for (const auto& [name, p] : params) ts.push_back(p);
  return std::make_unique<dist::GradBuckets>(comm, std::move(ts), bucket_bytes(cfg));
}

Tensor embed_files_sharded(dist::Communicator& comm, SpeakerNet& model, const FrontEnd& frontend,
                           const std::vector<std::string>& paths, const EmbedSettings& s,
                           const EvalProgress& progress) {
  const int64_t W = comm.world_size(), F = int64_t(paths.size());
  if (W == 1) return embed_files(model, frontend, paths, s, progress);
  broadcast_from_root(comm, model.named_buffers());
  // Contiguous shares keep the evaluator's batching of consecutive files; every share but the last non-empty one
  // is full, so the first F rows of the gathered (W·S, n, D) are the files in list order.
  const int64_t S = (F + W - 1) / W;
  const int64_t first = std::min(F, comm.rank() * S), last = std::min(F, first + S);
  const std::vector<std::string> mine(paths.begin() + first, paths.begin() + last);
  EvalProgress share;
  if (progress) share = [&](int64_t done, int64_t) { progress(done, F); };
  Tensor part = embed_files(model, frontend, mine, s, share);   // (last - first, n, D)
  NoGradGuard ng;
  Tensor padded = Tensor::zeros({S, part.size(1), part.size(2)}, part.dtype(), part.device());
  if (last > first) slice(padded, 0, 0, last - first).copy_(part);
  Tensor all = comm.all_gather(padded);   // (W, S, n, D)
  all = reshape(all, {W * S, part.size(1), part.size(2)});
  if (progress) progress(F, F);
  return slice(all, 0, 0, F).contiguous();
}

}  // namespace spk::recipe
