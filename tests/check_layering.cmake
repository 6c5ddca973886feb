# The ctest "layering": every `#include "..."` of the floors' sources and tests names a floor the including folder
# may use (README.md, "Building"). The linker already rejects an upward call, since each floor's library links
# only the floors below it; this also rejects an include that uses no symbol (a type, an inline function), and the
# floor skips the design forbids: above engine/, kernels are reached through engine ops (engine/audio/fbank.h, the
# op table), and nets/ and losses/ know nothing of files, so not of engine/audio/ either.
#   cmake -DSRC=<repository root> -P tests/check_layering.cmake
# Fails naming file:line and the rule for each offending include; prints the number of files checked otherwise.
cmake_minimum_required(VERSION 3.24)
cmake_policy(SET CMP0007 NEW)   # keep empty lines in file(STRINGS) lists, so line numbers count right
if(NOT SRC)
  message(FATAL_ERROR "check_layering: pass the repository root as -DSRC=...")
endif()

# The floor a repository path belongs to (first match wins), for the including file and for the included one.
set(spk_floor_prefixes
    "apps/recipe/=recipe" "apps/=apps" "engine/audio/=audio" "engine/=engine" "kernels/=kernels"
    "nets/=nets" "losses/=losses"
    "tests/engine/=test_engine" "tests/kernels/=test_engine" "tests/support/=test_engine"
    "tests/audio/=test_audio" "tests/nets/=test_nets" "tests/losses/=test_losses" "tests/recipe/=test_recipe"
    "tests/dist/=test_recipe" "tests/onnx/=test_onnx")

# What each floor may include. Sources: their own floor and the floors below, without skipping engine/.
# Tests: the floor they test and everything below it (a test may set up or check a lower floor directly).
set(spk_may_use_kernels kernels)
set(spk_may_use_engine engine kernels)
set(spk_may_use_audio audio engine kernels)
set(spk_may_use_nets nets engine)
set(spk_may_use_losses losses engine)
set(spk_may_use_recipe recipe audio nets losses engine)
set(spk_may_use_apps apps recipe audio nets losses engine)
set(spk_may_use_test_engine engine kernels)
set(spk_may_use_test_audio audio engine kernels)
set(spk_may_use_test_nets nets engine kernels)
set(spk_may_use_test_losses losses engine kernels)
set(spk_may_use_test_recipe recipe audio nets losses engine kernels)
set(spk_may_use_test_onnx apps recipe audio nets losses engine kernels)   # apps/onnx, the exporter

function(spk_floor_of path out)
  foreach(pair IN LISTS spk_floor_prefixes)
    string(REPLACE "=" ";" kv "${pair}")
    list(GET kv 0 prefix)
    list(GET kv 1 floor)
    string(FIND "${path}" "${prefix}" at)
    if(at EQUAL 0)
      set(${out} ${floor} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

# 1-based line of the first line of `file` equal to `text`.
function(spk_line_of file text out)
  file(STRINGS "${SRC}/${file}" lines)
  set(n 0)
  foreach(line IN LISTS lines)
    math(EXPR n "${n} + 1")
    if(line STREQUAL text)
      set(${out} ${n} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "?" PARENT_SCOPE)
endfunction()

set(include_re "^[ \t]*#[ \t]*include[ \t]*\"(apps|engine|kernels|nets|losses)/[^\"]*\"")
file(GLOB_RECURSE files RELATIVE "${SRC}" "${SRC}/apps/*" "${SRC}/engine/*" "${SRC}/kernels/*" "${SRC}/nets/*"
     "${SRC}/losses/*" "${SRC}/tests/engine/*" "${SRC}/tests/kernels/*" "${SRC}/tests/support/*"
     "${SRC}/tests/audio/*" "${SRC}/tests/nets/*" "${SRC}/tests/losses/*" "${SRC}/tests/recipe/*"
     "${SRC}/tests/dist/*")
list(FILTER files INCLUDE REGEX "\\.(h|hpp|cuh|cpp|cu|def)$")
set(errors "")
set(checked 0)
foreach(file IN LISTS files)
  spk_floor_of("${file}" from)
  if(from STREQUAL "")
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  file(STRINGS "${SRC}/${file}" includes REGEX "${include_re}")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[^\"]*\"([^\"]*)\".*$" "\\1" target "${line}")
    spk_floor_of("${target}" to)
    if(NOT to IN_LIST spk_may_use_${from})
      spk_line_of("${file}" "${line}" at)
      string(REPLACE ";" " " allowed "${spk_may_use_${from}}")
      string(APPEND errors "  ${file}:${at}: includes \"${target}\" (floor ${to}); ${from} may use only: ${allowed}\n")
    endif()
  endforeach()
endforeach()
if(NOT errors STREQUAL "")
  message(FATAL_ERROR "layering: includes that break the floors (README.md, \"Building\"):\n${errors}")
endif()
message(STATUS "layering: ${checked} files, every include within its floors")
