// RUN: qopt-opt %s --qopt-outline-fused-kernels --canonicalize | FileCheck %s
// RUN: qopt-opt %s --qopt-outline-fused-kernels --qopt-lower-kernels-to-llvm | FileCheck %s --check-prefix=LLVM

// Ops computed from element positions name kernels of their own, with the rank and element bytes
// the runtime describes them with.
// CHECK-LABEL: func.func @main
// CHECK: qopt.range {{.*}}qopt.kernel = @[[RANGE:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 1 : i64}
// CHECK: qopt.trilu {{.*}}qopt.kernel = @[[TRIL:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 3 : i64
// CHECK: qopt.constant_of_shape {{.*}}qopt.kernel = @[[FILL:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 8 : i64, qopt.kernel_rank = 1 : i64
// CHECK: qopt.gather_elements {{.*}}qopt.kernel = @[[GE:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 3 : i64
// CHECK: qopt.gather_nd {{.*}}qopt.kernel = @[[ND:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 2 : i64
// CHECK: qopt.cum_sum {{.*}}qopt.kernel = @[[CS:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 8 : i64, qopt.kernel_rank = 3 : i64
// CHECK: qopt.gather_elements {{.*}}axis = -1 : i64, qopt.kernel = @[[GENEG:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 3 : i64
// CHECK: qopt.tile {{.*}}qopt.kernel = @[[TILE:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 5 : i64

// Range: start + i * delta, i from the element's position.
// CHECK: func.func private @[[RANGE]]
// CHECK: %[[S:.*]] = memref.load %{{.*}}[%c0] : memref<?xf32
// CHECK: %[[D:.*]] = memref.load %{{.*}}[%c0] : memref<?xf32
// CHECK: %[[I:.*]] = linalg.index 0 : index
// CHECK: %[[IF:.*]] = arith.sitofp %{{.*}} : i64 to f32
// CHECK: %[[ID:.*]] = arith.mulf %[[IF]], %[[D]] : f32
// CHECK: arith.addf %[[S]], %[[ID]] : f32

// Trilu (lower): an element stays where column - row <= k, else 0 (of the element's width).
// CHECK: func.func private @[[TRIL]]
// CHECK: %[[K:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK: ^bb0(%[[IN:.*]]: i32, %{{.*}}: i32):
// CHECK: %[[ROW:.*]] = linalg.index 1 : index
// CHECK: %[[COL:.*]] = linalg.index 2 : index
// CHECK: %[[DIFF:.*]] = arith.subi %[[COL]], %[[ROW]] : index
// CHECK: %[[KEEP:.*]] = arith.cmpi sle, %[[DIFF]], %[[K]] : index
// CHECK: arith.select %[[KEEP]], %[[IN]], %c0_i32 : i32

// ConstantOfShape: the value the runtime passes, filled.
// CHECK: func.func private @[[FILL]]
// CHECK: %[[V:.*]] = memref.load %{{.*}}[%c0] : memref<?xi64
// CHECK: linalg.fill ins(%[[V]] : i64)

// GatherElements along axis 1: the index (wrapped when negative) replaces that coordinate.
// CHECK: func.func private @[[GE]]
// CHECK: %[[DIM:.*]] = memref.dim %[[DATA:.*]], %c1
// CHECK: ^bb0(%[[IDX:.*]]: i32, %{{.*}}: i32):
// CHECK: %[[A0:.*]] = linalg.index 0 : index
// CHECK: %[[IX:.*]] = arith.index_cast %[[IDX]] : i32 to index
// CHECK: %[[WR:.*]] = arith.select
// CHECK: %[[A2:.*]] = linalg.index 2 : index
// CHECK: memref.load %[[DATA]][%[[A0]], %[[WR]], %[[A2]]]

// GatherND: per tuple, the slice's offset summed over the index depth, then the slice copied.
// CHECK: func.func private @[[ND]]
// CHECK: scf.for %[[T:.*]] = %c0 to %{{.*}} step %c1 {
// CHECK: %[[OFF:.*]] = scf.for %{{.*}} = %c0 to %{{.*}} step %c1 iter_args(%{{.*}} = %{{.*}}) -> (index) {
// CHECK: arith.muli
// CHECK: scf.yield
// CHECK: scf.for %[[SL:.*]] = %c0 to %{{.*}} step %c1 {
// CHECK: %[[FROM:.*]] = arith.addi %[[OFF]], %[[SL]] : index
// CHECK: memref.load %{{.*}}[%[[FROM]]]
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[T]], %[[SL]]]

// CumSum (exclusive, reversed, on i64): each step adds the previous output and input rows; the
// first step along the axis writes 0.
// CHECK: func.func private @[[CS]]
// CHECK: scf.for
// CHECK: scf.for %[[STEP:.*]] = %c0 to
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[STEP]], %c0 : index
// CHECK: scf.for
// CHECK: %[[PO:.*]] = memref.load
// CHECK: %[[CARRY:.*]] = arith.select %[[FIRST]], %c0_i64, %[[PO]] : i64
// CHECK: %[[PI:.*]] = memref.load
// CHECK: %[[SUM:.*]] = arith.addi %[[CARRY]], %[[PI]] : i64
// CHECK: %[[V:.*]] = arith.select %[[FIRST]], %c0_i64, %[[SUM]] : i64
// CHECK: memref.store %[[V]]

// GatherElements along axis -1 (I64Attr reads back unsigned; the axis is the last one, 2).
// CHECK: func.func private @[[GENEG]]
// CHECK: memref.dim %{{.*}}, %c2

// Tile of rank 5: each output position modulo the input's dims.
// CHECK: func.func private @[[TILE]]
// CHECK-COUNT-5: memref.dim
// CHECK: linalg.generic {indexing_maps = [#{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} outs(
// CHECK-COUNT-5: arith.remui
// CHECK: memref.load

// Lowered: no linalg, scf or memref left in any of the kernels.
// LLVM-LABEL: llvm.func internal @qopt_kernel_0
// LLVM-NOT: {{linalg\.|scf\.|memref\.}}
// LLVM: llvm.func internal @qopt_kernel_7
// LLVM-NOT: {{linalg\.|scf\.|memref\.}}
func.func @main(%s: tensor<f32>, %d: tensor<f32>, %l: tensor<f32>, %x: tensor<2x5x7xf32>, %k: tensor<i64>, %shape: tensor<2xi64>, %ge: tensor<2x3x4xf32>, %gi: tensor<2x2x4xi32>, %nd: tensor<2x2xi64>, %m: tensor<2x9xi64>, %g5: tensor<1x?x1x2x1xf32>, %reps: tensor<5xi64>) -> (tensor<?xf32>, tensor<2x5x7xf32>, tensor<?x?xi64>, tensor<2x2x4xf32>, tensor<2x4xf32>, tensor<2x9xi64>, tensor<2x2x4xf32>, tensor<?x?x?x?x?xf32>) {
  %0 = qopt.range %s, %l, %d : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<?xf32>
  %1 = qopt.trilu %x k %k {upper = false} : (tensor<2x5x7xf32>, tensor<i64>) -> tensor<2x5x7xf32>
  %2 = qopt.constant_of_shape %shape {value = dense<7> : tensor<1xi64>} : tensor<2xi64> -> tensor<?x?xi64>
  %3 = qopt.gather_elements %ge, %gi {axis = 1 : i64} : (tensor<2x3x4xf32>, tensor<2x2x4xi32>) -> tensor<2x2x4xf32>
  %4 = qopt.gather_nd %ge, %nd : (tensor<2x3x4xf32>, tensor<2x2xi64>) -> tensor<2x4xf32>
  %5 = qopt.cum_sum %m {axis = 1 : i64, exclusive = true, reverse = true} : tensor<2x9xi64> -> tensor<2x9xi64>
  %6 = qopt.gather_elements %ge, %gi {axis = -1 : i64} : (tensor<2x3x4xf32>, tensor<2x2x4xi32>) -> tensor<2x2x4xf32>
  %7 = qopt.tile %g5, %reps : (tensor<1x?x1x2x1xf32>, tensor<5xi64>) -> tensor<?x?x?x?x?xf32>
  return %0, %1, %2, %3, %4, %5, %6, %7 : tensor<?xf32>, tensor<2x5x7xf32>, tensor<?x?xi64>, tensor<2x2x4xf32>, tensor<2x4xf32>, tensor<2x9xi64>, tensor<2x2x4xf32>, tensor<?x?x?x?x?xf32>
}
