#include "SvgBarChart.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <unistd.h>

namespace kiln::chart {
namespace {

namespace fs = std::filesystem;

size_t countOf(const std::string &text, const std::string &needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

// A small well-formedness check, enough for what renderSvg writes: tags
// nest and close in order, attribute values are quoted, and text holds no
// raw '<' and no '&' outside the five predefined entities.
::testing::AssertionResult isWellFormedXml(const std::string &xml) {
  std::vector<std::string> open;
  size_t i = 0;
  auto entityOk = [&](size_t at) {
    for (const char *entity : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
      if (xml.compare(at, std::strlen(entity), entity) == 0)
        return true;
    return false;
  };
  while (i < xml.size()) {
    if (xml[i] == '&' && !entityOk(i))
      return ::testing::AssertionFailure() << "bare & at " << i;
    if (xml[i] != '<') {
      ++i;
      continue;
    }
    size_t end = xml.find('>', i);
    if (end == std::string::npos)
      return ::testing::AssertionFailure() << "unclosed tag at " << i;
    std::string tag = xml.substr(i + 1, end - i - 1);
    if (tag.find('<') != std::string::npos)
      return ::testing::AssertionFailure() << "'<' inside tag at " << i;
    if (countOf(tag, "\"") % 2 != 0)
      return ::testing::AssertionFailure() << "unbalanced quotes in <" << tag << ">";
    for (size_t a = tag.find('&'); a != std::string::npos; a = tag.find('&', a + 1))
      if (!entityOk(i + 1 + a))
        return ::testing::AssertionFailure() << "bare & in <" << tag << ">";
    if (tag.starts_with("?")) {
      // the XML declaration
    } else if (tag.starts_with("/")) {
      std::string name = tag.substr(1);
      if (open.empty() || open.back() != name)
        return ::testing::AssertionFailure()
               << "</" << name << "> closes " << (open.empty() ? "nothing" : open.back());
      open.pop_back();
    } else if (!tag.ends_with("/")) {
      open.push_back(tag.substr(0, tag.find_first_of(" \n")));
    }
    i = end + 1;
  }
  if (!open.empty())
    return ::testing::AssertionFailure() << "<" << open.back() << "> never closed";
  return ::testing::AssertionSuccess();
}

BarChart sampleChart() {
  BarChart chart;
  chart.title = "kiln bench: model.gguf";
  chart.valueLabel = "tokens/s";
  chart.groups = {"fused", "unfused", "without kiln-fuse-qkv"};
  chart.series = {{"prefill", {1234.4, 1000, 1100}}, {"decode", {321.25, 300, 310}}};
  return chart;
}

TEST(SvgBarChart, EscapesMarkupCharacters) {
  EXPECT_EQ(escapeXml("<a & 'b'>\""), "&lt;a &amp; &apos;b&apos;&gt;&quot;");
  EXPECT_EQ(escapeXml("plain text 1.5"), "plain text 1.5");
  EXPECT_EQ(escapeXml(""), "");
}

TEST(SvgBarChart, KeepsUtf8AndReplacesWhatXmlCannotHold) {
  EXPECT_EQ(escapeXml("caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x94\xa5"),
            "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x94\xa5");
  EXPECT_EQ(escapeXml("a\xff" "b"), "a\xef\xbf\xbd" "b");        // not UTF-8
  EXPECT_EQ(escapeXml("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  EXPECT_EQ(escapeXml("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); // surrogate
  EXPECT_EQ(escapeXml("\xe2\x86"), "\xef\xbf\xbd\xef\xbf\xbd");  // cut short
  EXPECT_EQ(escapeXml(std::string("a\x01\tb\n", 5)), "a \tb\n"); // control byte
}

TEST(SvgBarChart, AxisEndsOnARoundNumberAtOrAboveTheLargestValue) {
  AxisScale axis = niceAxis(97);
  EXPECT_DOUBLE_EQ(axis.step, 20);
  EXPECT_DOUBLE_EQ(axis.max, 100);
  EXPECT_EQ(axis.ticks, (std::vector<double>{0, 20, 40, 60, 80, 100}));

  EXPECT_DOUBLE_EQ(niceAxis(100).max, 100); // no empty step above an exact fit
  EXPECT_DOUBLE_EQ(niceAxis(1234).step, 250);
  EXPECT_DOUBLE_EQ(niceAxis(1234).max, 1250);
  EXPECT_DOUBLE_EQ(niceAxis(0.37).step, 0.1);
  EXPECT_NEAR(niceAxis(0.37).max, 0.4, 1e-12);
}

TEST(SvgBarChart, AxisStepsAreRoundForAnyLargestValue) {
  for (double largest = 1e-4; largest < 1e7; largest *= 1.37) {
    AxisScale axis = niceAxis(largest);
    double magnitude = std::pow(10.0, std::floor(std::log10(axis.step) + 1e-9));
    double multiple = axis.step / magnitude;
    EXPECT_TRUE(std::fabs(multiple - 1) < 1e-9 || std::fabs(multiple - 2) < 1e-9 ||
                std::fabs(multiple - 2.5) < 1e-9 || std::fabs(multiple - 5) < 1e-9)
        << largest << ": step " << axis.step;
    EXPECT_GE(axis.max, largest * (1 - 1e-9)) << largest;
    EXPECT_GE(axis.ticks.size(), 3u) << largest; // at least two steps
    EXPECT_LE(axis.ticks.size(), 6u) << largest; // at most five
    EXPECT_EQ(axis.ticks.front(), 0);
    EXPECT_DOUBLE_EQ(axis.ticks.back(), axis.max);
  }
}

TEST(SvgBarChart, AxisOfNothingIsZeroToOne) {
  for (double largest : {0.0, -5.0, std::numeric_limits<double>::quiet_NaN()}) {
    AxisScale axis = niceAxis(largest);
    EXPECT_DOUBLE_EQ(axis.max, 1);
    EXPECT_DOUBLE_EQ(axis.step, 0.2);
    EXPECT_EQ(axis.ticks.size(), 6u);
  }
}

TEST(SvgBarChart, FormatsTicksWithTheDecimalsTheStepNeeds) {
  EXPECT_EQ(formatTick(250, 250), "250");
  EXPECT_EQ(formatTick(0.5, 0.25), "0.50");
  EXPECT_EQ(formatTick(0.6000000000000001, 0.2), "0.6");
  EXPECT_EQ(formatTick(0, 0.2), "0.0");
  EXPECT_EQ(formatTick(7.5, 2.5), "7.5");
}

TEST(SvgBarChart, FormatsBarValuesCompactly) {
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(1234.4), "1234");
  EXPECT_EQ(formatValue(56.78), "56.78");
  EXPECT_EQ(formatValue(0.891), "0.891");
  EXPECT_EQ(formatValue(123456.7), "123457"); // never an exponent
}

TEST(SvgBarChart, DrawsOneGroupPerCategoryAndOneBarPerValue) {
  auto svg = renderSvg(sampleChart());
  ASSERT_TRUE(svg.ok()) << svg.error().message;
  EXPECT_TRUE(isWellFormedXml(*svg));
  EXPECT_TRUE(svg->starts_with("<?xml"));
  EXPECT_EQ(countOf(*svg, "<g class=\"bar-group\">"), 3u);
  EXPECT_EQ(countOf(*svg, "<rect class=\"bar\""), 6u);
  EXPECT_EQ(countOf(*svg, "class=\"group-label\""), 3u);
  EXPECT_EQ(countOf(*svg, "class=\"value\""), 6u);
  EXPECT_NE(svg->find(">1234</text>"), std::string::npos); // value on its bar
  EXPECT_NE(svg->find(">prefill</text>"), std::string::npos); // legend
  EXPECT_NE(svg->find(">decode</text>"), std::string::npos);
  EXPECT_NE(svg->find(">tokens/s</text>"), std::string::npos); // axis label
  EXPECT_NE(svg->find(">1250</text>"), std::string::npos);     // top tick
}

TEST(SvgBarChart, BarHeightsAreProportionalToValues) {
  BarChart chart;
  chart.groups = {"a", "b"};
  chart.series = {{"s", {100, 50}}};
  auto svg = renderSvg(chart);
  ASSERT_TRUE(svg.ok());
  // The axis ends at 100, drawn 300 units tall.
  EXPECT_NE(svg->find("height=\"300.0\" fill"), std::string::npos);
  EXPECT_NE(svg->find("height=\"150.0\" fill"), std::string::npos);
}

TEST(SvgBarChart, EscapesEveryLabel) {
  BarChart chart;
  chart.title = "a <b> & \"c\"";
  chart.valueLabel = "x < y";
  chart.groups = {"<group>"};
  chart.series = {{"s&t", {1}}};
  auto svg = renderSvg(chart);
  ASSERT_TRUE(svg.ok());
  EXPECT_TRUE(isWellFormedXml(*svg));
  EXPECT_EQ(svg->find("<b>"), std::string::npos);
  EXPECT_EQ(svg->find("<group>"), std::string::npos);
  EXPECT_NE(svg->find("&lt;group&gt;"), std::string::npos);
  EXPECT_NE(svg->find("s&amp;t"), std::string::npos);
}

TEST(SvgBarChart, HandlesNoGroupsOneValueAndAllZeros) {
  BarChart empty;
  empty.series = {{"prefill", {}}};
  auto svg = renderSvg(empty);
  ASSERT_TRUE(svg.ok());
  EXPECT_TRUE(isWellFormedXml(*svg));
  EXPECT_EQ(countOf(*svg, "bar-group"), 0u);
  EXPECT_NE(svg->find("no data"), std::string::npos);

  BarChart one;
  one.groups = {"only"};
  one.series = {{"prefill", {42}}};
  svg = renderSvg(one);
  ASSERT_TRUE(svg.ok());
  EXPECT_TRUE(isWellFormedXml(*svg));
  EXPECT_EQ(countOf(*svg, "<rect class=\"bar\""), 1u);

  BarChart zeros;
  zeros.groups = {"a", "b"};
  zeros.series = {{"prefill", {0, 0}}, {"decode", {0, 0}}};
  svg = renderSvg(zeros);
  ASSERT_TRUE(svg.ok());
  EXPECT_TRUE(isWellFormedXml(*svg));
  EXPECT_EQ(countOf(*svg, "height=\"0.0\" fill"), 4u);
  EXPECT_NE(svg->find(">1.0</text>"), std::string::npos); // axis 0..1
  EXPECT_EQ(svg->find("nan"), std::string::npos);
  EXPECT_EQ(svg->find("inf"), std::string::npos);
}

TEST(SvgBarChart, LongLabelsAreTurnedAndStayInThePicture) {
  BarChart chart = sampleChart();
  chart.groups[2] = "without kiln-flash-attention";
  chart.groups[0] = "a very long configuration name indeed";
  auto svg = renderSvg(chart);
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(countOf(*svg, "rotate(-40.0)"), 3u);
  // The first group starts right of the space its turned label needs.
  double firstBarX = std::stod(svg->substr(svg->find("<rect class=\"bar\" x=\"") + 21));
  EXPECT_GT(firstBarX, 37 * 6.6 * std::cos(40 * M_PI / 180) - 60);
}

TEST(SvgBarChart, RefusesValuesThatAreNotBars) {
  BarChart chart = sampleChart();
  chart.series[1].values.pop_back();
  auto svg = renderSvg(chart);
  ASSERT_FALSE(svg.ok());
  EXPECT_NE(svg.error().message.find("'decode' has 2 values for 3 groups"),
            std::string::npos);
  for (double bad : {-1.0, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
    chart = sampleChart();
    chart.series[0].values[1] = bad;
    svg = renderSvg(chart);
    ASSERT_FALSE(svg.ok()) << bad;
    EXPECT_NE(svg.error().message.find("'prefill'"), std::string::npos);
  }
}

class SvgBarChartFile : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kiln-chart-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SvgBarChartFile, WritesTheRenderedDocument) {
  std::string path = (dir_ / "chart.svg").string();
  ASSERT_TRUE(writeSvg(sampleChart(), path).ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), *renderSvg(sampleChart()));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(SvgBarChartFile, LeavesNothingBehindOnFailure) {
  std::string path = (dir_ / "chart.svg").string();
  BarChart bad = sampleChart();
  bad.series[0].values[0] = -1;
  EXPECT_FALSE(writeSvg(bad, path).ok());
  EXPECT_TRUE(fs::is_empty(dir_)); // neither the chart nor a temporary

  // An old chart stays as it was.
  { std::ofstream(path) << "old"; }
  EXPECT_FALSE(writeSvg(bad, path).ok());
  std::ifstream in(path);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "old");
}

TEST_F(SvgBarChartFile, NamesThePathItCannotWrite) {
  std::string path = (dir_ / "missing" / "chart.svg").string();
  Status status = writeSvg(sampleChart(), path);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find(path), std::string::npos) << status.message();
}

} // namespace
} // namespace kiln::chart
