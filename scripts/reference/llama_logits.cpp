// Not part of kiln's build: a reference tool compiled against a llama.cpp
// build outside this repository, to make the fingerprints in
// tests/data/llamacpp-avx2-val128.txt and to compare intermediates.
//
//   g++ -O2 -std=c++17 llama_logits.cpp -I$LLAMA/include -I$LLAMA/ggml/include \
//       -L$LLAMA/build/bin -lllama -lggml -lggml-base -Wl,-rpath,$LLAMA/build/bin
//   llama_logits MODEL IDS_FILE OUT [COUNT [GREEDY_STEPS]]
//
// Evaluates the ids (space separated) in one batch with every position's
// logits and writes them (float32, row-major) to OUT; with GREEDY_STEPS,
// continues greedily from the last position and prints the ids instead.
// With DUMP_DIR set, every f32 tensor of the graph is written there as
// N_NAME.bin (compare with `kiln run --dump-steps`).
#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

static int dumped = 0;

static bool dumpTensor(struct ggml_tensor *t, bool ask, void *) {
  if (ask)
    return true;
  const char *dir = getenv("DUMP_DIR");
  if (!dir || t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t))
    return true;
  std::string path = std::string(dir) + "/" + std::to_string(dumped++) + "_" + t->name + ".bin";
  std::vector<char> bytes(ggml_nbytes(t));
  ggml_backend_tensor_get(t, bytes.data(), 0, bytes.size());
  std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
  return true;
}

static bool decodeOne(llama_context *ctx, llama_token token, int position) {
  llama_batch one = llama_batch_init(1, 0, 1);
  one.token[0] = token;
  one.pos[0] = position;
  one.n_seq_id[0] = 1;
  one.seq_id[0][0] = 0;
  one.logits[0] = 1;
  one.n_tokens = 1;
  bool ok = llama_decode(ctx, one) == 0;
  llama_batch_free(one);
  return ok;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL IDS_FILE OUT [COUNT [GREEDY_STEPS]]\n", argv[0]);
    return 2;
  }
  llama_backend_init();
  llama_model *model = llama_model_load_from_file(argv[1], llama_model_default_params());
  if (!model)
    return 1;
  llama_context_params params = llama_context_default_params();
  params.n_ctx = 256;
  params.n_batch = params.n_ubatch = 256;
  params.n_threads = params.n_threads_batch = 2;
  params.cb_eval = dumpTensor;
  llama_context *ctx = llama_init_from_model(model, params);
  std::ifstream in(argv[2]);
  std::vector<llama_token> ids;
  for (int id; in >> id;)
    ids.push_back(id);
  if (argc > 4)
    ids.resize(atoi(argv[4]));
  llama_batch batch = llama_batch_init(ids.size(), 0, 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    batch.token[i] = ids[i];
    batch.pos[i] = i;
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;
  }
  batch.n_tokens = ids.size();
  if (llama_decode(ctx, batch) != 0)
    return 1;
  int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  if (argc > 5) {
    const float *logits = llama_get_logits_ith(ctx, ids.size() - 1);
    int position = ids.size();
    for (int step = 0; step < atoi(argv[5]); ++step) {
      int best = 0;
      for (int v = 1; v < vocab; ++v)
        if (logits[v] > logits[best])
          best = v;
      printf("%d ", best);
      if (!decodeOne(ctx, best, position++))
        return 1;
      logits = llama_get_logits_ith(ctx, 0);
    }
    printf("\n");
    return 0;
  }
  std::ofstream out(argv[3], std::ios::binary);
  for (size_t i = 0; i < ids.size(); ++i)
    out.write(reinterpret_cast<const char *>(llama_get_logits_ith(ctx, i)), vocab * 4);
  return 0;
}
