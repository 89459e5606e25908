// RUN: qopt-opt --qopt-fold-constant-quantize %s | FileCheck %s
// The codes' resource names do not depend on threads: the pass runs on the module, in order.
// RUN: qopt-opt --qopt-fold-constant-quantize --mlir-disable-threading %s > %t.serial
// RUN: qopt-opt --qopt-fold-constant-quantize %s > %t.threads
// RUN: diff %t.serial %t.threads

// Blocked int4 along K (blocks of 2): ONNX rounds the quotient half to even (-2.5 → -2, 0.5 → 0,
// -1.5 → -2) and saturates to the storage type (200 → 7, -400 → -8).
// CHECK-LABEL: func.func @blocked
// CHECK-NOT: qopt.quantize
// CHECK: %[[C:.*]] = arith.constant dense_resource<quantized_weight> : tensor<2x4xi4>
// CHECK: qopt.dequantize %[[C]], %{{.*}}, %{{.*}} {block_size = 2 : i64}
func.func @blocked(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w = arith.constant dense<[[1.0, -2.5, 3.5, 100.0], [0.25, -0.75, 0.5, -100.0]]> : tensor<2x4xf32>
  %s = arith.constant dense<[[1.0, 0.5], [0.5, 0.25]]> : tensor<2x2xf32>
  %z = arith.constant dense<0> : tensor<2x2xi4>
  %q = qopt.quantize %w, %s, %z {axis = 1 : i64, block_size = 2 : i64, storage_type = i4} : (tensor<2x4xf32>, tensor<2x2xf32>, tensor<2x2xi4>) -> tensor<2x4xi4>
  %d = qopt.dequantize %q, %s, %z {axis = 1 : i64, block_size = 2 : i64} : (tensor<2x4xi4>, tensor<2x2xf32>, tensor<2x2xi4>) -> tensor<2x4xf32>
  return %d : tensor<2x4xf32>
}

// Per axis, uint8 with zero points, then a Clip of the codes to [0, 7] (a 3-bit grid in an
// 8-bit type): the bounds fold in too.
// CHECK-LABEL: func.func @clipped
// CHECK-NOT: qopt.quantize
// CHECK-NOT: qopt.max
// CHECK-NOT: qopt.min
// CHECK: %[[C:.*]] = arith.constant dense_resource<quantized_weight_1> : tensor<2x4xui8>
// CHECK: qopt.dequantize %[[C]], %{{.*}}, %{{.*}} {axis = 0 : i64}
func.func @clipped(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w = arith.constant dense<[[1.0, -2.5, 3.5, 100.0], [0.25, -0.75, 0.5, -100.0]]> : tensor<2x4xf32>
  %s = arith.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %z = arith.constant dense<[4, 3]> : tensor<2xui8>
  %lo = arith.constant dense<0> : tensor<ui8>
  %hi = arith.constant dense<7> : tensor<ui8>
  %q = qopt.quantize %w, %s, %z {axis = 0 : i64, storage_type = ui8} : (tensor<2x4xf32>, tensor<2xf32>, tensor<2xui8>) -> tensor<2x4xui8>
  %c0 = qopt.max %q, %lo : (tensor<2x4xui8>, tensor<ui8>) -> tensor<2x4xui8>
  %c1 = qopt.min %c0, %hi : (tensor<2x4xui8>, tensor<ui8>) -> tensor<2x4xui8>
  %d = qopt.dequantize %c1, %s, %z {axis = 0 : i64} : (tensor<2x4xui8>, tensor<2xf32>, tensor<2xui8>) -> tensor<2x4xf32>
  return %d : tensor<2x4xf32>
}

// Activations are quantized at run time: left alone.
// CHECK-LABEL: func.func @not_constant
// CHECK: qopt.quantize %arg0
func.func @not_constant(%x: tensor<2x4xf32>) -> tensor<2x4xi8> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %q = qopt.quantize %x, %s {storage_type = i8} : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xi8>
  return %q : tensor<2x4xi8>
}

// A NaN weight takes the zero point (3); 1.0 / 0.5 + 3 = 5.
// CHECK-LABEL: func.func @nan
// CHECK: dense_resource<quantized_weight_2> : tensor<1x2xi8>
func.func @nan() -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0x7FC00000, 1.0]]> : tensor<1x2xf32>
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i8>
  %q = qopt.quantize %w, %s, %z {storage_type = i8} : (tensor<1x2xf32>, tensor<f32>, tensor<i8>) -> tensor<1x2xi8>
  %d = qopt.dequantize %q, %s, %z : (tensor<1x2xi8>, tensor<f32>, tensor<i8>) -> tensor<1x2xf32>
  return %d : tensor<1x2xf32>
}

// CHECK: quantized_weight: "0x0800000001FE070700FE02F8"
// CHECK: quantized_weight_1: "0x080000000600070704000500"
// CHECK: quantized_weight_2: "0x080000000305"
