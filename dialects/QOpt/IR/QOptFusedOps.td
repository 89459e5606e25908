//===- QOptFusedOps.td - ops made by fusion ----------------*- tablegen -*-===//
// clang-format off

def QOpt_FusedElementwiseOp : QOpt_Op<"fused_elementwise", [Pure, IsolatedFromAbove,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "a chain of elementwise ops on f32, i1, i32 and i64 computed in one loop nest";
  let description = [{
    `qopt-fuse-elementwise` replaces a chain of elementwise ops with this op so that the chain
    reads its inputs once and writes one result, instead of every op writing a tensor. The inputs
    broadcast together as NumPy (and ONNX) broadcast; the result has the broadcast shape. Inputs and
    result are f32, i1 (masks, NaN tests, comparisons), i32 or i64 (position and shape
    arithmetic). The body computes one element: its
    arguments are one element of each input, in order, and it yields the result element. It holds
    `arith` and `math` ops on scalars only (single-element constants of the chain are folded into
    it), so it is isolated from the graph around it.

    `kernel` names the function that computes it once `qopt-outline-fused-kernels` has outlined
    the body into a loop nest.

    ```mlir
    %0 = qopt.fused_elementwise(%x, %b) : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32> {
    ^bb0(%a: f32, %c: f32):
      %s = arith.addf %a, %c : f32
      %e = math.exp %s : f32
      qopt.yield %e : f32
    }
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs, OptionalAttr<FlatSymbolRefAttr>:$kernel);
  let results = (outs AnyRankedTensor:$output);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` attr-dict `:` functional-type($inputs, $output) $body
  }];
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    OpBuilder<(ins "::mlir::Type":$output, "::mlir::ValueRange":$inputs)>,
  ];
}

def QOpt_FusedMatMulOp : QOpt_Op<"fused_matmul", [Pure, IsolatedFromAbove,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "a product by a constant weight in panels, with an elementwise epilogue";
  let description = [{
    `qopt-pack-matmul-weights` turns `qopt.matmul` of an f32 activation `[..., K]` by a constant f32
    weight into this op. The weight is stored in panels of `panel` output columns, `[P, K, panel]`
    with `P = ceil(N / panel)` (the last panel padded with zeros), so that the generated kernel
    reads each panel once, front to back, for a block of rows held in vector registers.

    The body is the epilogue, applied to each output element before it is stored: its first
    argument is the element of the product, the others one element of each epilogue input. It holds
    `arith` and `math` ops on scalars, as in `qopt.fused_elementwise`, and yields the f32 result.
    `qopt-fuse-elementwise` moves the elementwise chain that consumes the product (a bias, an
    activation, a residual add) into it. Epilogue inputs are f32 with `N` as their static last
    dimension; their other dimensions broadcast against the result's.

    `kernel` names the generated function once `qopt-outline-fused-kernels` has run.

    ```mlir
    %y = qopt.fused_matmul(%x, %w, %bias) {n = 64 : i64, panel = 32 : i64}
        : (tensor<?x128xf32>, tensor<2x128x32xf32>, tensor<64xf32>) -> tensor<?x64xf32> {
    ^bb0(%acc: f32, %b: f32):
      %s = arith.addf %acc, %b : f32
      qopt.yield %s : f32
    }
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$input, RankedTensorOf<[F32]>:$weight,
                       Variadic<RankedTensorOf<[F32]>>:$epilogue_inputs,
                       I64Attr:$n, I64Attr:$panel, OptionalAttr<FlatSymbolRefAttr>:$kernel);
  let results = (outs RankedTensorOf<[F32]>:$output);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $input `,` $weight (`,` $epilogue_inputs^)? `)` attr-dict `:`
        functional-type(operands, $output) $body
  }];
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    // An identity epilogue.
    OpBuilder<(ins "::mlir::Type":$output, "::mlir::Value":$input, "::mlir::Value":$weight,
                   "int64_t":$n, "int64_t":$panel)>,
  ];
  let extraClassDeclaration = [{
    /// The contraction length K.
    int64_t getK() { return ::llvm::cast<::mlir::RankedTensorType>(getWeight().getType()).getDimSize(1); }
  }];
}

def QOpt_PanelGatherOp : QOpt_Op<"panel_gather", [Pure]> {
  let summary = "rows of an [N, K] table read from the panels of a packed weight";
  let description = [{
    An embedding table that is also a tied output head is packed for the head (see
    `qopt.fused_matmul`): panels `[ceil(N / panel), K, panel]` whose lane `j` of panel `p` holds
    row `p * panel + j` of the table. This op is the lookup `qopt.gather` (axis 0) on the same
    table, reading each row from the panels, so the table need not be stored twice. The result has
    the indices' shape followed by K; negative indices count from N.

    ```mlir
    %e = qopt.panel_gather %panels, %ids {n = 50 : i64}
        : (tensor<2x16x32xf32>, tensor<1x?xi64>) -> tensor<1x?x16xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$panels, RankedTensorOf<[I32, I64]>:$indices,
                       I64Attr:$n);
  let results = (outs RankedTensorOf<[F32]>:$output);
  let assemblyFormat = "$panels `,` $indices attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def QOpt_YieldOp : Op<QOpt_Dialect, "yield", [Pure, Terminator,
    ParentOneOf<["FusedElementwiseOp", "FusedMatMulOp"]>]> {
  let summary = "the element a fused body computes";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, ::mlir::ValueRange{}); }]>];
}
