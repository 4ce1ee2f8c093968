/* util.c — helpers shared by the CUnit suites. */
#include <stdio.h>
#include <stdlib.h>

#include "hb_common.h"
#include "hb_test.h"

const char *hb_test_data(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("HB_TEST_DATA");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : HB_TEST_DATA_DIR, rel);
    return path;
}

char *hb_test_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long n = ftell(f);
    rewind(f);
    char *buf = n >= 0 ? hb_malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        hb_free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}
