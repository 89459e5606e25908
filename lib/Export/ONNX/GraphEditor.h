//===- GraphEditor.h - edits of an ONNX graph around its initializers -*- C++ -*-===//
#ifndef QOPT_LIB_EXPORT_ONNX_GRAPHEDITOR_H
#define QOPT_LIB_EXPORT_ONNX_GRAPHEDITOR_H

#include "onnx/onnx_pb.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace qopt::onnx_export {

/// ONNX element types the exporter writes (TensorProto.DataType; 4-bit ones are newer than the
/// protobuf headers this builds with).
enum ElementType : int32_t {
  kFloat = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kInt64 = 7,
  kUInt4 = 21,
  kInt4 = 22,
};

/// The graph of a model being rewritten, with lookups kept up to date by its own edits.
class GraphEditor {
public:
  explicit GraphEditor(onnx::ModelProto &model) : model(model), graph(*model.mutable_graph()) {}

  onnx::TensorProto *initializer(const std::string &name);
  /// A name not yet used by any initializer, value or node, nor handed out before, built from
  /// `base`.
  std::string freshName(const std::string &base);
  /// Adds an initializer of `type` holding `raw` (little-endian, 4-bit types packed two per
  /// byte, low nibble first).
  void addInitializer(const std::string &name, int32_t type, const std::vector<int64_t> &dims,
                      const std::string &raw);
  void addFloats(const std::string &name, const std::vector<int64_t> &dims,
                 const std::vector<float> &values);
  /// Integers stored as `type` (kInt8, kUInt8, kInt4, kUInt4).
  void addIntegers(const std::string &name, int32_t type, const std::vector<int64_t> &dims,
                   const std::vector<int64_t> &values);
  void removeInitializer(const std::string &name);

  /// Indices of the nodes that read `value`.
  std::vector<int> consumers(const std::string &value) const;
  /// Makes node `index` read `to` wherever it read `from`.
  static void renameInput(onnx::NodeProto &node, const std::string &from, const std::string &to);
  /// Puts `nodes` at the front of the graph (they read initializers only).
  void prependNodes(std::vector<onnx::NodeProto> nodes);
  /// Whether the graph's outputs include `value`.
  bool isGraphOutput(const std::string &value) const;

  /// Makes the default domain at least `opset`, rewriting the few ops whose form changed on
  /// the way (the Reduce ops' axes became an input at 18). False with `error` set when the
  /// model is too old to lift.
  bool requireOpset(int64_t opset, std::string &error);
  void requireDomain(const std::string &domain, int64_t version);
  int64_t opset(const std::string &domain) const;

  onnx::GraphProto &getGraph() { return graph; }

private:
  onnx::ModelProto &model;
  onnx::GraphProto &graph;
  std::set<std::string> handedOut; // the graph's names and those handed out since
  bool namesGathered = false;
};

onnx::AttributeProto intAttribute(const std::string &name, int64_t value);

} // namespace qopt::onnx_export

#endif // QOPT_LIB_EXPORT_ONNX_GRAPHEDITOR_H
