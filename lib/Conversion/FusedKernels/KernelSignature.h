//===- KernelSignature.h - how generated kernels receive their operands -*- C++ -*-===//
//
// Every generated kernel is `void qopt_kernel_N(ptr operands)`: `operands` points to one MLIR
// memref descriptor per operand, written by the runtime (lib/Runtime/FusedKernels.cpp and
// GeneratedMatMul.cpp). These helpers build that function and read its operands as memrefs.
//
#ifndef QOPT_LIB_CONVERSION_FUSEDKERNELS_KERNELSIGNATURE_H
#define QOPT_LIB_CONVERSION_FUSEDKERNELS_KERNELSIGNATURE_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <optional>
#include <string>

namespace qopt {

/// A kernel function named `name` at `mb`'s insertion point, internal (the graph takes its address
/// rather than calling it by name): `body` fills its entry block from its operand array, then it
/// returns.
mlir::func::FuncOp
createKernelFunction(mlir::OpBuilder &mb, mlir::Location loc, llvm::StringRef name,
                     llvm::function_ref<void(mlir::OpBuilder &b, mlir::Value operands)> body);

/// A dynamically sized and strided memref of `rank` dims of `element`: how the runtime describes a
/// view (sizes, strides and offset chosen per call; a stride of 0 where it broadcasts).
mlir::MemRefType stridedViewType(mlir::Type element, int64_t rank);

/// Bytes per element of `element` in the runtime (a bool is one byte); 0 for a width it lacks.
int64_t runtimeElementBytes(mlir::Type element);

/// The element type and rank of a shaped value.
inline mlir::Type elementTypeOf(mlir::Value v) {
  return llvm::cast<mlir::ShapedType>(v.getType()).getElementType();
}
inline int64_t rankOf(mlir::Value v) { return llvm::cast<mlir::ShapedType>(v.getType()).getRank(); }

/// An element of an index tensor (an integer of any width) as an index into a dim of `dim`
/// elements: ONNX lets a negative index count from the end (GenerateIndexKernels.cpp). The
/// runtime checks the range before a kernel runs.
mlir::Value wrapTensorIndex(mlir::OpBuilder &b, mlir::Location loc, mlir::Value element,
                            mlir::Value dim);

/// Operand `index` of the kernel whose operand array is `operands`, as a memref of `type`.
mlir::Value loadKernelOperand(mlir::OpBuilder &b, mlir::Location loc, mlir::Value operands,
                              int64_t index, mlir::MemRefType type);

/// Builds the kernel computing a qopt.fused_matmul (GenerateMatMulKernel.cpp).
mlir::func::FuncOp generateMatMulKernel(mlir::OpBuilder &mb, mlir::Operation *fusedMatMul,
                                        llvm::StringRef name);

/// Whether `op` is a qopt.matmul of two f32 operands of rank 2 or more (batched products of
/// activations), which generateActivationMatMulKernel builds kernels for.
bool hasActivationMatMulForm(mlir::Operation *op);

/// Builds the kernel computing one [M, K] x [K, N] product of a qopt.matmul, K and N read at run
/// time, on vectors of `lanes` f32 (GenerateMatMulKernel.cpp).
mlir::func::FuncOp generateActivationMatMulKernel(mlir::OpBuilder &mb, mlir::Operation *matmul,
                                                  llvm::StringRef name, int64_t lanes);

/// Whether `op` is a qopt.quantized_matmul on f32 activations (not int8 ones), whose runtime
/// kernel decodes weight panels for a generated panel kernel when there are many rows.
bool hasQuantizedMatMulForm(mlir::Operation *op);

/// Builds a kernel multiplying rows of K by weight panels [P, K, panel] into N columns, with no
/// epilogue (GenerateMatMulKernel.cpp): the runtime fills the panels, decoding quantized codes.
mlir::func::FuncOp generatePanelMatMulKernel(mlir::OpBuilder &mb, mlir::Operation *op,
                                             llvm::StringRef name, int64_t k, int64_t n,
                                             int64_t panel);

/// The discardable attribute giving the panel width of a generated panel kernel, which the runtime
/// needs to lay out what it decodes.
constexpr llvm::StringLiteral kKernelPanelAttrName = "qopt.kernel_panel";

/// Whether `op` is a softmax over its last axis, an RMSNorm or a LayerNorm on f32, which
/// generateRowKernel builds kernels for.
bool hasRowKernelForm(mlir::Operation *op);

/// Builds the row kernel computing `op` (GenerateRowKernels.cpp) on vectors of `lanes` f32.
mlir::func::FuncOp generateRowKernel(mlir::OpBuilder &mb, mlir::Operation *op,
                                     llvm::StringRef name, int64_t lanes);

/// The most dims a generated data kernel takes (the runtime's QOPT_MAX_RANK).
constexpr int64_t kMaxKernelRank = 8;

/// The generated kernel a data-movement op or reduction uses: its rank, the bytes of the elements
/// it moves, and a key that ops sharing one kernel have in common.
struct DataKernelForm {
  int64_t rank;
  int64_t bytes;
  std::string key;
};

/// The data kernel form of `op`: transpose, slice, split, concat and expand (a strided copy
/// of the view's rank), gather along any axis with i32 or i64 indices (rank 3), f32 and i64
/// reductions (the input's rank) and the index kernel forms below; none for other ops, element
/// widths the runtime lacks or ranks past kMaxKernelRank.
std::optional<DataKernelForm> dataKernelForm(mlir::Operation *op);

/// The kernel form of the ops computed from element positions (GenerateIndexKernels.cpp): Range
/// (f32, i32, i64), Trilu, Tile, ConstantOfShape, GatherElements, GatherND and CumSum (f32, i32,
/// i64).
/// dataKernelForm includes these.
std::optional<DataKernelForm> indexKernelForm(mlir::Operation *op);

/// Builds the kernel of an op that has an index kernel form.
mlir::func::FuncOp generateIndexKernel(mlir::OpBuilder &mb, mlir::Operation *op,
                                       llvm::StringRef name);

/// Builds the data kernel of `op` (GenerateDataKernels.cpp).
mlir::func::FuncOp generateDataKernel(mlir::OpBuilder &mb, mlir::Operation *op,
                                      llvm::StringRef name);

/// Discardable attributes telling the runtime call a data kernel's rank and element bytes.
constexpr llvm::StringLiteral kKernelRankAttrName = "qopt.kernel_rank";
constexpr llvm::StringLiteral kKernelBytesAttrName = "qopt.kernel_bytes";

/// The discardable attribute naming the generated kernel of an op that is not a fused op.
constexpr llvm::StringLiteral kKernelAttrName = "qopt.kernel";

} // namespace qopt

#endif // QOPT_LIB_CONVERSION_FUSEDKERNELS_KERNELSIGNATURE_H
