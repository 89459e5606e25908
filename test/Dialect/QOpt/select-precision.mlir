// RUN: qopt-opt %s --split-input-file --qopt-select-precision="wbits=4 group-size=32" | FileCheck %s
// RUN: qopt-opt %s --split-input-file --qopt-select-precision="wbits=3 group-size=0 sym=false quantize-embeddings=true" | FileCheck %s --check-prefix=ALL
// RUN: qopt-opt %s --split-input-file --qopt-select-precision="wbits=4 layer-bits=.*down_proj.*=8,.*q_proj.*=none" | FileCheck %s --check-prefix=RULES
// RUN: qopt-opt %s --split-input-file --qopt-select-precision="wtype=nf4 double-quant=256 scale-type=bf16" | FileCheck %s --check-prefix=NF4
// RUN: qopt-opt %s --split-input-file --qopt-select-precision | FileCheck %s --check-prefix=NONE

// A decoder in miniature: the embedding, two projections named by their exporter scopes, and an
// output head with as many outputs as the embedding has rows.
// CHECK-LABEL: func.func @decoder
// CHECK: qopt.gather
// CHECK-NOT: qopt.scheme
// CHECK: qopt.matmul {{.*}} {qopt.scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>}
// CHECK: qopt.matmul {{.*}} {qopt.scheme = #qopt.scheme<int4, group = 32, sym, scale = f16>}
// CHECK: qopt.matmul
// CHECK-NOT: qopt.scheme
// CHECK: return

// ALL-LABEL: func.func @decoder
// ALL: qopt.gather {{.*}} {qopt.scheme = #qopt.scheme<int3, group = channel, asym, scale = f16>}
// ALL: qopt.matmul {{.*}} {qopt.scheme = #qopt.scheme<int3, group = channel, asym, scale = f16>}
// ALL: qopt.matmul {{.*}} {qopt.scheme = #qopt.scheme<int3, group = channel, asym, scale = f16>}
// ALL: qopt.matmul {{.*}} {qopt.scheme = #qopt.scheme<int3, group = channel, asym, scale = f16>}

// RULES-LABEL: func.func @decoder
// RULES: qopt.gather
// RULES-NOT: qopt.scheme
// RULES: qopt.matmul
// RULES-NOT: qopt.scheme
// RULES: qopt.matmul {{.*}} {qopt.scheme = #qopt.scheme<int8, group = 128, sym, scale = f16>}
// RULES: qopt.matmul
// RULES-NOT: qopt.scheme
// RULES: return

// NF4-LABEL: func.func @decoder
// NF4: qopt.matmul {{.*}} {qopt.scheme = #qopt.scheme<nf4, group = 128, sym, scale = bf16, double_quant = 256>}

// NONE-NOT: qopt.scheme
func.func @decoder(%ids: tensor<1x4xi64>) -> tensor<1x4x16xf32> {
  %table = arith.constant dense<0.5> : tensor<16x64xf32> loc("embed.weight")
  %wq = arith.constant dense<0.25> : tensor<64x64xf32> loc("val_1")
  %wd = arith.constant dense<0.125> : tensor<64x64xf32> loc("val_2")
  %wh = arith.constant dense<1.0> : tensor<64x16xf32> loc("lm_head.weight")
  %e = qopt.gather %table, %ids : (tensor<16x64xf32>, tensor<1x4xi64>) -> tensor<1x4x64xf32> loc("node_embedding"("model.embed_tokens"))
  %q = qopt.matmul %e, %wq : (tensor<1x4x64xf32>, tensor<64x64xf32>) -> tensor<1x4x64xf32> loc("node_linear"("model.layers.0.self_attn.q_proj"))
  %d = qopt.matmul %q, %wd : (tensor<1x4x64xf32>, tensor<64x64xf32>) -> tensor<1x4x64xf32> loc("node_linear_1"("model.layers.0.mlp.down_proj"))
  %h = qopt.matmul %d, %wh : (tensor<1x4x64xf32>, tensor<64x16xf32>) -> tensor<1x4x16xf32> loc("node_linear_2"("lm_head"))
  return %h : tensor<1x4x16xf32>
}

// -----

// A matmul by a computed (not constant) right operand is no linear layer.
// CHECK-LABEL: func.func @activations
// CHECK-NOT: qopt.scheme
// ALL-LABEL: func.func @activations
// ALL-NOT: qopt.scheme
func.func @activations(%a: tensor<4x8xf32>, %b: tensor<8x4xf32>) -> tensor<4x4xf32> {
  %0 = qopt.matmul %a, %b : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

// A tied output head reads the embedding table through a transpose.
// CHECK-LABEL: func.func @tied_head
// CHECK: qopt.matmul
// CHECK-NOT: qopt.scheme
// ALL-LABEL: func.func @tied_head
// ALL: qopt.gather {{.*}}qopt.scheme
// ALL: qopt.matmul {{.*}}qopt.scheme
func.func @tied_head(%ids: tensor<1x4xi64>) -> tensor<1x4x16xf32> {
  %table = arith.constant dense<0.5> : tensor<16x64xf32>
  %e = qopt.gather %table, %ids : (tensor<16x64xf32>, tensor<1x4xi64>) -> tensor<1x4x64xf32>
  %t = qopt.transpose %table {perm = array<i64: 1, 0>} : tensor<16x64xf32> -> tensor<64x16xf32>
  %h = qopt.matmul %e, %t : (tensor<1x4x64xf32>, tensor<64x16xf32>) -> tensor<1x4x16xf32>
  return %h : tensor<1x4x16xf32>
}
