// RUN: qopt-opt %s --split-input-file --qopt-fuse-qdq | FileCheck %s

// Dequantize → add → quantize with per-tensor uint8 operands becomes one qlinear_add; the
// dequantizes go with it.
// CHECK-LABEL: func.func @add
// CHECK-SAME: (%[[A:.*]]: tensor<1x4xui8>, %[[B:.*]]: tensor<1x4xui8>, %[[S:.*]]: tensor<f32>, %[[Z:.*]]: tensor<ui8>)
// CHECK-NEXT: %[[C:.*]] = qopt.qlinear_add %[[A]], %[[S]], %[[Z]], %[[B]], %[[S]], %[[Z]], %[[S]], %[[Z]]
// CHECK-NEXT: return %[[C]]
func.func @add(%a: tensor<1x4xui8>, %b: tensor<1x4xui8>, %s: tensor<f32>, %z: tensor<ui8>) -> tensor<1x4xui8> {
  %da = qopt.dequantize %a, %s, %z : (tensor<1x4xui8>, tensor<f32>, tensor<ui8>) -> tensor<1x4xf32>
  %db = qopt.dequantize %b, %s, %z : (tensor<1x4xui8>, tensor<f32>, tensor<ui8>) -> tensor<1x4xf32>
  %c = qopt.add %da, %db : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  %q = qopt.quantize %c, %s, %z {storage_type = ui8} : (tensor<1x4xf32>, tensor<f32>, tensor<ui8>) -> tensor<1x4xui8>
  return %q : tensor<1x4xui8>
}

// -----

// Mul without zero points (uint8): zeros are materialized; a dequantize that also feeds another op
// stays for it.
// CHECK-LABEL: func.func @mul_shared
// CHECK: %[[DA:.*]] = qopt.dequantize %arg0
// CHECK: %[[Z:.*]] = arith.constant dense<0> : tensor<ui8>
// CHECK: %[[Q:.*]] = qopt.qlinear_mul %arg0, %arg2, %[[Z]], %arg1, %arg2,
// CHECK: return %[[Q]], %[[DA]]
func.func @mul_shared(%a: tensor<4xui8>, %b: tensor<4xui8>, %s: tensor<f32>) -> (tensor<4xui8>, tensor<4xf32>) {
  %da = qopt.dequantize %a, %s : (tensor<4xui8>, tensor<f32>) -> tensor<4xf32>
  %db = qopt.dequantize %b, %s : (tensor<4xui8>, tensor<f32>) -> tensor<4xf32>
  %c = qopt.mul %da, %db : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %q = qopt.quantize %c, %s {storage_type = ui8} : (tensor<4xf32>, tensor<f32>) -> tensor<4xui8>
  return %q, %da : tensor<4xui8>, tensor<4xf32>
}

// -----

// MatMul with a per-column int8 weight; the softmax after it becomes qlinear_softmax.
// CHECK-LABEL: func.func @matmul_softmax
// CHECK: %[[W:.*]] = arith.constant dense<3> : tensor<4x3xi8>
// CHECK: %[[M:.*]] = qopt.qlinear_matmul %arg0, %arg1, %arg2, %[[W]], %arg3, %arg4, %arg1, %arg2 : {{.*}} -> tensor<2x3xui8>
// CHECK: qopt.qlinear_softmax %[[M]], %arg1, %arg1, %arg2 {axis = -1 : i64}
// CHECK-NOT: qopt.dequantize
func.func @matmul_softmax(%a: tensor<2x4xui8>, %s: tensor<f32>, %z: tensor<ui8>, %ws: tensor<3xf32>, %wz: tensor<3xi8>) -> tensor<2x3xui8> {
  %w = arith.constant dense<3> : tensor<4x3xi8>
  %da = qopt.dequantize %a, %s, %z : (tensor<2x4xui8>, tensor<f32>, tensor<ui8>) -> tensor<2x4xf32>
  %dw = qopt.dequantize %w, %ws, %wz {axis = 1 : i64} : (tensor<4x3xi8>, tensor<3xf32>, tensor<3xi8>) -> tensor<4x3xf32>
  %m = qopt.matmul %da, %dw : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  %q = qopt.quantize %m, %s, %z {storage_type = ui8} : (tensor<2x3xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x3xui8>
  %d = qopt.dequantize %q, %s, %z : (tensor<2x3xui8>, tensor<f32>, tensor<ui8>) -> tensor<2x3xf32>
  %sm = qopt.softmax %d {axis = -1 : i64} : tensor<2x3xf32>
  %q2 = qopt.quantize %sm, %s, %z {storage_type = ui8} : (tensor<2x3xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x3xui8>
  return %q2 : tensor<2x3xui8>
}

// -----

// Left alone: a float op with another user, a per-axis activation, and a blocked weight.
// CHECK-LABEL: func.func @not_fused
// CHECK-COUNT-3: qopt.quantize
// CHECK-NOT: qopt.qlinear
func.func @not_fused(%a: tensor<2x4xui8>, %s: tensor<f32>, %z: tensor<ui8>, %s2: tensor<2xf32>, %z2: tensor<2xui8>, %w: tensor<4x3xi8>, %ws: tensor<2x3xf32>) -> (tensor<2x4xui8>, tensor<2x4xf32>, tensor<2x4xui8>, tensor<2x3xui8>) {
  %da = qopt.dequantize %a, %s, %z : (tensor<2x4xui8>, tensor<f32>, tensor<ui8>) -> tensor<2x4xf32>
  %c = qopt.add %da, %da : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %q = qopt.quantize %c, %s, %z {storage_type = ui8} : (tensor<2x4xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x4xui8>
  %dp = qopt.dequantize %a, %s2, %z2 {axis = 0 : i64} : (tensor<2x4xui8>, tensor<2xf32>, tensor<2xui8>) -> tensor<2x4xf32>
  %c2 = qopt.mul %dp, %da : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %q2 = qopt.quantize %c2, %s, %z {storage_type = ui8} : (tensor<2x4xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x4xui8>
  %dw = qopt.dequantize %w, %ws {axis = 0 : i64, block_size = 2 : i64} : (tensor<4x3xi8>, tensor<2x3xf32>) -> tensor<4x3xf32>
  %m = qopt.matmul %da, %dw : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  %q3 = qopt.quantize %m, %s, %z {storage_type = ui8} : (tensor<2x3xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x3xui8>
  return %q, %c, %q2, %q3 : tensor<2x4xui8>, tensor<2x4xf32>, tensor<2x4xui8>, tensor<2x3xui8>
}

// -----

// int8 activations fuse only where ONNX Runtime's x86 session first turns them into uint8: a
// quantize whose only user is a dequantize whose only user is one op. Such a group computes in the
// uint8 domain; a group reading a shared activation (or an int8 tensor from elsewhere) stays float.
// CHECK-LABEL: func.func @int8_groups
// CHECK: %[[A:.*]] = qopt.qlinear_add {{.*}} {unsigned_domain}
// CHECK: %[[DA:.*]] = qopt.dequantize %[[A]]
// CHECK: qopt.neg %[[DA]]
// CHECK: qopt.add
// CHECK: qopt.quantize
func.func @int8_groups(%x: tensor<4xf32>, %y: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i8>) -> (tensor<4xf32>, tensor<4xi8>) {
  %qx = qopt.quantize %x, %s, %z {storage_type = i8} : (tensor<4xf32>, tensor<f32>, tensor<i8>) -> tensor<4xi8>
  %dx = qopt.dequantize %qx, %s, %z : (tensor<4xi8>, tensor<f32>, tensor<i8>) -> tensor<4xf32>
  %qy = qopt.quantize %y, %s, %z {storage_type = i8} : (tensor<4xf32>, tensor<f32>, tensor<i8>) -> tensor<4xi8>
  %dy = qopt.dequantize %qy, %s, %z : (tensor<4xi8>, tensor<f32>, tensor<i8>) -> tensor<4xf32>
  %a = qopt.add %dx, %dy : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %qa = qopt.quantize %a, %s, %z {storage_type = i8} : (tensor<4xf32>, tensor<f32>, tensor<i8>) -> tensor<4xi8>
  %da = qopt.dequantize %qa, %s, %z : (tensor<4xi8>, tensor<f32>, tensor<i8>) -> tensor<4xf32>
  %n = qopt.neg %da : tensor<4xf32>
  %qs = qopt.quantize %y, %s, %z {storage_type = i8} : (tensor<4xf32>, tensor<f32>, tensor<i8>) -> tensor<4xi8>
  %ds = qopt.dequantize %qs, %s, %z : (tensor<4xi8>, tensor<f32>, tensor<i8>) -> tensor<4xf32>
  %b = qopt.add %ds, %ds : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %qb = qopt.quantize %b, %s, %z {storage_type = i8} : (tensor<4xf32>, tensor<f32>, tensor<i8>) -> tensor<4xi8>
  return %n, %qb : tensor<4xf32>, tensor<4xi8>
}
