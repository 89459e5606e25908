//===- read_bandwidth.cpp - the machine's memory read bandwidth -----------===//
//
//   read_bandwidth [THREADS] [MIB]   (defaults: all cores, 1024)
//
// A STREAM-like read: THREADS threads sum disjoint parts of one buffer of MIB mebibytes (far
// larger than the caches), best of 10 passes. Prints "read_gb_s <GB/s>": the ceiling a kernel
// that streams weights from memory can reach, for bench/gemv.sh's fractions.
//
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <immintrin.h>
#include <thread>
#include <vector>

int main(int argc, char **argv) {
  unsigned threads = argc > 1 ? std::atoi(argv[1]) : std::thread::hardware_concurrency();
  size_t bytes = (argc > 2 ? std::atoll(argv[2]) : 1024) << 20;
  threads = std::max(1u, threads);
  size_t floats = bytes / sizeof(float);
  auto *data = static_cast<float *>(std::aligned_alloc(64, floats * sizeof(float)));
  // Touch every page from the thread that will read it, so each part is local to its reader.
  std::vector<std::thread> pool;
  size_t part = floats / threads / 32 * 32;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([=] { std::fill(data + t * part, data + (t + 1) * part, 1.0f); });
  for (auto &th : pool)
    th.join();
  double best = 1e30;
  std::vector<float> sums(threads);
  for (int pass = 0; pass < 10; ++pass) {
    pool.clear();
    auto t0 = std::chrono::steady_clock::now();
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const float *p = data + t * part;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t i = 0; i < part; i += 32) {
          a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
          a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
          a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
          a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
        }
        float out[8];
        _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        sums[t] = out[0] + out[7];
      });
    for (auto &th : pool)
      th.join();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  double total = 0;
  for (float s : sums)
    total += s;
  std::printf("read_gb_s %.2f (threads %u, %zu MiB, checksum %.0f)\n",
              double(part) * threads * sizeof(float) / best / 1e9, threads, bytes >> 20, total);
  std::free(data);
  return 0;
}
