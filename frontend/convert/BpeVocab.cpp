// Byte-level BPE vocabularies (GPT-2 style) to GGUF: tokenizer.json, or
// vocab.json + merges.txt, as llama.cpp's converter writes them. Token
// types: added tokens are control tokens when special (or looking special,
// "<|...|>"), user-defined otherwise; ids missing from the vocabulary are
// "[PADn]" unused tokens.
#include "Vocab.h"

#include <filesystem>
#include <map>

namespace kiln::convert {

namespace fs = std::filesystem;

bool hasBpeVocab(const VocabInputs &inputs) {
  fs::path dir(inputs.dir);
  return fs::is_regular_file(dir / "tokenizer.json") ||
         (fs::is_regular_file(dir / "vocab.json") &&
          fs::is_regular_file(dir / "merges.txt"));
}

namespace {

struct AddedToken {
  std::string content;
  bool special = false;
};

// The pre-tokenizer regexes of tokenizer.json files whose llama.cpp names
// are known (llama.cpp identifies them by hashing a test text's tokens;
// kiln recognizes the pre-tokenizer's definition instead).
struct KnownSplit {
  std::string_view regex;
  std::string_view name;
};
constexpr KnownSplit kKnownSplits[] = {
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "llama-bpe"},
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "qwen2"},
};

Result<std::string> recognizePre(const nlohmann::json &tokenizer,
                                 const std::string &path) {
  auto pre = tokenizer.find("pre_tokenizer");
  auto unknown = [&](const std::string &what) {
    return makeError(path, ": pre_tokenizer ", what,
                     " is not one kiln recognizes; name llama.cpp's "
                     "pre-tokenizer with --vocab-pre (e.g. gpt-2, llama-bpe, "
                     "qwen2, smollm)");
  };
  if (pre == tokenizer.end() || !pre->is_object())
    return unknown("(missing)");
  auto typeField = pre->find("type");
  std::string type = typeField != pre->end() && typeField->is_string()
                         ? typeField->get<std::string>()
                         : std::string();
  if (type == "ByteLevel")
    return std::string("gpt-2");
  if (type == "Sequence") {
    auto list = pre->find("pretokenizers");
    if (list != pre->end() && list->is_array()) {
      std::vector<std::string> types;
      std::string regex;
      for (const auto &item : *list) {
        if (!item.is_object() || !item.contains("type") || !item["type"].is_string())
          return unknown(pre->dump());
        types.push_back(item["type"].get<std::string>());
        if (types.back() == "Split" && item.contains("pattern") &&
            item["pattern"].is_object() && item["pattern"].contains("Regex") &&
            item["pattern"]["Regex"].is_string())
          regex = item["pattern"]["Regex"].get<std::string>();
      }
      if (types == std::vector<std::string>{"Digits", "ByteLevel"})
        return std::string("smollm");
      if (types == std::vector<std::string>{"Split", "ByteLevel"})
        for (const KnownSplit &known : kKnownSplits)
          if (known.regex == regex)
            return std::string(known.name);
    }
  }
  return unknown(pre->dump().substr(0, 200));
}

} // namespace

Status addBpeVocab(const VocabInputs &inputs, const std::string &preOverride,
                   GgufMetadata &out) {
  fs::path dir(inputs.dir);
  std::map<uint64_t, std::string> byId;
  std::map<uint64_t, AddedToken> added;
  std::string pre = "gpt-2";
  std::string source;

  auto addVocabEntry = [&](const std::string &token, const nlohmann::json &id,
                           const std::string &file) -> Status {
    if (!id.is_number_unsigned() || id.get<uint64_t>() > UINT32_MAX)
      return makeError(file, ": token '", token, "' has id ", id.dump(),
                       ", not an id");
    byId[id.get<uint64_t>()] = token;
    return {};
  };

  std::string tokenizerJson = (dir / "tokenizer.json").string();
  if (fs::is_regular_file(tokenizerJson)) {
    source = tokenizerJson;
    auto tok = JsonFile::read(tokenizerJson);
    if (!tok)
      return std::move(tok).takeError();
    const auto &json = tok->json();
    auto model = json.find("model");
    if (model == json.end() || !model->is_object() ||
        model->value("type", nlohmann::json()) != "BPE")
      return makeError(tokenizerJson, ": model.type is not \"BPE\" (only BPE "
                                      "tokenizer.json files are converted)");
    auto vocab = model->find("vocab");
    if (vocab == model->end() || !vocab->is_object())
      return makeError(tokenizerJson, ": model.vocab is missing or not an object");
    for (auto it = vocab->begin(); it != vocab->end(); ++it)
      KILN_TRY(addVocabEntry(it.key(), it.value(), tokenizerJson));
    if (auto list = json.find("added_tokens"); list != json.end() && list->is_array())
      for (const auto &token : *list) {
        if (!token.is_object() || !token.contains("content") ||
            !token["content"].is_string() || !token.contains("id"))
          return makeError(tokenizerJson, ": an added_tokens entry lacks id or content");
        std::string content = token["content"].get<std::string>();
        KILN_TRY(addVocabEntry(content, token["id"], tokenizerJson));
        bool special = token.contains("special") && token["special"].is_boolean() &&
                       token["special"].get<bool>();
        added[token["id"].get<uint64_t>()] = {content, special};
      }
    if (preOverride.empty()) {
      auto recognized = recognizePre(json, tokenizerJson);
      if (!recognized)
        return std::move(recognized).takeError();
      pre = *recognized;
    }
  } else {
    source = (dir / "vocab.json").string();
    auto vocab = JsonFile::read(source);
    if (!vocab)
      return std::move(vocab).takeError();
    for (auto it = vocab->json().begin(); it != vocab->json().end(); ++it)
      KILN_TRY(addVocabEntry(it.key(), it.value(), source));
    auto tokenizerConfig =
        JsonFile::readIfExists((dir / "tokenizer_config.json").string());
    if (!tokenizerConfig)
      return std::move(tokenizerConfig).takeError();
    const auto &tc = tokenizerConfig->json();
    if (auto decoder = tc.find("added_tokens_decoder");
        decoder != tc.end() && decoder->is_object())
      for (auto it = decoder->begin(); it != decoder->end(); ++it) {
        uint64_t id = 0;
        try {
          size_t used = 0;
          id = std::stoull(it.key(), &used);
          if (used != it.key().size())
            throw std::invalid_argument("id");
        } catch (const std::exception &) {
          return tokenizerConfig->fieldError("added_tokens_decoder",
                                             "has a key that is not an id: " + it.key());
        }
        if (!it->is_object() || !it->contains("content") ||
            !(*it)["content"].is_string())
          return tokenizerConfig->fieldError("added_tokens_decoder",
                                             "entry " + it.key() + " has no content");
        std::string content = (*it)["content"].get<std::string>();
        bool special = it->contains("special") && (*it)["special"].is_boolean() &&
                       (*it)["special"].get<bool>();
        byId[id] = content;
        added[id] = {content, special};
      }
  }
  if (!preOverride.empty())
    pre = preOverride;
  if (byId.empty())
    return makeError(source, ": the vocabulary is empty");

  auto configured = inputs.config->optUInt("vocab_size");
  if (!configured)
    return std::move(configured).takeError();
  uint64_t vocabSize = configured->value_or(byId.size());
  if (byId.rbegin()->first >= vocabSize)
    return makeError(source, ": token id ", std::to_string(byId.rbegin()->first),
                     " is not below vocab_size ", std::to_string(vocabSize));

  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  tokens.reserve(vocabSize);
  for (uint64_t id = 0; id < vocabSize; ++id) {
    auto found = byId.find(id);
    if (found == byId.end()) {
      tokens.push_back("[PAD" + std::to_string(id) + "]");
      types.push_back(static_cast<int32_t>(TokenType::Unused));
      continue;
    }
    std::string token = found->second;
    TokenType type = TokenType::Normal;
    if (auto extra = added.find(id); extra != added.end()) {
      if (extra->second.special || looksSpecial(token)) {
        type = TokenType::Control;
      } else {
        for (size_t at = token.find("\xe2\x96\x81"); at != std::string::npos;
             at = token.find("\xe2\x96\x81", at + 1))
          token.replace(at, 3, " ");
        type = TokenType::UserDefined;
      }
    }
    tokens.push_back(std::move(token));
    types.push_back(static_cast<int32_t>(type));
  }

  out.set("tokenizer.ggml.model", GgufValue("gpt2"));
  out.set("tokenizer.ggml.pre", GgufValue(pre));
  out.set("tokenizer.ggml.tokens", GgufArray{std::move(tokens)});
  out.set("tokenizer.ggml.token_type", GgufArray{std::move(types)});
  Status special = addSpecialVocab(inputs, /*loadMerges=*/true, std::nullopt, out);
  if (!special)
    return special;
  if (!out.contains("tokenizer.ggml.merges"))
    return makeError(inputs.dir, ": no merges found (tokenizer.json "
                                 "model.merges or merges.txt); a BPE "
                                 "vocabulary needs them");
  return {};
}

} // namespace kiln::convert
