//===- SelectPrecision.cpp - a quantization scheme for every linear layer -===//
#include "dialects/QOpt/IR/QOptOps.h"
#include "dialects/QOpt/Transforms/Passes.h"
#include "dialects/QOpt/Transforms/WeightLayers.h"
#include "llvm/Support/Regex.h"

namespace qopt::QOpt {
#define GEN_PASS_DEF_SELECTPRECISIONPASS
#include "dialects/QOpt/Transforms/Passes.h.inc"
} // namespace qopt::QOpt

using namespace mlir;
using namespace qopt::QOpt;

namespace {
struct LayerRule {
  std::string pattern;
  std::unique_ptr<llvm::Regex> regex;
  unsigned bits = 0; // 0: keep the layer in f32
};

struct SelectPrecisionPass
    : public qopt::QOpt::impl::SelectPrecisionPassBase<SelectPrecisionPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::vector<LayerRule> rules;
    if (failed(parseRules(module, rules)))
      return signalPassFailure();
    // A codebook implies its width: `wtype=nf4` alone quantizes to 4 bits.
    unsigned bitsByDefault = wbits ? unsigned(wbits)
                             : wtype == "nf4" || wtype == "fp4" ? 4u
                             : wtype == "fp8"                   ? 8u
                                                                : 0u;
    FailureOr<SchemeAttr> base = baseScheme(module, bitsByDefault ? bitsByDefault : 8);
    if (failed(base))
      return signalPassFailure();

    if (loraBase != "nf4dq" && loraBase != "flags") {
      module.emitError() << "lora-base '" << loraBase << "' is not nf4dq or flags";
      return signalPassFailure();
    }
    // QLoRA's base weights: NF4 in blocks of 64, block scales in 8 bits per 256.
    MLIRContext *ctx = &getContext();
    SchemeAttr qlora = SchemeAttr::get(ctx, Codebook::NF4, 4, 64, true, Float32Type::get(ctx), 256);

    std::vector<WeightLayer> layers;
    module.walk([&](Operation *op) {
      // LoRA adapters stay float: they are small and the base carries the quantization.
      if (op->hasAttr("qopt.lora_adapter"))
        return;
      if (auto layer = matchWeightLayer(op))
        layers.push_back(*layer);
    });
    Operation *head = findOutputHead(layers);

    for (const WeightLayer &layer : layers) {
      bool keptByDefault = layer.isEmbedding || layer.op == head;
      std::optional<unsigned> bits;
      bool byRule = false;
      std::vector<std::string> names = layerNames(layer);
      for (const LayerRule &rule : rules) {
        if (llvm::any_of(names, [&](const std::string &n) { return rule.regex->match(n); })) {
          bits = rule.bits;
          byRule = true;
          break;
        }
      }
      if (!bits) {
        if (bitsByDefault == 0 || (keptByDefault && !quantizeEmbeddings))
          continue;
        bits = bitsByDefault;
      }
      if (*bits == 0)
        continue;
      SchemeAttr scheme = withBits(*base, *bits);
      if (!byRule && loraBase == "nf4dq" && layer.op->hasAttr("qopt.lora_base"))
        scheme = qlora;
      layer.op->setAttr("qopt.scheme", scheme);
      if (byRule && markPinned)
        layer.op->setAttr("qopt.pinned", UnitAttr::get(&getContext()));
      ++numSelected;
    }
  }

private:
  /// `layer-bits`: REGEX=BITS|none, comma-separated; each regex must match a whole name.
  LogicalResult parseRules(ModuleOp module, std::vector<LayerRule> &rules) {
    SmallVector<StringRef> specs;
    StringRef(layerBits).split(specs, ',', -1, /*KeepEmpty=*/false);
    for (StringRef spec : specs) {
      auto [pattern, value] = spec.trim().rsplit('=');
      LayerRule rule;
      rule.pattern = pattern.str();
      if (pattern.empty() || value.empty() ||
          (value != "none" && (value.getAsInteger(10, rule.bits) || rule.bits < 2 || rule.bits > 8)))
        return module.emitError() << "layer-bits rule '" << spec
                                  << "' is not REGEX=BITS (2-8) or REGEX=none";
      rule.regex = std::make_unique<llvm::Regex>(("^(" + pattern + ")$").str());
      std::string error;
      if (!rule.regex->isValid(error))
        return module.emitError() << "layer-bits rule '" << spec << "': bad regular expression: "
                                  << error;
      rules.push_back(std::move(rule));
    }
    return success();
  }

  FailureOr<SchemeAttr> baseScheme(ModuleOp module, unsigned bits) {
    MLIRContext *ctx = &getContext();
    std::optional<Codebook> codebook = wtype == "int"   ? Codebook::Int
                                       : wtype == "nf4" ? Codebook::NF4
                                       : wtype == "fp4" ? Codebook::FP4
                                       : wtype == "fp8" ? Codebook::FP8E4M3
                                                        : std::optional<Codebook>();
    if (!codebook)
      return module.emitError() << "wtype '" << wtype << "' is not int, nf4, fp4 or fp8";
    Type scale = scaleType == "f16"    ? Type(Float16Type::get(ctx))
                 : scaleType == "bf16" ? Type(BFloat16Type::get(ctx))
                 : scaleType == "f32"  ? Type(Float32Type::get(ctx))
                                       : Type();
    if (!scale)
      return module.emitError() << "scale-type '" << scaleType << "' is not f16, bf16 or f32";
    auto emit = [&]() { return module.emitError(); };
    if (failed(SchemeAttr::verify(emit, *codebook, bits, groupSize, symmetric, scale, doubleQuant)))
      return failure();
    return SchemeAttr::get(ctx, *codebook, bits, groupSize, symmetric, scale, doubleQuant);
  }

  /// The scheme with another width; a codebook that has no such width becomes int.
  SchemeAttr withBits(SchemeAttr base, unsigned bits) {
    if (bits == base.getBits())
      return base;
    return SchemeAttr::get(&getContext(), Codebook::Int, bits, base.getGroupSize(),
                           base.getSymmetric() || base.getCodebook() != Codebook::Int,
                           base.getScaleType(), base.getDoubleQuantBlock());
  }

  /// The language-model head: the last linear layer, when it maps to as many outputs as an
  /// embedding table has rows (or reads an embedding table itself).
  Operation *findOutputHead(const std::vector<WeightLayer> &layers) {
    const WeightLayer *last = nullptr;
    for (const WeightLayer &layer : layers)
      if (!layer.isEmbedding)
        last = &layer;
    if (!last)
      return nullptr;
    for (const WeightLayer &layer : layers)
      if (layer.isEmbedding && (layer.n == last->n || layer.weight == last->weight))
        return last->op;
    return nullptr;
  }
};
} // namespace
