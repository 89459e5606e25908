//===- PrecisionCandidates.cpp - the schemes a layer may take --------------===//
#include "qopt/Quant/PrecisionCandidates.h"

#include <algorithm>
#include <cctype>
#include <sstream>

using namespace qopt::quant;

namespace {
/// Presets: what mixed precision usually trades between. `default` keeps to widths whose packed
/// kernels are the fast ones (2, 3, 4 and 8 bits) with two group sizes each where it matters.
const char *presetSpecs(const std::string &name) {
  if (name == "default")
    return "int2g64,int3g128,int3g64,int4g128,int4g64,int8g128";
  if (name == "int")
    return "int2g64,int3g128,int4g128,int5g128,int6g128,int8g128";
  if (name == "wide")
    return "int2g64,int3g128,int3g64,int4g128,int4g64,int5g128,int6g128,int8g128,nf4,f32";
  return nullptr;
}

/// Reads a decimal number at `pos`; false when there is none.
bool readNumber(const std::string &s, size_t &pos, int64_t &value) {
  size_t start = pos;
  value = 0;
  while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])) && pos - start < 9)
    value = value * 10 + (s[pos++] - '0');
  return pos > start;
}
} // namespace

int64_t PrecisionCandidate::bytes(int64_t n, int64_t k) const {
  if (keepFloat)
    return n * k * 4;
  int64_t groups = n * scheme.numGroups(k);
  int64_t scaleBytes = scheme.scaleType == ScaleType::F32 ? 4 : 2;
  int64_t total = n * scheme.rowBytes(k);
  if (scheme.doubleQuantBlock > 0)
    total += groups + 4 * ((groups + scheme.doubleQuantBlock - 1) / scheme.doubleQuantBlock);
  else
    total += groups * scaleBytes;
  if (!scheme.symmetric)
    total += groups;
  return total;
}

int64_t PrecisionCandidate::fileBytes(int64_t n, int64_t k, int64_t alignment) const {
  if (keepFloat)
    return alignBytes(n * k * 4, alignment);
  int64_t groups = n * scheme.numGroups(k);
  int64_t total = alignBytes(n * scheme.rowBytes(k), alignment);
  if (scheme.doubleQuantBlock > 0)
    total += alignBytes(groups, alignment) +
             alignBytes(4 * ((groups + scheme.doubleQuantBlock - 1) / scheme.doubleQuantBlock),
                        alignment);
  else
    total += alignBytes(groups * (scheme.scaleType == ScaleType::F32 ? 4 : 2), alignment);
  if (!scheme.symmetric)
    total += alignBytes(groups, alignment);
  return total;
}

std::string qopt::quant::candidateName(const Scheme &scheme, bool keepFloat) {
  if (keepFloat)
    return "f32";
  std::ostringstream os;
  switch (scheme.codebook) {
  case Codebook::Int:
    os << "int" << scheme.bits;
    break;
  case Codebook::NF4:
    os << "nf4";
    break;
  case Codebook::FP4:
  case Codebook::BnbFP4:
    os << "fp4";
    break;
  case Codebook::FP8E4M3:
    os << "fp8";
    break;
  }
  if (scheme.groupSize == 0)
    os << "ch";
  else
    os << "g" << scheme.groupSize;
  if (!scheme.symmetric)
    os << "asym";
  return os.str();
}

std::optional<PrecisionCandidate> qopt::quant::parseCandidate(const std::string &spec,
                                                              const Scheme &defaults,
                                                              std::string &error) {
  PrecisionCandidate c;
  c.scheme = defaults;
  c.scheme.symmetric = true;
  auto bad = [&](const std::string &why) -> std::optional<PrecisionCandidate> {
    error = "candidate '" + spec + "': " + why;
    return std::nullopt;
  };
  if (spec == "f32" || spec == "none") {
    c.keepFloat = true;
    c.name = "f32";
    return c;
  }
  if (spec == "f16" || spec == "bf16")
    return bad("qopt computes unquantized layers in f32; use 'f32' to keep a layer unquantized, or "
               "'fp8' for 8-bit floats");
  size_t pos = 0;
  auto startsWith = [&](const char *prefix) {
    size_t len = std::char_traits<char>::length(prefix);
    if (spec.compare(pos, len, prefix) != 0)
      return false;
    pos += len;
    return true;
  };
  if (startsWith("int")) {
    int64_t bits;
    if (!readNumber(spec, pos, bits))
      return bad("expected a width after 'int' (int2 to int8)");
    c.scheme.codebook = Codebook::Int;
    c.scheme.bits = static_cast<unsigned>(bits);
  } else if (startsWith("nf4")) {
    c.scheme.codebook = Codebook::NF4;
    c.scheme.bits = 4;
  } else if (startsWith("fp4")) {
    c.scheme.codebook = Codebook::FP4;
    c.scheme.bits = 4;
  } else if (startsWith("fp8")) {
    c.scheme.codebook = Codebook::FP8E4M3;
    c.scheme.bits = 8;
  } else {
    return bad("expected intN[gG|ch][asym], nf4, fp4, fp8 (each with an optional group) or f32");
  }
  if (startsWith("ch")) {
    c.scheme.groupSize = 0;
  } else if (startsWith("g")) {
    int64_t group;
    if (!readNumber(spec, pos, group) || group <= 0)
      return bad("expected a positive group size after 'g'");
    c.scheme.groupSize = group;
  }
  if (startsWith("asym"))
    c.scheme.symmetric = false;
  if (pos != spec.size())
    return bad("unexpected '" + spec.substr(pos) + "'");
  if (std::string why = c.scheme.validate(); !why.empty())
    return bad(why);
  c.name = candidateName(c.scheme);
  return c;
}

std::optional<std::vector<PrecisionCandidate>>
qopt::quant::parseCandidates(const std::string &list, const Scheme &defaults, std::string &error) {
  std::vector<PrecisionCandidate> result;
  std::vector<std::string> specs;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    item.erase(std::remove_if(item.begin(), item.end(),
                              [](unsigned char ch) { return std::isspace(ch); }),
               item.end());
    if (item.empty())
      continue;
    if (const char *preset = presetSpecs(item)) {
      std::stringstream ps(preset);
      for (std::string p; std::getline(ps, p, ',');)
        specs.push_back(p);
    } else {
      specs.push_back(item);
    }
  }
  for (const std::string &spec : specs) {
    std::optional<PrecisionCandidate> c = parseCandidate(spec, defaults, error);
    if (!c)
      return std::nullopt;
    if (std::none_of(result.begin(), result.end(),
                     [&](const PrecisionCandidate &r) { return r.name == c->name; }))
      result.push_back(*c);
  }
  if (result.empty()) {
    error = "no candidates: expected a comma-separated list such as int3g128,int4g128,int8g128 "
            "or a preset (default, int, wide)";
    return std::nullopt;
  }
  return result;
}
