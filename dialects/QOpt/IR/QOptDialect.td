//===- QOptDialect.td - the qopt dialect definition --------*- tablegen -*-===//
// clang-format off

#ifndef QOPT_DIALECT_TD
#define QOPT_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def QOpt_Dialect : Dialect {
  let name = "qopt";
  let cppNamespace = "::qopt::QOpt";
  let summary = "Graph-level tensor and quantization ops for transformer models";
  let description = [{
    The `qopt` dialect holds a transformer graph at the level quantization reasons about: linear
    layers with their weights, norms, softmax, activations, gathers, and the shape arithmetic around
    them. Quantization schemes are attributes (`#qopt.scheme`), never element types: the scale and
    zero-point numbers of a quantized weight live in dense resource blobs next to its packed codes.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
  let extraClassDeclaration = [{
    /// Adds the attributes; defined beside their storage classes.
    void registerAttributes();
  }];
}

class QOpt_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<QOpt_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

#endif // QOPT_DIALECT_TD
