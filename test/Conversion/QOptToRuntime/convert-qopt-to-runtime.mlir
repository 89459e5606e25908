// RUN: qopt-opt %s --split-input-file --verify-diagnostics --qopt-convert-qopt-to-runtime | FileCheck %s

// Inputs come from qopt_rt_input, each op is one qopt_rt_exec with its opcode (Exp = 4, Add = 19),
// outputs go to qopt_rt_output, and each value is released after its last use.
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK-SAME: %[[CTX:.*]]: !llvm.ptr)
// CHECK: %[[X:.*]] = llvm.call @qopt_rt_input(%[[CTX]], %{{.*}})
// CHECK: %[[OP_EXP:.*]] = llvm.mlir.constant(4 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%[[CTX]], %[[OP_EXP]],
// CHECK: %[[E:.*]] = llvm.load
// CHECK: %[[OP_ADD:.*]] = llvm.mlir.constant(19 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%[[CTX]], %[[OP_ADD]],
// CHECK: %[[Y:.*]] = llvm.load
// CHECK-DAG: llvm.call @qopt_rt_release(%[[CTX]], %[[X]])
// CHECK-DAG: llvm.call @qopt_rt_release(%[[CTX]], %[[E]])
// CHECK: llvm.call @qopt_rt_output(%[[CTX]], %{{.*}}, %[[Y]])
// CHECK: llvm.call @qopt_rt_release(%[[CTX]], %[[Y]])
// CHECK: llvm.mlir.global external constant @qopt_signature("in x 1 2 2 -1\0Aout y 1 2 2 -1\0A\00")
// CHECK: llvm.mlir.global external constant @qopt_weights_id
// CHECK-NOT: func.func @main
func.func @main(%x: tensor<2x?xf32> {qopt.name = "x"}) -> (tensor<2x?xf32> {qopt.name = "y"}) {
  %e = qopt.exp %x : tensor<2x?xf32>
  %y = qopt.add %e, %x : (tensor<2x?xf32>, tensor<2x?xf32>) -> tensor<2x?xf32>
  return %y : tensor<2x?xf32>
}

// -----

// Constants are views into the weights file: dtype f32 (1), at offset 64 (after the 16-byte
// header, aligned to 64), rank 2, dims from a constant global. Attributes travel in constant
// globals too: the transpose's permutation.
// CHECK-LABEL: llvm.func @qopt_graph
// CHECK: %[[DIMS:.*]] = llvm.mlir.addressof @__qopt_attrs_0
// CHECK-NEXT: %[[DT:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK-NEXT: %[[OFF:.*]] = llvm.mlir.constant(64 : i64) : i64
// CHECK-NEXT: %[[RANK:.*]] = llvm.mlir.constant(2 : i64) : i64
// CHECK-NEXT: llvm.call @qopt_rt_weight(%{{.*}}, %[[DT]], %[[OFF]], %[[RANK]], %[[DIMS]])
// CHECK: llvm.mlir.global private constant @__qopt_attrs_0(dense<[3, 2]> : tensor<2xi64>)
// CHECK: llvm.mlir.global private constant @__qopt_attrs_1(dense<[1, 0]> : tensor<2xi64>)
func.func @main() -> tensor<2x3xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %t = qopt.transpose %w {perm = array<i64: 1, 0>} : tensor<3x2xf32> -> tensor<2x3xf32>
  return %t : tensor<2x3xf32>
}

// -----

// A slice without axes passes a null operand so that its steps keep their position.
// CHECK-LABEL: llvm.func @qopt_graph
// CHECK: %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK: %[[SLOT3:.*]] = llvm.getelementptr %{{.*}}[3]
// CHECK: llvm.store %[[NULL]], %[[SLOT3]]
func.func @main(%x: tensor<8xf32>, %s: tensor<1xi64>, %e: tensor<1xi64>, %st: tensor<1xi64>) -> tensor<?xf32> {
  %0 = qopt.slice %x, %s, %e steps %st : (tensor<8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

// Ops without a CPU kernel say so.
func.func @main(%w: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'qopt.fake_quant' op has no CPU kernel yet}}
  %0 = qopt.fake_quant %w {scheme = #qopt.scheme<int4, group = 8, sym, scale = f32>} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Activation quantization runs to 4-, 8- and 16-bit integers and f8E4M3FN.
func.func @main(%x: tensor<4xf32>, %s: tensor<f32>) -> tensor<4xf16> {
  // expected-error @+1 {{'qopt.quantize' op quantizes to 'f16', which the runtime lacks (4-, 8- and 16-bit integers and f8E4M3FN only)}}
  %0 = qopt.quantize %x, %s {storage_type = f16} : (tensor<4xf32>, tensor<f32>) -> tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

// QuantizeLinear per axis: opcode 62 with axis, block size, saturate and the storage dtype (int8 = 3).
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[OP:.*]] = llvm.mlir.constant(62 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]],
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{[0-9]+}}(dense<[1, 0, 1, 3]> : tensor<4xi64>)
func.func @main(%x: tensor<2x4xf32>, %s: tensor<4xf32>, %z: tensor<4xi8>) -> tensor<2x4xi8> {
  %0 = qopt.quantize %x, %s, %z {axis = -1 : i64, storage_type = i8} : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xi8>) -> tensor<2x4xi8>
  return %0 : tensor<2x4xi8>
}

// -----

// A quantized matmul is one QuantMatMul call (opcode 60) whose absent zero points and second-level
// scales are null operands; its integer attributes are codebook, bits, group, symmetric, the
// scale dtype (f16 = 10), the double-quantization block, K, int8 activations (0 = no), the static
// activation scale's bits (0 = none) and the codes' layout (0 = rows). Its f16 scales are weights.
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[F16:.*]] = llvm.mlir.constant(10 : i64) : i64
// CHECK: llvm.call @qopt_rt_weight(%{{.*}}, %[[F16]],
// CHECK: %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK: llvm.store %[[NULL]]
// CHECK: %[[OP:.*]] = llvm.mlir.constant(60 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]],
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{[0-9]+}}(dense<[0, 4, 32, 1, 10, 0, 64, 0, 0, 0]> : tensor<10xi64>)
func.func @main(%x: tensor<1x64xf32>) -> tensor<1x8xf32> {
  %codes = arith.constant dense<17> : tensor<8x32xui8>
  %scales = arith.constant dense<1.0> : tensor<8x2xf16>
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 64 : i64, scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>}
       : (tensor<1x64xf32>, tensor<8x32xui8>, tensor<8x2xf16>) -> tensor<1x8xf32>
  return %0 : tensor<1x8xf32>
}

// -----

// bf16 activations are the activation mode 2 (KernelABI.h: kActivationsBf16).
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{[0-9]+}}(dense<[0, 4, 32, 1, 10, 0, 64, 2, 0, 0]> : tensor<10xi64>)
func.func @main(%x: tensor<1x64xf32>) -> tensor<1x8xf32> {
  %codes = arith.constant dense<17> : tensor<8x32xui8>
  %scales = arith.constant dense<1.0> : tensor<8x2xf16>
  %0 = qopt.quantized_matmul %x, %codes, %scales {bf16_activations, in_features = 64 : i64, scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>}
       : (tensor<1x64xf32>, tensor<8x32xui8>, tensor<8x2xf16>) -> tensor<1x8xf32>
  return %0 : tensor<1x8xf32>
}

// -----

// A fused op calls its generated kernel through the runtime: opcode FusedElementwise (74), the
// kernel's address first among the operands, then the inputs; its rank and output dtype (f32: 1)
// are the attributes.
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[X:.*]] = llvm.call @qopt_rt_input
// CHECK: %[[FN:.*]] = llvm.mlir.addressof @qopt_kernel_0 : !llvm.ptr
// CHECK: llvm.store %[[FN]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: llvm.store %[[X]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: %[[OP:.*]] = llvm.mlir.constant(74 : i64) : i64
// CHECK: %[[TWO:.*]] = llvm.mlir.constant(2 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]], %{{.*}}, %[[TWO]],
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{.*}}(dense<[2, 1]> : tensor<2xi64>)
llvm.func internal @qopt_kernel_0(%operands: !llvm.ptr) {
  llvm.return
}
func.func @main(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = qopt.fused_elementwise(%x) {kernel = @qopt_kernel_0} : (tensor<?x4xf32>) -> tensor<?x4xf32> {
  ^bb0(%a: f32):
    %n = arith.negf %a : f32
    qopt.yield %n : f32
  }
  return %0 : tensor<?x4xf32>
}

// -----

func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{has no kernel; run qopt-outline-fused-kernels and qopt-lower-kernels-to-llvm first}}
  %0 = qopt.fused_elementwise(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: f32):
    qopt.yield %a : f32
  }
  return %0 : tensor<4xf32>
}

// -----

func.func private @qopt_kernel_0(!llvm.ptr)
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{names kernel @qopt_kernel_0, which is not an LLVM function; run qopt-lower-kernels-to-llvm}}
  %0 = qopt.fused_elementwise(%x) {kernel = @qopt_kernel_0} : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: f32):
    qopt.yield %a : f32
  }
  return %0 : tensor<4xf32>
}

// -----

// A packed product calls its generated kernel: opcode FusedMatMul (76), the kernel's address,
// then the input, the packed weight (a constant of the weights file) and the epilogue input; K,
// N and the panel width are the attributes.
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[X:.*]] = llvm.call @qopt_rt_input(%{{.*}}, %{{.*}}) : (!llvm.ptr, i64) -> !llvm.ptr
// CHECK: %[[B:.*]] = llvm.call @qopt_rt_input
// CHECK: %[[W:.*]] = llvm.call @qopt_rt_weight
// CHECK: %[[FN:.*]] = llvm.mlir.addressof @qopt_kernel_0 : !llvm.ptr
// CHECK: llvm.store %[[FN]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: llvm.store %[[X]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: llvm.store %[[W]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: llvm.store %[[B]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: %[[OP:.*]] = llvm.mlir.constant(76 : i64) : i64
// CHECK: %[[FOUR:.*]] = llvm.mlir.constant(4 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]], %{{.*}}, %[[FOUR]],
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{.*}}(dense<[3, 5, 4]> : tensor<3xi64>)
llvm.func internal @qopt_kernel_0(%operands: !llvm.ptr) {
  llvm.return
}
func.func @main(%x: tensor<?x3xf32>, %b: tensor<5xf32>) -> tensor<?x5xf32> {
  %w = arith.constant dense<1.0> : tensor<2x3x4xf32>
  %0 = qopt.fused_matmul(%x, %w, %b) {kernel = @qopt_kernel_0, n = 5 : i64, panel = 4 : i64} : (tensor<?x3xf32>, tensor<2x3x4xf32>, tensor<5xf32>) -> tensor<?x5xf32> {
  ^bb0(%acc: f32, %c: f32):
    %s = arith.addf %acc, %c : f32
    qopt.yield %s : f32
  }
  return %0 : tensor<?x5xf32>
}

// -----

func.func @main(%x: tensor<?x3xf32>) -> tensor<?x5xf32> {
  %w = arith.constant dense<1.0> : tensor<2x3x4xf32>
  // expected-error @+1 {{has no kernel; run qopt-outline-fused-kernels and qopt-lower-kernels-to-llvm first}}
  %0 = qopt.fused_matmul(%x, %w) {n = 5 : i64, panel = 4 : i64} : (tensor<?x3xf32>, tensor<2x3x4xf32>) -> tensor<?x5xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  return %0 : tensor<?x5xf32>
}

// -----

// A norm with a generated row kernel calls opcode RowKernel (77) with the kernel's address, the
// input, the scale and the bias; its attribute is where the reduced dims start (axis 1 of 3).
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[FN:.*]] = llvm.mlir.addressof @qopt_kernel_0 : !llvm.ptr
// CHECK: llvm.store %[[FN]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: %[[OP:.*]] = llvm.mlir.constant(77 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]],
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{.*}}(dense<1> : tensor<1xi64>)
llvm.func internal @qopt_kernel_0(%operands: !llvm.ptr) {
  llvm.return
}
func.func @main(%x: tensor<2x3x4xf32>, %g: tensor<3x4xf32>, %b: tensor<3x4xf32>) -> tensor<2x3x4xf32> {
  %0 = qopt.layer_norm %x, %g, %b {axis = 1 : i64, qopt.kernel = @qopt_kernel_0} : (tensor<2x3x4xf32>, tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<2x3x4xf32>
  return %0 : tensor<2x3x4xf32>
}

// -----

// A lookup in packed panels: opcode PanelGather (78), the panels and the indices; N as attribute.
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[OP:.*]] = llvm.mlir.constant(78 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]],
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{.*}}(dense<5> : tensor<1xi64>)
func.func @main(%ids: tensor<3xi64>) -> tensor<3x3xf32> {
  %p = arith.constant dense<1.0> : tensor<2x3x4xf32>
  %0 = qopt.panel_gather %p, %ids {n = 5 : i64} : (tensor<2x3x4xf32>, tensor<3xi64>) -> tensor<3x3xf32>
  return %0 : tensor<3x3xf32>
}

// -----

// A product of two activations with a generated kernel: opcode MatMulKernel (79), the kernel's
// address, then both operands.
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[FN:.*]] = llvm.mlir.addressof @qopt_kernel_0 : !llvm.ptr
// CHECK: llvm.store %[[FN]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: %[[OP:.*]] = llvm.mlir.constant(79 : i64) : i64
// CHECK: %[[THREE:.*]] = llvm.mlir.constant(3 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]], %{{.*}}, %[[THREE]],
llvm.func internal @qopt_kernel_0(%operands: !llvm.ptr) {
  llvm.return
}
func.func @main(%a: tensor<2x3x4xf32>, %b: tensor<2x4x5xf32>) -> tensor<2x3x5xf32> {
  %0 = qopt.matmul %a, %b {qopt.kernel = @qopt_kernel_0} : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x5xf32>
  return %0 : tensor<2x3x5xf32>
}

// -----

// A product with a generated kernel reads its rhs row-major: a 2-D transpose feeding it is run
// (Transpose = 44) rather than folded into a transpose flag, and the product (79) has no attributes.
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[T:.*]] = llvm.mlir.constant(44 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[T]],
// CHECK: %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK: %[[OP:.*]] = llvm.mlir.constant(79 : i64) : i64
// CHECK: %[[NONE:.*]] = llvm.mlir.constant(0 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[NULL]], %[[NONE]],
llvm.func internal @qopt_kernel_0(%operands: !llvm.ptr) {
  llvm.return
}
func.func @main(%a: tensor<7x33xf32>, %b: tensor<20x33xf32>) -> tensor<7x20xf32> {
  %t = qopt.transpose %b {perm = array<i64: 1, 0>} : tensor<20x33xf32> -> tensor<33x20xf32>
  %0 = qopt.matmul %a, %t {qopt.kernel = @qopt_kernel_0} : (tensor<7x33xf32>, tensor<33x20xf32>) -> tensor<7x20xf32>
  return %0 : tensor<7x20xf32>
}

// -----

// A quantized layer with a generated panel kernel: opcode QuantMatMulKernel (80), the kernel's
// address first; the scheme's attributes, the activation mode (0: f32), the panel width (32) and
// the codes' layout: 1 for channel panels.
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[FN:.*]] = llvm.mlir.addressof @qopt_kernel_0 : !llvm.ptr
// CHECK: llvm.store %[[FN]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: %[[OP:.*]] = llvm.mlir.constant(80 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]],
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{.*}}(dense<[{{.*}}, 0, 32, 1]> : tensor<10xi64>)
llvm.func internal @qopt_kernel_0(%operands: !llvm.ptr) {
  llvm.return
}
func.func @main(%x: tensor<?x256xf32>, %codes: tensor<40x128xui8>, %scales: tensor<40x2xf16>) -> tensor<?x40xf32> {
  %0 = qopt.quantized_matmul %x, %codes, %scales {channel_panels, in_features = 256 : i64, qopt.kernel = @qopt_kernel_0, qopt.kernel_panel = 32 : i64, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>} : (tensor<?x256xf32>, tensor<40x128xui8>, tensor<40x2xf16>) -> tensor<?x40xf32>
  return %0 : tensor<?x40xf32>
}

// -----

// With bf16 activations the kernel stays, and the eighth attribute says so (2, kActivationsBf16).
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[OP:.*]] = llvm.mlir.constant(80 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]],
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{.*}}(dense<[{{.*}}, 2, 32, 0]> : tensor<10xi64>)
llvm.func internal @qopt_kernel_0(%operands: !llvm.ptr) {
  llvm.return
}
func.func @main(%x: tensor<?x256xf32>, %codes: tensor<40x128xui8>, %scales: tensor<40x2xf16>) -> tensor<?x40xf32> {
  %0 = qopt.quantized_matmul %x, %codes, %scales {bf16_activations, in_features = 256 : i64, qopt.kernel = @qopt_kernel_0, qopt.kernel_panel = 32 : i64, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>} : (tensor<?x256xf32>, tensor<40x128xui8>, tensor<40x2xf16>) -> tensor<?x40xf32>
  return %0 : tensor<?x40xf32>
}

// -----

func.func @main(%x: tensor<?x256xf32>, %codes: tensor<40x128xui8>, %scales: tensor<40x2xf16>) -> tensor<?x40xf32> {
  // expected-error @+1 {{has a generated kernel but no qopt.kernel_panel width}}
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 256 : i64, qopt.kernel = @qopt_kernel_0, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>} : (tensor<?x256xf32>, tensor<40x128xui8>, tensor<40x2xf16>) -> tensor<?x40xf32>
  return %0 : tensor<?x40xf32>
}

// -----

// Data movement and reductions with a generated kernel: opcode Generated (81), the kernel's
// address first; the attributes are the op's own opcode (Transpose = 44, ReduceMean = 56), the
// kernel's rank and element bytes, then the op's own attributes (the permutation; keepdims and
// the axes).
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[FN:.*]] = llvm.mlir.addressof @qopt_kernel_0 : !llvm.ptr
// CHECK: llvm.store %[[FN]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK: %[[OP:.*]] = llvm.mlir.constant(81 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]],
// CHECK: %[[OP2:.*]] = llvm.mlir.constant(81 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP2]],
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{.*}}(dense<[44, 3, 4, 1, 2, 0]> : tensor<6xi64>)
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{.*}}(dense<[56, 3, 4, 0, 2]> : tensor<5xi64>)
llvm.func internal @qopt_kernel_0(%operands: !llvm.ptr) {
  llvm.return
}
llvm.func internal @qopt_kernel_1(%operands: !llvm.ptr) {
  llvm.return
}
func.func @main(%x: tensor<2x3x4xf32>) -> (tensor<3x4x2xf32>, tensor<2x3xf32>) {
  %0 = qopt.transpose %x {perm = array<i64: 1, 2, 0>, qopt.kernel = @qopt_kernel_0, qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 3 : i64} : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  %1 = qopt.reduce_mean %x {axes = array<i64: -1>, keepdims = false, qopt.kernel = @qopt_kernel_1, qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 3 : i64} : tensor<2x3x4xf32> -> tensor<2x3xf32>
  return %0, %1 : tensor<3x4x2xf32>, tensor<2x3xf32>
}

// -----

// A generated fill keeps its float attribute (the value), besides opcode ConstantOfShape (49), the
// kernel's rank and bytes, the element type (float32 = 1) and the integer value.
// CHECK-LABEL: llvm.func @qopt_graph(
// CHECK: %[[OP:.*]] = llvm.mlir.constant(81 : i64) : i64
// CHECK: %[[NI:.*]] = llvm.mlir.constant(5 : i64) : i64
// CHECK: %[[NF:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK: llvm.call @qopt_rt_exec(%{{.*}}, %[[OP]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[NI]], %{{.*}}, %[[NF]])
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{.*}}(dense<[49, 1, 4, 1, 0]> : tensor<5xi64>)
// CHECK: llvm.mlir.global private constant @__qopt_attrs_{{.*}}(dense<2.500000e+00> : tensor<1xf64>)
llvm.func internal @qopt_kernel_0(%operands: !llvm.ptr) {
  llvm.return
}
func.func @main(%shape: tensor<2xi64>) -> tensor<?x?xf32> {
  %0 = qopt.constant_of_shape %shape {qopt.kernel = @qopt_kernel_0, qopt.kernel_bytes = 4 : i64, qopt.kernel_rank = 1 : i64, value = dense<2.5> : tensor<1xf32>} : tensor<2xi64> -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{has a generated data kernel without both qopt.kernel_rank and qopt.kernel_bytes}}
  %0 = qopt.transpose %x {perm = array<i64: 1, 0>, qopt.kernel = @qopt_kernel_0, qopt.kernel_rank = 2 : i64} : tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}
