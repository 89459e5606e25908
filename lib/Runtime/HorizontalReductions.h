//===- HorizontalReductions.h - reducing the lanes of an AVX2 vector -*- C++ -*-===//
//
// The sum or maximum of a 256-bit vector's eight lanes, for kernels that accumulate in vector
// lanes and reduce once at the end.
//
#ifndef QOPT_LIB_RUNTIME_HORIZONTALREDUCTIONS_H
#define QOPT_LIB_RUNTIME_HORIZONTALREDUCTIONS_H

#include <cstdint>
#include <immintrin.h>

namespace qopt::rt {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

inline int32_t hsumInt(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_hadd_epi32(s, s);
  s = _mm_hadd_epi32(s, s);
  return _mm_cvtsi128_si32(s);
}

} // namespace qopt::rt

#endif // QOPT_LIB_RUNTIME_HORIZONTALREDUCTIONS_H
