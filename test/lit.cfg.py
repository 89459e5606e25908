# lit.cfg.py - configuration of qopt's lit regression suite.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "qopt"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".onnxtxt", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs", "fixtures", "oracle"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qopt_obj_root, "test")

config.environment["FILECHECK_OPTS"] = "-enable-var-scope --allow-unused-prefixes=false"
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%qopt_src", config.qopt_src_root))
config.substitutions.append(("%fixtures", os.path.join(config.qopt_src_root, "test", "fixtures")))
# Shared models and data live beside the checkout, never inside it.
shared = os.path.abspath(os.path.join(config.qopt_src_root, "..", "shared"))
config.substitutions.append(("%shared", shared))
if os.path.exists(os.path.join(shared, "models", "qlm_llama.onnx")):
    config.available_features.add("shared-models")

# The QAT trainer's test needs PyTorch (Debian's python3-torch).
import subprocess
if subprocess.run(["/usr/bin/python3", "-c", "import torch"], stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL).returncode == 0:
    config.available_features.add("torch")

# Tests of the AVX-512 VNNI, AVX-512-BF16 and AVX-VNNI kernels need a CPU that runs them.
try:
    with open("/proc/cpuinfo") as cpuinfo:
        flags = cpuinfo.read()
    if " avx512_vnni" in flags and " avx512vl" in flags and " avx512bw" in flags:
        config.available_features.add("avx512vnni")
    if " avx_vnni" in flags:
        config.available_features.add("avxvnni")
    if " avx512_bf16" in flags and " avx512_vnni" in flags:
        config.available_features.add("avx512bf16")
except OSError:
    pass

# GPU code generation serializes kernels with CUDA's ptxas (a toolkit, not a GPU); running them
# needs a GPU and its driver, which scripts/check_gpu.sh checks on such a machine.
cuda_toolkit = os.environ.get("CUDA_PATH") or "/usr/local/cuda"
config.substitutions.append(("%cuda_toolkit", cuda_toolkit))
if os.access(os.path.join(cuda_toolkit, "bin", "ptxas"), os.X_OK):
    config.available_features.add("ptxas")
if any(os.path.exists(os.path.join(d, "libcuda.so.1"))
       for d in ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64"]):
    config.available_features.add("cuda-driver")

llvm_config.with_system_environment(["HOME", "TMP", "TEMP"])
# qopt's tools first, then LLVM's (FileCheck, not), then the system's (rm, head, ...).
config.environment["PATH"] = os.pathsep.join(
    [config.qopt_tools_dir, config.llvm_tools_dir, os.environ.get("PATH", "/usr/bin:/bin")])
llvm_config.use_default_substitutions()
llvm_config.add_tool_substitutions(["qopt-opt", "qopt-compile", "qopt-run", "qopt-unit-tests"],
                                   [config.qopt_tools_dir])
