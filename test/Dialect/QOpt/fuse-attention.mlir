// RUN: qopt-opt --qopt-fuse-attention --split-input-file %s | FileCheck %s

// A decoder layer's attention as the exporters write it: the past concatenated with this step's
// keys and values, keys transposed, a scale and a causal mask, softmax, the product with the
// values. It becomes one attention op over the appended cache, and the past input is marked.
// CHECK-LABEL: func.func @decoder
// CHECK-SAME: %[[PK:[^:]*]]: tensor<1x4x?x8xf32> {qopt.kv_cache, qopt.name = "past.0.key"}
// CHECK-SAME: %[[PV:[^:]*]]: tensor<1x4x?x8xf32> {qopt.kv_cache, qopt.name = "past.0.value"}
// CHECK: %[[K:.*]] = qopt.kv_append %[[PK]], %{{.*}} {axis = 2 : i64}
// CHECK: %[[V:.*]] = qopt.kv_append %[[PV]], %{{.*}} {axis = 2 : i64}
// CHECK: %[[O:.*]] = qopt.attention %{{.*}}, %[[K]], %[[V]], %{{.*}} {scale = 1.250000e-01 : f64}
// CHECK-NOT: qopt.softmax
// CHECK-NOT: qopt.transpose
// CHECK: return %[[O]], %[[K]], %[[V]]
func.func @decoder(%q: tensor<1x4x?x8xf32>, %k: tensor<1x4x?x8xf32>, %v: tensor<1x4x?x8xf32>,
                   %mask: tensor<1x1x?x?xf32>,
                   %pk: tensor<1x4x?x8xf32> {qopt.name = "past.0.key"},
                   %pv: tensor<1x4x?x8xf32> {qopt.name = "past.0.value"})
    -> (tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>) {
  %c = arith.constant dense<0.125> : tensor<f32>
  %kc = qopt.concat %pk, %k {axis = -2 : i64} : (tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  %vc = qopt.concat %pv, %v {axis = -2 : i64} : (tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  %kt = qopt.transpose %kc {perm = array<i64: 0, 1, 3, 2>} : tensor<1x4x?x8xf32> -> tensor<1x4x8x?xf32>
  %s = qopt.matmul %q, %kt : (tensor<1x4x?x8xf32>, tensor<1x4x8x?xf32>) -> tensor<1x4x?x?xf32>
  %ss = qopt.mul %s, %c : (tensor<1x4x?x?xf32>, tensor<f32>) -> tensor<1x4x?x?xf32>
  %sm = qopt.add %ss, %mask : (tensor<1x4x?x?xf32>, tensor<1x1x?x?xf32>) -> tensor<1x4x?x?xf32>
  %p = qopt.softmax %sm : tensor<1x4x?x?xf32>
  %o = qopt.matmul %p, %vc : (tensor<1x4x?x?xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  return %o, %kc, %vc : tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>
}

// -----

// Grouped-query attention: two key heads repeated for four query heads (unsqueeze, expand,
// reshape) are read before the repetition; a division by a constant is the scale's inverse.
// CHECK-LABEL: func.func @grouped
// CHECK-NOT: qopt.expand
// CHECK: qopt.attention %arg0, %arg1, %arg2 {scale = 5.000000e-01 : f64} : (tensor<1x4x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x4x?x8xf32>
func.func @grouped(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x8xf32>,
                   %shape5: tensor<5xi64>) -> tensor<1x4x?x8xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %shape4 = arith.constant dense<[1, 4, -1, 8]> : tensor<4xi64>
  %ku = qopt.unsqueeze %k {axes = array<i64: 2>} : tensor<1x2x?x8xf32> -> tensor<1x2x1x?x8xf32>
  %ke = qopt.expand %ku, %shape5 : (tensor<1x2x1x?x8xf32>, tensor<5xi64>) -> tensor<1x2x2x?x8xf32>
  %kr = qopt.reshape %ke, %shape4 : (tensor<1x2x2x?x8xf32>, tensor<4xi64>) -> tensor<1x4x?x8xf32>
  %vu = qopt.unsqueeze %v {axes = array<i64: 2>} : tensor<1x2x?x8xf32> -> tensor<1x2x1x?x8xf32>
  %ve = qopt.expand %vu, %shape5 : (tensor<1x2x1x?x8xf32>, tensor<5xi64>) -> tensor<1x2x2x?x8xf32>
  %vr = qopt.reshape %ve, %shape4 : (tensor<1x2x2x?x8xf32>, tensor<4xi64>) -> tensor<1x4x?x8xf32>
  %kt = qopt.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : tensor<1x4x?x8xf32> -> tensor<1x4x8x?xf32>
  %s = qopt.matmul %q, %kt : (tensor<1x4x?x8xf32>, tensor<1x4x8x?xf32>) -> tensor<1x4x?x?xf32>
  %sd = qopt.div %s, %two : (tensor<1x4x?x?xf32>, tensor<f32>) -> tensor<1x4x?x?xf32>
  %p = qopt.softmax %sd : tensor<1x4x?x?xf32>
  %o = qopt.matmul %p, %vr : (tensor<1x4x?x?xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  return %o : tensor<1x4x?x8xf32>
}

// -----

// Left alone: the scores are also returned (another use), so the chain cannot be replaced; and a
// past input read by anything but the concat and shape queries cannot be appended in place.
// CHECK-LABEL: func.func @shared_scores
// CHECK-NOT: qopt.attention
// CHECK-NOT: qopt.kv_append
// CHECK-NOT: qopt.kv_cache
// CHECK: qopt.softmax
func.func @shared_scores(%q: tensor<1x4x?x8xf32>, %k: tensor<1x4x?x8xf32>,
                         %pv: tensor<1x4x?x8xf32> {qopt.name = "past.0.value"}, %v: tensor<1x4x?x8xf32>)
    -> (tensor<1x4x?x8xf32>, tensor<1x4x?x?xf32>, tensor<1x4x?x8xf32>) {
  %vc = qopt.concat %pv, %v {axis = 2 : i64} : (tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  %kt = qopt.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x4x?x8xf32> -> tensor<1x4x8x?xf32>
  %s = qopt.matmul %q, %kt : (tensor<1x4x?x8xf32>, tensor<1x4x8x?xf32>) -> tensor<1x4x?x?xf32>
  %p = qopt.softmax %s : tensor<1x4x?x?xf32>
  %o = qopt.matmul %p, %vc : (tensor<1x4x?x?xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  %n = qopt.neg %pv : tensor<1x4x?x8xf32>
  return %o, %s, %n : tensor<1x4x?x8xf32>, tensor<1x4x?x?xf32>, tensor<1x4x?x8xf32>
}

// -----

// The dynamo exporter's decomposition of scaled_dot_product_attention: both operands scaled by
// the square root of the scale, the keys transposed through [-1, T, D] and back to [B, H, D, T]
// with dims read off shape(k), and the NaN guard after the softmax.
// CHECK-LABEL: func.func @sdpa
// CHECK: qopt.attention %arg0, %arg1, %arg2, %arg3 {scale = 0.12499{{[0-9]+}} : f64}
// CHECK-NOT: qopt.softmax
// CHECK-NOT: qopt.is_nan
// CHECK-NOT: qopt.reshape
func.func @sdpa(%q: tensor<1x4x?x64xf32>, %k: tensor<1x4x?x64xf32>, %v: tensor<1x4x?x64xf32>,
                %mask: tensor<1x1x?x?xf32>) -> tensor<?x4x?x64xf32> {
  %root = arith.constant dense<0.353553385> : tensor<f32>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %minus1 = arith.constant dense<-1> : tensor<1xi64>
  %minus2 = arith.constant dense<-2> : tensor<1xi64>
  %max = arith.constant dense<9223372036854775807> : tensor<1xi64>
  %min = arith.constant dense<-9223372036854775808> : tensor<1xi64>
  %shape = qopt.shape %k : tensor<1x4x?x64xf32> -> tensor<4xi64>
  %d = qopt.slice %shape, %minus1, %max : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %t = qopt.slice %shape, %minus2, %minus1 : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %bh = qopt.slice %shape, %min, %minus2 : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %flat = qopt.concat %minus1, %t, %d {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
  %k3 = qopt.reshape %k, %flat : (tensor<1x4x?x64xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
  %k3t = qopt.transpose %k3 {perm = array<i64: 0, 2, 1>} : tensor<?x?x?xf32> -> tensor<?x?x?xf32>
  %back = qopt.concat %bh, %d, %t {axis = 0 : i64} : (tensor<2xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %kt = qopt.reshape %k3t, %back : (tensor<?x?x?xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>
  %qs = qopt.mul %q, %root : (tensor<1x4x?x64xf32>, tensor<f32>) -> tensor<1x4x?x64xf32>
  %kts = qopt.mul %kt, %root : (tensor<?x?x?x?xf32>, tensor<f32>) -> tensor<?x?x?x?xf32>
  %s = qopt.matmul %qs, %kts : (tensor<1x4x?x64xf32>, tensor<?x?x?x?xf32>) -> tensor<?x4x?x?xf32>
  %sm = qopt.add %s, %mask : (tensor<?x4x?x?xf32>, tensor<1x1x?x?xf32>) -> tensor<?x4x?x?xf32>
  %p = qopt.softmax %sm : tensor<?x4x?x?xf32>
  %nan = qopt.is_nan %p : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xi1>
  %pg = qopt.where %nan, %zero, %p : (tensor<?x4x?x?xi1>, tensor<f32>, tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = qopt.matmul %pg, %v : (tensor<?x4x?x?xf32>, tensor<1x4x?x64xf32>) -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}
