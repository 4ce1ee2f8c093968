/* hb_test.h — suite registration and shared helpers for the CUnit tests. */
#ifndef HB_TEST_H
#define HB_TEST_H

#include <stddef.h>

int hb_test_add_rng(void);
int hb_test_add_buf(void);
int hb_test_add_space(void);
int hb_test_add_space_parse(void);
int hb_test_add_kernels(void);
int hb_test_add_opt(void);
int hb_test_add_report(void);
int hb_test_add_schedule(void);
int hb_test_add_sampler_grid(void);
int hb_test_add_sampler_kde(void);
int hb_test_add_sampler_tpe(void);
int hb_test_add_sampler_gp(void);

/* Path of a file under tests/data (static buffer, valid until the next call). */
const char *hb_test_data(const char *rel);
/* Read a whole file; caller frees with hb_free. NULL on failure. */
char *hb_test_read(const char *path, size_t *len);

#endif
