# Command-line and MPI integration tests: real hbmpi processes, real mpirun.
set(HB_CLI_TEST ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_cli.py
    --hbmpi $<TARGET_FILE:hbmpi> --data ${CMAKE_CURRENT_SOURCE_DIR}/data
    --objdir ${CMAKE_CURRENT_BINARY_DIR}/objectives
    --objlib ${CMAKE_CURRENT_BINARY_DIR}/objectives/libobj.so
    --mpirun ${MPIEXEC_EXECUTABLE})
# Every hbmpi process the tests start checks at exit that it freed all it allocated.
set(HB_CLI_ENV "HB_CHECK_LEAKS=1")
if(HB_SANITIZE)
  # LeakSanitizer cannot tell Open MPI's never-freed memory (some in components unloaded at
  # MPI_Finalize) from ours, so for these processes HB_CHECK_LEAKS does the leak check and
  # ASan/UBSan check everything else. The unit tests keep LeakSanitizer on.
  list(APPEND HB_CLI_ENV "ASAN_OPTIONS=detect_leaks=0" "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
set(HB_MPI_ENV ${HB_CLI_ENV} OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    OMPI_MCA_rmaps_base_oversubscribe=1)
foreach(t help usage bad_spaces eval_vectors kernels run_random plan optimizers simulate)
  add_test(NAME cli_${t} COMMAND ${HB_CLI_TEST} ${t})
  set_tests_properties(cli_${t} PROPERTIES TIMEOUT 300 LABELS cli ENVIRONMENT "${HB_CLI_ENV}")
endforeach()
add_test(NAME cli_injection COMMAND ${HB_CLI_TEST} injection)
set_tests_properties(cli_injection PROPERTIES TIMEOUT 120 LABELS cli ENVIRONMENT "${HB_CLI_ENV}")
add_test(NAME mpi_objectives COMMAND ${HB_CLI_TEST} objectives)
set_tests_properties(mpi_objectives PROPERTIES TIMEOUT 300 LABELS mpi ENVIRONMENT "${HB_MPI_ENV}" PROCESSORS 2)
add_test(NAME mpi_reproducible COMMAND ${HB_CLI_TEST} reproducible)
set_tests_properties(mpi_reproducible PROPERTIES TIMEOUT 300 LABELS mpi ENVIRONMENT "${HB_MPI_ENV}" PROCESSORS 2)
foreach(np 1 2 4)
  add_test(NAME mpi_run_np${np} COMMAND ${HB_CLI_TEST} --np ${np} run_mpi)
  set_tests_properties(mpi_run_np${np} PROPERTIES TIMEOUT 300 LABELS mpi
                       ENVIRONMENT "${HB_MPI_ENV}" PROCESSORS 2)
endforeach()
# The Python helper python/hbmpi.py (tests/python/): its --eval-server loop through real pipes
# on fds 3 and 4, its --eval-cmd mode alone and under hbmpi, read_trials on real run files.
foreach(t serve fds cmd hbmpi read_trials)
  add_test(NAME python_${t}
           COMMAND ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_hbmpi_py.py --hbmpi $<TARGET_FILE:hbmpi> ${t})
  set_tests_properties(python_${t} PROPERTIES TIMEOUT 300 LABELS cli ENVIRONMENT "${HB_CLI_ENV}")
endforeach()
# cmake --install into a temporary prefix (tests/install/): the files, a C objective built with
# pkg-config's flags run by the installed hbmpi, the installed Python helper.
add_test(NAME install_prefix
         COMMAND ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/install/test_install.py --cmake ${CMAKE_COMMAND}
                 --build ${CMAKE_BINARY_DIR} --version ${PROJECT_VERSION} --pythondir ${HB_INSTALL_PYTHONDIR})
set_tests_properties(install_prefix PROPERTIES TIMEOUT 300 LABELS cli ENVIRONMENT "${HB_CLI_ENV}")
# The ConfigSpace virtual environments are made once and shared by every build directory.
set(HB_VENV_DIR ${PROJECT_SOURCE_DIR}/.venvs CACHE PATH "Where tests keep their Python venvs")
add_test(NAME configspace_roundtrip
         COMMAND ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/configspace/test_configspace.py
                 --hbmpi $<TARGET_FILE:hbmpi> --venv-dir ${HB_VENV_DIR})
set_tests_properties(configspace_roundtrip PROPERTIES TIMEOUT 900 LABELS configspace
                     ENVIRONMENT "${HB_CLI_ENV}")

# --ranks-per-eval: a library objective that works on its group's communicator.
add_library(hb_test_libgroup MODULE ${CMAKE_CURRENT_SOURCE_DIR}/objectives/libgroup.c)
target_include_directories(hb_test_libgroup PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(hb_test_libgroup PRIVATE MPI::MPI_C)
set_target_properties(hb_test_libgroup PROPERTIES PREFIX "" OUTPUT_NAME libgroup
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/objectives)
add_test(NAME mpi_ranks_per_eval COMMAND ${HB_CLI_TEST} ranks_per_eval)
set_tests_properties(mpi_ranks_per_eval PROPERTIES TIMEOUT 300 LABELS mpi ENVIRONMENT "${HB_MPI_ENV}"
                     PROCESSORS 2)

# The run file: --out, resume, signals, crash safety, report (tests/runfile/).
set(HB_RUNFILE_TEST ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/runfile/test_runfile.py
    --hbmpi $<TARGET_FILE:hbmpi> --mpirun ${MPIEXEC_EXECUTABLE} --python ${HB_PYTHON})
foreach(t basic mismatch finished locked warm cmd_signal)
  add_test(NAME runfile_${t} COMMAND ${HB_RUNFILE_TEST} ${t})
  set_tests_properties(runfile_${t} PROPERTIES TIMEOUT 300 LABELS runfile ENVIRONMENT "${HB_CLI_ENV}")
endforeach()
# --eval-server (tests/server/): failure modes, stray output, start-up failures, promoted trials,
# signals and SIGKILL (no server left), and 1000 trials served = the same under --eval-cmd.
set(HB_SERVER_TEST ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/server/test_server.py --hbmpi $<TARGET_FILE:hbmpi>
    --mpirun ${MPIEXEC_EXECUTABLE})
foreach(t modes stray promoted resume)
  add_test(NAME server_${t} COMMAND ${HB_SERVER_TEST} ${t})
  set_tests_properties(server_${t} PROPERTIES TIMEOUT 300 LABELS eval ENVIRONMENT "${HB_CLI_ENV}")
endforeach()
foreach(t startfail signals same)
  add_test(NAME server_${t} COMMAND ${HB_SERVER_TEST} ${t})
  set_tests_properties(server_${t} PROPERTIES TIMEOUT 600 LABELS "eval;mpi" ENVIRONMENT "${HB_MPI_ENV}"
                       PROCESSORS 2)
endforeach()

# Damaged run files (cut short, bytes changed, a damaged journal, a zeroed seal, foreign files, a claim
# of 10^12 events, a file from before the seal): refused untouched, reported, repaired.
add_test(NAME runfile_damaged COMMAND ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/runfile/test_damaged.py
         --hbmpi $<TARGET_FILE:hbmpi>)
set_tests_properties(runfile_damaged PROPERTIES TIMEOUT 300 LABELS runfile ENVIRONMENT "${HB_CLI_ENV}")
# Real mpirun -n 3, killed with SIGKILL at random moments; signals to rank 0, to every rank, to a worker;
# a library objective that ignores the stop (rank 0 saves and ends the MPI job).
list(APPEND HB_RUNFILE_TEST --objlib ${CMAKE_CURRENT_BINARY_DIR}/objectives/libobj.so)
# A run of 2 workers resumed with 1: utilisation weighted by each session's workers.
add_test(NAME runfile_workers COMMAND ${HB_RUNFILE_TEST} workers)
set_tests_properties(runfile_workers PROPERTIES TIMEOUT 300 LABELS "runfile;mpi" ENVIRONMENT "${HB_MPI_ENV}"
                     PROCESSORS 2)
foreach(t kill signals stuck)
  add_test(NAME runfile_${t} COMMAND ${HB_RUNFILE_TEST} ${t})
  set_tests_properties(runfile_${t} PROPERTIES TIMEOUT 600 LABELS "runfile;mpi" ENVIRONMENT "${HB_MPI_ENV}"
                       PROCESSORS 2 RUN_SERIAL TRUE)
endforeach()

# Slurm (tests/slurm/): a real one-node cluster (munged, slurmctld, slurmd) that the slurm_up
# fixture starts and slurm_down stops, whatever happened in between, so no daemon outlives the
# run. The tests submit slurm/hbmpi-one-node.sbatch, requeue it, let its time limit signal it,
# and follow docs/slurm.md's walk-through.
set(HB_SLURM_DIR /tmp/hbmpi-slurm)
add_test(NAME slurm_up COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/slurm/cluster up)
set_tests_properties(slurm_up PROPERTIES FIXTURES_SETUP hb_slurm LABELS slurm TIMEOUT 120
                     ENVIRONMENT "HB_SLURM_DIR=${HB_SLURM_DIR}")
add_test(NAME slurm_down COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/slurm/cluster down)
set_tests_properties(slurm_down PROPERTIES FIXTURES_CLEANUP hb_slurm LABELS slurm TIMEOUT 180
                     ENVIRONMENT "HB_SLURM_DIR=${HB_SLURM_DIR}")
foreach(t requeue timelimit stop_before_end srun array docs)
  add_test(NAME slurm_${t}
           COMMAND ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/slurm/test_slurm.py --hbmpi $<TARGET_FILE:hbmpi>
                   --src ${PROJECT_SOURCE_DIR} ${t})
  set_tests_properties(slurm_${t} PROPERTIES FIXTURES_REQUIRED hb_slurm LABELS slurm TIMEOUT 900 RUN_SERIAL TRUE
                       ENVIRONMENT "${HB_MPI_ENV};SLURM_CONF=${HB_SLURM_DIR}/slurm.conf")
endforeach()

if(NOT HB_SANITIZE) # PyTorch trials: slow, and nothing of hbmpi's that the others do not cover
  # (figures: slurm/figures-array.sbatch, whose Figure 6 trains the PPO example)
  foreach(t lenet figures)
    add_test(NAME slurm_${t}
             COMMAND ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/slurm/test_slurm.py --hbmpi $<TARGET_FILE:hbmpi>
                     --src ${PROJECT_SOURCE_DIR} --python ${HB_PYTHON} ${t})
    set_tests_properties(slurm_${t} PROPERTIES FIXTURES_REQUIRED hb_slurm LABELS slurm TIMEOUT 900 RUN_SERIAL TRUE
                         ENVIRONMENT "${HB_MPI_ENV};SLURM_CONF=${HB_SLURM_DIR}/slurm.conf")
  endforeach()
endif()

# hbmpi sweep: studies alone and under mpirun, the sweep report, bad input, signals and SIGKILL.
set(HB_SWEEP_TEST ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/sweep/test_sweep.py
    --hbmpi $<TARGET_FILE:hbmpi> --mpirun ${MPIEXEC_EXECUTABLE})
foreach(t basic errors)
  add_test(NAME sweep_${t} COMMAND ${HB_SWEEP_TEST} ${t})
  set_tests_properties(sweep_${t} PROPERTIES TIMEOUT 300 LABELS cli ENVIRONMENT "${HB_CLI_ENV}")
endforeach()
add_test(NAME sweep_mpi COMMAND ${HB_SWEEP_TEST} mpi)
set_tests_properties(sweep_mpi PROPERTIES TIMEOUT 300 LABELS mpi ENVIRONMENT "${HB_MPI_ENV}" PROCESSORS 2)
add_test(NAME sweep_signals COMMAND ${HB_SWEEP_TEST} signals)
set_tests_properties(sweep_signals PROPERTIES TIMEOUT 600 LABELS mpi ENVIRONMENT "${HB_MPI_ENV}" PROCESSORS 2
                     RUN_SERIAL TRUE)

# A stop is always obeyed and hostile input is bounded (tests/stop/): a signal while parsing, while
# replaying a long run file, while the GP fits, while a report is written; 2 GB of objective
# output, a million choices, a million studies. About 45 s in all.
set(HB_STOP_TEST ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/stop/test_stop.py --hbmpi $<TARGET_FILE:hbmpi>)
foreach(t parse replay fit report bounds)
  add_test(NAME stop_${t} COMMAND ${HB_STOP_TEST} ${t})
  set_tests_properties(stop_${t} PROPERTIES TIMEOUT 300 LABELS cli ENVIRONMENT "${HB_CLI_ENV}")
endforeach()

# A worker rank lost under a local mpirun (tests/lost/): one SIGSTOPped (rank 0 notices the
# silence, records the rank, host and pid, exits 4), one SIGKILLed (mpirun ends the job); both
# resume to the trials of an uninterrupted run. The hosts of the ranks in the run file.
set(HB_LOST_TEST ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/lost/test_lost.py
    --hbmpi $<TARGET_FILE:hbmpi> --mpirun ${MPIEXEC_EXECUTABLE})
foreach(t stopped killed hosts)
  add_test(NAME lost_${t} COMMAND ${HB_LOST_TEST} ${t})
  set_tests_properties(lost_${t} PROPERTIES TIMEOUT 300 LABELS mpi ENVIRONMENT "${HB_MPI_ENV}" PROCESSORS 2)
endforeach()

# Promoted trials that continue from their previous rung (tests/continue/): built-in training
# kernels alone and under mpirun, killed and resumed, commands with HB_PREVIOUS_*, and the
# PyTorch LeNet and PPO CartPole examples under mpirun -n 3 with a SIGKILL (the slow ones: not
# again under ASan).
set(HB_CONTINUE_TEST ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/continue/test_continue.py
    --hbmpi $<TARGET_FILE:hbmpi> --mpirun ${MPIEXEC_EXECUTABLE} --python ${HB_PYTHON}
    --lenet ${PROJECT_SOURCE_DIR}/examples/lenet --ppo ${PROJECT_SOURCE_DIR}/examples/ppo_cartpole)
foreach(t kernel mpi resume cmd)
  add_test(NAME continue_${t} COMMAND ${HB_CONTINUE_TEST} ${t})
  set_tests_properties(continue_${t} PROPERTIES TIMEOUT 600 LABELS mpi ENVIRONMENT "${HB_MPI_ENV}" PROCESSORS 2)
endforeach()
if(NOT HB_SANITIZE)
  add_test(NAME continue_lenet COMMAND ${HB_CONTINUE_TEST} lenet)
  set_tests_properties(continue_lenet PROPERTIES TIMEOUT 900 LABELS mpi ENVIRONMENT "${HB_MPI_ENV}" PROCESSORS 2)
  # PPO on CartPole: promoted trials continue, SIGKILL and resume to the uninterrupted run's trials.
  add_test(NAME continue_ppo COMMAND ${HB_CONTINUE_TEST} ppo)
  set_tests_properties(continue_ppo PROPERTIES TIMEOUT 600 LABELS mpi ENVIRONMENT "${HB_MPI_ENV}" PROCESSORS 2)
endif()
if(NOT HB_SANITIZE)
  # The example's own check: a continued LeNet is bit-identical to one trained from scratch.
  add_test(NAME example_lenet COMMAND ${HB_PYTHON} ${PROJECT_SOURCE_DIR}/examples/lenet/test_lenet.py)
  set_tests_properties(example_lenet PROPERTIES TIMEOUT 300 LABELS mpi)
  # ...and a continued PPO agent is bit-identical to one trained from scratch; bad input refused.
  add_test(NAME example_ppo COMMAND ${HB_PYTHON} ${PROJECT_SOURCE_DIR}/examples/ppo_cartpole/test_ppo.py)
  set_tests_properties(example_ppo PROPERTIES TIMEOUT 300 LABELS mpi)
endif()

# Emulated 3-host Slurm cluster (tests/vcluster/): network namespaces node1..node3 on a bridge
# (198.18.0.0/24), with munged, slurmctld and one slurmd per host, that the vcluster_up fixture
# starts and vcluster_down removes (daemons, namespaces, bridge, state), whatever happened in
# between. Its own ports (7817/7818) and munge socket: it may run beside the one-node cluster.
# `hbmpi report` on pbt/pb2 runs (tests/pbt/): the best model's schedule in the summary and the
# report JSON, checked against the run file's trials table (h5py), with a toy objective that
# continues checkpoints under --eval-server, and the figure's population and schedule panels;
# other optimisers' reports have no schedule.
set(HB_PBT_REPORT_TEST ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/pbt/test_pbt_report.py
    --hbmpi $<TARGET_FILE:hbmpi> --python ${HB_PYTHON})
foreach(t schedule pb2 plain plot)
  add_test(NAME pbt_report_${t} COMMAND ${HB_PBT_REPORT_TEST} ${t})
  set_tests_properties(pbt_report_${t} PROPERTIES TIMEOUT 300 LABELS cli ENVIRONMENT "${HB_CLI_ENV}")
endforeach()
# Not under sanitizers: these tests are about hosts being lost, not about hbmpi's memory.
if(NOT HB_SANITIZE)
  set(HB_VC_DIR /tmp/hbmpi-vcluster)
  add_test(NAME vcluster_up COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/vcluster/vc up)
  set_tests_properties(vcluster_up PROPERTIES FIXTURES_SETUP hb_vcluster LABELS vcluster TIMEOUT 180
                       RUN_SERIAL TRUE ENVIRONMENT "HB_VC_DIR=${HB_VC_DIR}")
  add_test(NAME vcluster_down COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/vcluster/vc down)
  set_tests_properties(vcluster_down PROPERTIES FIXTURES_CLEANUP hb_vcluster LABELS vcluster TIMEOUT 180
                       RUN_SERIAL TRUE ENVIRONMENT "HB_VC_DIR=${HB_VC_DIR}")
  # (docs is the walk-through of docs/slurm.md: a host killed under srun, with every check of the
  # kill_host_srun group, which is therefore not run again here)
  foreach(t hello hosts span docs kill_host_mpirun kill_rank_srun kill_rank_mpirun link_srun link_mpirun)
    add_test(NAME vcluster_${t}
             COMMAND ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/vcluster/test_vcluster.py
                     --hbmpi $<TARGET_FILE:hbmpi> --src ${PROJECT_SOURCE_DIR} ${t})
    set_tests_properties(vcluster_${t} PROPERTIES FIXTURES_REQUIRED hb_vcluster LABELS vcluster TIMEOUT 300
                         RUN_SERIAL TRUE
                         ENVIRONMENT "${HB_MPI_ENV};HB_VC_DIR=${HB_VC_DIR};SLURM_CONF=${HB_VC_DIR}/slurm.conf")
  endforeach()
endif()

# Population-based training (tests/pbt/): the lineage of steps in the report and the run file,
# a command objective continuing copied checkpoints, the PBT paper's toy problem, runs stopped,
# killed and resumed, alone and under mpirun with --reproducible.
set(HB_PBT_TEST ${HB_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/pbt/test_pbt_run.py
    --hbmpi $<TARGET_FILE:hbmpi> --mpirun ${MPIEXEC_EXECUTABLE} --python ${HB_PYTHON}
    --pydir ${PROJECT_SOURCE_DIR}/python)
foreach(t lineage cmd toy resume mpi)
  add_test(NAME pbt_${t} COMMAND ${HB_PBT_TEST} ${t})
  set_tests_properties(pbt_${t} PROPERTIES TIMEOUT 300 LABELS mpi ENVIRONMENT "${HB_MPI_ENV}" PROCESSORS 2)
endforeach()
