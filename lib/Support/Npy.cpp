//===- Npy.cpp - NumPy .npy files in and out ------------------------------===//
#include "qopt/Support/Npy.h"

#include "qopt/Runtime/qopt_model.h"

#include <cstring>
#include <fstream>
#include <sstream>

using namespace qopt::npy;

namespace {
struct DtypeName {
  const char *descr;
  int32_t dtype;
  size_t size;
};
const DtypeName kDtypes[] = {
    {"<f4", QOPT_FLOAT32, 4}, {"<f8", QOPT_FLOAT64, 8}, {"<i8", QOPT_INT64, 8},
    {"<i4", QOPT_INT32, 4},   {"|i1", QOPT_INT8, 1},    {"|u1", QOPT_UINT8, 1},
    {"|b1", QOPT_BOOL, 1},    {"<i2", QOPT_INT16, 2},   {"<u2", QOPT_UINT16, 2},
    {"<u4", QOPT_UINT32, 4},  {"<u8", QOPT_UINT64, 8},  {"<f2", QOPT_FLOAT16, 2},
};

/// The value after `'key':` in a header dict, up to the next top-level comma.
std::string field(const std::string &header, const std::string &key) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos)
    return "";
  at = header.find(':', at);
  if (at == std::string::npos)
    return "";
  size_t end = at + 1;
  int depth = 0;
  for (; end < header.size(); ++end) {
    char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if ((c == ',' && depth == 0) || c == '}')
      break;
  }
  std::string v = header.substr(at + 1, end - at - 1);
  size_t b = v.find_first_not_of(" '"), e = v.find_last_not_of(" '");
  return b == std::string::npos ? "" : v.substr(b, e - b + 1);
}
} // namespace

std::string qopt::npy::read(const std::string &path, Array &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "cannot open " + path;
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return path + " is not a .npy file";
  uint32_t headerLen = 0;
  if (magic[6] == 1) {
    uint16_t len;
    in.read(reinterpret_cast<char *>(&len), 2);
    headerLen = len;
  } else {
    in.read(reinterpret_cast<char *>(&headerLen), 4);
  }
  if (!in || headerLen > (1u << 20))
    return path + " has a malformed .npy header";
  std::string header(headerLen, '\0');
  in.read(header.data(), headerLen);
  std::string descr = field(header, "descr"), order = field(header, "fortran_order");
  std::string shape = field(header, "shape");
  if (order != "False")
    return path + ": only C-order arrays are supported";
  size_t elem = 0;
  for (const auto &d : kDtypes)
    if (descr == d.descr) {
      out.dtype = d.dtype;
      elem = d.size;
    }
  if (!elem)
    return path + ": unsupported element type '" + descr + "'";
  out.shape.clear();
  std::string dims = shape.substr(shape.find('(') + 1);
  std::stringstream ss(dims);
  std::string item;
  int64_t count = 1;
  while (std::getline(ss, item, ',')) {
    size_t b = item.find_first_of("0123456789");
    if (b == std::string::npos)
      continue;
    int64_t d = std::stoll(item.substr(b));
    out.shape.push_back(d);
    count *= d;
  }
  out.data.resize(count * elem);
  if (!in.read(out.data.data(), out.data.size()))
    return path + " is truncated";
  return "";
}

std::string qopt::npy::write(const std::string &path, int32_t dtype,
                             const std::vector<int64_t> &shape, const void *data) {
  const DtypeName *d = nullptr;
  for (const auto &k : kDtypes)
    if (k.dtype == dtype)
      d = &k;
  if (!d)
    return "cannot write element type " + std::to_string(dtype) + " to .npy";
  std::string header = "{'descr': '" + std::string(d->descr) + "', 'fortran_order': False, 'shape': (";
  int64_t count = 1;
  for (int64_t s : shape) {
    header += std::to_string(s) + ", ";
    count *= s;
  }
  if (shape.size() > 1)
    header.erase(header.size() - 2); // "(2, 5)"
  else if (shape.size() == 1)
    header.erase(header.size() - 1); // "(5,)"
  header += "), }";
  while ((10 + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out)
    return "cannot write " + path;
  uint16_t len = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(reinterpret_cast<const char *>(&len), 2);
  out << header;
  out.write(static_cast<const char *>(data), count * d->size);
  return out ? "" : "cannot write " + path;
}
