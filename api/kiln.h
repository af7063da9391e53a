/* kiln's C API: run a model compiled ahead of time (`kiln compile
 * MODEL.gguf -o model.kiln`) from another program. No LLVM is linked: the
 * artifact holds the compiled kernels, the weights stay in the GGUF it
 * names. Every call that can fail returns a kiln_status; the message of
 * the last failure on the calling thread is kiln_last_error(), naming the
 * file, the field and the problem. A kiln_model is used by one thread at a
 * time.
 *
 *   kiln_model *m;
 *   if (kiln_model_load("model.kiln", 0, &m) != KILN_OK) fail(kiln_last_error());
 *   kiln_tokenize(m, "Once upon a time", 0, ids, 256, &n);
 *   kiln_start(m, n + 32);
 *   kiln_eval(m, ids, n, &logits);
 *   for (...) { kiln_sample(m, logits, &token); kiln_eval(m, &token, 1, &logits); }
 *   kiln_model_free(m);
 */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_API_VERSION 1

typedef enum kiln_status {
  KILN_OK = 0,
  KILN_ERROR_ARGUMENT = 1, /* a null pointer, an option out of range, a buffer too small */
  KILN_ERROR_LOAD = 2,     /* the artifact or its GGUF: missing, corrupt, changed, for another CPU */
  KILN_ERROR_TOKENS = 3,   /* a token id outside the vocabulary, text that does not tokenize */
  KILN_ERROR_EVAL = 4,     /* the sequence is full, or the device failed */
} kiln_status;

typedef struct kiln_model kiln_model;

/* llama.cpp's default sampler chain (penalty, top-k, top-p, min-p,
 * temperature); temperature <= 0 is greedy. */
typedef struct kiln_sampling {
  float temperature;    /* 0.8 */
  int32_t top_k;        /* 40; <= 0: off */
  float top_p;          /* 0.95; 1: off */
  float min_p;          /* 0.05; 0: off */
  float repeat_penalty; /* 1: off */
  int32_t repeat_last_n;/* 64 */
  uint64_t seed;        /* 0 */
} kiln_sampling;

/* The message of the last failed call on this thread; "" when none. */
const char *kiln_last_error(void);

void kiln_sampling_defaults(kiln_sampling *sampling);

/* Loads an artifact: checks it, its CPU features and its GGUF, loads the
 * kernels and the tokenizer. threads: 0 for every core. */
kiln_status kiln_model_load(const char *artifact_path, unsigned threads, kiln_model **model);
void kiln_model_free(kiln_model *model);

int64_t kiln_context_length(const kiln_model *model); /* the model's */
int64_t kiln_vocab_size(const kiln_model *model);
/* The target the artifact was compiled for ("cpu", "opencl") and, in words,
 * the device its kernels run on; valid while the model lives. */
const char *kiln_target(const kiln_model *model);
const char *kiln_device(const kiln_model *model);
int32_t kiln_eos_token(const kiln_model *model);      /* -1 when none */

/* Text -> token ids (with the model's BOS when it adds one). At most
 * `capacity` ids are written; *count is the number the text has (when it
 * exceeds capacity the call fails with KILN_ERROR_ARGUMENT). */
kiln_status kiln_tokenize(kiln_model *model, const char *text, int parse_special,
                          int32_t *ids, size_t capacity, size_t *count);

/* Starts a new sequence of at most `positions` tokens (0: the model's
 * context); loads the weights on the first call. */
kiln_status kiln_start(kiln_model *model, int64_t positions);

/* Evaluates `count` tokens after those already in the sequence; *logits
 * (kiln_vocab_size floats, valid until the next call) are the last
 * token's. Each token also enters the sampler's penalty history. */
kiln_status kiln_eval(kiln_model *model, const int32_t *ids, size_t count,
                      const float **logits);

/* Sets the sampling of kiln_sample (defaults until called). */
kiln_status kiln_set_sampling(kiln_model *model, const kiln_sampling *sampling);
kiln_status kiln_sample(kiln_model *model, const float *logits, int32_t *token);

/* The text a token completes, for streaming: bytes of an unfinished UTF-8
 * character are held until a later token completes them. At most
 * `capacity` bytes are written (no NUL); *length is the text's size. */
kiln_status kiln_token_text(kiln_model *model, int32_t token, char *text, size_t capacity,
                            size_t *length);

/* Bytes of the current sequence: its activations (weights and KV cache not
 * counted), for reports. 0 before kiln_start. */
uint64_t kiln_activation_bytes(const kiln_model *model);

#ifdef __cplusplus
}
#endif

#endif /* KILN_H */
