// What storing a weight matrix in a lower-precision type costs: the
// squared error it adds to the outputs, weighted by how the model uses the
// weights. For a matmul y = W x the expected output error of W + E is
// E[|E x|^2] = sum_n sum_k E_nk^2 E[x_k^2] when the input's columns are
// uncorrelated, so each input column k weighs E[x_k^2] (measured on a
// calibration text). For an embedding table, a row (token) weighs how often
// it is looked up. This is the sensitivity the precision chooser trades
// against bytes.
#pragma once

#include "GgmlType.h"
#include "support/Result.h"

#include <cstdint>
#include <span>
#include <vector>

namespace kiln {

// Error weights of a matrix of rows x rowLength values: element (n, k)
// weighs columns[k] + rows[n] (an absent vector adds nothing); with both
// absent every element weighs 1.
struct ErrorWeights {
  std::vector<double> columns; // rowLength entries or none
  std::vector<double> rows;    // row-count entries or none
};

// sum_{n,k} weight(n, k) * (values - dequantize(quantize(values, type)))^2
// over a matrix of whole `type` rows.
Result<double> quantizationCost(GgmlType type, std::span<const float> values,
                                int64_t rowLength, const ErrorWeights &weights);

} // namespace kiln
