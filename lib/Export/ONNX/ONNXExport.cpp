//===- ONNXExport.cpp - quantized models back to ONNX ---------------------===//
//
// Both exports keep the model's graph and edit it where a quantized weight is read:
// - QAT: the initializer holds the latent weight (the values the codes stand for), and every
//   reader of it reads QuantizeLinear → DequantizeLinear of it instead, with the scales and
//   zero points as initializers named after the weight;
// - Deploy: the matmuls become MatMulNBits where ONNX Runtime has it for the scheme, and the
//   others read DequantizeLinear of the constant codes.
//
#include "qopt/Export/ONNXExport.h"

#include "ActivationQuant.h"
#include "GraphEditor.h"
#include "QuantizedLayers.h"
#include "qopt/Importer/ONNX/ModelLoader.h"
#include "llvm/Support/Path.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cfloat>
#include <algorithm>
#include <map>
#include <set>

using namespace mlir;
using namespace qopt::onnx_export;
namespace quant = qopt::quant;

namespace {
/// How one quantized layer reads its weight in the ONNX graph.
struct WeightSite {
  const ExportedLayer *layer = nullptr;
  std::string initializer;
  bool rowsAreOutputs = false; // the initializer is [N, K]
  std::vector<int> readers;    // nodes reading the initializer for this layer
};

/// Integer storage of codes in ONNX: 4 and 8 bits have their own types, the other widths sit in
/// 8-bit ones (saturated by a Clip in the QAT form).
struct Storage {
  int32_t type;
  bool isSigned;
};

Storage storageFor(const quant::Scheme &s) {
  bool isSigned = s.symmetric;
  if (s.bits == 4)
    return {isSigned ? kInt4 : kUInt4, isSigned};
  return {isSigned ? kInt8 : kUInt8, isSigned};
}

/// Data of an initializer and the layout helpers of one site.
class SiteWriter {
public:
  SiteWriter(GraphEditor &editor, const WeightSite &site) : editor(editor), site(site) {}

  /// The dims of the weight as the initializer holds it.
  std::vector<int64_t> weightDims() const {
    const ExportedLayer &l = *site.layer;
    return site.rowsAreOutputs ? std::vector<int64_t>{l.n, l.k} : std::vector<int64_t>{l.k, l.n};
  }
  /// `rows` (n x k) in the initializer's layout.
  template <typename T> std::vector<T> inLayout(const std::vector<T> &rows) const {
    const ExportedLayer &l = *site.layer;
    return site.rowsAreOutputs ? rows : transposed(rows, l.n, l.k);
  }
  /// Per-group parameters (n x groups) in the layout ONNX's blocked quantization wants: the
  /// weight's, with the K axis shrunk to the groups (or 1-D along N per channel).
  template <typename T> std::vector<T> groupsInLayout(const std::vector<T> &perGroup) const {
    const ExportedLayer &l = *site.layer;
    if (site.rowsAreOutputs || l.groups == 1)
      return perGroup;
    return transposed(perGroup, l.n, l.groups);
  }
  /// A row-major `rows` x `cols` matrix transposed.
  template <typename T>
  static std::vector<T> transposed(const std::vector<T> &m, int64_t rows, int64_t cols) {
    std::vector<T> out(m.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        out[c * rows + r] = m[r * cols + c];
    return out;
  }
  bool perChannel() const { return site.layer->scheme.groupSize == 0; }
  std::vector<int64_t> groupDims() const {
    const ExportedLayer &l = *site.layer;
    if (perChannel())
      return {l.n};
    return site.rowsAreOutputs ? std::vector<int64_t>{l.n, l.groups}
                               : std::vector<int64_t>{l.groups, l.n};
  }
  /// QuantizeLinear / DequantizeLinear attributes for this layout.
  void setAxes(onnx::NodeProto &node) const {
    int64_t kAxis = site.rowsAreOutputs ? 1 : 0;
    if (perChannel()) {
      *node.add_attribute() = intAttribute("axis", 1 - kAxis);
      return;
    }
    *node.add_attribute() = intAttribute("axis", kAxis);
    *node.add_attribute() = intAttribute("block_size", site.layer->scheme.groupSize);
  }

  /// Adds `<base>_scale` and `<base>_zero_point` and returns their names. Scales of 0 (groups
  /// of zeros) become the smallest normal float, which ONNX can divide by; the group still
  /// decodes to 0.
  std::pair<std::string, std::string> addScaleAndZero(const std::string &base) {
    const ExportedLayer &l = *site.layer;
    std::vector<float> scales = l.scales;
    for (float &s : scales)
      if (s == 0.0f)
        s = FLT_MIN;
    std::string scale = editor.freshName(base + "_scale");
    editor.addFloats(scale, groupDims(), groupsInLayout(scales));
    Storage storage = storageFor(l.scheme);
    std::vector<int64_t> zeros(l.n * l.groups, 0);
    if (!storage.isSigned)
      for (int64_t r = 0; r < l.n; ++r)
        for (int64_t g = 0; g < l.groups; ++g)
          zeros[r * l.groups + g] = l.zeroPoint(r, g);
    std::string zero = editor.freshName(base + "_zero_point");
    editor.addIntegers(zero, storage.type, groupDims(), groupsInLayout(zeros));
    return {scale, zero};
  }

  /// Codes as the storage type holds them (signed ones shifted by the implied zero point).
  std::vector<int64_t> storedCodes() const {
    const ExportedLayer &l = *site.layer;
    std::vector<int64_t> codes(l.codes.begin(), l.codes.end());
    if (storageFor(l.scheme).isSigned)
      for (int64_t &c : codes)
        c -= int64_t(1) << (l.scheme.bits - 1);
    return inLayout(codes);
  }

private:
  GraphEditor &editor;
  const WeightSite &site;
};

onnx::NodeProto makeNode(const std::string &op, std::vector<std::string> inputs,
                         std::vector<std::string> outputs, const std::string &name,
                         const std::string &domain = "") {
  onnx::NodeProto node;
  node.set_op_type(op);
  node.set_name(name);
  if (!domain.empty())
    node.set_domain(domain);
  for (auto &i : inputs)
    node.add_input(i);
  for (auto &o : outputs)
    node.add_output(o);
  return node;
}

class Exporter {
public:
  Exporter(ModuleOp module, onnx::ModelProto &model, const ExportOptions &options)
      : module(module), editor(model), model(model), options(options) {}

  LogicalResult run(const std::vector<ExportedLayer> &layers,
                    const std::vector<qopt::QOpt::LayerQuantReport> &report) {
    for (const auto &entry : report)
      layouts[entry.weight] = entry.weightLayout == "NxK";
    if (failed(writeRescaledConstants()))
      return failure();
    std::vector<WeightSite> sites;
    for (const ExportedLayer &layer : layers) {
      FailureOr<WeightSite> site = locate(layer);
      if (failed(site))
        return failure();
      sites.push_back(*site);
    }
    if (options.kind == ExportKind::QAT)
      return exportQAT(sites);
    return exportDeploy(sites);
  }

private:
  /// The initializer a constant of the IR came from: its own name, or with the suffixes that
  /// rescaling passes and unique naming add taken off one by one.
  std::string initializerFor(std::string name) {
    while (!name.empty()) {
      if (editor.initializer(name))
        return name;
      size_t dot = name.find_last_of("._");
      if (dot == std::string::npos)
        break;
      name = name.substr(0, dot);
    }
    return "";
  }

  LogicalResult writeRescaledConstants() {
    for (auto &[key, values] : rescaledConstants(module)) {
      std::string name = initializerFor(key);
      onnx::TensorProto *t = name.empty() ? nullptr : editor.initializer(name);
      if (!t)
        continue; // a weight that is quantized: its site writes it
      int64_t count = 1;
      for (int64_t d : t->dims())
        count *= d;
      if (t->data_type() != kFloat || count != static_cast<int64_t>(values.size()))
        return module.emitError() << "the rescaled constant '" << key
                                  << "' does not match initializer '" << name
                                  << "' (float32 of the same size); the export cannot hold it";
      std::string raw(values.size() * sizeof(float), '\0');
      std::memcpy(raw.data(), values.data(), raw.size());
      t->clear_float_data();
      t->set_raw_data(raw);
    }
    return success();
  }

  FailureOr<WeightSite> locate(const ExportedLayer &layer) {
    WeightSite site;
    site.layer = &layer;
    site.initializer = initializerFor(layer.weight);
    if (site.initializer.empty())
      return layer.op->emitError() << "layer '" << layer.displayName << "': its weight '"
                                   << layer.weight << "' is not an initializer of the model";
    onnx::TensorProto *t = editor.initializer(site.initializer);
    if (t->data_type() != kFloat)
      return layer.op->emitError()
             << "layer '" << layer.displayName << "': weight '" << site.initializer
             << "' is not float32; the export handles float32 weights only";
    if (t->has_data_location() && t->data_location() == onnx::TensorProto::EXTERNAL)
      return layer.op->emitError() << "layer '" << layer.displayName << "': weight '"
                                   << site.initializer
                                   << "' is in external data, which the export does not write yet";
    auto layout = layouts.find(layer.weight);
    site.rowsAreOutputs = layout != layouts.end() ? layout->second : layer.isEmbedding;
    // The readers of this layer: gathers for an embedding, the rest for a linear layer.
    for (int index : editor.consumers(site.initializer)) {
      bool isGather = editor.getGraph().node(index).op_type() == "Gather";
      if (isGather == layer.isEmbedding)
        site.readers.push_back(index);
    }
    if (site.readers.empty())
      return layer.op->emitError() << "layer '" << layer.displayName << "': no node of the model "
                                   << "reads weight '" << site.initializer << "' as this layer";
    return site;
  }

  /// The name the layer's edited weight goes by: the initializer itself when only this layer
  /// reads it, else a copy, so that the other readers keep the original.
  std::string ownWeight(const WeightSite &site, const std::vector<float> &values) {
    SiteWriter writer(editor, site);
    std::vector<float> data = writer.inLayout(values);
    std::string raw(data.size() * sizeof(float), '\0');
    std::memcpy(raw.data(), data.data(), raw.size());
    bool shared = editor.consumers(site.initializer).size() != site.readers.size() ||
                  editor.isGraphOutput(site.initializer);
    if (!shared) {
      onnx::TensorProto *t = editor.initializer(site.initializer);
      t->clear_float_data();
      t->set_raw_data(raw);
      return site.initializer;
    }
    std::string name = editor.freshName(site.initializer +
                                        (site.layer->isEmbedding ? "_gather" : "_matmul"));
    editor.addInitializer(name, kFloat, writer.weightDims(), raw);
    return name;
  }

  /// Makes the layer read DequantizeLinear(codes, scale, zero) with the site's axes, named
  /// after `output`, in place of its weight.
  void readDequantized(const WeightSite &site, const SiteWriter &writer,
                       std::vector<std::string> inputs, const std::string &output,
                       std::vector<onnx::NodeProto> &nodes) {
    std::string dq = editor.freshName(output);
    onnx::NodeProto dequantize = makeNode("DequantizeLinear", std::move(inputs), {dq},
                                          editor.freshName(dq + "_DequantizeLinear"));
    writer.setAxes(dequantize);
    nodes.push_back(dequantize);
    redirectReaders(site, site.initializer, dq);
  }

  void redirectReaders(const WeightSite &site, const std::string &from, const std::string &to) {
    for (int index : site.readers)
      GraphEditor::renameInput(*editor.getGraph().mutable_node(index), from, to);
  }

  LogicalResult exportQAT(const std::vector<WeightSite> &sites) {
    for (const WeightSite &site : sites)
      if (site.layer->scheme.codebook != quant::Codebook::Int)
        return site.layer->op->emitError()
               << "layer '" << site.layer->displayName
               << "': QuantizeLinear has no form for codebook schemes (nf4, fp4, fp8); use "
                  "integer widths for the QAT export";
    std::string error;
    if (!editor.requireOpset(21, error))
      return module.emitError() << error;
    if (model.ir_version() < 10)
      model.set_ir_version(10);
    std::vector<onnx::NodeProto> nodes;
    llvm::json::Array described;
    for (const WeightSite &site : sites) {
      const ExportedLayer &l = *site.layer;
      SiteWriter writer(editor, site);
      std::string weight = ownWeight(site, l.values);
      auto [scale, zero] = writer.addScaleAndZero(weight);
      std::string q = editor.freshName(weight + "_quantized");
      onnx::NodeProto quantize = makeNode("QuantizeLinear", {weight, scale, zero}, {q},
                                          editor.freshName(weight + "_QuantizeLinear"));
      writer.setAxes(quantize);
      nodes.push_back(quantize);
      Storage storage = storageFor(l.scheme);
      int64_t low = storage.isSigned ? -(int64_t(1) << (l.scheme.bits - 1)) : 0;
      int64_t high = low + (int64_t(1) << l.scheme.bits) - 1;
      std::string codes = q;
      if (l.scheme.bits != 4 && l.scheme.bits != 8) {
        // Narrower grids than the 8-bit storage: saturate the codes to their range.
        std::string lo = editor.freshName(weight + "_qmin"), hi = editor.freshName(weight + "_qmax");
        editor.addIntegers(lo, storage.type, {}, {low});
        editor.addIntegers(hi, storage.type, {}, {high});
        codes = editor.freshName(weight + "_clipped");
        nodes.push_back(makeNode("Clip", {q, lo, hi}, {codes}, editor.freshName(weight + "_Clip")));
      }
      readDequantized(site, writer, {codes, scale, zero}, weight + "_fake_quant", nodes);
      scaleInputs(site);
      if (l.int8Activations && failed(quantizeInputs(site)))
        return failure();
      described.push_back(llvm::json::Object{
          {"layer", l.displayName},
          {"weight", weight},
          {"scale", scale},
          {"zero_point", zero},
          {"layout", site.rowsAreOutputs ? "NxK" : "KxN"},
          {"bits", static_cast<int64_t>(l.scheme.bits)},
          {"group_size", l.scheme.groupSize},
          {"symmetric", l.scheme.symmetric},
          {"qmin", low},
          {"qmax", high},
          {"embedding", l.isEmbedding},
      });
    }
    rebuildNodes();
    editor.prependNodes(std::move(nodes));
    addMetadata("qopt.qat_layers", llvm::json::Value(std::move(described)));
    return success();
  }

  /// The matmuls of a layer: its readers, or the matmuls reading a reader that transposes.
  std::vector<int> layerMatMuls(const WeightSite &site) {
    std::vector<int> out;
    for (int index : site.readers) {
      const onnx::NodeProto &node = editor.getGraph().node(index);
      if (node.op_type() == "Transpose") {
        for (int user : editor.consumers(node.output(0)))
          out.push_back(user);
      } else {
        out.push_back(index);
      }
    }
    return out;
  }

  /// Fake-quantizes the first input of each of the layer's matmuls as int8, as qopt's kernel does.
  LogicalResult quantizeInputs(const WeightSite &site) {
    for (int index : layerMatMuls(site)) {
      onnx::NodeProto &node = *editor.getGraph().mutable_node(index);
      std::string error;
      std::vector<onnx::NodeProto> &before = pendingBefore[index];
      std::string quantized = activationFakeQuant(editor, *site.layer, node.input(0), before, error);
      if (quantized.empty())
        return site.layer->op->emitError() << error;
      node.set_input(0, quantized);
    }
    return success();
  }

  /// Applies the pending edits: nodes put before or after the node they wait for (by its index
  /// in the graph as read), and dead nodes removed.
  void rebuildNodes() {
    google::protobuf::RepeatedPtrField<onnx::NodeProto> all;
    auto *nodes = editor.getGraph().mutable_node();
    for (int i = 0; i < nodes->size(); ++i) {
      if (auto it = pendingBefore.find(i); it != pendingBefore.end())
        for (auto &n : it->second)
          *all.Add() = std::move(n);
      if (!deadNodes.count(i))
        *all.Add() = std::move(*nodes->Mutable(i));
      if (auto it = pendingAfter.find(i); it != pendingAfter.end())
        for (auto &n : it->second)
          *all.Add() = std::move(n);
    }
    nodes->Swap(&all);
    pendingBefore.clear();
    pendingAfter.clear();
    deadNodes.clear();
  }

  /// Divides the input of each of the layer's matmuls by the factors AWQ or SmoothQuant folded
  /// into the norm before it (a Mul by their inverses), leaving the model's norm as it was.
  void scaleInputs(const WeightSite &site) {
    const ExportedLayer &l = *site.layer;
    if (l.inputScale.empty())
      return;
    std::vector<float> inverse(l.inputScale.size());
    for (size_t c = 0; c < inverse.size(); ++c)
      inverse[c] = 1.0f / l.inputScale[c];
    std::string factors = editor.freshName(site.initializer + "_input_scale");
    editor.addFloats(factors, {static_cast<int64_t>(inverse.size())}, inverse);
    for (int index : layerMatMuls(site)) {
      onnx::NodeProto &node = *editor.getGraph().mutable_node(index);
      std::string scaled = editor.freshName(node.input(0) + "_scaled");
      pendingBefore[index].push_back(makeNode("Mul", {node.input(0), factors}, {scaled},
                                              editor.freshName(node.name() + "_input_scale")));
      node.set_input(0, scaled);
    }
  }

  /// Whether the readers of `site` are matmuls MatMulNBits can replace: MatMul(x, W[K, N]),
  /// MatMul(x, Transpose(W[N, K])) or Gemm(x, W, bias) in its linear form.
  bool matmulNBitsReaders(const WeightSite &site, std::vector<int> &matmuls,
                          std::vector<int> &transposes) {
    const auto &graph = editor.getGraph();
    for (int index : site.readers) {
      const onnx::NodeProto &node = graph.node(index);
      if (node.op_type() == "MatMul" && node.input_size() == 2 &&
          node.input(1) == site.initializer && node.input(0) != site.initializer &&
          !site.rowsAreOutputs) {
        matmuls.push_back(index);
      } else if (node.op_type() == "Transpose" && site.rowsAreOutputs) {
        for (const auto &a : node.attribute())
          if (a.name() == "perm" && !(a.ints_size() == 2 && a.ints(0) == 1 && a.ints(1) == 0))
            return false;
        for (int user : editor.consumers(node.output(0))) {
          const onnx::NodeProto &mm = graph.node(user);
          if (mm.op_type() != "MatMul" || mm.input(1) != node.output(0))
            return false;
          matmuls.push_back(user);
        }
        if (editor.isGraphOutput(node.output(0)))
          return false;
        transposes.push_back(index);
      } else if (node.op_type() == "Gemm" && node.input(1) == site.initializer) {
        int64_t transA = 0, transB = 0;
        float alpha = 1.0f, beta = 1.0f;
        for (const auto &a : node.attribute()) {
          if (a.name() == "transA") transA = a.i();
          if (a.name() == "transB") transB = a.i();
          if (a.name() == "alpha") alpha = a.f();
          if (a.name() == "beta") beta = a.f();
        }
        if (transA || alpha != 1.0f || beta != 1.0f || (transB != 0) != site.rowsAreOutputs)
          return false;
        matmuls.push_back(index);
      } else {
        return false;
      }
    }
    return true;
  }

  /// MatMulNBits' block: the scheme's groups where ONNX Runtime takes them (a power of two of
  /// at least 16), or all of K per channel when K is one; 0 when it cannot hold the layer.
  static int64_t matmulNBitsBlock(const ExportedLayer &l) {
    if (l.isEmbedding || l.scheme.codebook != quant::Codebook::Int ||
        (l.scheme.bits != 2 && l.scheme.bits != 4 && l.scheme.bits != 8))
      return 0;
    int64_t block = l.scheme.groupSize == 0 ? l.k : l.scheme.groupSize;
    return block >= 16 && llvm::isPowerOf2_64(block) ? block : 0;
  }

  void writeMatMulNBits(const WeightSite &site, int64_t block, const std::vector<int> &matmuls) {
    const ExportedLayer &l = *site.layer;
    unsigned bits = l.scheme.bits;
    int64_t blocks = (l.k + block - 1) / block, blob = block * bits / 8;
    std::string packed(l.n * blocks * blob, '\0');
    for (int64_t r = 0; r < l.n; ++r)
      for (int64_t i = 0; i < l.k; ++i) {
        int64_t bitPos = (i % block) * bits;
        packed[(r * blocks + i / block) * blob + bitPos / 8] |=
            static_cast<char>(l.codes[r * l.k + i] << (bitPos % 8));
      }
    std::string base = site.initializer;
    std::string bName = editor.freshName(base + "_nbits");
    editor.addInitializer(bName, kUInt8, {l.n, blocks, blob}, packed);
    std::string sName = editor.freshName(base + "_scale");
    editor.addFloats(sName, {l.n * blocks}, l.scales);
    std::string zName;
    if (!l.zeroPoints.empty()) {
      int64_t rowBytes = (blocks * bits + 7) / 8;
      std::string zeros(l.n * rowBytes, '\0');
      for (int64_t r = 0; r < l.n; ++r)
        for (int64_t g = 0; g < blocks; ++g)
          zeros[r * rowBytes + g * bits / 8] |=
              static_cast<char>(l.zeroPoints[r * blocks + g] << ((g * bits) % 8));
      zName = editor.freshName(base + "_zero_point");
      editor.addInitializer(zName, kUInt8, {l.n * rowBytes}, zeros);
    }
    int64_t level = options.accuracyLevel >= 0 ? options.accuracyLevel
                                               : l.int8Activations ? 4
                                               : l.bf16Activations ? 3
                                                                   : 0;
    auto &graph = editor.getGraph();
    for (int index : matmuls) {
      onnx::NodeProto &node = *graph.mutable_node(index);
      std::string bias = node.op_type() == "Gemm" && node.input_size() > 2 ? node.input(2) : "";
      onnx::NodeProto replacement =
          makeNode("MatMulNBits", {node.input(0), bName, sName, zName}, {node.output(0)},
                   node.name(), "com.microsoft");
      if (!bias.empty()) {
        replacement.add_input(""); // g_idx
        replacement.add_input(bias);
      } else if (zName.empty()) {
        replacement.mutable_input()->RemoveLast();
      }
      *replacement.add_attribute() = intAttribute("K", l.k);
      *replacement.add_attribute() = intAttribute("N", l.n);
      *replacement.add_attribute() = intAttribute("bits", bits);
      *replacement.add_attribute() = intAttribute("block_size", block);
      *replacement.add_attribute() = intAttribute("accuracy_level", level);
      node = std::move(replacement);
    }
  }

  /// MatMulBnb4's quant_type for the scheme (1 NF4, 0 bitsandbytes' FP4), or -1 when it cannot
  /// hold the layer: its blocks run over the flattened [N, K] weight, so K must be a multiple.
  static int64_t bnb4Type(const ExportedLayer &l) {
    int64_t block = bnb4Block(l);
    if (l.isEmbedding || block == 0 || l.k % block != 0 || !llvm::isPowerOf2_64(block) ||
        block < 16)
      return -1;
    if (l.scheme.codebook == quant::Codebook::NF4)
      return 1;
    if (l.scheme.codebook == quant::Codebook::BnbFP4)
      return 0;
    return -1;
  }
  /// The weights one scale covers: the group, or the whole row when it is shorter.
  static int64_t bnb4Block(const ExportedLayer &l) {
    return l.scheme.groupSize == 0 ? l.k : std::min(l.scheme.groupSize, l.k);
  }

  void writeMatMulBnb4(const WeightSite &site, int64_t quantType, const std::vector<int> &matmuls) {
    const ExportedLayer &l = *site.layer;
    // Two codes a byte over the flattened [N, K] weight, the first in the high nibble.
    std::string packed((l.n * l.k + 1) / 2, '\0');
    for (int64_t i = 0; i < l.n * l.k; ++i)
      packed[i / 2] |= static_cast<char>(l.codes[i] << (i % 2 ? 0 : 4));
    std::string bName = editor.freshName(site.initializer + "_bnb4");
    editor.addInitializer(bName, kUInt8, {static_cast<int64_t>(packed.size())}, packed);
    std::string sName = editor.freshName(site.initializer + "_absmax");
    editor.addFloats(sName, {l.n * l.groups}, l.scales);
    auto &graph = editor.getGraph();
    for (int index : matmuls) {
      onnx::NodeProto &node = *graph.mutable_node(index);
      std::string bias = node.op_type() == "Gemm" && node.input_size() > 2 ? node.input(2) : "";
      onnx::NodeProto replacement = makeNode("MatMulBnb4", {node.input(0), bName, sName},
                                             {bias.empty() ? node.output(0)
                                                           : editor.freshName(node.output(0) +
                                                                              "_unbiased")},
                                             node.name(), "com.microsoft");
      *replacement.add_attribute() = intAttribute("K", l.k);
      *replacement.add_attribute() = intAttribute("N", l.n);
      *replacement.add_attribute() = intAttribute("block_size", bnb4Block(l));
      *replacement.add_attribute() = intAttribute("quant_type", quantType);
      if (bias.empty()) {
        node = std::move(replacement);
        continue;
      }
      // MatMulBnb4 has no bias input: the Gemm's bias follows as an Add.
      std::string product = replacement.output(0), output = node.output(0);
      node = std::move(replacement);
      pendingAfter[index].push_back(
          makeNode("Add", {product, bias}, {output}, editor.freshName(node.name() + "_bias")));
    }
  }

  LogicalResult exportDeploy(const std::vector<WeightSite> &sites) {
    std::vector<onnx::NodeProto> nodes;
    std::set<int> deadTransposes;
    bool usedMatMulNBits = false, usedDequantize = false;
    for (const WeightSite &site : sites) {
      const ExportedLayer &l = *site.layer;
      scaleInputs(site);
      std::vector<int> matmuls, transposes;
      if (int64_t block = matmulNBitsBlock(l);
          block && matmulNBitsReaders(site, matmuls, transposes)) {
        writeMatMulNBits(site, block, matmuls);
        deadTransposes.insert(transposes.begin(), transposes.end());
        usedMatMulNBits = true;
        continue;
      }
      if (int64_t type = bnb4Type(l); type >= 0 && matmulNBitsReaders(site, matmuls, transposes)) {
        writeMatMulBnb4(site, type, matmuls);
        deadTransposes.insert(transposes.begin(), transposes.end());
        usedMatMulNBits = true;
        continue;
      }
      matmuls.clear();
      transposes.clear();
      if (l.scheme.codebook != quant::Codebook::Int)
        return l.op->emitError() << "layer '" << l.displayName
                                 << "': ONNX Runtime has no operator for codebook schemes (nf4, "
                                    "fp4, fp8) on this layer; use integer widths to export it";
      // DequantizeLinear of the constant codes: exact for every integer width.
      SiteWriter writer(editor, site);
      std::string base = site.initializer;
      auto [scale, zero] = writer.addScaleAndZero(base);
      std::string codes = editor.freshName(base + "_codes");
      editor.addIntegers(codes, storageFor(l.scheme).type, writer.weightDims(),
                         writer.storedCodes());
      readDequantized(site, writer, {codes, scale, zero}, base + "_dequantized", nodes);
      usedDequantize = true;
    }
    // Transposes that only fed replaced matmuls go.
    deadNodes.insert(deadTransposes.begin(), deadTransposes.end());
    rebuildNodes();
    if (usedDequantize) {
      std::string error;
      if (!editor.requireOpset(21, error))
        return module.emitError() << error;
      if (model.ir_version() < 10)
        model.set_ir_version(10);
    }
    if (usedMatMulNBits)
      editor.requireDomain("com.microsoft", 1);
    editor.prependNodes(std::move(nodes));
    removeUnreadInitializers();
    return success();
  }

  void removeUnreadInitializers() {
    std::set<std::string> read;
    for (const auto &node : editor.getGraph().node())
      for (const auto &in : node.input())
        read.insert(in);
    for (const auto &out : editor.getGraph().output())
      read.insert(out.name());
    std::vector<std::string> unread;
    for (const auto &t : editor.getGraph().initializer())
      if (!read.count(t.name()))
        unread.push_back(t.name());
    for (const std::string &name : unread)
      editor.removeInitializer(name);
  }

  void addMetadata(const std::string &key, llvm::json::Value value) {
    std::string text;
    llvm::raw_string_ostream os(text);
    os << value;
    for (auto &entry : *model.mutable_metadata_props())
      if (entry.key() == key) {
        entry.set_value(text);
        return;
      }
    auto *entry = model.add_metadata_props();
    entry->set_key(key);
    entry->set_value(text);
  }

  ModuleOp module;
  GraphEditor editor;
  onnx::ModelProto &model;
  const ExportOptions &options;
  std::map<std::string, bool> layouts; // weight name → stored [N, K]
  // Edits of the graph's node list by the original index, applied at once by rebuildNodes.
  std::map<int, std::vector<onnx::NodeProto>> pendingBefore, pendingAfter;
  std::set<int> deadNodes;
};
} // namespace

LogicalResult qopt::onnx_export::exportQuantizedModel(
    ModuleOp module, llvm::StringRef modelBuffer, llvm::StringRef modelPath,
    const std::vector<QOpt::LayerQuantReport> &layers, const ExportOptions &options,
    llvm::StringRef outputPath) {
  std::optional<std::vector<ExportedLayer>> quantized = collectQuantizedLayers(module);
  if (!quantized)
    return failure();
  if (quantized->empty())
    return module.emitError() << "no layer is quantized: nothing to export";
  onnx::ModelProto model;
  std::string error;
  try {
    if (!qopt::onnx_importer::parseModel(modelBuffer, model, error))
      return module.emitError() << modelPath << ": " << error;
    // Weights in external data come into the model: the export is one file (under protobuf's
    // 2 GB, which a 4-bit model of a few billion weights is).
    llvm::SmallString<256> modelDir(modelPath);
    llvm::sys::path::remove_filename(modelDir);
    if (modelDir.empty())
      modelDir = ".";
    if (!qopt::onnx_importer::inlineExternalData(model, modelDir, error))
      return module.emitError() << modelPath << ": " << error;
    Exporter exporter(module, model, options);
    if (failed(exporter.run(*quantized, layers)))
      return failure();
    std::string bytes;
    if (!model.SerializeToString(&bytes))
      return module.emitError() << "the exported model is larger than protobuf's 2 GB limit";
    std::error_code ec;
    llvm::raw_fd_ostream os(outputPath, ec, llvm::sys::fs::OF_None);
    if (ec)
      return module.emitError() << "cannot write " << outputPath << ": " << ec.message();
    os << bytes;
    os.close();
    if (os.has_error()) {
      llvm::sys::fs::remove(outputPath);
      return module.emitError() << "cannot write " << outputPath << ": " << os.error().message();
    }
  } catch (const std::exception &e) {
    return module.emitError() << "exporting to ONNX failed: " << e.what();
  }
  return success();
}
