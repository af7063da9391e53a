// kiln convert throughput on a large synthetic safetensors checkpoint,
// beside the machine's plain read, copy and write bandwidth on the same
// bytes, to show whether conversion is bound by I/O.
//
// usage: kiln_bench_convert [LAYERS] [DIR]
// Writes a TinyLlama-shaped Llama checkpoint (n_embd 2048, n_ff 5632, 32
// heads, 4 KV heads; vocabulary 1000 so the shared tinyshakes tokenizer.model
// fits) of LAYERS layers (default 2, ~0.4 GB in f32) under DIR (default: a
// temporary folder, removed at the end), then times `kiln convert` to each
// output type. Every file is in the page cache (it was just written), so
// "read" is memory bandwidth through read(2), the best any reader can do.
#include "convert/Converter.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

double cpuSeconds(bool user) {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const timeval &tv = user ? usage.ru_utime : usage.ru_stime;
  return tv.tv_sec + tv.tv_usec / 1e6;
}

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
};

std::vector<Tensor> llamaTensors(int layers, int64_t vocab) {
  const int64_t embd = 2048, ff = 5632, kv = 256;
  std::vector<Tensor> tensors = {{"model.embed_tokens.weight", {vocab, embd}}};
  for (int i = 0; i < layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    tensors.push_back({p + "self_attn.q_proj.weight", {embd, embd}});
    tensors.push_back({p + "self_attn.k_proj.weight", {kv, embd}});
    tensors.push_back({p + "self_attn.v_proj.weight", {kv, embd}});
    tensors.push_back({p + "self_attn.o_proj.weight", {embd, embd}});
    tensors.push_back({p + "mlp.gate_proj.weight", {ff, embd}});
    tensors.push_back({p + "mlp.up_proj.weight", {ff, embd}});
    tensors.push_back({p + "mlp.down_proj.weight", {embd, ff}});
    tensors.push_back({p + "input_layernorm.weight", {embd}});
    tensors.push_back({p + "post_attention_layernorm.weight", {embd}});
  }
  tensors.push_back({"model.norm.weight", {embd}});
  tensors.push_back({"lm_head.weight", {vocab, embd}});
  return tensors;
}

uint64_t writeCheckpoint(const fs::path &dir, int layers) {
  const int64_t vocab = 1000;
  auto tensors = llamaTensors(layers, vocab);
  std::string header = "{";
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint64_t count = 1;
    std::string shape;
    for (size_t d = 0; d < tensors[i].shape.size(); ++d) {
      count *= static_cast<uint64_t>(tensors[i].shape[d]);
      shape += (d ? "," : "") + std::to_string(tensors[i].shape[d]);
    }
    header += (i ? "," : "") + std::string("\"") + tensors[i].name +
              "\":{\"dtype\":\"F32\",\"shape\":[" + shape +
              "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + 4 * count) + "]}";
    offset += 4 * count;
  }
  header += "}";
  std::ofstream out(dir / "model.safetensors", std::ios::binary);
  uint64_t length = header.size();
  out.write(reinterpret_cast<const char *>(&length), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  std::vector<float> chunk(1 << 20);
  uint32_t state = 12345;
  for (uint64_t written = 0; written < offset;) {
    for (float &value : chunk) { // xorshift, values in about [-0.05, 0.05]
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
      value = (static_cast<float>(state) / 4294967296.0f - 0.5f) * 0.1f;
    }
    uint64_t n = std::min<uint64_t>(offset - written, chunk.size() * 4);
    out.write(reinterpret_cast<const char *>(chunk.data()), static_cast<std::streamsize>(n));
    written += n;
  }
  std::ofstream(dir / "config.json")
      << "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":2048,"
         "\"intermediate_size\":5632,\"num_hidden_layers\":" << layers
      << ",\"num_attention_heads\":32,\"num_key_value_heads\":4,"
         "\"vocab_size\":1000,\"max_position_embeddings\":2048,"
         "\"rms_norm_eps\":1e-05,\"rope_theta\":10000.0,"
         "\"bos_token_id\":1,\"eos_token_id\":2}";
  return 8 + header.size() + offset;
}

// Seconds to read the whole file with read(2) into one reused buffer.
double timeRead(const fs::path &path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  std::vector<char> buffer(8 << 20);
  double start = now();
  while (::read(fd, buffer.data(), buffer.size()) > 0) {
  }
  double seconds = now() - start;
  ::close(fd);
  return seconds;
}

// Seconds to copy the mapped file into memory (what conversion to f32 does
// for most tensors) and to write that many bytes to a file in 8 MiB pieces.
double timeCopy(const fs::path &path, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDONLY);
  void *map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  std::vector<char> buffer(8 << 20);
  double start = now();
  for (uint64_t at = 0; at < size; at += buffer.size())
  {
    std::memcpy(buffer.data(), static_cast<char *>(map) + at,
                std::min<uint64_t>(buffer.size(), size - at));
    asm volatile("" : : "r"(buffer.data()) : "memory"); // keep the copy
  }
  double seconds = now() - start;
  ::munmap(map, size);
  ::close(fd);
  return seconds;
}

// Seconds to write `size` bytes of `source`'s mapping to a new file and
// fsync it: a copy of the checkpoint, the least any converter writing f32
// has to do after reading.
double timeWrite(const fs::path &source, const fs::path &path, uint64_t size) {
  int in = ::open(source.c_str(), O_RDONLY);
  void *map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, in, 0);
  double start = now();
  {
    int out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (uint64_t at = 0; at < size;) {
      ssize_t n = ::write(out, static_cast<char *>(map) + at,
                          std::min<uint64_t>(size - at, 64 << 20));
      if (n <= 0)
        break;
      at += static_cast<uint64_t>(n);
    }
    ::fsync(out); // AtomicFile syncs before renaming
    ::close(out);
  }
  double seconds = now() - start;
  ::munmap(map, size);
  ::close(in);
  fs::remove(path);
  return seconds;
}

template <typename F> double median3(F &&measure) {
  double t[3] = {measure(), measure(), measure()};
  std::sort(t, t + 3);
  return t[1];
}

} // namespace

int main(int argc, char **argv) {
  int layers = argc > 1 ? std::atoi(argv[1]) : 2;
  bool ownDir = argc <= 2;
  fs::path dir = ownDir ? fs::temp_directory_path() /
                              ("kiln-bench-convert-" + std::to_string(::getpid()))
                        : fs::path(argv[2]);
  fs::create_directories(dir);
  const char *shared = std::getenv("KILN_SHARED_MODELS_DIR");
  fs::path tokenizer = fs::path(shared ? shared : KILN_SHARED_MODELS_DIR) /
                       "tinyshakes-llama/hf/tokenizer.model";
  fs::copy_file(tokenizer, dir / "tokenizer.model", fs::copy_options::overwrite_existing);

  double start = now();
  uint64_t size = writeCheckpoint(dir, layers);
  double mb = size / 1e6;
  std::printf("checkpoint: %d layers, %.0f MB of f32 safetensors (written in %.1f s)\n",
              layers, mb, now() - start);
  timeRead(dir / "model.safetensors"); // warm the page cache
  // Medians of three runs (the development machine is shared).
  double read = median3([&] { return timeRead(dir / "model.safetensors"); });
  double copy = median3([&] { return timeCopy(dir / "model.safetensors", size); });
  double write = median3([&] {
    return timeWrite(dir / "model.safetensors", dir / "write-probe", size);
  });
  std::printf("%-28s %8.0f MB/s\n", "read(2), page cache", mb / read);
  std::printf("%-28s %8.0f MB/s\n", "memcpy from the mapping", mb / copy);
  std::printf("%-28s %8.0f MB/s\n", "copy to a new file + fsync", mb / write);
  std::printf("%-28s %8.0f MB/s (read then write the same bytes)\n",
              "I/O bound for f32 output", mb / (read + write));

  for (const char *type : {"f32", "f16", "bf16", "q8_0"}) {
    kiln::convert::ConvertOptions options;
    options.modelDir = dir.string();
    options.output = (dir / (std::string("out-") + type + ".gguf")).string();
    options.outType = type;
    kiln::Result<kiln::convert::ConvertSummary> summary = kiln::convert::ConvertSummary{};
    double user0 = cpuSeconds(true), sys0 = cpuSeconds(false);
    double seconds = median3([&] {
      double t0 = now();
      summary = kiln::convert::convertModel(options);
      return now() - t0;
    });
    double user = (cpuSeconds(true) - user0) / 3, sys = (cpuSeconds(false) - sys0) / 3;
    if (!summary.ok()) {
      std::fprintf(stderr, "convert %s: %s\n", type, summary.error().message.c_str());
      return 1;
    }
    double outMb = summary->outputBytes / 1e6;
    std::printf("convert to %-17s %8.0f MB/s of checkpoint (%.2f s: CPU %.2f s in "
                "kiln, %.2f s in the kernel; %.0f MB written; read+write alone "
                "would give %.0f MB/s)\n",
                type, mb / seconds, seconds, user, sys, outMb,
                mb / (read + write * outMb / mb));
    fs::remove(options.output);
  }
  if (ownDir)
    fs::remove_all(dir);
  return 0;
}
