//===- NodeContext.h - what an op handler sees of one ONNX node --*- C++ -*-===//
//
// A handler translates one ONNX node into qopt ops. It reads the node's inputs and attributes
// through NodeContext and creates ops with `make<OpTy>(...)`, which asks the new op for its
// result types and turns an invalid node into a diagnostic.
//
#ifndef QOPT_LIB_IMPORTER_ONNX_NODECONTEXT_H
#define QOPT_LIB_IMPORTER_ONNX_NODECONTEXT_H

#include "dialects/QOpt/IR/QOptOps.h"
#include "mlir/IR/Builders.h"
#include "onnx/onnx_pb.h"
#include <functional>
#include <optional>
#include <utility>

namespace qopt::onnx_importer {

class NodeContext {
public:
  NodeContext(const onnx::NodeProto &node, llvm::StringRef name, llvm::ArrayRef<mlir::Value> inputs,
              int64_t opset, mlir::OpBuilder &builder, mlir::Location loc,
              llvm::StringRef modelDir)
      : node(node), name(name), inputs(inputs), opset(opset), builder(builder), loc(loc),
        modelDir(modelDir) {}

  const onnx::NodeProto &node;
  /// The node's name, or its first output's where it has none.
  llvm::StringRef name;
  /// One entry per ONNX input; null where an optional input is omitted.
  llvm::ArrayRef<mlir::Value> inputs;
  int64_t opset;
  mlir::OpBuilder &builder;
  mlir::Location loc;
  llvm::StringRef modelDir;

  mlir::MLIRContext *getContext() { return builder.getContext(); }
  /// Input `i`, or null when it is omitted or absent.
  mlir::Value input(size_t i) const { return i < inputs.size() ? inputs[i] : mlir::Value(); }
  /// Input `i`, with an error when it is missing.
  mlir::FailureOr<mlir::Value> requiredInput(size_t i);
  /// Fails with an error unless the node has between `min` and `max` inputs and at most
  /// `maxOutputs` outputs in use.
  mlir::LogicalResult checkArity(size_t min, size_t max, size_t maxOutputs = 1);

  const onnx::AttributeProto *attr(llvm::StringRef name) const;
  int64_t intAttr(llvm::StringRef name, int64_t dflt) const;
  float floatAttr(llvm::StringRef name, float dflt) const;
  std::string stringAttr(llvm::StringRef name, llvm::StringRef dflt) const;
  std::optional<llvm::SmallVector<int64_t>> intsAttr(llvm::StringRef name) const;
  /// A tensor attribute as an MLIR constant attribute (dense resource), or an error.
  mlir::FailureOr<mlir::ElementsAttr> tensorAttr(llvm::StringRef name);

  /// The values of a constant integer input, with an error naming `what` when it is not constant.
  mlir::FailureOr<llvm::SmallVector<int64_t>> constantInts(size_t i, llvm::StringRef what);

  /// Emits an error on this node (its name, op type, domain and opset are added).
  mlir::InFlightDiagnostic emitError();

  /// Creates OpTy with placeholder result types, then sets the types the op infers. On an invalid
  /// node the op is erased and failure returned (the op has reported why).
  template <typename OpTy, typename... Args>
  mlir::FailureOr<mlir::Value> make(Args &&...args) {
    auto op = OpTy::create(builder, loc, mlir::Type(builder.getNoneType()),
                           std::forward<Args>(args)...);
    if (mlir::failed(finish(op.getOperation())))
      return mlir::failure();
    return op->getResult(0);
  }
  /// Like make(), for ops with `numResults` results.
  template <typename OpTy, typename... Args>
  mlir::FailureOr<llvm::SmallVector<mlir::Value>> makeMulti(size_t numResults, Args &&...args) {
    llvm::SmallVector<mlir::Type> placeholders(numResults, builder.getNoneType());
    auto op = OpTy::create(builder, loc, mlir::TypeRange(placeholders),
                           std::forward<Args>(args)...);
    if (mlir::failed(finish(op.getOperation())))
      return mlir::failure();
    return llvm::SmallVector<mlir::Value>(op->getResults());
  }
  /// A 1-D i64 constant, used for shape operands that ONNX gives as attributes in older opsets.
  mlir::Value i64Constant(llvm::ArrayRef<int64_t> values);

private:
  mlir::LogicalResult finish(mlir::Operation *op);
};

using HandlerResult = mlir::FailureOr<llvm::SmallVector<mlir::Value>>;
using Handler = std::function<HandlerResult(NodeContext &)>;

/// Registers `handler` for (domain, opType) from opset `sinceVersion` on.
void registerHandler(llvm::StringRef domain, llvm::StringRef opType, int64_t sinceVersion,
                     Handler handler);
/// The handler for (domain, opType) at `opset`, or null.
const Handler *lookupHandler(llvm::StringRef domain, llvm::StringRef opType, int64_t opset);

void registerElementwiseHandlers();
void registerTensorHandlers();
void registerNNHandlers();
void registerQuantHandlers();
void registerQLinearHandlers();

/// Wraps a single value as a handler result.
inline HandlerResult single(mlir::FailureOr<mlir::Value> v) {
  if (mlir::failed(v))
    return mlir::failure();
  return llvm::SmallVector<mlir::Value>{*v};
}

template <typename OpTy, size_t... I>
HandlerResult makeFromInputs(NodeContext &ctx, std::index_sequence<I...>) {
  return single(ctx.make<OpTy>(ctx.input(I)...));
}

/// A handler for ops whose N ONNX inputs become the qopt op's operands one to one.
template <typename OpTy, size_t N>
Handler direct() {
  return [](NodeContext &ctx) -> HandlerResult {
    if (mlir::failed(ctx.checkArity(N, N)))
      return mlir::failure();
    return makeFromInputs<OpTy>(ctx, std::make_index_sequence<N>());
  };
}

} // namespace qopt::onnx_importer

#endif // QOPT_LIB_IMPORTER_ONNX_NODECONTEXT_H
