//===- ModelLoader.cpp - parse ONNX files into ModelProto -----------------===//
#include "qopt/Importer/ONNX/ModelLoader.h"

#include "onnx/defs/parser.h"
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <limits>

using namespace qopt::onnx_importer;

namespace {
/// The buffer in blocks, telling `release` of the bytes before each new block: the parser copies
/// what it keeps and never backs up past the current block.
class ReleasingInputStream : public google::protobuf::io::ZeroCopyInputStream {
public:
  ReleasingInputStream(llvm::StringRef buffer, const std::function<void(llvm::StringRef)> &release)
      : inner(buffer.data(), static_cast<int>(buffer.size()), kBlockBytes), buffer(buffer),
        release(release) {}
  ~ReleasingInputStream() override {
    if (release && done < buffer.size())
      release(buffer.drop_front(done));
  }
  bool Next(const void **data, int *size) override {
    if (!inner.Next(data, size))
      return false;
    size_t start = static_cast<size_t>(static_cast<const char *>(*data) - buffer.data());
    if (release && start > done) {
      release(buffer.slice(done, start));
      done = start;
    }
    return true;
  }
  void BackUp(int count) override { inner.BackUp(count); }
  bool Skip(int count) override { return inner.Skip(count); }
  int64_t ByteCount() const override { return inner.ByteCount(); }

private:
  static constexpr int kBlockBytes = 8 << 20;
  google::protobuf::io::ArrayInputStream inner;
  llvm::StringRef buffer;
  const std::function<void(llvm::StringRef)> &release;
  size_t done = 0;
};
} // namespace

/// ONNX's text syntax opens with the model header `<ir_version: ..., opset_import: [...]>`.
static bool looksLikeText(llvm::StringRef buffer) {
  while (true) {
    buffer = buffer.ltrim();
    if (!buffer.starts_with("#"))
      break;
    buffer = buffer.drop_until([](char c) { return c == '\n'; });
  }
  return buffer.starts_with("<");
}

bool qopt::onnx_importer::parseModel(llvm::StringRef buffer, onnx::ModelProto &model,
                                     std::string &error,
                                     const std::function<void(llvm::StringRef)> &release) {
  try {
    if (looksLikeText(buffer)) {
      std::string text = buffer.str();
      onnx::OnnxParser parser(text.c_str());
      auto status = parser.Parse(model);
      if (!status.IsOK()) {
        error = "invalid ONNX text: " + status.ErrorMessage();
        return false;
      }
      return true;
    }
    if (buffer.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
      error = "protobuf is larger than 2 GB; keep the weights in external data files";
      return false;
    }
    ReleasingInputStream blocks(buffer, release);
    google::protobuf::io::CodedInputStream stream(&blocks);
    stream.SetTotalBytesLimit(std::numeric_limits<int>::max());
    if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
      error = "not a valid ONNX model: the protobuf is truncated or corrupt";
      return false;
    }
    if (!model.has_graph()) {
      error = "not a valid ONNX model: it has no graph";
      return false;
    }
    return true;
  } catch (const std::exception &e) {
    error = std::string("cannot parse the model: ") + e.what();
    return false;
  }
}
