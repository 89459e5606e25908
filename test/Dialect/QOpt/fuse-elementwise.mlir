// RUN: qopt-opt %s --split-input-file --qopt-fuse-elementwise | FileCheck %s
// RUN: qopt-opt %s --split-input-file --qopt-fusion-pipeline | FileCheck %s --check-prefix=CLEAN

// A gated MLP's SiLU(gate) * up is one kernel: the sigmoid's body, the two muls, one yield.
// CHECK-LABEL: func.func @gated
// CHECK-SAME: (%[[G:.*]]: tensor<?x64xf32>, %[[U:.*]]: tensor<?x64xf32>)
// CHECK-NEXT: %[[F:.*]] = qopt.fused_elementwise(%[[G]], %[[U]]) : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: f32, %[[B:.*]]: f32):
// CHECK: %[[NEG:.*]] = arith.negf %[[A]] : f32
// CHECK: %[[E:.*]] = math.exp %[[NEG]] : f32
// CHECK: %[[SIG:.*]] = arith.divf
// CHECK: %[[S:.*]] = arith.mulf %[[A]], %[[SIG]] : f32
// CHECK: %[[R:.*]] = arith.mulf %[[S]], %[[B]] : f32
// CHECK-NEXT: qopt.yield %[[R]] : f32
// CHECK-NEXT: }
// CHECK-NEXT: return %[[F]]
func.func @gated(%g: tensor<?x64xf32>, %u: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %0 = qopt.silu %g : tensor<?x64xf32>
  %1 = qopt.mul %0, %u : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return %1 : tensor<?x64xf32>
}

// -----

// A producer with two users stays a kernel of its own; each user is another kernel.
// CHECK-LABEL: func.func @shared
// CHECK: %[[P:.*]] = qopt.fused_elementwise(%arg0, %arg1)
// CHECK: arith.addf
// CHECK: %[[X:.*]] = qopt.fused_elementwise(%[[P]])
// CHECK: math.exp
// CHECK: %[[Y:.*]] = qopt.fused_elementwise(%[[P]])
// CHECK: math.tanh
// CHECK: return %[[X]], %[[Y]]
func.func @shared(%a: tensor<8xf32>, %b: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %0 = qopt.add %a, %b : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %1 = qopt.exp %0 : tensor<8xf32>
  %2 = qopt.tanh %0 : tensor<8xf32>
  return %1, %2 : tensor<8xf32>, tensor<8xf32>
}

// -----

// A producer that the consumer broadcasts is not merged (it would be computed 64 times per
// element); the consumer still takes it as a broadcast input.
// CHECK-LABEL: func.func @broadcast_producer
// CHECK: %[[R:.*]] = qopt.fused_elementwise(%arg1) : (tensor<?x1xf32>) -> tensor<?x1xf32>
// CHECK: math.sqrt
// CHECK: qopt.fused_elementwise(%arg0, %[[R]]) : (tensor<?x64xf32>, tensor<?x1xf32>) -> tensor<?x64xf32>
// CHECK: arith.divf
func.func @broadcast_producer(%x: tensor<?x64xf32>, %v: tensor<?x1xf32>) -> tensor<?x64xf32> {
  %0 = qopt.sqrt %v : tensor<?x1xf32>
  %1 = qopt.div %x, %0 : (tensor<?x64xf32>, tensor<?x1xf32>) -> tensor<?x64xf32>
  return %1 : tensor<?x64xf32>
}

// -----

// Single-element constants of no greater rank become body constants; the exponent 2 of a pow is a
// product. A repeated input is one argument.
// CHECK-LABEL: func.func @scalars
// CHECK: qopt.fused_elementwise(%arg0) : (tensor<2x4xf32>) -> tensor<2x4xf32> {
// CHECK-NEXT: ^bb0(%[[X:.*]]: f32):
// CHECK-DAG: %[[HALF:.*]] = arith.constant 5.000000e-01 : f32
// CHECK-DAG: %[[SQ:.*]] = arith.mulf %[[X]], %[[X]] : f32
// CHECK: arith.mulf %[[SQ]], %[[HALF]] : f32
// CHECK-NOT: math.powf
// CLEAN-LABEL: func.func @scalars
// CLEAN: qopt.fused_elementwise
// CLEAN-COUNT-1: arith.constant 5.000000e-01
// CLEAN-NOT: arith.constant 2.0
// CLEAN: qopt.yield
func.func @scalars(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<1x1xf32>
  %0 = qopt.pow %x, %two : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
  %1 = qopt.mul %0, %half : (tensor<2x4xf32>, tensor<1x1xf32>) -> tensor<2x4xf32>
  return %1 : tensor<2x4xf32>
}

// -----

// A single-element constant that raises the rank stays an input, so the result keeps its rank.
// CHECK-LABEL: func.func @rank_raising_constant
// CHECK: %[[C:.*]] = arith.constant dense<3.000000e+00> : tensor<1x1xf32>
// CHECK: qopt.fused_elementwise(%arg0, %[[C]]) : (tensor<4xf32>, tensor<1x1xf32>) -> tensor<1x4xf32>
func.func @rank_raising_constant(%x: tensor<4xf32>) -> tensor<1x4xf32> {
  %c = arith.constant dense<3.0> : tensor<1x1xf32>
  %0 = qopt.add %x, %c : (tensor<4xf32>, tensor<1x1xf32>) -> tensor<1x4xf32>
  return %0 : tensor<1x4xf32>
}

// -----

// Ops on 16-bit integers and non-elementwise ops are left alone, and a chain stops at them.
// CHECK-LABEL: func.func @boundaries
// CHECK: qopt.div %arg1, %arg1 : (tensor<4xi16>, tensor<4xi16>)
// CHECK: %[[E:.*]] = qopt.fused_elementwise(%arg0)
// CHECK: %[[S:.*]] = qopt.softmax %[[E]]
// CHECK: qopt.fused_elementwise(%[[S]], %arg0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
// CHECK: arith.cmpf olt
func.func @boundaries(%x: tensor<4xf32>, %i: tensor<4xi16>) -> (tensor<4xi16>, tensor<4xf32>, tensor<4xi1>) {
  %0 = qopt.div %i, %i : (tensor<4xi16>, tensor<4xi16>) -> tensor<4xi16>
  %1 = qopt.exp %x : tensor<4xf32>
  %2 = qopt.softmax %1 : tensor<4xf32>
  %3 = qopt.less %2, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  return %0, %2, %3 : tensor<4xi16>, tensor<4xf32>, tensor<4xi1>
}

// -----

// GELU spelled out by an exporter (x * 0.5 * (1 + erf(x / sqrt(2)))) is one kernel of one input.
// CHECK-LABEL: func.func @gelu_parts
// CHECK: %[[F:.*]] = qopt.fused_elementwise(%arg0) : (tensor<3x8xf32>) -> tensor<3x8xf32>
// CHECK: math.erf
// CHECK: qopt.yield
// CHECK-NOT: qopt.fused_elementwise
// CHECK: return %[[F]]
func.func @gelu_parts(%x: tensor<3x8xf32>) -> tensor<3x8xf32> {
  %sqrt2 = arith.constant dense<1.41421354> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %0 = qopt.div %x, %sqrt2 : (tensor<3x8xf32>, tensor<f32>) -> tensor<3x8xf32>
  %1 = qopt.erf %0 : tensor<3x8xf32>
  %2 = qopt.add %1, %one : (tensor<3x8xf32>, tensor<f32>) -> tensor<3x8xf32>
  %3 = qopt.mul %x, %2 : (tensor<3x8xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  %4 = qopt.mul %3, %half : (tensor<3x8xf32>, tensor<f32>) -> tensor<3x8xf32>
  return %4 : tensor<3x8xf32>
}

// -----

// Masks and guards fuse too: a bool mask turned into an additive bias, and the NaN test and where
// after a softmax (one kernel from f32 to f32 with an i1 inside). The bias is not merged into the
// add that broadcasts it.
// CHECK-LABEL: func.func @mask_and_guard
// CHECK: %[[B:.*]] = qopt.fused_elementwise(%arg1) : (tensor<1x1x?x?xi1>) -> tensor<1x1x?x?xf32> {
// CHECK-NEXT: ^bb0(%[[M:.*]]: i1):
// CHECK: arith.select %[[M]]
// CHECK: %[[A:.*]] = qopt.fused_elementwise(%arg0, %[[B]])
// CHECK: arith.addf
// CHECK: %[[P:.*]] = qopt.softmax %[[A]]
// CHECK: %[[G:.*]] = qopt.fused_elementwise(%[[P]]) : (tensor<2x6x?x?xf32>) -> tensor<2x6x?x?xf32> {
// CHECK: %[[N:.*]] = arith.cmpf uno
// CHECK: arith.select %[[N]]
// CHECK: return %[[G]]
func.func @mask_and_guard(%s: tensor<2x6x?x?xf32>, %m: tensor<1x1x?x?xi1>) -> tensor<2x6x?x?xf32> {
  %zero = arith.constant dense<0.0> : tensor<f32>
  %ninf = arith.constant dense<-3.4e38> : tensor<f32>
  %bias = qopt.where %m, %zero, %ninf : (tensor<1x1x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x?x?xf32>
  %a = qopt.add %s, %bias : (tensor<2x6x?x?xf32>, tensor<1x1x?x?xf32>) -> tensor<2x6x?x?xf32>
  %p = qopt.softmax %a : tensor<2x6x?x?xf32>
  %n = qopt.is_nan %p : tensor<2x6x?x?xf32> -> tensor<2x6x?x?xi1>
  %g = qopt.where %n, %zero, %p : (tensor<2x6x?x?xi1>, tensor<f32>, tensor<2x6x?x?xf32>) -> tensor<2x6x?x?xf32>
  return %g : tensor<2x6x?x?xf32>
}

// -----

// Integer arithmetic, comparisons and where on i64 (position and mask arithmetic) fuse into one
// kernel with casts between f32, i1, i32 and i64: to i1 is "not zero", f32 to an integer
// truncates (NaN and infinities give 0), a bool becomes 0 or 1. Ops on i8 stay graph ops.
// CHECK-LABEL: func.func @integer_masks
// CHECK: %[[K:.*]] = qopt.fused_elementwise(%arg2, %arg0, %arg1) : (tensor<4xf32>, tensor<4xi64>, tensor<4xi64>) -> tensor<4xf32> {
// CHECK-NEXT: ^bb0(%[[X:.*]]: f32, %[[I:.*]]: i64, %[[J:.*]]: i64):
// CHECK: %[[ABS:.*]] = math.absf %[[X]] : f32
// CHECK: %[[FIN:.*]] = arith.cmpf olt, %[[ABS]], %{{.*}} : f32
// CHECK: %[[SAFE:.*]] = arith.select %[[FIN]], %[[X]], %{{.*}} : f32
// CHECK: %[[T:.*]] = arith.fptosi %[[SAFE]] : f32 to i32
// CHECK: %[[E:.*]] = arith.extsi %[[T]] : i32 to i64
// CHECK: %[[D:.*]] = arith.subi %[[I]], %[[J]] : i64
// CHECK: %[[M:.*]] = arith.maxsi %[[D]], %{{.*}} : i64
// CHECK: %[[L:.*]] = arith.cmpi slt, %[[I]], %[[J]] : i64
// CHECK: %[[W:.*]] = arith.select %[[L]], %[[M]], %[[J]] : i64
// CHECK: %[[S:.*]] = arith.addi %[[W]], %[[E]] : i64
// CHECK: %[[NZ:.*]] = arith.cmpi ne, %[[S]], %{{.*}} : i64
// CHECK: %[[F:.*]] = arith.uitofp %[[NZ]] : i1 to f32
// CHECK: qopt.yield %[[F]] : f32
// CHECK: qopt.add %arg3, %arg3 : (tensor<4xi8>, tensor<4xi8>)
func.func @integer_masks(%i: tensor<4xi64>, %j: tensor<4xi64>, %x: tensor<4xf32>, %b: tensor<4xi8>) -> (tensor<4xf32>, tensor<4xi8>) {
  %zero = arith.constant dense<0> : tensor<i64>
  %0 = qopt.sub %i, %j : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  %1 = qopt.max %0, %zero : (tensor<4xi64>, tensor<i64>) -> tensor<4xi64>
  %2 = qopt.less %i, %j : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi1>
  %3 = qopt.where %2, %1, %j : (tensor<4xi1>, tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  %4 = qopt.cast %x {to = i32} : tensor<4xf32> -> tensor<4xi32>
  %5 = qopt.cast %4 {to = i64} : tensor<4xi32> -> tensor<4xi64>
  %6 = qopt.add %3, %5 : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  %7 = qopt.cast %6 {to = i1} : tensor<4xi64> -> tensor<4xi1>
  %8 = qopt.cast %7 {to = f32} : tensor<4xi1> -> tensor<4xf32>
  %9 = qopt.add %b, %b : (tensor<4xi8>, tensor<4xi8>) -> tensor<4xi8>
  return %8, %9 : tensor<4xf32>, tensor<4xi8>
}

// -----

// The chain after a packed product (bias, GELU via tanh, residual add) becomes its epilogue; the
// product's own epilogue (a gemm's bias) comes first. Rows of the product's width are epilogue
// inputs whatever their leading dimensions.
// CHECK-LABEL: func.func @epilogue
// CHECK-SAME: (%[[X:.*]]: tensor<2x?x4xf32>, %[[W:.*]]: tensor<1x4x8xf32>, %[[B:.*]]: tensor<8xf32>, %[[R:.*]]: tensor<2x?x8xf32>)
// CHECK-NEXT: %[[Y:.*]] = qopt.fused_matmul(%[[X]], %[[W]], %[[B]], %[[R]]) {n = 8 : i64, panel = 8 : i64} : (tensor<2x?x4xf32>, tensor<1x4x8xf32>, tensor<8xf32>, tensor<2x?x8xf32>) -> tensor<2x?x8xf32> {
// CHECK-NEXT: ^bb0(%[[ACC:.*]]: f32, %[[EB:.*]]: f32, %[[ER:.*]]: f32):
// CHECK-NEXT: %[[S:.*]] = arith.addf %[[ACC]], %[[EB]] : f32
// CHECK-NEXT: %[[T:.*]] = math.tanh %[[S]] : f32
// CHECK-NEXT: %[[O:.*]] = arith.addf %[[T]], %[[ER]] : f32
// CHECK-NEXT: qopt.yield %[[O]] : f32
// CHECK-NEXT: }
// CHECK-NEXT: return %[[Y]]
func.func @epilogue(%x: tensor<2x?x4xf32>, %w: tensor<1x4x8xf32>, %b: tensor<8xf32>, %r: tensor<2x?x8xf32>) -> tensor<2x?x8xf32> {
  %y = qopt.fused_matmul(%x, %w) {n = 8 : i64, panel = 8 : i64} : (tensor<2x?x4xf32>, tensor<1x4x8xf32>) -> tensor<2x?x8xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  %a = qopt.add %y, %b : (tensor<2x?x8xf32>, tensor<8xf32>) -> tensor<2x?x8xf32>
  %t = qopt.tanh %a : tensor<2x?x8xf32>
  %o = qopt.add %t, %r : (tensor<2x?x8xf32>, tensor<2x?x8xf32>) -> tensor<2x?x8xf32>
  return %o : tensor<2x?x8xf32>
}

// -----

// Chains that stay kernels of their own: the product has a second user; a mask input is i1; an
// input broadcasts along the product's columns (its last dimension is 1); the chain computes a
// larger shape than the product.
// CHECK-LABEL: func.func @no_epilogue
// CHECK: %[[Y0:.*]] = qopt.fused_matmul(%arg0, %arg1)
// CHECK-NEXT: ^bb0(%{{.*}}: f32):
// CHECK-NEXT: qopt.yield
// CHECK: qopt.fused_elementwise(%[[Y0]])
// CHECK: %[[Y1:.*]] = qopt.fused_matmul(%arg0, %arg1)
// CHECK-NEXT: ^bb0(%{{.*}}: f32):
// CHECK-NEXT: qopt.yield
// CHECK: qopt.fused_elementwise(%arg2, %[[Y1]])
// CHECK: %[[Y2:.*]] = qopt.fused_matmul(%arg0, %arg1)
// CHECK-NEXT: ^bb0(%{{.*}}: f32):
// CHECK-NEXT: qopt.yield
// CHECK: qopt.fused_elementwise(%[[Y2]], %arg3)
// CHECK: %[[Y3:.*]] = qopt.fused_matmul(%arg0, %arg1)
// CHECK-NEXT: ^bb0(%{{.*}}: f32):
// CHECK-NEXT: qopt.yield
// CHECK: qopt.fused_elementwise(%[[Y3]], %arg4)
func.func @no_epilogue(%x: tensor<3x4xf32>, %w: tensor<1x4x8xf32>, %m: tensor<3x8xi1>, %c: tensor<3x1xf32>, %big: tensor<2x3x8xf32>) -> (tensor<3x8xf32>, tensor<3x8xf32>, tensor<3x8xf32>, tensor<3x8xf32>, tensor<2x3x8xf32>) {
  %y0 = qopt.fused_matmul(%x, %w) {n = 8 : i64, panel = 8 : i64} : (tensor<3x4xf32>, tensor<1x4x8xf32>) -> tensor<3x8xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  %e0 = qopt.exp %y0 : tensor<3x8xf32>
  %y1 = qopt.fused_matmul(%x, %w) {n = 8 : i64, panel = 8 : i64} : (tensor<3x4xf32>, tensor<1x4x8xf32>) -> tensor<3x8xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  %zero = arith.constant dense<0.0> : tensor<f32>
  %e1 = qopt.where %m, %y1, %zero : (tensor<3x8xi1>, tensor<3x8xf32>, tensor<f32>) -> tensor<3x8xf32>
  %y2 = qopt.fused_matmul(%x, %w) {n = 8 : i64, panel = 8 : i64} : (tensor<3x4xf32>, tensor<1x4x8xf32>) -> tensor<3x8xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  %e2 = qopt.mul %y2, %c : (tensor<3x8xf32>, tensor<3x1xf32>) -> tensor<3x8xf32>
  %y3 = qopt.fused_matmul(%x, %w) {n = 8 : i64, panel = 8 : i64} : (tensor<3x4xf32>, tensor<1x4x8xf32>) -> tensor<3x8xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  %e3 = qopt.add %y3, %big : (tensor<3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  return %y0, %e0, %e1, %e2, %e3 : tensor<3x8xf32>, tensor<3x8xf32>, tensor<3x8xf32>, tensor<3x8xf32>, tensor<2x3x8xf32>
}

// -----

// Integer division and modulo never fault: a zero divisor gives 0, and -1 (whose quotient of the
// most negative value x86 cannot represent) negates instead; modulo takes the divisor's sign. A
// float modulo is fmod.
// CHECK-LABEL: func.func @integer_division
// CHECK: qopt.fused_elementwise(%arg0, %arg1) : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: i32, %[[B:.*]]: i32):
// CHECK: %[[Z:.*]] = arith.cmpi eq, %[[B]], %[[C0:.*]] : i32
// CHECK: %[[M1:.*]] = arith.cmpi eq, %[[B]], %{{.*}} : i32
// CHECK: %[[BAD:.*]] = arith.ori %[[Z]], %[[M1]] : i1
// CHECK: %[[SAFE:.*]] = arith.select %[[BAD]], %{{.*}}, %[[B]] : i32
// CHECK: %[[Q:.*]] = arith.divsi %[[A]], %[[SAFE]] : i32
// CHECK: %[[NEG:.*]] = arith.subi %{{.*}}, %[[A]] : i32
// CHECK: %[[R:.*]] = arith.select %[[M1]], %[[NEG]], %[[Q]] : i32
// CHECK: %[[D:.*]] = arith.select %[[Z]], %{{.*}}, %[[R]] : i32
// CHECK: arith.remsi %[[D]], %{{.*}} : i32
// CHECK: qopt.fused_elementwise(%arg2) : (tensor<4xf32>) -> tensor<4xf32>
// CHECK: arith.remf
func.func @integer_division(%a: tensor<4xi32>, %b: tensor<4xi32>, %x: tensor<4xf32>) -> (tensor<4xi32>, tensor<4xf32>) {
  %0 = qopt.div %a, %b : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  %1 = qopt.mod %0, %b : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  %2 = qopt.mod %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %1, %2 : tensor<4xi32>, tensor<4xf32>
}
