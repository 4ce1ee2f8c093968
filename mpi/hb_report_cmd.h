/* hb_report_cmd.h — the `hbmpi report` subcommand (report_cmd.c). */
#ifndef HB_REPORT_CMD_H
#define HB_REPORT_CMD_H

extern const char *hb_report_help;
int hb_cmd_report(int argc, char **argv);
extern const char *hb_repair_help;
int hb_cmd_repair(int argc, char **argv);

#endif
