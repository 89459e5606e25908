//===- ActivationQuant.cpp - int8 activations as ONNX nodes ---------------===//
#include "ActivationQuant.h"

#include <cstring>

using namespace qopt::onnx_export;

namespace {
/// Builds nodes whose names and outputs derive from one stem.
struct NodeBuilder {
  GraphEditor &editor;
  std::vector<onnx::NodeProto> &nodes;
  std::string stem;

  std::string add(const std::string &op, std::vector<std::string> inputs,
                  std::vector<onnx::AttributeProto> attributes = {}) {
    onnx::NodeProto node;
    node.set_op_type(op);
    node.set_name(editor.freshName(stem + "_" + op));
    for (auto &i : inputs)
      node.add_input(i);
    std::string out = editor.freshName(stem + "_" + op + "_out");
    node.add_output(out);
    for (auto &a : attributes)
      *node.add_attribute() = a;
    nodes.push_back(node);
    return out;
  }
  std::string scalar(const std::string &name, float value) {
    std::string n = editor.freshName(stem + "_" + name);
    editor.addFloats(n, {}, {value});
    return n;
  }
  std::string shape(const std::string &name, const std::vector<int64_t> &dims) {
    std::string n = editor.freshName(stem + "_" + name);
    std::string raw(dims.size() * sizeof(int64_t), '\0');
    std::memcpy(raw.data(), dims.data(), raw.size());
    editor.addInitializer(n, kInt64, {static_cast<int64_t>(dims.size())}, raw);
    return n;
  }
};
} // namespace

std::string qopt::onnx_export::activationFakeQuant(GraphEditor &editor, const ExportedLayer &layer,
                                                   const std::string &input,
                                                   std::vector<onnx::NodeProto> &nodes,
                                                   std::string &error) {
  NodeBuilder b{editor, nodes, input + "_int8"};
  if (layer.activationScale > 0.0f) {
    std::string scale = b.scalar("scale", layer.activationScale);
    std::string zero = editor.freshName(b.stem + "_zero_point");
    editor.addIntegers(zero, kInt8, {}, {0});
    std::string q = b.add("QuantizeLinear", {input, scale, zero});
    return b.add("DequantizeLinear", {q, scale, zero});
  }
  int64_t k = layer.k, group = layer.scheme.groupSize == 0 ? k : std::min(layer.scheme.groupSize, k);
  if (k % group != 0) {
    error = "layer '" + layer.displayName + "': its int8 activations are quantized in groups of " +
            std::to_string(group) + ", which do not divide its " + std::to_string(k) +
            " inputs; the QAT export cannot write them";
    return "";
  }
  if (layer.inputRank < 1) {
    error = "layer '" + layer.displayName + "': its input has no rank to group";
    return "";
  }
  // [..., K] → [..., K / group, group], with the leading dims copied (Reshape's 0).
  std::vector<int64_t> grouped(layer.inputRank - 1, 0), flat(layer.inputRank - 1, 0);
  grouped.push_back(k / group);
  grouped.push_back(group);
  flat.push_back(k);
  onnx::AttributeProto axes;
  axes.set_name("keepdims");
  axes.set_type(onnx::AttributeProto::INT);
  axes.set_i(1);
  std::string x = b.add("Reshape", {input, b.shape("grouped_shape", grouped)});
  std::string maxAbs = b.add("ReduceMax", {b.add("Abs", {x}), b.shape("last_axis", {-1})}, {axes});
  std::string zero = b.scalar("zero", 0.0f);
  std::string isZero = b.add("Equal", {maxAbs, zero});
  std::string inverse =
      b.add("Where", {isZero, zero, b.add("Div", {b.scalar("levels", 127.0f), maxAbs})});
  std::string codes = b.add("Round", {b.add("Mul", {x, inverse})});
  std::string scale = b.add("Div", {maxAbs, b.scalar("levels_again", 127.0f)});
  std::string values = b.add("Mul", {codes, scale});
  return b.add("Reshape", {values, b.shape("flat_shape", flat)});
}
