/*===- qopt_model.h - C ABI of a model compiled by qopt ------------------===*
 *
 * `qopt-compile model.onnx -o model.so` writes model.so (code), model.weights (constants, mapped
 * read-only and shared between processes) and model.h (this ABI plus the model's signature).
 *
 *   qopt_model *m = qopt_model_create("model.weights", 2);
 *   if (!m) fprintf(stderr, "%s\n", qopt_last_error());
 *   qopt_tensor in = {QOPT_INT64, 2, {1, 128}, ids}, out;
 *   if (qopt_model_run(m, &in, 1, &out, 1) != 0) fprintf(stderr, "%s\n", qopt_model_error(m));
 *   ... out.data holds the output until the next run or destroy ...
 *   qopt_model_destroy(m);
 *
 * The library is thread-compatible: one model may be run by one thread at a time; separate models
 * may run concurrently.
 *===----------------------------------------------------------------------===*/
#ifndef QOPT_RUNTIME_QOPT_MODEL_H
#define QOPT_RUNTIME_QOPT_MODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QOPT_MAX_RANK 8

/* Element types, numbered as ONNX's TensorProto.DataType. */
enum qopt_dtype {
  QOPT_FLOAT32 = 1,
  QOPT_UINT8 = 2,
  QOPT_INT8 = 3,
  QOPT_UINT16 = 4,
  QOPT_INT16 = 5,
  QOPT_INT32 = 6,
  QOPT_INT64 = 7,
  QOPT_BOOL = 9, /* one byte per element, 0 or 1 */
  QOPT_FLOAT16 = 10, /* inputs, outputs and quantization scales; computed in float32 */
  QOPT_FLOAT64 = 11,
  QOPT_UINT32 = 12,
  QOPT_UINT64 = 13,
  QOPT_BFLOAT16 = 16, /* storage only: quantization scales */
  QOPT_FLOAT8E4M3FN = 17, /* storage only: quantized activations */
  QOPT_UINT4 = 21, /* storage only, one value per byte */
  QOPT_INT4 = 22,  /* storage only, one value per byte */
};

typedef struct qopt_tensor {
  int32_t dtype;
  int32_t rank;
  int64_t dims[QOPT_MAX_RANK];
  void *data; /* dense, row-major */
} qopt_tensor;

typedef struct qopt_model qopt_model;

/* Maps the weights file and prepares `num_threads` worker threads (0: all cores). NULL on failure,
 * with the reason in qopt_last_error(). */
qopt_model *qopt_model_create(const char *weights_path, int num_threads);
/* As qopt_model_create, on GPU `device` for a library compiled with --target=cuda (-1: the
 * QOPT_DEVICE environment variable, else 0); it uploads the weights to that GPU. A CPU library
 * accepts only -1. Fails with a reason where there is no CUDA driver or no such GPU. */
qopt_model *qopt_model_create_on(const char *weights_path, int num_threads, int device);
/* The GPU the model runs on, -1 for the CPU. */
int qopt_model_device(const qopt_model *model);
void qopt_model_destroy(qopt_model *model);

/* Runs the model. Inputs are checked against the signature (dtype, rank, static dims). Outputs are
 * filled in with memory owned by the model, valid until the next run or destroy. 0 on success. */
int qopt_model_run(qopt_model *model, const qopt_tensor *inputs, int num_inputs,
                   qopt_tensor *outputs, int num_outputs);

/* The error of the last failed call on `model`, or of the last failed create. */
const char *qopt_model_error(const qopt_model *model);
const char *qopt_last_error(void);

/* The signature: names, element types, ranks and dims (-1 where symbolic). */
int qopt_model_num_inputs(const qopt_model *model);
int qopt_model_num_outputs(const qopt_model *model);
const char *qopt_model_input_name(const qopt_model *model, int index);
const char *qopt_model_output_name(const qopt_model *model, int index);
/* Fills dtype, rank and dims (-1 for symbolic) of input/output `index`; data is NULL. */
int qopt_model_input_info(const qopt_model *model, int index, qopt_tensor *info);
int qopt_model_output_info(const qopt_model *model, int index, qopt_tensor *info);

/* Generation sessions over a decoder (token ids in, logits out).
 *
 *   qopt_session *s = qopt_session_create(m, 2048);   // room for 2048 tokens
 *   qopt_tensor logits;
 *   qopt_session_prefill(s, prompt, prompt_len, &logits);   // [1, prompt_len, vocabulary]
 *   for (...) qopt_session_decode(s, next_token, &logits);   // [1, 1, vocabulary]
 *   qopt_session_reset(s);                                  // a new sequence
 *   qopt_session_destroy(s);                                // before its model
 *
 * The session fills the decoder's token ids, attention mask (all ones), position ids and past
 * keys and values, and keeps the KV cache itself. Where the compiler made a cache input
 * appendable (qopt_session_cache_mode 1) each step appends its keys and values to buffers sized
 * for the maximum context, in place; otherwise (0) the present outputs are copied back as the
 * next past; a model exported without a cache (-1) reruns the whole sequence at every step.
 * Logits stay valid until the next call on the session or its model. Errors: -1 (or NULL from
 * create) with the reason in qopt_model_error(model). One session per model at a time. */
typedef struct qopt_session qopt_session;
qopt_session *qopt_session_create(qopt_model *model, int64_t max_context);
void qopt_session_destroy(qopt_session *session);
int qopt_session_prefill(qopt_session *session, const int64_t *tokens, int64_t count,
                         qopt_tensor *logits);
int qopt_session_decode(qopt_session *session, int64_t token, qopt_tensor *logits);
void qopt_session_reset(qopt_session *session);
/* Tokens in the session so far. */
int64_t qopt_session_length(const qopt_session *session);
/* 1: KV cache appended in place; 0: copied each step; -1: no cache, the sequence recomputed. */
int qopt_session_cache_mode(const qopt_session *session);

#ifdef __cplusplus
}
#endif

#endif /* QOPT_RUNTIME_QOPT_MODEL_H */
