/*
 * main.c - entry point: parse options, set up logging, run the command.
 */
#include "cli.h"
#include "config.h"
#include "exitcodes.h"
#include "log.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	struct config cfg;
	char *err = NULL;
	int rc;

	setlocale(LC_ALL, "C");
	rc = config_parse(argc, argv, &cfg, &err);
	log_setup(cfg.log_format, cfg.verbose, cfg.quiet);
	if (rc) {
		log_error("%s", err);
		free(err);
		config_free(&cfg);
		return rc;
	}
	rc = cli_run(&cfg);
	config_free(&cfg);
	return rc;
}
