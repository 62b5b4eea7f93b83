/*
 * embedded.h - the migration files compiled into the binary.
 *
 * Owns nothing at run time: the table is generated at build time by
 * cmake/embed.cmake from migrations/, as paths relative to that folder
 * ("master/20251110005726_init/migration.sql", "master/migration_lock.toml").
 */
#ifndef AUZDB_EMBEDDED_H
#define AUZDB_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *path;
	const unsigned char *data;
	size_t len;
};

extern const struct embedded_file az_embedded_files[];
extern const size_t az_embedded_count;

#endif
