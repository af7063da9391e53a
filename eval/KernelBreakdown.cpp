#include "eval/KernelBreakdown.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace kiln::eval {

std::string kernelKind(std::string_view symbol) {
  constexpr std::string_view prefix = "kiln_";
  if (!symbol.starts_with(prefix))
    return std::string(symbol);
  std::string_view rest = symbol.substr(prefix.size());
  size_t digits = 0;
  while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits])))
    ++digits;
  if (digits == 0 || digits + 1 >= rest.size() || rest[digits] != '_')
    return std::string(symbol);
  return std::string(rest.substr(digits + 1));
}

std::vector<KernelShare> groupByKernelKind(const std::vector<std::string> &symbols,
                                           const std::vector<double> &seconds,
                                           const std::vector<uint64_t> &calls) {
  std::map<std::string, KernelShare> byKind;
  double total = 0;
  for (size_t i = 0; i < symbols.size() && i < seconds.size(); ++i) {
    uint64_t n = i < calls.size() ? calls[i] : 0;
    if (n == 0 && seconds[i] == 0)
      continue;
    KernelShare &share = byKind[kernelKind(symbols[i])];
    share.seconds += seconds[i];
    share.calls += n;
    total += seconds[i];
  }
  std::vector<KernelShare> shares;
  for (auto &[kind, share] : byKind) {
    share.kind = kind;
    share.fraction = total > 0 ? share.seconds / total : 0;
    shares.push_back(share);
  }
  std::sort(shares.begin(), shares.end(), [](const KernelShare &a, const KernelShare &b) {
    return a.seconds != b.seconds ? a.seconds > b.seconds : a.kind < b.kind;
  });
  return shares;
}

} // namespace kiln::eval
