// Invalid options of qopt-select-precision are one diagnostic each.
// RUN: not qopt-opt %s --qopt-select-precision="wbits=9" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not qopt-opt %s --qopt-select-precision="wbits=8 wtype=nf4" 2>&1 | FileCheck %s --check-prefix=NF4
// RUN: not qopt-opt %s --qopt-select-precision="wbits=4 wtype=int8" 2>&1 | FileCheck %s --check-prefix=WTYPE
// RUN: not qopt-opt %s --qopt-select-precision="wbits=4 scale-type=f64" 2>&1 | FileCheck %s --check-prefix=SCALE
// RUN: not qopt-opt %s --qopt-select-precision="wbits=4 layer-bits=.*=12" 2>&1 | FileCheck %s --check-prefix=RULE
// RUN: not qopt-opt %s --qopt-select-precision="wbits=4 layer-bits=(=4" 2>&1 | FileCheck %s --check-prefix=REGEX
// RUN: not qopt-opt %s --qopt-select-precision="wtype=fp4 sym=false" 2>&1 | FileCheck %s --check-prefix=ASYM

// BITS: error: int schemes take 2 to 8 bits, not 9
// NF4: error: nf4 codes are 4 bits wide, not 8
// WTYPE: error: wtype 'int8' is not int, nf4, fp4 or fp8
// SCALE: error: scale-type 'f64' is not f16, bf16 or f32
// RULE: error: layer-bits rule '.*=12' is not REGEX=BITS (2-8) or REGEX=none
// REGEX: error: layer-bits rule '(=4': bad regular expression
// ASYM: error: only int schemes take zero points ('asym')
func.func @f(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w = arith.constant dense<1.0> : tensor<4x4xf32>
  %0 = qopt.matmul %x, %w : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
