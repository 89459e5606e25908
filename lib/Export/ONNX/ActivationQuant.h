//===- ActivationQuant.h - int8 activations as ONNX nodes -------*- C++ -*-===//
#ifndef QOPT_LIB_EXPORT_ONNX_ACTIVATIONQUANT_H
#define QOPT_LIB_EXPORT_ONNX_ACTIVATIONQUANT_H

#include "GraphEditor.h"
#include "QuantizedLayers.h"

namespace qopt::onnx_export {

/// Appends to `nodes` the ONNX nodes that fake-quantize `input`, the activation of `layer`'s
/// matmul, as qopt's kernel quantizes it: one static scale (QuantizeLinear → DequantizeLinear,
/// int8, zero point 0), or per group of the weight's scheme along the last axis at run time
/// (`round_half_even(x * (127 / max|x|)) * (max|x| / 127)`, 0 for a group of zeros). Returns the
/// name of the fake-quantized value, or "" with `error` set when the form cannot be written (run-
/// time groups that do not divide K).
std::string activationFakeQuant(GraphEditor &editor, const ExportedLayer &layer,
                                const std::string &input, std::vector<onnx::NodeProto> &nodes,
                                std::string &error);

} // namespace qopt::onnx_export

#endif // QOPT_LIB_EXPORT_ONNX_ACTIVATIONQUANT_H
