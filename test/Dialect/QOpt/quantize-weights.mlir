// RUN: qopt-opt %s --split-input-file --verify-diagnostics --qopt-quantize-weights | FileCheck %s
// RUN: qopt-opt %s --split-input-file --verify-diagnostics --qopt-quantize-weights=int8-activations=true | FileCheck %s --check-prefix=INT8
// With int8-activations, the int4 matmuls are marked; the int2 one and the gather are not.
// INT8-LABEL: func.func @int4_sym
// INT8: qopt.quantized_matmul {{.*}}int8_activations, scheme = #qopt.scheme<int4
// INT8-LABEL: func.func @int2_asym
// INT8-NOT: int8_activations
// INT8-LABEL: func.func @tied
// INT8-NOT: int8_activations
// INT8-LABEL: func.func @gemm_double_quant
// RUN: qopt-opt %s --split-input-file --verify-diagnostics --qopt-quantize-weights=activations=bf16 | FileCheck %s --check-prefix=BF16
// With activations=bf16, every quantized matmul is marked (int2 and nf4 codes too), the gather not.
// BF16-LABEL: func.func @int4_sym
// BF16: qopt.quantized_matmul {{.*}}{bf16_activations, in_features = 4 : i64, scheme = #qopt.scheme<int4
// BF16-LABEL: func.func @int2_asym
// BF16: qopt.quantized_matmul {{.*}}bf16_activations, {{.*}}scheme = #qopt.scheme<int2
// BF16-LABEL: func.func @tied
// BF16: qopt.quantized_gather
// BF16-NOT: bf16_activations
// BF16-SAME: -> tensor<1x3x8xf32>
// BF16: qopt.quantized_matmul {{.*}}bf16_activations, {{.*}}scheme = #qopt.scheme<nf4
// BF16-NOT: int8_activations

// Symmetric int4, one group of 4: m = -1, scale = -1 / -8 = 0.125, codes round(w * 8 + 8) =
// 0, 12, 10, 8, packed low nibble first: 0xC0 0x8A. The f32 weight is gone.
// CHECK-LABEL: func.func @int4_sym
// CHECK-NOT: tensor<4x1xf32>
// CHECK: %[[CODES:.*]] = arith.constant dense_resource<w.codes> : tensor<1x2xui8>
// CHECK: %[[SCALES:.*]] = arith.constant dense_resource<w.scales> : tensor<1x1xf32>
// CHECK: qopt.quantized_matmul %{{.*}}, %[[CODES]], %[[SCALES]] {in_features = 4 : i64, scheme = #qopt.scheme<int4, group = 4, sym, scale = f32>}
// CHECK-SAME: -> tensor<2x1xf32>
// CHECK: w.codes: "0x01000000C08A"
// CHECK: w.scales: "0x040000000000003E"
func.func @int4_sym(%x: tensor<2x4xf32>) -> tensor<2x1xf32> {
  %w = arith.constant dense<[[-1.0], [0.5], [0.25], [0.0]]> : tensor<4x1xf32> loc("w")
  %0 = qopt.matmul %x, %w {qopt.scheme = #qopt.scheme<int4, group = 4, sym, scale = f32>}
       : (tensor<2x4xf32>, tensor<4x1xf32>) -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}

// -----

// The same weight with f16 scales and groups of 2: scales -1/-8 = 0.125 (0x3000) and
// 0.25/-8 = -0.03125 (0xA800); codes 0, 12 and 0, 8.
// CHECK-LABEL: func.func @int4_f16_groups
// CHECK: arith.constant dense_resource<w.scales> : tensor<1x2xf16>
// CHECK: w.codes: "0x01000000C080"
// CHECK: w.scales: "0x02000000003000A8"
func.func @int4_f16_groups(%x: tensor<2x4xf32>) -> tensor<2x1xf32> {
  %w = arith.constant dense<[[-1.0], [0.5], [0.25], [0.0]]> : tensor<4x1xf32> loc("w")
  %0 = qopt.matmul %x, %w {qopt.scheme = #qopt.scheme<int4, group = 2, sym, scale = f16>}
       : (tensor<2x4xf32>, tensor<4x1xf32>) -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}

// -----

// Asymmetric 2-bit per channel: range [0, 3] → scale 1 (f32), zero point 0, codes 0 1 2 3 = 0xE4.
// CHECK-LABEL: func.func @int2_asym
// CHECK: %[[ZP:.*]] = arith.constant dense_resource<w.zero_points> : tensor<1x1xui8>
// CHECK: qopt.quantized_matmul %{{.*}}, %{{.*}}, %{{.*}} zero_points %[[ZP]]
// CHECK: w.codes: "0x01000000E4"
// CHECK: w.scales: "0x040000000000803F"
// CHECK: w.zero_points: "0x0100000000"
func.func @int2_asym(%x: tensor<2x4xf32>) -> tensor<2x1xf32> {
  %w = arith.constant dense<[[0.0], [1.0], [2.0], [3.0]]> : tensor<4x1xf32> loc("w")
  %0 = qopt.matmul %x, %w {qopt.scheme = #qopt.scheme<int2, group = channel, asym, scale = f32>}
       : (tensor<2x4xf32>, tensor<4x1xf32>) -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}

// -----

// An embedding table read by a gather and, transposed, by the tied output head: both become
// quantized ops over the same [N, K] rows, packed once, and the f32 table and the transpose go away.
// CHECK-LABEL: func.func @tied
// CHECK-NOT: qopt.transpose
// CHECK: %[[CODES:.*]] = arith.constant dense_resource<weight.codes> : tensor<4x4xui8>
// CHECK-NOT: dense_resource<weight.codes
// CHECK: qopt.quantized_gather %[[CODES]], %{{.*}}, %{{.*}} {row_size = 8 : i64, scheme = #qopt.scheme<nf4, group = 8, sym, scale = f16>} : (tensor<4x4xui8>, tensor<4x1xf16>, tensor<1x3xi64>) -> tensor<1x3x8xf32>
// CHECK: qopt.quantized_matmul %{{.*}}, %[[CODES]], %{{.*}} {in_features = 8 : i64, scheme = #qopt.scheme<nf4, group = 8, sym, scale = f16>} : (tensor<1x3x8xf32>, tensor<4x4xui8>, tensor<4x1xf16>) -> tensor<1x3x4xf32>
// CHECK-NOT: tensor<4x8xf32>
func.func @tied(%ids: tensor<1x3xi64>) -> tensor<1x3x4xf32> {
  %table = arith.constant dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
                                 [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
                                 [-1.0, 0.0, 1.0, 0.0, -1.0, 0.0, 1.0, 0.0],
                                 [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %e = qopt.gather %table, %ids {qopt.scheme = #qopt.scheme<nf4, group = 8, sym, scale = f16>}
       : (tensor<4x8xf32>, tensor<1x3xi64>) -> tensor<1x3x8xf32>
  %t = qopt.transpose %table {perm = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
  %h = qopt.matmul %e, %t {qopt.scheme = #qopt.scheme<nf4, group = 8, sym, scale = f16>}
       : (tensor<1x3x8xf32>, tensor<8x4xf32>) -> tensor<1x3x4xf32>
  return %h : tensor<1x3x4xf32>
}

// -----

// Double-quantized scales: ui8 codes plus one f32 second-level scale per block of 2 scales.
// A gemm with a bias becomes the quantized matmul plus an add.
// CHECK-LABEL: func.func @gemm_double_quant
// CHECK: %[[SS:.*]] = arith.constant dense_resource<w.scale_scales> : tensor<2xf32>
// CHECK: %[[Y:.*]] = qopt.quantized_matmul %{{.*}}, %{{.*}}, %{{.*}} scale_scales %[[SS]] {in_features = 8 : i64, scheme = #qopt.scheme<int4, group = 4, sym, scale = f16, double_quant = 2>} : (tensor<2x8xf32>, tensor<2x4xui8>, tensor<2x2xui8>, tensor<2xf32>) -> tensor<2x2xf32>
// CHECK: qopt.add %[[Y]], %{{.*}} : (tensor<2x2xf32>, tensor<2xf32>) -> tensor<2x2xf32>
func.func @gemm_double_quant(%x: tensor<2x8xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
                             [-0.5, 0.5, 0.25, 0.0, 8.0, 0.0, 0.0, 0.0]]> : tensor<2x8xf32> loc("w")
  %b = arith.constant dense<[1.0, -1.0]> : tensor<2xf32>
  %0 = qopt.gemm %x, %w, %b {transB = true, qopt.scheme = #qopt.scheme<int4, group = 4, sym, scale = f16, double_quant = 2>}
       : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @not_constant(%x: tensor<2x4xf32>, %w: tensor<4x4xf32>) -> tensor<2x4xf32> {
  // expected-warning @+1 {{carries a quantization scheme but no constant 2-D f32 weight; left as is}}
  %0 = qopt.matmul %x, %w {qopt.scheme = #qopt.scheme<int4, group = 4, sym, scale = f16>}
       : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
