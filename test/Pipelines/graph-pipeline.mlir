// RUN: qopt-opt %s --qopt-graph-pipeline | FileCheck %s
// RUN: qopt-opt %s --qopt-graph-pipeline=raise-patterns=false | FileCheck %s --check-prefix=NORAISE

// The pipeline refines shapes, folds, raises composite ops and removes what is left dead.
// CHECK-LABEL: func.func @block
// CHECK-SAME: -> tensor<2x4xf32>
// CHECK-NOT: qopt.shape
// CHECK: qopt.silu
// CHECK-NOT: qopt.sigmoid
// NORAISE: qopt.sigmoid
func.func @block(%x: tensor<2x4xf32>) -> tensor<?x?xf32> {
  %s = qopt.shape %x : tensor<2x4xf32> -> tensor<2xi64>
  %r = qopt.reshape %x, %s : (tensor<2x4xf32>, tensor<2xi64>) -> tensor<?x?xf32>
  %g = qopt.sigmoid %r : tensor<?x?xf32>
  %y = qopt.mul %r, %g : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}
