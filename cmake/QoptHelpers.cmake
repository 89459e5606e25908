# QoptHelpers.cmake - small helpers shared by qopt's CMake files.

# qopt_add_dialect(Name) runs mlir-tblgen over <Name>Ops.td (which includes the dialect, attribute and
# enum definitions) and creates the Qopt<Name>IncGen target.
function(qopt_add_dialect name mnemonic)
  set(LLVM_TARGET_DEFINITIONS ${name}Ops.td)
  mlir_tablegen(${name}Ops.h.inc -gen-op-decls)
  mlir_tablegen(${name}Ops.cpp.inc -gen-op-defs)
  mlir_tablegen(${name}Dialect.h.inc -gen-dialect-decls -dialect=${mnemonic})
  mlir_tablegen(${name}Dialect.cpp.inc -gen-dialect-defs -dialect=${mnemonic})
  mlir_tablegen(${name}Attrs.h.inc -gen-attrdef-decls -attrdefs-dialect=${mnemonic})
  mlir_tablegen(${name}Attrs.cpp.inc -gen-attrdef-defs -attrdefs-dialect=${mnemonic})
  mlir_tablegen(${name}Enums.h.inc -gen-enum-decls)
  mlir_tablegen(${name}Enums.cpp.inc -gen-enum-defs)
  add_public_tablegen_target(Qopt${name}IncGen)
endfunction()

# qopt_add_doc(TdFile OutName Gen) generates markdown into build/docs and hangs it on `qopt-doc`.
function(qopt_add_doc td out gen)
  set(LLVM_TARGET_DEFINITIONS ${td})
  tablegen(MLIR ${out}.md ${gen} ${ARGN})
  set(dst ${CMAKE_BINARY_DIR}/docs/${out}.md)
  add_custom_command(OUTPUT ${dst}
    COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_CURRENT_BINARY_DIR}/${out}.md ${dst}
    DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/${out}.md)
  add_custom_target(${out}DocGen DEPENDS ${dst})
  add_dependencies(qopt-doc ${out}DocGen)
endfunction()
