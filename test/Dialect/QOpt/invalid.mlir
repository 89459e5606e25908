// RUN: qopt-opt %s --split-input-file --verify-diagnostics

func.func @broadcast_mismatch(%a: tensor<3xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{cannot broadcast dimension 3 against 4}}
  %0 = qopt.add %a, %b : (tensor<3xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @wrong_result(%a: tensor<3xf32>, %b: tensor<3xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{result #0 has type 'tensor<4xf32>', incompatible with the inferred 'tensor<3xf32>'}}
  %0 = qopt.mul %a, %b : (tensor<3xf32>, tensor<3xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @mixed_elements(%a: tensor<3xf32>, %b: tensor<3xf16>) -> tensor<3xf32> {
  // expected-error @+1 {{operand element types differ}}
  %0 = qopt.sub %a, %b : (tensor<3xf32>, tensor<3xf16>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @matmul_k(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{contracts 3 against 4}}
  %0 = qopt.matmul %a, %b : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @bad_perm(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{has an invalid permutation}}
  %0 = qopt.transpose %a {perm = array<i64: 0, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @bad_axis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = qopt.concat %a {axis = 2 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @squeeze_non_unit(%a: tensor<2x3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{squeezes dimension 0 of size 2}}
  %0 = qopt.squeeze %a {axes = array<i64: 0>} : tensor<2x3xf32> -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @gelu_mode(%a: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{approximate must be "none" or "tanh", not "fast"}}
  %0 = qopt.gelu %a {approximate = "fast"} : tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @where_condition(%c: tensor<3xf32>, %a: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{expects an i1 condition}}
  %0 = qopt.where %c, %a, %a : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// expected-error @+1 {{int schemes take 2 to 8 bits, not 9}}
func.func @bits() attributes {s = #qopt.scheme<int9, group = 128, sym, scale = f16>} {
  return
}

// -----

// expected-error @+1 {{only int schemes take zero points ('asym')}}
func.func @nf4_zero() attributes {s = #qopt.scheme<nf4, group = 64, asym, scale = f16>} {
  return
}

// -----

// expected-error @+1 {{scales are f16, bf16 or f32, not 'i32'}}
func.func @scale_type() attributes {s = #qopt.scheme<int4, group = 32, sym, scale = i32>} {
  return
}

// -----

// expected-error @+1 {{unknown codebook 'mx4'}}
func.func @codebook() attributes {s = #qopt.scheme<mx4, group = 32, sym, scale = f16>} {
  return
}

// -----

func.func @codes_per_row(%x: tensor<4x256xf32>, %codes: tensor<64x64xui8>, %scales: tensor<64x2xf16>) -> tensor<4x64xf32> {
  // expected-error @+1 {{expects 128 bytes of codes per row for 256 4-bit codes, got 64}}
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 256 : i64, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>}
       : (tensor<4x256xf32>, tensor<64x64xui8>, tensor<64x2xf16>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

func.func @scale_groups(%x: tensor<4x256xf32>, %codes: tensor<64x96xui8>, %scales: tensor<64x1xf16>) -> tensor<4x64xf32> {
  // expected-error @+1 {{expects scales of shape 64x3}}
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 256 : i64, scheme = #qopt.scheme<int3, group = 100, sym, scale = f16>}
       : (tensor<4x256xf32>, tensor<64x96xui8>, tensor<64x1xf16>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

func.func @missing_zero_points(%x: tensor<4x256xf32>, %codes: tensor<64x128xui8>, %scales: tensor<64x2xf16>) -> tensor<4x64xf32> {
  // expected-error @+1 {{takes zero points exactly when the scheme is asymmetric}}
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 256 : i64, scheme = #qopt.scheme<int4, group = 128, asym, scale = f16>}
       : (tensor<4x256xf32>, tensor<64x128xui8>, tensor<64x2xf16>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

func.func @per_axis_scales(%x: tensor<4x8xf32>, %s: tensor<4xf32>) -> tensor<4x8xi8> {
  // expected-error @+1 {{has 4 scales for axis 1 of size 8}}
  %0 = qopt.quantize %x, %s {storage_type = i8} : (tensor<4x8xf32>, tensor<4xf32>) -> tensor<4x8xi8>
  return %0 : tensor<4x8xi8>
}

// -----

func.func @fake_quant_rank(%w: tensor<4x8x2xf32>) -> tensor<4x8x2xf32> {
  // expected-error @+1 {{expects a 2-D [N, K] weight, not rank 3}}
  %0 = qopt.fake_quant %w {scheme = #qopt.scheme<int4, group = 8, sym, scale = f32>} : (tensor<4x8x2xf32>) -> tensor<4x8x2xf32>
  return %0 : tensor<4x8x2xf32>
}

// -----

func.func @fake_quant_scale_shape(%w: tensor<4x8xf32>, %s: tensor<4x2xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expects scales of shape [4, 1] for the scheme's groups, not 'tensor<4x2xf32>'}}
  %0 = qopt.fake_quant %w scales %s {scheme = #qopt.scheme<int4, group = 8, sym, scale = f32>} : (tensor<4x8xf32>, tensor<4x2xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @fake_quant_scale_type(%w: tensor<4x8xf32>, %s: tensor<4x1xf16>) -> tensor<4x8xf32> {
  // expected-error @+1 {{scales must be a 2-D f32 tensor [N, groups], not 'tensor<4x1xf16>'}}
  %0 = qopt.fake_quant %w scales %s {scheme = #qopt.scheme<int4, group = 8, sym, scale = f16>} : (tensor<4x8xf32>, tensor<4x1xf16>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @fake_quant_missing_zero_points(%w: tensor<4x8xf32>, %s: tensor<4x1xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{needs zero points for its asymmetric scheme}}
  %0 = qopt.fake_quant %w scales %s {scheme = #qopt.scheme<int4, group = 8, asym, scale = f32>} : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @fake_quant_extra_zero_points(%w: tensor<4x8xf32>, %s: tensor<4x1xf32>, %z: tensor<4x1xui8>) -> tensor<4x8xf32> {
  // expected-error @+1 {{has zero points but its scheme has none}}
  %0 = qopt.fake_quant %w scales %s zero_points %z {scheme = #qopt.scheme<int4, group = 8, sym, scale = f32>} : (tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x1xui8>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @fake_quant_zero_point_type(%w: tensor<4x8xf32>, %s: tensor<4x1xf32>, %z: tensor<4x1xi8>) -> tensor<4x8xf32> {
  // expected-error @+1 {{zero points must be ui8 of the scales' shape, not 'tensor<4x1xi8>'}}
  %0 = qopt.fake_quant %w scales %s zero_points %z {scheme = #qopt.scheme<int4, group = 8, asym, scale = f32>} : (tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x1xi8>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @fake_quant_dynamic_scales(%x: tensor<2x8xf32>, %s: tensor<2x1xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{dynamic fake-quant computes its scales: it takes no scale operands}}
  %0 = qopt.fake_quant %x scales %s {dynamic, scheme = #qopt.scheme<int8, group = 8, sym, scale = f32>} : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @fake_quant_dynamic_asym(%x: tensor<1x3x8xf32>) -> tensor<1x3x8xf32> {
  // expected-error @+1 {{dynamic (activation) fake-quant takes a symmetric int scheme}}
  %0 = qopt.fake_quant %x {dynamic, scheme = #qopt.scheme<int8, group = 8, asym, scale = f32>} : (tensor<1x3x8xf32>) -> tensor<1x3x8xf32>
  return %0 : tensor<1x3x8xf32>
}

// -----

func.func @fake_quant_result_type(%w: tensor<4x8xf32>) -> tensor<4x8xf16> {
  // expected-error @+1 {{result #0 has type 'tensor<4x8xf16>', incompatible with the inferred 'tensor<4x8xf32>'}}
  %0 = qopt.fake_quant %w {scheme = #qopt.scheme<int4, group = 8, sym, scale = f32>} : (tensor<4x8xf32>) -> tensor<4x8xf16>
  return %0 : tensor<4x8xf16>
}

// -----

func.func @gather_float_indices(%codes: tensor<100x128xui8>, %scales: tensor<100x2xf16>, %ids: tensor<3xf32>) -> tensor<3x256xf32> {
  // expected-error @+1 {{takes int32 or int64 indices}}
  %0 = qopt.quantized_gather %codes, %scales, %ids {row_size = 256 : i64, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16>}
       : (tensor<100x128xui8>, tensor<100x2xf16>, tensor<3xf32>) -> tensor<3x256xf32>
  return %0 : tensor<3x256xf32>
}

// -----

func.func @gather_double_quant(%codes: tensor<100x128xui8>, %scales: tensor<100x2xf16>, %ids: tensor<3xi64>) -> tensor<3x256xf32> {
  // expected-error @+1 {{expects scales of element type 'ui8'}}
  %0 = qopt.quantized_gather %codes, %scales, %ids {row_size = 256 : i64, scheme = #qopt.scheme<int4, group = 128, sym, scale = f16, double_quant = 256>}
       : (tensor<100x128xui8>, tensor<100x2xf16>, tensor<3xi64>) -> tensor<3x256xf32>
  return %0 : tensor<3x256xf32>
}

// -----

func.func @matmul_integer_float(%a: tensor<2x4xf32>, %b: tensor<4x3xi8>) -> tensor<2x3xi32> {
  // expected-error @+1 {{takes int8 or uint8 operands}}
  %0 = qopt.matmul_integer %a, %b : (tensor<2x4xf32>, tensor<4x3xi8>) -> tensor<2x3xi32>
  return %0 : tensor<2x3xi32>
}

// -----

func.func @qlinear_per_row_y_scale(%a: tensor<2x4xui8>, %s: tensor<f32>, %z: tensor<ui8>, %b: tensor<4x3xi8>, %bz: tensor<i8>, %ys: tensor<2xf32>) -> tensor<2x3xui8> {
  // expected-error @+1 {{y_scale must be a single value}}
  %0 = qopt.qlinear_matmul %a, %s, %z, %b, %s, %bz, %ys, %z : (tensor<2x4xui8>, tensor<f32>, tensor<ui8>, tensor<4x3xi8>, tensor<f32>, tensor<i8>, tensor<2xf32>, tensor<ui8>) -> tensor<2x3xui8>
  return %0 : tensor<2x3xui8>
}

// -----

func.func @qlinear_add_mixed_types(%a: tensor<4xui8>, %b: tensor<4xi8>, %s: tensor<f32>, %z: tensor<ui8>, %bz: tensor<i8>) -> tensor<4xui8> {
  // expected-error @+1 {{operands, zero points and result must share one element type}}
  %0 = qopt.qlinear_add %a, %s, %z, %b, %s, %bz, %s, %z : (tensor<4xui8>, tensor<f32>, tensor<ui8>, tensor<4xi8>, tensor<f32>, tensor<i8>, tensor<f32>, tensor<ui8>) -> tensor<4xui8>
  return %0 : tensor<4xui8>
}

// -----

func.func @qlinear_mul_per_axis_scale(%a: tensor<4xui8>, %s: tensor<f32>, %s4: tensor<4xf32>, %z: tensor<ui8>) -> tensor<4xui8> {
  // expected-error @+1 {{scales must be single f32 values}}
  %0 = qopt.qlinear_mul %a, %s4, %z, %a, %s, %z, %s, %z : (tensor<4xui8>, tensor<4xf32>, tensor<ui8>, tensor<4xui8>, tensor<f32>, tensor<ui8>, tensor<f32>, tensor<ui8>) -> tensor<4xui8>
  return %0 : tensor<4xui8>
}

// -----

func.func @qlinear_softmax_axis(%a: tensor<2x4xui8>, %s: tensor<f32>, %z: tensor<ui8>) -> tensor<2x4xui8> {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = qopt.qlinear_softmax %a, %s, %s, %z {axis = 2 : i64} : (tensor<2x4xui8>, tensor<f32>, tensor<f32>, tensor<ui8>) -> tensor<2x4xui8>
  return %0 : tensor<2x4xui8>
}

// -----

func.func @tile_rank(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %r = arith.constant dense<[1, 1, 1]> : tensor<3xi64>
  // expected-error @+1 {{has 3 repeats for an input of rank 2}}
  %0 = qopt.tile %x, %r : (tensor<2x3xf32>, tensor<3xi64>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @int8_activations_nf4(%x: tensor<1x64xf32>, %codes: tensor<8x32xui8>, %scales: tensor<8x1xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{int8_activations needs integer codes}}
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 64 : i64, int8_activations, scheme = #qopt.scheme<nf4, group = 64, sym, scale = f32>} : (tensor<1x64xf32>, tensor<8x32xui8>, tensor<8x1xf32>) -> tensor<1x8xf32>
  return %0 : tensor<1x8xf32>
}

// -----

func.func @fused_arguments(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{has 2 body arguments for 1 inputs}}
  %0 = qopt.fused_elementwise(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: f32, %b: f32):
    qopt.yield %a : f32
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @fused_argument_type(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{body argument 0 is 'f16', not the element type of its input}}
  %0 = qopt.fused_elementwise(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: f16):
    %e = arith.extf %a : f16 to f32
    qopt.yield %e : f32
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @fused_yield(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{result #0 has type 'tensor<4xf32>', incompatible with the inferred 'tensor<4xf16>'}}
  %0 = qopt.fused_elementwise(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: f32):
    %t = arith.truncf %a : f32 to f16
    qopt.yield %t : f16
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @fused_input_type(%x: tensor<4xi16>) -> tensor<4xf32> {
  // expected-error @+1 {{takes f32, f16, i1, i32 and i64 tensors only, not 'tensor<4xi16>'}}
  %0 = qopt.fused_elementwise(%x) : (tensor<4xi16>) -> tensor<4xf32> {
  ^bb0(%a: i16):
    %f = arith.sitofp %a : i16 to f32
    qopt.yield %f : f32
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @fused_body_op(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = qopt.fused_elementwise(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: f32):
    // expected-error @+1 {{cannot be part of a fused body (arith and math ops only)}}
    %t = tensor.from_elements %a : tensor<1xf32>
    qopt.yield %a : f32
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @fused_shape(%x: tensor<4xf32>, %y: tensor<3xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{cannot broadcast dimension 4 against 3}}
  %0 = qopt.fused_elementwise(%x, %y) : (tensor<4xf32>, tensor<3xf32>) -> tensor<4xf32> {
  ^bb0(%a: f32, %b: f32):
    qopt.yield %a : f32
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @fused_matmul_panels(%x: tensor<?x4xf32>, %w: tensor<2x4x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{weight must be [1, K, 8] panels, not 'tensor<2x4x8xf32>'}}
  %0 = qopt.fused_matmul(%x, %w) {n = 8 : i64, panel = 8 : i64} : (tensor<?x4xf32>, tensor<2x4x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  return %0 : tensor<?x8xf32>
}

// -----

func.func @fused_matmul_k(%x: tensor<?x5xf32>, %w: tensor<1x4x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{input's last dimension must be K = 4}}
  %0 = qopt.fused_matmul(%x, %w) {n = 8 : i64, panel = 8 : i64} : (tensor<?x5xf32>, tensor<1x4x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  return %0 : tensor<?x8xf32>
}

// -----

func.func @fused_matmul_result(%x: tensor<3x4xf32>, %w: tensor<1x4x8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{result #0 has type 'tensor<2x8xf32>', incompatible with the inferred 'tensor<3x8xf32>'}}
  %0 = qopt.fused_matmul(%x, %w) {n = 8 : i64, panel = 8 : i64} : (tensor<3x4xf32>, tensor<1x4x8xf32>) -> tensor<2x8xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  return %0 : tensor<2x8xf32>
}

// -----

func.func @fused_matmul_epilogue_width(%x: tensor<3x4xf32>, %w: tensor<1x4x8xf32>, %c: tensor<3x1xf32>) -> tensor<3x8xf32> {
  // expected-error @+1 {{epilogue input 'tensor<3x1xf32>' must have 8 as static last dimension}}
  %0 = qopt.fused_matmul(%x, %w, %c) {n = 8 : i64, panel = 8 : i64} : (tensor<3x4xf32>, tensor<1x4x8xf32>, tensor<3x1xf32>) -> tensor<3x8xf32> {
  ^bb0(%acc: f32, %e: f32):
    qopt.yield %acc : f32
  }
  return %0 : tensor<3x8xf32>
}

// -----

func.func @fused_matmul_arguments(%x: tensor<3x4xf32>, %w: tensor<1x4x8xf32>, %c: tensor<8xf32>) -> tensor<3x8xf32> {
  // expected-error @+1 {{body takes the product element and one element per epilogue input, all f32}}
  %0 = qopt.fused_matmul(%x, %w, %c) {n = 8 : i64, panel = 8 : i64} : (tensor<3x4xf32>, tensor<1x4x8xf32>, tensor<8xf32>) -> tensor<3x8xf32> {
  ^bb0(%acc: f32):
    qopt.yield %acc : f32
  }
  return %0 : tensor<3x8xf32>
}

// -----

func.func @fused_matmul_yield(%x: tensor<3x4xf32>, %w: tensor<1x4x8xf32>) -> tensor<3x8xf32> {
  // expected-error @+1 {{must yield one element of the result's element type}}
  %0 = qopt.fused_matmul(%x, %w) {n = 8 : i64, panel = 8 : i64} : (tensor<3x4xf32>, tensor<1x4x8xf32>) -> tensor<3x8xf32> {
  ^bb0(%acc: f32):
    %b = arith.cmpf olt, %acc, %acc : f32
    qopt.yield %b : i1
  }
  return %0 : tensor<3x8xf32>
}

// -----

func.func @panel_gather_rows(%p: tensor<2x16x32xf32>, %ids: tensor<3xi64>) -> tensor<3x16xf32> {
  // expected-error @+1 {{panels must be [ceil(80 / panel), K, panel], not 'tensor<2x16x32xf32>'}}
  %0 = qopt.panel_gather %p, %ids {n = 80 : i64} : (tensor<2x16x32xf32>, tensor<3xi64>) -> tensor<3x16xf32>
  return %0 : tensor<3x16xf32>
}

// -----

func.func @sparse_matmul_counts(%x: tensor<2x4xf32>, %o: tensor<3xi32>, %c: tensor<2xi32>, %v: tensor<3xf16>) -> tensor<2x2xf32> {
  // expected-error @+1 {{has 2 columns but 3 values}}
  %0 = qopt.sparse_matmul %x, %o, %c, %v {in_features = 4 : i64} : (tensor<2x4xf32>, tensor<3xi32>, tensor<2xi32>, tensor<3xf16>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @int8_and_bf16_activations(%x: tensor<2x4xf32>, %c: tensor<2x2xui8>, %s: tensor<2x1xf32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{int8_activations and bf16_activations exclude each other}}
  %0 = qopt.quantized_matmul %x, %c, %s {bf16_activations, in_features = 4 : i64, int8_activations, scheme = #qopt.scheme<int4, group = 4, sym, scale = f32>} : (tensor<2x4xf32>, tensor<2x2xui8>, tensor<2x1xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @static_scale_needs_int8(%x: tensor<2x4xf32>, %c: tensor<2x2xui8>, %s: tensor<2x1xf32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{activation_scale needs int8_activations}}
  %0 = qopt.quantized_matmul %x, %c, %s {activation_scale = 0.5 : f32, in_features = 4 : i64, scheme = #qopt.scheme<int4, group = 4, sym, scale = f32>} : (tensor<2x4xf32>, tensor<2x2xui8>, tensor<2x1xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @attention_heads(%q: tensor<1x3x2x8xf32>, %k: tensor<1x2x5x8xf32>, %v: tensor<1x2x5x8xf32>) -> tensor<1x3x2x8xf32> {
  // expected-error @+1 {{has 3 query heads, not a multiple of the 2 key heads}}
  %0 = qopt.attention %q, %k, %v : (tensor<1x3x2x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) -> tensor<1x3x2x8xf32>
  return %0 : tensor<1x3x2x8xf32>
}

// -----

func.func @attention_lengths(%q: tensor<1x2x2x8xf32>, %k: tensor<1x2x5x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x2x8xf32> {
  // expected-error @+1 {{has 5 keys but 4 values}}
  %0 = qopt.attention %q, %k, %v : (tensor<1x2x2x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x2x8xf32>
  return %0 : tensor<1x2x2x8xf32>
}

// -----

func.func @kv_append_width(%p: tensor<1x2x?x8xf32>, %n: tensor<1x2x1x4xf32>) -> tensor<1x2x?x8xf32> {
  // expected-error @+1 {{appended dimension 3 is 4, expected 8}}
  %0 = qopt.kv_append %p, %n {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x1x4xf32>) -> tensor<1x2x?x8xf32>
  return %0 : tensor<1x2x?x8xf32>
}

// -----

func.func @channel_panels_five_bit(%x: tensor<1x64xf32>, %codes: tensor<16x40xui8>, %scales: tensor<16x1xf32>) -> tensor<1x16xf32> {
  // expected-error @+1 {{channel_panels needs 4- or 8-bit codes or 2- or 3-bit integer codes, without double quantization}}
  %0 = qopt.quantized_matmul %x, %codes, %scales {channel_panels, in_features = 64 : i64, scheme = #qopt.scheme<int5, group = channel, sym, scale = f32>}
       : (tensor<1x64xf32>, tensor<16x40xui8>, tensor<16x1xf32>) -> tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}

// -----

func.func @channel_panels_three_bit_group(%x: tensor<1x64xf32>, %codes: tensor<16x24xui8>, %scales: tensor<16x8xf32>) -> tensor<1x16xf32> {
  // expected-error @+1 {{channel_panels needs in_features and groups multiples of 16 for 3-bit codes}}
  %0 = qopt.quantized_matmul %x, %codes, %scales {channel_panels, in_features = 64 : i64, scheme = #qopt.scheme<int3, group = 8, sym, scale = f32>}
       : (tensor<1x64xf32>, tensor<16x24xui8>, tensor<16x8xf32>) -> tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}

// -----

func.func @channel_panels_group(%x: tensor<1x64xf32>, %codes: tensor<16x32xui8>, %scales: tensor<16x16xf32>) -> tensor<1x16xf32> {
  // expected-error @+1 {{channel_panels needs in_features and groups multiples of 8 for 4-bit codes}}
  %0 = qopt.quantized_matmul %x, %codes, %scales {channel_panels, in_features = 64 : i64, scheme = #qopt.scheme<int4, group = 4, sym, scale = f32>}
       : (tensor<1x64xf32>, tensor<16x32xui8>, tensor<16x16xf32>) -> tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}
