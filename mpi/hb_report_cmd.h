/* hb_report_cmd.h — the `hbmpi report` subcommand (report_cmd.c). */
#ifndef HB_REPORT_CMD_H
#define HB_REPORT_CMD_H

#include <stdio.h>

extern const char *hb_report_help;
int hb_cmd_report(int argc, char **argv);
extern const char *hb_repair_help;
int hb_cmd_repair(int argc, char **argv);

/* Helpers shared with `hbmpi sweep report`: */
/* One CSV field, quoted when it holds a comma, a quote or a line break (nothing for NULL). */
void hb_csv_field(FILE *f, const char *s);
/* Write 'n' bytes as FILE through FILE.tmp and a rename; 0, or -1 with errno. */
int hb_write_whole(const char *file, const void *data, size_t n);

#endif
