//===- ModelLoader.h - parse ONNX files into ModelProto ----------*- C++ -*-===//
#ifndef QOPT_IMPORTER_ONNX_MODELLOADER_H
#define QOPT_IMPORTER_ONNX_MODELLOADER_H

#include "onnx/onnx_pb.h"
#include "llvm/ADT/StringRef.h"
#include <functional>
#include <string>

namespace qopt::onnx_importer {

/// Parses `buffer` as a binary ModelProto or, when it starts with '<' (after blanks and '#'
/// comments), as ONNX's text syntax. On failure returns false and sets `error`.
/// `release`, when given, is called with each part of `buffer` the binary parser is done with,
/// in order, the last part once parsing ends (the caller may drop those bytes from memory).
bool parseModel(llvm::StringRef buffer, onnx::ModelProto &model, std::string &error,
                const std::function<void(llvm::StringRef)> &release = {});

/// Reads every initializer of `model` held in external data (files inside `modelDir` only, as
/// the importer reads them) into the initializer itself, so the model can be edited and written
/// as one file. On failure returns false and sets `error`, naming the initializer.
bool inlineExternalData(onnx::ModelProto &model, llvm::StringRef modelDir, std::string &error);

} // namespace qopt::onnx_importer

#endif // QOPT_IMPORTER_ONNX_MODELLOADER_H
