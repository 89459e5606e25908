//===- InitAll.h - register qopt's dialects and passes -----------*- C++ -*-===//
#ifndef QOPT_INITALL_H
#define QOPT_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace qopt {
/// Adds the qopt dialect and every upstream dialect that qopt's pipelines produce.
void registerAllDialects(mlir::DialectRegistry &registry);
/// Registers qopt's passes and pipelines together with upstream passes, for `qopt-opt`.
void registerAllPasses();
} // namespace qopt

#endif // QOPT_INITALL_H
