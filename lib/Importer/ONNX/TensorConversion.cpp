//===- TensorConversion.cpp - ONNX tensors and types into MLIR ------------===//
#include "TensorConversion.h"
#include "qopt/Importer/ONNX/ModelLoader.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include <cstring>

using namespace mlir;
using namespace qopt::onnx_importer;
using onnx::TensorProto;

Type qopt::onnx_importer::convertElementType(int32_t onnxType, MLIRContext *ctx) {
  Builder b(ctx);
  auto unsignedInt = [&](unsigned w) { return IntegerType::get(ctx, w, IntegerType::Unsigned); };
  switch (onnxType) {
  case TensorProto::FLOAT: return b.getF32Type();
  case TensorProto::UINT8: return unsignedInt(8);
  case TensorProto::INT8: return b.getIntegerType(8);
  case TensorProto::UINT16: return unsignedInt(16);
  case TensorProto::INT16: return b.getIntegerType(16);
  case TensorProto::INT32: return b.getIntegerType(32);
  case TensorProto::INT64: return b.getIntegerType(64);
  case TensorProto::BOOL: return b.getIntegerType(1);
  case TensorProto::FLOAT16: return b.getF16Type();
  case TensorProto::DOUBLE: return b.getF64Type();
  case TensorProto::UINT32: return unsignedInt(32);
  case TensorProto::UINT64: return unsignedInt(64);
  case TensorProto::BFLOAT16: return b.getBF16Type();
  case 17: return b.getType<Float8E4M3FNType>(); // FLOAT8E4M3FN (ONNX 1.14+)
  case 21: return unsignedInt(4);                 // UINT4 (ONNX 1.16+)
  case 22: return b.getIntegerType(4);            // INT4
  default: return {};
  }
}

std::string qopt::onnx_importer::onnxTypeName(int32_t onnxType) {
  if (TensorProto::DataType_IsValid(onnxType))
    return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(onnxType));
  return "data type " + std::to_string(onnxType);
}

/// Bytes of one element as stored in a blob (i1 takes a byte).
static int64_t storageBytes(Type t) {
  unsigned bits = t.getIntOrFloatBitWidth();
  return bits < 8 ? 1 : bits / 8;
}

/// Reads external data of `tensor` from a file inside `modelDir` into `bytes`.
static bool readExternal(const TensorProto &tensor, StringRef modelDir, int64_t want,
                         std::vector<char> &bytes, std::string &error) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto &entry : tensor.external_data()) {
    if (entry.key() == "location")
      location = entry.value();
    else if (entry.key() == "offset" || entry.key() == "length") {
      int64_t v;
      if (StringRef(entry.value()).getAsInteger(10, v) || v < 0) {
        error = "external data " + entry.key() + " '" + entry.value() + "' is not a size";
        return false;
      }
      (entry.key() == "offset" ? offset : length) = v;
    }
  }
  if (location.empty()) {
    error = "external data has no location";
    return false;
  }
  if (llvm::sys::path::is_absolute(location)) {
    error = "external data path '" + location + "' must be relative to the model's folder";
    return false;
  }
  for (StringRef component : llvm::make_range(llvm::sys::path::begin(location),
                                              llvm::sys::path::end(location)))
    if (component == "..") {
      error = "external data path '" + location + "' leaves the model's folder";
      return false;
    }
  SmallString<256> dirReal, path(modelDir), fileReal;
  llvm::sys::path::append(path, location);
  if (llvm::sys::fs::real_path(modelDir, dirReal)) {
    error = "cannot resolve the model's folder '" + modelDir.str() + "'";
    return false;
  }
  if (llvm::sys::fs::real_path(path, fileReal)) {
    error = "external data file '" + location + "' does not exist";
    return false;
  }
  StringRef dir = dirReal.str(), file = fileReal.str();
  if (!file.starts_with(dir) || file.size() <= dir.size() ||
      !llvm::sys::path::is_separator(file[dir.size()])) {
    error = "external data path '" + location + "' leaves the model's folder";
    return false;
  }
  uint64_t fileSize = 0;
  if (llvm::sys::fs::file_size(fileReal, fileSize) || llvm::sys::fs::is_directory(fileReal)) {
    error = "cannot read external data file '" + location + "'";
    return false;
  }
  if (length < 0)
    length = want;
  if (length != want) {
    error = "external data length " + std::to_string(length) + " disagrees with the " +
            std::to_string(want) + " bytes its shape needs";
    return false;
  }
  if (static_cast<uint64_t>(offset) + static_cast<uint64_t>(length) > fileSize) {
    error = "external data range [" + std::to_string(offset) + ", " +
            std::to_string(offset + length) + ") runs past the end of '" + location + "' (" +
            std::to_string(fileSize) + " bytes)";
    return false;
  }
  auto buffer = llvm::MemoryBuffer::getFileSlice(fileReal, length, offset);
  if (!buffer) {
    error = "cannot read external data file '" + location + "'";
    return false;
  }
  bytes.assign((*buffer)->getBufferStart(), (*buffer)->getBufferEnd());
  return true;
}

/// Copies a typed repeated field, narrowing each value to the element's storage width.
template <typename Field>
static bool copyTyped(const Field &field, int64_t count, int64_t elemBytes, bool isFloat32,
                      std::vector<char> &bytes, std::string &error) {
  if (static_cast<int64_t>(field.size()) != count) {
    error = "tensor holds " + std::to_string(field.size()) + " values but its shape needs " +
            std::to_string(count);
    return false;
  }
  bytes.resize(count * elemBytes);
  for (int64_t i = 0; i < count; ++i) {
    if (isFloat32) {
      float v = static_cast<float>(field.Get(i));
      std::memcpy(bytes.data() + i * 4, &v, 4);
    } else {
      uint64_t v = static_cast<uint64_t>(field.Get(i));
      std::memcpy(bytes.data() + i * elemBytes, &v, elemBytes); // little-endian narrowing
    }
  }
  return true;
}

ElementsAttr qopt::onnx_importer::convertTensor(const TensorProto &tensor, StringRef modelDir,
                                                MLIRContext *ctx, std::string &error) {
  Type et = convertElementType(tensor.data_type(), ctx);
  if (!et) {
    error = "tensor of unsupported element type " + onnxTypeName(tensor.data_type());
    return {};
  }
  SmallVector<int64_t> shape;
  int64_t count = 1;
  for (int64_t d : tensor.dims()) {
    if (d < 0 || (d > 0 && count > (int64_t(1) << 40) / d)) {
      error = "tensor has an invalid dimension " + std::to_string(d);
      return {};
    }
    shape.push_back(d);
    count *= d;
  }
  int64_t elemBytes = storageBytes(et);
  // 4-bit tensors arrive packed two to a byte, low nibble first; they are held one per byte.
  bool nibbles = et.getIntOrFloatBitWidth() == 4;
  int64_t want = nibbles ? (count + 1) / 2 : count * elemBytes;
  auto type = RankedTensorType::get(shape, et);
  std::string name = tensor.name().empty() ? "constant" : tensor.name();
  bool inlineRaw = tensor.data_location() != TensorProto::EXTERNAL && tensor.has_raw_data();
  if (inlineRaw && static_cast<int64_t>(tensor.raw_data().size()) != want) {
    error = "tensor has " + std::to_string(tensor.raw_data().size()) +
            " bytes of data but its shape needs " + std::to_string(want);
    return {};
  }
  if (inlineRaw && !nibbles) {
    // Straight from the protobuf into the constant: one copy of a large weight, not two.
    AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
        ArrayRef<char>(tensor.raw_data().data(), tensor.raw_data().size()),
        alignof(std::max_align_t));
    return DenseResourceElementsAttr::get(type, name, std::move(blob));
  }
  std::vector<char> bytes;
  if (tensor.data_location() == TensorProto::EXTERNAL) {
    if (!readExternal(tensor, modelDir, want, bytes, error))
      return {};
  } else if (inlineRaw) {
    bytes.assign(tensor.raw_data().begin(), tensor.raw_data().end());
  } else {
    bool ok;
    switch (tensor.data_type()) {
    case TensorProto::FLOAT:
      ok = copyTyped(tensor.float_data(), count, 4, true, bytes, error);
      break;
    case TensorProto::INT64:
      ok = copyTyped(tensor.int64_data(), count, 8, false, bytes, error);
      break;
    case TensorProto::DOUBLE:
      // Doubles keep their bits; the integer path below would convert them.
      ok = static_cast<int64_t>(tensor.double_data_size()) == count;
      if (ok) {
        bytes.resize(count * 8);
        std::memcpy(bytes.data(), tensor.double_data().data(), count * 8);
      } else {
        error = "tensor holds " + std::to_string(tensor.double_data_size()) +
                " values but its shape needs " + std::to_string(count);
      }
      break;
    case TensorProto::UINT32:
    case TensorProto::UINT64:
      ok = copyTyped(tensor.uint64_data(), count, elemBytes, false, bytes, error);
      break;
    default:
      ok = copyTyped(tensor.int32_data(), nibbles ? want : count, elemBytes, false, bytes, error);
      break;
    }
    if (!ok)
      return {};
  }
  if (nibbles) {
    std::vector<char> unpacked(count);
    bool isSigned = !et.isUnsignedInteger();
    for (int64_t i = 0; i < count; ++i) {
      int value = (static_cast<uint8_t>(bytes[i / 2]) >> (4 * (i % 2))) & 15;
      unpacked[i] = static_cast<char>(isSigned && value >= 8 ? value - 16 : value);
    }
    bytes = std::move(unpacked);
  }
  AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(bytes.data(), bytes.size()), alignof(std::max_align_t));
  return DenseResourceElementsAttr::get(type, name, std::move(blob));
}

bool qopt::onnx_importer::inlineExternalData(onnx::ModelProto &model, StringRef modelDir,
                                             std::string &error) {
  for (TensorProto &tensor : *model.mutable_graph()->mutable_initializer()) {
    if (tensor.data_location() != TensorProto::EXTERNAL)
      continue;
    int64_t count = 1;
    for (int64_t d : tensor.dims())
      count = d < 0 ? -1 : count * d;
    int64_t bits = 0;
    switch (tensor.data_type()) {
    case TensorProto::DOUBLE: case TensorProto::INT64: case TensorProto::UINT64: bits = 64; break;
    case TensorProto::FLOAT: case TensorProto::INT32: case TensorProto::UINT32: bits = 32; break;
    case TensorProto::FLOAT16: case TensorProto::BFLOAT16: case TensorProto::INT16:
    case TensorProto::UINT16: bits = 16; break;
    case TensorProto::INT8: case TensorProto::UINT8: case TensorProto::BOOL: bits = 8; break;
    // Types newer than the ONNX headers qopt builds with, by number.
    case 17 /* FLOAT8E4M3FN */: bits = 8; break;
    case 21 /* UINT4 */: case 22 /* INT4 */: bits = 4; break;
    default: break;
    }
    if (count < 0 || bits == 0) {
      error = "initializer '" + tensor.name() + "' in external data has an unsupported type or shape";
      return false;
    }
    std::vector<char> bytes;
    if (!readExternal(tensor, modelDir, (count * bits + 7) / 8, bytes, error)) {
      error = "initializer '" + tensor.name() + "': " + error;
      return false;
    }
    tensor.set_raw_data(bytes.data(), bytes.size());
    tensor.clear_external_data();
    tensor.set_data_location(TensorProto::DEFAULT);
  }
  return true;
}
