//===- QOptTensorOps.td - shape and data movement ops ------*- tablegen -*-===//
// clang-format off
// The shape arithmetic around transformer layers. Each op folds when its inputs are constants or
// its input shapes are static, so `canonicalize` turns a static-shape graph's arithmetic into
// constants.

def QOpt_ShapeOp : QOpt_Op<"shape", [Pure]> {
  let summary = "the dimensions of a tensor as a 1-D i64 tensor";
  let description = [{ `start` and `end` select dims like ONNX Shape-15 (negative counts from the back). }];
  let arguments = (ins AnyRankedTensor:$input, DefaultValuedAttr<I64Attr, "0">:$start,
                       OptionalAttr<I64Attr>:$end);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasFolder = 1;
  let extraClassDeclaration = [{
    /// The selected dims as a half-open range [first, last) of the input's dims.
    std::pair<int64_t, int64_t> getDimRange();
  }];
}

def QOpt_GatherOp : QOpt_Op<"gather", [Pure]> {
  let summary = "takes slices of `data` along `axis` at `indices` (negative indices count from the back)";
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices,
                       DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$data `,` $indices attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def QOpt_GatherElementsOp : QOpt_Op<"gather_elements", [Pure]> {
  let summary = "output[i][j] = data[index[i][j]][j] (for axis 0), elementwise along `axis`";
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices,
                       DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$data `,` $indices attr-dict `:` functional-type(operands, results)";
}

def QOpt_GatherNDOp : QOpt_Op<"gather_nd", [Pure]> {
  let summary = "gathers slices of `data` addressed by the last dimension of `indices`";
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices,
                       DefaultValuedAttr<I64Attr, "0">:$batch_dims);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$data `,` $indices attr-dict `:` functional-type(operands, results)";
}

def QOpt_ConcatOp : QOpt_Op<"concat", [Pure]> {
  let summary = "joins tensors along `axis`";
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs, I64Attr:$axis);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def QOpt_RangeOp : QOpt_Op<"range", [Pure]> {
  let summary = "start, start+delta, ... up to (excluding) limit, from 0-D operands";
  let arguments = (ins AnyRankedTensor:$start, AnyRankedTensor:$limit, AnyRankedTensor:$delta);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$start `,` $limit `,` $delta attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def QOpt_CumSumOp : QOpt_Op<"cum_sum", [Pure]> {
  let summary = "running sum along `axis`";
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis,
                       DefaultValuedAttr<BoolAttr, "false">:$exclusive,
                       DefaultValuedAttr<BoolAttr, "false">:$reverse);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
}

def QOpt_ExpandOp : QOpt_Op<"expand", [Pure]> {
  let summary = "broadcasts `input` against the shape held in the 1-D i64 `shape`";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$shape);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input `,` $shape attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def QOpt_ReshapeOp : QOpt_Op<"reshape", [Pure]> {
  let summary = "reinterprets `input` with the shape held in `shape` (0 copies a dim, -1 is inferred)";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$shape,
                       DefaultValuedAttr<BoolAttr, "false">:$allowzero);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input `,` $shape attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def QOpt_TransposeOp : QOpt_Op<"transpose", [Pure]> {
  let summary = "permutes dimensions: output dim i is input dim perm[i]";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasFolder = 1;
}

def QOpt_SliceOp : QOpt_Op<"slice", [Pure, AttrSizedOperandSegments]> {
  let summary = "strided slice with ONNX Slice-13 semantics (clamped, negative from the back)";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$starts, AnyRankedTensor:$ends,
                       Optional<AnyRankedTensor>:$axes, Optional<AnyRankedTensor>:$steps);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    $input `,` $starts `,` $ends (`axes` $axes^)? (`steps` $steps^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasFolder = 1;
}

def QOpt_SplitOp : QOpt_Op<"split", [Pure]> {
  let summary = "splits along `axis` into parts of the sizes in `sizes` (or equal parts)";
  let arguments = (ins AnyRankedTensor:$input, Optional<AnyRankedTensor>:$sizes, I64Attr:$axis);
  let results = (outs Variadic<AnyRankedTensor>:$outputs);
  let assemblyFormat = "$input (`sizes` $sizes^)? attr-dict `:` functional-type(operands, results)";
}

def QOpt_SqueezeOp : QOpt_Op<"squeeze", [Pure]> {
  let summary = "removes the dims of size 1 listed in `axes`";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasFolder = 1;
}

def QOpt_UnsqueezeOp : QOpt_Op<"unsqueeze", [Pure]> {
  let summary = "inserts dims of size 1 at `axes` (positions in the output)";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasFolder = 1;
}

def QOpt_ConstantOfShapeOp : QOpt_Op<"constant_of_shape", [Pure]> {
  let summary = "a tensor of the shape held in `shape`, every element `value`";
  let arguments = (ins AnyRankedTensor:$shape, TypedAttrInterface:$value);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$shape attr-dict `:` type($shape) `->` type($output)";
  let hasFolder = 1;
}

def QOpt_TileOp : QOpt_Op<"tile", [Pure]> {
  let summary = "repeats `input` `repeats[i]` times along each dim i (1-D i64 `repeats`)";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$repeats);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input `,` $repeats attr-dict `:` functional-type(operands, results)";
}

def QOpt_TriluOp : QOpt_Op<"trilu", [Pure]> {
  let summary = "keeps the upper (or lower) triangle of the last two dims, offset by diagonal `k`";
  let arguments = (ins AnyRankedTensor:$input, Optional<AnyRankedTensor>:$k,
                       DefaultValuedAttr<BoolAttr, "true">:$upper);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input (`k` $k^)? attr-dict `:` functional-type(operands, results)";
}

def QOpt_KVAppendOp : QOpt_Op<"kv_append", [Pure]> {
  let summary = "a KV-cache graph input with this step's keys or values appended along `axis`";
  let description = [{
    The value of `concat(past, new)` along `axis`. `qopt-fuse-attention` makes it from such a
    concat when `past` is a graph input and every use of the result is an attention op or the
    graph's return (the present output): then a generation session can keep `past` in a buffer
    with room for its maximum context and append `new` in place, the result being a strided view
    of that buffer. Outside a session the runtime concatenates as `qopt.concat` does.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$past, RankedTensorOf<[F32]>:$new_values,
                       I64Attr:$axis);
  let results = (outs RankedTensorOf<[F32]>:$output);
  let assemblyFormat = "$past `,` $new_values attr-dict `:` functional-type(operands, results)";
}
