// The torchrun-style bootstrap of the NCCL backend (communicator.h): rank 0's few bytes (NCCL's unique id) reach
// every other rank over TCP at MASTER_ADDR:MASTER_PORT, as torch.distributed's TCPStore does for the same id.
// Only these bytes travel over it; the collectives themselves are NCCL's.
//
// Rank 0 listens on MASTER_PORT (every interface) and answers world_size - 1 connections; every other rank
// connects to MASTER_ADDR:MASTER_PORT (retrying while rank 0 is not listening yet), says its rank and world size,
// and reads the bytes. A world size that differs from rank 0's, a rank seen twice or out of range, or no complete
// exchange within timeout_s is an error naming MASTER_ADDR/MASTER_PORT and what went wrong.
#pragma once
#include <string>

#include "engine/dist/communicator.h"

namespace spk::dist {

// env: rank, world_size, master_addr, master_port (launch_env()). root_bytes: rank 0's bytes (ignored elsewhere).
// Returns rank 0's bytes on every rank.
std::string tcp_rendezvous(const LaunchEnv& env, const std::string& root_bytes, double timeout_s);

}  // namespace spk::dist
