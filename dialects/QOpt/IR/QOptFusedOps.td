//===- QOptFusedOps.td - ops made by fusion ----------------*- tablegen -*-===//
// clang-format off

def QOpt_FusedElementwiseOp : QOpt_Op<"fused_elementwise", [Pure, IsolatedFromAbove,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "a chain of elementwise ops on f32 and i1 computed in one loop nest";
  let description = [{
    `qopt-fuse-elementwise` replaces a chain of elementwise ops with this op so that the chain
    reads its inputs once and writes one result, instead of every op writing a tensor. The inputs
    broadcast together as NumPy (and ONNX) broadcast; the result has the broadcast shape. Inputs and
    result are f32 or i1 (masks, NaN tests, comparisons). The body computes one element: its
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

def QOpt_YieldOp : Op<QOpt_Dialect, "yield", [Pure, Terminator,
    HasParent<"FusedElementwiseOp">]> {
  let summary = "the element a fused body computes";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, ::mlir::ValueRange{}); }]>];
}
