// RUN: qopt-opt %s --split-input-file --qopt-pack-channel-panels | FileCheck %s
// Packing then reading the weight back (qopt-dequantize-weights unpacks panels) gives the same
// dequantized weight as reading the rows directly.
// RUN: qopt-opt %s --split-input-file --qopt-dequantize-weights --canonicalize > %t.rows
// RUN: qopt-opt %s --split-input-file --qopt-pack-channel-panels --qopt-dequantize-weights --canonicalize > %t.panels
// RUN: diff %t.rows %t.panels
// RUN: qopt-opt %s --split-input-file --qopt-pack-channel-panels --qopt-dequantize-weights --canonicalize | FileCheck %s --check-prefix=DEQ

// 17 channels, K = 16, groups of 8, zero points: channels 0-15 form one panel, channel 16 keeps
// the row layout. Code (r, i) = (3r + i) mod 16. The panel's first block (inputs 0-7) is 64
// bytes, byte 4j + t = code(j, t) | code(j, t + 4) << 4: channel 0 gives 0x40 0x51 0x62 0x73,
// channel 1 0x73 0x84 0x95 0xA6. The scales and zero points of the panel are stored group by
// group, 16 channels each: scale (r, g) = (10r + g + 1) / 64, zero (r, g) = (r + g) mod 16.
// CHECK-LABEL: func.func @asymmetric
// CHECK: %[[C:.*]] = arith.constant dense_resource<codes.panels> : tensor<17x8xui8>
// CHECK: %[[S:.*]] = arith.constant dense_resource<scales.panels> : tensor<17x2xf32>
// CHECK: %[[Z:.*]] = arith.constant dense_resource<zero_points.panels> : tensor<17x2xui8>
// CHECK: qopt.quantized_matmul %{{.*}}, %[[C]], %[[S]] zero_points %[[Z]] {{[{]}}channel_panels, in_features = 16
// CHECK: codes.panels: "0x4000000040516273738495A6A6B7C8D9D9EAFB0C0C1D2E3F3F4051626273849595A6B7C8C8D9EAFBFB0C1D2E2E3F4051516273848495A6B7B7C8D9EAEAFB0C1D1D2E3F40C8D9EAFBFB0C1D2E2E3F4051516273848495A6B7B7C8D9EAEAFB0C1D1D2E3F4040516273738495A6A6B7C8D9D9EAFB0C0C1D2E3F3F4051626273849595A6B7C81032547698BADCFE"
// CHECK-DAG: scales.panels: "0x400000000000803C0000303E0000A83E0000F83E0000243F00004C3F0000743F00008E3F0000A23F0000B63F0000CA3F0000DE3F0000F23F0000034000000D40000017400000003D0000403E0000B03E0000003F0000283F0000503F0000783F0000903F0000A43F0000B83F0000CC3F0000E03F0000F43F0000044000000E40000018400000214000002240"
// CHECK-DAG: zero_points.panels: "0x40000000000102030405060708090A0B0C0D0E0F0102030405060708090A0B0C0D0E0F000001"
// DEQ-LABEL: func.func @asymmetric
// DEQ: qopt.matmul
func.func @asymmetric(%x: tensor<2x16xf32>) -> tensor<2x17xf32> {
  %codes = arith.constant dense<[[16, 50, 84, 118, 152, 186, 220, 254], [67, 101, 135, 169, 203, 237, 15, 33], [118, 152, 186, 220, 254, 16, 50, 84], [169, 203, 237, 15, 33, 67, 101, 135], [220, 254, 16, 50, 84, 118, 152, 186], [15, 33, 67, 101, 135, 169, 203, 237], [50, 84, 118, 152, 186, 220, 254, 16], [101, 135, 169, 203, 237, 15, 33, 67], [152, 186, 220, 254, 16, 50, 84, 118], [203, 237, 15, 33, 67, 101, 135, 169], [254, 16, 50, 84, 118, 152, 186, 220], [33, 67, 101, 135, 169, 203, 237, 15], [84, 118, 152, 186, 220, 254, 16, 50], [135, 169, 203, 237, 15, 33, 67, 101], [186, 220, 254, 16, 50, 84, 118, 152], [237, 15, 33, 67, 101, 135, 169, 203], [16, 50, 84, 118, 152, 186, 220, 254]]> : tensor<17x8xui8>
  %scales = arith.constant dense<[[0.015625, 0.03125], [0.171875, 0.1875], [0.328125, 0.34375], [0.484375, 0.5], [0.640625, 0.65625], [0.796875, 0.8125], [0.953125, 0.96875], [1.109375, 1.125], [1.265625, 1.28125], [1.421875, 1.4375], [1.578125, 1.59375], [1.734375, 1.75], [1.890625, 1.90625], [2.046875, 2.0625], [2.203125, 2.21875], [2.359375, 2.375], [2.515625, 2.53125]]> : tensor<17x2xf32>
  %zeros = arith.constant dense<[[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 7], [7, 8], [8, 9], [9, 10], [10, 11], [11, 12], [12, 13], [13, 14], [14, 15], [15, 0], [0, 1]]> : tensor<17x2xui8>
  %0 = qopt.quantized_matmul %x, %codes, %scales zero_points %zeros {in_features = 16 : i64, scheme = #qopt.scheme<int4, group = 8, asym, scale = f32>}
       : (tensor<2x16xf32>, tensor<17x8xui8>, tensor<17x2xf32>, tensor<17x2xui8>) -> tensor<2x17xf32>
  return %0 : tensor<2x17xf32>
}

// -----

// Codes a tied embedding's gather also reads keep the row layout, as do 5-bit codes (no panel
// layout holds them) and fewer than 16 channels.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: channel_panels
// CHECK: return
func.func @left_alone(%x: tensor<1x16xf32>, %ids: tensor<1xi64>) -> (tensor<1x16xf32>, tensor<1x16xf32>, tensor<1x16xf32>, tensor<1x8xf32>) {
  %codes = arith.constant dense<17> : tensor<16x8xui8>
  %scales = arith.constant dense<1.0> : tensor<16x1xf16>
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 16 : i64, scheme = #qopt.scheme<int4, group = channel, sym, scale = f16>}
       : (tensor<1x16xf32>, tensor<16x8xui8>, tensor<16x1xf16>) -> tensor<1x16xf32>
  %1 = qopt.quantized_gather %codes, %scales, %ids {row_size = 16 : i64, scheme = #qopt.scheme<int4, group = channel, sym, scale = f16>}
       : (tensor<16x8xui8>, tensor<16x1xf16>, tensor<1xi64>) -> tensor<1x16xf32>
  %codes5 = arith.constant dense<17> : tensor<16x10xui8>
  %2 = qopt.quantized_matmul %x, %codes5, %scales {in_features = 16 : i64, scheme = #qopt.scheme<int5, group = channel, sym, scale = f16>}
       : (tensor<1x16xf32>, tensor<16x10xui8>, tensor<16x1xf16>) -> tensor<1x16xf32>
  %codes_few = arith.constant dense<17> : tensor<8x8xui8>
  %scales_few = arith.constant dense<1.0> : tensor<8x1xf16>
  %3 = qopt.quantized_matmul %x, %codes_few, %scales_few {in_features = 16 : i64, scheme = #qopt.scheme<int4, group = channel, sym, scale = f16>}
       : (tensor<1x16xf32>, tensor<8x8xui8>, tensor<8x1xf16>) -> tensor<1x8xf32>
  return %0, %1, %2, %3 : tensor<1x16xf32>, tensor<1x16xf32>, tensor<1x16xf32>, tensor<1x8xf32>
}

// -----

// 8-bit integer codes: 4 inputs a block, byte 4j + t = code(j, t). Code (r, i) = 16r + i, so
// channel 0's first block reads 00 01 02 03 and channel 1's 10 11 12 13; the second block
// (inputs 4-7) starts 04 05 06 07.
// CHECK-LABEL: func.func @eight_bit
// CHECK: qopt.quantized_matmul {{.*}}channel_panels
// CHECK: codes.panels: "0x40000000000102031011121320212223{{.*}}F0F1F2F3040506071415161724
func.func @eight_bit(%x: tensor<1x8xf32>) -> tensor<1x16xf32> {
  %codes = arith.constant dense<[[0, 1, 2, 3, 4, 5, 6, 7], [16, 17, 18, 19, 20, 21, 22, 23],
      [32, 33, 34, 35, 36, 37, 38, 39], [48, 49, 50, 51, 52, 53, 54, 55],
      [64, 65, 66, 67, 68, 69, 70, 71], [80, 81, 82, 83, 84, 85, 86, 87],
      [96, 97, 98, 99, 100, 101, 102, 103], [112, 113, 114, 115, 116, 117, 118, 119],
      [128, 129, 130, 131, 132, 133, 134, 135], [144, 145, 146, 147, 148, 149, 150, 151],
      [160, 161, 162, 163, 164, 165, 166, 167], [176, 177, 178, 179, 180, 181, 182, 183],
      [192, 193, 194, 195, 196, 197, 198, 199], [208, 209, 210, 211, 212, 213, 214, 215],
      [224, 225, 226, 227, 228, 229, 230, 231], [240, 241, 242, 243, 244, 245, 246, 247]]> : tensor<16x8xui8>
  %scales = arith.constant dense<0.5> : tensor<16x2xf32>
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 8 : i64, scheme = #qopt.scheme<int8, group = 4, sym, scale = f32>}
       : (tensor<1x8xf32>, tensor<16x8xui8>, tensor<16x2xf32>) -> tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}

// -----

// FP8 codes take the 8-bit layout.
// CHECK-LABEL: func.func @fp8
// CHECK: qopt.quantized_matmul {{.*}}channel_panels
// CHECK: codes.panels: "0x40000000000102031011121320212223{{.*}}F0F1F2F3040506071415161724
func.func @fp8(%x: tensor<1x8xf32>) -> tensor<1x16xf32> {
  %codes = arith.constant dense<[[0, 1, 2, 3, 4, 5, 6, 7], [16, 17, 18, 19, 20, 21, 22, 23],
      [32, 33, 34, 35, 36, 37, 38, 39], [48, 49, 50, 51, 52, 53, 54, 55],
      [64, 65, 66, 67, 68, 69, 70, 71], [80, 81, 82, 83, 84, 85, 86, 87],
      [96, 97, 98, 99, 100, 101, 102, 103], [112, 113, 114, 115, 116, 117, 118, 119],
      [128, 129, 130, 131, 132, 133, 134, 135], [144, 145, 146, 147, 148, 149, 150, 151],
      [160, 161, 162, 163, 164, 165, 166, 167], [176, 177, 178, 179, 180, 181, 182, 183],
      [192, 193, 194, 195, 196, 197, 198, 199], [208, 209, 210, 211, 212, 213, 214, 215],
      [224, 225, 226, 227, 228, 229, 230, 231], [240, 241, 242, 243, 244, 245, 246, 247]]> : tensor<16x8xui8>
  %scales = arith.constant dense<0.5> : tensor<16x2xf32>
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 8 : i64, scheme = #qopt.scheme<fp8_e4m3, group = 4, sym, scale = f32>}
       : (tensor<1x8xf32>, tensor<16x8xui8>, tensor<16x2xf32>) -> tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}

// -----

// 2-bit codes: 16 inputs a block, byte 4j + t holds code(j, t + 4c) in bits 2c, 2c + 1. Code
// (r, i) = (r + i) mod 4, so channel 0's bytes are t repeated in every pair of bits (00 55 AA FF)
// and channel 1's start one code later (55 AA FF 00).
// CHECK-LABEL: func.func @two_bit
// CHECK: qopt.quantized_matmul {{.*}}channel_panels
// CHECK: codes.panels: "0x400000000055AAFF55AAFF00AAFF0055FF0055AA0055AAFF55AAFF00AAFF0055FF0055AA0055AAFF55AAFF00AAFF0055FF0055AA0055AAFF55AAFF00AAFF0055FF0055AA"
func.func @two_bit(%x: tensor<1x16xf32>) -> tensor<1x16xf32> {
  %codes = arith.constant dense<[[228, 228, 228, 228], [57, 57, 57, 57], [78, 78, 78, 78], [147, 147, 147, 147],
      [228, 228, 228, 228], [57, 57, 57, 57], [78, 78, 78, 78], [147, 147, 147, 147],
      [228, 228, 228, 228], [57, 57, 57, 57], [78, 78, 78, 78], [147, 147, 147, 147],
      [228, 228, 228, 228], [57, 57, 57, 57], [78, 78, 78, 78], [147, 147, 147, 147]]> : tensor<16x4xui8>
  %scales = arith.constant dense<0.5> : tensor<16x1xf32>
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 16 : i64, scheme = #qopt.scheme<int2, group = 16, sym, scale = f32>}
       : (tensor<1x16xf32>, tensor<16x4xui8>, tensor<16x1xf32>) -> tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}

// -----

// 3-bit codes: 16 inputs in 96 bytes. The first 64 hold the low two bits as 2-bit codes do (byte
// 4j + t: code(j, t + 4c) & 3 in bits 2c, 2c + 1); then four 8-byte masks, mask c's bit 4j + t
// the high bit of code(j, 4c + t). Code (r, i) = (i + 4 * (r mod 2)) mod 8: every channel's low
// bits read 00 55 AA FF; the high bit is set for inputs 4-7 and 12-15 of even channels (masks 1
// and 3: bits 4j .. 4j + 3 for even j, bytes 0F) and inputs 0-3 and 8-11 of odd ones (masks 0
// and 2: bytes F0).
// CHECK-LABEL: func.func @three_bit
// CHECK: qopt.quantized_matmul {{.*}}channel_panels
// CHECK: codes.panels: "0x400000000055AAFF0055AAFF0055AAFF0055AAFF0055AAFF0055AAFF0055AAFF0055AAFF0055AAFF0055AAFF0055AAFF0055AAFF0055AAFF0055AAFF0055AAFF0055AAFFF0F0F0F0F0F0F0F00F0F0F0F0F0F0F0FF0F0F0F0F0F0F0F00F0F0F0F0F0F0F0F"
func.func @three_bit(%x: tensor<1x16xf32>) -> tensor<1x16xf32> {
  %codes = arith.constant dense<[[136, 198, 250, 136, 198, 250], [172, 143, 104, 172, 143, 104], [136, 198, 250, 136, 198, 250], [172, 143, 104, 172, 143, 104], [136, 198, 250, 136, 198, 250], [172, 143, 104, 172, 143, 104], [136, 198, 250, 136, 198, 250], [172, 143, 104, 172, 143, 104], [136, 198, 250, 136, 198, 250], [172, 143, 104, 172, 143, 104], [136, 198, 250, 136, 198, 250], [172, 143, 104, 172, 143, 104], [136, 198, 250, 136, 198, 250], [172, 143, 104, 172, 143, 104], [136, 198, 250, 136, 198, 250], [172, 143, 104, 172, 143, 104]]> : tensor<16x6xui8>
  %scales = arith.constant dense<0.5> : tensor<16x1xf32>
  %0 = qopt.quantized_matmul %x, %codes, %scales {in_features = 16 : i64, scheme = #qopt.scheme<int3, group = 16, sym, scale = f32>}
       : (tensor<1x16xf32>, tensor<16x6xui8>, tensor<16x1xf32>) -> tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}
