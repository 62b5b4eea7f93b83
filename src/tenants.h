/*
 * tenants.h - which tenant databases exist and how to reach them.
 *
 * Owns: the tenant list (from --tenant / AUZDB_TENANTS, AUZDB_TENANT_QUERY
 * run on master as one statement in a READ ONLY transaction, or pg_database
 * names with AUZDB_TENANT_DB_PREFIX), the rule for a safe slug, merging
 * duplicates, the stable shard of a tenant, and expanding
 * AUZDB_TENANT_URL_TEMPLATE ({slug}, {database}) with percent-encoded
 * values.  A tenant's name never reaches SQL text: it is only ever a libpq
 * keyword value or a query parameter.  A slug the operator lists (flag,
 * AUZDB_TENANTS, AUZDB_TENANT_QUERY) must be safe; a database name found in
 * pg_database may be anything PostgreSQL allows, but only a safe one is
 * ever expanded into the URL template (there a name could pick the host,
 * and so where the password goes).  Calls: conn, log.
 */
#ifndef AUZDB_TENANTS_H
#define AUZDB_TENANTS_H

#include "conn.h"

#include <stdint.h>

struct tenant {
	char *slug;     /* as given, or the database name minus the prefix */
	char *database; /* prefix + slug */
	char *invalid;  /* why the tenant is refused (an unsafe slug), or NULL */
};

struct tenant_list {
	struct tenant *items;
	size_t count;
	const char *source; /* "--tenant", "AUZDB_TENANTS", "AUZDB_TENANT_QUERY", "pg_database" */
};

/* Lists the tenants as configured; master is open for query/discovery. */
int tenants_discover(const struct config *cfg, struct dbconn *master, struct tenant_list *out,
                     char **err) AZ_MUSTCHECK;
void tenants_free(struct tenant_list *l);
/* Keeps only this shard's tenants (cfg->shard_count > 1). */
void tenants_shard(struct tenant_list *l, long index, long count);

/* NULL when slug is a safe database-name part, else the reason. */
const char *tenant_slug_problem(const char *slug, const char *prefix);
/*
 * Stable 64-bit FNV-1a hash of the slug; shard = hash % count.  Its offset
 * basis is 1469598103934665603 (the standard one has a trailing 7): kept as
 * it is, because changing it would move tenants between shards.
 */
uint64_t tenant_hash(const char *slug);
/*
 * Expands the URL template for one tenant; values are percent-encoded.
 * Returns NULL and *err on an unknown {placeholder}, or when the slug is not
 * safe (tenant_slug_problem): such a name is never put into a URL.
 */
char *tenant_url(const char *tmpl, const struct tenant *t, char **err);
/*
 * Connects to one tenant: through AUZDB_TENANT_URL_TEMPLATE when set, else
 * master's URL with only the database name replaced.  Exit code and *err.
 */
int tenant_connect(const struct config *cfg, const struct tenant *t, struct dbconn *db, char **err);

#endif
