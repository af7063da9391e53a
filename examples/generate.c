/* Embedding a compiled model from C through kiln.h: load an artifact,
 * tokenize a prompt, generate greedily, print the text and the ids.
 *   kiln compile MODEL.gguf -o model.kiln
 *   build/bin/kiln_example_generate model.kiln "ROMEO:" 32
 */
#include "kiln.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODEL.kiln PROMPT TOKENS\n", argv[0]);
    return 2;
  }
  int tokens = atoi(argv[3]);
  kiln_model *model = NULL;
  if (kiln_model_load(argv[1], 0, &model) != KILN_OK) {
    fprintf(stderr, "error: %s\n", kiln_last_error());
    return 1;
  }
  int32_t ids[512];
  size_t count = 0;
  kiln_sampling greedy;
  kiln_sampling_defaults(&greedy);
  greedy.temperature = 0;
  const float *logits = NULL;
  if (kiln_tokenize(model, argv[2], 0, ids, 512, &count) != KILN_OK ||
      kiln_set_sampling(model, &greedy) != KILN_OK ||
      kiln_start(model, (int64_t)count + tokens) != KILN_OK ||
      kiln_eval(model, ids, count, &logits) != KILN_OK) {
    fprintf(stderr, "error: %s\n", kiln_last_error());
    kiln_model_free(model);
    return 1;
  }
  int32_t generated[512];
  int n = 0;
  for (; n < tokens && n < 512; ++n) {
    int32_t token;
    char text[256];
    size_t length = 0;
    if (kiln_sample(model, logits, &token) != KILN_OK)
      break;
    if (token == kiln_eos_token(model))
      break;
    generated[n] = token;
    if (kiln_token_text(model, token, text, sizeof text, &length) == KILN_OK)
      fwrite(text, 1, length, stdout);
    if (n + 1 < tokens && kiln_eval(model, &token, 1, &logits) != KILN_OK) {
      fprintf(stderr, "error: %s\n", kiln_last_error());
      kiln_model_free(model);
      return 1;
    }
  }
  printf("\nids:");
  for (int i = 0; i < n; ++i)
    printf(" %d", generated[i]);
  printf("\n");
  kiln_model_free(model);
  return 0;
}
