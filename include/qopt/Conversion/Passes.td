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

#endif // QOPT_CONVERSION_PASSES_TD
