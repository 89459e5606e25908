//===- QOptAttrs.cpp - quantization scheme attributes ---------------------===//
#include "dialects/QOpt/IR/QOptAttrs.h"

#include "dialects/QOpt/IR/QOptDialect.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace qopt::QOpt;

#include "dialects/QOpt/IR/QOptEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/QOpt/IR/QOptAttrs.cpp.inc"

int64_t SchemeAttr::getNumGroups(int64_t k) const {
  if (isPerChannel() || k <= 0)
    return 1;
  return (k + getGroupSize() - 1) / getGroupSize();
}

int64_t SchemeAttr::getPackedRowBytes(int64_t k) const {
  return (k * static_cast<int64_t>(getBits()) + 7) / 8;
}

/// The spelling of the codebook-and-width keyword: `int4`, `nf4`, `fp4`, `fp8_e4m3`.
static std::string codebookKeyword(Codebook codebook, unsigned bits) {
  if (codebook == Codebook::Int)
    return "int" + std::to_string(bits);
  return stringifyCodebook(codebook).str();
}

Attribute SchemeAttr::parse(AsmParser &parser, Type) {
  StringRef keyword;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseKeyword(&keyword))
    return {};
  Codebook codebook;
  unsigned bits = 0;
  if (keyword.consume_front("int")) {
    codebook = Codebook::Int;
    if (keyword.getAsInteger(10, bits)) {
      parser.emitError(loc, "expected a width after 'int', as in 'int4'");
      return {};
    }
  } else if (auto parsed = symbolizeCodebook(keyword)) {
    codebook = *parsed;
    bits = codebook == Codebook::FP8E4M3 ? 8 : 4; // nf4, fp4 and bnb_fp4 are 4 bits wide
  } else {
    parser.emitError(loc, "unknown codebook '") << keyword << "'; expected intN, nf4, fp4 or fp8_e4m3";
    return {};
  }

  int64_t group = 0;
  if (parser.parseComma() || parser.parseKeyword("group") || parser.parseEqual())
    return {};
  if (failed(parser.parseOptionalKeyword("channel")) && parser.parseInteger(group))
    return {};

  StringRef symmetry;
  SMLoc symLoc = parser.getCurrentLocation();
  if (parser.parseComma() || parser.parseKeyword(&symmetry))
    return {};
  if (symmetry != "sym" && symmetry != "asym") {
    parser.emitError(symLoc, "expected 'sym' or 'asym'");
    return {};
  }

  Type scaleType;
  if (parser.parseComma() || parser.parseKeyword("scale") || parser.parseEqual() ||
      parser.parseType(scaleType))
    return {};

  int64_t doubleQuant = 0;
  if (succeeded(parser.parseOptionalComma())) {
    if (parser.parseKeyword("double_quant") || parser.parseEqual() ||
        parser.parseInteger(doubleQuant))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<SchemeAttr>(parser.getContext(), codebook, bits, group,
                                       symmetry == "sym", scaleType, doubleQuant);
}

void SchemeAttr::print(AsmPrinter &printer) const {
  printer << "<" << codebookKeyword(getCodebook(), getBits()) << ", group = ";
  if (isPerChannel())
    printer << "channel";
  else
    printer << getGroupSize();
  printer << ", " << (getSymmetric() ? "sym" : "asym") << ", scale = " << getScaleType();
  if (getDoubleQuantBlock() > 0)
    printer << ", double_quant = " << getDoubleQuantBlock();
  printer << ">";
}

LogicalResult SchemeAttr::verify(function_ref<InFlightDiagnostic()> emitError, Codebook codebook,
                                 unsigned bits, int64_t groupSize, bool symmetric, Type scaleType,
                                 int64_t doubleQuantBlock) {
  if (codebook == Codebook::Int && (bits < 2 || bits > 8))
    return emitError() << "int schemes take 2 to 8 bits, not " << bits;
  if ((codebook == Codebook::NF4 || codebook == Codebook::FP4 || codebook == Codebook::BnbFP4) &&
      bits != 4)
    return emitError() << stringifyCodebook(codebook) << " codes are 4 bits wide, not " << bits;
  if (codebook == Codebook::FP8E4M3 && bits != 8)
    return emitError() << "fp8_e4m3 codes are 8 bits wide, not " << bits;
  if (groupSize < 0)
    return emitError() << "group size must be positive (or 'channel'), not " << groupSize;
  if (!symmetric && codebook != Codebook::Int)
    return emitError() << "only int schemes take zero points ('asym')";
  if (!scaleType || !(scaleType.isF16() || scaleType.isBF16() || scaleType.isF32()))
    return emitError() << "scales are f16, bf16 or f32, not " << scaleType;
  if (doubleQuantBlock < 0)
    return emitError() << "double-quantization block must be positive, not " << doubleQuantBlock;
  return success();
}

void QOptDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/QOpt/IR/QOptAttrs.cpp.inc"
      >();
}
