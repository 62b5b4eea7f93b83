/*
 * cli.h - the commands: what `auzdb <command>` does, from parsed options
 * to exit code.
 *
 * Owns: help and version text, and the orchestration of each command
 * (load the set, connect, call the planner/applier or the ledger, print
 * the result).  Returns an exit code from exitcodes.h; never exits itself.
 * Calls: config, conn, migset, ledger, apply, log.
 */
#ifndef AUZDB_CLI_H
#define AUZDB_CLI_H

#include "config.h"

int cli_run(const struct config *cfg);
void cli_usage(void);
void cli_version(void);

#endif
