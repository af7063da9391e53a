// kiln.h over the runtime: an artifact loaded by runtime/artifact, its
// tokenizer from the GGUF it names, an Executor for the sequence, the
// Sampler, and a StreamDecoder for streamed text.

#include "kiln.h"

#include "runtime/Executor.h"
#include "runtime/KernelCache.h"
#include "runtime/Sampler.h"
#include "runtime/artifact/LoadedArtifact.h"
#include "tokenizer/StreamDecoder.h"
#include "tokenizer/Tokenizer.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace kiln;

struct kiln_model {
  runtime::artifact::LoadedArtifact artifact;
  std::optional<Tokenizer> tokenizer;
  std::unique_ptr<runtime::ThreadPool> pool;
  std::unique_ptr<runtime::Executor> executor;
  runtime::SamplerOptions samplingOptions;
  std::optional<runtime::Sampler> sampler;
  std::optional<StreamDecoder> decoder;
  int64_t positions = 0; // the sequence's capacity
  int64_t used = 0;      // tokens evaluated
};

namespace {

thread_local std::string lastError;

kiln_status failWith(kiln_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

kiln_status ok() {
  lastError.clear();
  return KILN_OK;
}

} // namespace

extern "C" {

const char *kiln_last_error(void) { return lastError.c_str(); }

void kiln_sampling_defaults(kiln_sampling *sampling) {
  if (!sampling)
    return;
  runtime::SamplerOptions d;
  *sampling = {d.temperature, d.topK, d.topP, d.minP, d.repeatPenalty, d.repeatLastN, d.seed};
}

kiln_status kiln_model_load(const char *path, unsigned threads, kiln_model **model) {
  if (!path || !model)
    return failWith(KILN_ERROR_ARGUMENT, "kiln_model_load: null path or model pointer");
  *model = nullptr;
  auto loaded = runtime::artifact::loadArtifact(path, runtime::defaultKernelCacheDir());
  if (!loaded)
    return failWith(KILN_ERROR_LOAD, loaded.error().message);
  auto result = std::make_unique<kiln_model>();
  result->artifact = std::move(loaded).value();
  auto tokenizer = Tokenizer::fromMetadata(result->artifact.metadata->metadata());
  if (!tokenizer)
    return failWith(KILN_ERROR_LOAD, tokenizer.error().message);
  result->tokenizer.emplace(std::move(tokenizer).value());
  result->pool = std::make_unique<runtime::ThreadPool>(threads);
  *model = result.release();
  return ok();
}

void kiln_model_free(kiln_model *model) { delete model; }

int64_t kiln_context_length(const kiln_model *model) {
  return model ? model->artifact.artifact.plan.contextLength : 0;
}

int64_t kiln_vocab_size(const kiln_model *model) {
  return model ? model->artifact.artifact.plan.vocabSize : 0;
}

const char *kiln_target(const kiln_model *model) {
  if (!model)
    return "";
  auto it = model->artifact.artifact.meta.find(runtime::artifact::meta::kTarget);
  return it == model->artifact.artifact.meta.end() ? "" : it->second.c_str();
}

const char *kiln_device(const kiln_model *model) {
  return model ? model->artifact.deviceName.c_str() : "";
}

int32_t kiln_eos_token(const kiln_model *model) {
  return model ? model->tokenizer->vocabulary().eos() : -1;
}

kiln_status kiln_tokenize(kiln_model *model, const char *text, int parseSpecial, int32_t *ids,
                          size_t capacity, size_t *count) {
  if (!model || !text || !count || (capacity > 0 && !ids))
    return failWith(KILN_ERROR_ARGUMENT, "kiln_tokenize: null argument");
  EncodeOptions options;
  options.parseSpecial = parseSpecial != 0;
  auto encoded = model->tokenizer->encode(text, options);
  if (!encoded)
    return failWith(KILN_ERROR_TOKENS, encoded.error().message);
  *count = encoded->size();
  if (encoded->size() > capacity)
    return failWith(KILN_ERROR_ARGUMENT, "kiln_tokenize: the text has " +
                                             std::to_string(encoded->size()) +
                                             " tokens, more than the capacity of " +
                                             std::to_string(capacity));
  std::copy(encoded->begin(), encoded->end(), ids);
  return ok();
}

kiln_status kiln_start(kiln_model *model, int64_t positions) {
  if (!model)
    return failWith(KILN_ERROR_ARGUMENT, "kiln_start: null model");
  const runtime::ExecutionPlan &plan = model->artifact.artifact.plan;
  if (positions <= 0)
    positions = plan.contextLength;
  if (positions > plan.contextLength)
    return failWith(KILN_ERROR_ARGUMENT, "kiln_start: " + std::to_string(positions) +
                                             " positions exceed the model's " +
                                             std::to_string(plan.contextLength) +
                                             "-token context");
  if (!model->executor || positions > model->positions) {
    model->executor.reset();
    runtime::ExecutorOptions options;
    options.contextLength = positions;
    options.maxBatch = std::min<int64_t>(256, positions);
    auto executor = model->artifact.makeExecutor(*model->pool, options);
    if (!executor)
      return failWith(KILN_ERROR_LOAD, executor.error().message);
    model->executor = std::move(executor).value();
    model->positions = positions;
  }
  model->used = 0;
  auto sampler = runtime::Sampler::create(model->samplingOptions, uint32_t(plan.vocabSize));
  if (!sampler)
    return failWith(KILN_ERROR_ARGUMENT, sampler.error().message);
  model->sampler.emplace(std::move(sampler).value());
  DecodeOptions decode;
  decode.stripLeadingSpace = false;
  model->decoder.emplace(model->tokenizer->detokenizer(), decode);
  return ok();
}

kiln_status kiln_eval(kiln_model *model, const int32_t *ids, size_t count,
                      const float **logits) {
  if (!model || (!ids && count) || !logits)
    return failWith(KILN_ERROR_ARGUMENT, "kiln_eval: null argument");
  if (!model->executor)
    return failWith(KILN_ERROR_ARGUMENT, "kiln_eval: call kiln_start first");
  if (count == 0)
    return failWith(KILN_ERROR_ARGUMENT, "kiln_eval: no tokens");
  if (model->used + int64_t(count) > model->positions)
    return failWith(KILN_ERROR_EVAL, "kiln_eval: " + std::to_string(model->used) + " + " +
                                         std::to_string(count) + " tokens exceed the " +
                                         std::to_string(model->positions) +
                                         " positions kiln_start made room for");
  const int64_t vocab = model->artifact.artifact.plan.vocabSize;
  for (size_t i = 0; i < count; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      return failWith(KILN_ERROR_TOKENS, "kiln_eval: token " + std::to_string(ids[i]) +
                                             " is outside the vocabulary of " +
                                             std::to_string(vocab));
  // As kiln run: one generated token is a decode step, a prompt goes
  // through prefill in batches.
  Result<std::span<const float>> result = makeError("no tokens");
  if (count == 1 && model->used > 0) {
    result = model->executor->decode(ids[0], model->used);
  } else {
    std::span<const int32_t> all(ids, count);
    const size_t batch = size_t(model->executor->maxBatch());
    for (size_t done = 0; done < count; done += std::min(batch, count - done)) {
      size_t n = std::min(batch, count - done);
      result = model->executor->prefill(all.subspan(done, n), model->used + int64_t(done));
      if (!result)
        break;
    }
  }
  if (!result)
    return failWith(KILN_ERROR_EVAL, result.error().message);
  model->used += int64_t(count);
  for (size_t i = 0; i < count; ++i)
    model->sampler->accept(ids[i]);
  *logits = result->data();
  return ok();
}

kiln_status kiln_set_sampling(kiln_model *model, const kiln_sampling *s) {
  if (!model || !s)
    return failWith(KILN_ERROR_ARGUMENT, "kiln_set_sampling: null argument");
  runtime::SamplerOptions options{s->temperature, s->top_k,          s->top_p, s->min_p,
                                  s->repeat_penalty, s->repeat_last_n, s->seed};
  auto sampler = runtime::Sampler::create(options, uint32_t(kiln_vocab_size(model)));
  if (!sampler)
    return failWith(KILN_ERROR_ARGUMENT, sampler.error().message);
  model->samplingOptions = options;
  if (model->sampler)
    model->sampler.emplace(std::move(sampler).value());
  return ok();
}

kiln_status kiln_sample(kiln_model *model, const float *logits, int32_t *token) {
  if (!model || !logits || !token)
    return failWith(KILN_ERROR_ARGUMENT, "kiln_sample: null argument");
  if (!model->sampler)
    return failWith(KILN_ERROR_ARGUMENT, "kiln_sample: call kiln_start first");
  *token = model->sampler->sample(
      std::span<const float>(logits, size_t(kiln_vocab_size(model))));
  return ok();
}

kiln_status kiln_token_text(kiln_model *model, int32_t token, char *text, size_t capacity,
                            size_t *length) {
  if (!model || !length || (capacity > 0 && !text))
    return failWith(KILN_ERROR_ARGUMENT, "kiln_token_text: null argument");
  if (!model->decoder)
    return failWith(KILN_ERROR_ARGUMENT, "kiln_token_text: call kiln_start first");
  // Nothing is consumed when the text does not fit: the same call with a
  // larger buffer gives it.
  StreamDecoder before = *model->decoder;
  auto piece = model->decoder->push(token);
  if (!piece)
    return failWith(KILN_ERROR_TOKENS, piece.error().message);
  *length = piece->size();
  if (piece->size() > capacity) {
    model->decoder.emplace(before);
    return failWith(KILN_ERROR_ARGUMENT, "kiln_token_text: the text needs " +
                                             std::to_string(piece->size()) + " bytes");
  }
  if (!piece->empty())
    std::memcpy(text, piece->data(), piece->size());
  return ok();
}

uint64_t kiln_activation_bytes(const kiln_model *model) {
  return model && model->executor ? model->executor->activationBytes() : 0;
}

} // extern "C"
