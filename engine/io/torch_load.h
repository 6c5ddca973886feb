// The torch.save reader behind load_torch_checkpoint (torch_checkpoint.h), on bytes already in memory: for
// callers that hold the file's contents (tests that damage files byte by byte, archives inside archives).
#pragma once
#include <string>

#include "engine/io/torch_checkpoint.h"

namespace spk::io {

// `bytes` is a whole torch.save file; `where` starts every error message ("torch checkpoint <path>").
TorchCheckpoint load_torch_checkpoint_bytes(const std::string& bytes, const std::string& where);

}  // namespace spk::io
