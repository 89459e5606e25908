// Three 256x256 layers whose sensitivities are given. Candidate bytes (f16 scales): int2g64
// 18432 (2.25 bits), int4g128 33792 (4.125 bits), int8g128 66560 (8.125 bits); each quantized
// layer's constants are counted with 128 bytes of alignment in the weights file.
// RUN: qopt-opt %s --mlir-print-debuginfo --mlir-print-local-scope --qopt-allocate-precision="candidates=int2g64,int4g128,int8g128 target-bits=4.125" | FileCheck %s --check-prefix=UNIFORM
// RUN: qopt-opt %s --mlir-print-debuginfo --mlir-print-local-scope --qopt-allocate-precision="candidates=int2g64,int4g128,int8g128 target-bits=5" | FileCheck %s --check-prefix=MIXED
// RUN: qopt-opt %s --mlir-print-debuginfo --mlir-print-local-scope --qopt-allocate-precision="candidates=int2g64,int4g128,int8g128 target-size=120000" | FileCheck %s --check-prefix=MIXED
// RUN: qopt-opt %s --mlir-print-debuginfo --mlir-print-local-scope --qopt-allocate-precision="candidates=int2g64,int4g128,int8g128 max-loss=0.21" | FileCheck %s --check-prefix=LOSS
// RUN: qopt-opt %s --mlir-print-debuginfo --mlir-print-local-scope --qopt-allocate-precision="candidates=int2g64,int4g128,int8g128,f32 target-size=400000" | FileCheck %s --check-prefix=FLOAT
// RUN: qopt-opt %s --mlir-print-debuginfo --mlir-print-local-scope --qopt-allocate-precision="candidates=int2g64,int4g128,int8g128 target-latency=0.13" | FileCheck %s --check-prefix=UNIFORM
// RUN: qopt-opt %s --mlir-print-debuginfo --mlir-print-local-scope --qopt-allocate-precision="candidates=int2g64,int4g128,int8g128 target-latency=0.14" | FileCheck %s --check-prefix=FAST
// A layer a rule pins keeps its scheme and counts in the average: b and c share what a leaves.
// RUN: qopt-opt %s --mlir-print-debuginfo --mlir-print-local-scope --qopt-select-precision="wbits=4 layer-bits=model.layers.0.a=8 mark-pinned=true" --qopt-allocate-precision="candidates=int2g64,int4g128,int8g128 target-bits=5" | FileCheck %s --check-prefix=MIXED
// The quantization pipeline with a budget selects, allocates, then quantizes each layer its way.
// RUN: qopt-opt %s --qopt-quantization-pipeline="wbits=4 target-bits=5 candidates=int2g64,int4g128,int8g128" | FileCheck %s --check-prefix=PIPELINE
// RUN: not qopt-opt %s --qopt-allocate-precision="candidates=int2g64,int4g128,int8g128 target-bits=2" 2>&1 | FileCheck %s --check-prefix=SMALL
// RUN: not qopt-opt %s --qopt-allocate-precision="candidates=int2g64,int4g128,int8g128 max-loss=0.05" 2>&1 | FileCheck %s --check-prefix=LOSSY
// RUN: not qopt-opt %s --qopt-allocate-precision="candidates=int2g64,int4g128,int8g128 target-latency=0.1" 2>&1 | FileCheck %s --check-prefix=SLOW

// At uniform int4's own size (or a latency where int2, slower than int4, and int8 do not pay),
// nothing beats uniform int4: the plan keeps it.
// UNIFORM-COUNT-3: qopt.matmul {{.*}}{qopt.scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>}
// UNIFORM-NOT: qopt.sensitivity
// UNIFORM-NOT: qopt.latency

// With 5 bits per weight on average, the bits go where they buy most: layer a (0.1 -> 0.01) to
// int8, paid for by layer b, which loses little at int2; 0.11 in all, against 0.17 uniform.
// MIXED: qopt.matmul {{.*}}{qopt.scheme = #qopt.scheme<int8, group = 128, sym, scale = f16>} {{.*}}"model.layers.0.a"
// MIXED: qopt.matmul {{.*}}{qopt.scheme = #qopt.scheme<int2, group = 64, sym, scale = f16>} {{.*}}"model.layers.0.b"
// MIXED: qopt.matmul {{.*}}{qopt.scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>} {{.*}}"model.layers.0.c"

// The smallest model within 0.21 of loss: b at int2 (0.05), the others at int4.
// LOSS: qopt.matmul {{.*}}int4{{.*}}"model.layers.0.a"
// LOSS: qopt.matmul {{.*}}int2{{.*}}"model.layers.0.b"
// LOSS: qopt.matmul {{.*}}int4{{.*}}"model.layers.0.c"

// f32 as a candidate: the layer keeps its weight and loses its scheme.
// FLOAT: qopt.matmul {{.*}}int8{{.*}}"model.layers.0.a"
// FLOAT: qopt.matmul {{.*}}int8{{.*}}"model.layers.0.b"
// FLOAT: qopt.matmul
// FLOAT-NOT: qopt.scheme
// FLOAT-SAME: "model.layers.0.c"

// 140 us per token: 100 fixed, a at int8 (20), b and c at int4 (8 each).
// FAST: qopt.matmul {{.*}}int8{{.*}}"model.layers.0.a"
// FAST: qopt.matmul {{.*}}int4{{.*}}"model.layers.0.b"
// FAST: qopt.matmul {{.*}}int4{{.*}}"model.layers.0.c"

// PIPELINE: qopt.quantized_matmul {{.*}}scheme = #qopt.scheme<int8, group = 128, sym, scale = f16>} : (tensor<1x4x256xf32>, tensor<256x256xui8>, tensor<256x2xf16>)
// PIPELINE: qopt.quantized_matmul {{.*}}scheme = #qopt.scheme<int2, group = 64, sym, scale = f16>} : (tensor<1x4x256xf32>, tensor<256x64xui8>, tensor<256x4xf16>)
// PIPELINE: qopt.quantized_matmul {{.*}}scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>} : (tensor<1x4x256xf32>, tensor<256x128xui8>, tensor<256x2xf16>)

// SMALL: error: mixed precision: no plan meets target-bits: the smallest plan has 2.250 bits per weight, more than 2
// LOSSY: error: mixed precision: no plan meets max-loss: the least loss any plan reaches is 0.051, more than the budget of 0.05
// SLOW: error: mixed precision: no plan meets target-latency: the fastest plan takes 0.124 ms per token, more than 0.1

module attributes {qopt.fixed_latency_us = 100.0 : f64} {
func.func @layers(%x: tensor<1x4x256xf32>) -> tensor<1x4x256xf32> {
  %wa = arith.constant dense<0.25> : tensor<256x256xf32>
  %wb = arith.constant dense<0.125> : tensor<256x256xf32>
  %wc = arith.constant dense<0.5> : tensor<256x256xf32>
  %a = qopt.matmul %x, %wa {qopt.scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>,
      qopt.sensitivity = {int2g64 = 1.0 : f64, int4g128 = 0.1 : f64, int8g128 = 0.01 : f64, f32 = 0.0 : f64},
      qopt.latency = {int2g64 = 10.0 : f64, int4g128 = 8.0 : f64, int8g128 = 20.0 : f64}}
      : (tensor<1x4x256xf32>, tensor<256x256xf32>) -> tensor<1x4x256xf32> loc("node_a"("model.layers.0.a"))
  %b = qopt.matmul %a, %wb {qopt.scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>,
      qopt.sensitivity = {int2g64 = 0.05 : f64, int4g128 = 0.02 : f64, int8g128 = 0.001 : f64, f32 = 0.0 : f64},
      qopt.latency = {int2g64 = 10.0 : f64, int4g128 = 8.0 : f64, int8g128 = 20.0 : f64}}
      : (tensor<1x4x256xf32>, tensor<256x256xf32>) -> tensor<1x4x256xf32> loc("node_b"("model.layers.0.b"))
  %c = qopt.matmul %b, %wc {qopt.scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>,
      qopt.sensitivity = {int2g64 = 0.5 : f64, int4g128 = 0.05 : f64, int8g128 = 0.04 : f64, f32 = 0.0 : f64},
      qopt.latency = {int2g64 = 10.0 : f64, int4g128 = 8.0 : f64, int8g128 = 20.0 : f64}}
      : (tensor<1x4x256xf32>, tensor<256x256xf32>) -> tensor<1x4x256xf32> loc("node_c"("model.layers.0.c"))
  return %c : tensor<1x4x256xf32>
}
}
