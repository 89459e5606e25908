//===- qopt-run.cpp - run a model compiled by qopt-compile ----------------===//
//
//   qopt-run model.so --input input_ids=ids.npy --output out.npy [--threads N] [--bench N]
//   qopt-run model.so --ppl valid.txt --ctx 256
//
// Loads the library with dlopen and talks to it only through its C ABI (qopt_model.h); links no
// MLIR. Every failure is one line on stderr and exit code 1.
//
#include "qopt/Support/Npy.h"
#include "qopt/Runtime/qopt_model.h"

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

namespace {
struct Api {
  decltype(&qopt_model_create) create;
  decltype(&qopt_model_destroy) destroy;
  decltype(&qopt_model_run) run;
  decltype(&qopt_model_error) error;
  decltype(&qopt_last_error) lastError;
  decltype(&qopt_model_num_inputs) numInputs;
  decltype(&qopt_model_num_outputs) numOutputs;
  decltype(&qopt_model_input_name) inputName;
  decltype(&qopt_model_output_name) outputName;
  decltype(&qopt_model_input_info) inputInfo;
};

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "qopt-run: error: %s\n", message.c_str());
  std::exit(1);
}

void usage() {
  std::fprintf(stderr,
               "usage: qopt-run MODEL.so [--weights FILE] [--threads N]\n"
               "         [--input NAME=FILE.npy]... [--output FILE.npy]... [--bench N]\n"
               "         [--ppl TEXT_FILE --ctx N]\n");
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

/// Byte-level perplexity over non-overlapping windows of `ctx` bytes: each window is run on its
/// own and every position is scored against the byte that follows it in the file.
double perplexity(const Api &api, qopt_model *model, const std::string &path, int64_t ctx) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    die("cannot read " + path);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), {});
  if (bytes.size() < 2)
    die(path + " is too short to score");
  qopt_tensor info;
  api.inputInfo(model, 0, &info);
  if (api.numInputs(model) != 1 || info.rank != 2 || info.dtype != QOPT_INT64)
    die("--ppl needs a model with one int64 input of shape [1, seq]");
  double nll = 0.0;
  int64_t scored = 0;
  std::vector<int64_t> ids;
  for (size_t start = 0; start + 1 < bytes.size(); start += ctx) {
    int64_t len = std::min<int64_t>(ctx, bytes.size() - 1 - start);
    ids.assign(bytes.begin() + start, bytes.begin() + start + len);
    qopt_tensor input = {QOPT_INT64, 2, {1, len}, ids.data()};
    qopt_tensor logits;
    if (api.run(model, &input, 1, &logits, 1) != 0)
      die(api.error(model));
    if (logits.dtype != QOPT_FLOAT32 || logits.rank != 3 || logits.dims[1] != len)
      die("--ppl needs logits of shape [1, seq, vocab]");
    int64_t vocab = logits.dims[2];
    const float *l = static_cast<const float *>(logits.data);
    for (int64_t p = 0; p < len; ++p) {
      const float *row = l + p * vocab;
      float mx = *std::max_element(row, row + vocab);
      double sum = 0.0;
      for (int64_t v = 0; v < vocab; ++v)
        sum += std::exp(static_cast<double>(row[v] - mx));
      int64_t target = bytes[start + p + 1];
      if (target >= vocab)
        die("byte " + std::to_string(target) + " is outside the vocabulary");
      nll += std::log(sum) + mx - row[target];
      ++scored;
    }
  }
  return std::exp(nll / scored);
}
} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    usage();
  std::string libraryPath = argv[1], weightsPath, pplPath;
  std::vector<std::pair<std::string, std::string>> inputs;
  std::vector<std::string> outputs;
  int64_t threads = 0, bench = 0, ctx = 256;
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
    } else if (flag == "--bench") {
      bench = parseCount(flag, value());
    } else if (flag == "--ppl") {
      pplPath = value();
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
          symbol<decltype(api.inputInfo)>(lib, "qopt_model_input_info", libraryPath)};
  qopt_model *model = api.create(weightsPath.c_str(), static_cast<int>(threads));
  if (!model)
    die(api.lastError());

  if (!pplPath.empty()) {
    std::printf("ppl %.4f\n", perplexity(api, model, pplPath, ctx));
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
