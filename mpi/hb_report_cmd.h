/* hb_report_cmd.h — the `hbmpi report` subcommand (report_cmd.c). */
#ifndef HB_REPORT_CMD_H
#define HB_REPORT_CMD_H

int hb_cmd_report(int argc, char **argv);
int hb_cmd_repair(int argc, char **argv);

#endif
