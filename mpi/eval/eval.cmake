# eval.cmake — hb_eval, the evaluators (mpi/eval/): built-in kernel, C shared library
# (include/hbmpi.h), external command. Include it from the top-level CMakeLists.txt after
# find_package(MPI), so that hbmpi and the tests can link it:
#   include(mpi/eval/eval.cmake)
set(HB_EVAL_DIR ${PROJECT_SOURCE_DIR}/mpi/eval)
add_library(hb_eval STATIC
  ${HB_EVAL_DIR}/eval.c ${HB_EVAL_DIR}/eval_kernel.c ${HB_EVAL_DIR}/eval_lib.c ${HB_EVAL_DIR}/eval_cmd.c
  ${HB_EVAL_DIR}/eval_server.c)
target_include_directories(hb_eval PUBLIC ${HB_EVAL_DIR} ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(hb_eval PUBLIC hb_core hb_clock MPI::MPI_C ${CMAKE_DL_LIBS})
