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
int hb_test_add_pbt(void);
int hb_test_add_report(void);
int hb_test_add_schedule(void);
int hb_test_add_sampler_grid(void);
int hb_test_add_sampler_kde(void);
int hb_test_add_sampler_tpe(void);
int hb_test_add_sampler_gp(void);
int hb_test_add_pb2(void);
int hb_test_add_runlog(void);
int hb_test_add_sweep(void);
int hb_test_add_train_cartpole(void);
int hb_test_add_train_fmnist(void);
int hb_test_add_train_fmnist32(void);
int hb_test_add_pbt_toy(void);

typedef struct hb_space hb_space;

/* A space with every kind of parameter, conditions and a forbidden clause, shared by the suites:
 * lr (log float), units (log int), opt (categorical adam/sgd/rms, weights .5/.3/.2), depth
 * (ordinal 1/2/4/8), const, mom (active iff opt == sgd and lr > 1e-4), nesterov (active iff
 * mom > 0.5 or depth < 2); forbidden: opt == rms and depth in {4, 8}. Indices in that order. */
hb_space *hb_test_rich_space(void);

/* Checks every model-based sampler must pass (test_sampler_kde.c), run for sampler 'kind'. */
void hb_test_sampler_valid_proposals(const char *kind);
void hb_test_sampler_determinism(const char *kind);
void hb_test_sampler_concentrates(const char *kind);
void hb_test_sampler_constant_liar(const char *kind);
void hb_test_sampler_failures(const char *kind);
void hb_test_sampler_ordered(const char *kind);
void hb_test_sampler_allocation_failures(const char *kind);
void hb_test_sampler_cost(const char *kind);

/* The training kernels' suites (test_kernels_cartpole.c, _toy.c, _train.c). The space of
 * 'kernel' (NULL on failure, recorded as a failed assertion); train() that must succeed, its
 * failure recorded at the caller's 'line'; bit equality of two doubles (== would let -0.0 and
 * 0.0 pass as one) and of two states; a little-endian double in a state; a state's bytes freed. */
typedef struct hb_kernel_state hb_kernel_state;
hb_space *hb_test_kernel_space(const char *kernel, const char *args);
double hb_test_train_ok(const char *kernel, const hb_space *sp, const double *x, double budget,
                        uint64_t seed, const hb_kernel_state *from, hb_kernel_state *to,
                        double *trained, unsigned line);
int hb_test_same_bits(double a, double b);
int hb_test_same_state(const hb_kernel_state *a, const hb_kernel_state *b);
double hb_test_state_f64(const hb_kernel_state *st, size_t off);
void hb_test_state_free(hb_kernel_state *st);

/* Path of a file under tests/data (static buffer, valid until the next call). */
const char *hb_test_data(const char *rel);
/* Read a whole file; caller frees with hb_free. NULL on failure. */
char *hb_test_read(const char *path, size_t *len);

/* A CUnit assertion with a printf-style message that says what differed. */
void hb_test_expect_(int ok, const char *file, unsigned line, const char *fmt, ...) HB_PRINTF(4, 5);
#define EXPECT(cond, ...) hb_test_expect_((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

/* tests/data/vectors.json, read on first use (NULL if unreadable); hb_test_vectors_free, a CUnit
 * suite cleanup, lets it go. */
struct json_t;
struct json_t *hb_test_vectors(void);
int hb_test_vectors_free(void);

#endif
