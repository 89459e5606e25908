//===- QOptInterfaces.td - shape inference interface -------*- tablegen -*-===//
// clang-format off

#ifndef QOPT_INTERFACES_TD
#define QOPT_INTERFACES_TD

include "mlir/IR/OpBase.td"

def QOpt_InferShapesOpInterface : OpInterface<"InferShapesOpInterface"> {
  let cppNamespace = "::qopt::QOpt";
  let description = [{
    Computes an op's result types from its operands and attributes. The importer creates each op
    and then asks it for its result types, so a malformed graph becomes a diagnostic instead of an
    assertion; `qopt-infer-shapes` asks again after folding has made more dimensions static. An op
    answers with the most refined types it can prove, `?` for dimensions it cannot.
  }];
  let methods = [
    InterfaceMethod<"Computes the result types; emits an error on the op and fails when the "
                    "operands cannot be valid.",
      "::llvm::LogicalResult", "inferResultTypes",
      (ins "::llvm::SmallVectorImpl<::mlir::Type> &":$types)>,
  ];
  let verify = [{ return ::qopt::QOpt::verifyInferredShapes($_op); }];
}

#endif // QOPT_INTERFACES_TD
