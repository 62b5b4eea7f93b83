/*
 * main.c - entry point: parse options, set up logging, run the command.
 */
#include "cli.h"
#include "config.h"
#include "exitcodes.h"
#include "log.h"
#include "signals.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	struct config cfg;
	char *err = NULL;
	int rc;

	setlocale(LC_ALL, "C");
	/* first, before any thread exists: the threads inherit the blocked signals */
	signals_install();
	rc = config_parse(argc, argv, &cfg, &err);
	log_setup(cfg.log_format, cfg.verbose, cfg.quiet);
	if (rc) {
		log_error("%s", err);
		free(err);
		config_free(&cfg);
		return rc;
	}
	signals_set_deadline(cfg.deadline_ms);
	rc = cli_run(&cfg);
	rc = signals_exit_code(rc);
	config_free(&cfg);
	return rc;
}
