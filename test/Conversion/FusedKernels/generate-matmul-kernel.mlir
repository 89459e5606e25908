// RUN: qopt-opt %s --split-input-file --qopt-outline-fused-kernels --canonicalize | FileCheck %s
// RUN: qopt-opt %s --split-input-file --qopt-outline-fused-kernels=matmul-kernels=false | FileCheck %s --check-prefix=OFF
// OFF-NOT: qopt.kernel =
// RUN: qopt-opt %s --split-input-file --qopt-outline-fused-kernels --qopt-lower-kernels-to-llvm | FileCheck %s --check-prefix=LLVM

// N = 64 in panels of 32 (two 16-lane vectors), K = 16, a bias and GELU (tanh) in the epilogue.
// Operands: input, packed weight, output, the i64 parameters, then the bias. Panels outermost;
// then rows in blocks of 8 (16 accumulators), of 4, and one at a time (four accumulator sets on
// interleaved k, summed after the loop). Full panels: plain vector stores.
// CHECK-LABEL: func.func @main
// CHECK: qopt.fused_matmul(%arg0, %arg1, %arg2) {kernel = @qopt_kernel_0, n = 64 : i64, panel = 32 : i64}
// CHECK-LABEL: func.func private @qopt_kernel_0
// CHECK-SAME: (%[[OPS:.*]]: !llvm.ptr) attributes {llvm.linkage = #llvm.linkage<internal>, qopt.kernel}
// CHECK-DAG: %[[A:.*]] = builtin.unrealized_conversion_cast %{{.*}} : {{.*}} to memref<?xf32>
// CHECK-DAG: %[[PRM:.*]] = builtin.unrealized_conversion_cast %{{.*}} : {{.*}} to memref<?xi64>
// CHECK: %[[PB:.*]] = memref.load %[[PRM]][%c2]
// CHECK: %[[PE:.*]] = memref.load %[[PRM]][%c3]
// CHECK: scf.for %[[P:.*]] = %{{.*}} to %{{.*}} step %c1 {
// CHECK: scf.for %[[R:.*]] = %{{.*}} to %{{.*}} step %c8 {
// CHECK: %[[ACC:.*]]:16 = scf.for %[[K:.*]] = %c0 to %c16 step %c1 iter_args(
// CHECK: %[[B0:.*]] = vector.load %{{.*}}[%{{.*}}] : memref<?xf32>, vector<16xf32>
// CHECK: %[[B1:.*]] = vector.load %{{.*}}[%{{.*}}] : memref<?xf32>, vector<16xf32>
// CHECK: %[[X:.*]] = memref.load %[[A]][%{{.*}}] : memref<?xf32>
// CHECK: %[[XV:.*]] = vector.broadcast %[[X]] : f32 to vector<16xf32>
// CHECK: vector.fma %[[XV]], %[[B0]], %{{.*}} : vector<16xf32>
// CHECK: vector.fma %[[XV]], %[[B1]], %{{.*}} : vector<16xf32>
// CHECK-COUNT-14: vector.fma
// CHECK: scf.yield
// CHECK: %[[BIAS:.*]] = vector.load %{{.*}} : memref<?xf32>, vector<16xf32>
// CHECK: %[[S:.*]] = arith.addf %[[ACC]]#0, %[[BIAS]] : vector<16xf32>
// CHECK: %[[T:.*]] = math.tanh %[[S]] : vector<16xf32>
// CHECK: vector.store %[[T]], %{{.*}} : memref<?xf32>, vector<16xf32>
// CHECK: scf.for %{{.*}} step %c4 {
// CHECK: scf.for %{{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: scf.for %{{.*}} step %c1 {
// CHECK: %[[ONE:.*]]:8 = scf.for %{{.*}} = %c0 to %c16 step %c4 iter_args(
// CHECK: %[[SUM:.*]] = arith.addf %[[ONE]]#0, %[[ONE]]#2 : vector<16xf32>
// CHECK-NOT: vector.maskedstore
// LLVM-LABEL: llvm.func internal @qopt_kernel_0
// LLVM-NOT: vector.
// LLVM-NOT: math.
// LLVM: llvm.intr.fmuladd(%{{.*}}, %{{.*}}, %{{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// LLVM-NOT: llvm.call
func.func @main(%x: tensor<?x16xf32>, %w: tensor<2x16x32xf32>, %b: tensor<64xf32>) -> tensor<?x64xf32> {
  %0 = qopt.fused_matmul(%x, %w, %b) {n = 64 : i64, panel = 32 : i64} : (tensor<?x16xf32>, tensor<2x16x32xf32>, tensor<64xf32>) -> tensor<?x64xf32> {
  ^bb0(%acc: f32, %c: f32):
    %s = arith.addf %acc, %c : f32
    %t = math.tanh %s : f32
    qopt.yield %t : f32
  }
  return %0 : tensor<?x64xf32>
}

// -----

// N = 20 in panels of 16 (two 8-lane vectors, as for AVX2): the last panel is partial, so stores
// are masked by the columns left (N - column), which is 0 or less past the end. Blocks of 6 rows
// (12 accumulators), then 3, then 1. K = 5 is too short for accumulator sets.
// CHECK-LABEL: func.func private @qopt_kernel_0
// CHECK: scf.for %{{.*}} step %c6 {
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: %[[LEFT:.*]] = arith.subi %c20, %{{.*}} : index
// CHECK: %[[M:.*]] = vector.create_mask %[[LEFT]] : vector<8xi1>
// CHECK: vector.maskedstore %{{.*}}[%{{.*}}], %[[M]], %{{.*}} : memref<?xf32>, vector<8xi1>, vector<8xf32>
// CHECK: scf.for %{{.*}} step %c3 {
// CHECK: scf.for %{{.*}} step %c1 {
// CHECK: %{{.*}}:2 = scf.for %{{.*}} = %c0 to %c5 step %c1 iter_args
// LLVM-LABEL: llvm.func internal @qopt_kernel_0
// LLVM: llvm.intr.masked.store
func.func @main(%x: tensor<?x5xf32>, %w: tensor<2x5x16xf32>) -> tensor<?x20xf32> {
  %0 = qopt.fused_matmul(%x, %w) {n = 20 : i64, panel = 16 : i64} : (tensor<?x5xf32>, tensor<2x5x16xf32>) -> tensor<?x20xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  return %0 : tensor<?x20xf32>
}

// -----

// A product of two activations keeps its form and names a kernel in which K and N come from the
// parameters (words 4 and 5), the columns advance by the panel width from the part's first
// column, and the rhs rows are read with masked loads (they end at column N).
// CHECK-LABEL: func.func @main
// CHECK: qopt.matmul %arg0, %arg1 {qopt.kernel = @qopt_kernel_0}
// CHECK-LABEL: func.func private @qopt_kernel_0
// CHECK-DAG: %[[K:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK-DAG: %[[N:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK: scf.for %[[COL:.*]] = %{{.*}} to %{{.*}} step %c32 {
// CHECK: %[[LEFT:.*]] = arith.subi %[[N]], %[[COL]] : index
// CHECK: %[[M:.*]] = vector.create_mask %[[LEFT]] : vector<16xi1>
// CHECK: scf.for %{{.*}} = %c0 to %[[K]] step %c1 iter_args(
// CHECK: vector.maskedload %{{.*}}[%{{.*}}], %[[M]], %{{.*}} : memref<?xf32>, vector<16xi1>, vector<16xf32> into vector<16xf32>
// CHECK: vector.fma
// CHECK: vector.maskedstore
// CHECK: %[[SETS:.*]] = arith.remui %[[K]], %c4 : index
func.func @main(%a: tensor<1x6x?x64xf32>, %b: tensor<1x6x64x?xf32>) -> tensor<1x6x?x?xf32> {
  %0 = qopt.matmul %a, %b : (tensor<1x6x?x64xf32>, tensor<1x6x64x?xf32>) -> tensor<1x6x?x?xf32>
  return %0 : tensor<1x6x?x?xf32>
}

// -----

// A quantized layer on f32 activations gets a panel kernel of its K (256) and N (40), with no
// epilogue, and the panel width the runtime decodes into; one with int8 activations does not
// (the runtime's integer kernels take every row count); one with bf16 activations does (for the
// weights the runtime's bf16 kernels do not take).
// CHECK-LABEL: func.func @main
// CHECK: qopt.quantized_matmul %arg0, %arg1, %arg2 {in_features = 256 : i64, qopt.kernel = @qopt_kernel_0, qopt.kernel_panel = 32 : i64
// CHECK: qopt.quantized_matmul %arg0, %arg1, %arg2 {in_features = 256 : i64, int8_activations, scheme
// CHECK: qopt.quantized_matmul %arg0, %arg1, %arg2 {bf16_activations, in_features = 256 : i64, qopt.kernel = @qopt_kernel_1, qopt.kernel_panel = 32 : i64
// CHECK-LABEL: func.func private @qopt_kernel_0
// CHECK: scf.for %{{.*}} = %c0 to %c256 step %c1 iter_args(
// CHECK: vector.load
// CHECK: vector.fma
// CHECK: vector.maskedstore
func.func @main(%x: tensor<?x256xf32>, %codes: tensor<40x128xui8>, %scales: tensor<40x2xf16>) -> (tensor<?x40xf32>, tensor<?x40xf32>, tensor<?x40xf32>) {
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 256 : i64, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>} : (tensor<?x256xf32>, tensor<40x128xui8>, tensor<40x2xf16>) -> tensor<?x40xf32>
  %1 = qopt.quantized_matmul %x, %codes, %scales {in_features = 256 : i64, int8_activations, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>} : (tensor<?x256xf32>, tensor<40x128xui8>, tensor<40x2xf16>) -> tensor<?x40xf32>
  %2 = qopt.quantized_matmul %x, %codes, %scales {bf16_activations, in_features = 256 : i64, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>} : (tensor<?x256xf32>, tensor<40x128xui8>, tensor<40x2xf16>) -> tensor<?x40xf32>
  return %0, %1, %2 : tensor<?x40xf32>, tensor<?x40xf32>, tensor<?x40xf32>
}
