// RUN: qopt-opt %s --qopt-outline-fused-kernels --qopt-lower-kernels-to-llvm | FileCheck %s

// The kernel becomes an internal LLVM function of loops; erf, exp and tanh are polynomial
// approximations (no libm calls, no math ops left), sqrt an LLVM intrinsic. The graph in @main is
// not touched.
// CHECK-LABEL: func.func @main
// CHECK: qopt.fused_elementwise(%arg0) {kernel = @qopt_kernel_0}
// CHECK: math.erf
// CHECK-LABEL: llvm.func internal @qopt_kernel_0(%{{.*}}: !llvm.ptr)
// CHECK-NOT: math.
// CHECK-NOT: llvm.call
// CHECK: llvm.cond_br
// CHECK: llvm.load %{{.*}} : !llvm.ptr -> f32
// CHECK: llvm.intr.fma
// CHECK: llvm.intr.sqrt
// CHECK: llvm.store %{{.*}}, %{{.*}} : f32, !llvm.ptr
// CHECK-NOT: math.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
func.func @main(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = qopt.fused_elementwise(%x) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%a: f32):
    %e = math.erf %a : f32
    %t = math.tanh %e : f32
    %x2 = math.exp %t : f32
    %s = math.sqrt %x2 : f32
    qopt.yield %s : f32
  }
  return %0 : tensor<?x8xf32>
}
