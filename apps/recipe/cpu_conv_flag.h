// --cpu_conv: which implementation runs the CPU convolutions (kernels/conv/conv.h, ConvCpuBackend): auto (oneDNN
// where the build has it, else spk's own), spk (im2col + OpenBLAS, the reference) or dnnl (oneDNN). The engine
// keeps the setting (engine/conv_context.h); spk_train and spk_eval set it once at start-up, before any work.
#pragma once
#include <string>

namespace spk::recipe {

// Sets the engine's CPU conv backend; an unknown name, or dnnl in a build without oneDNN, is a UsageError
// naming --cpu_conv.
void apply_cpu_conv_flag(const std::string& value);

}  // namespace spk::recipe
