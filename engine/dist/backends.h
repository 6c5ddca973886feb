// The backends behind make_mpi_communicator / make_nccl_communicator (communicator.h), each in its own source
// file that CMake adds only where the library is found.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "engine/dist/communicator.h"

namespace spk::dist::detail {

std::unique_ptr<Communicator> make_mpi_backend(CommOptions o);                     // communicator_mpi.cpp
std::unique_ptr<Communicator> make_nccl_backend(int cuda_device, CommOptions o);   // communicator_nccl.cpp

// The MPI rank/size when this process has initialised MPI (the NCCL backend uses it to pass its unique id).
bool mpi_broadcast_bytes(void* data, int64_t nbytes, int root);   // false where the build has no MPI

// "spk: rank r of W: waited T s in <what> (collective #seq) ...; ending every rank" (communicator.cpp): the line
// every backend prints when a collective's wait passes the timeout.
// `silent`, where known: which ranks did not answer when asked (the hung ones).
std::string collective_timeout_message(int rank, int world, const char* what, uint64_t seq, double waited_s,
                                       const std::string& silent = "");

// A collective's wait past the timeout (MPI): prints collective_timeout_message and ends the job.
[[noreturn]] void collective_timed_out(int rank, int world, const char* what, uint64_t seq, double waited_s,
                                       const std::string& silent);

}  // namespace spk::dist::detail
