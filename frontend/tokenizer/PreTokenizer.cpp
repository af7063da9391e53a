#include "PreTokenizer.h"

#include <algorithm>
#include <array>

namespace kiln {

namespace {

using P = std::string_view;

// The regexes are llama.cpp's (src/llama-vocab.cpp), written here as raw
// strings; non-ASCII characters are spelled \x{...}.

// GPT-2's split: contractions, letters, digits, other symbols (each with an
// optional leading space), and whitespace not followed by a non-space.
constexpr P kGpt2 =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";

// Llama 3's: case-insensitive contractions, letters with one leading
// non-letter, digits in threes, symbols with trailing newlines, newlines.
constexpr P kLlama3 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Qwen2's: Llama 3's with single digits.
constexpr P kQwen2 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Han, Hiragana and Katakana runs.
constexpr P kCjkKana = R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re";

constexpr std::array kDefaultPatterns = {
    P(R"re([\p{P}\$\+<=>\^~\|]+)re"),
    kGpt2,
    P(R"re(\p{N}+)re"),
    P(R"re([0-9][0-9][0-9])re"),
};
constexpr std::array kGpt2Patterns = {kGpt2};
constexpr std::array kLlama3Patterns = {kLlama3};
constexpr std::array kQwen2Patterns = {kQwen2};
constexpr std::array kStarcoderPatterns = {P(R"re(\p{N})re"), kGpt2};
constexpr std::array kFalconPatterns = {
    P(R"re([\p{P}\$\+<=>\^~\|`]+)re"),
    kGpt2,
    P(R"re([0-9][0-9][0-9])re"),
};
constexpr std::array kDeepseekCoderPatterns = {
    P(R"re([\r\n])re"),
    P(R"re(\s?\p{L}+)re"),
    P(R"re(\s?\p{P}+)re"),
    P(R"re([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re"),
    P(R"re(\p{N})re"),
};
// The second pattern is the cased letters (Lu, Ll, Lt) of Unicode, as
// ranges.
constexpr std::array kDeepseekLlmPatterns = {
    P(R"re([\r\n])re"),
    P(R"re(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)re"),
    P(R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re"),
    P(R"re(\s+$)re"),
    P(R"re([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re"),
    P(R"re(\p{N}+)re"),
};
constexpr std::array kDeepseek3Patterns = {
    P(R"re(\p{N}{1,3})re"),
    kCjkKana,
    P(R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"),
};
constexpr std::array kSpark25Patterns = {
    P(R"re(\p{N}{1,3})re"),
    kCjkKana,
    P(R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+)re"),
    P(R"re(\p{N})re"),
};
constexpr std::array kJais2Patterns = {
    P(R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1})re"),
};
constexpr std::array kQwen35Patterns = {
    P(R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"),
};
// Poro, Bloom, GPT-3 Finnish: a word is a run of anything but whitespace
// and a few punctuation marks (the parentheses and bar are literal here).
constexpr P kPoro =
    R"re( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C})]+)re";
constexpr std::array kPoroPatterns = {kPoro};
constexpr std::array kVikingPatterns = {kPoro, P(R"re(\p{N})re")};
constexpr std::array kTekkenPatterns = {
    P(R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"),
};
constexpr std::array kChameleonPatterns = {
    P(R"re(<sentinel:[0-9]+>)re"),
    P(R"re((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)re"),
    P(R"re(([\t\n]|    |  ))re"),
    P(R"re(\p{N})re"),
    P(R"re([\p{P}!-/:-@\[-`{-~])re"),
    kGpt2,
};
constexpr std::array kGpt4oPatterns = {
    P(R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"),
};
constexpr std::array kGraniteEmbMultiPatterns = {
    P(R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"),
};
constexpr std::array kTinyAyaPatterns = {
    P(R"re(\d{1,3}(?=(?:\d{3})*\b))re"),
    P(R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"),
};
// The second pattern matches only empty strings: it splits digit runs
// into groups of three from the right.
constexpr std::array kSuperBpePatterns = {
    P(R"re(\p{N}+)re"),
    P(R"re((?=(\d{3})+(?!\d)))re"),
};
constexpr std::array kBailingMoePatterns = {
    P(R"re('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)re"),
};
constexpr std::array kSeedCoderPatterns = {
    P(R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)re"),
};
constexpr std::array kUfakzekaPatterns = {
    P(R"re([^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"),
};
constexpr std::array kLagunaPatterns = {P(R"re([^\n]+|[\n]+)re"), kQwen2};
constexpr std::array kExaoneMoePatterns = {
    P(R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)re"),
};
constexpr std::array kMiniCpm5Patterns = {
    P(R"re(\p{N}{1,3})re"),
    P(R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"),
};

// Names grouped by identical behaviour; the flags are llama.cpp's per name.
constexpr std::array kDefaultNames = {P(""), P("default")};
constexpr std::array kLlama3Names = {
    P("llama3"),   P("llama-v3"), P("llama-bpe"), P("falcon3"),
    P("falcon-h1"), P("pixtral"), P("midm-2.0"),  P("lfm2"),
    P("jina-v5-nano")};
constexpr std::array kLlama3RegexNames = {P("dbrx"), P("smaug-bpe")};
constexpr std::array kChatGlmNames = {P("glm4"), P("chatglm-bpe")};
constexpr std::array kGpt2Names = {
    P("gpt-2"),      P("phi-2"),      P("jina-es"),      P("jina-de"),
    P("gigachat"),   P("jina-v2-es"), P("jina-v2-de"),   P("a.x-4.0"),
    P("mellum"),     P("modern-bert"), P("jina-v1-en"),  P("jina-v2-code"),
    P("roberta-bpe"), P("mpt"),       P("olmo"),         P("jais"),
    P("exaone4")};
constexpr std::array kGpt2NoCleanNames = {P("trillion"), P("granite-docling")};
constexpr std::array kStarcoderNames = {P("starcoder"), P("refact"),
                                        P("codeshell"), P("exaone"),
                                        P("minerva-7b"), P("mellum2")};
constexpr std::array kStarcoderNoCleanNames = {P("command-r"), P("smollm")};
constexpr std::array kFalconNames = {P("falcon")};
constexpr std::array kDeepseekLlmNames = {P("deepseek-llm")};
constexpr std::array kDeepseekCoderNames = {P("deepseek-coder")};
constexpr std::array kDeepseek3Names = {P("deepseek-v3"), P("hunyuan-dense"),
                                        P("hy_v4"), P("joyai-llm")};
constexpr std::array kSpark25Names = {P("spark2_5")};
constexpr std::array kQwen2Names = {P("stablelm2"), P("megrez")};
constexpr std::array kQwen2NoCleanNames = {
    P("qwen2"),  P("deepseek-r1-qwen"), P("kormo"), P("f2llmv2"),
    P("hunyuan"), P("solar-open"),      P("grok-2")};
constexpr std::array kQwen35Names = {P("qwen35")};
constexpr std::array kJais2Names = {P("jais-2")};
constexpr std::array kPoroNoCleanNames = {P("poro-chat")};
constexpr std::array kPoroNames = {P("bloom"), P("gpt3-finnish")};
constexpr std::array kVikingNames = {P("viking")};
constexpr std::array kTekkenNames = {P("tekken")};
constexpr std::array kChameleonNames = {P("chameleon")};
constexpr std::array kGpt4oNames = {P("gpt-4o"), P("llama4"), P("kanana2"),
                                    P("talkie"), P("minimax-m2")};
constexpr std::array kGraniteEmbMultiNames = {P("granite-embed-multi-97m")};
constexpr std::array kTinyAyaNames = {P("tiny_aya"), P("cohere2moe")};
constexpr std::array kSuperBpeNames = {P("superbpe")};
constexpr std::array kBailingMoeNames = {P("bailingmoe"), P("bailingmoe2"),
                                         P("llada-moe")};
constexpr std::array kSeedCoderNames = {P("seed-coder")};
constexpr std::array kUfakzekaNames = {P("ufakzeka")};
constexpr std::array kLagunaNames = {P("laguna")};
constexpr std::array kExaoneMoeNames = {P("exaone-moe")};
constexpr std::array kMiniCpm5Names = {P("minicpm5")};

const PreTokenizerFamily kFamilies[] = {
    {.names = kDefaultNames, .patterns = kDefaultPatterns},
    {.names = kGpt2Names, .patterns = kGpt2Patterns},
    {.names = kGpt2NoCleanNames, .patterns = kGpt2Patterns,
     .cleanSpaces = false},
    {.names = kLlama3Names, .patterns = kLlama3Patterns,
     .ignoreMerges = true, .addBos = true},
    {.names = kLlama3RegexNames, .patterns = kLlama3Patterns},
    {.names = kChatGlmNames, .patterns = kLlama3Patterns,
     .noDefaultBos = true},
    {.names = kStarcoderNames, .patterns = kStarcoderPatterns},
    {.names = kStarcoderNoCleanNames, .patterns = kStarcoderPatterns,
     .cleanSpaces = false},
    {.names = kFalconNames, .patterns = kFalconPatterns},
    {.names = kDeepseekLlmNames, .patterns = kDeepseekLlmPatterns,
     .cleanSpaces = false},
    {.names = kDeepseekCoderNames, .patterns = kDeepseekCoderPatterns,
     .cleanSpaces = false},
    {.names = kDeepseek3Names, .patterns = kDeepseek3Patterns,
     .cleanSpaces = false},
    {.names = kSpark25Names, .patterns = kSpark25Patterns,
     .cleanSpaces = false},
    {.names = kQwen2Names, .patterns = kQwen2Patterns},
    {.names = kQwen2NoCleanNames, .patterns = kQwen2Patterns,
     .cleanSpaces = false},
    {.names = kQwen35Names, .patterns = kQwen35Patterns,
     .cleanSpaces = false},
    {.names = kJais2Names, .patterns = kJais2Patterns},
    {.names = kPoroNoCleanNames, .patterns = kPoroPatterns,
     .cleanSpaces = false},
    {.names = kPoroNames, .patterns = kPoroPatterns},
    {.names = kVikingNames, .patterns = kVikingPatterns,
     .cleanSpaces = false},
    {.names = kTekkenNames, .patterns = kTekkenPatterns,
     .ignoreMerges = true, .addBos = true, .cleanSpaces = false},
    {.names = kChameleonNames, .patterns = kChameleonPatterns,
     .addBos = true, .cleanSpaces = false},
    {.names = kGpt4oNames, .patterns = kGpt4oPatterns, .cleanSpaces = false},
    {.names = kGraniteEmbMultiNames, .patterns = kGraniteEmbMultiPatterns,
     .ignoreMerges = true, .cleanSpaces = false},
    {.names = kTinyAyaNames, .patterns = kTinyAyaPatterns,
     .cleanSpaces = false},
    {.names = kSuperBpeNames, .patterns = kSuperBpePatterns,
     .cleanSpaces = false},
    {.names = kBailingMoeNames, .patterns = kBailingMoePatterns,
     .cleanSpaces = false},
    {.names = kSeedCoderNames, .patterns = kSeedCoderPatterns,
     .cleanSpaces = false},
    {.names = kUfakzekaNames, .patterns = kUfakzekaPatterns,
     .cleanSpaces = false},
    {.names = kLagunaNames, .patterns = kLagunaPatterns,
     .cleanSpaces = false},
    {.names = kExaoneMoeNames, .patterns = kExaoneMoePatterns},
    {.names = kMiniCpm5Names, .patterns = kMiniCpm5Patterns,
     .ignoreMerges = true},
};

} // namespace

const PreTokenizerFamily *findPreTokenizer(std::string_view name) {
  for (const PreTokenizerFamily &family : kFamilies)
    if (std::find(family.names.begin(), family.names.end(), name) !=
        family.names.end())
      return &family;
  return nullptr;
}

std::span<const PreTokenizerFamily> allPreTokenizers() { return kFamilies; }

} // namespace kiln
