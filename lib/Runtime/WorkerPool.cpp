//===- WorkerPool.cpp - the runtime's own threads -------------------------===//
#include "WorkerPool.h"

#include <chrono>
#include <immintrin.h>

using namespace qopt::rt;

namespace {
/// How long a worker spins for the next job before it sleeps. Short: while it spins it holds a
/// core that BLAS's own threads may want.
constexpr auto kSpinTime = std::chrono::microseconds(30);

/// Part `part` of `parts` of [0, n).
std::pair<int64_t, int64_t> partRange(int64_t n, int parts, int part) {
  return {n * part / parts, n * (part + 1) / parts};
}
} // namespace

WorkerPool::WorkerPool(int threads) {
  for (int i = 1; i < threads; ++i)
    workers.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
    generation.fetch_add(1);
  }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

void WorkerPool::runParts() {
  for (int part = nextPart.fetch_add(1, std::memory_order_relaxed); part < jobParts;
       part = nextPart.fetch_add(1, std::memory_order_relaxed)) {
    auto [begin, end] = partRange(jobSize, jobParts, part);
    if (begin < end)
      (*job)(begin, end);
  }
}

void WorkerPool::work() {
  uint64_t seen = 0;
  while (true) {
    uint64_t now = generation.load(std::memory_order_acquire);
    auto spinEnd = std::chrono::steady_clock::now() + kSpinTime;
    for (int spin = 1; now == seen; ++spin) {
      _mm_pause();
      now = generation.load(std::memory_order_acquire);
      if (spin % 64 == 0 && std::chrono::steady_clock::now() > spinEnd)
        break;
    }
    if (now == seen) {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return generation.load() != seen; });
      now = generation.load();
    }
    seen = now;
    if (stopping)
      return;
    runParts();
    pending.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void WorkerPool::parallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)> &body) {
  if (n <= 0)
    return;
  int64_t maxParts = grain > 0 ? (n + grain - 1) / grain : n;
  int parts = static_cast<int>(std::min<int64_t>(int64_t(size()) * kPartsPerThread, maxParts));
  if (parts <= 1 || workers.empty()) {
    body(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    job = &body;
    jobSize = n;
    jobParts = parts;
    nextPart.store(0, std::memory_order_relaxed);
    pending.store(static_cast<int>(workers.size()), std::memory_order_release);
    generation.fetch_add(1, std::memory_order_acq_rel);
  }
  wake.notify_all();
  runParts();
  while (pending.load(std::memory_order_acquire) != 0)
    _mm_pause();
}
