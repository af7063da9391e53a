#include "RegexSplitter.h"

#include "Unicode.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace kiln {

namespace {

constexpr std::string_view kAsciiWord = "A-Za-z0-9_";

std::string pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  int length = pcre2_get_error_message(code, buffer, sizeof buffer);
  if (length < 0)
    return "PCRE2 error " + std::to_string(code);
  return std::string(reinterpret_cast<const char *>(buffer),
                     static_cast<size_t>(length));
}

// Per-thread JIT stack and match context: matching must not share them
// across threads, and creating them per call would cost more than a short
// text's whole tokenization.
struct MatchScratch {
  pcre2_jit_stack *jitStack = nullptr;
  pcre2_match_context *context = nullptr;
  pcre2_match_data *data = nullptr;

  MatchScratch() {
    context = pcre2_match_context_create(nullptr);
    jitStack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (context && jitStack)
      pcre2_jit_stack_assign(context, nullptr, jitStack);
    data = pcre2_match_data_create(1, nullptr); // only the whole match
  }
  ~MatchScratch() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jitStack);
  }
  MatchScratch(const MatchScratch &) = delete;
  MatchScratch &operator=(const MatchScratch &) = delete;
};

MatchScratch &scratch() {
  thread_local MatchScratch instance;
  return instance;
}

} // namespace

struct RegexSplitter::Compiled {
  pcre2_code *code = nullptr;
  std::string source; // the original pattern, for errors
  ~Compiled() { pcre2_code_free(code); }
};

Result<std::string> translatePattern(std::string_view pattern) {
  std::string out;
  // The character class being copied, if any.
  bool inClass = false;
  size_t classStart = 0; // its '[' in `out`
  bool classNegated = false, classHasSymbols = false, classHasTilde = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[i + 1];
      if (e == 'p' || e == 'P') {
        size_t close = pattern.find('}', i);
        if (i + 2 < pattern.size() && pattern[i + 2] == '{' &&
            close != std::string_view::npos) {
          std::string_view name = pattern.substr(i + 3, close - i - 3);
          // llama.cpp knows only the major letter category.
          if (name == "Lu" || name == "Ll" || name == "Lt" || name == "Lm" ||
              name == "Lo")
            name = "L";
          i = close;
          // llama.cpp's \p{S} leaves out "~" (its table of ASCII symbols
          // lacks it).
          if (name == "S" && !inClass) {
            out += e == 'p' ? "[^\\P{S}~]" : "[\\P{S}~]";
            continue;
          }
          if (name == "S" && inClass) {
            if (e == 'P')
              return makeError("'\\P{S}' inside a character class is not "
                               "supported in pre-tokenizer patterns");
            classHasSymbols = true;
          }
          out += '\\';
          out += e;
          out += '{';
          out += name;
          out += '}';
          continue;
        }
      }
      std::string_view replacement;
      switch (e) {
      case 's':
        replacement = "\\p{White_Space}";
        break;
      case 'S':
        replacement = inClass ? "" : "\\P{White_Space}";
        break;
      case 'd':
        replacement = inClass ? "0-9" : "[0-9]";
        break;
      case 'D':
        replacement = inClass ? "" : "[^0-9]";
        break;
      case 'w':
        replacement = inClass ? kAsciiWord : "[A-Za-z0-9_]";
        break;
      case 'W':
        replacement = inClass ? "" : "[^A-Za-z0-9_]";
        break;
      case 'b':
        replacement = inClass ? "" // backspace in a class: not used
                              : "(?:(?<=[A-Za-z0-9_])(?![A-Za-z0-9_])|"
                                "(?<![A-Za-z0-9_])(?=[A-Za-z0-9_]))";
        break;
      case 'B':
        replacement = "";
        break;
      default:
        if (inClass && e == '~')
          classHasTilde = true;
        out += c;
        out += e;
        ++i;
        continue;
      }
      if (replacement.empty())
        return makeError("'\\", std::string(1, e), "' ",
                         inClass ? "inside a character class " : "",
                         "is not supported in pre-tokenizer patterns");
      out += replacement;
      ++i;
      continue;
    }
    if (c == '[' && !inClass) {
      inClass = true;
      classStart = out.size();
      classNegated = classHasSymbols = classHasTilde = false;
      out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') {
        out += pattern[++i];
        classNegated = true;
      }
      if (i + 1 < pattern.size() && pattern[i + 1] == ']')
        out += pattern[++i];
      continue;
    }
    if (inClass && c == '~')
      classHasTilde = true;
    out += c;
    if (c == ']' && inClass) {
      inClass = false;
      // Take "~" out of (or, negated, back into) a class whose \p{S} would
      // bring it in, unless the class names "~" itself.
      if (classHasSymbols && !classHasTilde) {
        std::string cls = out.substr(classStart);
        out.resize(classStart);
        out += classNegated ? "(?:~|" : "(?:(?!~)";
        out += cls;
        out += ')';
      }
    }
  }
  return out;
}

Result<RegexSplitter> RegexSplitter::compile(
    std::span<const std::string_view> patterns, const std::string &what) {
  RegexSplitter splitter;
  splitter.what_ = what;
  for (size_t index = 0; index < patterns.size(); ++index) {
    auto translated = translatePattern(patterns[index]);
    if (!translated)
      return makeError(what, ": pattern ", std::to_string(index + 1), ": ",
                       translated.error().message);
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    auto compiled = std::make_shared<Compiled>();
    compiled->source = std::string(patterns[index]);
    compiled->code = pcre2_compile(
        reinterpret_cast<PCRE2_SPTR>(translated->data()), translated->size(),
        PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &errorCode, &errorOffset,
        nullptr);
    if (!compiled->code)
      return makeError(what, ": pattern ", std::to_string(index + 1),
                       " does not compile: ", pcre2Message(errorCode),
                       " at offset ", std::to_string(errorOffset), " of '",
                       *translated, "'");
    // JIT is an optimization; without it the interpreter gives the same
    // matches.
    (void)pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);
    splitter.patterns_.push_back(std::move(compiled));
  }
  return splitter;
}

Status RegexSplitter::split(std::string_view text,
                            std::vector<TextSpan> &pieces) const {
  if (text.size() >= UINT32_MAX)
    return makeError(what_, ": text of ", std::to_string(text.size()),
                     " bytes is too long to split");
  // ASCII text is matched as it is.
  size_t firstHigh = 0;
  while (firstHigh < text.size() &&
         static_cast<unsigned char>(text[firstHigh]) < 0x80)
    ++firstHigh;
  if (firstHigh == text.size())
    return splitMatchable(text, pieces);

  // The text as llama.cpp's regexes see it: non-ASCII whitespace as U+000B,
  // surrogates as U+E000 (another code point of class C), anything PCRE2
  // would not take as UTF-8 as U+FFFD; and, once lengths differ, where each
  // of its bytes came from.
  std::string matchable(text.substr(0, firstHigh));
  std::vector<uint32_t> origin;
  bool remapped = false;
  for (size_t offset = firstHigh; offset < text.size();) {
    const unicode::DecodedChar c = unicode::decodeChar(text, offset);
    char32_t cp = c.codepoint;
    if (cp >= 0x80 && unicode::isWhitespace(cp))
      cp = 0x0B;
    else if (cp >= 0xD800 && cp <= 0xDFFF)
      cp = 0xE000;
    const size_t before = matchable.size();
    unicode::appendUtf8(matchable, cp); // past U+10FFFF: U+FFFD
    if (!remapped && matchable.size() - before != c.length) {
      origin.resize(before);
      for (size_t i = 0; i < before; ++i) // equal lengths so far
        origin[i] = static_cast<uint32_t>(i);
      remapped = true;
    }
    if (remapped)
      origin.resize(matchable.size(), static_cast<uint32_t>(offset));
    offset += c.length;
  }
  KILN_TRY(splitMatchable(matchable, pieces));
  if (remapped) {
    origin.push_back(static_cast<uint32_t>(text.size()));
    for (TextSpan &piece : pieces)
      piece = {origin[piece.begin], origin[piece.end]};
  }
  return Status::success();
}

Status RegexSplitter::splitMatchable(std::string_view text,
                                     std::vector<TextSpan> &pieces) const {
  pieces.clear();
  if (text.empty())
    return Status::success();
  pieces.push_back({0, text.size()});
  MatchScratch &work = scratch();
  if (!work.data || !work.context)
    return makeError(what_, ": out of memory for regex matching");

  std::vector<TextSpan> next;
  for (size_t index = 0; index < patterns_.size(); ++index) {
    const Compiled &pattern = *patterns_[index];
    next.clear();
    next.reserve(pieces.size() * 2);
    for (const TextSpan &piece : pieces) {
      auto subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
      const size_t length = piece.size();
      size_t emitted = 0; // end of the last piece emitted, within `piece`
      size_t start = 0;
      uint32_t options = 0;
      while (start <= length) {
        // The subject is checked once by the caller; PCRE2 would otherwise
        // re-check the whole piece on every call (quadratic).
        int rc = pcre2_match(pattern.code, subject, length, start,
                             options | PCRE2_NO_UTF_CHECK, work.data,
                             work.context);
        if (rc == PCRE2_ERROR_NOMATCH)
          break;
        if (rc < 0)
          return makeError(what_, ": pattern ", std::to_string(index + 1),
                           " failed at byte ",
                           std::to_string(piece.begin + start), ": ",
                           pcre2Message(rc));
        const PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(work.data);
        const size_t matchBegin = ovector[0], matchEnd = ovector[1];
        if (matchBegin > emitted)
          next.push_back({piece.begin + emitted, piece.begin + matchBegin});
        if (matchEnd > matchBegin)
          next.push_back({piece.begin + matchBegin, piece.begin + matchEnd});
        emitted = std::max(emitted, matchEnd);
        // After an empty match, look again from the same place for a
        // non-empty one (or any match further on), as std::regex does.
        options = matchEnd == matchBegin ? PCRE2_NOTEMPTY_ATSTART : 0;
        if (matchEnd == matchBegin && matchEnd == length)
          break;
        start = matchEnd;
      }
      if (emitted < length)
        next.push_back({piece.begin + emitted, piece.end});
    }
    pieces.swap(next);
  }
  return Status::success();
}

} // namespace kiln
