//===- NodeContext.cpp - what an op handler sees of one ONNX node ---------===//
#include "NodeContext.h"

#include "TensorConversion.h"
#include "dialects/QOpt/IR/ConstantValues.h"
#include "llvm/ADT/StringMap.h"
#include <map>
#include <mutex>

using namespace mlir;
using namespace qopt::onnx_importer;

namespace {
struct Registry {
  /// (domain, op type) -> since-version -> handler.
  llvm::StringMap<std::map<int64_t, Handler>> handlers;
};
Registry &registry() {
  static Registry r;
  return r;
}
std::string registryKey(StringRef domain, StringRef opType) {
  return (domain == "ai.onnx" ? StringRef() : domain).str() + "::" + opType.str();
}
} // namespace

void qopt::onnx_importer::registerHandler(StringRef domain, StringRef opType,
                                          int64_t sinceVersion, Handler handler) {
  registry().handlers[registryKey(domain, opType)][sinceVersion] = std::move(handler);
}

const Handler *qopt::onnx_importer::lookupHandler(StringRef domain, StringRef opType,
                                                  int64_t opset) {
  static std::once_flag once;
  std::call_once(once, [] {
    registerElementwiseHandlers();
    registerTensorHandlers();
    registerNNHandlers();
    registerQuantHandlers();
    registerQLinearHandlers();
  });
  auto it = registry().handlers.find(registryKey(domain, opType));
  if (it == registry().handlers.end())
    return nullptr;
  auto version = it->second.upper_bound(opset);
  if (version == it->second.begin())
    return nullptr;
  return &std::prev(version)->second;
}

InFlightDiagnostic NodeContext::emitError() {
  std::string domain = node.domain().empty() ? "ai.onnx" : node.domain();
  return mlir::emitError(loc) << "node '" << name << "' (" << node.op_type() << ", domain "
                              << domain << ", opset " << opset << "): ";
}

FailureOr<Value> NodeContext::requiredInput(size_t i) {
  if (Value v = input(i))
    return v;
  return emitError() << "input " << i << " is required";
}

LogicalResult NodeContext::checkArity(size_t min, size_t max, size_t maxOutputs) {
  size_t n = node.input_size();
  if (n < min || n > max)
    return emitError() << "takes " << min << " to " << max << " inputs, got " << n;
  for (int i = maxOutputs; i < node.output_size(); ++i)
    if (!node.output(i).empty())
      return emitError() << "output " << i << " ('" << node.output(i) << "') is not supported";
  for (size_t i = 0; i < min; ++i)
    if (!input(i))
      return emitError() << "input " << i << " is required";
  return success();
}

const onnx::AttributeProto *NodeContext::attr(StringRef name) const {
  for (const auto &a : node.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

int64_t NodeContext::intAttr(StringRef name, int64_t dflt) const {
  const auto *a = attr(name);
  return a ? a->i() : dflt;
}

float NodeContext::floatAttr(StringRef name, float dflt) const {
  const auto *a = attr(name);
  return a ? a->f() : dflt;
}

std::string NodeContext::stringAttr(StringRef name, StringRef dflt) const {
  const auto *a = attr(name);
  return a ? a->s() : dflt.str();
}

std::optional<SmallVector<int64_t>> NodeContext::intsAttr(StringRef name) const {
  const auto *a = attr(name);
  if (!a)
    return std::nullopt;
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

FailureOr<ElementsAttr> NodeContext::tensorAttr(StringRef name) {
  const auto *a = attr(name);
  if (!a || !a->has_t())
    return emitError() << "needs a tensor attribute '" << name << "'";
  std::string error;
  onnx::TensorProto tensor = a->t();
  // Name the blob after the value it defines, so the IR reads like the graph.
  if (tensor.name().empty() && node.output_size() > 0)
    tensor.set_name(node.output(0));
  ElementsAttr value = convertTensor(tensor, modelDir, getContext(), error);
  if (!value)
    return emitError() << "attribute '" << name << "': " << error;
  return value;
}

FailureOr<SmallVector<int64_t>> NodeContext::constantInts(size_t i, StringRef what) {
  Value v = input(i);
  auto values = v ? QOpt::getConstantInts(v) : std::nullopt;
  if (!values)
    return emitError() << what << " (input " << i << ") must be a constant";
  return *values;
}

Value NodeContext::i64Constant(ArrayRef<int64_t> values) {
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())}, builder.getI64Type());
  return arith::ConstantOp::create(builder, loc, type,
                                   DenseIntElementsAttr::get(type, values));
}

LogicalResult NodeContext::finish(Operation *op) {
  SmallVector<Type> types;
  auto iface = cast<QOpt::InferShapesOpInterface>(op);
  // Errors from the op carry its location; tell which ONNX node it came from.
  ScopedDiagnosticHandler addNode(getContext(), [&](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Error && diag.getLocation() == loc) {
      std::string domain = node.domain().empty() ? "ai.onnx" : node.domain();
      diag.attachNote() << "while importing node '" << name << "' (" << node.op_type()
                        << ", domain " << domain << ", opset " << opset << ")";
    }
    return failure(); // Let the outer handler print it.
  });
  if (failed(iface.inferResultTypes(types)) || types.size() != op->getNumResults()) {
    op->erase();
    return failure();
  }
  for (auto [result, type] : llvm::zip(op->getResults(), types))
    result.setType(type);
  return success();
}
