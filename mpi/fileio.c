/* fileio.c — the files the commands write: CSV fields, and whole files that replace the old one
 * in one rename (report --csv/--plot, sweep report). */
#include "hb_fileio.h"

#include <errno.h>
#include <string.h>

void hb_csv_field(FILE *f, const char *s)
{
    if (s == NULL) return;
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Write beside, then rename: an existing file is replaced whole or not at all. */
int hb_write_whole(const char *file, const void *data, size_t n)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", file) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(data, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, file) != 0) {
        int e = errno;
        remove(tmp);
        errno = e;
        return -1;
    }
    return 0;
}
