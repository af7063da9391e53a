#include "compiler/precision/Calibration.h"

#include "eval/Perplexity.h"
#include "quant/Dequantize.h"
#include "quant/ModelQuantizer.h"
#include "support/TempFiles.h"
#include "tokenizer/Tokenizer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace kiln::precision {

namespace {

// Sums of one weight's statistics over the calibration tokens.
struct Sums {
  std::vector<double> squares; // matmul: sum of x_k^2 per input column
  uint64_t rows = 0;
  std::vector<uint64_t> lookups; // embedding: count per table row
  uint64_t lookupCount = 0;
};

// What a prefill step tells about a weight: a matmul reads its input at
// args[0], an embedding its ids at args[1].
struct Probe {
  enum Kind { None, Matmul, Embedding } kind = None;
  Sums *sums = nullptr;
  int64_t cols = 0;
};

// A scratch file of this process, "calibration-<pid>-XXXXXX.gguf", created
// exclusively so that no other file (another run's, or one planted under a
// guessable name) is ever written. A signal removes it (TempFiles.h); one
// left by a killed run is removed here, with the writer's temporary.
class ScratchFile {
public:
  static Result<ScratchFile> create(const std::string &dir) {
    for (const std::string &stale : removeStaleTempFiles(dir, "calibration-", ".gguf"))
      removeStaleTempFiles(dir, stale + ".tmp.kiln-", "");
    std::string pattern = dir + "/calibration-" + tempFileTag() + "XXXXXX.gguf";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    int fd = ::mkstemps(name.data(), 5);
    if (fd < 0)
      return makeError(dir, ": cannot create a scratch file for calibration: ",
                       std::strerror(errno));
    ::close(fd);
    return ScratchFile(name.data());
  }
  ScratchFile(ScratchFile &&other) noexcept
      : path_(std::move(other.path_)), ticket_(other.ticket_) {
    other.path_.clear();
    other.ticket_ = -1;
  }
  ScratchFile &operator=(ScratchFile &&) = delete;
  ~ScratchFile() {
    if (!path_.empty())
      ::unlink(path_.c_str());
    untrackTempFile(ticket_);
  }
  const std::string &path() const { return path_; }

private:
  explicit ScratchFile(std::string path)
      : path_(std::move(path)), ticket_(trackTempFile(path_)) {}
  std::string path_;
  int ticket_ = -1;
};

// The model with every matrix kiln can read converted to f32, in memory:
// written through the quantizer to a scratch file, read back, removed.
Result<std::shared_ptr<std::vector<uint8_t>>> f32Copy(const GgufFile &model,
                                                      const std::string &scratchDir) {
  QuantizePlan plan;
  for (size_t i = 0; i < model.tensors().size(); ++i) {
    const GgufTensorInfo &tensor = model.tensors()[i];
    bool convert = tensor.type != GgmlType::F32 && canDequantize(tensor.type) &&
                   isQuantizedTensor(tensor.name, tensor.dims);
    plan.tensors.push_back({i, convert ? GgmlType::F32 : tensor.type, convert, std::nullopt});
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(scratchDir, ec);
  auto scratch = ScratchFile::create(scratchDir);
  if (!scratch)
    return std::move(scratch).takeError();
  const std::string &path = scratch->path();
  QuantizeOptions options{RecipeInfo{"F32", FileType::AllF32, GgmlType::F32}, {}, 0, {}};
  KILN_TRY(writeQuantized(model, plan, options, path));
  auto bytes = std::make_shared<std::vector<uint8_t>>(fs::file_size(path, ec));
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char *>(bytes->data()), std::streamsize(bytes->size()));
  if (!in || ec)
    return makeError(path, ": cannot read back the f32 copy for calibration");
  return bytes;
}

} // namespace

CalibrationRun::~CalibrationRun() = default;

Result<std::unique_ptr<CalibrationRun>>
CalibrationRun::create(const GgufFile &model, const std::string &text,
                       const CalibrationOptions &options) {
  std::unique_ptr<CalibrationRun> self(new CalibrationRun());
  auto tokenizer = Tokenizer::fromMetadata(model.metadata());
  if (!tokenizer)
    return std::move(tokenizer).takeError();
  auto tokens = tokenizer->encode(text, EncodeOptions{});
  if (!tokens)
    return std::move(tokens).takeError();
  if (tokens->size() < 2)
    return makeError("the calibration text has ", std::to_string(tokens->size()),
                     " tokens; it needs at least 2");

  auto bytes = f32Copy(model, options.scratchDir);
  if (!bytes)
    return std::move(bytes).takeError();
  self->bytes_ = *bytes;
  auto file = GgufFile::parse(*self->bytes_, model.source() + " (f32 copy)", self->bytes_);
  if (!file)
    return std::move(file).takeError();
  self->file_ = std::make_unique<GgufFile>(std::move(file).value());

  // Plain f32 matmul inputs: no q8 copies, no fused prologues, so each
  // matmul's args[0] is the activation the weight multiplies.
  codegen::CompileOptions compile;
  compile.target = "cpu"; // the measurements run here, whatever the mix is for
  compile.allLogits = true; // the output matrix sees every position
  compile.lower.integerDots = false;
  // klWithTensor writes a tensor's bytes in place between runs: the
  // kernels must read the file's bytes, not a copy made at load.
  compile.lower.weightLayouts = false;
  compile.lower.matchLlamaCppActivations = false;
  compile.passes.fuse = false;
  if (options.useKernelCache)
    compile.cacheDir = codegen::cpu::defaultCacheDir();
  auto program = codegen::compile(*self->file_, compile);
  if (!program)
    return std::move(program).takeError();
  self->program_ = std::move(program).value();
  const runtime::ExecutionPlan &plan = self->program_.lowered.plan;

  std::map<std::string, Sums> sums;
  std::vector<Probe> probes(plan.prefill.steps.size());
  for (size_t s = 0; s < plan.prefill.steps.size(); ++s) {
    const runtime::Step &step = plan.prefill.steps[s];
    const codegen::KernelDesc &desc = self->program_.lowered.kernels[step.kernel];
    auto weightAt = [&](size_t arg) -> Sums * {
      if (step.args.size() <= arg || step.args[arg].kind != runtime::SlotKind::Weight)
        return nullptr;
      return &sums[plan.weightNames[step.args[arg].index]];
    };
    if (desc.kind == codegen::KernelKind::Matmul) {
      if (Sums *w = weightAt(1)) {
        probes[s] = {Probe::Matmul, w, desc.cols};
        w->squares.resize(size_t(desc.cols));
      }
    } else if (desc.kind == codegen::KernelKind::Embedding) {
      if (Sums *w = weightAt(0)) {
        probes[s] = {Probe::Embedding, w, 0};
        const GgufTensorInfo *table =
            self->file_->findTensor(plan.weightNames[step.args[0].index]);
        w->lookups.resize(table && table->dims.size() > 1 ? size_t(table->dims[1]) : 0);
      }
    }
  }

  int64_t n = std::min<int64_t>(options.chunk, self->program_.spec.contextLength);
  self->pool_ = std::make_unique<runtime::ThreadPool>(options.threads);
  runtime::ExecutorOptions execOptions;
  execOptions.contextLength = n;
  execOptions.maxBatch = n;
  auto executor = codegen::makeExecutor(self->program_, *self->file_, *self->pool_,
                                        execOptions);
  if (!executor)
    return std::move(executor).takeError();
  self->executor_ = std::move(executor).value();

  // Chunks of n tokens, each opening with BOS as perplexity's do; a last
  // shorter chunk counts too.
  const Vocabulary &vocab = tokenizer->vocabulary();
  for (size_t start = 0; start + 1 < tokens->size(); start += size_t(n)) {
    size_t count = std::min(tokens->size() - start, size_t(n));
    std::vector<int32_t> chunk(tokens->begin() + start, tokens->begin() + start + count);
    if (vocab.addBos() && vocab.bos() != kNoToken)
      chunk[0] = vocab.bos();
    self->chunks_.push_back(std::move(chunk));
    self->tokens_ += count;
  }

  self->executor_->setStepObserver([&](bool decode, size_t index, void *const *args,
                                       int64_t rows) {
    if (decode)
      return;
    const Probe &probe = probes[index];
    if (probe.kind == Probe::Matmul) {
      const float *x = static_cast<const float *>(self->executor_->hostView(
          args[0], uint64_t(rows * probe.cols) * sizeof(float)));
      if (!x)
        return; // calibration runs on the CPU, whose views never fail
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < probe.cols; ++k) {
          double v = x[r * probe.cols + k];
          probe.sums->squares[k] += v * v;
        }
      probe.sums->rows += uint64_t(rows);
    } else if (probe.kind == Probe::Embedding) {
      const int32_t *ids = static_cast<const int32_t *>(
          self->executor_->hostView(args[1], uint64_t(rows) * sizeof(int32_t)));
      if (!ids)
        return;
      for (int64_t r = 0; r < rows; ++r)
        if (ids[r] >= 0 && size_t(ids[r]) < probe.sums->lookups.size())
          ++probe.sums->lookups[ids[r]];
      probe.sums->lookupCount += uint64_t(rows);
    }
  });
  Status ran = self->run(&self->baseLogits_);
  self->executor_->setStepObserver({});
  KILN_TRY(ran);

  for (auto &[name, s] : sums) {
    ErrorWeights &weights = self->weights_[name];
    if (s.rows) {
      weights.columns.resize(s.squares.size());
      for (size_t k = 0; k < s.squares.size(); ++k)
        weights.columns[k] = s.squares[k] / double(s.rows);
    }
    if (s.lookupCount) {
      // How often each row is read, add-one smoothed: a short text never
      // sees most tokens, yet they are not worthless.
      double total = double(s.lookupCount + s.lookups.size());
      weights.rows.resize(s.lookups.size());
      for (size_t r = 0; r < s.lookups.size(); ++r)
        weights.rows[r] = double(s.lookups[r] + 1) / total;
    }
  }
  return self;
}

// Runs every chunk, appending all their logits.
Status CalibrationRun::run(std::vector<float> *logits) {
  for (const std::vector<int32_t> &chunk : chunks_) {
    auto out = executor_->prefill(chunk, 0);
    if (!out)
      return std::move(out).takeError();
    logits->insert(logits->end(), out->begin(), out->end());
  }
  return Status::success();
}

Result<double> CalibrationRun::klWithTensor(const std::string &name,
                                            std::span<const float> values) {
  const GgufTensorInfo *tensor = file_->findTensor(name);
  if (!tensor || tensor->type != GgmlType::F32 || tensor->elementCount != values.size())
    return makeError("calibration: no f32 tensor '", name, "' of ",
                     std::to_string(values.size()), " values to swap");
  // The copy is ours: the tensor's bytes may be written in place.
  auto data = file_->tensorData(*tensor);
  uint8_t *bytes = bytes_->data() + (data.data() - bytes_->data());
  std::vector<uint8_t> saved(data.begin(), data.end());
  std::memcpy(bytes, values.data(), saved.size());
  size_t vocab = size_t(program_.spec.vocabSize);
  eval::KlScore score;
  size_t offset = 0;
  Status status = Status::success();
  for (const std::vector<int32_t> &chunk : chunks_) {
    auto out = executor_->prefill(chunk, 0);
    if (!out) {
      status = std::move(out).takeError();
      break;
    }
    size_t floats = chunk.size() * vocab;
    score.add(std::span<const float>(baseLogits_).subspan(offset, floats),
              out->first(floats), vocab);
    offset += floats;
  }
  std::memcpy(bytes, saved.data(), saved.size());
  KILN_TRY(status);
  return score.meanKl();
}

} // namespace kiln::precision
