//===- ModelLoader.cpp - parse ONNX files into ModelProto -----------------===//
#include "qopt/Importer/ONNX/ModelLoader.h"

#include "onnx/defs/parser.h"
#include <google/protobuf/io/coded_stream.h>
#include <limits>

using namespace qopt::onnx_importer;

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
                                     std::string &error) {
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
    google::protobuf::io::CodedInputStream stream(
        reinterpret_cast<const uint8_t *>(buffer.data()), static_cast<int>(buffer.size()));
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
