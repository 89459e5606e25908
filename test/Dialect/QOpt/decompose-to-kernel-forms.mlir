// RUN: qopt-opt %s --split-input-file --qopt-decompose-to-kernel-forms | FileCheck %s
// RUN: qopt-opt %s --split-input-file --qopt-decompose-to-kernel-forms='gemm=false softmax=false' | FileCheck %s --check-prefix=OFF

// Transposed A and B, alpha and beta: transposes, a matmul, a multiply by alpha, C times beta
// added.
// CHECK-LABEL: func.func @general
// CHECK: %[[AT:.*]] = qopt.transpose %arg0 {perm = array<i64: 1, 0>} : tensor<4x3xf32> -> tensor<3x4xf32>
// CHECK: %[[BT:.*]] = qopt.transpose %arg1 {perm = array<i64: 1, 0>} : tensor<5x4xf32> -> tensor<4x5xf32>
// CHECK: %[[P:.*]] = qopt.matmul %[[AT]], %[[BT]] : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
// CHECK: %[[ALPHA:.*]] = arith.constant dense<5.000000e-01> : tensor<f32>
// CHECK: %[[S:.*]] = qopt.mul %[[P]], %[[ALPHA]] : (tensor<3x5xf32>, tensor<f32>) -> tensor<3x5xf32>
// CHECK: %[[BETA:.*]] = arith.constant dense<2.000000e+00> : tensor<f32>
// CHECK: %[[C:.*]] = qopt.mul %arg2, %[[BETA]] : (tensor<5xf32>, tensor<f32>) -> tensor<5xf32>
// CHECK: %[[Y:.*]] = qopt.add %[[S]], %[[C]] : (tensor<3x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
// CHECK: return %[[Y]]
// OFF-LABEL: func.func @general
// OFF: qopt.gemm
func.func @general(%a: tensor<4x3xf32>, %b: tensor<5x4xf32>, %c: tensor<5xf32>) -> tensor<3x5xf32> {
  %0 = qopt.gemm %a, %b, %c {alpha = 0.5 : f32, beta = 2.0 : f32, transA = true, transB = true} : (tensor<4x3xf32>, tensor<5x4xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// A plain gemm by a constant weight with a bias along its columns is the packed path's; with a
// bias of one column it is decomposed (the weight stays a constant for that path's matmul), and
// a beta of 0 drops C.
// CHECK-LABEL: func.func @weights
// CHECK: qopt.gemm %arg0, %[[W:.*]], %arg1 :
// CHECK: %[[P:.*]] = qopt.matmul %arg0, %[[W]] : (tensor<?x4xf32>, tensor<4x5xf32>) -> tensor<?x5xf32>
// CHECK: qopt.add %[[P]], %arg2 : (tensor<?x5xf32>, tensor<?x1xf32>) -> tensor<?x5xf32>
// CHECK: %[[Q:.*]] = qopt.matmul %arg0, %[[W]]
// CHECK-NOT: qopt.add
// CHECK: return
func.func @weights(%x: tensor<?x4xf32>, %row: tensor<5xf32>, %col: tensor<?x1xf32>) -> (tensor<?x5xf32>, tensor<?x5xf32>, tensor<?x5xf32>) {
  %w = arith.constant dense<1.0> : tensor<4x5xf32>
  %0 = qopt.gemm %x, %w, %row : (tensor<?x4xf32>, tensor<4x5xf32>, tensor<5xf32>) -> tensor<?x5xf32>
  %1 = qopt.gemm %x, %w, %col : (tensor<?x4xf32>, tensor<4x5xf32>, tensor<?x1xf32>) -> tensor<?x5xf32>
  %2 = qopt.gemm %x, %w, %col {beta = 0.0 : f32} : (tensor<?x4xf32>, tensor<4x5xf32>, tensor<?x1xf32>) -> tensor<?x5xf32>
  return %0, %1, %2 : tensor<?x5xf32>, tensor<?x5xf32>, tensor<?x5xf32>
}

// -----

// A gemm of integers has no kernel form to go to.
// CHECK-LABEL: func.func @integers
// CHECK: qopt.gemm
func.func @integers(%a: tensor<2x3xi32>, %b: tensor<3x2xi32>) -> tensor<2x2xi32> {
  %0 = qopt.gemm %a, %b {transA = false} : (tensor<2x3xi32>, tensor<3x2xi32>) -> tensor<2x2xi32>
  return %0 : tensor<2x2xi32>
}

// -----

// A softmax over axis 1 of 3: axes 1 and 2 swapped, a last-axis softmax, swapped back. Last-axis
// softmaxes (spelled -1 or 2) stay; a negative axis (-3, the first) is counted from the end.
// CHECK-LABEL: func.func @softmax
// CHECK: %[[T:.*]] = qopt.transpose %arg0 {perm = array<i64: 0, 2, 1>} : tensor<2x5x3xf32> -> tensor<2x3x5xf32>
// CHECK: %[[S:.*]] = qopt.softmax %[[T]] : tensor<2x3x5xf32>
// CHECK: %[[B:.*]] = qopt.transpose %[[S]] {perm = array<i64: 0, 2, 1>} : tensor<2x3x5xf32> -> tensor<2x5x3xf32>
// CHECK: qopt.softmax %arg0 {axis = 2 : i64} : tensor<2x5x3xf32>
// CHECK: qopt.softmax %arg0 : tensor<2x5x3xf32>
// CHECK: %[[T2:.*]] = qopt.transpose %arg0 {perm = array<i64: 2, 1, 0>}
// CHECK: qopt.softmax %[[T2]] : tensor<3x5x2xf32>
// CHECK: return %[[B]]
// OFF-LABEL: func.func @softmax
// OFF-NOT: qopt.transpose
func.func @softmax(%x: tensor<2x5x3xf32>) -> (tensor<2x5x3xf32>, tensor<2x5x3xf32>, tensor<2x5x3xf32>, tensor<2x5x3xf32>) {
  %0 = qopt.softmax %x {axis = 1 : i64} : tensor<2x5x3xf32>
  %1 = qopt.softmax %x {axis = 2 : i64} : tensor<2x5x3xf32>
  %2 = qopt.softmax %x : tensor<2x5x3xf32>
  %3 = qopt.softmax %x {axis = -3 : i64} : tensor<2x5x3xf32>
  return %0, %1, %2, %3 : tensor<2x5x3xf32>, tensor<2x5x3xf32>, tensor<2x5x3xf32>, tensor<2x5x3xf32>
}
