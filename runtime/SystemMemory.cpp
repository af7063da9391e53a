#include "SystemMemory.h"

#include <cstdio>
#include <unistd.h>

namespace kiln::runtime {

uint64_t physicalMemoryBytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long pageSize = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || pageSize <= 0)
    return 0;
  return uint64_t(pages) * uint64_t(pageSize);
}

std::string gibText(long double bytes) {
  char text[48];
  std::snprintf(text, sizeof text, "%.2Lf GiB", bytes / (1024.0L * 1024 * 1024));
  return text;
}

} // namespace kiln::runtime
