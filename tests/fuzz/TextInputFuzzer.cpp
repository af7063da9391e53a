// libFuzzer target for what the CLI does with a user's text file (a prompt,
// a text to score, a calibration text): readTextFile reads it back byte for
// byte, and every tokenizer kind (SentencePiece, byte-level BPE, WordPiece)
// encodes it, with and without control tokens parsed, and decodes the ids.
// Vocabularies come from $KILN_FUZZ_VOCAB_DIR (../shared/models/vocab).
#include "support/TextFile.h"
#include "tokenizer/Tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

std::vector<kiln::Tokenizer> &tokenizers() {
  static std::vector<kiln::Tokenizer> loaded;
  return loaded;
}

std::string &scratchPath() {
  static std::string path;
  return path;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const char *dir = std::getenv("KILN_FUZZ_VOCAB_DIR");
  if (!dir) {
    std::fprintf(stderr, "set KILN_FUZZ_VOCAB_DIR to ../shared/models/vocab\n");
    std::abort();
  }
  for (const char *name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                           "ggml-vocab-bert-bge.gguf", "ggml-vocab-deepseek-coder.gguf"}) {
    auto tokenizer = kiln::Tokenizer::open(std::string(dir) + "/" + name);
    if (!tokenizer) {
      std::fprintf(stderr, "%s\n", tokenizer.error().message.c_str());
      std::abort();
    }
    tokenizers().push_back(std::move(*tokenizer));
  }
  char pattern[] = "/tmp/kiln-text-fuzz-XXXXXX";
  int fd = ::mkstemp(pattern);
  if (fd < 0)
    std::abort();
  ::close(fd);
  scratchPath() = pattern;
  std::atexit([] { ::unlink(scratchPath().c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string bytes(reinterpret_cast<const char *>(data), size);
  std::FILE *file = std::fopen(scratchPath().c_str(), "wb");
  if (!file || std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size())
    std::abort();
  std::fclose(file);
  // A bound below the input's size must refuse it, never truncate it.
  if (size > 0 && kiln::readTextFile(scratchPath(), "the fuzz text", size - 1))
    __builtin_trap();
  auto text = kiln::readTextFile(scratchPath(), "the fuzz text");
  if (!text || *text != bytes)
    __builtin_trap();
  for (const kiln::Tokenizer &tokenizer : tokenizers()) {
    for (bool parseSpecial : {false, true}) {
      kiln::EncodeOptions options;
      options.parseSpecial = parseSpecial;
      auto ids = tokenizer.encode(*text, options);
      if (!ids)
        __builtin_trap(); // only texts of 4 GiB and more may be refused
      for (kiln::TokenId id : *ids)
        if (id < 0 || size_t(id) >= tokenizer.vocabulary().size())
          __builtin_trap();
      (void)tokenizer.decode(*ids);
    }
  }
  return 0;
}
