//===- Passes.td - qopt dialect passes ---------------------*- tablegen -*-===//
// clang-format off

#ifndef QOPT_TRANSFORMS_PASSES_TD
#define QOPT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def InferShapesPass : Pass<"qopt-infer-shapes", "::mlir::ModuleOp"> {
  let summary = "Refines result types and folds shape arithmetic to a fixed point";
  let description = [{
    Walks every function in order, asks each qopt op for its result types again and adopts any
    more refined ones, then folds; repeats until nothing changes, and finally updates function
    signatures. Once the input shapes are static this turns the exporter's Shape/Gather/Concat
    arithmetic into constants.

    Before:
    ```mlir
    %s = qopt.shape %x : tensor<2x8xf32> -> tensor<2xi64>
    %r = qopt.reshape %x, %s : (tensor<2x8xf32>, tensor<2xi64>) -> tensor<?x?xf32>
    ```
    After: `%r` is `%x` (a reshape to its own static shape).
  }];
  let options = [
    Option<"maxIterations", "max-iterations", "int64_t", "16",
           "Rounds of refine-and-fold before giving up on a fixed point">,
  ];
  let statistics = [
    Statistic<"numRefined", "num-refined", "Result types made more static">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def RaisePatternsPass : Pass<"qopt-raise-patterns", "::mlir::func::FuncOp"> {
  let summary = "Recognizes RMSNorm, LayerNorm and SiLU in their exported elementwise form";
  let description = [{
    Exporters spell composite layers as chains of elementwise ops. Quantization and codegen want
    them whole, so this pass rewrites:
    - `x * reciprocal(sqrt(reduce_mean(x^2, -1) + eps))` times a weight (or with `div`) into
      `qopt.rms_norm`;
    - `(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) * scale + bias` into `qopt.layer_norm`
      (LayerNormalization before opset 17);
    - `x * sigmoid(x)` into `qopt.silu`.

    Before:
    ```mlir
    %s = qopt.sigmoid %x : tensor<4xf32>
    %y = qopt.mul %x, %s : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    ```
    After:
    ```mlir
    %y = qopt.silu %x : tensor<4xf32>
    ```
  }];
  let statistics = [
    Statistic<"numRaised", "num-raised", "Composite ops recognized">,
  ];
}

#endif // QOPT_TRANSFORMS_PASSES_TD
