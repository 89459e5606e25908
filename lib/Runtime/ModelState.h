//===- ModelState.h - a loaded model, shared by the C API's parts -*- C++ -*-===//
#ifndef QOPT_LIB_RUNTIME_MODELSTATE_H
#define QOPT_LIB_RUNTIME_MODELSTATE_H

#include "Tensor.h"

#include <string>
#include <vector>

namespace qopt::rt {
/// One graph input or output of the signature.
struct ValueInfo {
  std::string name;
  int32_t dtype;
  std::vector<int64_t> dims;
};
} // namespace qopt::rt

struct qopt_model {
  qopt::rt::Context ctx;
  void *mapping = nullptr;
  size_t mappingSize = 0;
  std::vector<qopt::rt::ValueInfo> inputs, outputs;
  /// KV-cache inputs that a session may append to in place (the signature's `kv` lines).
  std::vector<int> inPlaceCaches;
  std::string error;
  /// The GPU a CUDA library runs on, -1 for a CPU library.
  int device = -1;
};

namespace qopt::rt {
/// Runs the graph on inputs already checked against the signature; `cacheSlots` (one per input,
/// or null) lets KV-cache appends write into a session's buffers. 0 on success, else -1 with
/// the message in `m->error`.
int runModel(qopt_model *m, const qopt_tensor *inputs, int numInputs, qopt_tensor *outputs,
             int numOutputs, const std::vector<CacheSlot> *cacheSlots);
} // namespace qopt::rt

#endif // QOPT_LIB_RUNTIME_MODELSTATE_H
