//===- QOptQuantOps.td - quantization ops ------------------*- tablegen -*-===//
// clang-format off

def QOpt_FakeQuantOp : QOpt_Op<"fake_quant", [Pure, AttrSizedOperandSegments]> {
  let summary = "quantize-then-dequantize with a straight-through gradient (QAT)";
  let description = [{
    Rounds `input` to the grid of `scheme` and returns the values the codes stand for, in the
    input's type. For training the gradient passes straight through the rounding: d(out)/d(in)
    = 1 inside the grid's range and 0 where the code saturates; a trainer that learns `scales`
    differentiates the same expression in them (LSQ).

    A weight is 2-D `[N, K]`, groups running along K. With `scales` (`tensor<N x G x f32>`, G
    the scheme's groups along K) and, for an asymmetric scheme, `zero_points`
    (`tensor<N x G x ui8>`), each weight of a group with scale `s` and zero point `z` becomes:
    - int codebooks: `q = clamp(round_half_even(w / s) + z, 0, 2^bits - 1)`, out = `(q - z) * s`,
      with `z = 2^(bits-1)` when symmetric: ONNX QuantizeLinear then DequantizeLinear;
    - nf4, fp4, fp8: `s` times the table value nearest `w / s`;
    - a group whose scale is 0 gives 0.
    Without `scales` the grid of every group is chosen from the weights themselves, as
    round-to-nearest (`qopt-quantize-weights`, algorithm rtn) chooses it.

    With `dynamic` the input is an activation of any rank, quantized at run time per group of
    the scheme along its last axis (symmetric int only): `s = max|x| / (2^(bits-1) - 1)`, `out =
    round_half_even(x * (1 / s)) * s` (0 for an all-zero group): the int8 activations of
    `qopt.quantized_matmul`.

    ```mlir
    %q = qopt.fake_quant %w scales %s {scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>}
         : (tensor<64x128xf32>, tensor<64x4xf32>) -> tensor<64x128xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, Optional<AnyRankedTensor>:$scales,
                       Optional<AnyRankedTensor>:$zero_points, QOpt_SchemeAttr:$scheme,
                       UnitAttr:$dynamic);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    $input (`scales` $scales^)? (`zero_points` $zero_points^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QOpt_QuantizeOp : QOpt_Op<"quantize", [Pure]> {
  let summary = "activation quantization: saturate(round_half_even(x / scale) + zero_point)";
  let description = [{
    ONNX QuantizeLinear semantics. `scale` (and `zero_point`, of the result's element type) are 0-D
    for per-tensor, 1-D along `axis` for per-axis, and blocked along `axis` when `block_size` > 0.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$scale,
                       Optional<AnyRankedTensor>:$zero_point,
                       DefaultValuedAttr<I64Attr, "1">:$axis,
                       DefaultValuedAttr<I64Attr, "0">:$block_size,
                       DefaultValuedAttr<BoolAttr, "true">:$saturate,
                       TypeAttr:$storage_type);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input `,` $scale (`,` $zero_point^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def QOpt_DequantizeOp : QOpt_Op<"dequantize", [Pure]> {
  let summary = "activation dequantization: (x - zero_point) * scale";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$scale,
                       Optional<AnyRankedTensor>:$zero_point,
                       DefaultValuedAttr<I64Attr, "1">:$axis,
                       DefaultValuedAttr<I64Attr, "0">:$block_size);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input `,` $scale (`,` $zero_point^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def QOpt_ObserveOp : QOpt_Op<"observe", [SameOperandsAndResultType]> {
  let summary = "identity that records statistics of its input during calibration";
  let arguments = (ins AnyRankedTensor:$input, StrAttr:$name);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($output)";
}

def QOpt_QuantizedMatMulOp : QOpt_Op<"quantized_matmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "x[..., K] times a packed quantized weight [N, K] transposed, giving [..., N]";
  let description = [{
    The fused quantized linear layer that lowering targets: the weight stays packed and is decoded
    inside the matmul's inner loop. Operands:
    - `codes`: `tensor<N x R x ui8>`, each row's K codes packed densely LSB first, R = ceil(K*bits/8);
    - `scales`: `tensor<N x G x T>` for G groups along K, T the scheme's scale type (`ui8` codes
      when the scales are double-quantized, with `scale_scales` holding one f32 per block);
    - `zero_points`: `tensor<N x G x ui8>`, present exactly when the scheme is asymmetric.

    With `int8_activations`, each row of `input` is quantized per group of the scheme (along K)
    to int8 with scale max|x| / 127, rounding half to even, and the products are integer dot
    products scaled per group: ONNX Runtime's "accuracy level 4" arithmetic for MatMulNBits,
    which its default session also applies to blocked int4 QDQ weights. With `activation_scale`
    as well (static activation quantization, the scale from calibration) every element is
    quantized with that one scale instead: round_half_even(x / scale) saturated to [-128, 127].

    With `bf16_activations`, each element of `input` is rounded to bfloat16 (to nearest, ties to
    even) before the products, which are summed in f32: the weight's codes are exact in bf16, so
    on CPUs with AVX-512-BF16 the products are `vdpbf16ps` pair dot products (the precision that
    MatMulNBits' accuracy level 3 allows). Excludes `int8_activations`.

    With `channel_panels` (set by `qopt-pack-channel-panels`; 4-bit codes with K and groups
    multiples of 8, 2- or 3-bit integer codes with multiples of 16, or 8-bit integer or FP8 codes
    with multiples of 4; no double quantization) the
    first 16 * floor(N / 16) rows are stored in panels of 16 output channels, the layout the
    AVX-512 kernels read: 64 bytes hold 16 (2-bit), 8 (4-bit) or 4 (8-bit) inputs of 16
    channels, channel 16 * p + j's in bytes 4 * j to 4 * j + 3 (4-bit: input 8 * b + t in byte t's
    low nibble, input 8 * b + t + 4 in its high nibble); 3-bit codes take 96 bytes for 16 inputs,
    their low two bits as 2-bit codes and then four 64-bit masks of their high bits
    (include/qopt/Quant/ChannelPanels.h). Their scales and zero points are stored as
    [N / 16, groups, 16]. The remaining rows keep the row layout; no tensor changes shape.

    ```mlir
    %y = qopt.quantized_matmul %x, %codes, %scales {in_features = 128 : i64,
           scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>}
         : (tensor<1x?x128xf32>, tensor<64x64xui8>, tensor<64x1xf16>) -> tensor<1x?x64xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$codes, AnyRankedTensor:$scales,
                       Optional<AnyRankedTensor>:$zero_points,
                       Optional<AnyRankedTensor>:$scale_scales,
                       QOpt_SchemeAttr:$scheme, I64Attr:$in_features,
                       UnitAttr:$int8_activations, OptionalAttr<F32Attr>:$activation_scale,
                       UnitAttr:$channel_panels, UnitAttr:$bf16_activations);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    $input `,` $codes `,` $scales (`zero_points` $zero_points^)? (`scale_scales` $scale_scales^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QOpt_QuantizedGatherOp : QOpt_Op<"quantized_gather", [Pure, AttrSizedOperandSegments]> {
  let summary = "rows of a packed quantized table [V, D] (an embedding), decoded to f32";
  let description = [{
    Gathers the rows named by `indices` (any rank, int32 or int64, negative counting from the end)
    from a table stored like `qopt.quantized_matmul`'s weight: `codes` `tensor<V x R x ui8>`,
    `scales` `tensor<V x G x T>`, and the optional zero points and second-level scales. The
    result has the shape of `indices` followed by `row_size`.

    ```mlir
    %e = qopt.quantized_gather %codes, %scales, %ids {row_size = 384 : i64,
           scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>}
         : (tensor<256x192xui8>, tensor<256x3xf16>, tensor<1x?xi64>) -> tensor<1x?x384xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$codes, AnyRankedTensor:$scales,
                       Optional<AnyRankedTensor>:$zero_points,
                       Optional<AnyRankedTensor>:$scale_scales,
                       AnyRankedTensor:$indices,
                       QOpt_SchemeAttr:$scheme, I64Attr:$row_size);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    $codes `,` $scales (`zero_points` $zero_points^)? (`scale_scales` $scale_scales^)? `,` $indices
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QOpt_DynamicQuantizeOp : QOpt_Op<"dynamic_quantize", [Pure]> {
  let summary = "ONNX DynamicQuantizeLinear: uint8 codes with a scale and zero point from the range";
  let description = [{
    `scale = (max(x, 0) - min(x, 0)) / 255`, `zero_point = saturate(round_half_even(-min(x, 0) /
    scale))`, `output = saturate(round_half_even(x / scale) + zero_point)`, all as ONNX specifies.
  }];
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$output, AnyRankedTensor:$scale, AnyRankedTensor:$zero_point);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type(results)";
}

def QOpt_SparseMatMulOp : QOpt_Op<"sparse_matmul", [Pure]> {
  let summary = "x[..., K] times a sparse weight [N, K] transposed (CSR, f16 values), giving [..., N]";
  let description = [{
    The outliers of a quantized layer (SpQR-style): the few weights that quantization would hurt
    most, kept in f16 beside the packed codes (whose code at those positions stands for zero). The
    layer's output is the quantized matmul's plus this one's. `row_offsets` (N + 1, i32) delimits
    each output channel's entries in `columns` (i32 input channels) and `values` (f16).

    ```mlir
    %s = qopt.sparse_matmul %x, %offsets, %columns, %values {in_features = 128 : i64}
         : (tensor<1x?x128xf32>, tensor<65xi32>, tensor<40xi32>, tensor<40xf16>) -> tensor<1x?x64xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$row_offsets,
                       AnyRankedTensor:$columns, AnyRankedTensor:$values, I64Attr:$in_features);
  let results = (outs AnyRankedTensor:$output);
  let hasVerifier = 1;
  let assemblyFormat = [{
    $input `,` $row_offsets `,` $columns `,` $values attr-dict `:` functional-type(operands, results)
  }];
}

def QOpt_MatMulIntegerOp : QOpt_Op<"matmul_integer", [Pure, AttrSizedOperandSegments]> {
  let summary = "ONNX MatMulInteger: (a - a_zero_point) x (b - b_zero_point) in int32";
  let description = [{
    8-bit operands (int8 or uint8), NumPy matmul broadcasting. `a_zero_point` is a scalar or one
    per row of `a` (1-D, M); `b_zero_point` a scalar or one per column of `b` (1-D, N).
  }];
  let arguments = (ins AnyRankedTensor:$a, AnyRankedTensor:$b,
                       Optional<AnyRankedTensor>:$a_zero_point,
                       Optional<AnyRankedTensor>:$b_zero_point);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    $a `,` $b (`a_zero_point` $a_zero_point^)? (`b_zero_point` $b_zero_point^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QOpt_QLinearMatMulOp : QOpt_Op<"qlinear_matmul", [Pure]> {
  let summary = "ONNX QLinearMatMul: a quantized matmul whose result is quantized again";
  let description = [{
    `output = saturate(round_half_even(acc * a_scale * b_scale / y_scale) + y_zero_point)` with
    `acc` the exact int32 product of the zero-point-shifted 8-bit operands. `a_scale` is a scalar
    (or one per row), `b_scale` a scalar or one per column.
  }];
  let arguments = (ins AnyRankedTensor:$a, AnyRankedTensor:$a_scale, AnyRankedTensor:$a_zero_point,
                       AnyRankedTensor:$b, AnyRankedTensor:$b_scale, AnyRankedTensor:$b_zero_point,
                       AnyRankedTensor:$y_scale, AnyRankedTensor:$y_zero_point);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

class QOpt_QLinearBinaryOp<string mnemonic, string desc> : QOpt_Op<mnemonic, [Pure]> {
  let summary = desc;
  let description = [{
    ONNX Runtime's com.microsoft QLinearAdd / QLinearMul: per-tensor 8-bit operands (NumPy
    broadcasting) whose dequantized sum or product is quantized to `c_scale`, `c_zero_point`. The
    contrib op is defined by ONNX Runtime's CPU kernels, so the runtime computes it their way (scale
    ratios and a fused multiply-add for add; the integer product times one float ratio for mul),
    which can differ by one step from dequantize-op-quantize where a value lands near a half.
    `unsigned_domain` (int8 only) computes on the values shifted by 128 to uint8, as ONNX Runtime
    does for the int8 QDQ groups it converts before fusing them.
  }];
  let arguments = (ins AnyRankedTensor:$a, AnyRankedTensor:$a_scale, AnyRankedTensor:$a_zero_point,
                       AnyRankedTensor:$b, AnyRankedTensor:$b_scale, AnyRankedTensor:$b_zero_point,
                       AnyRankedTensor:$c_scale, AnyRankedTensor:$c_zero_point,
                       UnitAttr:$unsigned_domain);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def QOpt_QLinearAddOp : QOpt_QLinearBinaryOp<"qlinear_add", "quantized add, requantized">;
def QOpt_QLinearMulOp : QOpt_QLinearBinaryOp<"qlinear_mul", "quantized multiply, requantized">;

def QOpt_QLinearSoftmaxOp : QOpt_Op<"qlinear_softmax", [Pure]> {
  let summary = "ONNX Runtime's quantized softmax over `axis`";
  let description = [{
    com.microsoft QLinearSoftmax as ONNX Runtime computes it: exponentials of the codes' distances
    from the row maximum from a 256-entry table built for `x_scale`, summed in f32, and the result
    requantized with `floor(1 / y_scale)` as the multiplier (the zero point of `x` cancels). With
    `flatten_tail` (the contrib op's `opset` below 13) the softmax runs over all dims from `axis`.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$x_scale,
                       AnyRankedTensor:$y_scale, AnyRankedTensor:$y_zero_point,
                       I64Attr:$axis, DefaultValuedAttr<BoolAttr, "false">:$flatten_tail);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}
