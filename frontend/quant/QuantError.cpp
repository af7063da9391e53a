#include "QuantError.h"

#include "Dequantize.h"
#include "Quantize.h"

namespace kiln {

Result<double> quantizationCost(GgmlType type, std::span<const float> values,
                                int64_t rowLength, const ErrorWeights &weights) {
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  if (rowLength <= 0 || values.size() % size_t(rowLength) != 0 ||
      rowLength % info.blockSize != 0)
    return makeError("quantization cost: ", std::to_string(values.size()),
                     " values are not whole ", std::string(info.name),
                     " rows of ", std::to_string(rowLength));
  size_t rows = values.size() / size_t(rowLength);
  if (!weights.columns.empty() && weights.columns.size() != size_t(rowLength))
    return makeError("quantization cost: ", std::to_string(weights.columns.size()),
                     " column weights for rows of ", std::to_string(rowLength));
  if (!weights.rows.empty() && weights.rows.size() != rows)
    return makeError("quantization cost: ", std::to_string(weights.rows.size()),
                     " row weights for ", std::to_string(rows), " rows");
  const bool uniform = weights.columns.empty() && weights.rows.empty();
  const size_t rowBytes = size_t(rowLength) / info.blockSize * info.bytesPerBlock;
  std::vector<uint8_t> packed(rowBytes);
  std::vector<float> restored(rowLength);
  double cost = 0;
  for (size_t n = 0; n < rows; ++n) {
    auto row = values.subspan(n * rowLength, rowLength);
    KILN_TRY(quantize(type, row, packed));
    KILN_TRY(dequantize(type, packed, restored));
    double rowWeight = weights.rows.empty() ? 0 : weights.rows[n];
    double rowCost = 0;
    for (int64_t k = 0; k < rowLength; ++k) {
      double error = double(row[k]) - restored[k];
      double weight = uniform ? 1
                              : rowWeight + (weights.columns.empty() ? 0 : weights.columns[k]);
      rowCost += weight * error * error;
    }
    cost += rowCost;
  }
  return cost;
}

} // namespace kiln
