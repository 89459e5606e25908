//===- QOptNNOps.td - linear algebra, norm and reduction ops -*- tablegen -*-===//
// clang-format off

def QOpt_MatMulOp : QOpt_Op<"matmul", [Pure]> {
  let summary = "NumPy matmul: batched over leading dims, 1-D operands promoted and squeezed";
  let description = [{
    A matmul whose `rhs` is a constant 2-D weight is a linear layer: `qopt-select-precision` and
    `qopt-quantize-weights` look for exactly this form.
  }];
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def QOpt_GemmOp : QOpt_Op<"gemm", [Pure]> {
  let summary = "alpha * op(a) * op(b) + beta * c on 2-D operands, op() optionally transposing";
  let arguments = (ins AnyRankedTensor:$a, AnyRankedTensor:$b, Optional<AnyRankedTensor>:$c,
                       DefaultValuedAttr<F32Attr, "1.0f">:$alpha,
                       DefaultValuedAttr<F32Attr, "1.0f">:$beta,
                       DefaultValuedAttr<BoolAttr, "false">:$transA,
                       DefaultValuedAttr<BoolAttr, "false">:$transB);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$a `,` $b (`,` $c^)? attr-dict `:` functional-type(operands, results)";
}

def QOpt_SoftmaxOp : QOpt_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "exp(x - max) / sum(exp(x - max)) along `axis`";
  let arguments = (ins AnyRankedTensor:$input, DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($output)";
}

def QOpt_LayerNormOp : QOpt_Op<"layer_norm", [Pure]> {
  let summary = "normalizes over dims [axis, rank) to zero mean and unit variance, then scales and shifts";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$scale, Optional<AnyRankedTensor>:$bias,
                       DefaultValuedAttr<I64Attr, "-1">:$axis,
                       DefaultValuedAttr<F32Attr, "1e-5f">:$epsilon);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input `,` $scale (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
}

def QOpt_RMSNormOp : QOpt_Op<"rms_norm", [Pure]> {
  let summary = "x / sqrt(mean(x^2 over the last dim) + epsilon) * scale";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$scale,
                       DefaultValuedAttr<F32Attr, "1e-6f">:$epsilon);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input `,` $scale attr-dict `:` functional-type(operands, results)";
}

class QOpt_ReduceOp<string mnemonic, string desc> : QOpt_Op<mnemonic, [Pure]> {
  let summary = desc;
  let description = [{ Reduces over `axes` (all dims when empty); `keepdims` keeps them as size 1. }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes,
                       DefaultValuedAttr<BoolAttr, "true">:$keepdims);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
}

def QOpt_ReduceMeanOp : QOpt_ReduceOp<"reduce_mean", "mean over axes">;
def QOpt_ReduceSumOp : QOpt_ReduceOp<"reduce_sum", "sum over axes">;
def QOpt_ReduceMaxOp : QOpt_ReduceOp<"reduce_max", "maximum over axes">;
def QOpt_ReduceMinOp : QOpt_ReduceOp<"reduce_min", "minimum over axes">;
def QOpt_ReduceProdOp : QOpt_ReduceOp<"reduce_prod", "product over axes"> { let hasFolder = 1; }
