# `cmake --install build --prefix P`: the engine as a library for other CMake (or pkg-config) projects
# (docs/library.md). Installs
#   P/include/spk/{kernels,engine,nets,losses,apps/recipe}/**.h   headers, included as <engine/tensor.h>: the
#                                                                  targets add P/include/spk to the include path
#   P/lib/libspk_{kernels,engine,audio,nets,losses,recipe}.a      the floors (static)
#   P/bin/spk_train, spk_eval, spk_convert, ...                    the apps (every executable of apps/)
#   P/lib/cmake/spk/spkConfig.cmake (+ Version, spkTargets)        find_package(spk CONFIG): targets spk::spk_engine,
#                                                                  ..., spk::spk (every floor)
#   P/lib/pkgconfig/spk.pc                                         pkg-config --cflags --libs spk
# The floors are static, so their private dependencies (OpenBLAS, libsndfile, libsamplerate, yaml-cpp, threads;
# CUDA's cudart and cuBLAS in CUDA builds) are link dependencies of every consumer: spkConfig.cmake finds them
# again, the way this file's project found them.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SPK_FLOORS spk_kernels spk_engine spk_audio spk_nets spk_losses spk_recipe)
# spk::spk: every floor at once, for a consumer that does not care which one it needs.
add_library(spk_all INTERFACE)
target_link_libraries(spk_all INTERFACE ${SPK_FLOORS})
set_target_properties(spk_all PROPERTIES EXPORT_NAME spk)

install(TARGETS ${SPK_FLOORS} spk_all EXPORT spkTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# Every executable of apps/ (one per apps/*.cpp), so a new app is installed without a change here.
get_property(spk_app_targets DIRECTORY ${PROJECT_SOURCE_DIR}/apps PROPERTY BUILDSYSTEM_TARGETS)
set(SPK_APPS)
foreach(t ${spk_app_targets})
  get_target_property(type ${t} TYPE)
  if(type STREQUAL "EXECUTABLE")
    list(APPEND SPK_APPS ${t})
  endif()
endforeach()
install(TARGETS ${SPK_APPS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir kernels engine nets losses apps/recipe)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/spk/${dir}
          FILES_MATCHING PATTERN "*.h" PATTERN "*.cuh" PATTERN "*.def")
endforeach()

set(SPK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/spk)
install(EXPORT spkTargets NAMESPACE spk:: DESTINATION ${SPK_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/spkConfig.cmake.in ${PROJECT_BINARY_DIR}/spkConfig.cmake
                              INSTALL_DESTINATION ${SPK_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/spkConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/spkConfig.cmake ${PROJECT_BINARY_DIR}/spkConfigVersion.cmake
        DESTINATION ${SPK_CMAKE_DIR})

# spk.pc: the floors in link order, then what they link. Static libraries, so the dependencies go in Libs and
# Requires (not .private): a consumer links them whether or not it asks pkg-config for --static.
set(SPK_PC_CFLAGS "-DSPK_HAVE_CUDA=0")
set(SPK_PC_LIBS "")
if(SPK_HAVE_CUDA)
  set(SPK_PC_CFLAGS "-DSPK_HAVE_CUDA=1")
  foreach(d ${CUDAToolkit_INCLUDE_DIRS})
    string(APPEND SPK_PC_CFLAGS " -I${d}")
  endforeach()
  set(SPK_PC_LIBS "-L${CUDAToolkit_LIBRARY_DIR} -lcublas -lcudart")
  if(SPK_HAVE_CUDNN)
    string(APPEND SPK_PC_LIBS " ${SPK_CUDNN_LIBRARY}")
  endif()
endif()
if(SPK_HAVE_DNNL)   # the dnnl CPU conv backend (oneDNN and the OpenMP runtime it runs on)
  string(APPEND SPK_PC_LIBS " ${SPK_DNNL_LIBRARY} ${SPK_GOMP_LIBRARY}")
endif()
set(spk_dist_libs)   # engine/dist's backends, where built
if(SPK_HAVE_MPI)
  list(APPEND spk_dist_libs ${MPI_CXX_LIBRARIES})
endif()
if(SPK_HAVE_NCCL)
  list(APPEND spk_dist_libs ${SPK_NCCL_LIBRARY})
endif()
foreach(lib ${spk_dist_libs})
  string(APPEND SPK_PC_LIBS " ${lib}")
endforeach()
if(SPK_SANITIZE)   # the sanitizer runtimes the instrumented libraries call into
  string(APPEND SPK_PC_LIBS " -fsanitize=address,undefined")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/spk.pc.in ${PROJECT_BINARY_DIR}/spk.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/spk.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
