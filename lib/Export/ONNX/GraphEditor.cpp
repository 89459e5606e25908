//===- GraphEditor.cpp - edits of an ONNX graph around its initializers ---===//
#include "GraphEditor.h"

#include <algorithm>
#include <cstring>
#include <set>

using namespace qopt::onnx_export;

onnx::AttributeProto qopt::onnx_export::intAttribute(const std::string &name, int64_t value) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(value);
  return a;
}

onnx::TensorProto *GraphEditor::initializer(const std::string &name) {
  for (auto &t : *graph.mutable_initializer())
    if (t.name() == name)
      return &t;
  return nullptr;
}

std::string GraphEditor::freshName(const std::string &base) {
  // Every name the exporter adds comes from here, so the graph's names are gathered once.
  if (!namesGathered) {
    for (const auto &t : graph.initializer())
      handedOut.insert(t.name());
    for (const auto &n : graph.node()) {
      handedOut.insert(n.name());
      for (const auto &o : n.output())
        handedOut.insert(o);
    }
    for (const auto &v : graph.input())
      handedOut.insert(v.name());
    namesGathered = true;
  }
  std::string name = base;
  for (int i = 1; handedOut.count(name); ++i)
    name = base + "_" + std::to_string(i);
  handedOut.insert(name);
  return name;
}

void GraphEditor::addInitializer(const std::string &name, int32_t type,
                                 const std::vector<int64_t> &dims, const std::string &raw) {
  onnx::TensorProto *t = graph.add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims)
    t->add_dims(d);
  t->set_raw_data(raw);
}

void GraphEditor::addFloats(const std::string &name, const std::vector<int64_t> &dims,
                            const std::vector<float> &values) {
  std::string raw(values.size() * sizeof(float), '\0');
  std::memcpy(raw.data(), values.data(), raw.size());
  addInitializer(name, kFloat, dims, raw);
}

void GraphEditor::addIntegers(const std::string &name, int32_t type,
                              const std::vector<int64_t> &dims,
                              const std::vector<int64_t> &values) {
  std::string raw;
  if (type == kInt4 || type == kUInt4) {
    raw.assign((values.size() + 1) / 2, '\0');
    for (size_t i = 0; i < values.size(); ++i)
      raw[i / 2] |= static_cast<char>((values[i] & 0xF) << (i % 2 ? 4 : 0));
  } else {
    raw.resize(values.size());
    for (size_t i = 0; i < values.size(); ++i)
      raw[i] = static_cast<char>(values[i]);
  }
  addInitializer(name, type, dims, raw);
}

void GraphEditor::removeInitializer(const std::string &name) {
  auto *list = graph.mutable_initializer();
  for (int i = 0; i < list->size(); ++i)
    if (list->Get(i).name() == name) {
      list->DeleteSubrange(i, 1);
      break;
    }
  // ONNX IR < 4 lists initializers among the graph inputs too.
  auto *inputs = graph.mutable_input();
  for (int i = 0; i < inputs->size(); ++i)
    if (inputs->Get(i).name() == name) {
      inputs->DeleteSubrange(i, 1);
      break;
    }
}

std::vector<int> GraphEditor::consumers(const std::string &value) const {
  std::vector<int> out;
  for (int i = 0; i < graph.node_size(); ++i)
    for (const auto &in : graph.node(i).input())
      if (in == value) {
        out.push_back(i);
        break;
      }
  return out;
}

void GraphEditor::renameInput(onnx::NodeProto &node, const std::string &from,
                              const std::string &to) {
  for (int i = 0; i < node.input_size(); ++i)
    if (node.input(i) == from)
      node.set_input(i, to);
}

void GraphEditor::prependNodes(std::vector<onnx::NodeProto> nodes) {
  google::protobuf::RepeatedPtrField<onnx::NodeProto> all;
  for (auto &n : nodes)
    *all.Add() = std::move(n);
  for (auto &n : *graph.mutable_node())
    *all.Add() = std::move(n);
  graph.mutable_node()->Swap(&all);
}

bool GraphEditor::isGraphOutput(const std::string &value) const {
  return std::any_of(graph.output().begin(), graph.output().end(),
                     [&](const onnx::ValueInfoProto &v) { return v.name() == value; });
}

int64_t GraphEditor::opset(const std::string &domain) const {
  for (const auto &o : model.opset_import())
    if (o.domain() == domain || (domain.empty() && o.domain() == "ai.onnx"))
      return o.version();
  return 0;
}

void GraphEditor::requireDomain(const std::string &domain, int64_t version) {
  for (auto &o : *model.mutable_opset_import())
    if (o.domain() == domain) {
      o.set_version(std::max<int64_t>(o.version(), version));
      return;
    }
  auto *o = model.add_opset_import();
  o->set_domain(domain);
  o->set_version(version);
}

bool GraphEditor::requireOpset(int64_t version, std::string &error) {
  int64_t current = opset("");
  if (current >= version)
    return true;
  if (current < 13) {
    error = "the model's opset " + std::to_string(current) +
            " predates 13; export it at opset 13 or newer";
    return false;
  }
  // Opset 18 moved the axes of every Reduce op but ReduceSum from an attribute to an input.
  static const std::set<std::string> reduces = {
      "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
      "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
  if (current < 18 && version >= 18) {
    std::vector<std::pair<std::string, std::vector<int64_t>>> axesInputs;
    for (auto &node : *graph.mutable_node()) {
      if (!node.domain().empty() || !reduces.count(node.op_type()))
        continue;
      auto *attrs = node.mutable_attribute();
      for (int i = 0; i < attrs->size(); ++i) {
        if (attrs->Get(i).name() != "axes")
          continue;
        std::vector<int64_t> axes(attrs->Get(i).ints().begin(), attrs->Get(i).ints().end());
        std::string name = freshName(node.name() + "_axes");
        axesInputs.emplace_back(name, axes);
        if (node.input_size() < 2)
          node.add_input(name);
        else
          node.set_input(1, name);
        attrs->DeleteSubrange(i, 1);
        break;
      }
    }
    for (auto &[name, axes] : axesInputs) {
      std::string raw(axes.size() * sizeof(int64_t), '\0');
      std::memcpy(raw.data(), axes.data(), raw.size());
      addInitializer(name, kInt64, {static_cast<int64_t>(axes.size())}, raw);
    }
  }
  for (auto &o : *model.mutable_opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx")
      o.set_version(version);
  return true;
}
