// RUN: qopt-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(qopt-raise-patterns))' | FileCheck %s

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
