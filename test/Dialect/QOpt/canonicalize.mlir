// RUN: qopt-opt %s --split-input-file --canonicalize | FileCheck %s
// The shape arithmetic that exporters emit folds once its inputs are constants or static.

// CHECK-LABEL: func.func @shape_of_static
// CHECK: %[[C:.*]] = arith.constant dense<[2, 8]> : tensor<2xi64>
// CHECK: return %[[C]]
func.func @shape_of_static(%x: tensor<2x8xf32>) -> tensor<2xi64> {
  %0 = qopt.shape %x : tensor<2x8xf32> -> tensor<2xi64>
  return %0 : tensor<2xi64>
}

// -----

// CHECK-LABEL: func.func @shape_of_dynamic
// CHECK: qopt.shape
func.func @shape_of_dynamic(%x: tensor<2x?xf32>) -> tensor<2xi64> {
  %0 = qopt.shape %x : tensor<2x?xf32> -> tensor<2xi64>
  return %0 : tensor<2xi64>
}

// -----

// Shape -> Gather -> Unsqueeze -> Concat, as every exported attention block computes its reshape.
// CHECK-LABEL: func.func @gather_concat
// CHECK: %[[C:.*]] = arith.constant dense<[3, 4, -1]> : tensor<3xi64>
// CHECK: return %[[C]]
func.func @gather_concat(%x: tensor<3x5x7xf32>) -> tensor<3xi64> {
  %s = qopt.shape %x : tensor<3x5x7xf32> -> tensor<3xi64>
  %i = arith.constant dense<0> : tensor<i64>
  %d = qopt.gather %s, %i : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %u = qopt.unsqueeze %d {axes = array<i64: 0>} : tensor<i64> -> tensor<1xi64>
  %c = arith.constant dense<[4, -1]> : tensor<2xi64>
  %r = qopt.concat %u, %c {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi64>) -> tensor<3xi64>
  return %r : tensor<3xi64>
}

// -----

// CHECK-LABEL: func.func @int_arith
// CHECK-DAG: arith.constant dense<[7, 9]> : tensor<2xi64>
// CHECK-DAG: arith.constant dense<[-3, -1]> : tensor<2xi64>
// CHECK-DAG: arith.constant dense<[10, 20]> : tensor<2xi64>
// Integer division truncates toward zero; the remainder takes the divisor's sign.
// CHECK-DAG: arith.constant dense<[-1, -3]> : tensor<2xi64>
// CHECK-DAG: arith.constant dense<[1, -1]> : tensor<2xi64>
// CHECK-NOT: qopt.
func.func @int_arith() -> (tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) {
  %a = arith.constant dense<[2, 4]> : tensor<2xi64>
  %b = arith.constant dense<5> : tensor<i64>
  %0 = qopt.add %a, %b : (tensor<2xi64>, tensor<i64>) -> tensor<2xi64>
  %1 = qopt.sub %a, %b : (tensor<2xi64>, tensor<i64>) -> tensor<2xi64>
  %2 = qopt.mul %a, %b : (tensor<2xi64>, tensor<i64>) -> tensor<2xi64>
  %n = arith.constant dense<[-3, 7]> : tensor<2xi64>
  %d = arith.constant dense<[2, -2]> : tensor<2xi64>
  %3 = qopt.div %n, %d : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  %4 = qopt.mod %n, %d : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  return %0, %1, %2, %3, %4 : tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>
}

// -----

// CHECK-LABEL: func.func @compare_where
// CHECK: %[[C:.*]] = arith.constant dense<[1, 0, 3]> : tensor<3xi64>
// CHECK: return %[[C]]
func.func @compare_where() -> tensor<3xi64> {
  %a = arith.constant dense<[1, -1, 3]> : tensor<3xi64>
  %z = arith.constant dense<0> : tensor<i64>
  %lt = qopt.less %a, %z : (tensor<3xi64>, tensor<i64>) -> tensor<3xi1>
  %0 = qopt.where %lt, %z, %a : (tensor<3xi1>, tensor<i64>, tensor<3xi64>) -> tensor<3xi64>
  return %0 : tensor<3xi64>
}

// -----

// CHECK-LABEL: func.func @range_and_fill
// CHECK-DAG: arith.constant dense<[0, 2, 4]> : tensor<3xi64>
// CHECK-DAG: arith.constant dense<1.000000e+00> : tensor<2x3xf32>
func.func @range_and_fill() -> (tensor<3xi64>, tensor<2x3xf32>) {
  %s = arith.constant dense<0> : tensor<i64>
  %l = arith.constant dense<5> : tensor<i64>
  %d = arith.constant dense<2> : tensor<i64>
  %0 = qopt.range %s, %l, %d : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<3xi64>
  %shape = arith.constant dense<[2, 3]> : tensor<2xi64>
  %1 = qopt.constant_of_shape %shape {value = dense<1.0> : tensor<1xf32>} : tensor<2xi64> -> tensor<2x3xf32>
  return %0, %1 : tensor<3xi64>, tensor<2x3xf32>
}

// -----

// Ops that leave a static input unchanged disappear.
// CHECK-LABEL: func.func @identities
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>
// CHECK-NOT: qopt.
// CHECK: return %[[X]], %[[X]], %[[X]], %[[X]]
func.func @identities(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %shape = arith.constant dense<[2, 3]> : tensor<2xi64>
  %0 = qopt.reshape %x, %shape : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
  %1 = qopt.expand %x, %shape : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
  %2 = qopt.transpose %x {perm = array<i64: 0, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %3 = qopt.cast %x {to = f32} : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0, %1, %2, %3 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

// Constants in resource blobs fold like dense ones (the importer stores every initializer so).
// CHECK-LABEL: func.func @resource_slice
// CHECK: %[[C:.*]] = arith.constant dense<[20, 30]> : tensor<2xi64>
// CHECK: return %[[C]]
func.func @resource_slice() -> tensor<2xi64> {
  %v = arith.constant dense_resource<vals> : tensor<4xi64>
  %s = arith.constant dense<1> : tensor<1xi64>
  %e = arith.constant dense<3> : tensor<1xi64>
  %0 = qopt.slice %v, %s, %e : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  return %0 : tensor<2xi64>
}
{-#
  dialect_resources: {
    builtin: {
      vals: "0x080000000A0000000000000014000000000000001E000000000000002800000000000000"
    }
  }
#-}
