//===- QOptOps.td - qopt dialect ops -----------------------*- tablegen -*-===//
// clang-format off

#ifndef QOPT_OPS_TD
#define QOPT_OPS_TD

include "dialects/QOpt/IR/QOptDialect.td"
include "dialects/QOpt/IR/QOptAttrs.td"
include "dialects/QOpt/IR/QOptInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

/// Every qopt op infers its result types; the verifier checks the declared types against them.
class QOpt_Op<string mnemonic, list<Trait> traits = []>
    : Op<QOpt_Dialect, mnemonic,
         !listconcat(traits, [DeclareOpInterfaceMethods<QOpt_InferShapesOpInterface>])>;

include "dialects/QOpt/IR/QOptElementwiseOps.td"
include "dialects/QOpt/IR/QOptTensorOps.td"
include "dialects/QOpt/IR/QOptNNOps.td"
include "dialects/QOpt/IR/QOptQuantOps.td"
include "dialects/QOpt/IR/QOptFusedOps.td"

#endif // QOPT_OPS_TD
