// RUN: qopt-opt %s --split-input-file --qopt-dequantize-weights | FileCheck %s
// RUN: qopt-opt %s --split-input-file --qopt-quantize-weights --qopt-dequantize-weights --mlir-print-op-generic | FileCheck %s --check-prefix=ROUND

// Codes 0, 12, 10, 8 with scale 0.125 (symmetric int4) stand for -1, 0.5, 0.25, 0: the matmul
// gets them back as a [K, N] f32 constant (the bytes of -1.0, 0.5, 0.25 and 0.0).
// CHECK-LABEL: func.func @int4
// CHECK-NOT: quantized_matmul
// CHECK: %[[W:.*]] = arith.constant dense_resource<dequantized_weight> : tensor<4x1xf32>
// CHECK: qopt.matmul %{{.*}}, %[[W]] : (tensor<2x4xf32>, tensor<4x1xf32>) -> tensor<2x1xf32>
// CHECK: dequantized_weight: "0x04000000000080BF0000003F0000803E00000000"
func.func @int4(%x: tensor<2x4xf32>) -> tensor<2x1xf32> {
  %codes = arith.constant dense<[[192, 138]]> : tensor<1x2xui8>
  %scales = arith.constant dense<0.125> : tensor<1x1xf32>
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 4 : i64, scheme = #qopt.scheme<int4, group = 4, sym, scale = f32>}
       : (tensor<2x4xf32>, tensor<1x2xui8>, tensor<1x1xf32>) -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}

// -----

// A quantized embedding becomes a gather of the [N, K] table.
// CHECK-LABEL: func.func @gather
// CHECK: qopt.gather %{{.*}}, %{{.*}} : (tensor<2x2xf32>, tensor<3xi64>) -> tensor<3x2xf32>
func.func @gather(%ids: tensor<3xi64>) -> tensor<3x2xf32> {
  %codes = arith.constant dense<[[255], [0]]> : tensor<2x1xui8>
  %scales = arith.constant dense<1.0> : tensor<2x1xf16>
  %0 = qopt.quantized_gather %codes, %scales, %ids {row_size = 2 : i64, scheme = #qopt.scheme<int4, group = channel, sym, scale = f16>}
       : (tensor<2x1xui8>, tensor<2x1xf16>, tensor<3xi64>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

// Values on the int4 grid survive quantize → dequantize unchanged.
// ROUND-LABEL: sym_name = "on_grid"
// ROUND: dense_resource<dequantized_weight> : tensor<4x1xf32>
// ROUND: dequantized_weight: "0x04000000000080BF0000003F0000803E00000000"
func.func @on_grid(%x: tensor<2x4xf32>) -> tensor<2x1xf32> {
  %w = arith.constant dense<[[-1.0], [0.5], [0.25], [0.0]]> : tensor<4x1xf32>
  %0 = qopt.matmul %x, %w {qopt.scheme = #qopt.scheme<int4, group = 4, sym, scale = f16>}
       : (tensor<2x4xf32>, tensor<4x1xf32>) -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}
