// The OpenCL headers as kiln uses them: the 1.2 API (what PoCL 3.1 and
// every ICD implements), through the standard ICD loader (libOpenCL).
#pragma once

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <string>

namespace kiln::runtime::opencl {

// "CL_OUT_OF_RESOURCES (-5)" for an OpenCL error code.
std::string errorName(cl_int code);

} // namespace kiln::runtime::opencl
