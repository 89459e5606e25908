// RUN: qopt-opt %s --split-input-file --qopt-raise-patterns | FileCheck %s

// CHECK-LABEL: func.func @silu
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK: %[[Y:.*]] = qopt.silu %[[X]] : tensor<4xf32>
// CHECK-NOT: qopt.sigmoid
// CHECK: return %[[Y]]
func.func @silu(%x: tensor<4xf32>) -> tensor<4xf32> {
  %s = qopt.sigmoid %x : tensor<4xf32>
  %y = qopt.mul %s, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// x * sigmoid(z) with z != x is a gate, not SiLU.
// CHECK-LABEL: func.func @not_silu
// CHECK: qopt.sigmoid
// CHECK: qopt.mul
func.func @not_silu(%x: tensor<4xf32>, %z: tensor<4xf32>) -> tensor<4xf32> {
  %s = qopt.sigmoid %z : tensor<4xf32>
  %y = qopt.mul %x, %s : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// RMSNorm as PyTorch's dynamo exporter writes it (LlamaRMSNorm).
// CHECK-LABEL: func.func @rms_norm
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x8xf32>)
// CHECK: %[[W:.*]] = arith.constant dense<2.000000e+00> : tensor<8xf32>
// CHECK: %[[Y:.*]] = qopt.rms_norm %[[X]], %[[W]] {epsilon = 9.99999974E-6 : f32}
// CHECK: return %[[Y]]
func.func @rms_norm(%x: tensor<1x?x8xf32>) -> tensor<1x?x8xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-5> : tensor<f32>
  %w = arith.constant dense<2.0> : tensor<8xf32>
  %p = qopt.pow %x, %two : (tensor<1x?x8xf32>, tensor<f32>) -> tensor<1x?x8xf32>
  %m = qopt.reduce_mean %p {axes = array<i64: -1>} : tensor<1x?x8xf32> -> tensor<1x?x1xf32>
  %a = qopt.add %m, %eps : (tensor<1x?x1xf32>, tensor<f32>) -> tensor<1x?x1xf32>
  %s = qopt.sqrt %a : tensor<1x?x1xf32>
  %r = qopt.reciprocal %s : tensor<1x?x1xf32>
  %n = qopt.mul %x, %r : (tensor<1x?x8xf32>, tensor<1x?x1xf32>) -> tensor<1x?x8xf32>
  %y = qopt.mul %w, %n : (tensor<8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  return %y : tensor<1x?x8xf32>
}

// -----

// Mean over a dim other than the last is not RMSNorm.
// CHECK-LABEL: func.func @not_rms_norm
// CHECK-NOT: qopt.rms_norm
func.func @not_rms_norm(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-6> : tensor<f32>
  %w = arith.constant dense<2.0> : tensor<8xf32>
  %p = qopt.pow %x, %two : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %m = qopt.reduce_mean %p {axes = array<i64: 0>} : tensor<4x8xf32> -> tensor<1x8xf32>
  %a = qopt.add %m, %eps : (tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xf32>
  %s = qopt.sqrt %a : tensor<1x8xf32>
  %r = qopt.reciprocal %s : tensor<1x8xf32>
  %n = qopt.mul %x, %r : (tensor<4x8xf32>, tensor<1x8xf32>) -> tensor<4x8xf32>
  %y = qopt.mul %w, %n : (tensor<8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// RMSNorm as the TorchScript exporter writes it: 1 / sqrt(...) instead of reciprocal.
// CHECK-LABEL: func.func @rms_norm_div
// CHECK: qopt.rms_norm
// CHECK-NOT: qopt.sqrt
func.func @rms_norm_div(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %one = arith.constant dense<1.0> : tensor<f32>
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-6> : tensor<f32>
  %w = arith.constant dense<0.5> : tensor<8xf32>
  %p = qopt.pow %x, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = qopt.reduce_mean %p {axes = array<i64: 1>} : tensor<2x8xf32> -> tensor<2x1xf32>
  %a = qopt.add %m, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %s = qopt.sqrt %a : tensor<2x1xf32>
  %r = qopt.div %one, %s : (tensor<f32>, tensor<2x1xf32>) -> tensor<2x1xf32>
  %n = qopt.mul %x, %r : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %y = qopt.mul %n, %w : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// LayerNorm spelled out, as exporters write it before opset 17.
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x8xf32>)
// CHECK-DAG: %[[G:.*]] = arith.constant dense<2.000000e+00> : tensor<8xf32>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<1.000000e+00> : tensor<8xf32>
// CHECK: %[[Y:.*]] = qopt.layer_norm %[[X]], %[[G]], %[[B]] {epsilon = 9.99999996E-13 : f32}
// CHECK-NEXT: return %[[Y]]
func.func @layer_norm(%x: tensor<1x?x8xf32>) -> tensor<1x?x8xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-12> : tensor<f32>
  %g = arith.constant dense<2.0> : tensor<8xf32>
  %b = arith.constant dense<1.0> : tensor<8xf32>
  %mean = qopt.reduce_mean %x {axes = array<i64: -1>} : tensor<1x?x8xf32> -> tensor<1x?x1xf32>
  %d = qopt.sub %x, %mean : (tensor<1x?x8xf32>, tensor<1x?x1xf32>) -> tensor<1x?x8xf32>
  %p = qopt.pow %d, %two : (tensor<1x?x8xf32>, tensor<f32>) -> tensor<1x?x8xf32>
  %v = qopt.reduce_mean %p {axes = array<i64: -1>} : tensor<1x?x8xf32> -> tensor<1x?x1xf32>
  %a = qopt.add %v, %eps : (tensor<1x?x1xf32>, tensor<f32>) -> tensor<1x?x1xf32>
  %s = qopt.sqrt %a : tensor<1x?x1xf32>
  %n = qopt.div %d, %s : (tensor<1x?x8xf32>, tensor<1x?x1xf32>) -> tensor<1x?x8xf32>
  %m = qopt.mul %n, %g : (tensor<1x?x8xf32>, tensor<8xf32>) -> tensor<1x?x8xf32>
  %y = qopt.add %m, %b : (tensor<1x?x8xf32>, tensor<8xf32>) -> tensor<1x?x8xf32>
  return %y : tensor<1x?x8xf32>
}

// -----

// Centering on a different tensor than the one normalized is not LayerNorm.
// CHECK-LABEL: func.func @not_layer_norm
// CHECK-NOT: qopt.layer_norm
func.func @not_layer_norm(%x: tensor<4x8xf32>, %z: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-5> : tensor<f32>
  %g = arith.constant dense<2.0> : tensor<8xf32>
  %b = arith.constant dense<1.0> : tensor<8xf32>
  %mean = qopt.reduce_mean %z {axes = array<i64: -1>} : tensor<4x8xf32> -> tensor<4x1xf32>
  %d = qopt.sub %x, %mean : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %p = qopt.pow %d, %two : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %v = qopt.reduce_mean %p {axes = array<i64: -1>} : tensor<4x8xf32> -> tensor<4x1xf32>
  %a = qopt.add %v, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %s = qopt.sqrt %a : tensor<4x1xf32>
  %n = qopt.div %d, %s : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %m = qopt.mul %n, %g : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %y = qopt.add %m, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
