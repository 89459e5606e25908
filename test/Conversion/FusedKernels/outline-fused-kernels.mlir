// RUN: qopt-opt %s --split-input-file --qopt-outline-fused-kernels | FileCheck %s

// The body becomes one all-parallel linalg.generic over strided memrefs of the result's rank, read
// from the descriptors the runtime passes (inputs, then the output); the op names the kernel.
// CHECK: #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @main
// CHECK: qopt.fused_elementwise(%arg0, %arg1) {kernel = @qopt_kernel_0}
// CHECK-LABEL: func.func private @qopt_kernel_0
// CHECK-SAME: (%[[OPS:.*]]: !llvm.ptr) attributes {llvm.linkage = #llvm.linkage<internal>, qopt.kernel}
// CHECK: %[[P0:.*]] = llvm.getelementptr %[[OPS]][0]
// CHECK: %[[D0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[S0:.*]] = llvm.load %[[D0]] : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK: %[[M0:.*]] = builtin.unrealized_conversion_cast %[[S0]] {{.*}} to memref<?x?xf32, strided<[?, ?], offset: ?>>
// CHECK: llvm.getelementptr %[[OPS]][1]
// CHECK: %[[M1:.*]] = builtin.unrealized_conversion_cast
// CHECK: llvm.getelementptr %[[OPS]][2]
// CHECK: %[[OUT:.*]] = builtin.unrealized_conversion_cast
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$ID]], #[[$ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[M0]], %[[M1]] : {{.*}}) outs(%[[OUT]] : {{.*}})
// CHECK: ^bb0(%[[A:.*]]: f32, %[[B:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[S:.*]] = arith.addf %[[A]], %[[B]] : f32
// CHECK: %[[E:.*]] = math.exp %[[S]] : f32
// CHECK: linalg.yield %[[E]] : f32
// CHECK: return
func.func @main(%x: tensor<?x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  %0 = qopt.fused_elementwise(%x, %b) : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32> {
  ^bb0(%a: f32, %c: f32):
    %s = arith.addf %a, %c : f32
    %e = math.exp %s : f32
    qopt.yield %e : f32
  }
  return %0 : tensor<?x4xf32>
}

// -----

// A rank-0 result is a loop nest of no loops; names already taken are skipped.
// CHECK-LABEL: func.func @main
// CHECK: qopt.fused_elementwise(%arg0) {kernel = @qopt_kernel_1}
// CHECK: func.func private @qopt_kernel_0()
// CHECK-LABEL: func.func private @qopt_kernel_1
// CHECK: llvm.load %{{.*}} : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64)>
// CHECK: unrealized_conversion_cast {{.*}} to memref<f32, strided<[], offset: ?>>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = []}
// CHECK: arith.negf
func.func @main(%x: tensor<f32>) -> tensor<f32> {
  %0 = qopt.fused_elementwise(%x) : (tensor<f32>) -> tensor<f32> {
  ^bb0(%a: f32):
    %n = arith.negf %a : f32
    qopt.yield %n : f32
  }
  return %0 : tensor<f32>
}
func.func private @qopt_kernel_0()
