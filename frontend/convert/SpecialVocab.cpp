#include "Vocab.h"

#include "support/TextFile.h"

#include <filesystem>
#include <map>
#include <sstream>

namespace kiln::convert {

namespace fs = std::filesystem;

bool looksSpecial(std::string_view token) {
  auto wraps = [&](std::string_view open, std::string_view close) {
    return token.size() >= open.size() + close.size() &&
           token.substr(0, open.size()) == open &&
           token.substr(token.size() - close.size()) == close;
  };
  return token == "<pad>" || token == "<mask>" || token == "<2mass>" ||
         token == "[@BOS@]" || wraps("<|", "|>") ||
         wraps("<\xef\xbd\x9c", "\xef\xbd\x9c>") || // fullwidth bars
         wraps("<unused", ">");
}

namespace {

// merges.txt: an optional "#version" line, then "left right" per line.
Result<std::vector<std::string>> readMergesTxt(const std::string &path) {
  auto contents = readTextFile(path, "the merges file", kMaxJsonFileBytes);
  if (!contents)
    return std::move(contents).takeError();
  std::istringstream in(*contents);
  std::vector<std::string> merges;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    auto isSpace = [](char c) {
      return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
             c == '\f';
    };
    size_t b = 0, e = line.size();
    while (b < e && isSpace(line[b]))
      ++b;
    while (e > b && isSpace(line[e - 1]))
      --e;
    std::string_view text(line.data() + b, e - b);
    if (first) {
      first = false;
      if (!text.empty() && text[0] == '#')
        continue;
    }
    if (text.empty())
      continue;
    std::vector<std::string_view> parts;
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && isSpace(text[i]))
        ++i;
      size_t start = i;
      while (i < text.size() && !isSpace(text[i]))
        ++i;
      if (i > start)
        parts.push_back(text.substr(start, i - start));
    }
    if (parts.size() != 2)
      continue; // llama.cpp's converter skips malformed lines with a warning
    merges.push_back(std::string(parts[0]) + " " + std::string(parts[1]));
  }
  return merges;
}

// tokenizer.json's model.merges: "a b" strings, or ["a", "b"] pairs whose
// spaces are written as U+0120 (as gguf-py does).
Result<std::vector<std::string>> mergesFromTokenizerJson(const nlohmann::json &tok,
                                                         const std::string &path) {
  std::vector<std::string> merges;
  auto model = tok.find("model");
  if (model == tok.end() || !model->is_object())
    return merges;
  auto list = model->find("merges");
  if (list == model->end() || !list->is_array() || list->empty())
    return merges;
  for (const auto &merge : *list) {
    if (merge.is_string()) {
      merges.push_back(merge.get<std::string>());
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      std::string joined;
      for (int side = 0; side < 2; ++side) {
        if (side)
          joined += ' ';
        for (char c : merge[side].get<std::string>())
          joined += c == ' ' ? std::string("\xc4\xa0") : std::string(1, c);
      }
      merges.push_back(std::move(joined));
    } else {
      return makeError(path, ": model.merges has an entry that is neither "
                             "\"a b\" nor [\"a\", \"b\"]");
    }
  }
  return merges;
}

} // namespace

Status addSpecialVocab(const VocabInputs &inputs, bool loadMerges,
                       std::optional<size_t> nVocab, GgufMetadata &out) {
  // gguf-py's order: bos, eos, unk, sep, pad, cls, mask.
  static constexpr std::string_view kOrder[] = {"bos", "eos", "unk", "sep",
                                                "pad", "cls", "mask"};
  std::vector<std::pair<std::string, uint32_t>> ids; // insertion order
  auto setId = [&](std::string_view type, const nlohmann::json *value,
                   const std::string &file) -> Status {
    if (!value || !value->is_number_integer())
      return {};
    if (value->get<int64_t>() < 0)
      return makeError(file, ": ", std::string(type), "_token id ",
                       value->dump(), " is negative");
    uint64_t id = value->get<uint64_t>();
    if (id > UINT32_MAX)
      return makeError(file, ": ", std::string(type), "_token id ",
                       value->dump(), " does not fit in 32 bits");
    if (nVocab && id >= *nVocab)
      return {}; // out of range: skipped with a warning by llama.cpp
    for (const auto &entry : ids)
      if (entry.first == type)
        return {};
    ids.emplace_back(std::string(type), static_cast<uint32_t>(id));
    return {};
  };

  std::vector<std::string> merges;
  nlohmann::json addedTokens = nlohmann::json::array();
  std::string tokenizerJsonPath = (fs::path(inputs.dir) / "tokenizer.json").string();
  if (fs::is_regular_file(tokenizerJsonPath)) {
    auto tok = JsonFile::read(tokenizerJsonPath);
    if (!tok)
      return std::move(tok).takeError();
    if (loadMerges) {
      auto parsed = mergesFromTokenizerJson(tok->json(), tokenizerJsonPath);
      if (!parsed)
        return std::move(parsed).takeError();
      merges = std::move(*parsed);
    }
    auto added = tok->json().find("added_tokens");
    if (added != tok->json().end() && added->is_array())
      addedTokens = *added;
  }

  std::map<std::string, bool> addFlags;
  std::vector<std::string> addOrder;
  std::optional<std::string> chatTemplate;
  auto tokenizerConfig =
      JsonFile::readIfExists((fs::path(inputs.dir) / "tokenizer_config.json").string());
  if (!tokenizerConfig)
    return std::move(tokenizerConfig).takeError();
  const nlohmann::json &tc = tokenizerConfig->json();
  if (auto it = tc.find("chat_template"); it != tc.end() && it->is_string())
    chatTemplate = it->get<std::string>();
  for (std::string_view type : kOrder) {
    std::string key(type);
    if (auto it = tc.find("add_" + key + "_token"); it != tc.end() && it->is_boolean()) {
      addFlags[key] = it->get<bool>();
      addOrder.push_back(key);
    }
    auto entry = tc.find(key + "_token");
    if (entry == tc.end())
      continue;
    std::string content;
    if (entry->is_string())
      content = entry->get<std::string>();
    else if (entry->is_object() && entry->contains("content") &&
             (*entry)["content"].is_string())
      content = (*entry)["content"].get<std::string>();
    else
      continue;
    for (const auto &token : addedTokens)
      if (token.is_object() && token.value("content", nlohmann::json()) == content) {
        auto id = token.find("id");
        KILN_TRY(setId(type, id == token.end() ? nullptr : &*id,
                       tokenizerJsonPath));
        break;
      }
  }
  for (std::string_view type : kOrder) {
    auto it = inputs.config->json().find(std::string(type) + "_token_id");
    KILN_TRY(setId(type, it == inputs.config->json().end() ? nullptr : &*it,
                   inputs.config->path()));
  }
  if (loadMerges && merges.empty()) {
    std::string mergesPath = (fs::path(inputs.dir) / "merges.txt").string();
    if (fs::is_regular_file(mergesPath)) {
      auto parsed = readMergesTxt(mergesPath);
      if (!parsed)
        return std::move(parsed).takeError();
      merges = std::move(*parsed);
    }
  }

  if (!merges.empty())
    out.set("tokenizer.ggml.merges", GgufArray{std::move(merges)});
  static const std::map<std::string, std::string, std::less<>> kIdKeys = {
      {"bos", "tokenizer.ggml.bos_token_id"},
      {"eos", "tokenizer.ggml.eos_token_id"},
      {"unk", "tokenizer.ggml.unknown_token_id"},
      {"sep", "tokenizer.ggml.seperator_token_id"}, // sic, as llama.cpp spells it
      {"pad", "tokenizer.ggml.padding_token_id"},
      {"mask", "tokenizer.ggml.mask_token_id"},
      // gguf-py has no writer for cls ids: they are left out.
  };
  for (const auto &[type, id] : ids)
    if (auto key = kIdKeys.find(type); key != kIdKeys.end())
      out.set(key->second, GgufValue(id));
  for (const std::string &type : addOrder)
    if (type == "bos" || type == "eos")
      out.set("tokenizer.ggml.add_" + type + "_token", GgufValue(addFlags[type]));
  if (chatTemplate)
    out.set("tokenizer.chat_template", GgufValue(*chatTemplate));
  return {};
}

} // namespace kiln::convert
