/* test_buf.c — JSON writing: shortest round-trip numbers, string escapes, allocation failure. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include <string.h>

#include "hb_buf.h"
#include "hb_rng.h"
#include "hb_test.h"

static void test_shortest_numbers(void)
{
    char t[40];
    hb_format_double(t, sizeof t, 0.1);
    CU_ASSERT_STRING_EQUAL(t, "0.1");
    hb_format_double(t, sizeof t, -3.32236801141551);
    CU_ASSERT_STRING_EQUAL(t, "-3.32236801141551");
    hb_format_double(t, sizeof t, 81);
    CU_ASSERT_STRING_EQUAL(t, "81.0");
    hb_format_double(t, sizeof t, 1e-300);
    CU_ASSERT_STRING_EQUAL(t, "1e-300");
    /* Every value reads back exactly. */
    double vals[] = {1.0 / 3.0, 2.0 / 3.0, 0.30000000000000004, 5e-324, 1.7976931348623157e308,
                     123456.789, -0.0};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        hb_format_double(t, sizeof t, vals[i]);
        CU_ASSERT_EQUAL(strtod(t, NULL), vals[i]);
    }
}

/* The shortest form is found by a binary search over the digit count; it must give what trying
 * 1, 2, ... 17 digits in turn gives, for numbers of every size and for ones with few digits. */
static void test_shortest_matches_linear_search(void)
{
    hb_rng r;
    hb_rng_init(&r, 42, 0);
    int mismatches = 0;
    for (int i = 0; i < 200000; i++) {
        double v;
        switch (i % 4) {
        case 0: v = (hb_rng_uniform(&r) - 0.5) * pow(10, (int)(hb_rng_uniform(&r) * 40) - 20); break;
        case 1: v = round(hb_rng_uniform(&r) * 1e6) / 1e3; break; /* few digits */
        case 2: v = ldexp(hb_rng_uniform(&r), (int)(hb_rng_uniform(&r) * 2000) - 1000); break;
        default: { uint64_t b = hb_rng_next(&r); memcpy(&v, &b, 8); if (!isfinite(v) || v == 0) v = 1.5; }
        }
        char got[40], want[40];
        hb_format_double(got, sizeof got, v);
        for (int p = 1; p <= 17; p++) {
            snprintf(want, sizeof want, "%.*g", p, v);
            if (strtod(want, NULL) == v) break;
        }
        if (strpbrk(want, ".eEn") == NULL) strcat(want, ".0");
        if (strcmp(got, want) != 0 && mismatches++ < 5) printf("%.17g: got %s, want %s\n", v, got, want);
        if (strtod(got, NULL) != v) mismatches++;
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

static void test_json_string_escapes(void)
{
    hb_buf b = HB_BUF_INIT;
    hb_buf_json_string(&b, "a\"b\\c\nd\x01");
    CU_ASSERT_STRING_EQUAL(b.data, "\"a\\\"b\\\\c\\nd\\u0001\"");
    hb_buf_reset(&b);
    hb_buf_json_number(&b, NAN);
    CU_ASSERT_STRING_EQUAL(b.data, "null");
    hb_buf_fini(&b);
}

/* Found by tests/fuzz/fuzz_runfile.c: a reason with a byte that is not UTF-8 (0x91, Windows-1252's
 * left quote) made report JSON that no JSON reader takes. UTF-8 stays as it is; anything else,
 * overlong forms, surrogates and beyond U+10FFFF included, becomes U+FFFD. */
static void test_json_string_utf8(void)
{
    hb_buf b = HB_BUF_INIT;
    hb_buf_json_string(&b, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    CU_ASSERT_STRING_EQUAL(b.data, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    const char *bad[] = {"\x91quoted\x92", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hb_buf_reset(&b);
        hb_buf_json_string(&b, bad[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\xef\xbf\xbd"));
        CU_ASSERT_PTR_NULL(strstr(b.data, "\xc0"));
        json_t *v = json_loads(b.data, JSON_DECODE_ANY, NULL);
        CU_ASSERT_PTR_NOT_NULL(v);
        json_decref(v);
    }
    hb_buf_fini(&b);
}

static void test_alloc_failure(void)
{
    hb_buf b = HB_BUF_INIT;
    hb_alloc_fail_after(0);
    CU_ASSERT_EQUAL(hb_buf_puts(&b, "hello"), HB_ENOMEM);
    CU_ASSERT(b.failed);
    hb_alloc_fail_after(-1);
    CU_ASSERT_EQUAL(hb_buf_puts(&b, "x"), HB_ENOMEM); /* stays failed until reset */
    hb_buf_reset(&b);
    CU_ASSERT_EQUAL(hb_buf_puts(&b, "ok"), HB_OK);
    CU_ASSERT_STRING_EQUAL(b.data, "ok");
    hb_buf_fini(&b);
}

int hb_test_add_buf(void)
{
    CU_pSuite s = CU_add_suite("buf", NULL, NULL);
    if (!s) return -1;
    CU_add_test(s, "shortest round-trip numbers", test_shortest_numbers);
    CU_add_test(s, "shortest form = linear search", test_shortest_matches_linear_search);
    CU_add_test(s, "string escapes", test_json_string_escapes);
    CU_add_test(s, "strings that are not UTF-8", test_json_string_utf8);
    CU_add_test(s, "allocation failure", test_alloc_failure);
    return 0;
}
