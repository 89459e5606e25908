//===- Generation.h - decoding loops over a generation session ---*- C++ -*-===//
#ifndef QOPT_TOOLS_QOPT_RUN_GENERATION_H
#define QOPT_TOOLS_QOPT_RUN_GENERATION_H

#include "ModelLibrary.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qopt::run {

/// How the next token is chosen: greedy when temperature is 0, else sampled from the softmax at
/// that temperature, restricted to the top-k tokens (0: all) and the smallest set whose
/// probability reaches top-p (1: all).
struct Sampling {
  double temperature = 0.0;
  int64_t topK = 0;
  double topP = 1.0;
  uint64_t seed = 0;
};

/// Timings of one generation.
struct GenerationStats {
  int64_t prefillTokens = 0, decodeTokens = 0;
  double prefillSeconds = 0.0, decodeSeconds = 0.0;
};

/// Appends `count` tokens to `tokens` (the prompt), decoding in `session` (reset first; it must
/// have room for the prompt and the new tokens).
GenerationStats generate(const Api &api, qopt_model *model, qopt_session *session,
                         std::vector<int64_t> &tokens, int64_t count, const Sampling &sampling);

/// Teacher-forced logits of `tokens` through `session` (reset first; room for all of them): the
/// first `prefill` in one step, then one token per step. Returns [tokens.size() x vocabulary]
/// row-major; `vocabulary` is set.
std::vector<float> scoreTokens(const Api &api, qopt_model *model, qopt_session *session,
                               const std::vector<int64_t> &tokens, int64_t prefill,
                               int64_t &vocabulary);

/// Perplexity of `tokens` over non-overlapping windows of `ctx` tokens, each window scored by
/// one prefill of a fresh session (model input [1, window], logits [1, window, vocabulary]).
double perplexity(const Api &api, qopt_model *model, const std::vector<int64_t> &tokens,
                  int64_t ctx);

/// The tokens of a .npy file of integers ([n] or [1, n]).
std::vector<int64_t> readTokens(const std::string &path);

} // namespace qopt::run

#endif // QOPT_TOOLS_QOPT_RUN_GENERATION_H
