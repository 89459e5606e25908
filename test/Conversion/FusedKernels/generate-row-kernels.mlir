// RUN: qopt-opt %s --qopt-outline-fused-kernels=lanes=8 --canonicalize | FileCheck %s
// RUN: qopt-opt %s --qopt-outline-fused-kernels=row-kernels=false | FileCheck %s --check-prefix=OFF
// RUN: qopt-opt %s --qopt-outline-fused-kernels --qopt-lower-kernels-to-llvm | FileCheck %s --check-prefix=LLVM

// Softmax over the last axis, RMSNorm and LayerNorm keep their form and name a generated kernel;
// a softmax over another axis and a norm on f16 do not.
// CHECK-LABEL: func.func @main
// CHECK: qopt.softmax %arg0 {qopt.kernel = @qopt_kernel_0}
// CHECK: qopt.rms_norm %arg0, %arg1 {qopt.kernel = @qopt_kernel_1}
// CHECK: qopt.layer_norm %arg0, %arg1, %arg2 {qopt.kernel = @qopt_kernel_2}
// CHECK: qopt.softmax %arg3 {axis = 1 : i64} :
// CHECK: qopt.rms_norm %arg4, %arg5 :

// Softmax: per row, a max over whole vectors then one masked step (padding -inf), an exp pass that
// stores e and sums it (the masked lanes selected out), and a scaling pass.
// CHECK-LABEL: func.func private @qopt_kernel_0
// CHECK-DAG: %[[NEGINF:.*]] = arith.constant dense<0xFF800000> : vector<8xf32>
// CHECK: scf.for %[[ROW:.*]] = %{{.*}} to %{{.*}} step %c1 {
// CHECK: %[[M:.*]] = scf.for %{{.*}} = %c0 to %{{.*}} step %c8 iter_args(%{{.*}} = %[[NEGINF]]) -> (vector<8xf32>) {
// CHECK: arith.maximumf
// CHECK: %[[MASK:.*]] = vector.create_mask %{{.*}} : vector<8xi1>
// CHECK: vector.maskedload %{{.*}}[%{{.*}}], %[[MASK]], %[[NEGINF]]
// CHECK: vector.reduction <maximumf>, %{{.*}} : vector<8xf32> into f32
// CHECK: math.exp %{{.*}} : vector<8xf32>
// CHECK: vector.store
// CHECK: math.exp
// CHECK: vector.maskedstore
// CHECK: arith.select
// CHECK: vector.reduction <add>
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32

// RMSNorm: the sum of squares, 1 / sqrt(mean + epsilon), then x * inv * scale.
// CHECK-LABEL: func.func private @qopt_kernel_1
// CHECK-DAG: %[[EPS:.*]] = arith.constant 9.99999997E-7 : f32
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK: vector.reduction <add>
// CHECK: %[[MEAN:.*]] = arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: %[[VAR:.*]] = arith.addf %[[MEAN]], %[[EPS]] : f32
// CHECK: math.sqrt %[[VAR]] : f32
// CHECK-NOT: arith.subf

// LayerNorm: the mean first, then the centred squares, then the bias added.
// CHECK-LABEL: func.func private @qopt_kernel_2
// CHECK: vector.reduction <add>
// CHECK: arith.subf
// CHECK: vector.reduction <add>
// CHECK: math.sqrt
// CHECK: arith.addf %{{.*}}, %{{.*}} : vector<8xf32>

// OFF-NOT: qopt.kernel =
// OFF-NOT: func.func private

// LLVM-LABEL: llvm.func internal @qopt_kernel_0
// LLVM-NOT: math.
// LLVM-NOT: llvm.call
// LLVM: llvm.intr.vector.reduce.fmaximum
// LLVM: llvm.intr.masked.load
// LLVM: llvm.intr.masked.store
func.func @main(%x: tensor<?x37xf32>, %g: tensor<37xf32>, %b: tensor<37xf32>, %y: tensor<2x5x3xf32>, %h: tensor<4x8xf16>, %hg: tensor<8xf16>) -> (tensor<?x37xf32>, tensor<?x37xf32>, tensor<?x37xf32>, tensor<2x5x3xf32>, tensor<4x8xf16>) {
  %0 = qopt.softmax %x : tensor<?x37xf32>
  %1 = qopt.rms_norm %x, %g : (tensor<?x37xf32>, tensor<37xf32>) -> tensor<?x37xf32>
  %2 = qopt.layer_norm %x, %g, %b : (tensor<?x37xf32>, tensor<37xf32>, tensor<37xf32>) -> tensor<?x37xf32>
  %3 = qopt.softmax %y {axis = 1 : i64} : tensor<2x5x3xf32>
  %4 = qopt.rms_norm %h, %hg : (tensor<4x8xf16>, tensor<8xf16>) -> tensor<4x8xf16>
  return %0, %1, %2, %3, %4 : tensor<?x37xf32>, tensor<?x37xf32>, tensor<?x37xf32>, tensor<2x5x3xf32>, tensor<4x8xf16>
}
