//===- GraphImporter.cpp - an ONNX graph into func.func @main -------------===//
#include "qopt/Importer/ONNX/ModelLoader.h"
#include "NodeContext.h"
#include "TensorConversion.h"
#include "qopt/Importer/ONNX/ONNXImporter.h"

#include "dialects/QOpt/IR/QOptDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/unknown_field_set.h>

using namespace mlir;
using namespace qopt::onnx_importer;

namespace {
/// The module path the PyTorch exporter recorded for a node (for example
/// `model.layers.0.mlp.down_proj`), or "". It sits in NodeProto.metadata_props (field 9), newer
/// than the libonnx we parse with, so it is read from the unknown fields.
std::string exporterScope(const onnx::NodeProto &node) {
  const google::protobuf::UnknownFieldSet &fields = node.unknown_fields();
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField &field = fields.field(i);
    if (field.number() != 9 || field.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED)
      continue;
    onnx::StringStringEntryProto entry;
    if (!entry.ParseFromString(field.length_delimited()) ||
        entry.key() != "pkg.torch.onnx.name_scopes")
      continue;
    // A Python list literal, outermost scope first and the node's own FX name last, as in
    // ['', 'model', 'model.layers.0.mlp', 'model.layers.0.mlp.down_proj', 'linear_6']: the
    // innermost module is the element before the last.
    SmallVector<StringRef> items;
    StringRef(entry.value()).trim().trim("[]").split(items, ',');
    if (items.size() < 2)
      return "";
    return items[items.size() - 2].trim().trim("'\"").str();
  }
  return "";
}

class GraphImporter {
public:
  GraphImporter(MLIRContext *ctx, StringRef displayName, StringRef modelDir,
                const ImportOptions &options)
      : ctx(ctx), builder(ctx), displayName(displayName), modelDir(modelDir), options(options),
        fileLoc(FileLineColLoc::get(ctx, displayName, 0, 0)) {}

  /// Imports `model`, releasing each initializer's data once it is a constant.
  OwningOpRef<ModuleOp> run(onnx::ModelProto &model);

private:
  InFlightDiagnostic error() { return mlir::emitError(fileLoc); }
  LogicalResult readOpsets(const onnx::ModelProto &model);
  FailureOr<Type> convertValueType(const onnx::ValueInfoProto &info);
  LogicalResult importInitializers(onnx::GraphProto &graph);
  LogicalResult importNode(const onnx::NodeProto &node);

  MLIRContext *ctx;
  OpBuilder builder;
  StringRef displayName, modelDir;
  const ImportOptions &options;
  Location fileLoc;
  llvm::StringMap<int64_t> opsets;
  llvm::StringMap<Value> values;
};
} // namespace

LogicalResult GraphImporter::readOpsets(const onnx::ModelProto &model) {
  for (const auto &entry : model.opset_import()) {
    std::string domain = entry.domain() == "ai.onnx" ? "" : entry.domain();
    opsets[domain] = entry.version();
  }
  auto it = opsets.find("");
  if (it == opsets.end())
    return error() << "the model imports no opset of the default ONNX domain";
  if (it->second < kMinOpset || it->second > kMaxOpset)
    return error() << "unsupported opset " << it->second << " of the default ONNX domain; qopt "
                   << "supports opsets " << kMinOpset << " to " << kMaxOpset;
  return success();
}

FailureOr<Type> GraphImporter::convertValueType(const onnx::ValueInfoProto &info) {
  if (!info.type().has_tensor_type())
    return error() << "graph input or output '" << info.name() << "' is not a tensor";
  const auto &tensorType = info.type().tensor_type();
  Type et = convertElementType(tensorType.elem_type(), ctx);
  if (!et)
    return error() << "graph input or output '" << info.name() << "' has unsupported type "
                   << onnxTypeName(tensorType.elem_type());
  if (!tensorType.has_shape())
    return error() << "graph input '" << info.name() << "' has no shape (its rank is needed)";
  SmallVector<int64_t> shape;
  for (const auto &dim : tensorType.shape().dim())
    shape.push_back(dim.has_dim_value() && dim.dim_value() >= 0 ? dim.dim_value()
                                                                : ShapedType::kDynamic);
  auto override = options.inputShapes.find(info.name());
  if (override != options.inputShapes.end()) {
    if (override->second.size() != shape.size())
      return error() << "input shape for '" << info.name() << "' has rank "
                     << override->second.size() << ", the model's input has rank "
                     << shape.size();
    for (auto [have, want] : llvm::zip(shape, override->second)) {
      if (have != ShapedType::kDynamic && have != want)
        return error() << "input shape for '" << info.name() << "' sets a dimension of size "
                       << have << " to " << want;
      have = want;
    }
  }
  return Type(RankedTensorType::get(shape, et));
}

LogicalResult GraphImporter::importInitializers(onnx::GraphProto &graph) {
  for (onnx::TensorProto &tensor : *graph.mutable_initializer()) {
    std::string err;
    ElementsAttr value = convertTensor(tensor, modelDir, ctx, err);
    if (!value)
      return error() << "initializer '" << tensor.name() << "': " << err;
    values[tensor.name()] = arith::ConstantOp::create(
        builder, NameLoc::get(builder.getStringAttr(tensor.name())), value.getType(),
        cast<TypedAttr>(value));
    // The constant holds the data now: keeping the protobuf's copy as well would double the
    // memory a large model needs while it compiles.
    if (tensor.has_raw_data())
      std::string().swap(*tensor.mutable_raw_data());
  }
  if (graph.sparse_initializer_size() > 0)
    return error() << "sparse initializers are not supported";
  return success();
}

LogicalResult GraphImporter::importNode(const onnx::NodeProto &node) {
  std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
  auto opsetIt = opsets.find(domain);
  int64_t opset = opsetIt == opsets.end() ? 1 : opsetIt->second;
  // Unnamed nodes (common in hand-written graphs) are known by their first output.
  std::string name = !node.name().empty()       ? node.name()
                     : node.output_size() > 0 ? node.output(0)
                                              : node.op_type();
  std::string scope = exporterScope(node);
  Location loc = NameLoc::get(builder.getStringAttr(name),
                              scope.empty() ? Location(fileLoc)
                                            : NameLoc::get(builder.getStringAttr(scope), fileLoc));
  auto describe = [&](InFlightDiagnostic diag) {
    return std::move(diag) << "node '" << name << "' (" << node.op_type() << ", domain "
                           << (domain.empty() ? "ai.onnx" : domain) << ", opset " << opset
                           << "): ";
  };
  if (opsetIt == opsets.end())
    return describe(error()) << "its domain is not imported by the model";

  SmallVector<Value> inputs;
  for (const std::string &input : node.input()) {
    if (input.empty()) {
      inputs.push_back({});
      continue;
    }
    auto it = values.find(input);
    if (it == values.end())
      return describe(error()) << "input '" << input << "' is not defined before the node";
    inputs.push_back(it->second);
  }
  const Handler *handler = lookupHandler(domain, node.op_type(), opset);
  if (!handler)
    return describe(error()) << "unsupported op";

  NodeContext context(node, name, inputs, opset, builder, loc, modelDir);
  // Diagnostics of the node's ops name the node's location; report them against the file.
  HandlerResult results = (*handler)(context);
  if (failed(results))
    return failure();
  if (static_cast<int>(results->size()) < node.output_size()) {
    for (int i = results->size(); i < node.output_size(); ++i)
      if (!node.output(i).empty())
        return describe(error()) << "output " << i << " is not supported";
  }
  for (int i = 0; i < node.output_size(); ++i)
    if (!node.output(i).empty())
      values[node.output(i)] = (*results)[i];
  return success();
}

OwningOpRef<ModuleOp> GraphImporter::run(onnx::ModelProto &model) {
  ctx->loadDialect<qopt::QOpt::QOptDialect, func::FuncDialect, arith::ArithDialect>();
  if (failed(readOpsets(model)))
    return {};
  onnx::GraphProto &graph = *model.mutable_graph();

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  module->getOperation()->setAttr("qopt.opset", builder.getI64IntegerAttr(opsets[""]));
  if (!model.producer_name().empty())
    module->getOperation()->setAttr("qopt.producer",
                                    builder.getStringAttr(model.producer_name() + " " +
                                                          model.producer_version()));

  // Inputs that are also initializers are constants (ONNX IR < 4 listed weights as inputs).
  llvm::StringSet<> initializerNames;
  for (const auto &t : graph.initializer())
    initializerNames.insert(t.name());
  SmallVector<Type> argTypes;
  SmallVector<const onnx::ValueInfoProto *> argInfos;
  for (const auto &input : graph.input()) {
    if (initializerNames.contains(input.name()))
      continue;
    auto type = convertValueType(input);
    if (failed(type))
      return {};
    argTypes.push_back(*type);
    argInfos.push_back(&input);
  }

  builder.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(builder, fileLoc, "main", builder.getFunctionType(argTypes, {}));
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  for (auto [i, info] : llvm::enumerate(argInfos)) {
    values[info->name()] = entry->getArgument(i);
    func.setArgAttr(i, "qopt.name", builder.getStringAttr(info->name()));
    SmallVector<Attribute> dimNames;
    for (const auto &dim : info->type().tensor_type().shape().dim())
      dimNames.push_back(builder.getStringAttr(dim.has_dim_param() ? dim.dim_param() : ""));
    if (llvm::any_of(dimNames, [](Attribute a) { return !cast<StringAttr>(a).empty(); }))
      func.setArgAttr(i, "qopt.dim_names", builder.getArrayAttr(dimNames));
  }

  if (failed(importInitializers(graph)))
    return {};
  for (const auto &node : graph.node())
    if (failed(importNode(node)))
      return {};

  SmallVector<Value> results;
  for (const auto &output : graph.output()) {
    auto it = values.find(output.name());
    if (it == values.end()) {
      error() << "graph output '" << output.name() << "' is not produced by any node";
      return {};
    }
    results.push_back(it->second);
  }
  if (results.empty()) {
    error() << "the graph has no outputs";
    return {};
  }
  func::ReturnOp::create(builder, fileLoc, results);
  func.setType(builder.getFunctionType(argTypes, ValueRange(results).getTypes()));
  for (auto [i, output] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, "qopt.name", builder.getStringAttr(output.name()));
  return module;
}

OwningOpRef<ModuleOp> qopt::onnx_importer::importONNXBuffer(StringRef buffer,
                                                           StringRef displayName,
                                                           StringRef modelDir, MLIRContext *ctx,
                                                           const ImportOptions &options) {
  onnx::ModelProto model;
  std::string err;
  if (!parseModel(buffer, model, err, options.releaseParsed)) {
    mlir::emitError(FileLineColLoc::get(ctx, displayName, 0, 0)) << err;
    return {};
  }
  return GraphImporter(ctx, displayName, modelDir, options).run(model);
}

OwningOpRef<ModuleOp> qopt::onnx_importer::importONNXFile(StringRef path, MLIRContext *ctx,
                                                         const ImportOptions &options) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer) {
    mlir::emitError(FileLineColLoc::get(ctx, path, 0, 0))
        << "cannot open the model: " << buffer.getError().message();
    return {};
  }
  SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  return importONNXBuffer((*buffer)->getBuffer(), path, dir, ctx, options);
}
