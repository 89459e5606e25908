//===- ModelLoader.h - parse ONNX files into ModelProto ----------*- C++ -*-===//
#ifndef QOPT_IMPORTER_ONNX_MODELLOADER_H
#define QOPT_IMPORTER_ONNX_MODELLOADER_H

#include "onnx/onnx_pb.h"
#include "llvm/ADT/StringRef.h"
#include <string>

namespace qopt::onnx_importer {

/// Parses `buffer` as a binary ModelProto or, when it starts with '<' (after blanks and '#'
/// comments), as ONNX's text syntax. On failure returns false and sets `error`.
bool parseModel(llvm::StringRef buffer, onnx::ModelProto &model, std::string &error);

} // namespace qopt::onnx_importer

#endif // QOPT_IMPORTER_ONNX_MODELLOADER_H
