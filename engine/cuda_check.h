#pragma once
#include "kernels/common/cuda_check.h"
