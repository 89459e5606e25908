// RUN: qopt-opt %s --qopt-generate-gpu-kernels --qopt-lower-gpu-kernels | FileCheck %s --check-prefix=NVVM
// RUN: qopt-opt %s --qopt-generate-gpu-kernels '--qopt-lower-gpu-kernels=chips=sm_80,sm_90 toolkit=%cuda_toolkit' | FileCheck %s --check-prefix=BIN
// REQUIRES: ptxas

// Without chips the kernels stop in the NVVM dialect: thread ids, warp shuffles and the
// block-wide reduction's shared memory, tanh in polynomial form (as on the CPU): of libdevice only
// fma, fabs and sqrt are called.
// NVVM: gpu.module @qopt_gpu
// NVVM-DAG: llvm.mlir.global internal @__wg_qopt_gpu_row_1_0() {addr_space = 3 : i32}
// NVVM-DAG: llvm.func @qopt_gpu_ew_0({{.*}}) attributes {gpu.kernel, nvvm.kernel}
// NVVM-DAG: llvm.func @qopt_gpu_q4_f16_sym_r1({{.*}}) attributes {gpu.kernel, nvvm.kernel}
// NVVM-DAG: nvvm.shfl.sync bfly
// NVVM-DAG: nvvm.read.ptx.sreg.tid.x
// NVVM-NOT: __nv_tanh
// NVVM-NOT: arith.
// NVVM-NOT: scf.

// With chips, one fatbin per chip (machine code from ptxas, and PTX) replaces the module as
// the global the CUDA runtime loads: "QOPTCUDA", the count, then (80, size, bytes) and
// (90, size, bytes).
// BIN-NOT: gpu.module
// BIN: llvm.mlir.global external constant @qopt_cuda_images("QOPTCUDA\02\00\00\00\00\00\00\00P\00\00\00\00\00\00\00{{.*}}Z\00\00\00\00\00\00\00
// BIN-NOT: gpu.binary
func.func @main(%x: tensor<?x64xf32>, %s: tensor<64xf32>) -> (tensor<?x64xf32>, tensor<?x8xf32>) {
  %codes = arith.constant dense<17> : tensor<8x32xui8>
  %scales = arith.constant dense<1.0> : tensor<8x2xf16>
  %e = qopt.fused_elementwise(%x) : (tensor<?x64xf32>) -> tensor<?x64xf32> {
  ^bb0(%a: f32):
    %t = math.tanh %a : f32
    qopt.yield %t : f32
  }
  %n = qopt.rms_norm %e, %s : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %sm = qopt.softmax %n : tensor<?x64xf32>
  %q = qopt.quantized_matmul %sm, %codes, %scales {in_features = 64 : i64, scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>}
       : (tensor<?x64xf32>, tensor<8x32xui8>, tensor<8x2xf16>) -> tensor<?x8xf32>
  return %sm, %q : tensor<?x64xf32>, tensor<?x8xf32>
}
