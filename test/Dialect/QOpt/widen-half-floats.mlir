// RUN: qopt-opt %s --split-input-file --qopt-widen-half-floats | FileCheck %s

// An f16 graph computes in f32: the input is cast where it enters, weights become f32 (a large
// one a resource blob), casts to f16 inside become casts to f32, an f16 fill an f32 fill, and
// the result is cast back to f16 where it leaves.
// CHECK-LABEL: func.func @main(%arg0: tensor<2x20xf16>, %arg1: tensor<2xi64>) -> (tensor<2x20xf16>, tensor<?x?xf16>)
// CHECK: %[[X:.*]] = qopt.cast %arg0 {to = f32} : tensor<2x20xf16> -> tensor<2x20xf32>
// CHECK: %[[W:.*]] = arith.constant dense<5.000000e-01> : tensor<f32>
// CHECK: %[[M:.*]] = qopt.mul %[[X]], %[[W]] : (tensor<2x20xf32>, tensor<f32>) -> tensor<2x20xf32>
// CHECK: %[[BIG:.*]] = arith.constant dense_resource<{{.*}}.f32{{.*}}> : tensor<2x20xf32>
// CHECK: %[[A:.*]] = qopt.add %[[M]], %[[BIG]] : (tensor<2x20xf32>, tensor<2x20xf32>) -> tensor<2x20xf32>
// CHECK: %[[C:.*]] = qopt.cast %[[A]] {to = f32} : tensor<2x20xf32> -> tensor<2x20xf32>
// CHECK: %[[F:.*]] = qopt.constant_of_shape %arg1 {value = dense<2.500000e-01> : tensor<1xf32>} : tensor<2xi64> -> tensor<?x?xf32>
// CHECK: %[[O1:.*]] = qopt.cast %[[C]] {to = f16} : tensor<2x20xf32> -> tensor<2x20xf16>
// CHECK: %[[O2:.*]] = qopt.cast %[[F]] {to = f16} : tensor<?x?xf32> -> tensor<?x?xf16>
// CHECK: return %[[O1]], %[[O2]]
// The large weight's f32 values (1.0 = 0x3F800000, after the blob's alignment word).
// CHECK: widened.f32{{.*}}: "0x400000000000803F0000803F
func.func @main(%x: tensor<2x20xf16>, %shape: tensor<2xi64>) -> (tensor<2x20xf16>, tensor<?x?xf16>) {
  %w = arith.constant dense<0.5> : tensor<f16>
  %m = qopt.mul %x, %w : (tensor<2x20xf16>, tensor<f16>) -> tensor<2x20xf16>
  %big = arith.constant dense<1.0> : tensor<2x20xf16>
  %a = qopt.add %m, %big : (tensor<2x20xf16>, tensor<2x20xf16>) -> tensor<2x20xf16>
  %c = qopt.cast %a {to = f16} : tensor<2x20xf16> -> tensor<2x20xf16>
  %f = qopt.constant_of_shape %shape {value = dense<0.25> : tensor<1xf16>} : tensor<2xi64> -> tensor<?x?xf16>
  return %c, %f : tensor<2x20xf16>, tensor<?x?xf16>
}

// -----

// A graph whose quantization ops take f16 scales keeps its types: those kernels read the scales
// as stored. An f32 graph is left alone.
// CHECK-LABEL: func.func @quantized
// CHECK-NOT: {to = f32}
// CHECK: qopt.dequantize %arg0, %arg1, %arg2 {{.*}} -> tensor<4xf16>
func.func @quantized(%q: tensor<4xi8>, %s: tensor<f16>, %z: tensor<i8>) -> tensor<4xf16> {
  %0 = qopt.dequantize %q, %s, %z : (tensor<4xi8>, tensor<f16>, tensor<i8>) -> tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

// CHECK-LABEL: func.func @single
// CHECK-NOT: qopt.cast
func.func @single(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = qopt.exp %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
