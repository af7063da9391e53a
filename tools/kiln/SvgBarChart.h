// A grouped bar chart written as a standalone SVG file: one group of bars
// per category (e.g. a compiler configuration), one bar per series (e.g.
// prefill and decode tok/s), a value axis with round ticks, the value on
// each bar, and a legend. Plain text output, no plotting library: the file
// opens in any browser.
#pragma once

#include "support/AtomicFile.h"
#include "support/Result.h"

#include <string>
#include <string_view>
#include <vector>

namespace kiln::chart {

struct BarSeries {
  std::string name;           // legend entry
  std::vector<double> values; // one per group; finite and >= 0
};

struct BarChart {
  std::string title;
  std::string valueLabel;          // the value axis, e.g. "tokens/s"
  std::vector<std::string> groups; // categories, left to right
  std::vector<BarSeries> series;   // bars within each group, legend order
};

// A value axis from 0 to `max` in `ticks` of `step`, where step is 1, 2,
// 2.5 or 5 times a power of ten and max >= the largest value. A largest
// value of 0 (or less) gives the axis 0..1.
struct AxisScale {
  double max = 1;
  double step = 0.2;
  std::vector<double> ticks;
};
AxisScale niceAxis(double largest, int targetTicks = 5);

// The text with &, <, >, " and ' escaped, for element text and attributes;
// bytes that are not UTF-8 become U+FFFD and control characters spaces, so
// the document stays well-formed whatever the text.
std::string escapeXml(std::string_view text);

// A tick label: as many decimals as the step needs ("0", "2.5", "0.25").
std::string formatTick(double value, double step);
// A bar's value, to about four significant digits ("1234", "56.7", "0.89").
std::string formatValue(double value);

// The SVG document; an error when a series has not one value per group or
// a value is negative or not finite.
Result<std::string> renderSvg(const BarChart &chart);

// Renders into `file` and commits it: the chart appears whole or not at all.
Status writeSvg(const BarChart &chart, AtomicFile &file);
Status writeSvg(const BarChart &chart, const std::string &path);

} // namespace kiln::chart
