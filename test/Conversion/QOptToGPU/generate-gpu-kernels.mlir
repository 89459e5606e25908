// RUN: qopt-opt %s --qopt-generate-gpu-kernels --split-input-file | FileCheck %s

// An f32 chain gets a kernel over a 4-D index space: the output, the element count, four
// sizes, then each input's pointer and four strides; the body is cloned in.
// CHECK-LABEL: func.func @main
// CHECK: qopt.fused_elementwise(%arg0, %arg1) {qopt.gpu_kernel = "qopt_gpu_ew_0"}
// CHECK: gpu.module @qopt_gpu
// Pointers are noalias (results are fresh buffers) and the inputs readonly.
// CHECK: gpu.func @qopt_gpu_ew_0(%[[OUT:[a-z0-9]+]]: !llvm.ptr<1> {llvm.noalias}, %[[N:[a-z0-9]+]]: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %[[D3:[a-z0-9]+]]: i64, %[[X:[a-z0-9]+]]: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %[[B:[a-z0-9]+]]: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64) kernel
// CHECK: %[[I:.*]] = arith.addi
// CHECK: arith.cmpi ult, %[[I]], %[[N]] : i64
// CHECK: arith.remui %[[I]], %[[D3]] : i64
// CHECK: llvm.load %{{.*}} : !llvm.ptr<1> -> f32
// CHECK: llvm.load %{{.*}} : !llvm.ptr<1> -> f32
// CHECK: %[[S:.*]] = arith.addf
// CHECK: %[[E:.*]] = math.exp %[[S]] : f32
// CHECK: %[[P:.*]] = llvm.getelementptr %[[OUT]][%[[I]]]
// CHECK: llvm.store %[[E]], %[[P]] : f32, !llvm.ptr<1>
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

// Integer chains (positions, shapes) stay on the CPU: no kernel, no attribute.
// CHECK-LABEL: func.func @main
// CHECK: qopt.fused_elementwise(%arg0) :
// CHECK-NOT: qopt.gpu_kernel
// CHECK: gpu.module @qopt_gpu {
// CHECK-NEXT: }
func.func @main(%x: tensor<?xi64>) -> tensor<?xi64> {
  %0 = qopt.fused_elementwise(%x) : (tensor<?xi64>) -> tensor<?xi64> {
  ^bb0(%a: i64):
    %one = arith.constant 1 : i64
    %s = arith.addi %a, %one : i64
    qopt.yield %s : i64
  }
  return %0 : tensor<?xi64>
}

// -----

// Norms and softmax over the last axis: one block per row, the row's statistics reduced with
// gpu.all_reduce; the epsilon is a constant of the kernel.
// CHECK-LABEL: func.func @main
// CHECK: qopt.rms_norm %arg0, %arg1 {epsilon = 9.99999974E-6 : f32, qopt.gpu_kernel = "qopt_gpu_row_0"}
// CHECK: qopt.softmax %{{.*}} {qopt.gpu_kernel = "qopt_gpu_row_1"}
// CHECK: qopt.softmax %{{.*}} {axis = 0 : i64}
// CHECK: gpu.func @qopt_gpu_row_0(%{{.*}}: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr<1> {llvm.noalias}, %{{.*}}: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: i64) kernel
// CHECK: scf.for
// CHECK: math.fma
// CHECK: %[[SUM:.*]] = gpu.all_reduce  add %{{.*}} uniform
// CHECK: arith.constant 9.99999974E-6 : f32
// CHECK: math.sqrt
// CHECK: gpu.func @qopt_gpu_row_1
// CHECK: gpu.all_reduce  maximumf %{{.*}} uniform
// CHECK: math.exp
// CHECK: gpu.all_reduce  add %{{.*}} uniform
// CHECK-NOT: gpu.func
func.func @main(%x: tensor<?x64xf32>, %s: tensor<64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %0 = qopt.rms_norm %x, %s {epsilon = 1.0e-5 : f32} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %1 = qopt.softmax %0 : tensor<?x64xf32>
  %2 = qopt.softmax %1 {axis = 0 : i64} : tensor<?x64xf32>
  return %1, %2 : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// 4-bit integer weights in groups of a multiple of 32: one kernel family per scale type and
// zero-point form, built for 1 and 4 rows per block. Other schemes run on the CPU.
// CHECK-LABEL: func.func @main
// CHECK: qopt.quantized_matmul {{.*}}qopt.gpu_kernel = "qopt_gpu_q4_f16_sym"
// CHECK: qopt.quantized_matmul {{.*}}qopt.gpu_kernel = "qopt_gpu_q4_f16_sym"
// CHECK: qopt.quantized_matmul
// CHECK-NOT: qopt.gpu_kernel
// CHECK-SAME: int8
// CHECK: qopt.quantized_matmul
// CHECK-SAME: bf16_activations
// CHECK-NOT: qopt.gpu_kernel
// The f16-arithmetic forms stage 2048 codes' activations a chunk, 4 KiB a row, in shared memory.
// CHECK: llvm.mlir.global internal @qopt_gpu_q4_f16_sym_h4_shared() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<4096 x f32>
// CHECK: llvm.mlir.global internal @qopt_gpu_q4_f16_sym_h1_shared() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<1024 x f32>
// CHECK: gpu.func @qopt_gpu_q4_f16_sym_h1(
// CHECK: scf.for {{.*}} step %c2048_i64 iter_args({{.*}}) -> (f32, f32, f32, f32)  : i64 {
// Four slots of 16 codes a lane, each loaded (two words and a scale of each of four channels;
// symmetric codes need no loaded biases) only where some of the warp's slot lies inside K,
// before the staging.
// CHECK-COUNT-4: scf.if %{{.*}} -> (vector<2xi32>, f32, vector<2xi32>, f32, vector<2xi32>, f32, vector<2xi32>, f32)
// Staging: activations 0 and 4, 1 and 5, ... of 8 as f16 pairs, zero past K, one 16-byte store.
// CHECK: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xf32>
// CHECK: llvm.shufflevector %{{.*}}, %{{.*}} [0, 4] : vector<4xf32>
// CHECK: arith.truncf %{{.*}} : vector<2xf32> to vector<2xf16>
// CHECK: arith.select
// CHECK: llvm.shufflevector %{{.*}}, %{{.*}} [3, 7] : vector<4xf32>
// CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 16 : i64} : vector<4xi32>, !llvm.ptr<3>
// CHECK: gpu.barrier
// A slot: both arrays' pairs, then each word decoded with one mask and one f16 FMA a pair.
// CHECK: scf.if %{{.*}} -> (f32, f32, f32, f32)
// CHECK-COUNT-2: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xi32>
// CHECK: arith.shrui %{{.*}}, %c8_i32{{.*}} : i32
// CHECK: arith.andi %{{.*}}, %c983055_i32{{.*}} : i32
// CHECK: arith.ori %{{.*}}, %c1677747200_i32{{.*}} : i32
// CHECK: llvm.intr.fma(%{{.*}}) : (vector<2xf16>, vector<2xf16>, vector<2xf16>) -> vector<2xf16>
// CHECK: arith.andi %{{.*}}, %c15728880_i32{{.*}} : i32
// The 8 pair products summed in f16, then scaled into the f32 sum.
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<2xf16>
// CHECK-COUNT-7: llvm.intr.fma(%{{.*}}) : (vector<2xf16>, vector<2xf16>, vector<2xf16>) -> vector<2xf16>
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: math.fma %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: gpu.barrier
// The f32 sums carry codes / 16.
// CHECK: gpu.shuffle  xor
// CHECK: arith.constant 1.600000e+01 : f32
// CHECK: gpu.func @qopt_gpu_q4_f16_sym_r1(%{{.*}}: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr<1> {llvm.noalias}, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64) kernel
// Four channels a warp, one sum each: a 32-bit word of codes (8 codes) and its scale per
// channel, then the word's 8 activations, loaded once for the four.
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32)
// CHECK-COUNT-4: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> i32
// CHECK-COUNT-2: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xf32>
// CHECK-NOT: -> i32
// CHECK: arith.addi %{{.*}}, %c32_i64
// Nibble 3 of a half-word: masked in place, made the float 2^23 + code * 4096, scaled by 1/4096.
// CHECK: arith.constant 61440 : i32
// CHECK: arith.constant 1258291200 : i32
// CHECK: arith.bitcast %{{.*}} : i32 to f32
// CHECK: arith.constant 2.44140625E-4 : f32
// CHECK: math.fma
// CHECK: gpu.shuffle  xor %{{.*}}, %{{.*}}, %{{.*}} : f32
// Four rows by four channels: sixteen sums, in both forms.
// CHECK: gpu.func @qopt_gpu_q4_f16_sym_h4
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)  : i64 {
// CHECK-COUNT-4: scf.if %{{.*}} -> (vector<2xi32>, f32, vector<2xi32>, f32, vector<2xi32>, f32, vector<2xi32>, f32)
// CHECK: gpu.barrier
// CHECK: gpu.func @qopt_gpu_q4_f16_sym_r4
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// From 16 rows: tensor cores (mma.sync m16n8k16), K split over gridDim.z, the partial sums
// added atomically.
// The staged GEMM, 16 rows a block: the first step's activations (four quads for the threads
// that stage, none for the others) and per tile its codes and scale (symmetric codes: constant
// decoding biases).
// CHECK: gpu.func @qopt_gpu_q4_f16_sym_g1
// CHECK: scf.if %{{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<2xi32>, vector<2xf16>, vector<2xi32>, vector<2xf16>, vector<2xi32>, vector<2xf16>, vector<2xi32>, vector<2xf16>)
// CHECK: scf.if %{{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK-COUNT-4: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xf32>
// CHECK: llvm.load %{{.*}} {alignment = 8 : i64} : !llvm.ptr<1> -> vector<2xi32>
// The loop carries 16 sums, the buffer and the next step's loads. Staging: per k-step the pairs
// (x[s], x[s + 4]) and (x[8 + s], x[12 + s]) of the unit's 16, two k-steps a 16-byte store.
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, i64, vector<4xf32>
// CHECK: llvm.shufflevector %{{.*}}, %{{.*}} [0, 4] : vector<4xf32>
// CHECK: llvm.shufflevector %{{.*}}, %{{.*}} [0, 4] : vector<4xf32>
// CHECK: llvm.shufflevector %{{.*}}, %{{.*}} [1, 5] : vector<4xf32>
// CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 16 : i64} : vector<4xi32>, !llvm.ptr<3>
// CHECK: llvm.shufflevector %{{.*}}, %{{.*}} [3, 7] : vector<4xf32>
// CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 16 : i64} : vector<4xi32>, !llvm.ptr<3>
// One barrier a step (two buffers), then the next step's loads, in flight over this one's work.
// CHECK: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: scf.if %{{.*}} -> (vector<4xf32>
// A pair decoded with one mask, one f16 FMA (code - zero) and one scale multiply.
// CHECK: arith.shrui %{{.*}}, %c8_i32{{.*}} : i32
// CHECK: arith.andi %{{.*}}, %c983055_i32{{.*}} : i32
// CHECK: arith.ori %{{.*}}, %c1677747200_i32{{.*}} : i32
// CHECK: llvm.intr.fma(%{{.*}}) : (vector<2xf16>, vector<2xf16>, vector<2xf16>) -> vector<2xf16>
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<2xf16>
// CHECK: arith.andi %{{.*}}, %c15728880_i32{{.*}} : i32
// Each 16-byte load from shared memory feeds two k-steps of four tiles.
// CHECK: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xi32>
// CHECK: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xi32>
// CHECK-COUNT-8: nvvm.mma.sync
// CHECK: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xi32>
// CHECK-COUNT-8: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: llvm.atomicrmw fadd
// 32 and 64 rows a block: 32 and 64 sums a lane.
// CHECK: gpu.func @qopt_gpu_q4_f16_sym_g2
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, i64,
// CHECK-COUNT-32: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.func @qopt_gpu_q4_f16_sym_g4
// CHECK-COUNT-64: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: llvm.atomicrmw fadd
// CHECK-NOT: gpu.func
func.func @main(%x: tensor<?x64xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %codes = arith.constant dense<17> : tensor<8x32xui8>
  %scales = arith.constant dense<1.0> : tensor<8x2xf16>
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 64 : i64, scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>}
       : (tensor<?x64xf32>, tensor<8x32xui8>, tensor<8x2xf16>) -> tensor<?x8xf32>
  %1 = qopt.quantized_matmul %x, %codes, %scales {in_features = 64 : i64, scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>}
       : (tensor<?x64xf32>, tensor<8x32xui8>, tensor<8x2xf16>) -> tensor<?x8xf32>
  %2 = qopt.quantized_matmul %x, %codes, %scales {in_features = 64 : i64, int8_activations, scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>}
       : (tensor<?x64xf32>, tensor<8x32xui8>, tensor<8x2xf16>) -> tensor<?x8xf32>
  %3 = qopt.quantized_matmul %x, %codes, %scales {bf16_activations, in_features = 64 : i64, scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>}
       : (tensor<?x64xf32>, tensor<8x32xui8>, tensor<8x2xf16>) -> tensor<?x8xf32>
  return %0, %1, %2, %3 : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// Attention gets a kernel per pair of row widths (query 32, value 16 here), built in; the
// scale and every stride are parameters. The query row is staged in shared memory (an f32
// array in address space 3: the query, then per warp a maximum, a sum and 16 values), a lane
// scores a key against it, and the warps merge their parts after a barrier. Widths that are
// not static stay on the CPU.
// CHECK-LABEL: func.func @main
// CHECK: qopt.attention %arg0, %arg1, %arg2, %arg3 {qopt.gpu_kernel = "qopt_gpu_attention_32_16", scale = 5.000000e-01 : f64}
// CHECK: qopt.attention %arg4, %arg4, %arg4 :
// CHECK: gpu.module @qopt_gpu
// CHECK: llvm.mlir.global internal @qopt_gpu_attention_32_16_shared() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<104 x f32>
// CHECK: gpu.func @qopt_gpu_attention_32_16(%{{.*}}: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr<1> {llvm.noalias}, %{{.*}}: i64
// CHECK: llvm.mlir.addressof @qopt_gpu_attention_32_16_shared : !llvm.ptr<3>
// CHECK: gpu.barrier
// CHECK: scf.for
// The score: a dot product of the staged query with the key, scaled, plus the mask.
// CHECK: math.fma
// CHECK: arith.mulf
// CHECK: gpu.shuffle  xor
// CHECK: math.exp
// The chunk's values, each key's weight broadcast from its lane.
// CHECK: gpu.shuffle  idx
// CHECK: gpu.barrier
// CHECK: arith.divf
// CHECK-NOT: gpu.func
func.func @main(%q: tensor<1x8x?x32xf32>, %k: tensor<1x2x?x32xf32>, %v: tensor<1x2x?x16xf32>, %m: tensor<?x?xf32>, %d: tensor<1x1x4x?xf32>) -> (tensor<1x8x?x16xf32>, tensor<1x1x4x?xf32>) {
  %0 = qopt.attention %q, %k, %v, %m {scale = 0.5 : f64} : (tensor<1x8x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x16xf32>, tensor<?x?xf32>) -> tensor<1x8x?x16xf32>
  %1 = qopt.attention %d, %d, %d {scale = 1.0 : f64} : (tensor<1x1x4x?xf32>, tensor<1x1x4x?xf32>, tensor<1x1x4x?xf32>) -> tensor<1x1x4x?xf32>
  return %0, %1 : tensor<1x8x?x16xf32>, tensor<1x1x4x?xf32>
}

// -----

// Data movement of f32 activations and the KV-cache append share one strided copy of 32-bit
// words over a 4-D index space: dst, src, the count, three sizes, then the destination's and
// the source's strides. Integer data movement (shapes, positions) stays on the CPU.
// CHECK-LABEL: func.func @main
// CHECK: qopt.transpose %arg0 {perm = array<i64: 0, 2, 1, 3>, qopt.gpu_kernel = "qopt_gpu_copy"}
// CHECK: qopt.slice {{.*}}qopt.gpu_kernel = "qopt_gpu_copy"
// CHECK: qopt.concat {{.*}}qopt.gpu_kernel = "qopt_gpu_copy"
// CHECK: qopt.kv_append {{.*}}qopt.gpu_kernel = "qopt_gpu_copy"
// CHECK: qopt.transpose %arg3 {perm = array<i64: 1, 0>} :
// CHECK: gpu.func @qopt_gpu_copy(%[[DST:[a-z0-9]+]]: !llvm.ptr<1> {llvm.noalias}, %[[SRC:[a-z0-9]+]]: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %[[N:[a-z0-9]+]]: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64) kernel
// CHECK: arith.cmpi ult, %{{.*}}, %[[N]] : i64
// CHECK: %[[W:.*]] = llvm.load %{{.*}} : !llvm.ptr<1> -> i32
// CHECK: llvm.store %[[W]], %{{.*}} : i32, !llvm.ptr<1>
// CHECK-NOT: gpu.func
func.func @main(%x: tensor<1x?x2x8xf32>, %past: tensor<1x2x?x8xf32>, %r: tensor<1xi64>, %i: tensor<3x?xi64>) -> (tensor<1x2x?x8xf32>, tensor<?x3xi64>) {
  %t = qopt.transpose %x {perm = array<i64: 0, 2, 1, 3>} : tensor<1x?x2x8xf32> -> tensor<1x2x?x8xf32>
  %s = qopt.slice %t, %r, %r axes %r : (tensor<1x2x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x?x4xf32>
  %c = qopt.concat %s, %s {axis = -1 : i64} : (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x8xf32>
  %a = qopt.kv_append %past, %c {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %j = qopt.transpose %i {perm = array<i64: 1, 0>} : tensor<3x?xi64> -> tensor<?x3xi64>
  return %a, %j : tensor<1x2x?x8xf32>, tensor<?x3xi64>
}

// -----

// An f32 product by panel-packed weights: kernels for 1 and 4 rows a block, each a shared
// array of 256 partial sums per row; a thread's weight column is its index modulo the panel
// (32), and the epilogue (a bias here) is cloned in before the store. A panel that does not
// divide the block's 256 threads (48) stays on the CPU.
// CHECK-LABEL: func.func @main
// CHECK: qopt.fused_matmul(%arg0, %arg1, %arg2) {n = 64 : i64, panel = 32 : i64, qopt.gpu_kernel = "qopt_gpu_mm_0"}
// CHECK: qopt.fused_matmul(%arg0, %arg3) {n = 48 : i64, panel = 48 : i64} :
// CHECK: llvm.mlir.global internal @qopt_gpu_mm_0_r4_shared() {{.*}} : !llvm.array<1024 x f32>
// CHECK: llvm.mlir.global internal @qopt_gpu_mm_0_r1_shared() {{.*}} : !llvm.array<256 x f32>
// CHECK: gpu.func @qopt_gpu_mm_0_r1(%[[X:[a-z0-9]+]]: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %[[W:[a-z0-9]+]]: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %[[Y:[a-z0-9]+]]: !llvm.ptr<1> {llvm.noalias}, %[[B:[a-z0-9]+]]: !llvm.ptr<1> {llvm.noalias, llvm.readonly}, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64) kernel
// CHECK: arith.remui %{{.*}}, %c32_i64 : i64
// CHECK: scf.for
// CHECK: math.fma
// CHECK: gpu.barrier
// CHECK: %[[BIAS:.*]] = llvm.load %{{.*}} : !llvm.ptr<1> -> f32
// CHECK: %[[SUM:.*]] = arith.addf %{{.*}}, %[[BIAS]] : f32
// CHECK: llvm.store %[[SUM]]
// CHECK: gpu.func @qopt_gpu_mm_0_r4
// CHECK-NOT: gpu.func
func.func @main(%x: tensor<?x16xf32>, %w: tensor<2x16x32xf32>, %b: tensor<64xf32>, %w48: tensor<1x16x48xf32>) -> (tensor<?x64xf32>, tensor<?x48xf32>) {
  %0 = qopt.fused_matmul(%x, %w, %b) {n = 64 : i64, panel = 32 : i64} : (tensor<?x16xf32>, tensor<2x16x32xf32>, tensor<64xf32>) -> tensor<?x64xf32> {
  ^bb0(%acc: f32, %bias: f32):
    %s = arith.addf %acc, %bias : f32
    qopt.yield %s : f32
  }
  %1 = qopt.fused_matmul(%x, %w48) {n = 48 : i64, panel = 48 : i64} : (tensor<?x16xf32>, tensor<1x16x48xf32>) -> tensor<?x48xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  return %0, %1 : tensor<?x64xf32>, tensor<?x48xf32>
}

// -----

// 8-bit codes: only the tensor-core GEMM, for every size, where K and the group are multiples
// of 64 (a group of 32 stays on the CPU). A lane loads its 16 codes as 16 bytes; (w & 0x00FF00FF)
// | 0x64006400 and the same of the word shifted by 8 are a k-step's two pairs, made code - zero by
// one FMA (minus 1024 + zero, 128 for symmetric codes) and scaled. With zero
// points, each tile's zero point is loaded with its scale.
// CHECK-LABEL: func.func @main
// CHECK: qopt.quantized_matmul {{.*}} {in_features = 128 : i64, qopt.gpu_kernel = "qopt_gpu_q8_f16_sym"
// CHECK: qopt.quantized_matmul {{.*}} {in_features = 128 : i64, qopt.gpu_kernel = "qopt_gpu_q8_f32_zp"
// CHECK-NOT: qopt.gpu_kernel
// CHECK: gpu.func @qopt_gpu_q8_f16_sym_g1
// CHECK: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK: %[[Z:.*]] = arith.constant 1.280000e+02 : f16
// CHECK: %[[B:.*]] = arith.constant 1.024000e+03 : f16
// CHECK: arith.addf %[[Z]], %[[B]] : f16
// CHECK: arith.shrui %{{.*}}, %c8_i32{{.*}} : i32
// CHECK: arith.andi %{{.*}}, %c16711935_i32{{.*}} : i32
// CHECK: arith.ori %{{.*}}, %c1677747200_i32{{.*}} : i32
// CHECK: llvm.intr.fma
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<2xf16>
// CHECK: nvvm.mma.sync
// CHECK: gpu.func @qopt_gpu_q8_f16_sym_g2
// CHECK: gpu.func @qopt_gpu_q8_f16_sym_g4
// CHECK: gpu.func @qopt_gpu_q8_f32_zp_g1
// CHECK: scf.if %{{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xi32>, vector<2xf16>, vector<2xf16>, vector<2xf16>,
// CHECK: llvm.load %{{.*}} : !llvm.ptr<1> -> f32
// CHECK: llvm.load %{{.*}} : !llvm.ptr<1> -> i8
// CHECK: arith.uitofp %{{.*}} : i8 to f16
// CHECK: gpu.func @qopt_gpu_q8_f32_zp_g4
// CHECK-NOT: gpu.func
func.func @main(%x: tensor<?x128xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %codes = arith.constant dense<17> : tensor<8x128xui8>
  %scales = arith.constant dense<1.0> : tensor<8x2xf16>
  %scales32 = arith.constant dense<1.0> : tensor<8x2xf32>
  %zeros = arith.constant dense<3> : tensor<8x2xui8>
  %scales4 = arith.constant dense<1.0> : tensor<8x4xf16>
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 128 : i64, scheme = #qopt.scheme<int8, group = 64, sym, scale = f16>}
       : (tensor<?x128xf32>, tensor<8x128xui8>, tensor<8x2xf16>) -> tensor<?x8xf32>
  %1 = qopt.quantized_matmul %x, %codes, %scales32 zero_points %zeros {in_features = 128 : i64, scheme = #qopt.scheme<int8, group = 64, asym, scale = f32>}
       : (tensor<?x128xf32>, tensor<8x128xui8>, tensor<8x2xf32>, tensor<8x2xui8>) -> tensor<?x8xf32>
  %2 = qopt.quantized_matmul %x, %codes, %scales4 {in_features = 128 : i64, scheme = #qopt.scheme<int8, group = 32, sym, scale = f16>}
       : (tensor<?x128xf32>, tensor<8x128xui8>, tensor<8x4xf16>) -> tensor<?x8xf32>
  return %0, %1, %2 : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}
