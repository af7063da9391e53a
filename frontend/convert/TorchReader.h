// Reads a PyTorch checkpoint written by torch.save (pytorch_model.bin,
// *.pth): a zip archive holding data.pkl, the pickled state dict, and one
// entry per storage (data/0, data/1, ...). The pickle goes through the safe
// unpickler; tensors become views of the stored storage entries, in place.
#pragma once

#include "Checkpoint.h"

#include <span>
#include <string>

namespace kiln::convert {

// Adds the tensors of the archive `bytes` (named `source`) to `checkpoint`.
// Tensors that are strided views of their storage are copied into buffers
// the checkpoint keeps.
Status parseTorchArchive(std::span<const uint8_t> bytes,
                         const std::string &source, Checkpoint &checkpoint);

Status readTorchFile(const std::string &path, Checkpoint &checkpoint);

} // namespace kiln::convert
