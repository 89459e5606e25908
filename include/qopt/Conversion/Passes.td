//===- Passes.td - qopt conversion passes ------------------*- tablegen -*-===//
// clang-format off

#ifndef QOPT_CONVERSION_PASSES_TD
#define QOPT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQOptToRuntimePass : Pass<"qopt-convert-qopt-to-runtime", "::mlir::ModuleOp"> {
  let summary = "Lowers @main to LLVM-dialect calls into qopt's kernel runtime";
  let description = [{
    Turns the graph in `func.func @main` into `llvm.func @qopt_graph(%ctx)`: every qopt op becomes
    a call of `qopt_rt_exec` with its opcode and attributes (KernelABI.h), every constant a view into
    the weights file (`qopt_rt_weight` at the offset this pass assigns), and each value is released
    after its last use. It also emits `qopt_signature` (the inputs and outputs) and
    `qopt_weights_id`, which ties the library to its weights file.

    Before:
    ```mlir
    func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
      %0 = qopt.exp %x : tensor<2xf32>
      return %0 : tensor<2xf32>
    }
    ```
    After (abridged):
    ```mlir
    llvm.func @qopt_graph(%ctx: !llvm.ptr) {
      %x = llvm.call @qopt_rt_input(%ctx, %c0) : (!llvm.ptr, i64) -> !llvm.ptr
      llvm.call @qopt_rt_exec(%ctx, %opcode_exp, %ins, %c1, %outs, %c1, ...)
      llvm.call @qopt_rt_output(%ctx, %c0, %y) : (!llvm.ptr, i64, !llvm.ptr) -> ()
      ...
    }
    ```
  }];
  let options = [
    Option<"weightsFile", "weights-file", "std::string", "\"\"",
           "Where to write the weights (none: only lay them out)">,
  ];
  let statistics = [
    Statistic<"numKernelCalls", "num-kernel-calls", "Kernel calls emitted">,
    Statistic<"numWeightBytes", "num-weight-bytes", "Bytes of constants in the weights file">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def OutlineFusedKernelsPass : Pass<"qopt-outline-fused-kernels", "::mlir::ModuleOp"> {
  let summary = "Outlines fused ops into kernels: linalg loop nests, register-tiled matmuls";
  let description = [{
    Every `qopt.fused_matmul` becomes a kernel built in the vector dialect
    (GenerateMatMulKernel.cpp): for a block of up to 8 rows and one weight panel it keeps the
    accumulators in vector registers over K (`vector.load` of the panel row, `vector.broadcast`
    of one activation per row, `vector.fma`), then applies the op's epilogue on vectors and stores
    (`vector.maskedstore` where the last panel is partial). Its operands are the activation
    rows, the packed weight, the output, an i64 parameter buffer (the rows and panels this call
    computes, then each epilogue input's row stride) and the epilogue inputs, all as
    `memref<?xf32>` (`memref<?xi64>`); the runtime splits rows and panels across threads.

    With `row-kernels`, every `qopt.softmax` over the last axis, `qopt.rms_norm` and
    `qopt.layer_norm` on f32 gets a row kernel on vectors of `lanes` (GenerateRowKernels.cpp): per
    row of a [rows, width] view, a vector-accumulated reduction (max and sum of exponentials; sum
    of squares; mean and variance), then the rewrite of the row, with a masked step for the
    columns past the last whole vector. The op keeps its form and is marked with a `qopt.kernel`
    attribute naming the function.

    With `matmul-kernels`, every `qopt.matmul` of two f32 operands of rank 2 or more (attention's
    scores and values) is marked the same way, its kernel the register-tiled matmul kernel with K
    and N read from the parameters (then K, N after the four range words) and the rhs read as
    row-major rows with masked loads; the runtime calls it per product of the batch.


    With `data-kernels`, transpose, slice, split, concat and expand get a strided copy
    kernel (`linalg.copy` between two dynamically strided memrefs of integers of the element's
    width; one per rank and width, shared), gather a `linalg.generic` that loads the row each
    index names, and f32 and i64 reductions a `linalg.generic` reducing the trailing dims of a
    view the runtime permutes. Range, trilu, tile, constant_of_shape and gather_elements get
    `linalg.generic`s
    (or a `linalg.fill`) computing each element from its position; gather_nd and cum_sum small
    `scf` loop nests (a tuple's offset summed, then its slice copied; a scan adding the previous
    output row). The op keeps its form, marked with `qopt.kernel`, `qopt.kernel_rank` and
    `qopt.kernel_bytes`.

    For every `qopt.fused_elementwise` in `@main`, adds `func.func @qopt_kernel_N(%operands:
    !llvm.ptr)` marked `qopt.kernel`, whose body is one all-parallel `linalg.generic` computing the
    fused body over strided memrefs of the result's rank, and names it in the op's `kernel`
    attribute. `%operands` points to one memref descriptor per input and then the output's; the
    runtime describes each input with the result's sizes and a stride of 0 where it broadcasts,
    so one kernel serves every shape the graph's dynamic dimensions take. Splitting the outer
    dimension across threads is also the runtime's, by offsetting the descriptors.

    ```mlir
    func.func @qopt_kernel_0(%operands: !llvm.ptr) attributes {qopt.kernel} {
      // %in, %out: memref<?x?xf32, strided<[?, ?], offset: ?>> read from %operands
      linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
          ins(%in : ...) outs(%out : ...) {
      ^bb0(%x: f32, %unused: f32):
        %e = math.exp %x : f32
        linalg.yield %e : f32
      }
      return
    }
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::LLVM::LLVMDialect", "::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
  let options = [
    Option<"rowKernels", "row-kernels", "bool", "true",
           "generate kernels for softmax, RMSNorm and LayerNorm">,
    Option<"matmulKernels", "matmul-kernels", "bool", "true",
           "generate kernels for qopt.matmul of two activations">,
    Option<"dataKernels", "data-kernels", "bool", "true",
           "generate kernels for data movement (transpose, slice, split, concat, expand, tile, "
           "gather), f32 and i64 reductions, and range, trilu, constant_of_shape, gather_elements, "
           "gather_nd and cum_sum">,
    Option<"lanes", "lanes", "int64_t", "16",
           "f32 lanes of a vector in the row kernels and activation matmul kernels">,
  ];
}

def LowerKernelsToLLVMPass : Pass<"qopt-lower-kernels-to-llvm", "::mlir::ModuleOp"> {
  let summary = "Lowers the outlined kernels (qopt.kernel functions) to the LLVM dialect";
  let description = [{
    Lowers only the functions marked `qopt.kernel`, leaving `@main` to
    `qopt-convert-qopt-to-runtime`: linalg to loops, the math functions that libm would compute
    one call per element (exp, log, tanh, erf, sin, cos) to polynomial approximations that the
    loop vectorizer can widen, then strided metadata, affine, scf, cf, arith, math, memref and
    func to LLVM.
  }];
}

def GenerateGpuKernelsPass : Pass<"qopt-generate-gpu-kernels", "::mlir::ModuleOp"> {
  let summary = "Builds GPU kernels (gpu.func in gpu.module @qopt_gpu) for the ops a GPU runs";
  let description = [{
    For the CUDA target. Every op of `@main` that has a GPU form gets a `gpu.func` in
    `gpu.module @qopt_gpu` and a `qopt.gpu_kernel` attribute naming it; the runtime launches it
    on device-resident tensors and runs every other op on the CPU, moving tensors as needed.

    - `qopt.fused_elementwise` (f32, i1, i32 and i64 elements): one thread per element of the
      result over a 4-D index space, each input read through its own strides (0 where it
      broadcasts); the body is cloned in. Blocks of 256 threads.
    - `qopt.rms_norm`, `qopt.layer_norm` over the last axis and `qopt.softmax` over the last
      axis, on f32: one block of 256 threads per row; the row's sums and maximum are
      `gpu.all_reduce`s.
    - `qopt.quantized_matmul` with 4-bit integer codes in groups of a multiple of 32 (f16, bf16
      or f32 scales, with or without zero points), f32 activations: one warp per output channel
      and 1 or 4 activation rows per block (`_r1`, `_r4`), each lane decoding 32 codes from one
      16-byte load, the dot products reduced across the warp with `gpu.shuffle`; and for 16
      rows and more, `_tc`: `nvvm.mma.sync` m16n8k16 on f16 operands with f32 accumulation,
      the codes decoded to f16 in registers, four warps splitting K and summing their 16 x 8
      tiles in shared memory.

    ```mlir
    gpu.module @qopt_gpu {
      gpu.func @qopt_gpu_ew_0(%out: !llvm.ptr<1>, %n: i64, ...) kernel { ... }
    }
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
  let statistics = [
    Statistic<"numGpuKernels", "num-gpu-kernels", "GPU kernels built">,
  ];
}

def LowerGpuKernelsPass : Pass<"qopt-lower-gpu-kernels", "::mlir::ModuleOp"> {
  let summary = "Lowers gpu.module @qopt_gpu to NVVM and, with chips given, to an embedded fatbin";
  let description = [{
    Lowers the kernels of `qopt-generate-gpu-kernels` to the NVVM dialect: math functions to the
    same polynomial approximations as the CPU kernels (fma, fabs and sqrt to libdevice, which
    serialization links from the toolkit), scf to cf, then `convert-gpu-to-nvvm`
    (which also lowers `gpu.all_reduce` and `gpu.shuffle`). With `chips` (say `sm_80,sm_90`) it
    then attaches one `#nvvm.target` per chip, serializes the module with `gpu-module-to-binary`
    (LLVM's NVPTX back end, then CUDA's `ptxas` and `fatbinary` from `toolkit`: one fatbin of
    machine code and PTX per chip), and replaces it with the global `qopt_cuda_images` that the
    CUDA runtime loads: "QOPTCUDA", the image count, then per image its chip (say 90) and size as
    little-endian 64-bit words and its bytes.
  }];
  let options = [
    Option<"chips", "chips", "std::string", "\"\"",
           "comma-separated sm_NN list to serialize for (none: stop at NVVM)">,
    Option<"toolkit", "toolkit", "std::string", "\"/usr/local/cuda\"",
           "the CUDA toolkit whose ptxas and fatbinary serialize the kernels">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::NVVM::NVVMDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

#endif // QOPT_CONVERSION_PASSES_TD
