# eval.cmake — hb_eval, the evaluators (mpi/eval*.c): built-in kernel, C shared library
# (include/hbmpi.h), external command. Include it from the top-level CMakeLists.txt after
# find_package(MPI), so that hbmpi and the tests can link it:
#   include(mpi/eval.cmake)
add_library(hb_eval STATIC
  ${PROJECT_SOURCE_DIR}/mpi/eval.c ${PROJECT_SOURCE_DIR}/mpi/eval_kernel.c
  ${PROJECT_SOURCE_DIR}/mpi/eval_lib.c ${PROJECT_SOURCE_DIR}/mpi/eval_cmd.c
  ${PROJECT_SOURCE_DIR}/mpi/eval_server.c)
target_include_directories(hb_eval PUBLIC ${PROJECT_SOURCE_DIR}/mpi ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(hb_eval PUBLIC hb_core hb_clock MPI::MPI_C ${CMAKE_DL_LIBS})
