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

def QOpt_AttentionOp : QOpt_Op<"attention", [Pure]> {
  let summary = "softmax(query · keyᵀ · scale + mask) · value, per head";
  let description = [{
    Scaled dot-product attention over `[B, H, S, D]` queries and `[B, Hkv, T, D]` keys and values,
    where `H` is a multiple of `Hkv`: query head `h` reads key and value head `h / (H / Hkv)`
    (grouped-query attention; multi-head attention when `Hkv = H`). `mask`, when present, is added
    to the scores and broadcasts against `[B, H, S, T]` (causal and padding masks arrive this way).
    The result is `[B, H, S, Dv]`; a row whose scores are all `-inf` (masked everywhere) gives
    zeros, as the exporters' NaN guard after the softmax makes it.

    `qopt-fuse-attention` makes this op from the matmul, scale, mask, softmax and matmul chain that
    exporters write, dropping the transposed and head-repeated copies of the keys and values. The
    runtime's kernel reads the keys and values where they lie, including in a generation session's
    cache (whose rows are strided), so a decoding step never copies the cache.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$query, RankedTensorOf<[F32]>:$key,
                       RankedTensorOf<[F32]>:$value, Optional<RankedTensorOf<[F32]>>:$mask,
                       DefaultValuedAttr<F64Attr, "1.0">:$scale);
  let results = (outs RankedTensorOf<[F32]>:$output);
  let assemblyFormat = "$query `,` $key `,` $value (`,` $mask^)? attr-dict `:` functional-type(operands, results)";
}
