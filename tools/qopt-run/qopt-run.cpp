//===- qopt-run.cpp - run a model compiled by qopt-compile ----------------===//
//
//   qopt-run model.so --input input_ids=ids.npy --output out.npy [--threads N] [--bench N]
//   qopt-run model.so --ppl valid.txt --ctx 256          (bytes as tokens)
//   qopt-run model.so --ppl-tokens tokens.npy --ctx 256   (any tokenizer's ids)
//   qopt-run model.so --generate "prompt" -n 128          (byte-level models: text out)
//   qopt-run model.so --generate-ids ids.npy -n 128 --output out.npy [--bench N]
//   qopt-run model.so --score-ids ids.npy --prefill 8 --output logits.npy
//
// Loads the library with dlopen and talks to it only through its C ABI (qopt_model.h); links no
// MLIR. Every failure is one line on stderr and exit code 1.
//
#include "Generation.h"
#include "ModelLibrary.h"
#include "qopt/Support/Npy.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

using namespace qopt::run;

[[noreturn]] void qopt::run::die(const std::string &message) {
  std::fprintf(stderr, "qopt-run: error: %s\n", message.c_str());
  std::exit(1);
}

namespace {
void usage() {
  std::fprintf(stderr,
               "usage: qopt-run MODEL.so [--weights FILE] [--threads N] [--device cpu|cuda:N]\n"
               "         [--input NAME=FILE.npy]... [--output FILE.npy]... [--bench N]\n"
               "         [--ppl TEXT_FILE | --ppl-tokens TOKENS.npy] [--ctx N]\n"
               "         [--generate TEXT | --generate-ids IDS.npy] [-n N] [--temperature T]\n"
               "         [--top-k K] [--top-p P] [--seed S]\n"
               "         [--score-ids IDS.npy [--prefill N] --output LOGITS.npy]\n");
  std::exit(1);
}

template <typename Fn> Fn symbol(void *lib, const char *name, const std::string &path) {
  void *p = dlsym(lib, name);
  if (!p)
    die(path + " is not a qopt model (no symbol " + name + ")");
  return reinterpret_cast<Fn>(p);
}

int64_t parseCount(const std::string &flag, const std::string &value) {
  char *end = nullptr;
  long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end || v < 0)
    die(flag + " takes a non-negative integer, got '" + value + "'");
  return v;
}

double parseNumber(const std::string &flag, const std::string &value, double lo, double hi) {
  char *end = nullptr;
  double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end || !(v >= lo && v <= hi))
    die(flag + " takes a number from " + std::to_string(lo) + " to " + std::to_string(hi) +
        ", got '" + value + "'");
  return v;
}

std::vector<int64_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    die("cannot read " + path);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), {});
  return std::vector<int64_t>(bytes.begin(), bytes.end());
}

/// Says on stderr how `session` keeps its model's KV cache.
void reportCacheMode(const Api &api, const qopt_session *session) {
  int mode = api.cacheMode(session);
  if (mode > 0)
    std::fprintf(stderr, "kv cache: appended in place\n");
  else if (mode == 0)
    std::fprintf(stderr, "kv cache: copied each step (its attention was not fused)\n");
  else
    std::fprintf(stderr, "kv cache: none; every step reruns the whole sequence, which is slow "
                         "(export the model with past_key_values)\n");
}

/// A session with room for `capacity` tokens, or the model's error.
qopt_session *createSession(const Api &api, qopt_model *model, int64_t capacity) {
  qopt_session *session = api.sessionCreate(model, capacity);
  if (!session)
    die(api.error(model));
  return session;
}

void printRate(const char *what, int64_t tokens, double seconds) {
  std::fprintf(stderr, "%s: %lld tokens in %.1f ms, %.1f tokens/s\n", what,
               static_cast<long long>(tokens), seconds * 1e3,
               seconds > 0 ? tokens / seconds : 0.0);
}
} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    usage();
  std::string libraryPath = argv[1], weightsPath, pplPath, pplTokensPath, prompt, promptIds,
              scoreIds;
  bool generateText = false;
  int64_t newTokens = 32, prefill = 0;
  Sampling sampling;
  std::vector<std::pair<std::string, std::string>> inputs;
  std::vector<std::string> outputs;
  int64_t threads = 0, bench = 0, ctx = 256;
  std::string deviceSpec; // --device, empty for the library's own default
  int device = -1;
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--input") {
      std::string spec = value();
      size_t eq = spec.find('=');
      if (eq == std::string::npos || eq == 0)
        die("--input takes NAME=FILE.npy, got '" + spec + "'");
      inputs.push_back({spec.substr(0, eq), spec.substr(eq + 1)});
    } else if (flag == "--output") {
      outputs.push_back(value());
    } else if (flag == "--weights") {
      weightsPath = value();
    } else if (flag == "--threads") {
      threads = parseCount(flag, value());
    } else if (flag == "--device") {
      deviceSpec = value();
      if (deviceSpec == "cpu")
        device = -1;
      else if (deviceSpec.rfind("cuda:", 0) == 0 && deviceSpec.size() > 5)
        device = static_cast<int>(parseCount(flag, deviceSpec.substr(5)));
      else if (deviceSpec == "cuda")
        device = 0;
      else
        die("--device takes cpu or cuda:N, got '" + deviceSpec + "'");
    } else if (flag == "--bench") {
      bench = parseCount(flag, value());
    } else if (flag == "--ppl") {
      pplPath = value();
    } else if (flag == "--ppl-tokens") {
      pplTokensPath = value();
    } else if (flag == "--generate") {
      prompt = value();
      generateText = true;
    } else if (flag == "--generate-ids") {
      promptIds = value();
    } else if (flag == "--score-ids") {
      scoreIds = value();
    } else if (flag == "--prefill") {
      prefill = parseCount(flag, value());
    } else if (flag == "-n") {
      newTokens = parseCount(flag, value());
    } else if (flag == "--temperature") {
      sampling.temperature = parseNumber(flag, value(), 0.0, 100.0);
    } else if (flag == "--top-k") {
      sampling.topK = parseCount(flag, value());
    } else if (flag == "--top-p") {
      sampling.topP = parseNumber(flag, value(), 1e-6, 1.0);
    } else if (flag == "--seed") {
      sampling.seed = static_cast<uint64_t>(parseCount(flag, value()));
    } else if (flag == "--ctx") {
      ctx = parseCount(flag, value());
      if (ctx == 0)
        die("--ctx must be positive");
    } else {
      die("unknown flag '" + flag + "'");
    }
  }
  if (weightsPath.empty()) {
    size_t dot = libraryPath.rfind('.');
    size_t slash = libraryPath.rfind('/');
    weightsPath = (dot != std::string::npos && (slash == std::string::npos || dot > slash)
                       ? libraryPath.substr(0, dot)
                       : libraryPath) +
                  ".weights";
  }
  std::string loadPath = libraryPath.find('/') == std::string::npos ? "./" + libraryPath
                                                                     : libraryPath;
  void *lib = dlopen(loadPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    die("cannot load " + libraryPath + ": " + dlerror());
  Api api{symbol<decltype(api.create)>(lib, "qopt_model_create", libraryPath),
          symbol<decltype(api.destroy)>(lib, "qopt_model_destroy", libraryPath),
          symbol<decltype(api.run)>(lib, "qopt_model_run", libraryPath),
          symbol<decltype(api.error)>(lib, "qopt_model_error", libraryPath),
          symbol<decltype(api.lastError)>(lib, "qopt_last_error", libraryPath),
          symbol<decltype(api.numInputs)>(lib, "qopt_model_num_inputs", libraryPath),
          symbol<decltype(api.numOutputs)>(lib, "qopt_model_num_outputs", libraryPath),
          symbol<decltype(api.inputName)>(lib, "qopt_model_input_name", libraryPath),
          symbol<decltype(api.outputName)>(lib, "qopt_model_output_name", libraryPath),
          symbol<decltype(api.inputInfo)>(lib, "qopt_model_input_info", libraryPath),
          symbol<decltype(api.sessionCreate)>(lib, "qopt_session_create", libraryPath),
          symbol<decltype(api.sessionDestroy)>(lib, "qopt_session_destroy", libraryPath),
          symbol<decltype(api.prefill)>(lib, "qopt_session_prefill", libraryPath),
          symbol<decltype(api.decode)>(lib, "qopt_session_decode", libraryPath),
          symbol<decltype(api.reset)>(lib, "qopt_session_reset", libraryPath),
          symbol<decltype(api.cacheMode)>(lib, "qopt_session_cache_mode", libraryPath)};
  qopt_model *model = nullptr;
  if (deviceSpec.empty()) {
    model = api.create(weightsPath.c_str(), static_cast<int>(threads));
  } else {
    auto createOn = reinterpret_cast<decltype(&qopt_model_create_on)>(
        dlsym(lib, "qopt_model_create_on"));
    auto deviceOf = reinterpret_cast<decltype(&qopt_model_device)>(dlsym(lib, "qopt_model_device"));
    if (!createOn || !deviceOf)
      die(libraryPath + " predates --device: recompile it");
    model = createOn(weightsPath.c_str(), static_cast<int>(threads), device);
    if (model && device < 0 && deviceOf(model) >= 0)
      die(libraryPath + " was compiled with --target=cuda and runs on a GPU: use --device cuda:N");
  }
  if (!model)
    die(api.lastError());

  int modes = !pplPath.empty() + !pplTokensPath.empty() + generateText + !promptIds.empty() +
              !scoreIds.empty();
  if (modes > 1)
    die("--ppl, --ppl-tokens, --generate, --generate-ids and --score-ids exclude each other");
  if (!pplPath.empty() || !pplTokensPath.empty()) {
    std::vector<int64_t> tokens =
        pplPath.empty() ? readTokens(pplTokensPath) : readBytes(pplPath);
    std::printf("ppl %.4f\n", perplexity(api, model, tokens, ctx));
    api.destroy(model);
    return 0;
  }
  if (generateText || !promptIds.empty()) {
    if (!promptIds.empty() && outputs.size() != 1)
      die("--generate-ids writes its tokens to one --output FILE.npy");
    std::vector<int64_t> tokens;
    if (generateText)
      tokens.assign(reinterpret_cast<const unsigned char *>(prompt.data()),
                    reinterpret_cast<const unsigned char *>(prompt.data()) + prompt.size());
    else
      tokens = readTokens(promptIds);
    const std::vector<int64_t> promptTokens = tokens;
    // One session for every run: a generator keeps its cache buffers between requests.
    qopt_session *session =
        createSession(api, model, static_cast<int64_t>(promptTokens.size()) + newTokens);
    reportCacheMode(api, session);
    GenerationStats stats = generate(api, model, session, tokens, newTokens, sampling);
    // --bench N: N more generations after this warm-up one; the best rates are reported.
    for (int64_t r = 0; r < bench; ++r) {
      std::vector<int64_t> again = promptTokens;
      GenerationStats next = generate(api, model, session, again, newTokens, sampling);
      if (r == 0 || next.prefillSeconds < stats.prefillSeconds)
        stats.prefillSeconds = next.prefillSeconds;
      if (r == 0 || next.decodeSeconds < stats.decodeSeconds)
        stats.decodeSeconds = next.decodeSeconds;
    }
    if (generateText) {
      std::string text;
      for (int64_t t : tokens)
        text.push_back(static_cast<char>(t));
      std::printf("%s\n", text.c_str());
    } else {
      std::string err = qopt::npy::write(outputs[0], QOPT_INT64,
                                         {1, static_cast<int64_t>(tokens.size())}, tokens.data());
      if (!err.empty())
        die(err);
    }
    api.sessionDestroy(session);
    printRate("prefill", static_cast<int64_t>(promptTokens.size()), stats.prefillSeconds);
    printRate("decode", stats.decodeTokens, stats.decodeSeconds);
    api.destroy(model);
    return 0;
  }
  if (!scoreIds.empty()) {
    if (outputs.size() != 1)
      die("--score-ids writes the logits to one --output FILE.npy");
    std::vector<int64_t> tokens = readTokens(scoreIds);
    qopt_session *session = createSession(api, model, static_cast<int64_t>(tokens.size()));
    reportCacheMode(api, session);
    int64_t vocabulary = 0;
    std::vector<float> logits = scoreTokens(api, model, session, tokens, prefill, vocabulary);
    api.sessionDestroy(session);
    std::string err = qopt::npy::write(
        outputs[0], QOPT_FLOAT32, {1, static_cast<int64_t>(tokens.size()), vocabulary},
        logits.data());
    if (!err.empty())
      die(err);
    api.destroy(model);
    return 0;
  }

  // Inputs in the model's order, matched by name.
  int numInputs = api.numInputs(model), numOutputs = api.numOutputs(model);
  std::map<std::string, std::string> byName(inputs.begin(), inputs.end());
  if (byName.size() != inputs.size())
    die("an input is given twice");
  std::vector<qopt::npy::Array> arrays(numInputs);
  std::vector<qopt_tensor> tensors(numInputs);
  for (int k = 0; k < numInputs; ++k) {
    std::string name = api.inputName(model, k);
    auto it = byName.find(name);
    if (it == byName.end())
      die("missing input '" + name + "' (--input " + name + "=FILE.npy)");
    std::string err = qopt::npy::read(it->second, arrays[k]);
    if (!err.empty())
      die(err);
    if (arrays[k].shape.size() > QOPT_MAX_RANK)
      die(it->second + " has too many dimensions");
    tensors[k].dtype = arrays[k].dtype;
    tensors[k].rank = static_cast<int32_t>(arrays[k].shape.size());
    for (size_t d = 0; d < arrays[k].shape.size(); ++d)
      tensors[k].dims[d] = arrays[k].shape[d];
    tensors[k].data = arrays[k].data.data();
    byName.erase(it);
  }
  if (!byName.empty())
    die("the model has no input '" + byName.begin()->first + "'");
  if (!outputs.empty() && static_cast<int>(outputs.size()) != numOutputs)
    die("the model has " + std::to_string(numOutputs) + " outputs; give one --output for each");

  std::vector<qopt_tensor> results(numOutputs);
  std::vector<double> times;
  for (int64_t r = 0; r < std::max<int64_t>(1, bench + (bench ? 1 : 0)); ++r) {
    auto t0 = std::chrono::steady_clock::now();
    if (api.run(model, tensors.data(), numInputs, results.data(), numOutputs) != 0)
      die(api.error(model));
    auto t1 = std::chrono::steady_clock::now();
    if (r > 0 || !bench) // the first of a benchmark's runs warms up
      times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  if (bench) {
    std::sort(times.begin(), times.end());
    std::printf("runs %lld median %.3f ms min %.3f ms\n", static_cast<long long>(times.size()),
                times[times.size() / 2], times.front());
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    std::vector<int64_t> shape(results[k].dims, results[k].dims + results[k].rank);
    std::string err = qopt::npy::write(outputs[k], results[k].dtype, shape, results[k].data);
    if (!err.empty())
      die(err);
  }
  api.destroy(model);
  return 0;
}
