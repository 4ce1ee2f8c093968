/* test_kernels_train.c — the fmnist_mlp kernel (docs/kernels.md §4) and its train() interface: the
 * initial weights and untrained error of approximate.fmnist_mlp bit for bit, its two short runs
 * within their tolerance, the prefix property across saved states (same loss, same bytes),
 * refused states, divergence, the data checks (missing, truncated and damaged files in a
 * temporary directory), range checks, budget rounding, allocation failures; and the SHA-256
 * behind the data and state checks. Needs Debian's dataset-fashion-mnist. Expected numbers come
 * from the vectors or from the kernel itself. A second suite, train_fmnist32, checks the float32
 * variant fmnist_mlp32 against the float64 kernel and itself. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, symlink, unlink, rmdir */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fmnist_data.h"
#include "hb_common.h"
#include "hb_kernel.h"
#include "hb_kernels.h"
#include "hb_space.h"
#include "hb_test.h"
#include "sha256.h"

#define DIM 5
#define NP HB__FMNIST_PIXELS
#define LABELS "train-labels-idx1-ubyte.gz"
#define IMAGES "train-images-idx3-ubyte.gz"


/* The small, fast configuration most tests train: H = 16, B = 512 (20 batches an epoch). */
static const double small_x[DIM] = {0.05, 512, 16, 1e-4, 0.9};
#define SMALL_SEED 7

/* Record an assertion with a formatted message (CUnit copies the text). */
static json_t *fmnist_vectors(void)
{
    return json_object_get(json_object_get(hb_test_vectors(), "approximate"), "fmnist_mlp");
}

static const hb_kernel *kernel(void) { return hb_kernels_find("fmnist_mlp"); }

static hb_space *make_space(const char *args)
{
    hb_space *sp = NULL;
    hb_error err = {0};
    int rc = kernel()->space(args, &sp, &err);
    EXPECT(rc == HB_OK, "space(%s): status %d (%s)", args ? args : "NULL", rc, err.msg);
    return sp;
}

/* train() with the small configuration's seed unless told otherwise. */
static int train(const hb_space *sp, const double *x, double budget, uint64_t seed,
                 const hb_kernel_state *from, hb_kernel_state *to, double *trained, double *loss)
{
    hb_error err = {0};
    int rc = kernel()->train(sp, x, budget, seed, from, to, trained, loss, &err);
    return rc;
}

#define same_state hb_test_same_state

static hb_kernel_state copy_state(const hb_kernel_state *s)
{
    hb_kernel_state c = {hb_malloc(s->len), s->len};
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.data);
    memcpy(c.data, s->data, s->len);
    return c;
}

/* Seal a state the test edited with a fresh SHA-256, as the kernel would. */
static void reseal(hb_kernel_state *s)
{
    unsigned char *b = s->data;
    hb__sha256(b, s->len - HB__SHA256_BYTES, b + s->len - HB__SHA256_BYTES);
}

/* FIPS 180-2's examples, and the same digests fed in uneven pieces. */
static void test_sha256(void)
{
    static const struct {
        const char *msg;
        size_t repeat;
        const char *hex;
    } known[] = {
        {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        unsigned char d[HB__SHA256_BYTES];
        char hex[2 * HB__SHA256_BYTES + 1];
        hb__sha256_ctx c;
        size_t len = strlen(known[i].msg);
        hb__sha256_init(&c);
        for (size_t r = 0; r < known[i].repeat; r++) hb__sha256_update(&c, known[i].msg, len);
        hb__sha256_final(&c, d);
        hb__sha256_hex(d, hex);
        EXPECT(strcmp(hex, known[i].hex) == 0, "SHA-256 #%zu: %s, expected %s", i, hex,
               known[i].hex);
    }
    /* Pieces of 0..130 bytes across block boundaries give the one-shot digest. */
    unsigned char buf[1000], one[HB__SHA256_BYTES], many[HB__SHA256_BYTES];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 131 + 7);
    hb__sha256(buf, sizeof buf, one);
    hb__sha256_ctx c;
    hb__sha256_init(&c);
    for (size_t off = 0, step = 0; off < sizeof buf; step = (step + 37) % 131) {
        size_t n = step < sizeof buf - off ? step : sizeof buf - off;
        hb__sha256_update(&c, buf + off, n);
        off += n;
    }
    hb__sha256_final(&c, many);
    CU_ASSERT(memcmp(one, many, sizeof one) == 0);
}

/* The space of docs/kernels.md §4, the option data=DIR, and the kernel's metadata. */
static void test_space(void)
{
    static const struct {
        const char *name;
        hb_param_type type;
        double lower, upper;
        hb_scale scale;
    } want[DIM] = {
        {"learning_rate", HB_PARAM_FLOAT, 1e-4, 1.0, HB_SCALE_LOG},
        {"batch_size", HB_PARAM_INT, 16, 512, HB_SCALE_LOG},
        {"n_hidden", HB_PARAM_INT, 16, 1024, HB_SCALE_LOG},
        {"weight_decay", HB_PARAM_FLOAT, 1e-6, 1e-2, HB_SCALE_LOG},
        {"momentum", HB_PARAM_FLOAT, 0.0, 0.99, HB_SCALE_LINEAR},
    };
    const hb_kernel *k = kernel();
    hb_error err = {0};
    hb_space *sp;
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_EQUAL(hb_kernel_check(k, &err), HB_OK);
    CU_ASSERT(k->min_budget == 1.0 && k->max_budget == 27.0);
    CU_ASSERT(isnan(k->optimum));
    CU_ASSERT_EQUAL(k->deterministic, 0);
    CU_ASSERT_PTR_NOT_NULL(k->train);
    CU_ASSERT_PTR_NULL(k->exact);

    sp = make_space(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(hb_space_dim(sp), DIM);
    for (size_t i = 0; i < DIM; i++) {
        EXPECT(strcmp(hb_space_name(sp, i), want[i].name) == 0 &&
                   hb_space_type(sp, i) == want[i].type &&
                   hb_space_lower(sp, i) == want[i].lower &&
                   hb_space_upper(sp, i) == want[i].upper &&
                   hb_space_scale(sp, i) == want[i].scale,
               "parameter %zu: '%s' %g..%g", i, hb_space_name(sp, i), hb_space_lower(sp, i),
               hb_space_upper(sp, i));
    }
    hb_space_free(sp);

    sp = make_space("data=" HB__FMNIST_DEFAULT_DIR);
    CU_ASSERT_PTR_NOT_NULL(sp);
    hb_space_free(sp);
    static const char *const bad[] = {"", "data=", "foo", "data", "dir=/tmp", "DATA=/tmp"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sp = (hb_space *)&err; /* must be reset to NULL */
        int rc = k->space(bad[i], &sp, &err);
        EXPECT(rc == HB_EINVAL && sp == NULL && strstr(err.msg, "data=DIR") != NULL,
               "option '%s': status %d (%s)", bad[i], rc, err.msg);
    }
}

/* approximate.fmnist_mlp.init_checks: the weights as printed (15 significant digits, so the
 * same double), sum_W1 to 1e-9 and the untrained validation error exactly. */
static void test_initial(void)
{
    json_t *checks = json_object_get(fmnist_vectors(), "init_checks"), *c;
    size_t idx;
    CU_ASSERT_FATAL(json_array_size(checks) >= 2);
    json_array_foreach(checks, idx, c) {
        size_t h = (size_t)json_integer_value(json_object_get(c, "n_hidden"));
        uint64_t seed = (uint64_t)json_integer_value(json_object_get(c, "seed"));
        double *w1 = hb_malloc(NP * h * sizeof(double)), *w2 = hb_malloc(h * 10 * sizeof(double));
        double val = NAN, sum = 0.0;
        hb_error err = {0};
        CU_ASSERT_FATAL(h >= 16 && w1 != NULL && w2 != NULL);
        int rc = hb__fmnist_initial(h, seed, w1, w2, &val, &err);
        EXPECT(rc == HB_OK, "init check %zu: status %d (%s)", idx, rc, err.msg);
        const struct {
            const char *key;
            double got;
        } spots[] = {{"W1[0][0]", w1[0]},
                     {"W1[783][H-1]", w1[NP * h - 1]},
                     {"W2[0][0]", w2[0]},
                     {"W2[H-1][9]", w2[h * 10 - 1]}};
        for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
            char got[32], want[32];
            json_t *v = json_object_get(c, spots[i].key);
            CU_ASSERT_FATAL(json_is_number(v));
            snprintf(got, sizeof got, "%.15g", spots[i].got);
            snprintf(want, sizeof want, "%.15g", json_number_value(v));
            EXPECT(strcmp(got, want) == 0, "H %zu seed %llu: %s = %s, expected %s", h,
                   (unsigned long long)seed, spots[i].key, got, want);
        }
        for (size_t i = 0; i < NP * h; i++) sum += w1[i];
        double want_sum = json_number_value(json_object_get(c, "sum_W1"));
        EXPECT(fabs(sum - want_sum) <= 1e-9, "H %zu: sum_W1 %.17g, expected %.17g", h, sum,
               want_sum);
        double want_val = json_number_value(json_object_get(c, "val_error_untrained"));
        EXPECT(val == want_val, "H %zu: untrained validation error %.17g, expected %.17g", h, val,
               want_val);
        hb_free(w1);
        hb_free(w2);
    }
}

/* approximate.fmnist_mlp.vectors: short runs within the stated tolerance (30 images). */
static void test_vectors(void)
{
    json_t *e = fmnist_vectors(), *v;
    json_t *list = json_object_get(e, "vectors");
    double tol = json_number_value(json_object_get(e, "tolerance"));
    hb_space *sp = make_space(NULL);
    size_t idx;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_FATAL(json_array_size(list) >= 2 && tol > 0 && tol <= 0.003);
    json_array_foreach(list, idx, v) {
        double x[DIM], loss = NAN, trained = NAN;
        json_t *cfg = json_object_get(v, "config");
        for (size_t i = 0; i < DIM; i++) {
            json_t *p = json_object_get(cfg, hb_space_name(sp, i));
            CU_ASSERT_FATAL(json_is_number(p));
            x[i] = json_number_value(p);
        }
        double budget = json_number_value(json_object_get(v, "budget"));
        double want = json_number_value(json_object_get(v, "loss"));
        uint64_t seed = (uint64_t)json_integer_value(json_object_get(v, "seed"));
        hb_error err = {0};
        int rc = kernel()->eval(sp, x, budget, seed, &loss, &err);
        EXPECT(rc == HB_OK && fabs(loss - want) <= tol,
               "vector %zu: status %d (%s), loss %.17g, expected %.17g +- %g", idx, rc, err.msg,
               loss, want, tol);
        /* train() from scratch without a state is eval. */
        double again = NAN;
        CU_ASSERT_EQUAL(train(sp, x, budget, seed, NULL, NULL, &trained, &again), HB_OK);
        EXPECT(again == loss && trained == budget, "vector %zu: train gives %.17g after %g", idx,
               again, trained);
    }
    hb_space_free(sp);
}

/* The prefix property (docs/kernels.md §1.1): 1 epoch, then 2 more from its state, is 3 epochs from
 * scratch, bit for bit in the loss and in every byte of the state; so is continuing in place,
 * and a state at exactly the budget only recomputes the loss. */
static void test_prefix(void)
{
    hb_space *sp = make_space(NULL);
    hb_kernel_state s1 = {0}, s3a = {0}, s3b = {0}, s3c = {0}, s3d = {0};
    double l1, l3a, l3b, l3e, l, t;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(train(sp, small_x, 1, SMALL_SEED, NULL, &s1, &t, &l1), HB_OK);
    CU_ASSERT(t == 1.0 && l1 > 0.0 && l1 < 0.9);
    CU_ASSERT_EQUAL_FATAL(train(sp, small_x, 3, SMALL_SEED, &s1, &s3a, &t, &l3a), HB_OK);
    EXPECT(t == 2.0, "continued for %g epochs, expected 2", t);
    CU_ASSERT_EQUAL_FATAL(train(sp, small_x, 3, SMALL_SEED, NULL, &s3b, &t, &l3b), HB_OK);
    CU_ASSERT(t == 3.0);
    CU_ASSERT_EQUAL(kernel()->eval(sp, small_x, 3, SMALL_SEED, &l3e, NULL), HB_OK);
    EXPECT(l3a == l3b && l3b == l3e, "3 epochs: %.17g continued, %.17g and %.17g from scratch",
           l3a, l3b, l3e);
    EXPECT(same_state(&s3a, &s3b), "the continued state differs from the one trained at once");
    CU_ASSERT(s1.len == s3a.len && memcmp(s1.data, s3a.data, s1.len) != 0);

    /* In place: 'to' == 'from' updates the caller's record. */
    hb_kernel_state in = copy_state(&s1);
    CU_ASSERT_EQUAL(train(sp, small_x, 3, SMALL_SEED, &in, &in, &t, &l), HB_OK);
    EXPECT(t == 2.0 && l == l3b && same_state(&in, &s3b), "in place: %g epochs, loss %.17g", t,
           l);
    hb_free(in.data);

    /* At exactly the budget: nothing trained, the same loss and state. */
    CU_ASSERT_EQUAL(train(sp, small_x, 3, SMALL_SEED, &s3b, &s3c, &t, &l), HB_OK);
    EXPECT(t == 0.0 && l == l3b && same_state(&s3c, &s3b), "at the budget: %g epochs, %.17g", t,
           l);
    /* Without 'to', and with a budget that rounds to 3. */
    CU_ASSERT_EQUAL(train(sp, small_x, 2.5, SMALL_SEED, &s1, NULL, &t, &l), HB_OK);
    CU_ASSERT(t == 2.0 && l == l3b);
    CU_ASSERT_EQUAL(train(sp, small_x, 3.49, SMALL_SEED, &s1, &s3d, &t, &l), HB_OK);
    CU_ASSERT(t == 2.0 && l == l3b && same_state(&s3d, &s3b));
    /* A different seed trains differently (the state carries it). */
    CU_ASSERT_EQUAL(train(sp, small_x, 1, SMALL_SEED + 1, NULL, NULL, &t, &l), HB_OK);
    CU_ASSERT(l != l1);

    hb_free(s1.data);
    hb_free(s3a.data);
    hb_free(s3b.data);
    hb_free(s3c.data);
    hb_free(s3d.data);
    hb_space_free(sp);
}

/* A state that does not fit is refused with HB_EINVAL and changes nothing. */
static void test_refused(void)
{
    hb_space *sp = make_space(NULL);
    hb_kernel_state s1 = {0}, s2 = {0};
    double t, l;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(train(sp, small_x, 1, SMALL_SEED, NULL, &s1, &t, &l), HB_OK);
    CU_ASSERT_EQUAL_FATAL(train(sp, small_x, 2, SMALL_SEED, &s1, &s2, &t, &l), HB_OK);
    hb_kernel_state keep = copy_state(&s1);

    struct {
        const char *what;
        double x[DIM];
        uint64_t seed;
        double budget;
        int state; /* 1: s1, 2: s2 */
    } cases[] = {
        {"another seed", {0.05, 512, 16, 1e-4, 0.9}, SMALL_SEED + 1, 3, 1},
        /* The fixed parameters; the mutable ones may change (test_mutable). */
        {"another batch size", {0.05, 256, 16, 1e-4, 0.9}, SMALL_SEED, 3, 1},
        {"another n_hidden", {0.05, 512, 17, 1e-4, 0.9}, SMALL_SEED, 3, 1},
        {"another batch size, new mutable values", {0.06, 256, 16, 2e-4, 0.8}, SMALL_SEED, 3, 1},
        {"more epochs than the budget", {0.05, 512, 16, 1e-4, 0.9}, SMALL_SEED, 1, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hb_kernel_state to = {0};
        hb_error err = {0};
        t = l = 42.0;
        int rc = kernel()->train(sp, cases[i].x, cases[i].budget, cases[i].seed,
                                 cases[i].state == 1 ? &s1 : &s2, &to, &t, &l, &err);
        EXPECT(rc == HB_EINVAL && to.data == NULL && to.len == 0 && isnan(l) && t == 0.0 &&
                   strstr(err.msg, "saved state") != NULL,
               "%s: status %d (%s)", cases[i].what, rc, err.msg);
    }

    /* Damaged bytes: the magic, a weight, the checksum itself; a short or empty buffer. */
    const size_t spots[] = {0, 20, HB__FMNIST_STATE_HEADER + 5, s1.len / 2, s1.len - 1};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        hb_kernel_state bad = copy_state(&s1), to = {0};
        ((unsigned char *)bad.data)[spots[i]] ^= 0x10;
        int rc = train(sp, small_x, 3, SMALL_SEED, &bad, &to, &t, &l);
        EXPECT(rc == HB_EINVAL && to.data == NULL, "byte %zu flipped: status %d", spots[i], rc);
        hb_free(bad.data);
    }
    hb_kernel_state shorter = {s1.data, s1.len - 1}, empty = {NULL, 0}, tiny = {s1.data, 8};
    CU_ASSERT_EQUAL(train(sp, small_x, 3, SMALL_SEED, &shorter, NULL, &t, &l), HB_EINVAL);
    CU_ASSERT_EQUAL(train(sp, small_x, 3, SMALL_SEED, &empty, NULL, &t, &l), HB_EINVAL);
    CU_ASSERT_EQUAL(train(sp, small_x, 3, SMALL_SEED, &tiny, NULL, &t, &l), HB_EINVAL);

    /* A permutation that repeats an index would read the data twice: refused even when the
     * checksum is made to match. */
    hb_kernel_state perm = copy_state(&s1);
    unsigned char *p = (unsigned char *)perm.data + perm.len - HB__SHA256_BYTES - 10000 * 4;
    memcpy(p, p + 4, 4);
    reseal(&perm);
    CU_ASSERT_EQUAL(train(sp, small_x, 3, SMALL_SEED, &perm, NULL, &t, &l), HB_EINVAL);
    memset(p, 0xff, 4); /* and one beyond the data */
    reseal(&perm);
    CU_ASSERT_EQUAL(train(sp, small_x, 3, SMALL_SEED, &perm, NULL, &t, &l), HB_EINVAL);
    hb_free(perm.data);

    EXPECT(same_state(&s1, &keep), "a refused continuation changed its 'from'");
    hb_free(keep.data);
    hb_free(s1.data);
    hb_free(s2.data);
    hb_space_free(sp);
}

/* Changed mutable values at a step boundary (docs/kernels.md §4): 1 epoch with a, then on to 3 with
 * b (another learning rate, weight decay and momentum) is deterministic, differs from 3 epochs of
 * a, is the same bits when cut at 2 as well, and leaves the unchanged configuration's bits alone
 * (test_prefix). The state records the values last trained with. */
static void test_mutable(void)
{
    static const double b_x[DIM] = {0.02, 512, 16, 1e-3, 0.5};
    static const size_t mut[] = {0, 3, 4}; /* learning_rate, weight_decay, momentum */
    hb_space *sp = make_space(NULL);
    hb_kernel_state s1 = {0}, s2 = {0}, s3 = {0}, s3b = {0}, s3a = {0};
    double t, l1, l3, l3again, l3b, l3a;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    for (size_t i = 0; i < DIM; i++)
        EXPECT(hb_space_is_mutable(sp, i) == (i == 0 || i == 3 || i == 4),
               "parameter %s: mutable = %d", hb_space_name(sp, i), hb_space_is_mutable(sp, i));
    CU_ASSERT_EQUAL_FATAL(train(sp, small_x, 1, SMALL_SEED, NULL, &s1, &t, &l1), HB_OK);
    CU_ASSERT_EQUAL_FATAL(train(sp, b_x, 3, SMALL_SEED, &s1, &s3, &t, &l3), HB_OK);
    EXPECT(t == 2.0, "continued with b for %g epochs, expected 2", t);
    CU_ASSERT_EQUAL(train(sp, b_x, 3, SMALL_SEED, &s1, NULL, &t, &l3again), HB_OK);
    EXPECT(l3again == l3, "a then b twice: %.17g and %.17g", l3, l3again);
    /* Cut at 2 as well: 1 with a, 2 with b, 3 with b. */
    CU_ASSERT_EQUAL_FATAL(train(sp, b_x, 2, SMALL_SEED, &s1, &s2, &t, &l3b), HB_OK);
    CU_ASSERT_EQUAL_FATAL(train(sp, b_x, 3, SMALL_SEED, &s2, &s3b, &t, &l3b), HB_OK);
    EXPECT(t == 1.0 && l3b == l3 && same_state(&s3b, &s3),
           "1 a + 2 b + 3 b: %.17g, 1 a + 3 b: %.17g, state bytes %s", l3b, l3,
           same_state(&s3b, &s3) ? "equal" : "differ");
    /* 3 epochs of a: other weights, another loss. */
    CU_ASSERT_EQUAL_FATAL(train(sp, small_x, 3, SMALL_SEED, &s1, &s3a, &t, &l3a), HB_OK);
    const size_t off = HB__FMNIST_STATE_HEADER; /* W1 starts after the header */
    CU_ASSERT_FATAL(s3.len == s3a.len);
    EXPECT(memcmp((char *)s3.data + off, (char *)s3a.data + off, 8 * NP) != 0 && l3 != l3a,
           "a then b gave the weights and loss of a alone (%.17g, %.17g)", l3, l3a);
    /* The header's configuration is b's now; resuming it with a again is allowed too. */
    double cfg[DIM];
    memcpy(cfg, (char *)s3.data + 40, sizeof cfg); /* after magic, version, H, kernel, seed */
    for (size_t k = 0; k < sizeof mut / sizeof mut[0]; k++)
        EXPECT(cfg[mut[k]] == b_x[mut[k]], "the state says %s = %g, not %g",
               hb_space_name(sp, mut[k]), cfg[mut[k]], b_x[mut[k]]);
    CU_ASSERT_EQUAL(train(sp, small_x, 4, SMALL_SEED, &s3, NULL, &t, &l1), HB_OK);
    CU_ASSERT(t == 1.0);
    hb_free(s1.data);
    hb_free(s2.data);
    hb_free(s3.data);
    hb_free(s3a.data);
    hb_free(s3b.data);
    hb_space_free(sp);
}

/* Divergence (docs/kernels.md §4): a non-finite logit gives 1.0; a non-finite parameter after an
 * epoch stops the training with 1.0 and marks the state, whose continuations give 1.0 too. No
 * configuration of the space is known to overflow, so the test plants a NaN in W1[0][0]. */
static void test_divergence(void)
{
    hb_space *sp = make_space(NULL);
    hb_kernel_state s1 = {0}, d2 = {0}, d5 = {0};
    double t, l, nan = NAN;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(train(sp, small_x, 1, SMALL_SEED, NULL, &s1, &t, &l), HB_OK);
    memcpy((unsigned char *)s1.data + HB__FMNIST_STATE_HEADER, &nan, sizeof nan);
    reseal(&s1);
    /* At the state's own budget: no training, and the NaN reaches every logit. */
    CU_ASSERT_EQUAL(train(sp, small_x, 1, SMALL_SEED, &s1, NULL, &t, &l), HB_OK);
    EXPECT(t == 0.0 && l == 1.0, "NaN weight: loss %.17g after %g epochs", l, t);
    /* One more epoch: W1[0][0] stays NaN (its gradient is 0, its decay NaN). */
    CU_ASSERT_EQUAL(train(sp, small_x, 2, SMALL_SEED, &s1, &d2, &t, &l), HB_OK);
    EXPECT(t == 1.0 && l == 1.0, "diverged: loss %.17g after %g epochs", l, t);
    /* A diverged state trains no further and keeps its bytes. */
    CU_ASSERT_EQUAL(train(sp, small_x, 5, SMALL_SEED, &d2, &d5, &t, &l), HB_OK);
    EXPECT(t == 0.0 && l == 1.0 && same_state(&d2, &d5),
           "continuing a diverged state: loss %.17g after %g epochs", l, t);
    CU_ASSERT_EQUAL(train(sp, small_x, 1, SMALL_SEED, &d2, NULL, &t, &l), HB_EINVAL);
    hb_free(s1.data);
    hb_free(d2.data);
    hb_free(d5.data);
    hb_space_free(sp);
}

/* Values outside the space: HB_ERANGE naming the parameter, never clamped. Budgets: > 0, rounded
 * half up to at least 1 epoch, clamped to 27; integers rounded half up. */
static void test_range(void)
{
    hb_space *sp = make_space(NULL);
    static const struct {
        size_t i;
        double v;
    } out[] = {{0, 9e-5}, {0, 1.0001}, {0, NAN}, {1, 15}, {1, 513}, {1, 15.4}, {2, 15.9},
               {2, 1025}, {2, INFINITY}, {3, 9e-7}, {3, 0.011}, {4, -0.01}, {4, 0.991}};
    double t, l;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    for (size_t c = 0; c < sizeof out / sizeof out[0]; c++) {
        double x[DIM];
        hb_error err = {0};
        memcpy(x, small_x, sizeof x);
        x[out[c].i] = out[c].v;
        int rc = kernel()->eval(sp, x, 1, 0, &l, &err);
        EXPECT(rc == HB_ERANGE && isnan(l) && strstr(err.msg, hb_space_name(sp, out[c].i)),
               "%s = %g: status %d (%s)", hb_space_name(sp, out[c].i), out[c].v, rc, err.msg);
        rc = kernel()->train(sp, x, 1, 0, NULL, NULL, &t, &l, &err);
        CU_ASSERT_EQUAL(rc, HB_ERANGE);
    }
    const double bad_budget[] = {0.0, -1.0, NAN};
    for (size_t b = 0; b < sizeof bad_budget / sizeof bad_budget[0]; b++)
        CU_ASSERT_EQUAL(kernel()->eval(sp, small_x, bad_budget[b], 0, &l, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(kernel()->eval(sp, small_x, 1, 0, NULL, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(kernel()->eval(NULL, small_x, 1, 0, &l, NULL), HB_EINVAL);
    CU_ASSERT_EQUAL(kernel()->train(sp, small_x, 1, 0, NULL, NULL, NULL, &l, NULL), HB_EINVAL);
    hb_space *other = NULL;
    CU_ASSERT_EQUAL_FATAL(hb_kernels_find("branin")->space(NULL, &other, NULL), HB_OK);
    CU_ASSERT_EQUAL(kernel()->eval(other, small_x, 1, 0, &l, NULL), HB_EINVAL);
    hb_space_free(other);

    /* Budget rounding: floor(b + 0.5), at least 1. */
    double l1, l2;
    CU_ASSERT_EQUAL(train(sp, small_x, 1, 3, NULL, NULL, &t, &l1), HB_OK);
    CU_ASSERT_EQUAL(train(sp, small_x, 0.2, 3, NULL, NULL, &t, &l), HB_OK);
    CU_ASSERT(t == 1.0 && l == l1);
    CU_ASSERT_EQUAL(train(sp, small_x, 1.49, 3, NULL, NULL, &t, &l), HB_OK);
    CU_ASSERT(t == 1.0 && l == l1);
    CU_ASSERT_EQUAL(train(sp, small_x, 1.5, 3, NULL, NULL, &t, &l2), HB_OK);
    CU_ASSERT(t == 2.0 && l2 != l1);
    /* Integers arrive rounded half up. */
    double xr[DIM] = {0.05, 511.5, 16.49, 1e-4, 0.9};
    CU_ASSERT_EQUAL(train(sp, xr, 1, 3, NULL, NULL, &t, &l), HB_OK);
    CU_ASSERT(l == l1);
    /* Above 27 epochs is 27: continuing from 1 epoch trains 26, as from scratch. */
    hb_kernel_state s1 = {0};
    double l27, l_huge;
    CU_ASSERT_EQUAL_FATAL(train(sp, small_x, 1, 3, NULL, &s1, &t, &l), HB_OK);
    CU_ASSERT_EQUAL(train(sp, small_x, 1e9, 3, &s1, NULL, &t, &l_huge), HB_OK);
    CU_ASSERT(t == 26.0);
    CU_ASSERT_EQUAL(train(sp, small_x, 27, 3, NULL, NULL, &t, &l27), HB_OK);
    EXPECT(t == 27.0 && l27 == l_huge, "27 epochs %.17g, budget 1e9 %.17g", l27, l_huge);
    hb_free(s1.data);
    hb_space_free(sp);
}

/* Write 'n' bytes to 'path'. */
static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(fwrite(data, 1, n, f) == n);
    CU_ASSERT(fclose(f) == 0);
}

/* space("data=DIR") must fail with a message that contains 'want' and 'file'. */
static void expect_data_error(const char *dir, const char *want, const char *file)
{
    char args[4200];
    hb_space *sp = NULL;
    hb_error err = {0};
    snprintf(args, sizeof args, "data=%s", dir);
    int rc = kernel()->space(args, &sp, &err);
    EXPECT(rc != HB_OK && sp == NULL && strstr(err.msg, want) != NULL &&
               strstr(err.msg, file) != NULL,
           "%s: status %d, message '%s' lacks '%s' or '%s'", dir, rc, err.msg, want, file);
    hb_space_free(sp);
}

/* The data is checked when the space is built: a missing directory or file names the Debian
 * package, a truncated file says so, a changed byte fails the SHA-256 checksum. Damaged copies
 * live in a temporary directory; the undamaged big file is linked, not copied. Data loaded
 * before is not harmed. */
static void test_data_errors(void)
{
    char dir[4096], labels[4200], images[4200], missing[4200];
    const char *tmp = getenv("TMPDIR");
    double before, after, t;
    hb_space *sp = make_space(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL(train(sp, small_x, 1, 11, NULL, NULL, &t, &before), HB_OK);

    snprintf(dir, sizeof dir, "%s/hb_fmnist_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(labels, sizeof labels, "%s/" LABELS, dir);
    snprintf(images, sizeof images, "%s/" IMAGES, dir);
    snprintf(missing, sizeof missing, "%s/none", dir);

    expect_data_error(missing, "apt-get install " HB__FMNIST_PACKAGE, LABELS);
    expect_data_error(dir, "apt-get install " HB__FMNIST_PACKAGE, LABELS);

    CU_ASSERT_EQUAL_FATAL(symlink(HB__FMNIST_DEFAULT_DIR "/" LABELS, labels), 0);
    expect_data_error(dir, "apt-get install " HB__FMNIST_PACKAGE, IMAGES);
    CU_ASSERT_EQUAL_FATAL(symlink(HB__FMNIST_DEFAULT_DIR "/" IMAGES, images), 0);
    char args[4200];
    snprintf(args, sizeof args, "data=%s", dir);
    hb_space *ok = make_space(args); /* both files there, through links: accepted */
    CU_ASSERT_PTR_NOT_NULL(ok);
    hb_space_free(ok);

    /* The labels' gzip stream cut short. */
    size_t len = 0;
    char *gz = hb_test_read(HB__FMNIST_DEFAULT_DIR "/" LABELS, &len);
    CU_ASSERT_FATAL(gz != NULL && len > 10000);
    CU_ASSERT_EQUAL(unlink(labels), 0);
    write_file(labels, gz, 10000);
    expect_data_error(dir, "truncated", LABELS);
    hb_free(gz);

    /* The labels with one label changed, recompressed: only the checksum can tell. */
    unsigned char raw[60008];
    gzFile in = gzopen(HB__FMNIST_DEFAULT_DIR "/" LABELS, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_EQUAL(gzread(in, raw, sizeof raw), (int)sizeof raw);
    gzclose(in);
    raw[8 + 1234] = (unsigned char)((raw[8 + 1234] + 1) % 10);
    gzFile outf = gzopen(labels, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(outf);
    CU_ASSERT_EQUAL(gzwrite(outf, raw, sizeof raw), (int)sizeof raw);
    CU_ASSERT_EQUAL(gzclose(outf), Z_OK);
    expect_data_error(dir, "checksum", LABELS);

    /* Good labels, images cut after 1 MB of gzip. */
    CU_ASSERT_EQUAL(unlink(labels), 0);
    CU_ASSERT_EQUAL_FATAL(symlink(HB__FMNIST_DEFAULT_DIR "/" LABELS, labels), 0);
    gz = hb_test_read(HB__FMNIST_DEFAULT_DIR "/" IMAGES, &len);
    CU_ASSERT_FATAL(gz != NULL && len > 1000000);
    CU_ASSERT_EQUAL(unlink(images), 0);
    write_file(images, gz, 1000000);
    expect_data_error(dir, "truncated", IMAGES);
    hb_free(gz);

    /* A file that is not a data file at all. */
    CU_ASSERT_EQUAL(unlink(labels), 0);
    write_file(labels, "not gzip, not IDX", 17);
    expect_data_error(dir, "IDX", LABELS);

    CU_ASSERT_EQUAL(unlink(labels), 0);
    CU_ASSERT_EQUAL(unlink(images), 0);
    CU_ASSERT_EQUAL(rmdir(dir), 0);

    CU_ASSERT_EQUAL(train(sp, small_x, 1, 11, NULL, NULL, &t, &after), HB_OK);
    EXPECT(after == before, "after the failed checks: %.17g, before %.17g", after, before);
    hb_space_free(sp);
}

/* Allocation-failure sweep: fail the n-th allocation of train (from scratch and continuing)
 * until it succeeds; each failure is HB_ENOMEM with no state handed out (and no leak). */
static void test_nomem(void)
{
    hb_space *sp = make_space(NULL);
    hb_kernel_state s1 = {0};
    double t, l;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(train(sp, small_x, 1, 5, NULL, &s1, &t, &l), HB_OK);
    for (int cont = 0; cont < 2; cont++) {
        int rc = HB_ENOMEM;
        long n;
        for (n = 0; n < 100 && rc != HB_OK; n++) {
            hb_kernel_state to = {0};
            hb_alloc_fail_after(n);
            rc = train(sp, small_x, 2, 5, cont ? &s1 : NULL, &to, &t, &l);
            hb_alloc_fail_after(-1);
            EXPECT(rc == HB_OK || (rc == HB_ENOMEM && to.data == NULL),
                   "allocation %ld failing: status %d", n, rc);
            hb_free(to.data);
        }
        EXPECT(rc == HB_OK && n > 1, "train never succeeded or never allocated (%ld)", n);
    }
    hb_free(s1.data);
    hb_space_free(sp);
}

/* ---- fmnist_mlp32: the same network in float32 (docs/kernels.md §4, "float32 variant") ---- */

/* How far fmnist_mlp32's validation error may be from fmnist_mlp's (and from the reference's)
 * on the cases below: measured 0, 0, 0.0003 and 0.0026; the tolerance adds a margin for other
 * CPUs' sgemm. Over 46 configurations (docs/kernels.md §4, "float32 variant") most differed by 0 to
 * 0.0026; a few trainings with a large effective step at 9 epochs differed by up to 0.025, where
 * float64 itself moves as much when the learning rate changes in its fifth digit. */
#define F32_TOL 0.005

static const hb_kernel *kernel32(void) { return hb_kernels_find("fmnist_mlp32"); }

static int train32(const hb_space *sp, const double *x, double budget, uint64_t seed,
                   const hb_kernel_state *from, hb_kernel_state *to, double *trained,
                   double *loss)
{
    return kernel32()->train(sp, x, budget, seed, from, to, trained, loss, NULL);
}

/* The same space as fmnist_mlp's (names, bounds, scales, the mutable three), its own name and a
 * summary that says float32. */
static void test32_space(void)
{
    const hb_kernel *k = kernel32(), *k64 = kernel();
    hb_error err = {0};
    hb_space *sp = NULL, *sp64 = make_space(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_EQUAL(hb_kernel_check(k, &err), HB_OK);
    CU_ASSERT(k->min_budget == 1.0 && k->max_budget == 27.0 && isnan(k->optimum));
    CU_ASSERT(k->train != NULL && k->exact == NULL && k->deterministic == 0);
    EXPECT(strstr(k->summary, "float32") != NULL && strstr(k64->summary, "float64") != NULL,
           "summaries '%s' and '%s'", k->summary, k64->summary);
    CU_ASSERT_EQUAL_FATAL(k->space(NULL, &sp, &err), HB_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp64);
    CU_ASSERT_EQUAL_FATAL(hb_space_dim(sp), DIM);
    for (size_t i = 0; i < DIM; i++)
        EXPECT(strcmp(hb_space_name(sp, i), hb_space_name(sp64, i)) == 0 &&
                   hb_space_type(sp, i) == hb_space_type(sp64, i) &&
                   hb_space_lower(sp, i) == hb_space_lower(sp64, i) &&
                   hb_space_upper(sp, i) == hb_space_upper(sp64, i) &&
                   hb_space_scale(sp, i) == hb_space_scale(sp64, i) &&
                   hb_space_is_mutable(sp, i) == hb_space_is_mutable(sp64, i),
               "parameter %zu: '%s' differs from fmnist_mlp's", i, hb_space_name(sp, i));
    hb_space_free(sp);
    hb_space_free(sp64);
}

/* The validation error within F32_TOL of the float64 kernel's and of the reference's: the
 * vectors' configurations and §4's observed ones at 3 and 9 epochs (H = 128, 256). */
static void test32_close_to_float64(void)
{
    json_t *list = json_object_get(fmnist_vectors(), "vectors"), *v;
    hb_space *sp = make_space(NULL);
    size_t idx;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_FATAL(json_array_size(list) >= 2);
    struct {
        double x[DIM], budget, want;
        uint64_t seed;
    } cases[8];
    size_t n = 0;
    json_array_foreach(list, idx, v) {
        json_t *cfg = json_object_get(v, "config");
        if (n == 6) break;
        for (size_t i = 0; i < DIM; i++)
            cases[n].x[i] = json_number_value(json_object_get(cfg, hb_space_name(sp, i)));
        cases[n].budget = json_number_value(json_object_get(v, "budget"));
        cases[n].want = json_number_value(json_object_get(v, "loss"));
        cases[n].seed = (uint64_t)json_integer_value(json_object_get(v, "seed"));
        n++;
    }
    static const struct {
        double x[DIM], budget, want;
    } observed[] = {{{0.01, 64, 128, 1e-4, 0.9}, 3, 0.1770}, /* §4's values, seed 0 */
                    {{0.1, 128, 256, 1e-5, 0.5}, 9, 0.2220}};
    for (size_t i = 0; i < sizeof observed / sizeof observed[0]; i++, n++) {
        memcpy(cases[n].x, observed[i].x, sizeof observed[i].x);
        cases[n].budget = observed[i].budget;
        cases[n].want = observed[i].want;
        cases[n].seed = 0;
    }
    for (size_t c = 0; c < n; c++) {
        double l32 = NAN, l64 = NAN;
        hb_error err = {0};
        int rc = kernel32()->eval(sp, cases[c].x, cases[c].budget, cases[c].seed, &l32, &err);
        CU_ASSERT_EQUAL(kernel()->eval(sp, cases[c].x, cases[c].budget, cases[c].seed, &l64, NULL),
                        HB_OK);
        EXPECT(rc == HB_OK && fabs(l32 - l64) <= F32_TOL && fabs(l32 - cases[c].want) <= F32_TOL,
               "case %zu: status %d (%s), float32 %.4f, float64 %.4f, reference %.4f", c, rc,
               err.msg, l32, l64, cases[c].want);
    }
    hb_space_free(sp);
}

/* The prefix property within the float32 kernel: 1 epoch then 2 more is 3 from scratch, bit for
 * bit in the loss and the state, in place too; with other mutable values from epoch 2 on, cutting
 * at 2 changes nothing either. */
static void test32_prefix(void)
{
    static const double b_x[DIM] = {0.02, 512, 16, 1e-3, 0.5};
    hb_space *sp = make_space(NULL);
    hb_kernel_state s1 = {0}, s2 = {0}, s3a = {0}, s3b = {0}, m3 = {0}, m3b = {0};
    double l1, l3a, l3b, l3e, l, t, lm3, lm3b;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(train32(sp, small_x, 1, SMALL_SEED, NULL, &s1, &t, &l1), HB_OK);
    CU_ASSERT(t == 1.0 && l1 > 0.0 && l1 < 0.9);
    CU_ASSERT_EQUAL_FATAL(train32(sp, small_x, 3, SMALL_SEED, &s1, &s3a, &t, &l3a), HB_OK);
    CU_ASSERT(t == 2.0);
    CU_ASSERT_EQUAL_FATAL(train32(sp, small_x, 3, SMALL_SEED, NULL, &s3b, &t, &l3b), HB_OK);
    CU_ASSERT_EQUAL(kernel32()->eval(sp, small_x, 3, SMALL_SEED, &l3e, NULL), HB_OK);
    EXPECT(l3a == l3b && l3b == l3e && same_state(&s3a, &s3b),
           "3 epochs: %.17g continued, %.17g and %.17g from scratch, states %s", l3a, l3b, l3e,
           same_state(&s3a, &s3b) ? "equal" : "differ");
    hb_kernel_state in = copy_state(&s1);
    CU_ASSERT_EQUAL(train32(sp, small_x, 3, SMALL_SEED, &in, &in, &t, &l), HB_OK);
    EXPECT(t == 2.0 && l == l3b && same_state(&in, &s3b), "in place: %g epochs, loss %.17g", t,
           l);
    hb_free(in.data);
    /* Mutable values changed after epoch 1: 1 a + 3 b == 1 a + 2 b + 3 b, and not 3 a. */
    CU_ASSERT_EQUAL_FATAL(train32(sp, b_x, 3, SMALL_SEED, &s1, &m3, &t, &lm3), HB_OK);
    CU_ASSERT_EQUAL_FATAL(train32(sp, b_x, 2, SMALL_SEED, &s1, &s2, &t, &l), HB_OK);
    CU_ASSERT_EQUAL_FATAL(train32(sp, b_x, 3, SMALL_SEED, &s2, &m3b, &t, &lm3b), HB_OK);
    EXPECT(lm3 == lm3b && same_state(&m3, &m3b) && !same_state(&m3, &s3b),
           "a then b: %.17g at once, %.17g cut at 2", lm3, lm3b);
    hb_free(s1.data);
    hb_free(s2.data);
    hb_free(s3a.data);
    hb_free(s3b.data);
    hb_free(m3.data);
    hb_free(m3b.data);
    hb_space_free(sp);
}

/* A float64 state is refused by fmnist_mlp32 and a float32 state by fmnist_mlp, with HB_EINVAL
 * and nothing handed out; a NaN planted in a float32 state's W1 gives 1.0 (divergence). */
static void test32_foreign_states(void)
{
    hb_space *sp = make_space(NULL);
    hb_kernel_state s64 = {0}, s32 = {0};
    double t, l;
    float nanf_ = NAN;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(train(sp, small_x, 1, SMALL_SEED, NULL, &s64, &t, &l), HB_OK);
    CU_ASSERT_EQUAL_FATAL(train32(sp, small_x, 1, SMALL_SEED, NULL, &s32, &t, &l), HB_OK);
    CU_ASSERT(s32.len < s64.len);
    const struct {
        const char *what;
        const hb_kernel *k;
        const hb_kernel_state *from;
    } cases[] = {{"float64 state to fmnist_mlp32", kernel32(), &s64},
                 {"float32 state to fmnist_mlp", kernel(), &s32}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hb_kernel_state to = {0};
        hb_error err = {0};
        t = l = 42.0;
        int rc = cases[i].k->train(sp, small_x, 3, SMALL_SEED, cases[i].from, &to, &t, &l, &err);
        EXPECT(rc == HB_EINVAL && to.data == NULL && isnan(l) && t == 0.0 &&
                   strstr(err.msg, "saved state") != NULL,
               "%s: status %d (%s)", cases[i].what, rc, err.msg);
    }
    memcpy((unsigned char *)s32.data + HB__FMNIST_STATE_HEADER, &nanf_, sizeof nanf_);
    reseal(&s32);
    CU_ASSERT_EQUAL(train32(sp, small_x, 2, SMALL_SEED, &s32, NULL, &t, &l), HB_OK);
    EXPECT(t == 1.0 && l == 1.0, "float32 NaN weight: loss %.17g after %g epochs", l, t);
    hb_free(s64.data);
    hb_free(s32.data);
    hb_space_free(sp);
}

int hb_test_add_train_fmnist32(void)
{
    CU_pSuite s = CU_add_suite("train_fmnist32", NULL, hb_test_vectors_free);
    if (s == NULL) return -1;
    if (!CU_add_test(s, "fmnist_mlp32: space and metadata", test32_space) ||
        !CU_add_test(s, "fmnist_mlp32: validation error close to float64", test32_close_to_float64) ||
        !CU_add_test(s, "fmnist_mlp32: prefix property and mutable values", test32_prefix) ||
        !CU_add_test(s, "fmnist_mlp32: foreign states refused, divergence", test32_foreign_states))
        return -1;
    return 0;
}

int hb_test_add_train_fmnist(void)
{
    CU_pSuite s = CU_add_suite("train_fmnist", NULL, hb_test_vectors_free);
    if (s == NULL) return -1;
    if (!CU_add_test(s, "SHA-256 known answers", test_sha256) ||
        !CU_add_test(s, "space, option and metadata", test_space) ||
        !CU_add_test(s, "initial weights and untrained error", test_initial) ||
        !CU_add_test(s, "approximate vectors", test_vectors) ||
        !CU_add_test(s, "prefix property across states", test_prefix) ||
        !CU_add_test(s, "foreign states refused", test_refused) ||
        !CU_add_test(s, "mutable values at a step boundary", test_mutable) ||
        !CU_add_test(s, "divergence", test_divergence) ||
        !CU_add_test(s, "range, budget and rounding", test_range) ||
        !CU_add_test(s, "missing, truncated and damaged data", test_data_errors) ||
        !CU_add_test(s, "allocation failures", test_nomem))
        return -1;
    return 0;
}
