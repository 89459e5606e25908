// RUN: qopt-opt --qopt-recognize-lora %s | FileCheck %s --check-prefix=MARK
// RUN: qopt-opt --qopt-recognize-lora=merge=true %s | FileCheck %s --check-prefix=MERGE

// x·W + bias + ((x·A)·B)·2: W [K=4, N=3], A [4, r=1], B [1, 3].
// MARK-LABEL: func.func @lora
// MARK: %[[BASE:.*]] = qopt.matmul %arg0, %{{.*}} {qopt.lora_base}
// MARK: qopt.add %[[BASE]]
// MARK: %[[A:.*]] = qopt.matmul %arg0, %{{.*}} {qopt.lora_adapter}
// MARK: %[[B:.*]] = qopt.matmul %[[A]], %{{.*}} {qopt.lora_adapter}
// MARK: qopt.mul %[[B]]
// Merged: W + 2·A·B, with A = [1, 0, 0, 1]ᵀ and B = [1, 2, 3]: rows 0 and 3 of W (an identity on
// top of a zero row) gain [2, 4, 6].
// MERGE-LABEL: func.func @lora
// MERGE: %[[W:.*]] = arith.constant dense_resource<w.merged> : tensor<4x3xf32>
// MERGE: %[[Y:.*]] = qopt.matmul %arg0, %[[W]]
// MERGE: %[[S:.*]] = qopt.add %[[Y]], %{{.*}}
// MERGE-NOT: qopt.matmul
// MERGE-NOT: qopt.mul
// MERGE: return %[[S]]
func.func @lora(%x: tensor<1x?x4xf32>) -> tensor<1x?x3xf32> {
  %w = arith.constant dense_resource<w> : tensor<4x3xf32>
  %bias = arith.constant dense<[0.5, 0.5, 0.5]> : tensor<3xf32>
  %a = arith.constant dense<[[1.0], [0.0], [0.0], [1.0]]> : tensor<4x1xf32>
  %b = arith.constant dense<[[1.0, 2.0, 3.0]]> : tensor<1x3xf32>
  %s = arith.constant dense<2.0> : tensor<f32>
  %0 = qopt.matmul %x, %w : (tensor<1x?x4xf32>, tensor<4x3xf32>) -> tensor<1x?x3xf32>
  %1 = qopt.add %0, %bias : (tensor<1x?x3xf32>, tensor<3xf32>) -> tensor<1x?x3xf32>
  %2 = qopt.matmul %x, %a : (tensor<1x?x4xf32>, tensor<4x1xf32>) -> tensor<1x?x1xf32>
  %3 = qopt.matmul %2, %b : (tensor<1x?x1xf32>, tensor<1x3xf32>) -> tensor<1x?x3xf32>
  %4 = qopt.mul %3, %s : (tensor<1x?x3xf32>, tensor<f32>) -> tensor<1x?x3xf32>
  %5 = qopt.add %4, %1 : (tensor<1x?x3xf32>, tensor<1x?x3xf32>) -> tensor<1x?x3xf32>
  return %5 : tensor<1x?x3xf32>
}

// Two linear layers in a row whose middle is as wide as the ends are not an adapter, nor is a
// second path that reads another input.
// MARK-LABEL: func.func @not_lora
// MARK-NOT: lora
// MERGE-LABEL: func.func @not_lora
// MERGE-COUNT-3: qopt.matmul
func.func @not_lora(%x: tensor<1x?x4xf32>, %y: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> {
  %w = arith.constant dense<1.0> : tensor<4x4xf32>
  %a = arith.constant dense<1.0> : tensor<4x1xf32>
  %b = arith.constant dense<1.0> : tensor<1x4xf32>
  %0 = qopt.matmul %x, %w : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %1 = qopt.matmul %y, %a : (tensor<1x?x4xf32>, tensor<4x1xf32>) -> tensor<1x?x1xf32>
  %2 = qopt.matmul %1, %b : (tensor<1x?x1xf32>, tensor<1x4xf32>) -> tensor<1x?x4xf32>
  %3 = qopt.add %0, %2 : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  return %3 : tensor<1x?x4xf32>
}

// MERGE: w.merged: "0x4000000000004040000080400000C040000000000000803F0000000000000000000000000000803F00000040000080400000C040"
{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F0000000000000000000000000000803F0000000000000000000000000000803F000000000000000000000000"
    }
  }
#-}
