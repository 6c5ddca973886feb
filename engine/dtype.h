#pragma once
#include "kernels/common/dtype.h"   // DType lives with the kernels, which are below the engine
