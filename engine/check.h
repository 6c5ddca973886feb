#pragma once
#include "kernels/common/check.h"   // the error vocabulary lives with the kernels, the lowest floor that throws
