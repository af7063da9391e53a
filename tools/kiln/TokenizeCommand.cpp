// `kiln tokenize MODEL (TEXT | -f FILE) [--ids] [--no-bos] [--parse-special]`
// and `kiln detokenize MODEL ID...`: the model's tokenizer, from the command
// line.
#include "Command.h"

#include "tokenizer/Tokenizer.h"
#include "support/TextFile.h"
#include "tokenizer/Unicode.h"

#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

namespace kiln::cli {

namespace {

struct TokenizeArgs {
  std::string model;
  std::string text;
  std::string file;
  bool idsOnly = false;
  bool noBos = false;
  bool parseSpecial = false;
};

struct DetokenizeArgs {
  std::string model;
  std::vector<std::string> ids;
  bool special = false;
  bool cleanSpaces = false;
};

Result<Tokenizer> loadTokenizer(const std::string &model) {
  auto tokenizer = Tokenizer::open(model);
  if (tokenizer)
    for (const std::string &warning : tokenizer->vocabulary().warnings())
      std::cerr << "kiln: warning: " << warning << "\n";
  return tokenizer;
}

// The bytes of a file, exactly; "-" is standard input.
Result<std::string> readAll(const std::string &path) {
  return readTextFile(path, "the text file (-f)");
}

bool isStrictUtf8(std::string_view bytes, size_t offset, size_t &length) {
  unicode::DecodedChar c = unicode::decodeChar(bytes, offset);
  length = c.length;
  if (c.codepoint == unicode::kReplacementChar && c.length == 1)
    return false;
  // Reject what the lenient decoder lets through: overlong forms,
  // surrogates, values past U+10FFFF.
  const char32_t cp = c.codepoint;
  const size_t shortest = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  return shortest == c.length && !(cp >= 0xD800 && cp <= 0xDFFF) &&
         cp <= 0x10FFFF;
}

// A piece as readable text: UTF-8 characters as they are, controls and
// bytes that are not UTF-8 as escapes (\n, \t, \xNN).
std::string escapePiece(std::string_view bytes) {
  std::string out;
  char hex[8];
  for (size_t i = 0; i < bytes.size();) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    size_t length = 1;
    if (byte == '\\') {
      out += "\\\\";
    } else if (byte == '\n') {
      out += "\\n";
    } else if (byte == '\t') {
      out += "\\t";
    } else if (byte == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7F) {
      std::snprintf(hex, sizeof hex, "\\x%02X", byte);
      out += hex;
    } else if (byte < 0x80) {
      out += static_cast<char>(byte);
    } else if (isStrictUtf8(bytes, i, length)) {
      out.append(bytes.substr(i, length));
    } else {
      length = 1;
      std::snprintf(hex, sizeof hex, "\\x%02X", byte);
      out += hex;
    }
    i += length;
  }
  return out;
}

int runTokenize(const TokenizeArgs &args, bool hasText, bool hasFile) {
  if (hasText == hasFile)
    return reportError("tokenize: give the text or -f FILE (one of them)");
  std::string text = args.text;
  if (hasFile) {
    auto bytes = readAll(args.file);
    if (!bytes)
      return reportError(bytes.error().message);
    text = std::move(*bytes);
  }
  auto tokenizer = loadTokenizer(args.model);
  if (!tokenizer)
    return reportError(tokenizer.error().message);
  auto ids = tokenizer->encode(
      text, {.addSpecial = !args.noBos, .parseSpecial = args.parseSpecial});
  if (!ids)
    return reportError(ids.error().message);

  std::string out;
  if (args.idsOnly) {
    for (size_t i = 0; i < ids->size(); ++i)
      out += (i ? " " : "") + std::to_string((*ids)[i]);
    out += '\n';
  } else {
    for (TokenId id : *ids) {
      auto piece = tokenizer->piece(id);
      if (!piece)
        return reportError(piece.error().message);
      out += std::to_string(id) + '\t' + escapePiece(*piece) + '\n';
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

// Ids may also come as one argument ("1 2 3" or "1,2,3").
Result<std::vector<TokenId>> parseIds(const std::vector<std::string> &args) {
  std::vector<TokenId> ids;
  for (const std::string &arg : args) {
    size_t i = 0;
    while (i < arg.size()) {
      if (arg[i] == ' ' || arg[i] == ',' || arg[i] == '\t' || arg[i] == '\n') {
        ++i;
        continue;
      }
      long long value = 0;
      auto [end, ec] = std::from_chars(arg.data() + i, arg.data() + arg.size(),
                                       value);
      const size_t used = static_cast<size_t>(end - (arg.data() + i));
      if (ec != std::errc() || (i + used < arg.size() && arg[i + used] != ' ' &&
                                arg[i + used] != ',' && arg[i + used] != '\t' &&
                                arg[i + used] != '\n'))
        return makeError("'", arg, "' is not a list of token ids");
      if (value < INT32_MIN || value > INT32_MAX)
        return makeError("token id ", std::to_string(value),
                         " is outside the vocabulary");
      ids.push_back(static_cast<TokenId>(value));
      i += used;
    }
  }
  return ids;
}

int runDetokenize(const DetokenizeArgs &args) {
  auto ids = parseIds(args.ids);
  if (!ids)
    return reportError(ids.error().message);
  auto tokenizer = loadTokenizer(args.model);
  if (!tokenizer)
    return reportError(tokenizer.error().message);
  auto text = tokenizer->decode(*ids, {.renderSpecial = args.special,
                                       .cleanUpSpaces = args.cleanSpaces});
  if (!text)
    return reportError(text.error().message);
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

} // namespace

Command addTokenizeCommand(CLI::App &parent) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App *app = parent.add_subcommand(
      "tokenize", "Print the token ids of a text, as llama.cpp tokenizes it");
  app->add_option("model", args->model, "GGUF file")->required();
  CLI::Option *text = app->add_option(
      "text", args->text, "The text (put '--' before a text starting with -)");
  CLI::Option *file = app->add_option(
      "-f,--file", args->file, "Read the text from FILE, byte for byte "
                               "('-': standard input)");
  app->add_flag("--ids", args->idsOnly,
                "Print only the ids, space-separated, on one line");
  app->add_flag("--no-bos", args->noBos,
                "Add no BOS/EOS (or CLS/SEP) even if the model asks for them");
  app->add_flag("--parse-special", args->parseSpecial,
                "Recognize control tokens written in the text (<s>, "
                "<|endoftext|>...)");
  app->footer("Without --ids each line is ID<TAB>PIECE, the piece being the "
              "bytes the token stands for (\\n, \\t, \\xNN for bytes that are "
              "not printable UTF-8).");
  return {app, [args, text, file]() {
            return runTokenize(*args, text->count() > 0, file->count() > 0);
          }};
}

Command addDetokenizeCommand(CLI::App &parent) {
  auto args = std::make_shared<DetokenizeArgs>();
  CLI::App *app = parent.add_subcommand(
      "detokenize", "Print the text of token ids (exactly its bytes, no "
                    "newline added)");
  app->add_option("model", args->model, "GGUF file")->required();
  app->add_option("ids", args->ids, "Token ids (also \"1 2 3\" or 1,2,3)")
      ->required();
  app->add_flag("--special", args->special,
                "Print control tokens' text (<s>, <|endoftext|>...)");
  app->add_flag("--clean-spaces", args->cleanSpaces,
                "Apply llama.cpp's clean-up of spaces before punctuation "
                "where the vocabulary asks for it (lossy)");
  return {app, [args]() { return runDetokenize(*args); }};
}

} // namespace kiln::cli
