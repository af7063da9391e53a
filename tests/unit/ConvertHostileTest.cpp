// Hostile and malformed checkpoints: each is refused with an error that
// names the file and the problem; pickles cannot call anything.
#include "ConvertTestUtil.h"
#include "TestData.h"

#include "convert/Checkpoint.h"
#include "convert/Converter.h"
#include "convert/JsonDepth.h"
#include "convert/JsonFile.h"
#include "convert/SafeUnpickler.h"
#include "convert/SafetensorsReader.h"
#include "convert/SentencePieceModel.h"
#include "convert/TensorPlan.h"
#include "convert/TorchReader.h"
#include "convert/ZipReader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

namespace kiln::test {
namespace {

using namespace std::string_literals;

using namespace kiln::convert;

std::vector<uint8_t> floats(std::initializer_list<float> values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

std::string safetensorsError(const std::vector<uint8_t> &bytes) {
  Checkpoint checkpoint;
  Status status = parseSafetensors(bytes, "bad.safetensors", checkpoint);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(checkpoint.tensors().empty());
  return status.message();
}

#define EXPECT_MESSAGE(message, fragment)                                      \
  EXPECT_NE((message).find(fragment), std::string::npos) << (message)

TEST(SafetensorsReader, ReadsTensorsInPlace) {
  auto bytes = safetensorsBytes(
      {{"a", "F32", {2, 2}, floats({1, 2, 3, 4})},
       {"b", "F16", {3}, std::vector<uint8_t>(6, 0)},
       {"c", "BF16", {1}, std::vector<uint8_t>(2, 0)}});
  Checkpoint checkpoint;
  ASSERT_TRUE(parseSafetensors(bytes, "x", checkpoint).ok());
  ASSERT_EQ(checkpoint.tensors().size(), 3u);
  const SourceTensor *a = checkpoint.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(a->data.data(), bytes.data() + bytes.size() - 4 * 4 - 6 - 2);
  EXPECT_EQ(checkpoint.find("b")->dtype, DType::F16);
  EXPECT_EQ(checkpoint.find("c")->dtype, DType::BF16);
}

TEST(SafetensorsReader, RefusesMalformedHeaders) {
  auto good = safetensorsBytes({{"w", "F32", {2}, floats({1, 2})}});
  EXPECT_MESSAGE(safetensorsError({1, 2, 3}), "too short for the 8-byte header length");
  std::vector<uint8_t> longHeader = good;
  longHeader[0] = 0xff;
  longHeader[3] = 0x7f;
  EXPECT_MESSAGE(safetensorsError(longHeader), "runs past the end of the file");
  auto truncated = good;
  truncated.resize(truncated.size() - 3);
  EXPECT_MESSAGE(safetensorsError(truncated), "lie outside the data");
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes("{\"w\":", {})), "not valid JSON");
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes("[1]", {})), "not a JSON object");
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes(
                     R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}})",
                     floats({1, 2}))),
                 "tensor 'w': data_offsets [0,800] lie outside the data");
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes(
                     R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                     floats({1, 2}))),
                 "dtype F32 and shape [3] need 12 bytes, but data_offsets [0,8] hold 8");
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes(
                     R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})",
                     floats({1, 2}))),
                 "need 4 bytes");
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes(
                     R"({"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})",
                     floats({1, 2}))),
                 "dtype 'F8_E4M3' is not supported");
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes(
                     R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
                     floats({1, 2}))),
                 "not a non-negative integer");
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes(
                     R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                     floats({1, 2}))),
                 "overflows");
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes(
                     R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})",
                     floats({1, 2}))),
                 "end before they begin");
  EXPECT_MESSAGE(
      safetensorsError(safetensorsBytes(
          R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},)"
          R"("c":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          floats({1, 2, 3, 4, 5}))),
      "tensors 'a' and 'c' overlap");
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes(R"({"w":{"shape":[2]}})", {})),
                 "field 'dtype' is missing");
}

TEST(SafetensorsReader, RefusesHeadersNestedPastTheBound) {
  // 200k levels once overflowed the stack when the parsed header was
  // copied; the scan refuses it before nlohmann builds anything.
  std::string deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes(deep, {})),
                 "bad.safetensors: the header nests deeper than 64 levels (at byte 72)");
  std::string header = R"({"__metadata__":{"x":)" + std::string(63, '[') + "1" +
                       std::string(63, ']') + "}}";
  EXPECT_MESSAGE(safetensorsError(safetensorsBytes(header, {})),
                 "nests deeper than 64 levels");
  // 64 levels, and brackets inside strings, are fine.
  header = R"({"__metadata__":{"x":)" + std::string(62, '[') + R"("[[\"{{")" +
           std::string(62, ']') + "}}";
  Checkpoint checkpoint;
  Status status = parseSafetensors(safetensorsBytes(header, {}), "ok.safetensors", checkpoint);
  EXPECT_TRUE(status.ok()) << status.message();
}

TEST(JsonDepth, CountsBracketsOutsideStrings) {
  EXPECT_EQ(findJsonTooDeep("{}", 1), std::nullopt);
  EXPECT_EQ(findJsonTooDeep("{}", 0), 0u);
  EXPECT_EQ(findJsonTooDeep(R"({"a":[1,{"b":[]}]})", 4), std::nullopt);
  EXPECT_EQ(findJsonTooDeep(R"({"a":[1,{"b":[]}]})", 3), 13u);
  EXPECT_EQ(findJsonTooDeep(R"(["\"[[[", "\\", [[]]])", 2), 17u);
  EXPECT_EQ(findJsonTooDeep(R"(["\"[[[", "\\", [[]]])", 3), std::nullopt);
  // Closers before openers do not buy extra depth.
  EXPECT_EQ(findJsonTooDeep("]]]]][[", 1), 6u);
}

TEST(JsonFile, RefusesWhatIsNotARegularBoundedShallowFile) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("config.json"));
  auto directory = JsonFile::read(dir.file("config.json"));
  ASSERT_FALSE(directory.ok());
  EXPECT_MESSAGE(directory.error().message, "config.json: the JSON file is a directory");
  auto device = JsonFile::read("/dev/zero");
  ASSERT_FALSE(device.ok());
  EXPECT_MESSAGE(device.error().message, "/dev/zero: the JSON file is a character device");
  auto deep = JsonFile::parse("{\"a\":" + std::string(100000, '{'), "tokenizer.json");
  ASSERT_FALSE(deep.ok());
  EXPECT_MESSAGE(deep.error().message,
                 "tokenizer.json: JSON nests deeper than 64 levels (at byte 68)");
  auto fine = JsonFile::parse(R"({"rope_theta": 10000.0})", "config.json");
  ASSERT_TRUE(fine.ok()) << fine.error().message;
  EXPECT_EQ(*fine->getFloat({"rope_theta"}), 10000.0);
}

// --- pickles -------------------------------------------------------------

std::string pickleError(const std::string &pickle) {
  auto result = unpickle(bytesOf(pickle), "data.pkl");
  EXPECT_FALSE(result.ok());
  return result.ok() ? "" : result.error().message;
}

TEST(SafeUnpickler, RefusesDisallowedGlobalsBeforeCallingThem) {
  // pickle.dumps of an object whose __reduce__ is (os.system, ("touch x",)).
  std::string osSystem = std::string("\x80\x02") + "cos\nsystem\nq\x00X\x07\x00\x00\x00touch xq\x01\x85q\x02Rq\x03."s;
  EXPECT_MESSAGE(pickleError(osSystem), "global 'os.system' is not allowed");
  // The same through STACK_GLOBAL (protocol 4).
  std::string eval = std::string("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00"s) +
                     "\x8c\x08" "builtins" "\x8c\x04" "eval" "\x93" "\x8c\x01" "1" "\x85" "R.";
  EXPECT_MESSAGE(pickleError(eval), "global 'builtins.eval' is not allowed");
  EXPECT_MESSAGE(pickleError("cposix\nsystem\n."), "'posix.system'");
  EXPECT_MESSAGE(pickleError("ctorch\nload\n."), "'torch.load'");
}

TEST(SafeUnpickler, RefusesMalformedPickles) {
  EXPECT_MESSAGE(pickleError(""), "ends without a STOP");
  EXPECT_MESSAGE(pickleError("\x80\x02}"), "ends without a STOP");
  EXPECT_MESSAGE(pickleError("."), "stack underflow");
  EXPECT_MESSAGE(pickleError("X\xff\xff\xff\x7f"), "runs past the end");
  EXPECT_MESSAGE(pickleError("h\x05."), "memo entry 5 is not set");
  EXPECT_MESSAGE(pickleError("c\x01"), "GLOBAL without its newline");
  EXPECT_MESSAGE(pickleError("ccollections\nOrderedDict\n(K\x01tR."),
                 "OrderedDict called with arguments");
  EXPECT_MESSAGE(pickleError("i__builtin__\nobject\n."), "opcode is not allowed");
  EXPECT_MESSAGE(pickleError("\x80\x09."), "protocol 9");
  // A list that would contain itself.
  EXPECT_MESSAGE(pickleError("]q\x00h\x00"s "a."), "already inside another object");
  // Nesting deeper than any state dict.
  EXPECT_MESSAGE(pickleError(std::string(100, '(') + std::string(100, 't')), "nested more than");
  EXPECT_MESSAGE(pickleError("K\x01K\x02u."), "no mark");
  EXPECT_MESSAGE(pickleError("(X\x01\x00\x00\x00sK\x01K\x02K\x03K\x04tQ."s),
                 "persistent id is not");
}

// A state dict with one transposed (strided) tensor and one parameter.
std::string stateDictPickle() {
  std::string p = "\x80\x02";
  p += "ccollections\nOrderedDict\nq\x00)Rq\x01("s;
  auto storage = [](const std::string &key, int numel) {
    return std::string("(X\x07\x00\x00\x00storageq\x02"s "ctorch\nFloatStorage\nq\x03" "X") +
           std::string(1, static_cast<char>(key.size())) + std::string(3, '\0') + key +
           "X\x03\x00\x00\x00"s "cpu" "K" + std::string(1, static_cast<char>(numel)) + "tQ";
  };
  auto rebuild = std::string("ctorch._utils\n_rebuild_tensor_v2\nq\x04");
  // "t": size (2, 3), stride (1, 2) over storage "0" of 6 floats.
  p += "X\x01\x00\x00\x00t"s + rebuild + "(" + storage("0", 6) +
       "K\x00K\x02K\x03\x86K\x01K\x02\x86\x89"s "h\x00)R"s "tR";
  // "p": a parameter of shape (2,) at offset 1 of storage "1".
  p += "X\x01\x00\x00\x00p"s "ctorch._utils\n_rebuild_parameter\n(" + rebuild + "(" +
       storage("1", 3) + "K\x01K\x02\x85K\x01\x85\x89" "h\x00)R"s "tR" "\x88" "h\x00)R"s "tR";
  p += "u}X\t\x00\x00\x00_metadatah\x00)Rsb."s;
  return p;
}

TEST(TorchReader, ReadsStatesDictWithViewsAndParameters) {
  auto archive = zipBytes({{"archive/data.pkl", bytesOf(stateDictPickle())},
                           {"archive/byteorder", bytesOf("little")},
                           {"archive/data/0", floats({0, 1, 2, 3, 4, 5})},
                           {"archive/data/1", floats({7, 8, 9})}});
  Checkpoint checkpoint;
  Status status = parseTorchArchive(archive, "model.bin", checkpoint);
  ASSERT_TRUE(status.ok()) << status.message();
  const SourceTensor *t = checkpoint.find("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
  std::vector<float> values(6);
  ASSERT_EQ(t->data.size(), 24u);
  std::memcpy(values.data(), t->data.data(), 24);
  EXPECT_EQ(values, (std::vector<float>{0, 2, 4, 1, 3, 5}));
  const SourceTensor *p = checkpoint.find("p");
  ASSERT_NE(p, nullptr);
  std::vector<float> param(2);
  std::memcpy(param.data(), p->data.data(), 8);
  EXPECT_EQ(param, (std::vector<float>{8, 9}));
}

std::string torchError(const std::vector<uint8_t> &archive) {
  Checkpoint checkpoint;
  Status status = parseTorchArchive(archive, "model.bin", checkpoint);
  EXPECT_FALSE(status.ok());
  return status.message();
}

TEST(TorchReader, RefusesBadArchives) {
  std::string osSystem = std::string("\x80\x02") + "cos\nsystem\nq\x00X\x07\x00\x00\x00touch xq\x01\x85q\x02Rq\x03."s;
  EXPECT_MESSAGE(torchError(zipBytes({{"archive/data.pkl", bytesOf(osSystem)}})),
                 "global 'os.system' is not allowed");
  EXPECT_MESSAGE(torchError(zipBytes({{"archive/data.pkl", bytesOf(stateDictPickle()), 8}})),
                 "is compressed (method 8)");
  EXPECT_MESSAGE(torchError(zipBytes({{"archive/data.pkl", bytesOf(stateDictPickle())},
                                      {"archive/data/0", floats({0, 1, 2, 3, 4, 5})}})),
                 "storage '1' is missing");
  EXPECT_MESSAGE(torchError(zipBytes({{"archive/data.pkl", bytesOf(stateDictPickle())},
                                      {"archive/data/0", floats({0, 1, 2})},
                                      {"archive/data/1", floats({7, 8, 9})}})),
                 "less than 6 elements");
  EXPECT_MESSAGE(torchError(zipBytes({{"archive/other", bytesOf("x")}})), "no data.pkl");
  EXPECT_MESSAGE(torchError(bytesOf("\x80\x02}q\x00."s)), "legacy");
  EXPECT_MESSAGE(torchError(bytesOf("PK nothing")), "not a zip archive");
  auto truncated = zipBytes({{"archive/data.pkl", bytesOf(stateDictPickle())}});
  truncated.erase(truncated.begin() + 40, truncated.begin() + 60);
  EXPECT_FALSE(torchError(truncated).empty());
}

TEST(SentencePieceModel, ReadsPiecesAndRefusesTruncation) {
  // piece "a" score 0.5 type 1; piece "<s>" type 3.
  std::string model = "\x0a\x0a\x0a\x01" "a" "\x15\x00\x00\x00\x3f"s "\x18\x01"
                      "\x0a\x07\x0a\x03<s>\x18\x03"
                      "\x12\x02\x08\x01"; // a trainer_spec field, skipped
  auto pieces = parseSentencePieceModel(bytesOf(model), "tokenizer.model");
  ASSERT_TRUE(pieces.ok()) << pieces.error().message;
  ASSERT_EQ(pieces->size(), 2u);
  EXPECT_EQ((*pieces)[0].piece, "a");
  EXPECT_EQ((*pieces)[0].score, 0.5f);
  EXPECT_EQ((*pieces)[1].type, SpmPieceType::Control);
  auto truncated = parseSentencePieceModel(bytesOf(model.substr(0, 5)), "tokenizer.model");
  ASSERT_FALSE(truncated.ok());
  EXPECT_MESSAGE(truncated.error().message, "runs past the end");
  auto badType = parseSentencePieceModel(bytesOf("\x0a\x02\x18\x09"), "tokenizer.model");
  ASSERT_FALSE(badType.ok());
  EXPECT_MESSAGE(badType.error().message, "has type 9");
}

// f16 output of special values as numpy (llama.cpp's converter) rounds
// them: infinities and overflow to inf, NaN payloads kept, ties to even.
TEST(TensorPlan, HalfRoundingOfSpecialValuesFollowsNumpy) {
  const uint32_t inputs[] = {0x7fc00000, 0xffa00000, 0x7f800001, 0x7f802000,
                             0x7f800000, 0x477ff000, 0x33000000, 0x3f800000};
  const uint16_t expected[] = {0x7e00, 0xfd00, 0x7c01, 0x7c01,
                               0x7c00, 0x7c00, 0x0000, 0x3c00};
  std::vector<uint8_t> bytes(sizeof inputs);
  std::memcpy(bytes.data(), inputs, sizeof inputs);
  SourceTensor source{"t", DType::F32, {8}, bytes, "x"};
  PlannedTensor planned;
  planned.name = "t.weight";
  planned.source = &source;
  planned.shape = {8};
  planned.type = GgmlType::F16;
  std::vector<uint8_t> out(16);
  std::vector<float> scratch;
  ASSERT_TRUE(fillTensor(planned, out, scratch).ok());
  for (size_t i = 0; i < 8; ++i) {
    uint16_t half;
    std::memcpy(&half, out.data() + 2 * i, 2);
    EXPECT_EQ(half, expected[i]) << "input 0x" << std::hex << inputs[i];
  }
}

// A whole conversion that fails leaves nothing at the output path.
TEST(Convert, ErrorsNameTheProblemAndLeaveNoFile) {
  TempDir dir;
  auto model = dir.path() / "model";
  std::filesystem::create_directories(model);
  auto write = [&](const std::string &name, const std::string &text) {
    std::ofstream(model / name) << text;
  };
  ConvertOptions options;
  options.modelDir = model.string();
  options.output = dir.file("out.gguf");
  auto expectError = [&](const std::string &fragment) {
    auto result = convertModel(options);
    ASSERT_FALSE(result.ok());
    EXPECT_MESSAGE(result.error().message, fragment);
    EXPECT_FALSE(std::filesystem::exists(options.output));
    for (const auto &entry : std::filesystem::directory_iterator(dir.path()))
      EXPECT_EQ(entry.path().filename(), "model") << "left behind: " << entry.path();
  };
  expectError("config.json: cannot open the JSON file: No such file or directory");
  write("config.json", R"({"architectures": ["FooForCausalLM"]})");
  expectError("architecture 'FooForCausalLM' is not supported");
  write("config.json", R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 8,
    "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
    "vocab_size": 4, "max_position_embeddings": 16, "rms_norm_eps": 1e-5})");
  expectError("no weights found");
  std::vector<SafetensorsEntry> tensors = {
      {"model.embed_tokens.weight", "F32", {4, 8}, std::vector<uint8_t>(128, 0)}};
  writeFile((model / "model.safetensors").string(), safetensorsBytes(tensors));
  expectError("tensor 'model.layers.0.self_attn.q_proj.weight' is missing");
  tensors[0].shape = {8, 4};
  writeFile((model / "model.safetensors").string(), safetensorsBytes(tensors));
  expectError("tensor 'model.embed_tokens.weight' has shape [8, 4], expected [4, 8]");
  options.outType = "q4_0";
  expectError("--outtype q4_0: not one of f32, f16, bf16, q8_0");
}

} // namespace
} // namespace kiln::test
