//===- Npy.h - NumPy .npy files in and out -----------------------*- C++ -*-===//
#ifndef QOPT_SUPPORT_NPY_H
#define QOPT_SUPPORT_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace qopt::npy {

struct Array {
  int32_t dtype = 0; // qopt_dtype
  std::vector<int64_t> shape;
  std::vector<char> data;
};

/// Reads a C-order .npy file (float32/64, int8/32/64, uint8, bool). Returns "" or an error.
std::string read(const std::string &path, Array &out);
/// Writes `data` as a .npy file. Returns "" or an error.
std::string write(const std::string &path, int32_t dtype, const std::vector<int64_t> &shape,
                  const void *data);

} // namespace qopt::npy

#endif // QOPT_SUPPORT_NPY_H
