//===- Generation.cpp - decoding loops over a generation session ----------===//
#include "Generation.h"

#include "qopt/Support/Npy.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

using namespace qopt::run;

namespace {
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// A session that is destroyed with its scope.
struct Session {
  const Api &api;
  qopt_session *session;
  Session(const Api &api, qopt_model *model, int64_t capacity)
      : api(api), session(api.sessionCreate(model, capacity)) {
    if (!session)
      die(api.error(model));
  }
  ~Session() { api.sessionDestroy(session); }
};

/// The row of the last position of `logits` ([1, n, vocabulary]).
const float *lastRow(const qopt_tensor &logits) {
  return static_cast<const float *>(logits.data) + (logits.dims[1] - 1) * logits.dims[2];
}

int64_t chooseToken(const float *row, int64_t vocabulary, const Sampling &sampling,
                    std::mt19937_64 &rng) {
  if (sampling.temperature <= 0.0)
    return std::max_element(row, row + vocabulary) - row;
  std::vector<int64_t> order(vocabulary);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
  int64_t keep = sampling.topK > 0 ? std::min(sampling.topK, vocabulary) : vocabulary;
  std::vector<double> p(keep);
  double sum = 0.0;
  for (int64_t k = 0; k < keep; ++k) {
    p[k] = std::exp((row[order[k]] - row[order[0]]) / sampling.temperature);
    sum += p[k];
  }
  // Nucleus: the smallest prefix (by probability) whose mass reaches top-p.
  double mass = 0.0;
  for (int64_t k = 0; k < keep; ++k) {
    mass += p[k] / sum;
    if (mass >= sampling.topP) {
      keep = k + 1;
      break;
    }
  }
  std::discrete_distribution<int64_t> pick(p.begin(), p.begin() + keep);
  return order[pick(rng)];
}
} // namespace

GenerationStats qopt::run::generate(const Api &api, qopt_model *model, qopt_session *session,
                                    std::vector<int64_t> &tokens, int64_t count,
                                    const Sampling &sampling) {
  GenerationStats stats;
  if (tokens.empty())
    die("the prompt is empty");
  api.reset(session);
  std::mt19937_64 rng(sampling.seed);
  qopt_tensor logits;
  auto t0 = Clock::now();
  if (api.prefill(session, tokens.data(), static_cast<int64_t>(tokens.size()), &logits) != 0)
    die(api.error(model));
  stats.prefillSeconds = secondsSince(t0);
  stats.prefillTokens = static_cast<int64_t>(tokens.size());
  t0 = Clock::now();
  for (int64_t k = 0; k < count; ++k) {
    int64_t next = chooseToken(lastRow(logits), logits.dims[2], sampling, rng);
    tokens.push_back(next);
    if (k + 1 == count)
      break; // the last token needs no logits after it
    if (api.decode(session, next, &logits) != 0)
      die(api.error(model));
    ++stats.decodeTokens;
  }
  stats.decodeSeconds = secondsSince(t0);
  return stats;
}

std::vector<float> qopt::run::scoreTokens(const Api &api, qopt_model *model, qopt_session *session,
                                          const std::vector<int64_t> &tokens, int64_t prefill,
                                          int64_t &vocabulary) {
  int64_t n = static_cast<int64_t>(tokens.size());
  if (prefill <= 0 || prefill > n)
    prefill = n;
  api.reset(session);
  std::vector<float> all;
  qopt_tensor logits;
  auto keep = [&](const qopt_tensor &l) {
    vocabulary = l.dims[2];
    const float *p = static_cast<const float *>(l.data);
    all.insert(all.end(), p, p + l.dims[1] * l.dims[2]);
  };
  if (api.prefill(session, tokens.data(), prefill, &logits) != 0)
    die(api.error(model));
  keep(logits);
  for (int64_t k = prefill; k < n; ++k) {
    if (api.decode(session, tokens[k], &logits) != 0)
      die(api.error(model));
    keep(logits);
  }
  return all;
}

double qopt::run::perplexity(const Api &api, qopt_model *model, const std::vector<int64_t> &tokens,
                             int64_t ctx) {
  if (tokens.size() < 2)
    die("too few tokens to score");
  Session s(api, model, ctx);
  double nll = 0.0;
  int64_t scored = 0;
  for (size_t start = 0; start + 1 < tokens.size(); start += ctx) {
    int64_t len = std::min<int64_t>(ctx, static_cast<int64_t>(tokens.size() - 1 - start));
    api.reset(s.session);
    qopt_tensor logits;
    if (api.prefill(s.session, tokens.data() + start, len, &logits) != 0)
      die(api.error(model));
    int64_t vocabulary = logits.dims[2];
    const float *l = static_cast<const float *>(logits.data);
    for (int64_t p = 0; p < len; ++p) {
      const float *row = l + p * vocabulary;
      float mx = *std::max_element(row, row + vocabulary);
      double sum = 0.0;
      for (int64_t v = 0; v < vocabulary; ++v)
        sum += std::exp(static_cast<double>(row[v] - mx));
      int64_t target = tokens[start + p + 1];
      if (target < 0 || target >= vocabulary)
        die("token " + std::to_string(target) + " is outside the vocabulary of " +
            std::to_string(vocabulary));
      nll += std::log(sum) + mx - row[target];
      ++scored;
    }
  }
  return std::exp(nll / scored);
}

std::vector<int64_t> qopt::run::readTokens(const std::string &path) {
  qopt::npy::Array a;
  std::string err = qopt::npy::read(path, a);
  if (!err.empty())
    die(err);
  if (a.shape.empty() || a.shape.size() > 2 || (a.shape.size() == 2 && a.shape[0] != 1))
    die(path + ": tokens must be an array of shape [n] or [1, n]");
  int64_t n = a.shape.back();
  std::vector<int64_t> tokens(n);
  for (int64_t k = 0; k < n; ++k) {
    switch (a.dtype) {
    case QOPT_INT64: tokens[k] = reinterpret_cast<const int64_t *>(a.data.data())[k]; break;
    case QOPT_INT32: tokens[k] = reinterpret_cast<const int32_t *>(a.data.data())[k]; break;
    case QOPT_UINT8: tokens[k] = reinterpret_cast<const uint8_t *>(a.data.data())[k]; break;
    default: die(path + ": tokens must be int64, int32 or uint8");
    }
    if (tokens[k] < 0)
      die(path + ": token " + std::to_string(tokens[k]) + " is negative");
  }
  return tokens;
}
