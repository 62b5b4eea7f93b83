/* adopt.c - see adopt.h */
#define _POSIX_C_SOURCE 200809L
#include "adopt.h"

#include "exitcodes.h"
#include "workflow.h"
#include "ledger.h"
#include "log.h"
#include "signals.h"
#include "tenants.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Diff lines shown in a one-line error; the log and the report get all. */
#define INLINE_DIFFS 3

/* "a; b; c; and 4 more" from the first max lines. */
static char *join_some(char **l, size_t n, size_t max)
{
	struct strbuf sb;
	sb_init(&sb);
	for (size_t i = 0; i < n && i < max; i++)
		sb_addf(&sb, "%s%s", i ? "; " : "", l[i]);
	if (n > max)
		sb_addf(&sb, "; and %zu more", n - max);
	return sb.buf; /* the caller frees it */
}

static const char *prefix_name(const struct migset *set, size_t k)
{
	return k ? set->items[k - 1].name : "(none: the empty schema)";
}

/* Records set->items[i] for i < k that the ledger lacks, in one transaction. */
static int record(struct dbconn *db, const struct migset *set, const struct ledger *l, size_t k,
                  size_t *recorded, char **err)
{
	int rc = AZ_EXIT_OK;

	*recorded = 0;
	if (!db_command(db, "BEGIN", 0, NULL, err))
		return db_error_exit(db, AZ_EXIT_UNREACHABLE);
	if (!l->exists)
		rc = ledger_create(db, err);
	for (size_t i = 0; i < k && !rc; i++) {
		const struct migration *m = &set->items[i];
		long n = 0;
		if (ledger_is_applied(l, m->name))
			continue;
		rc = ledger_roll_back_failed(db, m->name, &n, err);
		if (!rc)
			rc = ledger_insert_resolved(db, m->checksum, m->name, err);
		if (!rc)
			(*recorded)++;
	}
	if (!rc && !db_command(db, "COMMIT", 0, NULL, err))
		rc = db_error_exit(db, AZ_EXIT_UNREACHABLE);
	if (rc) {
		db_rollback(db);
		*recorded = 0;
	}
	return rc;
}

/*
 * The live schema is not that of prefix k (SIZE_MAX: of no prefix): logs its
 * differences from the closest prefix (or from the forced baseline k), and
 * returns AZ_EXIT_NEEDS_ACTION with *err when no baseline was forced, 0 to go
 * on with the operator's --adopt-up-to.
 */
static int explain_mismatch(const struct config *cfg, const struct dbconn *db,
                            const struct migset *set, const struct fingerprint *exp, size_t nexp,
                            const struct fingerprint *live, size_t k, char **err)
{
	size_t closest = 0, best = SIZE_MAX;
	/* the closest prefix (fewest differences, the later one on a tie) */
	char **lines;
	size_t n;
	if (k == SIZE_MAX) {
		for (size_t i = 0; i < nexp; i++) {
			struct fp_diff *d;
			size_t c = fingerprint_diff(&exp[i], live, &d);
			free(d);
			if (c <= best) {
				best = c;
				closest = i;
			}
		}
	} else {
		closest = k;
	}
	n = fingerprint_diff_lines(&exp[closest], live, &lines);
	for (size_t i = 0; i < n; i++)
		log_db(k == SIZE_MAX ? LOG_INFO : LOG_WARN, db->dbname, "differs from the %s: %s",
		       k == SIZE_MAX ? "closest prefix" : "forced baseline", lines[i]);
	if (k == SIZE_MAX) {
		char *some = join_some(lines, n, INLINE_DIFFS);
		*err =
		    xasprintf("the live schema matches no prefix of the %zu migrations in %s; the "
		              "closest is the first %zu (up to %s) with %zu difference%s: %s; "
		              "nothing was changed: repair the schema, or baseline it with 'auzdb "
		              "adopt --adopt-up-to NAME'",
		              set->count, set->source, closest, prefix_name(set, closest), n,
		              n == 1 ? "" : "s", some);
		free(some);
		strv_free(lines, n);
		return AZ_EXIT_NEEDS_ACTION;
	}
	strv_free(lines, n);
	log_db(LOG_WARN, db->dbname,
	       "--adopt-up-to %s: baselining at the operator's request although the "
	       "live schema differs from it",
	       cfg->adopt_up_to);
	return AZ_EXIT_OK;
}

int adopt_locked(const struct config *cfg, struct dbconn *db, const struct migset *set,
                 struct shadow_cache *cache, enum adopt_mode mode, size_t *recorded, char **err)
{
	const struct fingerprint *exp;
	struct fingerprint live;
	struct ledger l;
	size_t nexp, k = SIZE_MAX, missing = 0;
	int rc;

	*recorded = 0;
	rc = ledger_load(db, &l, err);
	if (rc)
		return rc;
	rc = fingerprint_take(db, &live, err);
	if (rc) {
		ledger_free(&l);
		return rc;
	}
	rc = shadow_expected(cache, db, set->count + 1, &exp, &nexp, err);
	if (rc) {
		char *e = *err;
		*err = xasprintf("cannot compute the expected schemas: %s", e);
		free(e);
		goto out;
	}
	if (cfg->adopt_up_to) {
		const struct migration *m = migset_find(set, cfg->adopt_up_to);
		if (!m) {
			*err = xasprintf("--adopt-up-to %s: no such migration in %s",
			                 cfg->adopt_up_to, set->source);
			rc = AZ_EXIT_USAGE;
			goto out;
		}
		k = (size_t)(m - set->items) + 1;
	} else {
		for (size_t i = nexp; i-- > 0;)
			if (fingerprint_equal(&exp[i], &live)) {
				k = i;
				break;
			}
	}
	if (k == SIZE_MAX || !fingerprint_equal(&exp[k], &live)) {
		rc = explain_mismatch(cfg, db, set, exp, nexp, &live, k, err);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < k; i++)
		missing += !ledger_is_applied(&l, set->items[i].name);
	for (size_t i = k; i < set->count; i++)
		if (ledger_is_applied(&l, set->items[i].name))
			log_at(
			    LOG_WARN, &(struct log_ctx){db->dbname, set->items[i].name, -1},
			    "%s is recorded as applied, but the live schema is that of the first "
			    "%zu migrations",
			    set->items[i].name, k);
	if (missing == 0) {
		log_db(LOG_INFO, db->dbname,
		       "the live schema is that of the first %zu migrations (up to %s), and the "
		       "ledger records them: nothing to adopt",
		       k, prefix_name(set, k));
		goto out;
	}
	if (mode == ADOPT_REPORT) {
		*err = xasprintf("the live schema is exactly that of the first %zu of %zu "
		                 "migrations (up to %s): 'auzdb adopt' (or AUZDB_AUTO_ADOPT=1) "
		                 "records %zu of them as applied and applies the other %zu",
		                 k, set->count, prefix_name(set, k), missing, set->count - k);
		rc = AZ_EXIT_NEEDS_ACTION;
		goto out;
	}
	if (mode == ADOPT_DRY) {
		for (size_t i = 0; i < k; i++)
			if (!ledger_is_applied(&l, set->items[i].name))
				log_at(LOG_INFO,
				       &(struct log_ctx){db->dbname, set->items[i].name, -1},
				       "dry run: would record %s as applied", set->items[i].name);
		goto out;
	}
	rc = record(db, set, &l, k, recorded, err);
	if (!rc) {
		for (size_t i = 0; i < k; i++)
			if (!ledger_is_applied(&l, set->items[i].name))
				log_at(LOG_INFO,
				       &(struct log_ctx){db->dbname, set->items[i].name, -1},
				       "adopted %s: recorded as applied", set->items[i].name);
		log_db(LOG_INFO, db->dbname,
		       "adopted: the schema is that of the first %zu migrations (up to %s); %zu "
		       "recorded as applied, %zu to apply",
		       k, prefix_name(set, k), *recorded, set->count - k);
	}
out:
	fingerprint_free(&live);
	ledger_free(&l);
	return rc;
}

/* ---- diagnose --------------------------------------------------------- */

bool diagnose_applies(const char *sqlstate)
{
	static const char *const states[] = {
	    "42701", /* duplicate_column */
	    "42P07", /* duplicate_table */
	    "42710", /* duplicate_object */
	    "42P06", /* duplicate_schema */
	    "42723", /* duplicate_function */
	    "42P16", /* invalid_table_definition (e.g. a second primary key) */
	    "42P01", /* undefined_table */
	    "42703", /* undefined_column */
	    "42704", /* undefined_object */
	    "42883", /* undefined_function */
	    "23505", /* unique_violation (a unique index over duplicates) */
	};
	if (!sqlstate)
		return false;
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		if (str_eq(sqlstate, states[i]))
			return true;
	return false;
}

static void add_name(struct strbuf *sb, size_t *n, const char *key)
{
	if (*n < INLINE_DIFFS)
		sb_addf(sb, "%s%s", *n ? ", " : "", key);
	else if (*n == INLINE_DIFFS)
		sb_adds(sb, ", ...");
	(*n)++;
}

char *diagnose_failure(struct dbconn *db, const struct migset *set, struct shadow_cache *cache,
                       size_t idx, const char *sqlstate, char **detail)
{
	const struct fingerprint *exp;
	const char *name = set->items[idx].name;
	struct fingerprint live;
	struct fp_diff *ch, *pre;
	struct strbuf det, present, absent;
	size_t nexp = 0, nch, npre, npresent = 0, nabsent = 0, nprereq = 0;
	char *err = NULL, *fix, *out;
	int rc;

	*detail = NULL;
	if (!diagnose_applies(sqlstate))
		return NULL;
	if (!db_reset_session(db, &err)) { /* whatever the failed script set */
		free(err);
		return NULL;
	}
	rc = shadow_expected(cache, db, idx + 2, &exp, &nexp, &err);
	if (rc == AZ_EXIT_MIGRATION && nexp == idx + 1) {
		/* it fails on the shadow too: the migration is at fault, not the database */
		free(err);
		return xstrdup("; it fails the same way on an empty database built from the "
		               "migrations: the migration itself is at fault, not this database");
	}
	if (rc || fingerprint_take(db, &live, &err)) {
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, name, -1}, "no diagnosis of %s: %s",
		       name, err ? err : "failed");
		free(err);
		return NULL;
	}
	sb_init(&det);
	sb_init(&present);
	sb_init(&absent);
	/* what the migration does: the expected schema after it against before it */
	nch = fingerprint_diff(&exp[idx + 1], &exp[idx], &ch);
	for (size_t i = 0; i < nch; i++) {
		const struct fp_entry *e = fingerprint_find(&live, ch[i].key);
		const char *after = ch[i].expected; /* NULL: the migration drops it */
		const char *state;
		if (!after) {
			state = e ? "still present (the migration drops it)" : "already dropped";
			if (e)
				add_name(&absent, &nabsent, ch[i].key);
			else
				add_name(&present, &npresent, ch[i].key);
		} else if (e && str_eq(e->value, after)) {
			state = "present";
			add_name(&present, &npresent, ch[i].key);
		} else if (e && ch[i].kind == FP_DIFFERS && str_eq(e->value, ch[i].got)) {
			state = "absent (not yet changed)";
			add_name(&absent, &nabsent, ch[i].key);
		} else if (e) {
			state = "present but different";
			add_name(&present, &npresent, ch[i].key);
		} else {
			state = "absent";
			add_name(&absent, &nabsent, ch[i].key);
		}
		sb_addf(&det, "%s%s %s", det.len ? "; " : "", ch[i].key, state);
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, name, -1}, "diagnosis: %s %s",
		       ch[i].key, state);
	}
	free(ch);
	/* what it needs: objects of the schema before it that the database lacks */
	npre = fingerprint_diff(&exp[idx], &live, &pre);
	for (size_t i = 0; i < npre; i++) {
		const struct fp_entry *after = fingerprint_find(&exp[idx + 1], pre[i].key);
		if (pre[i].kind != FP_MISSING || !after)
			continue; /* extra objects, or ones the migration itself drops */
		nprereq++;
		sb_addf(&det, "%s%s missing (an earlier migration creates it)", det.len ? "; " : "",
		        pre[i].key);
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, name, -1},
		       "diagnosis: %s missing (an earlier migration creates it)", pre[i].key);
	}
	free(pre);
	fingerprint_free(&live);

	if (nprereq)
		fix =
		    xasprintf("create the %zu missing object%s of earlier migrations, then 'auzdb "
		              "resolve --rolled-back %s' and run again",
		              nprereq, nprereq == 1 ? "" : "s", name);
	else if (nabsent == 0)
		fix = xasprintf("'auzdb adopt --adopt-up-to %s' records it as applied", name);
	else if (npresent == 0)
		fix = xasprintf("'auzdb resolve --rolled-back %s' and run again", name);
	else
		fix = xasprintf("drop the present objects by hand, then 'auzdb resolve "
		                "--rolled-back %s' and run again; or add the absent ones by hand, "
		                "then 'auzdb adopt --adopt-up-to %s'",
		                name, name);
	out = xasprintf("; diagnosis: of the %zu objects %s creates, changes or drops, %zu %s "
	                "already in place%s%s%s, %zu not%s%s%s%s; fix: %s",
	                npresent + nabsent, name, npresent, npresent == 1 ? "is" : "are",
	                npresent ? " (" : "", present.buf, npresent ? ")" : "", nabsent,
	                nabsent ? " (" : "", absent.buf, nabsent ? ")" : "",
	                nprereq ? "; earlier objects are missing" : "", fix);
	free(fix);
	sb_free(&present);
	sb_free(&absent);
	*detail = det.buf;
	return out;
}

void diagnose_error(struct dbconn *db, const struct migset *set, struct shadow_cache *cache,
                    size_t idx, char **err, char **detail)
{
	char state[6], *det = NULL, *more;

	/* apply_migration left the failed script's SQLSTATE in db->sqlstate */
	snprintf(state, sizeof state, "%s", db->sqlstate);
	more = diagnose_failure(db, set, cache, idx, state, &det);
	if (!more)
		return;
	{
		char *e = *err;
		*err = xasprintf("%s%s", e, more);
		free(e);
	}
	free(more);
	free(*detail);
	*detail = det;
}

int adopt_for_migrate(const struct config *cfg, struct dbconn *db, const struct migset *set,
                      struct shadow_cache *cache, struct plan *p, char **err)
{
	bool record = cfg->auto_adopt && !cfg->dry_run;
	size_t recorded = 0;
	char *why = NULL;
	int rc = adopt_locked(cfg, db, set, cache, record ? ADOPT_RECORD : ADOPT_REPORT, &recorded,
	                      &why);

	if (rc == AZ_EXIT_OK) {
		free(why);
		plan_free(p);
		return plan_build(db, set, p, err);
	}
	if (rc == AZ_EXIT_INTERRUPTED) {
		*err = why;
		return rc;
	}
	/* Prisma's refusal (P3005), then the finding, or why there is none */
	if (plan_blocker(p, true, err) == AZ_EXIT_OK)
		*err = xstrdup("the schema holds tables but no _prisma_migrations ledger");
	{
		char *e = *err;
		if (rc == AZ_EXIT_NEEDS_ACTION)
			*err = xasprintf("%s; %s", e, why ? why : "no finding");
		else
			*err = xasprintf("%s (adoption was not possible: %s)", e,
			                 why ? why : "failed");
		free(e);
	}
	free(why);
	return rc == AZ_EXIT_USAGE ? AZ_EXIT_USAGE : AZ_EXIT_NEEDS_ACTION;
}
