/* fuzz_output.c — libFuzzer target: any bytes as what a command objective wrote to stdout (and,
 * the same bytes, to stderr), read as the command evaluator reads them (mpi/eval/eval_cmd.c: the last
 * line, a bare number or a JSON object with "loss" and extras). The result must be one of the
 * statuses a command can give, with a NUL-terminated reason; its extras must be a JSON object
 * holding exactly the line's other members (or a "_truncated" count); and the reason and extras
 * must come back unchanged from the report JSON hbmpi writes them into. Anything else is a finding
 * (ASan/UBSan abort, or the abort() below). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_impl.h"
#include "hb_report.h"

#define FAIL(what)                                                                                 \
    do {                                                                                           \
        fprintf(stderr, "fuzz_output: %s\n", what);                                                \
        abort();                                                                                   \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hb_space *space;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char text[] = "{\"parameters\": [{\"name\": \"x\", \"type\": \"float\", \"lower\": 0, \"upper\": 1}]}";
    hb_error err;
    if (hb_space_parse(text, sizeof text - 1, "x.json", &space, &err) != HB_OK) {
        fprintf(stderr, "fuzz_output: %s: %s\n", err.where, err.msg);
        exit(1);
    }
    return 0;
}

/* The extras 'ex' (a JSON object) against the object 'line' of the last line of stdout. */
static void check_extras(json_t *ex, const char *line, size_t len)
{
    json_t *src = json_loadb(line, len, 0, NULL);
    if (!json_is_object(src)) FAIL("extras from a line that is no JSON object");
    json_object_del(src, "loss");
    json_object_del(src, "spent");
    json_t *cut = json_object_get(ex, "_truncated");
    if (cut == NULL) {
        if (!json_equal(ex, src)) FAIL("the extras differ from the line's members");
    } else {
        /* those kept are the line's, unchanged, and the count is of those left out */
        const char *k;
        json_t *v;
        size_t kept = 0;
        json_object_foreach(ex, k, v)
        {
            if (strcmp(k, "_truncated") == 0) continue;
            if (!json_equal(v, json_object_get(src, k))) FAIL("a kept extra differs from the line's");
            kept++;
        }
        if (!json_is_integer(cut) || (size_t)json_integer_value(cut) + kept != json_object_size(src))
            FAIL("\"_truncated\" does not count the members left out");
    }
    json_decref(src);
}

/* The reason and extras of 'r' written into a report and read back. */
static void check_report(const hb_eval_result *r)
{
    double x = 0.5;
    hb_opt_settings s;
    hb_opt_settings_init(&s);
    hb_report_info info = {NULL, &s, NULL, 1, 1, NULL, NULL, 0};
    hb_trial t = {0};
    t.x = &x;
    t.budget = 1;
    t.loss = r->loss;
    t.status = r->status;
    t.bracket = t.stage = -1;
    t.reason = r->reason;
    t.extras = r->extras[0] ? r->extras : NULL;
    t.prev = HB_NO_JOB;
    t.spent = isnan(r->spent) ? 1 : r->spent;
    hb_buf b = HB_BUF_INIT;
    if (hb_report_json(space, &info, &t, 1, &b) != HB_OK || b.failed) {
        hb_buf_fini(&b);
        return;
    }
    json_error_t je;
    json_t *rep = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
    if (rep == NULL) {
        fprintf(stderr, "%s\n%d:%d: %s\n", b.data, je.line, je.column, je.text);
        FAIL("the report JSON does not read back");
    }
    json_t *tr = json_array_get(json_object_get(rep, "trials"), 0);
    const char *reason = json_string_value(json_object_get(tr, "reason"));
    if (strcmp(reason ? reason : "", r->reason) != 0) FAIL("the reason changed in the report");
    json_t *ex = json_object_get(tr, "extras");
    if ((ex != NULL) != (r->extras[0] != '\0')) FAIL("the extras went missing from the report");
    if (ex != NULL) {
        json_t *own = json_loads(r->extras, 0, NULL);
        if (!json_equal(own, ex)) FAIL("the extras changed in the report");
        json_decref(own);
    }
    json_decref(rep);
    hb_buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb_eval_result r;
    hb__eval_result_init(&r);
    hb__eval_cmd_read_loss((const char *)data, size, (const char *)data, size, &r);
    if (r.status != HB_TRIAL_OK && r.status != HB_TRIAL_NAN && r.status != HB_TRIAL_FAILED)
        FAIL("a status the output cannot give");
    if (memchr(r.reason, '\0', sizeof r.reason) == NULL || memchr(r.extras, '\0', sizeof r.extras) == NULL)
        FAIL("a reason or extras without its NUL");
    if (r.status == HB_TRIAL_OK && (!isfinite(r.loss) || r.reason[0] != '\0')) FAIL("an ok trial with a bad loss or a reason");
    if (r.status != HB_TRIAL_OK && r.reason[0] == '\0') FAIL("a trial that is not ok without a reason");
    if (!isnan(r.spent) && !(r.spent >= 0)) FAIL("a negative budget spent");
    if (r.extras[0] != '\0') {
        json_t *ex = json_loads(r.extras, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(ex)) FAIL("extras that are no JSON object");
        /* the line they came from: the last non-blank line, trimmed */
        size_t end = size;
        while (end > 0 && strchr(" \t\r\n\v\f", data[end - 1]) && data[end - 1]) end--;
        size_t start = end;
        while (start > 0 && data[start - 1] != '\n') start--;
        while (start < end && strchr(" \t\r\n\v\f", data[start]) && data[start]) start++;
        check_extras(ex, (const char *)data + start, end - start);
        json_decref(ex);
    }
    check_report(&r);
    return 0;
}
