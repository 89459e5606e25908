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

// -----

// Rotary embedding's rotate_half, concat(-x[..., 4:], x[..., :4]) over the last axis: the pair
// of halves viewed as an axis of 2, reversed by one strided copy, and the sign applied by a
// multiplication that joins the consumer's elementwise chain. The leading dims may be dynamic:
// the reshapes copy them (0).
// CHECK-LABEL: func.func @rotate_half
// CHECK-SAME: (%[[X:.*]]: tensor<1x4x?x8xf32>, %[[SIN:.*]]: tensor<1x1x?x8xf32>)
// CHECK-DAG: %[[SPLIT_SHAPE:.*]] = arith.constant dense<[0, 0, 0, 2, 4]> : tensor<5xi64>
// CHECK-DAG: %[[FLAT_SHAPE:.*]] = arith.constant dense<[0, 0, 0, 8]> : tensor<4xi64>
// CHECK-DAG: %[[LAST:.*]] = arith.constant dense<-1> : tensor<1xi64>
// CHECK-DAG: %[[PAST:.*]] = arith.constant dense<-3> : tensor<1xi64>
// CHECK-DAG: %[[AXIS:.*]] = arith.constant dense<3> : tensor<1xi64>
// CHECK-DAG: %[[SIGN:.*]] = arith.constant dense<[-1.000000e+00, -1.000000e+00, -1.000000e+00, -1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00]> : tensor<8xf32>
// CHECK: %[[SPLIT:.*]] = qopt.reshape %[[X]], %[[SPLIT_SHAPE]] : (tensor<1x4x?x8xf32>, tensor<5xi64>) -> tensor<1x4x?x2x4xf32>
// CHECK: %[[SWAPPED:.*]] = qopt.slice %[[SPLIT]], %[[LAST]], %[[PAST]] axes %[[AXIS]] steps %[[LAST]] : {{.*}} -> tensor<1x4x?x2x4xf32>
// CHECK: %[[FLAT:.*]] = qopt.reshape %[[SWAPPED]], %[[FLAT_SHAPE]] : (tensor<1x4x?x2x4xf32>, tensor<4xi64>) -> tensor<1x4x?x8xf32>
// CHECK: %[[ROT:.*]] = qopt.mul %[[FLAT]], %[[SIGN]]
// CHECK-NOT: qopt.neg
// CHECK-NOT: qopt.concat
// CHECK: qopt.mul %[[ROT]], %[[SIN]]
func.func @rotate_half(%x: tensor<1x4x?x8xf32>, %sin: tensor<1x1x?x8xf32>) -> tensor<1x4x?x8xf32> {
  %zero = arith.constant dense<0> : tensor<1xi64>
  %half = arith.constant dense<4> : tensor<1xi64>
  %end = arith.constant dense<9223372036854775807> : tensor<1xi64>
  %axis = arith.constant dense<-1> : tensor<1xi64>
  %one = arith.constant dense<1> : tensor<1xi64>
  %low = qopt.slice %x, %zero, %half axes %axis steps %one : (tensor<1x4x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x4x?x4xf32>
  %high = qopt.slice %x, %half, %end axes %axis steps %one : (tensor<1x4x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x4x?x4xf32>
  %neg = qopt.neg %high : tensor<1x4x?x4xf32>
  %rot = qopt.concat %neg, %low {axis = -1 : i64} : (tensor<1x4x?x4xf32>, tensor<1x4x?x4xf32>) -> tensor<1x4x?x8xf32>
  %y = qopt.mul %rot, %sin : (tensor<1x4x?x8xf32>, tensor<1x1x?x8xf32>) -> tensor<1x4x?x8xf32>
  return %y : tensor<1x4x?x8xf32>
}

// -----

// Not rotate_half: the other rotation (the low half negated), halves of two tensors, and halves
// that do not meet in the middle stay as they are.
// CHECK-LABEL: func.func @not_rotate_half
// CHECK-COUNT-3: qopt.concat
// CHECK-NOT: qopt.reshape
func.func @not_rotate_half(%x: tensor<2x8xf32>, %z: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) {
  %zero = arith.constant dense<0> : tensor<1xi64>
  %three = arith.constant dense<3> : tensor<1xi64>
  %half = arith.constant dense<4> : tensor<1xi64>
  %five = arith.constant dense<5> : tensor<1xi64>
  %end = arith.constant dense<8> : tensor<1xi64>
  %axis = arith.constant dense<1> : tensor<1xi64>
  %low = qopt.slice %x, %zero, %half axes %axis : (tensor<2x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x4xf32>
  %high = qopt.slice %x, %half, %end axes %axis : (tensor<2x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x4xf32>
  %neglow = qopt.neg %low : tensor<2x4xf32>
  %a = qopt.concat %neglow, %high {axis = 1 : i64} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x8xf32>
  %zlow = qopt.slice %z, %zero, %half axes %axis : (tensor<2x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x4xf32>
  %neghigh = qopt.neg %high : tensor<2x4xf32>
  %b = qopt.concat %neghigh, %zlow {axis = 1 : i64} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x8xf32>
  %low3 = qopt.slice %x, %zero, %three axes %axis : (tensor<2x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x3xf32>
  %high5 = qopt.slice %x, %three, %end axes %axis : (tensor<2x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x5xf32>
  %neg5 = qopt.neg %high5 : tensor<2x5xf32>
  %c = qopt.concat %neg5, %low3 {axis = 1 : i64} : (tensor<2x5xf32>, tensor<2x3xf32>) -> tensor<2x8xf32>
  return %a, %b, %c : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>
}
