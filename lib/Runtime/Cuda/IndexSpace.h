//===- IndexSpace.h - the 4-D index space of a GPU elementwise kernel -*- C++ -*-===//
//
// A generated GPU elementwise kernel walks a 4-D index space, reading each operand through its
// own strides. This folds a broadcast of any rank into that form. Header-only: no runtime types.
//
#ifndef QOPT_LIB_RUNTIME_CUDA_INDEXSPACE_H
#define QOPT_LIB_RUNTIME_CUDA_INDEXSPACE_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qopt::rt::cuda {

/// `shape` with per-operand element strides (0 where an operand broadcasts) as at most `dims`
/// dims: size-1 dims drop out and each dim merges into its outer neighbour wherever every operand
/// walks the two as one. The result is padded in front to exactly `dims` (size 1, stride 0).
/// False when more than `dims` remain.
inline bool foldIndexSpace(const std::vector<int64_t> &shape,
                           const std::vector<std::vector<int64_t>> &strides, size_t dims,
                           std::vector<int64_t> &sizes,
                           std::vector<std::vector<int64_t>> &folded) {
  sizes.clear();
  folded.assign(strides.size(), {});
  for (size_t dim = 0; dim < shape.size(); ++dim) {
    if (shape[dim] == 1)
      continue;
    bool joins = !sizes.empty();
    for (size_t k = 0; joins && k < strides.size(); ++k)
      joins = folded[k].back() == strides[k][dim] * shape[dim];
    if (joins) {
      sizes.back() *= shape[dim];
      for (size_t k = 0; k < strides.size(); ++k)
        folded[k].back() = strides[k][dim];
      continue;
    }
    sizes.push_back(shape[dim]);
    for (size_t k = 0; k < strides.size(); ++k)
      folded[k].push_back(strides[k][dim]);
  }
  if (sizes.size() > dims)
    return false;
  while (sizes.size() < dims) {
    sizes.insert(sizes.begin(), 1);
    for (auto &s : folded)
      s.insert(s.begin(), 0);
  }
  return true;
}

} // namespace qopt::rt::cuda

#endif // QOPT_LIB_RUNTIME_CUDA_INDEXSPACE_H
