//===- KernelABI.h - between generated code and the runtime kernels -*- C++ -*-===//
//
// A compiled model's code is one function, `void qopt_graph(void *ctx)`, that walks the graph as
// a sequence of calls into the runtime, plus `const char qopt_signature[]` describing its inputs and
// outputs. This header is the contract between qopt's code generator and lib/Runtime; it is the only
// thing the two share, and it includes nothing from MLIR or LLVM.
//
// Signature text, one line per graph input or output:
//   `in|out <name> <dtype> <rank> <dim>...` with dim -1 where symbolic,
// then one line `kv <input index>` per KV-cache input that a session may append to in place.
//
#ifndef QOPT_RUNTIME_KERNELABI_H
#define QOPT_RUNTIME_KERNELABI_H

#include <cstdint>

namespace qopt::rt {

/// Operation codes of qopt_rt_exec, with the integer (I) and float (F) attributes each takes.
/// Operand lists are the qopt op's operands in order, null where an optional one is absent.
enum class Opcode : int64_t {
  // Unary elementwise; no attributes.
  Neg, Abs, Sqrt, Reciprocal, Exp, Log, Tanh, Erf, Sigmoid, Sin, Cos, Relu, Floor, Ceil, Not, Silu,
  IsNaN,
  Gelu,  // I: tanh approximation (0/1)
  Cast,  // I: target dtype
  // Broadcasting binary; no attributes.
  Add, Sub, Mul, Div, Pow, Max, Min, Mod, And, Or,
  Equal, Less, LessEqual, Greater, GreaterEqual,
  Where,
  // Shapes and data movement.
  Shape,          // I: first dim, end dim (both normalized)
  Gather,         // I: axis
  GatherElements, // I: axis
  GatherND,       // I: batch_dims
  Concat,         // I: axis
  Range,
  CumSum,         // I: axis, exclusive, reverse
  Expand,
  Reshape,        // I: allowzero
  Transpose,      // I: perm...
  Slice,
  Split,          // I: axis; one output per part
  Squeeze,        // I: axes... (normalized)
  Unsqueeze,      // I: axes... (normalized, positions in the output)
  ConstantOfShape,// I: dtype, integer value; F: float value
  Trilu,          // I: upper
  // Linear algebra, norms, reductions.
  MatMul,         // I: (optional) rhs given transposed as [N, K]
  Gemm,           // I: transA, transB; F: alpha, beta
  Softmax,        // I: axis (normalized)
  LayerNorm,      // I: axis (normalized); F: epsilon
  RMSNorm,        // F: epsilon
  ReduceMean,     // I: keepdims, axes... (normalized; none = all)
  ReduceSum,
  ReduceMax,
  ReduceMin,
  // Packed quantized weights. I: codebook (0 int, 1 nf4, 2 fp4, 3 fp8_e4m3, 4 bnb_fp4), bits, group size
  // (0: one per row), symmetric, scale dtype (or uint8 codes when double-quantized),
  // double-quantization block (0: none), K (the row length).
  QuantMatMul,    // operands: input, codes, scales, zero points?, second-level scales?
                  // an eighth I (optional): 1 = quantize the input to int8 per group, 2 =
                  // round it to bf16 (kActivationsInt8, kActivationsBf16); a ninth:
                  // a static int8 input scale's f32 bits (0: none); a tenth: 1 = the codes are
                  // in channel panels (qopt/Quant/ChannelPanels.h)
  QuantGather,    // operands: codes, scales, zero points?, second-level scales?, indices
  // ONNX's integer quantization ops.
  Quantize,       // I: axis (normalized), block size, saturate, storage dtype
  Dequantize,     // I: axis (normalized), block size
  DynamicQuantize,
  MatMulInteger,  // operands: a, b, a zero point?, b zero point?
  QLinearMatMul,
  // Added after the ranges above (their numbering is part of compiled libraries' ABI).
  Round,          // unary elementwise, halves to even
  Sign,           // unary elementwise
  Tile,           // operands: input, repeats
  ReduceProd,     // I: as ReduceMean
  QLinearAdd,     // operands: a, a scale, a zero point, b, ..., c scale, c zero point;
                  // I: compute int8 shifted to uint8 (optional)
  QLinearMul,
  QLinearSoftmax, // I: axis (normalized), flatten tail; operands: x, x scale, y scale, y zero point
  FusedElementwise, // I: rank, output dtype; operands: the kernel (FusedKernelFn), then f32, f16,
                    // bool, int32 or int64 inputs
  Xor,              // broadcasting binary on bool
  FusedMatMul,      // I: K, N, panel width; operands: the kernel (FusedKernelFn), the f32 input
                    // [..., K], the packed weight [ceil(N / panel), K, panel], epilogue inputs
  RowKernel,        // I: first reduced dim; operands: the kernel (FusedKernelFn), the f32 input,
                    // then a norm's scale and bias (generated softmax, RMSNorm, LayerNorm)
  PanelGather,      // I: N; operands: packed panels [ceil(N / panel), K, panel], int indices
  MatMulKernel,     // as MatMul (I: the rhs is transposed, optional), the generated kernel
                    // (FusedKernelFn) first among the operands
  QuantMatMulKernel, // as QuantMatMul, the generated panel kernel (FusedKernelFn) first among the
                     // operands; the eighth I: 0 or kActivationsBf16; a ninth: its panel width;
                     // a tenth: channel panels, as above
  Generated,         // I: the opcode performed, the generated kernel's rank, its element
                     // bytes, then that opcode's attributes; operands: the kernel
                     // (FusedKernelFn), then that opcode's operands. Data movement (Transpose,
                     // Slice, Expand, Concat, Split: a strided copy of that rank; Gather: a lookup
                     // of rank 3), f32 and i64 reductions (ReduceSum, ReduceMean, ReduceMax,
                     // ReduceMin, ReduceProd: the input's rank, its trailing dims reduced), and
                     // Range, Trilu, Tile, ConstantOfShape, GatherElements, GatherND, CumSum
  SparseMatMul,      // I: K; operands: the f32 input [..., K], row offsets [N + 1] (i32), columns
                     // (i32), values (f16): a CSR weight [N, K] (a quantized layer's outliers)
  Attention,         // F: scale; operands: query [B, H, S, D], key and value [B, Hkv, T, D],
                     // mask? (added to the scores, broadcast against [B, H, S, T])
  KVAppend,          // I: axis (2), the graph input index of `past`; operands: past, new.
                     // In a session with that input's cache: appends in place, the result a
                     // strided view of the cache; otherwise a concat
  NumOpcodes
};

/// QuantMatMul's eighth integer attribute: what happens to the input before the products.
constexpr int64_t kActivationsInt8 = 1;
constexpr int64_t kActivationsBf16 = 2;

/// A generated elementwise kernel (qopt-outline-fused-kernels): `operands` points to one MLIR
/// memref descriptor per input and then the output's, all of the output's rank: allocated and
/// aligned data pointers, offset, sizes, strides, in elements. Inputs carry the output's sizes
/// and a stride of 0 where they broadcast.
using FusedKernelFn = void (*)(void **operands);

} // namespace qopt::rt

extern "C" {
/// Defined by the generated object: the instruction set the library was compiled for (0: AVX2
/// and FMA; 1: AVX-VNNI; 2: AVX-512 with VNNI), checked against the CPU when a model is created.
extern const int32_t qopt_isa;
/// Graph input `index` as passed to qopt_model_run.
void *qopt_rt_input(void *ctx, int64_t index);
/// A constant: `rank` dims at `dims`, element type `dtype`, at byte `offset` of the weights file.
void *qopt_rt_weight(void *ctx, int64_t dtype, int64_t offset, int64_t rank, const int64_t *dims);
/// Runs one op. Inputs and outputs are tensor handles; outputs are written into `outs`.
void qopt_rt_exec(void *ctx, int64_t opcode, void **ins, int64_t numIns, void **outs,
                  int64_t numOuts, const int64_t *intAttrs, int64_t numIntAttrs,
                  const double *floatAttrs, int64_t numFloatAttrs);
/// In a CUDA library (qopt-compile --target=cuda): runs one op with GPU kernel `kernel` (the
/// name of a function in qopt_cuda_images) where the runtime can, else as qopt_rt_exec does.
void qopt_rt_exec_gpu(void *ctx, const char *kernel, int64_t opcode, void **ins, int64_t numIns,
                      void **outs, int64_t numOuts, const int64_t *intAttrs, int64_t numIntAttrs,
                      const double *floatAttrs, int64_t numFloatAttrs);
/// Makes `tensor` graph output `index`.
void qopt_rt_output(void *ctx, int64_t index, void *tensor);
/// The generated code is done with `tensor`.
void qopt_rt_release(void *ctx, void *tensor);
}

#endif // QOPT_RUNTIME_KERNELABI_H
