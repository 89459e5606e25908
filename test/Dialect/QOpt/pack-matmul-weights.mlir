// RUN: qopt-opt %s --split-input-file --qopt-pack-matmul-weights=panel-width=2 | FileCheck %s
// RUN: qopt-opt %s --split-input-file --qopt-pack-matmul-weights | FileCheck %s --check-prefix=WIDE

// A [K=4, N=3] weight in panels of 2 columns: [2, 4, 2], the second panel's last column zero.
// Panel 0 holds columns 0-1 row by row (1 2, 4 5, 7 8, 10 11), panel 1 column 2 (3 0, 6 0, ...).
// CHECK-LABEL: func.func @kn
// CHECK: %[[P:.*]] = arith.constant dense_resource<[[BLOB:.*]]> : tensor<2x4x2xf32>
// CHECK: %[[Y:.*]] = qopt.fused_matmul(%arg0, %[[P]]) {n = 3 : i64, panel = 2 : i64} : (tensor<?x4xf32>, tensor<2x4x2xf32>) -> tensor<?x3xf32> {
// CHECK-NEXT: ^bb0(%[[ACC:.*]]: f32):
// CHECK-NEXT: qopt.yield %[[ACC]] : f32
// CHECK-NEXT: }
// CHECK-NEXT: return %[[Y]]
// CHECK: [[BLOB]]: "0x40000000
// CHECK-SAME: 0000803F00000040000080400000A0400000E04000000041000020410000304100004040000000000000C0400000000000001041000000000000404100000000"
// WIDE-LABEL: func.func @kn
// WIDE: tensor<1x4x32xf32>
// WIDE: {n = 3 : i64, panel = 32 : i64}
func.func @kn(%x: tensor<?x4xf32>) -> tensor<?x3xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [10.0, 11.0, 12.0]]> : tensor<4x3xf32>
  %y = qopt.matmul %x, %w : (tensor<?x4xf32>, tensor<4x3xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

// The transpose of a constant [N, K] weight packs the same way, and the transpose goes; a gemm's
// bias becomes the epilogue. Rows 1 2 3 4 / 5 6 7 8 / 9 10 11 12 are output channels, so panel 0
// is 1 5, 2 6, 3 7, 4 8.
// CHECK-LABEL: func.func @nk
// CHECK-NOT: qopt.transpose
// CHECK: %[[Y:.*]] = qopt.fused_matmul(%arg0, %{{.*}}) {n = 3 : i64, panel = 2 : i64}
// CHECK: %[[G:.*]] = qopt.fused_matmul(%arg1, %{{.*}}, %arg2) {n = 3 : i64, panel = 2 : i64} : (tensor<5x4xf32>, tensor<2x4x2xf32>, tensor<3xf32>) -> tensor<5x3xf32> {
// CHECK-NEXT: ^bb0(%[[ACC:.*]]: f32, %[[B:.*]]: f32):
// CHECK-NEXT: %[[S:.*]] = arith.addf %[[ACC]], %[[B]] : f32
// CHECK-NEXT: qopt.yield %[[S]] : f32
// CHECK: "0x40000000
// CHECK-SAME: 0000803F0000A040000000400000C040000040400000E04000008040000000410000104100000000000020410000000000003041000000000000404100000000"
func.func @nk(%x: tensor<2x7x4xf32>, %z: tensor<5x4xf32>, %c: tensor<3xf32>) -> (tensor<2x7x3xf32>, tensor<5x3xf32>) {
  %v = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0]]> : tensor<3x4xf32>
  %t = qopt.transpose %v {perm = array<i64: 1, 0>} : tensor<3x4xf32> -> tensor<4x3xf32>
  %y = qopt.matmul %x, %t : (tensor<2x7x4xf32>, tensor<4x3xf32>) -> tensor<2x7x3xf32>
  %g = qopt.gemm %z, %v, %c {transB = true} : (tensor<5x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<5x3xf32>
  return %y, %g : tensor<2x7x3xf32>, tensor<5x3xf32>
}

// -----

// A tied table feeds an embedding lookup and the head: the head's panels are a new constant, the
// lookup reads its rows from them, the table goes, and a second head on the same table shares the
// panels. A lookup in a [K, N] weight (rows are not output channels) stays a gather.
// CHECK-LABEL: func.func @tied
// CHECK-NOT: tensor<3x2xf32>
// CHECK: %[[P:.*]] = arith.constant dense_resource<{{.*}}> : tensor<2x2x2xf32>
// CHECK-NOT: tensor<3x2xf32>
// CHECK: %[[E:.*]] = qopt.panel_gather %[[P]], %arg0 {n = 3 : i64} : (tensor<2x2x2xf32>, tensor<5xi64>) -> tensor<5x2xf32>
// CHECK: qopt.fused_matmul(%arg1, %[[P]])
// CHECK: qopt.fused_matmul(%arg2, %[[P]])
// CHECK: %[[KN:.*]] = qopt.fused_matmul(%arg3, %{{.*}}) {n = 3 : i64
// CHECK: qopt.gather %{{.*}}, %arg0 : (tensor<2x3xf32>, tensor<5xi64>) -> tensor<5x3xf32>
func.func @tied(%ids: tensor<5xi64>, %h: tensor<5x2xf32>, %h2: tensor<1x2xf32>, %h3: tensor<4x2xf32>) -> (tensor<5x2xf32>, tensor<5x3xf32>, tensor<1x3xf32>, tensor<4x3xf32>, tensor<5x3xf32>) {
  %table = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %e = qopt.gather %table, %ids : (tensor<3x2xf32>, tensor<5xi64>) -> tensor<5x2xf32>
  %t = qopt.transpose %table {perm = array<i64: 1, 0>} : tensor<3x2xf32> -> tensor<2x3xf32>
  %l = qopt.matmul %h, %t : (tensor<5x2xf32>, tensor<2x3xf32>) -> tensor<5x3xf32>
  %t2 = qopt.transpose %table {perm = array<i64: 1, 0>} : tensor<3x2xf32> -> tensor<2x3xf32>
  %l2 = qopt.matmul %h2, %t2 : (tensor<1x2xf32>, tensor<2x3xf32>) -> tensor<1x3xf32>
  %kn = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %l3 = qopt.matmul %h3, %kn : (tensor<4x2xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
  %g3 = qopt.gather %kn, %ids : (tensor<2x3xf32>, tensor<5xi64>) -> tensor<5x3xf32>
  return %e, %l, %l2, %l3, %g3 : tensor<5x2xf32>, tensor<5x3xf32>, tensor<1x3xf32>, tensor<4x3xf32>, tensor<5x3xf32>
}

// -----

// Left to BLAS: a product of two activations, a gemm whose a is transposed, a gemm whose bias is
// a single value, and a batched constant rhs.
// CHECK-LABEL: func.func @unpacked
// CHECK-NOT: qopt.fused_matmul
// CHECK: qopt.matmul %arg0, %arg1
// CHECK: qopt.gemm
// CHECK: qopt.gemm
// CHECK: qopt.matmul
// CHECK-NOT: qopt.fused_matmul
func.func @unpacked(%a: tensor<4x4xf32>, %b: tensor<4x4xf32>, %s: tensor<1xf32>) -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4x4xf32>) {
  %w = arith.constant dense<1.0> : tensor<4x4xf32>
  %w3 = arith.constant dense<1.0> : tensor<2x4x4xf32>
  %0 = qopt.matmul %a, %b : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %1 = qopt.gemm %a, %w {transA = true} : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %2 = qopt.gemm %a, %w, %s : (tensor<4x4xf32>, tensor<4x4xf32>, tensor<1xf32>) -> tensor<4x4xf32>
  %3 = qopt.matmul %a, %w3 : (tensor<4x4xf32>, tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  return %0, %1, %2, %3 : tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4x4xf32>
}
