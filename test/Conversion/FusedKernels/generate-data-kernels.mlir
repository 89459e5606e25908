// RUN: qopt-opt %s --qopt-outline-fused-kernels | FileCheck %s
// RUN: qopt-opt %s --qopt-outline-fused-kernels=data-kernels=false | FileCheck %s --check-prefix=OFF
// RUN: qopt-opt %s --qopt-outline-fused-kernels --qopt-lower-kernels-to-llvm | FileCheck %s --check-prefix=LLVM

// Data movement keeps its form and names a strided copy kernel of the view's rank and the
// element's width: both transposes and the concat (rank 3, 4 bytes) share one; the i64 slice
// (rank 1, 8 bytes) and the expand (rank of its output) have their own. (A tile reads by position:
// generate-index-kernels.mlir.)
// A gather names a lookup kernel (rank 3) and a reduction one of the input's rank (f32 or i64); a
// reduction of i32 keeps the runtime's loop.
// CHECK-LABEL: func.func @main
// CHECK: qopt.transpose %arg0 {perm = array<i64: 0, 2, 1>, qopt.kernel = @[[COPY3:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 3 : i64}
// CHECK: qopt.transpose %arg0 {perm = array<i64: 2, 1, 0>, qopt.kernel = @[[COPY3]], qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 3 : i64}
// CHECK: qopt.concat %arg0, %arg0 {axis = 1 : i64, qopt.kernel = @[[COPY3]], qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 3 : i64}
// CHECK: qopt.slice %arg1, %arg2, %arg2 {qopt.kernel = @[[COPYI64:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 8 : i64, qopt.kernel_rank = 1 : i64}
// CHECK: qopt.expand %arg3, %arg4 {qopt.kernel = @[[COPY4B1:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 1 : i64, qopt.kernel_rank = 4 : i64}
// CHECK: qopt.gather %arg0, %arg5 {axis = 1 : i64, qopt.kernel = @[[GATHER:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 3 : i64}
// CHECK: qopt.reduce_mean %arg0 {axes = array<i64: 0, 2>, keepdims = false, qopt.kernel = @[[MEAN:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 3 : i64}
// CHECK: qopt.reduce_max %arg0 {axes = array<i64>, qopt.kernel = @[[MAX:qopt_kernel_[0-9]+]]
// CHECK: qopt.reduce_sum %arg1 {axes = array<i64: 0>, qopt.kernel = @[[ISUM:qopt_kernel_[0-9]+]], qopt.kernel_bytes = 8 : i64, qopt.kernel_rank = 1 : i64}
// CHECK: qopt.reduce_sum %arg6 {axes = array<i64: 0>} :

// The copy: linalg.copy between two dynamically strided views of i32.
// CHECK: func.func private @[[COPY3]](%{{.*}}: !llvm.ptr) attributes {llvm.linkage = #llvm.linkage<internal>, qopt.kernel}
// CHECK: linalg.copy ins(%{{.*}} : memref<?x?x?xi32, strided<[?, ?, ?], offset: ?>>) outs(%{{.*}} : memref<?x?x?xi32, strided<[?, ?, ?], offset: ?>>)
// CHECK: func.func private @[[COPYI64]]
// CHECK: linalg.copy ins(%{{.*}} : memref<?xi64, strided<[?], offset: ?>>)
// CHECK: func.func private @[[COPY4B1]]
// CHECK: linalg.copy ins(%{{.*}} : memref<?x?x?x?xi8, strided<[?, ?, ?, ?], offset: ?>>)

// The gather: over the output [outer, n, inner], the index wrapped when negative, then a load of
// the row it names.
// CHECK: func.func private @[[GATHER]]
// CHECK: %[[DIM:.*]] = memref.dim %[[DATA:.*]], %c1
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.*}} : memref<?xi64, strided<[?], offset: ?>>) outs(%{{.*}} : memref<?x?x?xi32, strided<[?, ?, ?], offset: ?>>)
// CHECK: %[[IDX:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK: %[[NEG:.*]] = arith.cmpi slt, %[[IDX]], %c0
// CHECK: %[[WRAP:.*]] = arith.addi %[[IDX]], %[[DIM]]
// CHECK: %[[ROW:.*]] = arith.select %[[NEG]], %[[WRAP]], %[[IDX]]
// CHECK: %[[O:.*]] = linalg.index 0
// CHECK: %[[K:.*]] = linalg.index 2
// CHECK: memref.load %[[DATA]][%[[O]], %[[ROW]], %[[K]]]

// The mean: an f64 accumulator filled with 0, the kept dim parallel and the two reduced ones
// last, then the sums divided by their count (the two reduced dims' sizes) and rounded to f32.
// CHECK: func.func private @[[MEAN]]
// CHECK: linalg.fill ins(%{{.*}} : f64) outs(%[[ACC:.*]] : memref<?xf64, strided<[?], offset: ?>>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "reduction"]} ins(%[[IN:.*]] : memref<?x?x?xf32, {{.*}}>) outs(%[[ACC]] : memref<?xf64, {{.*}}>)
// CHECK: arith.extf
// CHECK: arith.addf
// CHECK: memref.dim %[[IN]], %c1
// CHECK: memref.dim %[[IN]], %c2
// CHECK: arith.sitofp
// CHECK: linalg.generic {{.*}} ins(%[[ACC]] : {{.*}}) outs(%{{.*}} : memref<?xf32, {{.*}}>)
// CHECK: arith.divf
// CHECK: arith.truncf
// The maximum over every axis: a rank-0 result, starting from -inf.
// CHECK: func.func private @[[MAX]]
// CHECK: %[[NINF:.*]] = arith.constant 0xFFF0000000000000 : f64
// CHECK: linalg.fill ins(%[[NINF]] : f64) outs(%{{.*}} : memref<f64, strided<[], offset: ?>>)
// CHECK: iterator_types = ["reduction", "reduction", "reduction"]
// CHECK: arith.maximumf

// The i64 sum: an i64 accumulator, exact.
// CHECK: func.func private @[[ISUM]]
// CHECK: linalg.fill ins(%{{.*}} : i64) outs(%{{.*}} : memref<i64, strided<[], offset: ?>>)
// CHECK: iterator_types = ["reduction"]
// CHECK: arith.addi

// OFF-NOT: qopt.kernel
// OFF-NOT: func.func private

// Lowered: loops over loads and stores, no calls (memref.copy would call a runtime function).
// LLVM-LABEL: llvm.func internal @qopt_kernel_0
// LLVM-NOT: llvm.call
// LLVM: llvm.load %{{.*}} : !llvm.ptr -> i32
// LLVM: llvm.store %{{.*}}, %{{.*}} : i32, !llvm.ptr
// LLVM-NOT: llvm.call
// LLVM-NOT: linalg.
func.func @main(%x: tensor<2x?x4xf32>, %v: tensor<?xi64>, %s: tensor<1xi64>, %m: tensor<1x1x3x1xi1>, %shape: tensor<4xi64>, %i: tensor<5xi64>, %w: tensor<?xi32>) -> (tensor<2x4x?xf32>, tensor<4x?x2xf32>, tensor<2x?x4xf32>, tensor<?xi64>, tensor<?x?x?x?xi1>, tensor<2x5x4xf32>, tensor<?xf32>, tensor<1x1x1xf32>, tensor<?xi64>, tensor<?xi32>) {
  %0 = qopt.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x?x4xf32> -> tensor<2x4x?xf32>
  %1 = qopt.transpose %x {perm = array<i64: 2, 1, 0>} : tensor<2x?x4xf32> -> tensor<4x?x2xf32>
  %2 = qopt.concat %x, %x {axis = 1 : i64} : (tensor<2x?x4xf32>, tensor<2x?x4xf32>) -> tensor<2x?x4xf32>
  %3 = qopt.slice %v, %s, %s : (tensor<?xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?xi64>
  %4 = qopt.expand %m, %shape : (tensor<1x1x3x1xi1>, tensor<4xi64>) -> tensor<?x?x?x?xi1>
  %6 = qopt.gather %x, %i {axis = 1 : i64} : (tensor<2x?x4xf32>, tensor<5xi64>) -> tensor<2x5x4xf32>
  %7 = qopt.reduce_mean %x {axes = array<i64: 0, 2>, keepdims = false} : tensor<2x?x4xf32> -> tensor<?xf32>
  %8 = qopt.reduce_max %x {axes = array<i64>} : tensor<2x?x4xf32> -> tensor<1x1x1xf32>
  %9 = qopt.reduce_sum %v {axes = array<i64: 0>} : tensor<?xi64> -> tensor<?xi64>
  %10 = qopt.reduce_sum %w {axes = array<i64: 0>} : tensor<?xi32> -> tensor<?xi32>
  return %0, %1, %2, %3, %4, %6, %7, %8, %9, %10 : tensor<2x4x?xf32>, tensor<4x?x2xf32>, tensor<2x?x4xf32>, tensor<?xi64>, tensor<?x?x?x?xi1>, tensor<2x5x4xf32>, tensor<?xf32>, tensor<1x1x1xf32>, tensor<?xi64>, tensor<?xi32>
}
