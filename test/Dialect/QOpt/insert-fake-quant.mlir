// RUN: qopt-opt --qopt-insert-fake-quant %s | FileCheck %s

// The latent weight holds what the codes stand for: row 0 (scale 0.5) codes 11, 10, 0, 7 less
// the implied zero point 8; row 1 (scale -0.25) codes 8, 0, 0, 15. Scales are decoded to f32.
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x4xf32>)
// CHECK-DAG: %[[W:.*]] = arith.constant dense_resource<weight.latent> : tensor<2x4xf32>
// CHECK-DAG: %[[S:.*]] = arith.constant dense_resource<weight.scales_f32> : tensor<2x1xf32>
// CHECK: %[[FQ:.*]] = qopt.fake_quant %[[W]] scales %[[S]] {scheme = #qopt.scheme<int4, group = 4, sym, scale = f16>} : (tensor<2x4xf32>, tensor<2x1xf32>) -> tensor<2x4xf32>
// CHECK: %[[T:.*]] = qopt.transpose %[[FQ]] {perm = array<i64: 1, 0>} : tensor<2x4xf32> -> tensor<4x2xf32>
// CHECK: %[[Y:.*]] = qopt.matmul %[[X]], %[[T]]
// CHECK-NOT: quantized_matmul
// CHECK: return %[[Y]]
func.func @linear(%x: tensor<1x?x4xf32>) -> tensor<1x?x2xf32> {
  %codes = arith.constant dense<[[0xAB, 0x70], [0x08, 0xF0]]> : tensor<2x2xui8>
  %scales = arith.constant dense<[[0.5], [-0.25]]> : tensor<2x1xf16>
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 4 : i64, scheme = #qopt.scheme<int4, group = 4, sym, scale = f16>} : (tensor<1x?x4xf32>, tensor<2x2xui8>, tensor<2x1xf16>) -> tensor<1x?x2xf32>
  return %0 : tensor<1x?x2xf32>
}

// Asymmetric grids keep their zero points; a static int8 input scale becomes QuantizeLinear →
// DequantizeLinear of the input (i8, zero point 0).
// CHECK-LABEL: func.func @asym_static_int8
// CHECK: qopt.fake_quant %{{.*}} scales %{{.*}} zero_points %{{.*}} {scheme = #qopt.scheme<int4, group = 4, asym, scale = f32>} : (tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x1xui8>) -> tensor<2x4xf32>
// CHECK-DAG: %[[AS:.*]] = arith.constant dense<1.250000e-01> : tensor<f32>
// CHECK-DAG: %[[AZ:.*]] = arith.constant dense<0> : tensor<i8>
// CHECK: %[[Q:.*]] = qopt.quantize %{{.*}}, %[[AS]], %[[AZ]] {storage_type = i8}
// CHECK: %[[DQ:.*]] = qopt.dequantize %[[Q]], %[[AS]], %[[AZ]] :
// CHECK: qopt.matmul %[[DQ]], %{{.*}}
func.func @asym_static_int8(%x: tensor<1x?x4xf32>) -> tensor<1x?x2xf32> {
  %codes = arith.constant dense<[[0x21, 0x43], [0x65, 0x87]]> : tensor<2x2xui8>
  %scales = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf32>
  %zeros = arith.constant dense<[[3], [5]]> : tensor<2x1xui8>
  %0 = qopt.quantized_matmul %x, %codes, %scales zero_points %zeros {in_features = 4 : i64, scheme = #qopt.scheme<int4, group = 4, asym, scale = f32>, int8_activations, activation_scale = 0.125 : f32} : (tensor<1x?x4xf32>, tensor<2x2xui8>, tensor<2x1xf32>, tensor<2x1xui8>) -> tensor<1x?x2xf32>
  return %0 : tensor<1x?x2xf32>
}

// Run-time int8 activations: a dynamic fake-quant per group of the weight's scheme.
// CHECK-LABEL: func.func @dynamic_int8
// CHECK: %[[A:.*]] = qopt.fake_quant %{{.*}} {dynamic, scheme = #qopt.scheme<int8, group = 4, sym, scale = f32>} : (tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
// CHECK: qopt.matmul %[[A]], %{{.*}}
func.func @dynamic_int8(%x: tensor<1x?x4xf32>) -> tensor<1x?x2xf32> {
  %codes = arith.constant dense<[[0xAB, 0x70], [0x08, 0xF0]]> : tensor<2x2xui8>
  %scales = arith.constant dense<[[0.5], [-0.25]]> : tensor<2x1xf16>
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 4 : i64, scheme = #qopt.scheme<int4, group = 4, sym, scale = f16>, int8_activations} : (tensor<1x?x4xf32>, tensor<2x2xui8>, tensor<2x1xf16>) -> tensor<1x?x2xf32>
  return %0 : tensor<1x?x2xf32>
}

// A quantized embedding table becomes a gather from the fake-quant table.
// CHECK-LABEL: func.func @embedding
// CHECK: %[[E:.*]] = qopt.fake_quant %{{.*}} scales %{{.*}} {scheme = #qopt.scheme<int8, group = channel, sym, scale = f32>} : (tensor<3x2xf32>, tensor<3x1xf32>) -> tensor<3x2xf32>
// CHECK: qopt.gather %[[E]], %{{.*}} :
func.func @embedding(%ids: tensor<1x?xi64>) -> tensor<1x?x2xf32> {
  %codes = arith.constant dense<[[128, 129], [130, 127], [0, 255]]> : tensor<3x2xui8>
  %scales = arith.constant dense<[[1.0], [2.0], [0.5]]> : tensor<3x1xf32>
  %0 = qopt.quantized_gather %codes, %scales, %ids {row_size = 2 : i64, scheme = #qopt.scheme<int8, group = channel, sym, scale = f32>} : (tensor<3x2xui8>, tensor<3x1xf32>, tensor<1x?xi64>) -> tensor<1x?x2xf32>
  return %0 : tensor<1x?x2xf32>
}

// A layer whose f32 weight only carries a scheme gets round-to-nearest fake-quant (no scales):
// the [K, N] weight is read as [N, K] rows and handed back in its own layout.
// CHECK-LABEL: func.func @marked
// CHECK: %[[W:.*]] = arith.constant dense<{{.*}}> : tensor<4x2xf32>
// CHECK: %[[R:.*]] = qopt.transpose %[[W]] {perm = array<i64: 1, 0>} : tensor<4x2xf32> -> tensor<2x4xf32>
// CHECK: %[[F:.*]] = qopt.fake_quant %[[R]] {scheme = #qopt.scheme<int4, group = 4, sym, scale = f16>} : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK: %[[B:.*]] = qopt.transpose %[[F]] {perm = array<i64: 1, 0>} : tensor<2x4xf32> -> tensor<4x2xf32>
// CHECK: qopt.matmul %{{.*}}, %[[B]]
// CHECK-NOT: qopt.scheme =
func.func @marked(%x: tensor<1x?x4xf32>) -> tensor<1x?x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]> : tensor<4x2xf32>
  %0 = qopt.matmul %x, %w {qopt.scheme = #qopt.scheme<int4, group = 4, sym, scale = f16>} : (tensor<1x?x4xf32>, tensor<4x2xf32>) -> tensor<1x?x2xf32>
  return %0 : tensor<1x?x2xf32>
}


// Two layers reading one transposed weight: the transpose reads one fake-quant.
// CHECK-LABEL: func.func @shared_transpose
// CHECK: %[[F:.*]] = qopt.fake_quant
// CHECK-NOT: qopt.fake_quant
// CHECK: qopt.transpose %[[F]]
func.func @shared_transpose(%x: tensor<1x?x4xf32>) -> (tensor<1x?x2xf32>, tensor<1x?x2xf32>) {
  %w = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %t = qopt.transpose %w {perm = array<i64: 1, 0>} : tensor<2x4xf32> -> tensor<4x2xf32>
  %0 = qopt.matmul %x, %t {qopt.scheme = #qopt.scheme<int4, group = 4, sym, scale = f16>} : (tensor<1x?x4xf32>, tensor<4x2xf32>) -> tensor<1x?x2xf32>
  %1 = qopt.matmul %x, %t {qopt.scheme = #qopt.scheme<int4, group = 4, sym, scale = f16>} : (tensor<1x?x4xf32>, tensor<4x2xf32>) -> tensor<1x?x2xf32>
  return %0, %1 : tensor<1x?x2xf32>, tensor<1x?x2xf32>
}

// CHECK: weight.latent: "0x400000000000C03F0000803F000080C0000000BF0000008000000040000000400000E0BF"
// CHECK: weight.scales_f32: "0x400000000000003F000080BE"
