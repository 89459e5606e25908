// RUN: qopt-opt %s | qopt-opt | FileCheck %s
// RUN: qopt-opt %s --mlir-print-op-generic | qopt-opt | FileCheck %s
// Every qopt op and the scheme attribute print and parse back to themselves.

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%x: tensor<2x?xf32>, %b: tensor<?xf32>, %i: tensor<2x?xi64>) -> tensor<2x?xf32> {
  // CHECK: qopt.neg %{{.*}} : tensor<2x?xf32>
  %0 = qopt.neg %x : tensor<2x?xf32>
  // CHECK: qopt.gelu %{{.*}} {approximate = "tanh"} : tensor<2x?xf32>
  %1 = qopt.gelu %0 {approximate = "tanh"} : tensor<2x?xf32>
  // CHECK: qopt.add %{{.*}}, %{{.*}} : (tensor<2x?xf32>, tensor<?xf32>) -> tensor<2x?xf32>
  %2 = qopt.add %1, %b : (tensor<2x?xf32>, tensor<?xf32>) -> tensor<2x?xf32>
  // CHECK: qopt.less %{{.*}}, %{{.*}} : (tensor<2x?xf32>, tensor<2x?xf32>) -> tensor<2x?xi1>
  %3 = qopt.less %2, %x : (tensor<2x?xf32>, tensor<2x?xf32>) -> tensor<2x?xi1>
  // CHECK: qopt.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x?xi1>, tensor<2x?xf32>, tensor<2x?xf32>) -> tensor<2x?xf32>
  %4 = qopt.where %3, %2, %x : (tensor<2x?xi1>, tensor<2x?xf32>, tensor<2x?xf32>) -> tensor<2x?xf32>
  // CHECK: qopt.cast %{{.*}} {to = f32} : tensor<2x?xi64> -> tensor<2x?xf32>
  %5 = qopt.cast %i {to = f32} : tensor<2x?xi64> -> tensor<2x?xf32>
  // CHECK: qopt.silu
  %6 = qopt.silu %5 : tensor<2x?xf32>
  %7 = qopt.mul %4, %6 : (tensor<2x?xf32>, tensor<2x?xf32>) -> tensor<2x?xf32>
  return %7 : tensor<2x?xf32>
}

// CHECK-LABEL: func.func @shapes
func.func @shapes(%x: tensor<1x?x8xf32>, %s: tensor<4xi64>) -> (tensor<?x?x2x4xf32>, tensor<3xi64>) {
  // CHECK: qopt.shape %{{.*}} : tensor<1x?x8xf32> -> tensor<3xi64>
  %0 = qopt.shape %x : tensor<1x?x8xf32> -> tensor<3xi64>
  // CHECK: qopt.reshape %{{.*}}, %{{.*}} : (tensor<1x?x8xf32>, tensor<4xi64>) -> tensor<?x?x2x4xf32>
  %1 = qopt.reshape %x, %s : (tensor<1x?x8xf32>, tensor<4xi64>) -> tensor<?x?x2x4xf32>
  return %1, %0 : tensor<?x?x2x4xf32>, tensor<3xi64>
}

// CHECK-LABEL: func.func @split_slice
func.func @split_slice(%x: tensor<4x12xf32>, %st: tensor<1xi64>, %en: tensor<1xi64>, %ax: tensor<1xi64>) -> (tensor<4x6xf32>, tensor<4x6xf32>, tensor<?x12xf32>) {
  // CHECK: qopt.split %{{.*}} {axis = 1 : i64} : (tensor<4x12xf32>) -> (tensor<4x6xf32>, tensor<4x6xf32>)
  %0:2 = qopt.split %x {axis = 1 : i64} : (tensor<4x12xf32>) -> (tensor<4x6xf32>, tensor<4x6xf32>)
  // CHECK: qopt.slice %{{.*}}, %{{.*}}, %{{.*}} axes %{{.*}} : (tensor<4x12xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x12xf32>
  %1 = qopt.slice %x, %st, %en axes %ax : (tensor<4x12xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x12xf32>
  return %0#0, %0#1, %1 : tensor<4x6xf32>, tensor<4x6xf32>, tensor<?x12xf32>
}

// CHECK-LABEL: func.func @nn
func.func @nn(%x: tensor<2x?x8xf32>, %w: tensor<8x16xf32>, %g: tensor<8xf32>) -> tensor<2x?x16xf32> {
  // CHECK: qopt.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32}
  %0 = qopt.rms_norm %x, %g {epsilon = 1.0e-5 : f32} : (tensor<2x?x8xf32>, tensor<8xf32>) -> tensor<2x?x8xf32>
  // CHECK: qopt.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {axis = 2 : i64}
  %1 = qopt.layer_norm %0, %g, %g {axis = 2 : i64} : (tensor<2x?x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x?x8xf32>
  // CHECK: qopt.reduce_mean %{{.*}} {axes = array<i64: -1>} : tensor<2x?x8xf32> -> tensor<2x?x1xf32>
  %2 = qopt.reduce_mean %1 {axes = array<i64: -1>} : tensor<2x?x8xf32> -> tensor<2x?x1xf32>
  %3 = qopt.sub %1, %2 : (tensor<2x?x8xf32>, tensor<2x?x1xf32>) -> tensor<2x?x8xf32>
  // CHECK: qopt.matmul %{{.*}}, %{{.*}} : (tensor<2x?x8xf32>, tensor<8x16xf32>) -> tensor<2x?x16xf32>
  %4 = qopt.matmul %3, %w : (tensor<2x?x8xf32>, tensor<8x16xf32>) -> tensor<2x?x16xf32>
  // CHECK: qopt.softmax %{{.*}} {axis = 2 : i64} : tensor<2x?x16xf32>
  %5 = qopt.softmax %4 {axis = 2 : i64} : tensor<2x?x16xf32>
  return %5 : tensor<2x?x16xf32>
}

// CHECK-LABEL: func.func @quant
func.func @quant(%x: tensor<1x?x256xf32>, %codes: tensor<64x128xui8>, %scales: tensor<64x2xf16>,
                 %w: tensor<64x256xf32>, %s: tensor<f32>, %zp: tensor<ui8>) -> (tensor<1x?x64xf32>, tensor<64x256xf32>, tensor<1x?x256xf32>) {
  // CHECK: qopt.quantized_matmul %{{.*}}, %{{.*}}, %{{.*}} {in_features = 256 : i64, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>}
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 256 : i64, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>}
       : (tensor<1x?x256xf32>, tensor<64x128xui8>, tensor<64x2xf16>) -> tensor<1x?x64xf32>
  // CHECK: qopt.fake_quant %{{.*}} {scheme = #qopt.scheme<nf4, group = 64, sym, scale = f32, double_quant = 256>} : (tensor<64x256xf32>) -> tensor<64x256xf32>
  %1 = qopt.fake_quant %w {scheme = #qopt.scheme<nf4, group = 64, sym, scale = f32, double_quant = 256>} : (tensor<64x256xf32>) -> tensor<64x256xf32>
  // CHECK: qopt.quantize %{{.*}}, %{{.*}}, %{{.*}} {storage_type = ui8} : (tensor<1x?x256xf32>, tensor<f32>, tensor<ui8>) -> tensor<1x?x256xui8>
  %2 = qopt.quantize %x, %s, %zp {storage_type = ui8} : (tensor<1x?x256xf32>, tensor<f32>, tensor<ui8>) -> tensor<1x?x256xui8>
  // CHECK: qopt.dequantize %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x?x256xui8>, tensor<f32>, tensor<ui8>) -> tensor<1x?x256xf32>
  %3 = qopt.dequantize %2, %s, %zp : (tensor<1x?x256xui8>, tensor<f32>, tensor<ui8>) -> tensor<1x?x256xf32>
  // CHECK: qopt.observe %{{.*}} {name = "act"} : tensor<1x?x256xf32>
  %4 = qopt.observe %3 {name = "act"} : tensor<1x?x256xf32>
  return %0, %1, %4 : tensor<1x?x64xf32>, tensor<64x256xf32>, tensor<1x?x256xf32>
}

// CHECK-LABEL: func.func @schemes
// CHECK-SAME: #qopt.scheme<int3, group = 128, asym, scale = bf16>
// CHECK-SAME: #qopt.scheme<int8, group = channel, sym, scale = f32>
// CHECK-SAME: #qopt.scheme<fp4, group = 32, sym, scale = f16>
// CHECK-SAME: #qopt.scheme<fp8_e4m3, group = channel, sym, scale = f32>
func.func @schemes() attributes {s = [#qopt.scheme<int3, group = 128, asym, scale = bf16>,
                                      #qopt.scheme<int8, group = channel, sym, scale = f32>,
                                      #qopt.scheme<fp4, group = 32, sym, scale = f16>,
                                      #qopt.scheme<fp8_e4m3, group = channel, sym, scale = f32>]} {
  return
}

// CHECK-LABEL: func.func @quantized_gather
// CHECK: qopt.quantized_gather %{{.*}}, %{{.*}} zero_points %{{.*}}, %{{.*}} {row_size = 256 : i64, scheme = #qopt.scheme<int3, group = 128, asym, scale = bf16>} : (tensor<100x96xui8>, tensor<100x2xbf16>, tensor<100x2xui8>, tensor<1x?xi64>) -> tensor<1x?x256xf32>
func.func @quantized_gather(%codes: tensor<100x96xui8>, %scales: tensor<100x2xbf16>, %zp: tensor<100x2xui8>, %ids: tensor<1x?xi64>) -> tensor<1x?x256xf32> {
  %0 = qopt.quantized_gather %codes, %scales zero_points %zp, %ids {row_size = 256 : i64, scheme = #qopt.scheme<int3, group = 128, asym, scale = bf16>}
       : (tensor<100x96xui8>, tensor<100x2xbf16>, tensor<100x2xui8>, tensor<1x?xi64>) -> tensor<1x?x256xf32>
  return %0 : tensor<1x?x256xf32>
}

// CHECK-LABEL: func.func @integer_quantization
func.func @integer_quantization(%x: tensor<2x4xf32>, %w: tensor<4x3xi8>, %wz: tensor<i8>, %s: tensor<f32>, %ys: tensor<f32>, %yz: tensor<ui8>) -> (tensor<2x3xi32>, tensor<2x3xui8>, tensor<2x4xf32>) {
  // CHECK: qopt.dynamic_quantize %{{.*}} : tensor<2x4xf32> -> tensor<2x4xui8>, tensor<f32>, tensor<ui8>
  %q, %qs, %qz = qopt.dynamic_quantize %x : tensor<2x4xf32> -> tensor<2x4xui8>, tensor<f32>, tensor<ui8>
  // CHECK: qopt.matmul_integer %{{.*}}, %{{.*}} a_zero_point %{{.*}} b_zero_point %{{.*}} : (tensor<2x4xui8>, tensor<4x3xi8>, tensor<ui8>, tensor<i8>) -> tensor<2x3xi32>
  %0 = qopt.matmul_integer %q, %w a_zero_point %qz b_zero_point %wz : (tensor<2x4xui8>, tensor<4x3xi8>, tensor<ui8>, tensor<i8>) -> tensor<2x3xi32>
  // CHECK: qopt.qlinear_matmul
  %1 = qopt.qlinear_matmul %q, %qs, %qz, %w, %s, %wz, %ys, %yz : (tensor<2x4xui8>, tensor<f32>, tensor<ui8>, tensor<4x3xi8>, tensor<f32>, tensor<i8>, tensor<f32>, tensor<ui8>) -> tensor<2x3xui8>
  // CHECK: qopt.round %{{.*}} : tensor<2x4xf32>
  %2 = qopt.round %x : tensor<2x4xf32>
  return %0, %1, %2 : tensor<2x3xi32>, tensor<2x3xui8>, tensor<2x4xf32>
}

// CHECK-LABEL: func.func @qlinear_ops
func.func @qlinear_ops(%a: tensor<2x4xui8>, %b: tensor<4xui8>, %s: tensor<f32>, %z: tensor<ui8>, %x: tensor<2x3xf32>, %r: tensor<2xi64>) -> (tensor<2x4xui8>, tensor<2x4xui8>, tensor<2x4xui8>, tensor<2x3xf32>, tensor<4x3xf32>, tensor<f32>) {
  // CHECK: qopt.qlinear_add %{{.*}} : (tensor<2x4xui8>, tensor<f32>, tensor<ui8>, tensor<4xui8>, tensor<f32>, tensor<ui8>, tensor<f32>, tensor<ui8>) -> tensor<2x4xui8>
  %0 = qopt.qlinear_add %a, %s, %z, %b, %s, %z, %s, %z : (tensor<2x4xui8>, tensor<f32>, tensor<ui8>, tensor<4xui8>, tensor<f32>, tensor<ui8>, tensor<f32>, tensor<ui8>) -> tensor<2x4xui8>
  // CHECK: qopt.qlinear_mul
  %1 = qopt.qlinear_mul %a, %s, %z, %b, %s, %z, %s, %z : (tensor<2x4xui8>, tensor<f32>, tensor<ui8>, tensor<4xui8>, tensor<f32>, tensor<ui8>, tensor<f32>, tensor<ui8>) -> tensor<2x4xui8>
  // CHECK: qopt.qlinear_softmax %{{.*}} {axis = -1 : i64} : (tensor<2x4xui8>, tensor<f32>, tensor<f32>, tensor<ui8>) -> tensor<2x4xui8>
  %2 = qopt.qlinear_softmax %a, %s, %s, %z {axis = -1 : i64} : (tensor<2x4xui8>, tensor<f32>, tensor<f32>, tensor<ui8>) -> tensor<2x4xui8>
  // CHECK: qopt.sign %{{.*}} : tensor<2x3xf32>
  %3 = qopt.sign %x : tensor<2x3xf32>
  // CHECK: qopt.tile %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<4x3xf32>
  %4 = qopt.tile %x, %r : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<4x3xf32>
  // CHECK: qopt.reduce_prod %{{.*}} {axes = array<i64>, keepdims = false} : tensor<2x3xf32> -> tensor<f32>
  %5 = qopt.reduce_prod %x {axes = array<i64>, keepdims = false} : tensor<2x3xf32> -> tensor<f32>
  return %0, %1, %2, %3, %4, %5 : tensor<2x4xui8>, tensor<2x4xui8>, tensor<2x4xui8>, tensor<2x3xf32>, tensor<4x3xf32>, tensor<f32>
}

// A fused body round-trips, its kernel reference with it.
// CHECK-LABEL: func.func @fused
// CHECK: qopt.fused_elementwise(%{{.*}}, %{{.*}}) {kernel = @k} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32> {
// CHECK: ^bb0(%[[A:.*]]: f32, %[[B:.*]]: f32):
// CHECK: %[[S:.*]] = arith.addf %[[A]], %[[B]] : f32
// CHECK: %[[E:.*]] = math.exp %[[S]] : f32
// CHECK: qopt.yield %[[E]] : f32
func.func @fused(%x: tensor<?x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  %0 = qopt.fused_elementwise(%x, %b) {kernel = @k} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32> {
  ^bb0(%a: f32, %c: f32):
    %s = arith.addf %a, %c : f32
    %e = math.exp %s : f32
    qopt.yield %e : f32
  }
  return %0 : tensor<?x4xf32>
}

// A packed product with its epilogue and kernel reference round-trips; so does one without an
// epilogue input.
// CHECK-LABEL: func.func @fused_matmul
// CHECK: qopt.fused_matmul(%{{.*}}, %{{.*}}, %{{.*}}) {kernel = @m, n = 40 : i64, panel = 32 : i64} : (tensor<2x?x16xf32>, tensor<2x16x32xf32>, tensor<40xf32>) -> tensor<2x?x40xf32> {
// CHECK: ^bb0(%[[ACC:.*]]: f32, %[[B:.*]]: f32):
// CHECK: %[[S:.*]] = arith.addf %[[ACC]], %[[B]] : f32
// CHECK: qopt.yield %[[S]] : f32
// CHECK: qopt.fused_matmul(%{{.*}}, %{{.*}}) {n = 40 : i64, panel = 32 : i64} : (tensor<16xf32>, tensor<2x16x32xf32>) -> tensor<40xf32>
func.func @fused_matmul(%x: tensor<2x?x16xf32>, %w: tensor<2x16x32xf32>, %b: tensor<40xf32>, %v: tensor<16xf32>) -> (tensor<2x?x40xf32>, tensor<40xf32>) {
  %0 = qopt.fused_matmul(%x, %w, %b) {kernel = @m, n = 40 : i64, panel = 32 : i64} : (tensor<2x?x16xf32>, tensor<2x16x32xf32>, tensor<40xf32>) -> tensor<2x?x40xf32> {
  ^bb0(%acc: f32, %c: f32):
    %s = arith.addf %acc, %c : f32
    qopt.yield %s : f32
  }
  %1 = qopt.fused_matmul(%v, %w) {n = 40 : i64, panel = 32 : i64} : (tensor<16xf32>, tensor<2x16x32xf32>) -> tensor<40xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  return %0, %1 : tensor<2x?x40xf32>, tensor<40xf32>
}

// A lookup in packed panels round-trips.
// CHECK-LABEL: func.func @panel_gather
// CHECK: qopt.panel_gather %{{.*}}, %{{.*}} {n = 50 : i64} : (tensor<2x16x32xf32>, tensor<1x?xi64>) -> tensor<1x?x16xf32>
func.func @panel_gather(%p: tensor<2x16x32xf32>, %ids: tensor<1x?xi64>) -> tensor<1x?x16xf32> {
  %0 = qopt.panel_gather %p, %ids {n = 50 : i64} : (tensor<2x16x32xf32>, tensor<1x?xi64>) -> tensor<1x?x16xf32>
  return %0 : tensor<1x?x16xf32>
}

// CHECK-LABEL: func.func @outliers
func.func @outliers(%x: tensor<1x?x256xf32>, %off: tensor<65xi32>, %cols: tensor<40xi32>, %vals: tensor<40xf16>,
                    %codes: tensor<64x128xui8>, %scales: tensor<64x2xf16>) -> tensor<1x?x64xf32> {
  // CHECK: qopt.quantized_matmul %{{.*}} {activation_scale = 2.500000e-01 : f32, in_features = 256 : i64, int8_activations, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>}
  %0 = qopt.quantized_matmul %x, %codes, %scales {activation_scale = 0.25 : f32, in_features = 256 : i64, int8_activations, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>}
       : (tensor<1x?x256xf32>, tensor<64x128xui8>, tensor<64x2xf16>) -> tensor<1x?x64xf32>
  // CHECK: qopt.sparse_matmul %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {in_features = 256 : i64} : (tensor<1x?x256xf32>, tensor<65xi32>, tensor<40xi32>, tensor<40xf16>) -> tensor<1x?x64xf32>
  %1 = qopt.sparse_matmul %x, %off, %cols, %vals {in_features = 256 : i64} : (tensor<1x?x256xf32>, tensor<65xi32>, tensor<40xi32>, tensor<40xf16>) -> tensor<1x?x64xf32>
  %2 = qopt.add %0, %1 : (tensor<1x?x64xf32>, tensor<1x?x64xf32>) -> tensor<1x?x64xf32>
  return %2 : tensor<1x?x64xf32>
}

// CHECK-LABEL: func.func @fake_quant_forms
// CHECK: qopt.fake_quant %{{.*}} scales %{{.*}} zero_points %{{.*}} {scheme = #qopt.scheme<int3, group = 4, asym, scale = f16>} : (tensor<8x6xf32>, tensor<8x2xf32>, tensor<8x2xui8>) -> tensor<8x6xf32>
// CHECK: qopt.fake_quant %{{.*}} {dynamic, scheme = #qopt.scheme<int8, group = 4, sym, scale = f32>} : (tensor<1x?x6xf32>) -> tensor<1x?x6xf32>
func.func @fake_quant_forms(%w: tensor<8x6xf32>, %s: tensor<8x2xf32>, %z: tensor<8x2xui8>, %x: tensor<1x?x6xf32>) -> (tensor<8x6xf32>, tensor<1x?x6xf32>) {
  %0 = qopt.fake_quant %w scales %s zero_points %z {scheme = #qopt.scheme<int3, group = 4, asym, scale = f16>} : (tensor<8x6xf32>, tensor<8x2xf32>, tensor<8x2xui8>) -> tensor<8x6xf32>
  %1 = qopt.fake_quant %x {dynamic, scheme = #qopt.scheme<int8, group = 4, sym, scale = f32>} : (tensor<1x?x6xf32>) -> tensor<1x?x6xf32>
  return %0, %1 : tensor<8x6xf32>, tensor<1x?x6xf32>
}
