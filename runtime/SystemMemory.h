// How much memory this machine has, to refuse an allocation that cannot
// succeed (a KV cache for a model's 16M-token context) with a message
// instead of an abort.
#pragma once

#include <cstdint>
#include <string>

namespace kiln::runtime {

// Physical memory in bytes, or 0 when the system does not say.
uint64_t physicalMemoryBytes();

// "3.50 GiB".
std::string gibText(long double bytes);

} // namespace kiln::runtime
