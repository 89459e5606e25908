//===- QOptElementwiseOps.td - elementwise ops -------------*- tablegen -*-===//
// clang-format off
// Unary and broadcasting binary ops. Broadcasting follows NumPy (and ONNX): shapes are aligned on
// the right and a dimension of 1 stretches.

class QOpt_UnaryOp<string mnemonic, string desc, list<Trait> traits = []>
    : QOpt_Op<mnemonic, !listconcat(traits, [Pure, SameOperandsAndResultType])> {
  let summary = desc;
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($output)";
}

def QOpt_NegOp : QOpt_UnaryOp<"neg", "elementwise negation">;
def QOpt_AbsOp : QOpt_UnaryOp<"abs", "elementwise absolute value">;
def QOpt_SqrtOp : QOpt_UnaryOp<"sqrt", "elementwise square root">;
def QOpt_ReciprocalOp : QOpt_UnaryOp<"reciprocal", "elementwise 1/x">;
def QOpt_ExpOp : QOpt_UnaryOp<"exp", "elementwise e^x">;
def QOpt_LogOp : QOpt_UnaryOp<"log", "elementwise natural logarithm">;
def QOpt_TanhOp : QOpt_UnaryOp<"tanh", "elementwise hyperbolic tangent">;
def QOpt_ErfOp : QOpt_UnaryOp<"erf", "elementwise Gauss error function">;
def QOpt_SigmoidOp : QOpt_UnaryOp<"sigmoid", "elementwise 1/(1+e^-x)">;
def QOpt_SinOp : QOpt_UnaryOp<"sin", "elementwise sine">;
def QOpt_CosOp : QOpt_UnaryOp<"cos", "elementwise cosine">;
def QOpt_ReluOp : QOpt_UnaryOp<"relu", "elementwise max(x, 0)">;
def QOpt_FloorOp : QOpt_UnaryOp<"floor", "elementwise rounding down">;
def QOpt_CeilOp : QOpt_UnaryOp<"ceil", "elementwise rounding up">;
def QOpt_RoundOp : QOpt_UnaryOp<"round", "elementwise rounding to nearest, halves to even">;
def QOpt_SignOp : QOpt_UnaryOp<"sign", "elementwise -1, 0 or 1 by the sign of x">;
def QOpt_NotOp : QOpt_UnaryOp<"not", "elementwise logical negation of i1"> { let hasFolder = 1; }
def QOpt_SiluOp : QOpt_UnaryOp<"silu", "elementwise x * sigmoid(x), raised from its parts">;

def QOpt_GeluOp : QOpt_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "Gaussian error linear unit";
  let description = [{ `approximate = "tanh"` selects the tanh approximation, `"none"` the erf form. }];
  let arguments = (ins AnyRankedTensor:$input, DefaultValuedStrAttr<StrAttr, "none">:$approximate);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($output)";
  let hasVerifier = 1;
}

def QOpt_IsNaNOp : QOpt_Op<"is_nan", [Pure]> {
  let summary = "elementwise test for NaN, giving i1";
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
}

def QOpt_CastOp : QOpt_Op<"cast", [Pure]> {
  let summary = "elementwise conversion to another element type";
  let description = [{
    Converts like ONNX `Cast`: float to integer truncates toward zero, integer to i1 tests for
    non-zero, and a `ui` type is read as unsigned.
  }];
  let arguments = (ins AnyRankedTensor:$input, TypeAttr:$to);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasFolder = 1;
}

class QOpt_BinaryOp<string mnemonic, string desc, list<Trait> traits = []>
    : QOpt_Op<mnemonic, !listconcat(traits, [Pure])> {
  let summary = desc;
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def QOpt_AddOp : QOpt_BinaryOp<"add", "broadcasting addition", [Commutative]>;
def QOpt_SubOp : QOpt_BinaryOp<"sub", "broadcasting subtraction">;
def QOpt_MulOp : QOpt_BinaryOp<"mul", "broadcasting multiplication", [Commutative]>;
def QOpt_DivOp : QOpt_BinaryOp<"div", "broadcasting division (integers truncate toward zero)">;
def QOpt_PowOp : QOpt_BinaryOp<"pow", "broadcasting power; the exponent may have another element type">;
def QOpt_MaxOp : QOpt_BinaryOp<"max", "broadcasting maximum", [Commutative]>;
def QOpt_MinOp : QOpt_BinaryOp<"min", "broadcasting minimum", [Commutative]>;
def QOpt_ModOp : QOpt_BinaryOp<"mod", "broadcasting remainder (sign of the divisor, as Python)">;
def QOpt_AndOp : QOpt_BinaryOp<"and", "broadcasting logical and of i1", [Commutative]>;
def QOpt_OrOp : QOpt_BinaryOp<"or", "broadcasting logical or of i1", [Commutative]>;
def QOpt_XorOp : QOpt_BinaryOp<"xor", "broadcasting logical exclusive or of i1", [Commutative]>;

// Comparisons broadcast like the binary ops and give i1.
def QOpt_EqualOp : QOpt_BinaryOp<"equal", "broadcasting ==, giving i1", [Commutative]>;
def QOpt_LessOp : QOpt_BinaryOp<"less", "broadcasting <, giving i1">;
def QOpt_LessEqualOp : QOpt_BinaryOp<"less_equal", "broadcasting <=, giving i1">;
def QOpt_GreaterOp : QOpt_BinaryOp<"greater", "broadcasting >, giving i1">;
def QOpt_GreaterEqualOp : QOpt_BinaryOp<"greater_equal", "broadcasting >=, giving i1">;

def QOpt_WhereOp : QOpt_Op<"where", [Pure]> {
  let summary = "broadcasting select: condition ? x : y";
  let arguments = (ins AnyRankedTensor:$condition, AnyRankedTensor:$x, AnyRankedTensor:$y);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$condition `,` $x `,` $y attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}
