//===- Session.cpp - generation sessions over a compiled decoder ----------===//
//
// A session feeds a decoder one prompt and then one token at a time. It fills the inputs a
// decoder export has (token ids, attention mask, position ids, past keys and values) and keeps
// the KV cache itself:
//   - in place: where the library marks a cache input appendable (`kv` signature lines), the
//     session owns a buffer with room for the maximum context and the graph appends to it, so
//     a step reads the cache once and copies none of it;
//   - by copy: otherwise each step's present outputs are copied back as the next past;
//   - by recomputation: a model without a cache runs the whole sequence again at every step.
//
#include "ModelState.h"

#include <algorithm>
#include <cstring>
#include <memory>

using namespace qopt::rt;

namespace {
enum class CacheMode { InPlace = 1, Copied = 0, Recomputed = -1 };

/// One KV-cache input and the output that returns it grown.
struct CacheEntry {
  int input = -1, output = -1;
  int64_t heads = 0, width = 0;
  std::unique_ptr<float[]> buffer; // in place: [1, heads, capacity, width]
  DeviceBuffer *device = nullptr;   // in place in a GPU library: the same on the device
  std::vector<float> copy;         // copied: [1, heads, length, width]
};

bool contains(const std::string &s, const char *part) { return s.find(part) != std::string::npos; }

/// The output that carries input `name` grown by one step: `present` for `past_key_values` or
/// `past`, as exporters name them.
int presentOutput(const qopt_model &m, const std::string &name) {
  std::vector<std::string> candidates;
  for (const char *past : {"past_key_values", "past"}) {
    size_t at = name.find(past);
    if (at == std::string::npos)
      continue;
    for (const char *present : {"present", "present_key_values"})
      candidates.push_back(name.substr(0, at) + present + name.substr(at + std::strlen(past)));
  }
  for (const std::string &c : candidates)
    for (size_t o = 0; o < m.outputs.size(); ++o)
      if (m.outputs[o].name == c)
        return static_cast<int>(o);
  return -1;
}
} // namespace

struct qopt_session {
  ~qopt_session() {
    for (CacheEntry &e : caches)
      if (e.device)
        model->ctx.accel->recycle(e.device);
  }
  qopt_model *model = nullptr;
  int64_t capacity = 0, length = 0;
  CacheMode mode = CacheMode::Recomputed;
  int idsInput = -1, maskInput = -1, positionsInput = -1, logitsOutput = 0;
  std::vector<CacheEntry> caches;
  std::vector<CacheSlot> slots;    // per graph input (in place only)
  std::vector<int64_t> history;    // recomputed: every token so far
  // Per-call storage of the inputs the session fills.
  std::vector<int64_t> ids, mask, positions;
  std::vector<qopt_tensor> inputs, outputs;
};

/// A failure of a session call: the message goes to the model's error; -1 for the C API.
static int sessionError(qopt_model &m, const std::string &message) {
  m.error = message;
  return -1;
}

/// Finds the model's inputs and outputs by role; 0, or -1 (with the model's error) if a decoder
/// session cannot feed it.
static int bindSignature(qopt_session &s) {
  qopt_model &m = *s.model;
  for (size_t i = 0; i < m.inputs.size(); ++i) {
    const ValueInfo &in = m.inputs[i];
    int index = static_cast<int>(i);
    bool integer = in.dtype == QOPT_INT64 || in.dtype == QOPT_INT32;
    if (in.dims.size() == 4 && in.dtype == QOPT_FLOAT32 && contains(in.name, "past")) {
      CacheEntry e;
      e.input = index;
      e.output = presentOutput(m, in.name);
      if (e.output < 0)
        return sessionError(m, "KV-cache input '" + in.name + "' has no present output beside it");
      if (in.dims[0] > 1 || in.dims[1] < 0 || in.dims[3] < 0)
        return sessionError(m, "KV-cache input '" + in.name + "' must be [1 or batch, heads, past, " +
                            "dim] with heads and dim known");
      e.heads = in.dims[1];
      e.width = in.dims[3];
      s.caches.push_back(std::move(e));
    } else if (integer && in.dims.size() == 2 && contains(in.name, "mask")) {
      s.maskInput = index;
    } else if (integer && in.dims.size() == 2 && contains(in.name, "position")) {
      s.positionsInput = index;
    } else if (integer && in.dims.size() == 2 && s.idsInput < 0) {
      s.idsInput = index;
    } else {
      return sessionError(m, "a generation session cannot fill input '" + in.name + "'");
    }
  }
  if (s.idsInput < 0)
    return sessionError(m, "the model has no [batch, sequence] integer input of token ids");
  for (size_t o = 0; o < m.outputs.size(); ++o)
    if (m.outputs[o].name == "logits") {
      s.logitsOutput = static_cast<int>(o);
      break;
    }
  if (m.outputs.empty() || m.outputs[s.logitsOutput].dims.size() != 3)
    return sessionError(m, "the model's logits are not a [batch, sequence, vocabulary] output");
  if (s.caches.empty()) {
    s.mode = CacheMode::Recomputed;
    return 0;
  }
  bool allInPlace = true;
  for (const CacheEntry &e : s.caches)
    allInPlace &= std::find(m.inPlaceCaches.begin(), m.inPlaceCaches.end(), e.input) !=
                  m.inPlaceCaches.end();
  s.mode = allInPlace ? CacheMode::InPlace : CacheMode::Copied;
  if (s.mode == CacheMode::InPlace) {
    s.slots.assign(m.inputs.size(), CacheSlot());
    for (CacheEntry &e : s.caches) {
      size_t floats = static_cast<size_t>(e.heads) * s.capacity * e.width;
      e.buffer.reset(new (std::nothrow) float[floats]);
      if (!e.buffer)
        return sessionError(m, "out of memory for a KV cache of " + std::to_string(s.capacity) +
                            " positions");
      CacheSlot &slot = s.slots[e.input];
      slot.data = e.buffer.get();
      // A GPU library keeps the cache on the device, beside the attention that reads it; the
      // host buffer receives downloads if a CPU kernel reads it.
      if (Accelerator *accel = m.ctx.accel) {
        try {
          e.device = accel->allocate(floats * sizeof(float));
        } catch (const KernelError &error) {
          return sessionError(m, error.message);
        }
        slot.device = e.device->ptr;
      }
      slot.dims[0] = 1;
      slot.dims[1] = e.heads;
      slot.dims[2] = s.capacity;
      slot.dims[3] = e.width;
    }
  }
  return 0;
}

/// Fills an integer [1, n] input with `values`, in the input's element type.
static qopt_tensor integerInput(const ValueInfo &info, std::vector<int64_t> &storage) {
  qopt_tensor t{};
  t.dtype = info.dtype;
  t.rank = 2;
  t.dims[0] = 1;
  t.dims[1] = static_cast<int64_t>(storage.size());
  if (info.dtype == QOPT_INT32) {
    // Narrowed in place: the int32 values occupy the front of the int64 storage.
    auto *narrow = reinterpret_cast<int32_t *>(storage.data());
    for (size_t k = 0; k < storage.size(); ++k)
      narrow[k] = static_cast<int32_t>(storage[k]);
  }
  t.data = storage.data();
  return t;
}

/// Runs `count` new tokens; on success `logits` holds theirs ([1, count, vocabulary]).
static int step(qopt_session *s, const int64_t *tokens, int64_t count, qopt_tensor *logits) {
  if (!s)
    return -1;
  qopt_model &m = *s->model;
  m.error.clear();
  if (count <= 0 || !tokens)
    return sessionError(m, "a session step needs at least one token");
  if (s->length + count > s->capacity)
    return sessionError(m, "the session holds " + std::to_string(s->capacity) + " tokens; " +
                        std::to_string(s->length) + " are in it and " + std::to_string(count) +
                        " more were given");
  bool recompute = s->mode == CacheMode::Recomputed;
  int64_t start = recompute ? 0 : s->length, total = s->length + count;
  if (recompute) {
    s->ids = s->history;
    s->ids.insert(s->ids.end(), tokens, tokens + count);
  } else {
    s->ids.assign(tokens, tokens + count);
  }
  s->inputs.assign(m.inputs.size(), qopt_tensor{});
  s->inputs[s->idsInput] = integerInput(m.inputs[s->idsInput], s->ids);
  if (s->maskInput >= 0) {
    s->mask.assign(total, 1);
    s->inputs[s->maskInput] = integerInput(m.inputs[s->maskInput], s->mask);
  }
  if (s->positionsInput >= 0) {
    s->positions.resize(total - start);
    for (int64_t p = start; p < total; ++p)
      s->positions[p - start] = p;
    s->inputs[s->positionsInput] = integerInput(m.inputs[s->positionsInput], s->positions);
  }
  for (CacheEntry &e : s->caches) {
    qopt_tensor &t = s->inputs[e.input];
    t.dtype = QOPT_FLOAT32;
    t.rank = 4;
    t.dims[0] = 1;
    t.dims[1] = e.heads;
    t.dims[2] = s->length;
    t.dims[3] = e.width;
    t.data = s->mode == CacheMode::InPlace ? static_cast<void *>(e.buffer.get())
                                           : static_cast<void *>(e.copy.data());
  }
  s->outputs.assign(m.outputs.size(), qopt_tensor{});
  if (runModel(&m, s->inputs.data(), static_cast<int>(s->inputs.size()), s->outputs.data(),
               static_cast<int>(s->outputs.size()),
               s->mode == CacheMode::InPlace ? &s->slots : nullptr) != 0)
    return -1;
  const qopt_tensor &out = s->outputs[s->logitsOutput];
  int64_t positions = recompute ? total : count;
  if (out.dtype != QOPT_FLOAT32 || out.rank != 3 || out.dims[0] != 1 || out.dims[1] != positions)
    return sessionError(m, "the model's logits are not float32 [1, " + std::to_string(positions) +
                        ", vocabulary]");
  if (s->mode == CacheMode::Copied) {
    for (CacheEntry &e : s->caches) {
      const qopt_tensor &present = s->outputs[e.output];
      if (present.rank != 4 || present.dims[2] != total || present.dims[1] != e.heads ||
          present.dims[3] != e.width)
        return sessionError(m, "output '" + m.outputs[e.output].name + "' is not the past grown by " +
                            std::to_string(count) + " positions");
      const float *p = static_cast<const float *>(present.data);
      e.copy.assign(p, p + e.heads * total * e.width);
    }
  }
  if (recompute)
    s->history.insert(s->history.end(), tokens, tokens + count);
  s->length = total;
  *logits = out;
  int64_t vocabulary = out.dims[2];
  logits->dims[1] = count;
  logits->data = static_cast<float *>(out.data) + (positions - count) * vocabulary;
  return 0;
}

extern "C" {

qopt_session *qopt_session_create(qopt_model *model, int64_t maxContext) {
  if (!model)
    return nullptr;
  model->error.clear();
  if (maxContext <= 0) {
    model->error = "a session needs a positive maximum context, got " + std::to_string(maxContext);
    return nullptr;
  }
  auto *s = new qopt_session();
  s->model = model;
  s->capacity = maxContext;
  if (bindSignature(*s) != 0) {
    delete s;
    return nullptr;
  }
  return s;
}

void qopt_session_destroy(qopt_session *session) { delete session; }

int qopt_session_prefill(qopt_session *s, const int64_t *tokens, int64_t count,
                         qopt_tensor *logits) {
  return step(s, tokens, count, logits);
}

int qopt_session_decode(qopt_session *s, int64_t token, qopt_tensor *logits) {
  return step(s, &token, 1, logits);
}

void qopt_session_reset(qopt_session *s) {
  if (!s)
    return;
  s->length = 0;
  s->history.clear();
  for (CacheEntry &e : s->caches)
    e.copy.clear();
}

int64_t qopt_session_length(const qopt_session *s) { return s ? s->length : 0; }

int qopt_session_cache_mode(const qopt_session *s) {
  return s ? static_cast<int>(s->mode) : -1;
}

} // extern "C"
