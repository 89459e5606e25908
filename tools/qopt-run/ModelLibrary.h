//===- ModelLibrary.h - a compiled model's C API, loaded with dlopen -*- C++ -*-===//
#ifndef QOPT_TOOLS_QOPT_RUN_MODELLIBRARY_H
#define QOPT_TOOLS_QOPT_RUN_MODELLIBRARY_H

#include "qopt/Runtime/qopt_model.h"

#include <string>

namespace qopt::run {

/// The entry points of one loaded library.
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
  decltype(&qopt_session_create) sessionCreate;
  decltype(&qopt_session_destroy) sessionDestroy;
  decltype(&qopt_session_prefill) prefill;
  decltype(&qopt_session_decode) decode;
  decltype(&qopt_session_reset) reset;
  decltype(&qopt_session_cache_mode) cacheMode;
};

/// Prints `qopt-run: error: MESSAGE` and exits with 1.
[[noreturn]] void die(const std::string &message);

} // namespace qopt::run

#endif // QOPT_TOOLS_QOPT_RUN_MODELLIBRARY_H
