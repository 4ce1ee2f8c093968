/* hb_fileio.h — the files the commands write (fileio.c), shared by `hbmpi report` and
 * `hbmpi sweep report`. */
#ifndef HB_FILEIO_H
#define HB_FILEIO_H

#include <stddef.h>
#include <stdio.h>

/* One CSV field, quoted when it holds a comma, a quote or a line break (nothing for NULL). */
void hb_csv_field(FILE *f, const char *s);
/* Write 'n' bytes as FILE through FILE.tmp and a rename; 0, or -1 with errno. */
int hb_write_whole(const char *file, const void *data, size_t n);

#endif
