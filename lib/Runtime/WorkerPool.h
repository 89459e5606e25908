//===- WorkerPool.h - the runtime's own threads ------------------*- C++ -*-===//
//
// Kernels that are not BLAS calls (the quantized matmuls) split their work across the model's
// threads through this pool. Workers spin briefly between jobs, since a model's matmuls come a few
// microseconds apart, then sleep so that they leave the cores to BLAS.
//
#ifndef QOPT_LIB_RUNTIME_WORKERPOOL_H
#define QOPT_LIB_RUNTIME_WORKERPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qopt::rt {

class WorkerPool {
public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool &) = delete;
  WorkerPool &operator=(const WorkerPool &) = delete;

  int size() const { return static_cast<int>(workers.size()) + 1; }
  /// Calls `body(begin, end)` on contiguous parts of [0, n), at least `grain` long, in parallel,
  /// and returns when all are done. The calling thread takes parts too. Parts are handed out
  /// as threads ask for them (up to kPartsPerThread per thread), so a thread slowed by other
  /// work on its core takes fewer instead of holding the others up.
  void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)> &body);

private:
  static constexpr int kPartsPerThread = 4;

  void work();

  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  bool stopping = false;
  // The current job.
  const std::function<void(int64_t, int64_t)> *job = nullptr;
  int64_t jobSize = 0;
  int jobParts = 0;
  std::atomic<int> nextPart{0};
  /// Takes parts of the current job until none is left.
  void runParts();
};

} // namespace qopt::rt

#endif // QOPT_LIB_RUNTIME_WORKERPOOL_H
