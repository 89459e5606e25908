// RUN: qopt-opt %s --split-input-file --qopt-fold-weight-dequantize | FileCheck %s

// Per-output-channel int8 with zero points 0 (ONNX Runtime's QDQ per-channel weights): codes are
// offset by 128 (-128 → 0x00, -1 → 0x7F), one row per output channel, the scheme is symmetric, and the dequantize is gone.
// CHECK-LABEL: func.func @int8_per_channel
// CHECK-NOT: qopt.dequantize
// CHECK: %[[Y:.*]] = qopt.quantized_matmul %{{.*}}, %{{.*}}, %{{.*}} {in_features = 2 : i64, scheme = #qopt.scheme<int8, group = channel, sym, scale = f32>} : (tensor<1x2xf32>, tensor<3x2xui8>, tensor<3x1xf32>) -> tensor<1x3xf32>
// CHECK: return %[[Y]]
// CHECK: w.codes: "0x08000000007F80828183"
// CHECK: w.scales: "0x080000000000803F000000400000803E"
func.func @int8_per_channel(%x: tensor<1x2xf32>) -> tensor<1x3xf32> {
  %q = arith.constant dense_resource<w> : tensor<2x3xi8>
  %s = arith.constant dense<[1.0, 2.0, 0.25]> : tensor<3xf32>
  %z = arith.constant dense<0> : tensor<3xi8>
  %w = qopt.dequantize %q, %s, %z {axis = 1 : i64} : (tensor<2x3xi8>, tensor<3xf32>, tensor<3xi8>) -> tensor<2x3xf32>
  %y = qopt.matmul %x, %w : (tensor<1x2xf32>, tensor<2x3xf32>) -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x01000000800001FF0203"
    }
  }
#-}

// -----

// Blocked uint4 along K (opset 21 QDQ) with zero points: an asymmetric 4-bit scheme, one group per
// block, zero points unchanged.
// CHECK-LABEL: func.func @uint4_blocked
// CHECK: qopt.quantized_matmul %{{.*}}, %{{.*}}, %{{.*}} zero_points %{{.*}} {in_features = 4 : i64, scheme = #qopt.scheme<int4, group = 2, asym, scale = f32>} : (tensor<1x4xf32>, tensor<1x2xui8>, tensor<1x2xf32>, tensor<1x2xui8>) -> tensor<1x1xf32>
// CHECK: w.codes: "0x080000002143"
// CHECK: w.zero_points: "0x080000000305"
func.func @uint4_blocked(%x: tensor<1x4xf32>) -> tensor<1x1xf32> {
  %q = arith.constant dense_resource<w> : tensor<4x1xui4>
  %s = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf32>
  %z = arith.constant dense_resource<z> : tensor<2x1xui4>
  %w = qopt.dequantize %q, %s, %z {axis = 0 : i64, block_size = 2 : i64} : (tensor<4x1xui4>, tensor<2x1xf32>, tensor<2x1xui4>) -> tensor<4x1xf32>
  %y = qopt.matmul %x, %w : (tensor<1x4xf32>, tensor<4x1xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x0100000001020304",
      z: "0x010000000305"
    }
  }
#-}

// -----

// A gemm by a transposed per-tensor int8 weight, with a bias.
// CHECK-LABEL: func.func @gemm_per_tensor
// CHECK: %[[Y:.*]] = qopt.quantized_matmul %{{.*}}, %{{.*}}, %{{.*}} zero_points %{{.*}} {in_features = 2 : i64, scheme = #qopt.scheme<int8, group = channel, asym, scale = f32>}
// CHECK: qopt.add %[[Y]], %{{.*}}
func.func @gemm_per_tensor(%x: tensor<1x2xf32>, %b: tensor<2xf32>) -> tensor<1x2xf32> {
  %q = arith.constant dense<[[1, 2], [3, 4]]> : tensor<2x2xi8>
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i8>
  %w = qopt.dequantize %q, %s, %z : (tensor<2x2xi8>, tensor<f32>, tensor<i8>) -> tensor<2x2xf32>
  %y = qopt.gemm %x, %w, %b {transB = true} : (tensor<1x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Scales along K without blocks (one per input row) are no scheme of ours: left alone.
// CHECK-LABEL: func.func @per_input_row
// CHECK: qopt.dequantize
// CHECK: qopt.matmul
func.func @per_input_row(%x: tensor<1x2xf32>) -> tensor<1x3xf32> {
  %q = arith.constant dense<1> : tensor<2x3xi8>
  %s = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %w = qopt.dequantize %q, %s {axis = 0 : i64} : (tensor<2x3xi8>, tensor<2xf32>) -> tensor<2x3xf32>
  %y = qopt.matmul %x, %w : (tensor<1x2xf32>, tensor<2x3xf32>) -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}

// -----

// Blocks of 16 or more (a power of two) along K: ONNX Runtime runs these as MatMulNBits at accuracy
// level 4, so the activations are marked for int8 quantization per block.
// CHECK-LABEL: func.func @int4_blocks_of_16
// CHECK: qopt.quantized_matmul %{{.*}}, %{{.*}}, %{{.*}} {in_features = 32 : i64, int8_activations, scheme = #qopt.scheme<int4, group = 16, sym, scale = f32>}
func.func @int4_blocks_of_16(%x: tensor<1x32xf32>) -> tensor<1x1xf32> {
  %q = arith.constant dense_resource<w16> : tensor<32x1xi4>
  %s = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf32>
  %w = qopt.dequantize %q, %s {axis = 0 : i64, block_size = 16 : i64} : (tensor<32x1xi4>, tensor<2x1xf32>) -> tensor<32x1xf32>
  %y = qopt.matmul %x, %w : (tensor<1x32xf32>, tensor<32x1xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w16: "0x08000000F9FAFBFCFDFEFF0001020304050607F9FAFBFCFDFEFF0001020304050607F9FA"
    }
  }
#-}
