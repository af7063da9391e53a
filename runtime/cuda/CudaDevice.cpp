#include "runtime/cuda/CudaDevice.h"

#include <cstdlib>
#include <cstring>
#include <iostream>

namespace kiln::runtime::cuda {

namespace {

// Pinned position slots: the eager copies of one step each take one, and
// they are reused once the stream has synchronized.
constexpr size_t kPositionSlots = 64;

} // namespace

CudaDevice::CudaDevice(std::shared_ptr<CudaProgram> program) : program_(std::move(program)) {
  (void)program_->context()->makeCurrent();
  const char *graphs = std::getenv("KILN_CUDA_GRAPHS");
  graphs_ = !(graphs && std::strcmp(graphs, "0") == 0);
  void *slots = nullptr;
  if (program_->context()->api().cuMemHostAlloc(&slots, kPositionSlots * sizeof(int64_t), 0) ==
      CUDA_SUCCESS)
    pinned_ = static_cast<int64_t *>(slots);
  else
    error_ = "CUDA device '" + program_->context()->facts().name +
             "': cannot allocate pinned host memory for the positions";
}

CudaDevice::~CudaDevice() {
  const DriverApi &api = program_->context()->api();
  api.cuStreamSynchronize(program_->context()->stream());
  dropGraph();
  for (CUdeviceptr allocation : allocations_)
    api.cuMemFree(allocation);
  if (pinned_)
    api.cuMemFreeHost(pinned_);
}

Status CudaDevice::check(CUresult result, const std::string &what) const {
  return program_->context()->driver().check(
      result, "CUDA device '" + program_->context()->facts().name + "': " + what);
}

void *CudaDevice::allocate(uint64_t bytes) {
  if (!program_->context()->makeCurrent().ok())
    return nullptr;
  const DriverApi &api = program_->context()->api();
  CUdeviceptr buffer = 0;
  if (api.cuMemAlloc(&buffer, bytes ? bytes : 4) != CUDA_SUCCESS)
    return nullptr;
  if (api.cuMemsetD8(buffer, 0, bytes ? bytes : 4) != CUDA_SUCCESS) {
    api.cuMemFree(buffer);
    return nullptr;
  }
  allocations_.insert(buffer);
  return reinterpret_cast<void *>(buffer);
}

void CudaDevice::release(void *buffer) {
  auto found = allocations_.find(reinterpret_cast<CUdeviceptr>(buffer));
  if (found == allocations_.end())
    return;
  // A captured graph may name the buffer: it goes first.
  (void)flush();
  const DriverApi &api = program_->context()->api();
  api.cuStreamSynchronize(program_->context()->stream());
  dropGraph();
  previous_.clear();
  api.cuMemFree(*found);
  allocations_.erase(found);
}

Result<const void *> CudaDevice::upload(std::span<const uint8_t> weight) {
  KILN_TRY(program_->context()->makeCurrent());
  const DriverApi &api = program_->context()->api();
  CUdeviceptr buffer = 0;
  const uint64_t size = weight.empty() ? 4 : weight.size();
  KILN_TRY(check(api.cuMemAlloc(&buffer, size),
                 "allocating " + std::to_string(size) + " bytes for a weight"));
  allocations_.insert(buffer);
  if (!weight.empty())
    KILN_TRY(check(api.cuMemcpyHtoD(buffer, weight.data(), weight.size()),
                   "copying a weight to the GPU"));
  return reinterpret_cast<const void *>(buffer);
}

// The synchronous copies run on the legacy stream, which waits for the
// context's (blocking) stream: the step's kernels finish first.
Status CudaDevice::write(void *deviceDst, const void *hostSrc, uint64_t bytes) {
  KILN_TRY(program_->context()->makeCurrent());
  KILN_TRY(flush());
  return check(program_->context()->api().cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(deviceDst),
                                                       hostSrc, bytes),
               "copying to the GPU");
}

Status CudaDevice::read(const void *deviceSrc, void *hostDst, uint64_t bytes) {
  KILN_TRY(program_->context()->makeCurrent());
  KILN_TRY(flush());
  return check(program_->context()->api().cuMemcpyDtoH(
                   hostDst, reinterpret_cast<CUdeviceptr>(deviceSrc), bytes),
               "copying from the GPU");
}

void CudaDevice::launch(const Launch &launch) {
  if (!error_.empty())
    return;
  const CudaKernelEntry &entry = program_->module().kernels[launch.kernel];
  PendingLaunch pending;
  pending.kernel = launch.kernel;
  pending.firstArg = uint32_t(pending_.args.size());
  pending.argCount = entry.argCount;
  pending.rows = launch.rows;
  pending.position = launch.position;
  for (uint32_t i = 0; i < entry.argCount; ++i)
    pending_.args.push_back(reinterpret_cast<CUdeviceptr>(launch.args[i]));
  pending_.launches.push_back(pending);
}

bool CudaDevice::sameStep(const Step &a, const Step &b) {
  if (a.launches.size() != b.launches.size() || a.args != b.args)
    return false;
  for (size_t i = 0; i < a.launches.size(); ++i) {
    const PendingLaunch &x = a.launches[i], &y = b.launches[i];
    if (x.kernel != y.kernel || x.argCount != y.argCount || x.rows != y.rows)
      return false;
  }
  return true;
}

Status CudaDevice::enqueue(const Step &step, const PendingLaunch &launch) {
  const CudaKernelEntry &entry = program_->module().kernels[launch.kernel];
  const int64_t tasks = entry.tasks.fixed + entry.tasks.perRow * launch.rows;
  if (tasks <= 0)
    return Status::success();
  // The entry's parameters: each argument's device pointer, then rows
  // (CudaModule.h). The driver copies them at the call.
  int64_t rows = launch.rows;
  void *params[64];
  std::vector<void *> many;
  void **values = params;
  if (launch.argCount + 1 > 64) {
    many.resize(launch.argCount + 1);
    values = many.data();
  }
  for (uint32_t i = 0; i < launch.argCount; ++i)
    values[i] = const_cast<CUdeviceptr *>(&step.args[launch.firstArg + i]);
  values[launch.argCount] = &rows;
  const uint64_t blocks = (uint64_t(tasks) + entry.blockSize - 1) / entry.blockSize;
  if (blocks > 0x7fffffffu)
    return makeError("kernel '", entry.name, "': ", std::to_string(tasks),
                     " tasks are more blocks than a CUDA grid holds");
  return check(program_->context()->api().cuLaunchKernel(
                   program_->function(launch.kernel), unsigned(blocks), 1, 1, entry.blockSize,
                   1, 1, 0, program_->context()->stream(), values, nullptr),
               "launching kernel '" + entry.name + "'");
}

Status CudaDevice::copyPosition(int64_t position) {
  const DriverApi &api = program_->context()->api();
  if (nextSlot_ == kPositionSlots) {
    KILN_TRY(check(api.cuStreamSynchronize(program_->context()->stream()), "running the kernels"));
    nextSlot_ = 1;
  }
  int64_t *slot = &pinned_[nextSlot_++];
  *slot = position;
  return check(api.cuMemcpyHtoDAsync(program_->positionAddress(), slot, sizeof *slot,
                                     program_->context()->stream()),
               "copying the position to the GPU");
}

Status CudaDevice::launchEagerly(const Step &step) {
  bool first = true;
  int64_t position = 0;
  for (const PendingLaunch &launch : step.launches) {
    if (first || launch.position != position) {
      KILN_TRY(copyPosition(launch.position));
      position = launch.position;
      first = false;
    }
    KILN_TRY(enqueue(step, launch));
  }
  return Status::success();
}

void CudaDevice::dropGraph() {
  const DriverApi &api = program_->context()->api();
  if (graphExec_)
    api.cuGraphExecDestroy(graphExec_);
  if (graph_)
    api.cuGraphDestroy(graph_);
  graphExec_ = nullptr;
  graph_ = nullptr;
  captured_.clear();
}

Status CudaDevice::capture(const Step &step) {
  const DriverApi &api = program_->context()->api();
  CUstream stream = program_->context()->stream();
  dropGraph();
  KILN_TRY(check(api.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                 "capturing a step"));
  // The graph's first node copies the position from slot 0, read when the
  // graph runs: each replay writes the slot first.
  Status recorded = check(api.cuMemcpyHtoDAsync(program_->positionAddress(), &pinned_[0],
                                                sizeof(int64_t), stream),
                          "capturing the position copy");
  for (size_t i = 0; recorded.ok() && i < step.launches.size(); ++i)
    recorded = enqueue(step, step.launches[i]);
  CUgraph graph = nullptr;
  Status ended = check(api.cuStreamEndCapture(stream, &graph), "capturing a step");
  if (!recorded.ok() || !ended.ok()) {
    if (graph)
      api.cuGraphDestroy(graph);
    return recorded.ok() ? ended : recorded;
  }
  graph_ = graph;
  if (Status made = check(api.cuGraphInstantiateWithFlags(&graphExec_, graph_, 0),
                          "instantiating a captured step");
      !made.ok()) {
    graphExec_ = nullptr;
    dropGraph();
    return made;
  }
  captured_ = step;
  return Status::success();
}

Status CudaDevice::flush() {
  if (pending_.launches.empty())
    return Status::success();
  if (!pinned_) {
    pending_.clear();
    return makeError("CUDA device '", program_->context()->facts().name,
                     "': no pinned host memory for the positions");
  }
  if (!error_.empty()) {
    pending_.clear();
    return makeError(error_);
  }
  Status issued = Status::success();
  bool replayed = false;
  const int64_t position = pending_.launches.front().position;
  bool onePosition = true;
  for (const PendingLaunch &launch : pending_.launches)
    onePosition = onePosition && launch.position == position;
  if (graphs_ && onePosition) {
    bool ready = graphExec_ && sameStep(pending_, captured_);
    if (!ready && sameStep(pending_, previous_)) {
      // The same step twice in a row: from now on, one graph launch.
      Status captured = capture(pending_);
      if (captured.ok()) {
        ready = true;
      } else {
        graphs_ = false;
        std::cerr << "kiln: warning: " << captured.message()
                  << "; launching each kernel instead of CUDA graphs\n";
      }
    }
    if (ready) {
      const DriverApi &api = program_->context()->api();
      // Slot 0 may still be read by a replay in flight.
      if (busy_)
        issued = check(api.cuStreamSynchronize(program_->context()->stream()),
                       "running the kernels");
      if (issued.ok()) {
        nextSlot_ = 1;
        pinned_[0] = position;
        issued = check(api.cuGraphLaunch(graphExec_, program_->context()->stream()),
                       "replaying a captured step");
        graphReplays_ += issued.ok() ? 1 : 0;
        replayed = true;
      }
    }
  }
  if (!replayed && issued.ok())
    issued = launchEagerly(pending_);
  busy_ = true;
  std::swap(previous_, pending_);
  pending_.clear();
  if (!issued.ok() && error_.empty())
    error_ = issued.message();
  return issued;
}

Status CudaDevice::synchronize() {
  // The C API lets each call come from another thread: the context follows.
  KILN_TRY(program_->context()->makeCurrent());
  Status flushed = flush();
  Status synced = check(program_->context()->api().cuStreamSynchronize(
                            program_->context()->stream()),
                        "running the kernels");
  busy_ = false;
  nextSlot_ = 1;
  if (!error_.empty()) {
    std::string message = std::move(error_);
    error_.clear();
    return makeError(message);
  }
  if (!flushed.ok())
    return flushed;
  return synced;
}

} // namespace kiln::runtime::cuda
