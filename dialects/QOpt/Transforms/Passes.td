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
  let summary = "Recognizes RMSNorm, LayerNorm, SiLU and rotate_half in their exported form";
  let description = [{
    Exporters spell composite layers as chains of elementwise ops. Quantization and codegen want
    them whole, so this pass rewrites:
    - `x * reciprocal(sqrt(reduce_mean(x^2, -1) + eps))` times a weight (or with `div`) into
      `qopt.rms_norm`;
    - `(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) * scale + bias` into `qopt.layer_norm`
      (LayerNormalization before opset 17);
    - `x * sigmoid(x)` into `qopt.silu`;
    - rotary embedding's rotate_half, `concat(-x[..., h:], x[..., :h])` over the last axis, into
      `reshape(slice(reshape(x, [..., 2, h]), reversed on the pair axis), [..., 2h]) * sign`
      (sign -1 on the first half): one strided copy where the slices, the negation and the
      concatenation were four kernels, and the sign joins the consumer's elementwise chain.

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

def SelectPrecisionPass : Pass<"qopt-select-precision", "::mlir::ModuleOp"> {
  let summary = "Assigns a weight quantization scheme to every linear layer";
  let description = [{
    Finds the linear layers (a `qopt.matmul` whose right operand is a constant 2-D f32 weight, or
    the transpose of one, as in a tied output head; a `qopt.gemm` by a constant weight with
    alpha = beta = 1 and no transposed left operand) and, with `quantize-embeddings`, the embedding
    lookups (a `qopt.gather` along axis 0 of a constant 2-D table), and sets a `qopt.scheme`
    attribute on each from the options. The output head (the last linear layer, with as many
    outputs as an embedding table has rows) and the embeddings stay f32 unless
    `quantize-embeddings` is set.

    `layer-bits` overrides the scheme by name: a comma-separated list of `REGEX=BITS` or
    `REGEX=none`; the first rule whose regular expression matches the whole of a layer's name (its
    exporter scope such as `model.layers.0.mlp.down_proj`, its ONNX node name, or its weight's
    name) decides. Nothing happens when `wbits` is 0 and no rule applies.

    LoRA (see `qopt-recognize-lora`): adapter matmuls (`qopt.lora_adapter`) are never quantized;
    base layers (`qopt.lora_base`) take `lora-base`: `nf4dq` (QLoRA's recipe: NF4 in blocks of
    64, the block scales quantized to 8 bits in blocks of 256) or `flags` (the scheme of every
    other layer). `layer-bits` rules still decide over both choices for base layers.

    Before:
    ```mlir
    %y = qopt.matmul %x, %w : (tensor<1x?x64xf32>, tensor<64x32xf32>) -> tensor<1x?x32xf32>
    ```
    After (`wbits=4 group-size=32`):
    ```mlir
    %y = qopt.matmul %x, %w {qopt.scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>} : ...
    ```
  }];
  let options = [
    Option<"wbits", "wbits", "unsigned", "0", "Weight bits (2-8); 0 leaves layers unquantized">,
    Option<"groupSize", "group-size", "int64_t", "128",
           "Weights per scale along the input dimension; 0 for one scale per output channel">,
    Option<"symmetric", "sym", "bool", "true", "Symmetric (true) or with zero points (false)">,
    Option<"wtype", "wtype", "std::string", "\"int\"", "Codebook: int, nf4, fp4 or fp8">,
    Option<"scaleType", "scale-type", "std::string", "\"f16\"", "Scale storage: f16, bf16 or f32">,
    Option<"doubleQuant", "double-quant", "int64_t", "0",
           "Quantize the scales to 8 bits in blocks of this many (0: off)">,
    Option<"quantizeEmbeddings", "quantize-embeddings", "bool", "false",
           "Quantize the embedding tables and the output head too">,
    Option<"layerBits", "layer-bits", "std::string", "\"\"",
           "Per-layer overrides: REGEX=BITS|none,...">,
    Option<"markPinned", "mark-pinned", "bool", "false",
           "Mark the layers a layer-bits rule decided with `qopt.pinned`, so that "
           "qopt-allocate-precision leaves them as they are">,
    Option<"loraBase", "lora-base", "std::string", "\"nf4dq\"",
           "Scheme of LoRA base layers: nf4dq (QLoRA) or flags">,
  ];
  let statistics = [
    Statistic<"numSelected", "num-selected", "Layers given a scheme">,
  ];
}

def AllocatePrecisionPass : Pass<"qopt-allocate-precision", "::mlir::ModuleOp"> {
  let summary = "Chooses each layer's scheme from candidates to meet a size, quality or speed budget";
  let description = [{
    Mixed precision as a multiple-choice knapsack. Every layer that carries a `qopt.scheme` and is
    not marked `qopt.pinned` (see `qopt-select-precision`'s `mark-pinned`) takes one of the
    `candidates` (`int4g128`, `int3g64asym`, `nf4`, `f32`, ... or a preset: `default`, `int`,
    `wide`; widths, groups and scale storage left unsaid come from the layer's present scheme).
    Each such layer must carry `qopt.sensitivity`: a dictionary from candidate name to the estimated
    increase of the model's loss when that layer alone takes that candidate (the driver measures
    them on calibration data). Exactly one budget applies:

    - `target-bits`: average bits per weight (scales and zero points included) of the layers that
      end up quantized together with the ones kept in f32 (32 bits) and the pinned ones;
    - `target-size`: bytes of all the model's constants after quantization (the weights file);
    - `max-loss`: the smallest model whose summed estimated loss stays at or below this;
    - `target-latency`: milliseconds per decoded token, from `qopt.latency` on each layer (candidate
      name to microseconds of its kernel at one token) plus the module's
      `qopt.fixed_latency_us` (everything else).

    The plan minimizes the summed loss (or, under `max-loss`, the summed cost) exactly, by dynamic
    programming over costs counted in at most 65536 units, each rounded up: the budget is never
    exceeded. A budget that no plan meets is an error naming the least reachable value. The
    sensitivity and latency attributes are removed; a layer that gets `f32` loses its scheme.

    Before (`target-bits=3.5 candidates=int3g128,int4g128`):
    ```mlir
    %y = qopt.matmul %x, %w {qopt.scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>,
                              qopt.sensitivity = {int3g128 = 0.02 : f64, int4g128 = 0.004 : f64}}
    ```
    After: the same op with the scheme the plan gives it, and no `qopt.sensitivity`.
  }];
  let options = [
    Option<"candidates", "candidates", "std::string", "\"default\"",
           "Comma-separated candidate schemes or presets">,
    Option<"targetBits", "target-bits", "double", "0.0",
           "Average bits per weight (0: not this budget)">,
    Option<"targetSize", "target-size", "int64_t", "0",
           "Bytes of the model's constants after quantization (0: not this budget)">,
    Option<"maxLoss", "max-loss", "double", "-1.0",
           "Largest summed estimated loss increase (negative: not this budget)">,
    Option<"targetLatency", "target-latency", "double", "0.0",
           "Milliseconds per decoded token (0: not this budget)">,
  ];
  let statistics = [
    Statistic<"numAllocated", "num-allocated", "Layers whose scheme the plan chose">,
  ];
}

def QuantizeWeightsPass : Pass<"qopt-quantize-weights", "::mlir::ModuleOp"> {
  let summary = "Round-to-nearest quantization of the weights of layers that carry a scheme";
  let description = [{
    Replaces every `qopt.matmul`, `qopt.gemm` (then followed by a `qopt.add` of its bias) and
    `qopt.gather` that carries a `qopt.scheme` attribute (see
    `qopt-select-precision`) by `qopt.quantized_matmul` / `qopt.quantized_gather` over packed codes
    and scales computed from its constant weight (docs/quantization.md gives the conventions:
    int2-8 symmetric or with zero points, NF4, FP4 e2m1, FP8 e4m3, double-quantized scales). The
    new constants are dense resource blobs; the f32 weight goes away once nothing else uses it.

    Before:
    ```mlir
    %y = qopt.matmul %x, %w {qopt.scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>}
       : (tensor<1x?x64xf32>, tensor<64x32xf32>) -> tensor<1x?x32xf32>
    ```
    After:
    ```mlir
    %y = qopt.quantized_matmul %x, %codes, %scales {in_features = 64 : i64, scheme = ...}
       : (tensor<1x?x64xf32>, tensor<32x32xui8>, tensor<32x2xf16>) -> tensor<1x?x32xf32>
    ```
    With `int8-activations`, the matmuls over 4- and 8-bit integer codes also quantize their
    input to int8 per group (`int8_activations`): integer dot products, faster decoding.

    With `algorithm=gptq` the codes and scales come from GPTQ instead of rounding to nearest: the
    layer's input statistics (from `calibration`, or handed over by qopt-compile) give the
    Hessian X^T X, each input column's rounding error is spread over the columns after it, and
    grids are refitted at every group boundary. The packed form is the same.

    With `activations=int8-static`, the int4/int8 matmuls also get an `activation_scale`: the
    range the `calibrator` finds in the statistics of the layer's input, over 127.

    With `activations=bf16`, every quantized matmul gets `bf16_activations`: its input rounded to
    bf16, the products summed in f32 (`vdpbf16ps` where the CPU has AVX-512-BF16).

    With `outliers=F`, the fraction F of each linear layer's weights whose rounding costs most
    is kept in f16 as a `qopt.sparse_matmul` added to the quantized matmul's output (their codes
    stand for zero); they count in the layer's bytes.
  }];
  let options = [
    Option<"int8Activations", "int8-activations", "bool", "false",
           "Mark matmuls over 4- and 8-bit integer codes to quantize their input to int8 per group">,
    Option<"activations", "activations", "std::string", "\"none\"",
           "Inputs of 4- and 8-bit integer matmuls: none (f32), int8-dynamic (per group at run "
           "time, as int8-activations), int8-static (one scale per tensor from calibration) or "
           "bf16 (every quantized matmul rounds its input to bf16)">,
    Option<"calibrator", "calibrator", "std::string", "\"minmax\"",
           "int8-static ranges: minmax, percentile, mse or entropy">,
    Option<"percentile", "percentile", "double", "99.99",
           "int8-static with the percentile calibrator: the percentile of |x| kept">,
    Option<"algorithm", "algorithm", "std::string", "\"rtn\"",
           "rtn (round to nearest) or gptq (needs calibration statistics)">,
    Option<"calibration", "calibration", "std::string", "\"\"",
           "Calibration statistics file (qopt-compile --save-calibration) for gptq">,
    Option<"dampening", "dampening", "double", "0.01",
           "GPTQ: added to the Hessian's diagonal, as a fraction of its mean">,
    Option<"blockSize", "block-size", "int64_t", "128", "GPTQ: columns per lazy batch update">,
    Option<"actOrder", "act-order", "bool", "false",
           "GPTQ: columns in order of decreasing Hessian diagonal (static groups)">,
    Option<"outliers", "outliers", "double", "0.0",
           "Fraction of each linear layer's weights kept in f16 beside the codes (SpQR-style), "
           "chosen by their error weighted by the Hessian's diagonal">,
  ];
  let statistics = [
    Statistic<"numQuantized", "num-quantized", "Layers quantized">,
    Statistic<"numWeightBytesBefore", "weight-bytes-before", "Bytes of the f32 weights replaced">,
    Statistic<"numWeightBytesAfter", "weight-bytes-after", "Bytes of their codes, scales and zero points">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def InstrumentCalibrationPass : Pass<"qopt-instrument-calibration", "::mlir::ModuleOp"> {
  let summary = "Returns the input of every linear layer, for calibration";
  let description = [{
    Calibration runs the compiled model on sample inputs and records statistics of what the
    quantized layers read. This pass makes those tensors visible: every distinct input of a
    linear layer (a matmul or gemm by a constant weight) becomes an extra result of its function, named
    `qopt.calibration.N`, with `qopt.calibration_layers` listing the layers (by display name)
    that read it. Layers that share an input (q, k and v) share one result.

    Before:
    ```mlir
    func.func @main(%x: tensor<1x?x64xf32>) -> tensor<1x?x32xf32> {
      %y = qopt.matmul %x, %w : (tensor<1x?x64xf32>, tensor<64x32xf32>) -> tensor<1x?x32xf32>
      return %y : tensor<1x?x32xf32>
    }
    ```
    After:
    ```mlir
    func.func @main(%x: tensor<1x?x64xf32>) -> (tensor<1x?x32xf32>,
        tensor<1x?x64xf32> {qopt.calibration_layers = ["fc"], qopt.name = "qopt.calibration.0"}) {
      ...
      return %y, %x : tensor<1x?x32xf32>, tensor<1x?x64xf32>
    }
    ```
  }];
  let options = [
    ListOption<"layers", "layers", "std::string",
               "Observe only these layers (display names); all when empty">,
    Option<"observedOnly", "observed-only", "bool", "false",
           "Return the observed tensors alone, so that what only feeds the model's own outputs "
           "can be removed">,
  ];
  let statistics = [
    Statistic<"numObserved", "num-observed", "Layer inputs returned">,
  ];
}

def ApplyAWQPass : Pass<"qopt-apply-awq", "::mlir::ModuleOp"> {
  let summary = "Activation-aware weight scaling and clipping (AWQ), folded into earlier ops";
  let description = [{
    For each group of layers that read one tensor produced by an op that can absorb a
    per-channel factor (an RMSNorm or LayerNorm with constant weight, or a linear layer whose
    output is multiplied elementwise into the tensor, as the up projection of a gated MLP), the
    pass searches factors s = mean|x|^a (a on a grid of `grid` points in [0, 1)) that minimize the
    layers' output error after quantization with their `qopt.scheme`, ||(W - Q(W s)/s) X||,
    computed from the calibration statistics X^T X. The weights' input channels are multiplied
    by s and the producer divided by s (norm weight and bias, or the producing layer's output
    channels), so the fp32 function is unchanged and no op is added. Then, with `clip`, the
    range of each group of weights is searched (shrunk by up to `max-shrink`) for the least
    output error, and the weights are clamped to it. The statistics are updated to the scaled
    inputs, so a GPTQ that follows sees them.

    Before:
    ```mlir
    %n = qopt.rms_norm %x, %g : ...
    %q = qopt.matmul %n, %wq {qopt.scheme = ...} : ...
    ```
    After: the same ops, with `%g` replaced by g / s and `%wq`'s rows (input channels)
    multiplied by s.
  }];
  let options = [
    Option<"calibration", "calibration", "std::string", "\"\"",
           "Calibration statistics file (qopt-compile --save-calibration)">,
    Option<"grid", "grid", "int64_t", "20", "Exponents tried for the scale search">,
    Option<"clip", "clip", "bool", "true", "Search a clipping range for each group of weights">,
    Option<"maxShrink", "max-shrink", "double", "0.5", "Largest fraction a range is shrunk by">,
    Option<"valueErrorOnly", "value-error-only", "bool", "true",
           "In an attention group (q, k, v projections) search with the value projection's "
           "output error alone (as the reference's attention-output loss weighs it); false sums "
           "all three (better when GPTQ follows)">,
  ];
  let statistics = [
    Statistic<"numScaled", "num-scaled", "Layer groups scaled">,
    Statistic<"numClipped", "num-clipped", "Layers whose weights were clipped">,
  ];
}

def FoldScalesPass : Pass<"qopt-fold-scales", "::mlir::ModuleOp"> {
  let summary = "SmoothQuant: activation outliers migrated into the weights, factors folded into norms";
  let description = [{
    For int8 activations. For each norm (RMSNorm or LayerNorm with constant weight) whose output
    only linear layers with a `qopt.scheme` read, the per-channel factors
    s_j = max|X_j|^alpha / max|W_j|^(1 - alpha) (X from the calibration statistics, W the
    readers' weights side by side) divide the norm's weight and bias and multiply the readers'
    input channels: the fp32 function is unchanged, and the activations the int8 quantizer sees
    have flatter channels. The statistics are rescaled to the smoothed activations.

    Before:
    ```mlir
    %n = qopt.rms_norm %x, %g : ...
    %q = qopt.matmul %n, %wq {qopt.scheme = ...} : ...
    ```
    After: `%g` replaced by a constant g / s, `%wq` by one with its rows (input channels) times s.
  }];
  let options = [
    Option<"alpha", "alpha", "double", "0.5", "Migration strength, in [0, 1]">,
    Option<"calibration", "calibration", "std::string", "\"\"",
           "Calibration statistics file (qopt-compile --save-calibration)">,
  ];
  let statistics = [
    Statistic<"numSmoothed", "num-smoothed", "Norms whose readers were smoothed">,
  ];
}

def FoldWeightDequantizePass : Pass<"qopt-fold-weight-dequantize", "::mlir::ModuleOp"> {
  let summary = "Turns a constant weight's DequantizeLinear feeding a matmul into a quantized matmul";
  let description = [{
    A `qopt.dequantize` of a constant 8- or 4-bit integer weight that is the right operand of a
    `qopt.matmul` (weight [K, N]) or of a `qopt.gemm` (either layout, alpha = beta = 1) becomes a
    `qopt.quantized_matmul` over the same integer codes, so the weight is never expanded to f32.
    Per-tensor scales, per-output-channel scales, and blocks along K map to the scheme's groups;
    signed codes are offset by 2^(bits-1), and the scheme is symmetric exactly when every zero point
    is the offset's (for example int8 with zero points 0). Other layouts are left as they are.

    Before:
    ```mlir
    %w = qopt.dequantize %q, %s {axis = 1 : i64} : (tensor<64x32xi8>, tensor<32xf32>) -> tensor<64x32xf32>
    %y = qopt.matmul %x, %w : (tensor<1x64xf32>, tensor<64x32xf32>) -> tensor<1x32xf32>
    ```
    After:
    ```mlir
    %y = qopt.quantized_matmul %x, %codes, %scales {in_features = 64 : i64,
           scheme = #qopt.scheme<int8, group = channel, sym, scale = f32>} : ...
    ```
  }];
  let statistics = [
    Statistic<"numFolded", "num-folded", "Dequantized weights folded into quantized matmuls">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def FuseQDQPass : Pass<"qopt-fuse-qdq", "::mlir::func::FuncOp"> {
  let summary = "Fuses dequantize → add / mul / matmul → quantize into qopt's integer ops";
  let description = [{
    In a QDQ-format model, `quantize(add(dequantize(a), dequantize(b)))` with per-tensor 8-bit
    operands of one type becomes `qopt.qlinear_add` (likewise `qopt.qlinear_mul`), and
    `quantize(matmul(dequantize(a), dequantize(w)))` with a per-tensor `a` and a per-tensor or
    per-column `w` becomes `qopt.qlinear_matmul`, and a softmax between them
    `qopt.qlinear_softmax`: the groups ONNX Runtime runs as integer kernels,
    computed with the same rounding. The float op must have the quantize as its only user; a
    dequantize that feeds other ops stays for them.

    Before:
    ```mlir
    %a = qopt.dequantize %qa, %sa, %za : (tensor<4xui8>, tensor<f32>, tensor<ui8>) -> tensor<4xf32>
    %b = qopt.dequantize %qb, %sb, %zb : (tensor<4xui8>, tensor<f32>, tensor<ui8>) -> tensor<4xf32>
    %c = qopt.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %q = qopt.quantize %c, %sc, %zc {storage_type = ui8} : (...) -> tensor<4xui8>
    ```
    After:
    ```mlir
    %q = qopt.qlinear_add %qa, %sa, %za, %qb, %sb, %zb, %sc, %zc : (...) -> tensor<4xui8>
    ```
  }];
  let statistics = [
    Statistic<"numFused", "num-fused", "Dequantize-op-quantize groups fused">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def WidenHalfFloatsPass : Pass<"qopt-widen-half-floats", "::mlir::ModuleOp"> {
  let summary = "Computes a half-precision (f16) graph in f32, keeping its f16 inputs and outputs";
  let description = [{
    The kernels compute in f32. For a function with f16 values this casts each f16 argument to
    f32 where it enters, turns f16 constants into f32 ones (resource blobs for large weights),
    makes every f16 result f32 (casts to f16 inside the graph become casts to f32, f16 fills
    f32 fills) and casts each f16 result back to f16 before the return, so the compiled library
    keeps the model's signature. A function whose quantization ops take f16 operands (scales
    that their kernels read as stored) is left as it is.

    Before:
    ```mlir
    func.func @main(%x: tensor<2x4xf16>) -> tensor<2x4xf16> {
      %w = arith.constant dense<5.000000e-01> : tensor<4xf16>
      %y = qopt.mul %x, %w : (tensor<2x4xf16>, tensor<4xf16>) -> tensor<2x4xf16>
      return %y : tensor<2x4xf16>
    }
    ```
    After:
    ```mlir
    func.func @main(%x: tensor<2x4xf16>) -> tensor<2x4xf16> {
      %0 = qopt.cast %x {to = f32} : tensor<2x4xf16> -> tensor<2x4xf32>
      %w = arith.constant dense<5.000000e-01> : tensor<4xf32>
      %y = qopt.mul %0, %w : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
      %1 = qopt.cast %y {to = f16} : tensor<2x4xf32> -> tensor<2x4xf16>
      return %1 : tensor<2x4xf16>
    }
    ```
  }];
  let statistics = [
    Statistic<"numWidened", "num-widened", "functions computed in f32">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def DecomposeToKernelFormsPass : Pass<"qopt-decompose-to-kernel-forms", "::mlir::func::FuncOp"> {
  let summary = "Rewrites Gemm's general form and middle-axis softmax into ops that have kernels";
  let description = [{
    With `gemm`, a `qopt.gemm` of f32 matrices that the packed-weight path does not take whole
    (a transposed A, alpha or beta other than 1, a B that is not a constant, a bias not along the
    output columns) becomes `qopt.transpose` of the operands it transposes, `qopt.matmul`, and
    `qopt.mul` by alpha and beta and `qopt.add` of C, which the matmul and elementwise kernels
    compute (the multiplies and the add fuse into one chain, or into the product's epilogue).
    With `softmax`, a softmax of f32 over an axis other than the last becomes a transpose that
    swaps that axis with the last, a last-axis softmax (a generated row kernel) and the same
    transpose back.

    Before:
    ```mlir
    %y = qopt.gemm %a, %b, %c {alpha = 5.000000e-01 : f32, transA = true}
        : (tensor<4x3xf32>, tensor<4x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
    ```
    After:
    ```mlir
    %t = qopt.transpose %a {perm = array<i64: 1, 0>} : tensor<4x3xf32> -> tensor<3x4xf32>
    %p = qopt.matmul %t, %b : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
    %s = qopt.mul %p, %half : (tensor<3x5xf32>, tensor<f32>) -> tensor<3x5xf32>
    %y = qopt.add %s, %c : (tensor<3x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
    ```
  }];
  let options = [
    Option<"gemm", "gemm", "bool", "true", "decompose gemms the packed-weight path does not take">,
    Option<"softmax", "softmax", "bool", "true", "decompose softmaxes over a middle axis">,
  ];
  let statistics = [
    Statistic<"numGemms", "num-gemms", "gemms decomposed">,
    Statistic<"numSoftmaxes", "num-softmaxes", "middle-axis softmaxes decomposed">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def PackMatMulWeightsPass : Pass<"qopt-pack-matmul-weights", "::mlir::ModuleOp"> {
  let summary = "Puts linear layers onto panel-packed weights (qopt.fused_matmul)";
  let description = [{
    Every `qopt.matmul` of an f32 activation by a constant f32 weight `[K, N]` (or by the transpose
    of a constant `[N, K]`), and every plain `qopt.gemm` of that form whose bias has `N` as its last
    dimension, becomes a `qopt.fused_matmul` on the weight repacked into panels of `panel-width`
    output columns, `[ceil(N / panel-width), K, panel-width]`, zero-padded. The generated kernel
    reads one panel front to back for a block of rows. A gemm's bias becomes the epilogue. A weight
    shared by several layers is packed once; the original goes when nothing else uses it. A tied
    embedding table's lookups (`qopt.gather` on axis 0 of the `[N, K]` table that a head uses
    transposed) become `qopt.panel_gather` on the panels, so the table is stored once.

    `panel-width` is two vector registers of f32: 32 for AVX-512, 16 for AVX2 (qopt-compile picks
    it for the host CPU).

    Before:
    ```mlir
    %w = arith.constant dense<...> : tensor<128x64xf32>
    %y = qopt.matmul %x, %w : (tensor<?x128xf32>, tensor<128x64xf32>) -> tensor<?x64xf32>
    ```
    After:
    ```mlir
    %p = arith.constant dense_resource<w.panels> : tensor<2x128x32xf32>
    %y = qopt.fused_matmul(%x, %p) {n = 64 : i64, panel = 32 : i64}
        : (tensor<?x128xf32>, tensor<2x128x32xf32>) -> tensor<?x64xf32> {
    ^bb0(%acc: f32):
      qopt.yield %acc : f32
    }
    ```
  }];
  let options = [
    Option<"panelWidth", "panel-width", "int64_t", "32",
           "output columns per packed panel (two vector registers of f32)">,
  ];
  let statistics = [
    Statistic<"numPacked", "num-packed", "linear layers put onto packed weights">,
    Statistic<"numLookups", "num-lookups", "embedding lookups moved onto packed panels">,
  ];
}

def FuseAttentionPass : Pass<"qopt-fuse-attention", "::mlir::func::FuncOp"> {
  let summary = "Fuses exported attention into qopt.attention; KV-cache concats into qopt.kv_append";
  let description = [{
    Finds `matmul(softmax(matmul(q, transpose(k)) · c + mask), v)` as exporters write scaled
    dot-product attention: the scale a constant scalar multiplied or divided in (or none), the mask
    added (or none), the softmax over the last axis, `transpose` swapping the last two axes of a
    rank-4 key. Keys and values repeated for grouped-query attention (`unsqueeze` at axis 2,
    `expand` to `[B, Hkv, G, T, D]`, `reshape` to `[B, Hkv·G, T, D]`) are read before the
    repetition. Every intermediate value must have no other use. The chain becomes one
    `qopt.attention`.

    Then a `concat(past, new)` along the length axis (rank-4, axis 2) whose `past` is a graph
    input used only there and by shape queries, and whose result feeds only attention ops and the graph's return,
    becomes `qopt.kv_append`; the input is marked `qopt.kv_cache`, which the library's signature
    passes on so that a generation session appends to it in place.
  }];
  let statistics = [
    Statistic<"numAttention", "num-attention", "attention chains fused">,
    Statistic<"numCacheAppends", "num-cache-appends", "KV-cache concats made appends">,
  ];
}

def FuseElementwisePass : Pass<"qopt-fuse-elementwise", "::mlir::func::FuncOp"> {
  let summary = "Fuses chains of elementwise ops into qopt.fused_elementwise";
  let description = [{
    Every elementwise op on f32 (unary math, activations, the broadcasting arithmetic), with the
    comparisons, NaN tests, logic and `where` that build masks and guards around them, becomes a
    `qopt.fused_elementwise` whose body computes one element with `arith` and `math` ops; then a
    producer is merged into its consumer when the consumer is its only user and both have the same
    result shape, so a chain reads its inputs once and writes one tensor. Single-element constants
    are folded into the body. A producer used elsewhere stays a kernel of its own (no
    recomputation), and one of another shape is not merged (it would be recomputed per element of
    the larger result).

    Last, a chain that is the only user of a `qopt.fused_matmul` (a bias, an activation, a residual
    add) moves into the product's epilogue when it computes f32 of the product's shape and its other
    inputs are f32 with the product's width as their static last dimension: the kernel applies it
    to the accumulators before storing them, so the product is never written unfinished.

    Before:
    ```mlir
    %0 = qopt.sigmoid %g : tensor<?x64xf32>
    %1 = qopt.mul %g, %0 : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
    %2 = qopt.mul %1, %u : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
    ```
    After:
    ```mlir
    %2 = qopt.fused_elementwise(%g, %u) : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32> {
    ^bb0(%a: f32, %b: f32):
      ... sigmoid(%a) * %a * %b ...
      qopt.yield %r : f32
    }
    ```
  }];
  let statistics = [
    Statistic<"numFused", "num-fused", "Elementwise ops in fused kernels">,
    Statistic<"numKernels", "num-kernels", "Fused kernels left">,
    Statistic<"numEpilogues", "num-epilogues", "Chains moved into a matmul's epilogue">,
  ];
  let dependentDialects = ["::mlir::math::MathDialect"];
}

def DequantizeWeightsPass : Pass<"qopt-dequantize-weights", "::mlir::ModuleOp"> {
  let summary = "Expands quantized weights back to f32 (for quantizing again with another scheme)";
  let description = [{
    Replaces every `qopt.quantized_matmul` and `qopt.quantized_gather` over constant codes and
    scales by `qopt.matmul` / `qopt.gather` of an f32 constant holding the values the codes stand
    for. `qopt-compile --requantize` runs it before `qopt-select-precision`, so that a model that
    arrived quantized can be quantized again with the flags' scheme.
  }];
  let statistics = [
    Statistic<"numDequantized", "num-dequantized", "Quantized layers expanded to f32">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def InsertFakeQuantPass : Pass<"qopt-insert-fake-quant", "::mlir::ModuleOp"> {
  let summary = "Turns every layer that carries a scheme into its trainable fake-quant form (QAT)";
  let description = [{
    The model quantization-aware training starts from. Every layer that carries a scheme gets
    `qopt.fake_quant` on its weight, and, where its activations are quantized, on its input:
    - `qopt.quantized_matmul` becomes `qopt.matmul` of its input by the transpose of
      `qopt.fake_quant(latent, scales, zero_points)`, and `qopt.quantized_gather` a `qopt.gather`
      from the fake-quant table. The latent weight holds the values the packed codes stand for
      and the scales are the stored ones, decoded to f32: whatever algorithm chose the codes
      (RTN, GPTQ, AWQ, mixed precision), fake-quant gives them back exactly, so training starts
      from the post-training point.
    - A layer whose f32 weight carries a `qopt.scheme` attribute (the graph before
      `qopt-quantize-weights`) gets fake-quant without scales: its grid is round-to-nearest's.
    - int8 activations: a static scale becomes `qopt.quantize` / `qopt.dequantize` (i8, zero
      point 0) on the input; run-time scales a `dynamic` fake-quant per group of the scheme.
    Sparse outliers stay as their own `qopt.sparse_matmul`.
  }];
  let statistics = [
    Statistic<"numLayers", "num-layers", "Layers given fake-quant weights">,
    Statistic<"numActivations", "num-activations", "Layer inputs given fake-quant">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def FoldConstantQuantizePass : Pass<"qopt-fold-constant-quantize", "::mlir::ModuleOp"> {
  let summary = "Folds QuantizeLinear of a constant (a QAT export's weights) into constant codes";
  let description = [{
    A model exported for quantization-aware training keeps its weights in float behind
    QuantizeLinear → DequantizeLinear. This pass computes the codes of every `qopt.quantize`
    whose operands are constants, exactly as ONNX specifies (`round_half_even(x / scale) +
    zero_point`, saturated to the storage type; per tensor, per axis or blocked), together with
    a Clip of those codes to narrower bounds (`qopt.max` then `qopt.min` by constant scalars),
    so that `qopt-fold-weight-dequantize` packs the weight. The codes are the ones the trained
    graph implies, bit for bit.
  }];
  let statistics = [
    Statistic<"numFolded", "num-folded", "Constant quantizations folded into codes">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def RecognizeLoRAPass : Pass<"qopt-recognize-lora", "::mlir::ModuleOp"> {
  let summary = "Finds LoRA adapters beside linear layers; marks them, or merges them into the base";
  let description = [{
    A LoRA layer as exported: `x·W (+ bias) + ((x·A)·B)·s`, with constant `A` [K, r] and `B`
    [r, N] (r below K and N), `s` a constant scalar multiplied in anywhere along the adapter path
    (or none), and the same `x` read by `W` and `A`. By default the base layer is marked
    `qopt.lora_base` (qopt-select-precision gives it the LoRA base scheme, QLoRA's NF4 with
    double quantization unless told otherwise) and the adapter matmuls `qopt.lora_adapter`
    (never quantized: they run as their own small float matmuls, the scaling and the sum fused
    into the second one's epilogue). With `merge`, `W + s·A·B` (in double) replaces `W` and the
    adapter path is removed, so that the merged weight is quantized as one.
  }];
  let options = [
    Option<"merge", "merge", "bool", /*default=*/"false",
           "Fold each adapter into its base weight">,
  ];
  let statistics = [
    Statistic<"numAdapters", "num-adapters", "LoRA adapters recognized">,
  ];
}

def PackChannelPanelsPass : Pass<"qopt-pack-channel-panels", "::mlir::ModuleOp"> {
  let summary = "Stores 4-bit quantized weights in panels of 16 output channels (AVX-512 kernels)";
  let description = [{
    Rewrites the weight of every `qopt.quantized_matmul` with 4-bit codes (`in_features` and groups
    multiples of 8) or 8-bit integer codes (multiples of 4), no double quantization, and at least
    16 output channels into the channel-panel layout (the op's `channel_panels` describes it,
    include/qopt/Quant/ChannelPanels.h writes it): the codes, and the scales and zero points with
    them. The AVX-512 kernels then keep 16 outputs in one vector: one 64-byte load feeds 128
    (4-bit) or 64 (8-bit) multiply-adds with no horizontal sums, and the weights file holds the
    weight that way, so nothing is repacked when a model loads. A weight that something other than
    such matmuls reads (a tied embedding's `qopt.quantized_gather`) keeps the row layout.
    qopt-compile runs this pass for CPUs with AVX-512 VNNI (`--cpu`) unless
    `--pack-channel-panels=false`.

    Before:
    ```mlir
    %codes = arith.constant dense<...> : tensor<32x64xui8>
    %y = qopt.quantized_matmul %x, %codes, %scales {in_features = 128 : i64, scheme = ...}
    ```
    After:
    ```mlir
    %codes = arith.constant dense_resource<codes.panels> : tensor<32x64xui8>
    %y = qopt.quantized_matmul %x, %codes, %scales {channel_panels, in_features = 128 : i64, ...}
    ```
  }];
  let statistics = [
    Statistic<"numPacked", "num-packed", "Weights stored in channel panels">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

#endif // QOPT_TRANSFORMS_PASSES_TD
