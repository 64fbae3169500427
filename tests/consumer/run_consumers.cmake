# Consumer test (script mode): builds two small downstream projects against mlflowpp and,
# when an MLflow server is configured, runs them.
#
#   cmake -DMLFLOWPP_SOURCE_DIR=<repo> -DWORK_DIR=<dir> -DCONSUMER_DIR=<repo>/tests/consumer
#         [-DMAIN_BINARY_DIR=<build>] [-DCONSUMER_BUILD_TYPE=Release] [-DCLEAN=ON]
#         -P run_consumers.cmake
#
# Steps:
#  1. FetchContent: configure + build ${CONSUMER_DIR}/fetchcontent in ${WORK_DIR}/fetchcontent
#     with mlflowpp taken from MLFLOWPP_SOURCE_DIR (the project itself checks that mlflowpp
#     added no tests, examples or install rules as a subproject).
#  2. Install: configure + build + install mlflowpp in its OWN minimal build dir,
#     ${WORK_DIR}/mlflowpp-build (tests, examples, benchmarks OFF; MLFLOWPP_INSTALL ON; no
#     CMAKE_BUILD_TYPE, as the README's recipe, checked to default to Release), into
#     ${WORK_DIR}/prefix. We deliberately do not `cmake --install ${MAIN_BINARY_DIR}`: the
#     main build may have a different build type, may have MLFLOWPP_INSTALL OFF, and may
#     not be fully built (other targets failing to compile must not break this test); a
#     separate library-only build dir is self-contained. The prefix is wiped before every
#     install so a header removed from include/ cannot linger there.
#  3. Header check: compiles main.cpp, and each installed public header on its own, with
#     the installed include dir as the only -I, and fails if any included file comes from
#     curl, simdjson or fmt (private dependencies) or from the source tree.
#  4. find_package: configure + build ${CONSUMER_DIR}/find_package in ${WORK_DIR}/find_package
#     with CMAKE_PREFIX_PATH=${WORK_DIR}/prefix (and checks it found that prefix).
#  5. Run both consumers with MLFLOW_TRACKING_URI = $MLFLOWPP_TEST_TRACKING_URI, else
#     $MLFLOW_TRACKING_URI; each must exit 0 and print "consumer OK". With no URI the run
#     is skipped, unless $CI is non-empty or MLFLOWPP_REQUIRE_SERVER=1 (then it fails).
#
# Work dirs are reused between runs (incremental builds). For a clean configure pass
# -DCLEAN=ON or set MLFLOWPP_CONSUMER_CLEAN=1 in the environment (usable through ctest).
# A configure that fails on a reused dir is retried once from scratch.
# Builds use -j2 and CMAKE_BUILD_TYPE=${CONSUMER_BUILD_TYPE} (default Release). On a
# fresh configure the generator and C++ compiler of MAIN_BINARY_DIR (if given) are reused.
cmake_minimum_required(VERSION 3.21)

foreach(_v MLFLOWPP_SOURCE_DIR WORK_DIR CONSUMER_DIR)
  if(NOT DEFINED ${_v} OR "${${_v}}" STREQUAL "")
    message(FATAL_ERROR "run_consumers.cmake: -D${_v}=... is required")
  endif()
  get_filename_component(${_v} "${${_v}}" ABSOLUTE)
endforeach()
if(NOT DEFINED CONSUMER_BUILD_TYPE OR CONSUMER_BUILD_TYPE STREQUAL "")
  set(CONSUMER_BUILD_TYPE Release)
endif()
set(_jobs 2)

string(TIMESTAMP _t_start "%s")
function(_elapsed out)
  string(TIMESTAMP _now "%s")
  math(EXPR _d "${_now} - ${_t_start}")
  set(${out} "${_d}s" PARENT_SCOPE)
endfunction()
function(_step msg)
  _elapsed(_e)
  message(STATUS "[consumer +${_e}] ${msg}")
endfunction()

# ---- server: decide early whether we must run, may skip, or must fail ------------------
set(_uri "$ENV{MLFLOWPP_TEST_TRACKING_URI}")
if(_uri STREQUAL "")
  set(_uri "$ENV{MLFLOW_TRACKING_URI}")
endif()
set(_server_required FALSE)
if(NOT "$ENV{CI}" STREQUAL "" OR "$ENV{MLFLOWPP_REQUIRE_SERVER}" STREQUAL "1")
  set(_server_required TRUE)
endif()
if(_uri STREQUAL "" AND _server_required)
  message(FATAL_ERROR "consumer test: no MLflow server. Set MLFLOWPP_TEST_TRACKING_URI "
                      "(scripts/test.sh does); a server is required because CI or "
                      "MLFLOWPP_REQUIRE_SERVER=1 is set.")
endif()

# ---- settings inherited from the main build (fresh configures only) -------------------
function(_main_cache name out)
  set(${out} "" PARENT_SCOPE)
  if(DEFINED MAIN_BINARY_DIR AND EXISTS "${MAIN_BINARY_DIR}/CMakeCache.txt")
    file(STRINGS "${MAIN_BINARY_DIR}/CMakeCache.txt" _line REGEX "^${name}:[A-Z]+=")
    if(_line)
      list(GET _line 0 _line)
      string(REGEX REPLACE "^${name}:[A-Z]+=" "" _val "${_line}")
      set(${out} "${_val}" PARENT_SCOPE)
    endif()
  endif()
endfunction()
_main_cache(CMAKE_GENERATOR _main_generator)
_main_cache(CMAKE_MAKE_PROGRAM _main_make_program)
_main_cache(CMAKE_CXX_COMPILER _main_cxx)
_main_cache(CMAKE_PREFIX_PATH _main_prefix_path)
set(_fresh_args "")
if(_main_generator)
  list(APPEND _fresh_args -G "${_main_generator}")
  if(_main_make_program)
    list(APPEND _fresh_args "-DCMAKE_MAKE_PROGRAM=${_main_make_program}")
  endif()
endif()
if(_main_cxx)
  list(APPEND _fresh_args "-DCMAKE_CXX_COMPILER=${_main_cxx}")
endif()
if(_main_prefix_path)
  # Where the main build found its dependencies; the environment form avoids quoting a
  # ';'-list through execute_process.
  if(CMAKE_HOST_WIN32)
    set(_sep ";")
  else()
    set(_sep ":")
  endif()
  string(REPLACE ";" "${_sep}" _pp "${_main_prefix_path}")
  if(NOT "$ENV{CMAKE_PREFIX_PATH}" STREQUAL "")
    set(_pp "${_pp}${_sep}$ENV{CMAKE_PREFIX_PATH}")
  endif()
  set(ENV{CMAKE_PREFIX_PATH} "${_pp}")
endif()

# ---- helpers ---------------------------------------------------------------------------
# _run(<description> COMMAND...): runs, fails with the full output on a non-zero exit;
# the output is returned in _run_output.
function(_run desc)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(NOT _rc EQUAL 0)
    string(REPLACE ";" " " _cmd "${ARGN}")
    message(FATAL_ERROR "consumer test: ${desc} failed (exit ${_rc})\n"
                        "command: ${_cmd}\n---- output ----\n${_out}\n----------------")
  endif()
  set(_run_output "${_out}" PARENT_SCOPE)
endfunction()

# _configure(<description> <source> <binary> [cache args...])
function(_configure desc src bin)
  set(_args -S "${src}" -B "${bin}" "-DCMAKE_BUILD_TYPE=${CONSUMER_BUILD_TYPE}" ${ARGN})
  if(NOT EXISTS "${bin}/CMakeCache.txt")
    _step("configure ${desc} (fresh) in ${bin}")
    _run("configure ${desc}" "${CMAKE_COMMAND}" ${_fresh_args} ${_args})
    return()
  endif()
  _step("configure ${desc} (incremental) in ${bin}")
  execute_process(COMMAND "${CMAKE_COMMAND}" ${_args}
                  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(NOT _rc EQUAL 0)
    _step("configure ${desc} failed on the reused dir; retrying from scratch")
    file(REMOVE_RECURSE "${bin}")
    _run("configure ${desc}" "${CMAKE_COMMAND}" ${_fresh_args} ${_args})
  endif()
endfunction()

function(_build desc bin)
  _step("build ${desc}")
  _run("build ${desc}" "${CMAKE_COMMAND}" --build "${bin}" --config "${CONSUMER_BUILD_TYPE}" -j ${_jobs})
endfunction()

# _find_binary(<build dir> <out>): the consumer executable (single- or multi-config).
function(_find_binary bin out)
  foreach(_c "${bin}/consumer" "${bin}/consumer.exe"
             "${bin}/${CONSUMER_BUILD_TYPE}/consumer" "${bin}/${CONSUMER_BUILD_TYPE}/consumer.exe")
    if(EXISTS "${_c}" AND NOT IS_DIRECTORY "${_c}")
      set(${out} "${_c}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  message(FATAL_ERROR "consumer test: no consumer executable was built in ${bin}")
endfunction()

set(_fc_dir "${WORK_DIR}/fetchcontent")
set(_lib_dir "${WORK_DIR}/mlflowpp-build")
set(_prefix "${WORK_DIR}/prefix")
set(_fp_dir "${WORK_DIR}/find_package")
set(_hc_dir "${WORK_DIR}/header-check")

if(CLEAN OR "$ENV{MLFLOWPP_CONSUMER_CLEAN}" STREQUAL "1")
  _step("clean: removing the work dirs under ${WORK_DIR}")
  file(REMOVE_RECURSE "${_fc_dir}" "${_lib_dir}" "${_prefix}" "${_fp_dir}" "${_hc_dir}")
endif()
file(MAKE_DIRECTORY "${WORK_DIR}")

# ---- 1. FetchContent consumer ----------------------------------------------------------
_configure("FetchContent consumer" "${CONSUMER_DIR}/fetchcontent" "${_fc_dir}"
           "-DMLFLOWPP_SOURCE_DIR=${MLFLOWPP_SOURCE_DIR}")
_build("FetchContent consumer" "${_fc_dir}")
_find_binary("${_fc_dir}" _fc_bin)
# Belt and braces next to the checks in fetchcontent/CMakeLists.txt: nothing of
# mlflowpp's tests or examples may have been built.
file(GLOB_RECURSE _leaked "${_fc_dir}/_deps/*mlflowpp_unit_tests*" "${_fc_dir}/_deps/*train_digits*"
     "${_fc_dir}/_deps/*mlflowpp_integration_tests*" "${_fc_dir}/_deps/*mlflowpp_bench*")
if(_leaked)
  message(FATAL_ERROR "consumer test: the FetchContent build contains mlflowpp test/example files:\n${_leaked}")
endif()

# ---- 2. install mlflowpp from a library-only build -------------------------------------
# Configured as the README's install recipe does: no CMAKE_BUILD_TYPE, so the project's
# default (Release, optimised) must apply. Always a fresh configure: a reused cache would
# keep whatever type an earlier run had.
_step("configure mlflowpp (library only, README's install recipe, no build type) in ${_lib_dir}")
file(REMOVE "${_lib_dir}/CMakeCache.txt")
_run("configure mlflowpp (library only)" "${CMAKE_COMMAND}" ${_fresh_args} -S "${MLFLOWPP_SOURCE_DIR}" -B "${_lib_dir}"
     -DMLFLOWPP_BUILD_TESTS=OFF -DMLFLOWPP_BUILD_EXAMPLES=OFF -DMLFLOWPP_BUILD_BENCHMARKS=OFF
     -DMLFLOWPP_INSTALL=ON "-DCMAKE_INSTALL_PREFIX=${_prefix}")
file(STRINGS "${_lib_dir}/CMakeCache.txt" _lib_type REGEX "^CMAKE_BUILD_TYPE:")
file(STRINGS "${_lib_dir}/CMakeCache.txt" _lib_configs REGEX "^CMAKE_CONFIGURATION_TYPES:")
if(NOT _lib_configs AND NOT _lib_type MATCHES "=Release$")  # multi-config generators have no default
  message(FATAL_ERROR "consumer test: configured with no build type, mlflowpp did not default to "
                      "Release ('${_lib_type}')")
endif()
foreach(_unwanted train_digits mlflowpp_unit_tests mlflowpp_bench)
  if(EXISTS "${_lib_dir}/build.ninja")
    file(STRINGS "${_lib_dir}/build.ninja" _hit REGEX "build ${_unwanted}[: ]")
  elseif(EXISTS "${_lib_dir}/Makefile")
    file(STRINGS "${_lib_dir}/Makefile" _hit REGEX "^${_unwanted}:")
  endif()
  if(_hit)
    message(FATAL_ERROR "consumer test: the install recipe still builds ${_unwanted}")
  endif()
endforeach()
_step("build mlflowpp (library only)")
_run("build mlflowpp (library only)" "${CMAKE_COMMAND}" --build "${_lib_dir}" --config Release -j ${_jobs})
_step("install mlflowpp into ${_prefix}")
file(REMOVE_RECURSE "${_prefix}")
_run("install mlflowpp" "${CMAKE_COMMAND}" --install "${_lib_dir}" --prefix "${_prefix}" --config Release)
if(NOT EXISTS "${_prefix}/include/mlflowpp/mlflowpp.hpp")
  message(FATAL_ERROR "consumer test: install did not put include/mlflowpp/mlflowpp.hpp into ${_prefix}")
endif()
file(GLOB_RECURSE _configs "${_prefix}/*/mlflowppConfig.cmake")
if(NOT _configs)
  message(FATAL_ERROR "consumer test: install put no mlflowppConfig.cmake into ${_prefix}")
endif()
file(GLOB_RECURSE _release_targets "${_prefix}/*/mlflowppTargets-release.cmake")
if(NOT _release_targets)
  message(FATAL_ERROR "consumer test: the installed library is not a Release build "
                      "(no mlflowppTargets-release.cmake in ${_prefix})")
endif()

# ---- 3. public headers need only the installed include dir -----------------------------
set(_cxx "${_main_cxx}")
if(NOT _cxx)
  find_program(_cxx NAMES c++ g++ clang++)
endif()
get_filename_component(_cxx_name "${_cxx}" NAME)
if(_cxx AND _cxx_name MATCHES "(^|-)(c\\+\\+|g\\+\\+|clang\\+\\+)(-[0-9.]+)?(\\.exe)?$")
  _step("header check with ${_cxx} and -I${_prefix}/include only")
  file(REMOVE_RECURSE "${_hc_dir}")
  file(MAKE_DIRECTORY "${_hc_dir}")
  # Every installed header on its own (self-contained), then the real consumer program.
  file(GLOB _headers RELATIVE "${_prefix}/include" "${_prefix}/include/mlflowpp/*.hpp")
  set(_units "")
  foreach(_h IN LISTS _headers)
    string(MAKE_C_IDENTIFIER "${_h}" _id)
    file(WRITE "${_hc_dir}/${_id}.cpp" "#include <${_h}>\n#include <${_h}>  // include guard\n")
    list(APPEND _units "${_hc_dir}/${_id}.cpp")
  endforeach()
  list(APPEND _units "${CONSUMER_DIR}/main.cpp")
  foreach(_src IN LISTS _units)
    get_filename_component(_stem "${_src}" NAME_WE)
    _run("compiling ${_src} with only the installed include dir"
         "${_cxx}" -std=c++17 "-I${_prefix}/include" -c "${_src}" -o "${_hc_dir}/${_stem}.o"
         -MD -MF "${_hc_dir}/${_stem}.d")
    file(READ "${_hc_dir}/${_stem}.d" _deps)
    string(REGEX REPLACE "\\\\\n" " " _deps "${_deps}")
    string(REGEX MATCHALL "[^ \t\r\n]+" _deps "${_deps}")
    set(_bad "")
    foreach(_d IN LISTS _deps)
      string(FIND "${_d}" "${MLFLOWPP_SOURCE_DIR}/include/" _in_include)
      string(FIND "${_d}" "${MLFLOWPP_SOURCE_DIR}/src/" _in_src)
      if(_d MATCHES "(/|^)(curl|fmt|simdjson)/" OR _d MATCHES "simdjson\\.h$"
         OR _in_include EQUAL 0 OR _in_src EQUAL 0)
        list(APPEND _bad "${_d}")
      endif()
    endforeach()
    if(_bad)
      string(REPLACE ";" "\n  " _bad "${_bad}")
      message(FATAL_ERROR "consumer test: ${_src} pulls in private or non-installed headers "
                          "through the public headers:\n  ${_bad}")
    endif()
  endforeach()
else()
  _step("header check skipped: no GCC/Clang-style compiler found ('${_cxx}')")
endif()

# ---- 4. find_package consumer ----------------------------------------------------------
_configure("find_package consumer" "${CONSUMER_DIR}/find_package" "${_fp_dir}"
           -Umlflowpp_DIR "-DCMAKE_PREFIX_PATH=${_prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
# mlflowpp_DIR is dropped above so every configure searches again, as a user's first
# configure would; make sure it found the config just installed.
file(STRINGS "${_fp_dir}/CMakeCache.txt" _found REGEX "^mlflowpp_DIR:")
string(REGEX REPLACE "^mlflowpp_DIR:[A-Z]+=" "" _found "${_found}")
string(FIND "${_found}" "${_prefix}/" _pos)
if(NOT _pos EQUAL 0)
  message(FATAL_ERROR "consumer test: find_package(mlflowpp) used '${_found}', not the install in ${_prefix}")
endif()
_build("find_package consumer" "${_fp_dir}")
_find_binary("${_fp_dir}" _fp_bin)

# ---- 5. run against the server ---------------------------------------------------------
if(_uri STREQUAL "")
  _elapsed(_e)
  message(STATUS "consumer test: both consumers built (${_e}); NOT RUN (skipped): no MLflow "
                 "server; set MLFLOWPP_TEST_TRACKING_URI to run them.")
  return()
endif()
foreach(_bin "${_fc_bin}" "${_fp_bin}")
  _step("run ${_bin} against ${_uri}")
  execute_process(
    COMMAND "${CMAKE_COMMAND}" -E env --unset=MLFLOW_RUN_ID --unset=MLFLOW_EXPERIMENT_ID
            --unset=MLFLOW_EXPERIMENT_NAME "MLFLOW_TRACKING_URI=${_uri}" "${_bin}"
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out TIMEOUT 300)
  if(NOT _rc EQUAL 0 OR NOT _out MATCHES "consumer OK")
    message(FATAL_ERROR "consumer test: ${_bin} failed (exit ${_rc}) against ${_uri}\n"
                        "---- output ----\n${_out}\n----------------")
  endif()
  string(STRIP "${_out}" _out)
  message(STATUS "${_out}")
endforeach()
_elapsed(_e)
message(STATUS "consumer test: FetchContent and find_package consumers OK (${_e})")
