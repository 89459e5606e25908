// RUN: qopt-opt %s --split-input-file --qopt-instrument-calibration | FileCheck %s
// RUN: qopt-opt %s --split-input-file --qopt-instrument-calibration="layers=down observed-only=true" | FileCheck %s --check-prefix=ONLY

// q and k read one tensor: one extra result lists both; down reads another. The model's own
// result stays first. The embedding lookup is not a linear layer.
// CHECK-LABEL: func.func @block
// CHECK-SAME: -> (tensor<2x8xf32> {qopt.name = "logits"},
// CHECK-SAME: tensor<2x4xf32> {qopt.calibration_channels = 4 : i64, qopt.calibration_layers = ["q", "k"], qopt.name = "qopt.calibration.0"},
// CHECK-SAME: tensor<2x8xf32> {qopt.calibration_channels = 8 : i64, qopt.calibration_layers = ["down"], qopt.name = "qopt.calibration.1"})
// CHECK: %[[N:.*]] = qopt.rms_norm
// CHECK: %[[M:.*]] = qopt.mul
// CHECK: return %{{.*}}, %[[N]], %[[M]] : tensor<2x8xf32>, tensor<2x4xf32>, tensor<2x8xf32>
// With a list of layers and observed-only, the tensor down reads is the only result.
// ONLY-LABEL: func.func @block
// ONLY-SAME: -> (tensor<2x8xf32> {qopt.calibration_channels = 8 : i64, qopt.calibration_layers = ["down"], qopt.name = "qopt.calibration.0"})
// ONLY: %[[M:.*]] = qopt.mul
// ONLY: return %[[M]] : tensor<2x8xf32>
func.func @block(%ids: tensor<2xi64>) -> (tensor<2x8xf32> {qopt.name = "logits"}) {
  %table = arith.constant dense<0.5> : tensor<16x4xf32>
  %g = arith.constant dense<1.0> : tensor<4xf32>
  %wq = arith.constant dense<0.25> : tensor<4x8xf32>
  %wk = arith.constant dense<0.125> : tensor<4x8xf32>
  %wd = arith.constant dense<0.5> : tensor<8x8xf32>
  %x = qopt.gather %table, %ids : (tensor<16x4xf32>, tensor<2xi64>) -> tensor<2x4xf32>
  %n = qopt.rms_norm %x, %g : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %q = qopt.matmul %n, %wq : (tensor<2x4xf32>, tensor<4x8xf32>) -> tensor<2x8xf32> loc("q")
  %k = qopt.matmul %n, %wk : (tensor<2x4xf32>, tensor<4x8xf32>) -> tensor<2x8xf32> loc("k")
  %m = qopt.mul %q, %k : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %d = qopt.matmul %m, %wd : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32> loc("down")
  return %d : tensor<2x8xf32>
}

// -----

// A function without linear layers is left alone.
// CHECK-LABEL: func.func @none
// CHECK-SAME: -> tensor<2xf32>
// CHECK: return %{{.*}} : tensor<2xf32>
func.func @none(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = qopt.mul %x, %x : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
