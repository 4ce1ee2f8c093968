/* main.c — the CUnit runner: `hb_tests SUITE` runs one suite (CTest runs each in its own
 * process, with a timeout); `hb_tests` alone runs them all. Suites are listed in one table. */
#include <CUnit/Basic.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "hb_common.h"
#include "hb_test.h"

static const struct {
    const char *name;
    int (*add)(void);
} suites[] = {
    {"rng", hb_test_add_rng},
    {"buf", hb_test_add_buf},
    {"space", hb_test_add_space},
    {"space_parse", hb_test_add_space_parse},
    {"kernels", hb_test_add_kernels},
    {"opt", hb_test_add_opt},
    {"pbt", hb_test_add_pbt},
    {"report", hb_test_add_report},
    {"schedule", hb_test_add_schedule},
    {"sampler_grid", hb_test_add_sampler_grid},
    {"sampler_kde", hb_test_add_sampler_kde},
    {"sampler_tpe", hb_test_add_sampler_tpe},
    {"sampler_gp", hb_test_add_sampler_gp},
    {"pb2", hb_test_add_pb2},
    {"runlog", hb_test_add_runlog},
    {"sweep", hb_test_add_sweep},
    {"train_cartpole", hb_test_add_train_cartpole},
    {"train_fmnist", hb_test_add_train_fmnist},
    {"train_fmnist32", hb_test_add_train_fmnist32},
    {"pbt_toy", hb_test_add_pbt_toy},
};

int main(int argc, char **argv)
{
    json_set_alloc_funcs(hb_malloc_counted, hb_free); /* count jansson's blocks with ours */
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    size_t n = sizeof suites / sizeof suites[0];
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], suites[i].name) != 0) continue;
        found = 1;
        if (suites[i].add() != 0) {
            fprintf(stderr, "hb_tests: cannot add suite %s\n", suites[i].name);
            CU_cleanup_registry();
            return 2;
        }
    }
    if (!found) {
        fprintf(stderr, "hb_tests: no suite named '%s'\n", argv[1]);
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures(); /* read before cleanup resets it */
    CU_cleanup_registry();
    if (hb_alloc_live() != 0) { /* every test frees what it allocated */
        fprintf(stderr, "hb_tests: %ld heap blocks still allocated after the suite\n", hb_alloc_live());
        return 1;
    }
    return fails ? 1 : (int)CU_get_error();
}
