#include "SvgBarChart.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace kiln::chart {

namespace {

// Layout, in SVG user units (pixels). Text widths are estimated from the
// number of characters: there is no font engine here, and a generous
// estimate only costs some blank space.
constexpr double kPlotHeight = 300;
constexpr double kBarWidth = 34;
constexpr double kBarGap = 2;
constexpr double kGroupPadding = 24;
constexpr double kMinGroupWidth = 60;
constexpr double kMinLeft = 84; // tick labels and the value-axis label
constexpr double kTop = 70;    // title, legend, and the value above a full bar
constexpr double kRight = 24;
constexpr double kCharWidth = 6.6; // at 12 px, a little wide for most fonts
constexpr double kLabelAngle = 40; // degrees, for group labels too wide to lie flat

const char *const kColors[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                               "#76b7b2", "#edc948", "#b07aa1", "#9c755f"};

std::string num(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

// Characters, not bytes: UTF-8 continuation bytes do not advance the pen.
size_t displayLength(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text)
    n += (c & 0xC0) != 0x80;
  return n;
}

double textWidth(std::string_view text) { return displayLength(text) * kCharWidth; }

Status checkChart(const BarChart &chart) {
  for (const BarSeries &series : chart.series) {
    if (series.values.size() != chart.groups.size())
      return makeError("chart '", chart.title, "': series '", series.name, "' has ",
                       std::to_string(series.values.size()), " values for ",
                       std::to_string(chart.groups.size()), " groups");
    for (double v : series.values)
      if (!std::isfinite(v) || v < 0)
        return makeError("chart '", chart.title, "': series '", series.name,
                         "' has the value ", std::to_string(v),
                         " (bars need finite values >= 0)");
  }
  return Status::success();
}

} // namespace

AxisScale niceAxis(double largest, int targetTicks) {
  if (!(largest > 0) || !std::isfinite(largest))
    largest = 1;
  targetTicks = std::max(targetTicks, 1);
  double raw = largest / targetTicks;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  AxisScale axis;
  axis.step = 10 * magnitude;
  for (double multiple : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (multiple * magnitude >= raw * (1 - 1e-12)) {
      axis.step = multiple * magnitude;
      break;
    }
  // The small tolerance keeps a largest value that is a whole number of
  // steps (100 with step 20) from getting one empty step more.
  int64_t steps = std::max<int64_t>(1, int64_t(std::ceil(largest / axis.step - 1e-9)));
  axis.max = steps * axis.step;
  for (int64_t i = 0; i <= steps; ++i)
    axis.ticks.push_back(i * axis.step);
  return axis;
}

// The length of the well-formed UTF-8 sequence at the start of `text`, or 0.
static size_t utf8SequenceLength(std::string_view text) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(0);
  size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3
                                  : (lead >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || length > text.size())
    return 0;
  uint32_t code = length == 1 ? lead : lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80)
      return 0;
    code = (code << 6) | (byte(i) & 0x3F);
  }
  // Overlong forms, surrogates and values past Unicode are not characters.
  static const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < smallest[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF)
    return 0;
  return length;
}

std::string escapeXml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t length = utf8SequenceLength(text);
    if (length == 0) {
      out += "\uFFFD"; // a byte that is not UTF-8 (e.g. from a file name)
      text.remove_prefix(1);
      continue;
    }
    char c = text[0];
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&apos;"; break;
    default:
      // Control characters other than tab and newline are not allowed in
      // XML 1.0 at all, escaped or not.
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n')
        out += ' ';
      else
        out.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  return out;
}

std::string formatTick(double value, double step) {
  int decimals = 0;
  for (double scaled = step; decimals < 9; ++decimals, scaled *= 10)
    if (std::fabs(scaled - std::round(scaled)) <= 1e-6 * std::max(1.0, scaled))
      break;
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string formatValue(double value) {
  char text[64];
  if (value == 0)
    return "0";
  if (std::fabs(value) >= 10000)
    std::snprintf(text, sizeof text, "%.0f", value);
  else
    std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

Result<std::string> renderSvg(const BarChart &chart) {
  KILN_TRY(checkChart(chart));
  size_t seriesCount = std::max<size_t>(chart.series.size(), 1);
  double groupWidth = std::max(kMinGroupWidth, seriesCount * kBarWidth +
                                                   (seriesCount - 1) * kBarGap +
                                                   kGroupPadding);
  double plotWidth = std::max<size_t>(chart.groups.size(), 1) * groupWidth;

  double longestLabel = 0;
  for (const std::string &group : chart.groups)
    longestLabel = std::max(longestLabel, textWidth(group));
  bool rotateLabels = longestLabel > groupWidth - 6;
  double labelDepth =
      rotateLabels ? longestLabel * std::sin(kLabelAngle * M_PI / 180) + 24 : 24;

  // Rotated labels hang down to the left of their group; the first one
  // must not leave the picture.
  double left = kMinLeft;
  if (rotateLabels)
    left = std::max(left, longestLabel * std::cos(kLabelAngle * M_PI / 180) -
                              groupWidth / 2 + 8);

  double legendWidth = 0;
  for (const BarSeries &series : chart.series)
    legendWidth += 18 + textWidth(series.name) + 18;

  double width = std::max({left + plotWidth + kRight, textWidth(chart.title) * 1.2 + 40,
                           left + legendWidth + kRight});
  double height = kTop + kPlotHeight + labelDepth + 12;
  double baseline = kTop + kPlotHeight;

  double largest = 0;
  for (const BarSeries &series : chart.series)
    for (double v : series.values)
      largest = std::max(largest, v);
  AxisScale axis = niceAxis(largest);
  auto yOf = [&](double value) { return baseline - value / axis.max * kPlotHeight; };

  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width) +
         "\" height=\"" + num(height) + "\" viewBox=\"0 0 " + num(width) + " " +
         num(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "  <title>" + escapeXml(chart.title) + "</title>\n";
  svg += "  <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "  <text class=\"chart-title\" x=\"" + num(width / 2) +
         "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" +
         escapeXml(chart.title) + "</text>\n";

  // Legend, one swatch per series, on a row under the title.
  svg += "  <g class=\"legend\">\n";
  double x = left;
  for (size_t s = 0; s < chart.series.size(); ++s) {
    svg += "    <rect x=\"" + num(x) + "\" y=\"34\" width=\"12\" height=\"12\" fill=\"" +
           kColors[s % std::size(kColors)] + "\"/>\n";
    svg += "    <text x=\"" + num(x + 18) + "\" y=\"44\">" +
           escapeXml(chart.series[s].name) + "</text>\n";
    x += 18 + textWidth(chart.series[s].name) + 18;
  }
  svg += "  </g>\n";

  // Value axis: grid lines and tick labels, then the axis lines on top.
  svg += "  <g class=\"axis\">\n";
  for (double tick : axis.ticks) {
    double y = yOf(tick);
    svg += "    <line x1=\"" + num(left) + "\" y1=\"" + num(y) + "\" x2=\"" +
           num(left + plotWidth) + "\" y2=\"" + num(y) +
           "\" stroke=\"#dddddd\" stroke-width=\"1\"/>\n";
    svg += "    <line x1=\"" + num(left - 5) + "\" y1=\"" + num(y) + "\" x2=\"" +
           num(left) + "\" y2=\"" + num(y) + "\" stroke=\"black\"/>\n";
    svg += "    <text class=\"tick\" x=\"" + num(left - 8) + "\" y=\"" + num(y + 4) +
           "\" text-anchor=\"end\">" + formatTick(tick, axis.step) + "</text>\n";
  }
  svg += "    <line x1=\"" + num(left) + "\" y1=\"" + num(kTop) + "\" x2=\"" + num(left) +
         "\" y2=\"" + num(baseline) + "\" stroke=\"black\"/>\n";
  svg += "    <line x1=\"" + num(left) + "\" y1=\"" + num(baseline) + "\" x2=\"" +
         num(left + plotWidth) + "\" y2=\"" + num(baseline) + "\" stroke=\"black\"/>\n";
  svg += "    <text class=\"axis-label\" transform=\"translate(" + num(left - 62) + "," +
         num(kTop + kPlotHeight / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         escapeXml(chart.valueLabel) + "</text>\n";
  svg += "  </g>\n";

  if (chart.groups.empty())
    svg += "  <text x=\"" + num(left + plotWidth / 2) + "\" y=\"" +
           num(kTop + kPlotHeight / 2) + "\" text-anchor=\"middle\">no data</text>\n";

  // One group per category: its bars side by side, centred in its slot.
  double barsWidth = chart.series.size() * kBarWidth +
                     (chart.series.empty() ? 0 : (chart.series.size() - 1) * kBarGap);
  for (size_t g = 0; g < chart.groups.size(); ++g) {
    double slot = left + g * groupWidth;
    double center = slot + groupWidth / 2;
    svg += "  <g class=\"bar-group\">\n";
    for (size_t s = 0; s < chart.series.size(); ++s) {
      double value = chart.series[s].values[g];
      double barLeft = center - barsWidth / 2 + s * (kBarWidth + kBarGap);
      double top = yOf(value);
      std::string what = escapeXml(chart.groups[g] + ", " + chart.series[s].name +
                                   ": " + formatValue(value));
      svg += "    <rect class=\"bar\" x=\"" + num(barLeft) + "\" y=\"" + num(top) +
             "\" width=\"" + num(kBarWidth) + "\" height=\"" + num(baseline - top) +
             "\" fill=\"" + kColors[s % std::size(kColors)] + "\"><title>" + what +
             "</title></rect>\n";
      svg += "    <text class=\"value\" x=\"" + num(barLeft + kBarWidth / 2) + "\" y=\"" +
             num(top - 4) + "\" text-anchor=\"middle\" font-size=\"10\">" +
             formatValue(value) + "</text>\n";
    }
    std::string label = escapeXml(chart.groups[g]);
    if (rotateLabels)
      svg += "    <text class=\"group-label\" transform=\"translate(" + num(center) + "," +
             num(baseline + 16) + ") rotate(-" + num(kLabelAngle) +
             ")\" text-anchor=\"end\">" + label + "</text>\n";
    else
      svg += "    <text class=\"group-label\" x=\"" + num(center) + "\" y=\"" +
             num(baseline + 18) + "\" text-anchor=\"middle\">" + label + "</text>\n";
    svg += "  </g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

Status writeSvg(const BarChart &chart, AtomicFile &file) {
  auto svg = renderSvg(chart);
  if (!svg)
    return std::move(svg).takeError();
  KILN_TRY(file.write(svg->data(), svg->size()));
  return file.commit();
}

Status writeSvg(const BarChart &chart, const std::string &path) {
  auto file = AtomicFile::create(path);
  if (!file)
    return std::move(file).takeError();
  return writeSvg(chart, *file);
}

} // namespace kiln::chart
