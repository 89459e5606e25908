// RUN: qopt-opt %s --split-input-file --qopt-infer-shapes | FileCheck %s

// Once the input is static, the exporter's reshape arithmetic folds and every type becomes static,
// the function signature included.
// CHECK-LABEL: func.func @attention_reshape
// CHECK-SAME: (%[[X:.*]]: tensor<1x16x32xf32>) -> tensor<1x16x4x8xf32>
// CHECK-NOT: qopt.shape
// CHECK-NOT: qopt.concat
// CHECK: %[[R:.*]] = qopt.reshape %[[X]], %{{.*}} : (tensor<1x16x32xf32>, tensor<4xi64>) -> tensor<1x16x4x8xf32>
// CHECK: return %[[R]]
func.func @attention_reshape(%x: tensor<1x16x32xf32>) -> tensor<?x?x4x8xf32> {
  %s = qopt.shape %x : tensor<1x16x32xf32> -> tensor<3xi64>
  %i0 = arith.constant dense<0> : tensor<i64>
  %i1 = arith.constant dense<1> : tensor<i64>
  %b = qopt.gather %s, %i0 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %t = qopt.gather %s, %i1 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %bu = qopt.unsqueeze %b {axes = array<i64: 0>} : tensor<i64> -> tensor<1xi64>
  %tu = qopt.unsqueeze %t {axes = array<i64: 0>} : tensor<i64> -> tensor<1xi64>
  %heads = arith.constant dense<[4, 8]> : tensor<2xi64>
  %shape = qopt.concat %bu, %tu, %heads {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) -> tensor<4xi64>
  %r = qopt.reshape %x, %shape : (tensor<1x16x32xf32>, tensor<4xi64>) -> tensor<?x?x4x8xf32>
  return %r : tensor<?x?x4x8xf32>
}

// -----

// A symbolic sequence length stays `?`, but the dims the shape arithmetic pins down are refined:
// the head count and size come from constants even though the shape vector is not constant.
// CHECK-LABEL: func.func @symbolic_length
// CHECK-SAME: -> tensor<1x?x4x8xf32>
// CHECK: qopt.shape
// CHECK: qopt.reshape {{.*}} -> tensor<1x?x4x8xf32>
func.func @symbolic_length(%x: tensor<1x?x32xf32>) -> tensor<?x?x?x?xf32> {
  %s = qopt.shape %x {end = 2 : i64} : tensor<1x?x32xf32> -> tensor<2xi64>
  %heads = arith.constant dense<[4, 8]> : tensor<2xi64>
  %shape = qopt.concat %s, %heads {axis = 0 : i64} : (tensor<2xi64>, tensor<2xi64>) -> tensor<4xi64>
  %r = qopt.reshape %x, %shape : (tensor<1x?x32xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>
  return %r : tensor<?x?x?x?xf32>
}

// -----

// Refinement flows through chains of ops in one run.
// CHECK-LABEL: func.func @chain
// CHECK: qopt.matmul {{.*}} -> tensor<2x5xf32>
// CHECK: qopt.softmax {{.*}} : tensor<2x5xf32>
func.func @chain(%a: tensor<2x3xf32>, %b: tensor<3x5xf32>) -> tensor<?x?xf32> {
  %0 = qopt.matmul %a, %b : (tensor<2x3xf32>, tensor<3x5xf32>) -> tensor<?x?xf32>
  %1 = qopt.softmax %0 : tensor<?x?xf32>
  return %1 : tensor<?x?xf32>
}
