#include "runtime/cpu/CpuDevice.h"

#include "runtime/MemoryPlanner.h"

#include <cstdlib>
#include <cstring>

namespace kiln::runtime {

CpuDevice::CpuDevice(std::vector<CpuKernel> kernels, unsigned threads)
    : ownedPool_(std::make_unique<ThreadPool>(threads)), pool_(*ownedPool_),
      kernels_(std::move(kernels)) {}

void *CpuDevice::allocate(uint64_t bytes) {
  // aligned_alloc wants a multiple of the alignment, and a size of 0 may
  // give nullptr, which would read as out of memory.
  uint64_t rounded = (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  if (rounded == 0)
    rounded = kArenaAlignment;
  void *buffer = std::aligned_alloc(kArenaAlignment, rounded);
  if (buffer)
    std::memset(buffer, 0, rounded);
  return buffer;
}

void CpuDevice::release(void *buffer) { std::free(buffer); }

Result<const void *> CpuDevice::upload(std::span<const uint8_t> weight) {
  // Kernels read the mapping itself: no copy.
  return static_cast<const void *>(weight.data());
}

Status CpuDevice::write(void *deviceDst, const void *hostSrc, uint64_t bytes) {
  if (bytes)
    std::memcpy(deviceDst, hostSrc, bytes);
  return Status::success();
}

Status CpuDevice::read(const void *deviceSrc, void *hostDst, uint64_t bytes) {
  if (bytes)
    std::memcpy(hostDst, deviceSrc, bytes);
  return Status::success();
}

void CpuDevice::launch(const Launch &launch) {
  const CpuKernel &kernel = kernels_[launch.kernel];
  const int64_t tasks = kernel.tasks.fixed + kernel.tasks.perRow * launch.rows;
  // One captured reference: fits std::function's inline storage, so the
  // token loop does not allocate.
  struct Call {
    KernelFn fn;
    const Launch &launch;
  } call{kernel.fn, launch};
  pool_.parallelFor(tasks, [&call](int64_t begin, int64_t end, unsigned) {
    call.fn(call.launch.args, call.launch.rows, call.launch.position, begin, end);
  });
}

} // namespace kiln::runtime
