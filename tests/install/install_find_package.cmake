# ctest install_find_package: `cmake --install` the build tree into a scratch prefix, then configure, build and run
# tests/install/consumer (find_package(spk CONFIG REQUIRED), two training steps), and compile the same file with
# `pkg-config --cflags --libs spk`. Passes when both build, run, and the two printed losses differ.
# docs/library.md must show the consumer's main.cpp unchanged.
# -D: BUILD_DIR (the spk build tree), SRC (tests/install), DOCS (docs/library.md), WORK (a scratch folder), CXX,
# LAUNCHER (may be empty), BUILD_TYPE.
file(READ ${SRC}/consumer/main.cpp main_cpp)
file(READ ${DOCS} library_md)
string(FIND "${library_md}" "```cpp\n${main_cpp}```" at)
if(at LESS 0)
  message(FATAL_ERROR "${DOCS} does not show ${SRC}/consumer/main.cpp as it is: copy the file into its example")
endif()
file(REMOVE_RECURSE ${WORK})
set(prefix ${WORK}/prefix)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

# The losses, as numbers, from the consumer's output; both runs must print the same two and they must differ.
function(check_losses what output)
  string(REGEX MATCHALL "step [12] loss [-+0-9.e]+" lines "${output}")
  list(LENGTH lines n)
  if(NOT n EQUAL 2)
    message(FATAL_ERROR "${what}: expected two 'step N loss X' lines, got:\n${output}")
  endif()
  list(GET lines 0 l1)
  list(GET lines 1 l2)
  string(REGEX REPLACE ".* loss " "" l1 "${l1}")
  string(REGEX REPLACE ".* loss " "" l2 "${l2}")
  if(l1 STREQUAL l2)
    message(FATAL_ERROR "${what}: the loss did not change over a training step (${l1} then ${l2})")
  endif()
  if(NOT output MATCHES "grad 2 4 6")
    message(FATAL_ERROR "${what}: autograd printed the wrong gradient:\n${output}")
  endif()
  message(STATUS "${what}: losses ${l1} -> ${l2}")
  set(losses "${l1} ${l2}" PARENT_SCOPE)
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f include/spk/engine/tensor.h include/spk/losses/loss.h include/spk/apps/recipe/options.def
          lib/cmake/spk/spkConfig.cmake lib/cmake/spk/spkConfigVersion.cmake lib/pkgconfig/spk.pc bin/spk_train)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "the install has no ${f}")
  endif()
endforeach()

run("the installed spk_train --help" ${prefix}/bin/spk_train --help)
if(NOT out MATCHES "--train_list")
  message(FATAL_ERROR "the installed spk_train --help does not list --train_list:\n${out}")
endif()

set(launcher)
if(LAUNCHER)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
run("configuring the consumer" ${CMAKE_COMMAND} -S ${SRC}/consumer -B ${WORK}/consumer -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} ${launcher})
run("building the consumer" ${CMAKE_COMMAND} --build ${WORK}/consumer)
run("running the consumer" ${WORK}/consumer/tiny_train)
check_losses("find_package(spk)" "${out}")
set(cmake_losses "${losses}")

# pkg-config: the same file, one compiler call.
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig:$ENV{PKG_CONFIG_PATH}")
run("pkg-config --cflags --libs spk" ${PKG_CONFIG} --cflags --libs spk)
string(STRIP "${out}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run("compiling with pkg-config's flags" ${LAUNCHER} ${CXX} -std=c++20 -O1 ${SRC}/consumer/main.cpp ${flags}
    -o ${WORK}/tiny_train_pc)
run("running the pkg-config build" ${WORK}/tiny_train_pc)
check_losses("pkg-config spk" "${out}")
if(NOT losses STREQUAL cmake_losses)
  message(FATAL_ERROR "the pkg-config build printed other losses (${losses}) than the CMake build (${cmake_losses})")
endif()
