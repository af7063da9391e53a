// Prefill and decode speed of a compiled model on this CPU, with the
// machine's read bandwidth measured in the same run so decode can be given
// as a fraction of the roofline (tokens/s <= bandwidth / bytes read per
// token). usage: kiln_bench_forward MODEL [-p PROMPT_TOKENS] [-n DECODES]
//                [-t THREADS] [-r REPEATS]
// Prints one JSON object. The timing and the bandwidth probe are those of
// `kiln bench` (eval/ForwardTiming.h, eval/MemoryBandwidth.h), which
// adds tables, the kernel breakdown and fused/unfused comparisons.
#include "codegen/Compile.h"
#include "eval/ForwardTiming.h"
#include "eval/MemoryBandwidth.h"
#include "gguf/GgufFile.h"
#include "runtime/Executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace kiln;
using Clock = std::chrono::steady_clock;

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [-p N] [-n N] [-t N] [-r N]\n", argv[0]);
    return 2;
  }
  std::string path = argv[1];
  int prompt = 128, decodes = 32, repeats = 3;
  unsigned threads = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    int value = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "-p")) prompt = value;
    else if (!std::strcmp(argv[i], "-n")) decodes = value;
    else if (!std::strcmp(argv[i], "-t")) threads = unsigned(value);
    else if (!std::strcmp(argv[i], "-r")) repeats = value;
  }
  auto file = GgufFile::open(path);
  if (!file) {
    std::fprintf(stderr, "%s\n", file.error().message.c_str());
    return 1;
  }
  auto compileStart = Clock::now();
  auto program = codegen::compile(*file);
  if (!program) {
    std::fprintf(stderr, "%s\n", program.error().message.c_str());
    return 1;
  }
  double compileSeconds =
      std::chrono::duration<double>(Clock::now() - compileStart).count();
  runtime::ThreadPool pool(threads);
  runtime::ExecutorOptions options;
  options.maxBatch = prompt;
  options.contextLength = std::min<int64_t>(program->spec.contextLength,
                                            prompt + decodes + 1);
  auto executor = codegen::makeExecutor(*program, *file, pool, options);
  if (!executor) {
    std::fprintf(stderr, "%s\n", executor.error().message.c_str());
    return 1;
  }
  eval::ForwardBenchOptions bench;
  bench.promptTokens = prompt;
  bench.decodeTokens = decodes;
  bench.repeats = repeats;
  auto speed = eval::measureForwardSpeed(**executor, bench);
  if (!speed) {
    std::fprintf(stderr, "%s\n", speed.error().message.c_str());
    return 1;
  }
  uint64_t weightBytes = eval::weightBytesPerToken(program->lowered.plan, *file);
  double bandwidth = eval::measureReadBandwidth(pool) / 1e9;
  double decode = speed->decode.median;
  double roofline = bandwidth * 1e9 / double(weightBytes);
  std::printf("{\"model\": \"%s\", \"threads\": %u, \"compile_s\": %.3f, "
              "\"prompt_tokens\": %d, \"prefill_tok_s\": %.2f, "
              "\"prefill_tok_s_min\": %.2f, \"prefill_tok_s_max\": %.2f, "
              "\"decode_tok_s\": %.2f, \"decode_tok_s_min\": %.2f, "
              "\"decode_tok_s_max\": %.2f, \"weight_bytes\": %llu, "
              "\"read_bandwidth_gb_s\": %.2f, \"decode_roofline_tok_s\": %.2f, "
              "\"roofline_fraction\": %.3f}\n",
              path.c_str(), threads, compileSeconds, prompt, speed->prefill.median,
              speed->prefill.min, speed->prefill.max, decode, speed->decode.min,
              speed->decode.max, (unsigned long long)weightBytes, bandwidth, roofline,
              decode / roofline);
  return 0;
}
