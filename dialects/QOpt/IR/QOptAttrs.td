//===- QOptAttrs.td - quantization scheme attributes -------*- tablegen -*-===//
// clang-format off

#ifndef QOPT_ATTRS_TD
#define QOPT_ATTRS_TD

include "dialects/QOpt/IR/QOptDialect.td"
include "mlir/IR/EnumAttr.td"

def QOpt_Codebook : I32EnumAttr<"Codebook", "how a weight code maps to a value", [
    I32EnumAttrCase<"Int", 0, "int">,
    I32EnumAttrCase<"NF4", 1, "nf4">,
    I32EnumAttrCase<"FP4", 2, "fp4">,
    I32EnumAttrCase<"FP8E4M3", 3, "fp8_e4m3">,
    I32EnumAttrCase<"BnbFP4", 4, "bnb_fp4">]> {
  let cppNamespace = "::qopt::QOpt";
  let genSpecializedAttr = 0;
}

def QOpt_SchemeAttr : QOpt_Attr<"Scheme", "scheme"> {
  let summary = "How the weights of one layer are quantized";
  let description = [{
    Describes a weight quantization scheme without holding any of its numbers: those live in the
    scale and zero-point operands of the op that carries the scheme.

    - `codebook` and `bits`: `int4` is a uniform 4-bit grid; `nf4`, `fp4` (e2m1) and `fp8_e4m3`
      map codes through a fixed table or float format; `bnb_fp4` is bitsandbytes' FP4 table
      (ONNX Runtime's MatMulBnb4).
    - `group`: consecutive input-channel (K) weights of one output channel that share a scale;
      `channel` means one group spans all of K.
    - `sym` (implied zero point `2^(bits-1)` for `int`) or `asym` (a stored zero point per group).
    - `scale`: the element type of the stored scales (f16, bf16 or f32).
    - `double_quant = B`: scales are themselves quantized to 8 bits in blocks of B, with an f32
      second-level scale per block (QLoRA).

    Example: `#qopt.scheme<int4, group = 128, sym, scale = f16>`.
  }];
  let parameters = (ins
    "::qopt::QOpt::Codebook":$codebook,
    "unsigned":$bits,
    "int64_t":$groupSize,
    "bool":$symmetric,
    "::mlir::Type":$scaleType,
    "int64_t":$doubleQuantBlock);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True when a group spans the whole input dimension.
    bool isPerChannel() const { return getGroupSize() == 0; }
    /// Number of groups along an input dimension of `k` elements.
    int64_t getNumGroups(int64_t k) const;
    /// Bytes of packed codes for one output row of `k` elements (codes packed densely, LSB first).
    int64_t getPackedRowBytes(int64_t k) const;
  }];
}

#endif // QOPT_ATTRS_TD
