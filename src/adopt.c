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

/* The differences of live against want as lines (caller frees each and the array). */
static size_t diff_lines(const struct fingerprint *want, const struct fingerprint *live,
                         char ***out)
{
	struct fp_diff *d;
	size_t n = fingerprint_diff(want, live, &d);
	*out = xcalloc(n ? n : 1, sizeof **out);
	for (size_t i = 0; i < n; i++)
		(*out)[i] = fp_diff_line(&d[i]);
	free(d);
	return n;
}

static void free_lines(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

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
		return AZ_EXIT_UNREACHABLE;
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
		rc = AZ_EXIT_UNREACHABLE;
	if (rc) {
		PQclear(PQexec(db->pg, "ROLLBACK"));
		*recorded = 0;
	}
	return rc;
}

int adopt_locked(const struct config *cfg, struct dbconn *db, const struct migset *set,
                 struct shadow_cache *cache, enum adopt_mode mode, size_t *recorded, char **err)
{
	const struct fingerprint *exp;
	struct fingerprint live;
	struct ledger l;
	size_t nexp, k = SIZE_MAX, closest = 0, best = SIZE_MAX, missing = 0;
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
		/* the closest prefix (fewest differences, the later one on a tie) */
		char **lines;
		size_t n;
		if (k == SIZE_MAX) {
			for (size_t i = 0; i < nexp; i++) {
				struct fp_diff *d;
				size_t c = fingerprint_diff(&exp[i], &live, &d);
				free(d);
				if (c <= best) {
					best = c;
					closest = i;
				}
			}
		} else {
			closest = k;
		}
		n = diff_lines(&exp[closest], &live, &lines);
		for (size_t i = 0; i < n; i++)
			log_at(k == SIZE_MAX ? LOG_INFO : LOG_WARN,
			       &(struct log_ctx){db->dbname, NULL, -1}, "differs from the %s: %s",
			       k == SIZE_MAX ? "closest prefix" : "forced baseline", lines[i]);
		if (k == SIZE_MAX) {
			char *some = join_some(lines, n, INLINE_DIFFS);
			*err = xasprintf(
			    "the live schema matches no prefix of the %zu migrations in %s; the "
			    "closest is the first %zu (up to %s) with %zu difference%s: %s; "
			    "nothing was changed: repair the schema, or baseline it with 'auzdb "
			    "adopt --adopt-up-to NAME'",
			    set->count, set->source, closest, prefix_name(set, closest), n,
			    n == 1 ? "" : "s", some);
			free(some);
			free_lines(lines, n);
			rc = AZ_EXIT_NEEDS_ACTION;
			goto out;
		}
		free_lines(lines, n);
		log_at(LOG_WARN, &(struct log_ctx){db->dbname, NULL, -1},
		       "--adopt-up-to %s: baselining at the operator's request although the "
		       "live schema differs from it",
		       cfg->adopt_up_to);
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
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, -1},
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
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, -1},
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

/* The SQLSTATE in a one-line error ("... (SQLSTATE 42701)"), or "". */
static void sqlstate_of(const char *err, char out[6])
{
	const char *p = NULL, *q = err;
	while (q && (q = strstr(q, "(SQLSTATE ")) != NULL)
		p = q++;
	out[0] = '\0';
	if (p && strlen(p) >= 15 && p[15] == ')')
		snprintf(out, 6, "%.5s", p + 10);
}

void diagnose_error(struct dbconn *db, const struct migset *set, struct shadow_cache *cache,
                    size_t idx, char **err, char **detail)
{
	char state[6], *det = NULL, *more;

	sqlstate_of(*err, state);
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

/* ---- auzdb adopt ------------------------------------------------------ */

static int fail_line(int rc, const char *db, char *err)
{
	log_at(LOG_ERROR, &(struct log_ctx){db, NULL, -1}, "%s", err ? err : az_exit_name(rc));
	free(err);
	return rc;
}

int adopt_command(const struct config *cfg)
{
	struct migset set;
	struct dbconn db;
	struct shadow_cache cache;
	struct db_outcome out = {0};
	size_t recorded = 0;
	char *err = NULL;
	int rc;

	rc = migset_load(cfg, cfg->set, &set, &err);
	if (rc)
		return fail_line(rc, NULL, err);
	if (cfg->adopt_up_to && !migset_find(&set, cfg->adopt_up_to)) {
		err = xasprintf("--adopt-up-to %s: no such migration in %s", cfg->adopt_up_to,
		                set.source);
		migset_free(&set);
		return fail_line(AZ_EXIT_USAGE, NULL, err);
	}
	rc = db_connect(cfg, cfg->database_url, NULL, false, &db, &err);
	if (rc) {
		migset_free(&set);
		return fail_line(rc, NULL, err);
	}
	shadow_cache_init(&cache, cfg, &set);
	rc = db_lock(&db, cfg->lock_timeout_s, &err);
	if (!rc) {
		rc = adopt_locked(cfg, &db, &set, &cache, cfg->dry_run ? ADOPT_DRY : ADOPT_RECORD,
		                  &recorded, &err);
		db_unlock(&db);
	}
	if (rc) {
		rc = fail_line(rc, db.dbname, err);
	} else if (!cfg->dry_run) {
		/* the rest, the normal way: backup first when something is pending */
		struct backup_set *bs =
		    cfg->backup_mode != BACKUP_NEVER ? backup_set_new(cfg) : NULL;
		warn_if_no_backup(cfg);
		rc = migrate_database_cached(cfg, &db, &set, &cache, bs, &out);
		backup_set_close(bs);
		outcome_free(&out);
	}
	shadow_cache_free(&cache);
	db_close(&db);
	migset_free(&set);
	return rc;
}

/* ---- auzdb verify ----------------------------------------------------- */

struct verified {
	char *database;
	const char *role;
	char *slug;
	size_t applied; /* the ledger's prefix the schema is compared with */
	size_t total;
	char **diff;
	size_t ndiff;
	char *note; /* ledger remarks (holes, unknown rows), or NULL */
	int exit_code;
	char *error;
};

static void verify_one(struct dbconn *db, const struct migset *set, struct shadow_cache *cache,
                       struct verified *v)
{
	const struct fingerprint *exp;
	struct fingerprint live;
	struct ledger l;
	struct strbuf note;
	size_t nexp, k = 0;
	char *err = NULL;
	int rc;

	v->total = set->count;
	rc = ledger_load(db, &l, &err);
	if (rc) {
		v->exit_code = rc;
		v->error = err;
		return;
	}
	sb_init(&note);
	for (size_t i = 0; i < set->count; i++)
		if (ledger_is_applied(&l, set->items[i].name))
			k = i + 1;
	for (size_t i = 0; i < k; i++)
		if (!ledger_is_applied(&l, set->items[i].name))
			sb_addf(&note, "%s%s is not recorded although later ones are",
			        note.len ? "; " : "", set->items[i].name);
	for (size_t i = 0; i < l.count; i++)
		if (ledger_row_failed(&l.rows[i]))
			sb_addf(&note, "%sfailed row: %s", note.len ? "; " : "",
			        l.rows[i].migration_name);
		else if (!l.rows[i].rolled_back_at && !migset_find(set, l.rows[i].migration_name))
			sb_addf(&note, "%s%s is recorded but not in %s", note.len ? "; " : "",
			        l.rows[i].migration_name, set->source);
	if (!l.exists)
		sb_addf(&note, "%sno _prisma_migrations ledger", note.len ? "; " : "");
	ledger_free(&l);
	v->applied = k;
	v->note = note.len ? sb_detach(&note) : NULL;
	sb_free(&note);
	rc = fingerprint_take(db, &live, &err);
	if (!rc)
		rc = shadow_expected(cache, db, k + 1, &exp, &nexp, &err);
	else
		memset(&live, 0, sizeof live);
	if (rc) {
		fingerprint_free(&live);
		v->exit_code = rc;
		v->error = err;
		return;
	}
	v->ndiff = diff_lines(&exp[k], &live, &v->diff);
	fingerprint_free(&live);
	v->exit_code = v->ndiff ? AZ_EXIT_NEEDS_ACTION : AZ_EXIT_OK;
}

static void verified_free(struct verified *v)
{
	free(v->database);
	free(v->slug);
	free_lines(v->diff, v->ndiff);
	free(v->note);
	free(v->error);
}

static void json_str(struct strbuf *sb, const char *key, const char *val)
{
	sb_addf(sb, "\"%s\":", key);
	if (!val) {
		sb_adds(sb, "null");
		return;
	}
	sb_addc(sb, '"');
	sb_add_json(sb, val);
	sb_addc(sb, '"');
}

static char *verify_json(const struct verified *v, size_t n, int code, long long ms)
{
	struct strbuf sb;
	sb_init(&sb);
	sb_addf(&sb, "{\"command\":\"verify\",\"duration_ms\":%lld,\"exit_code\":%d,", ms, code);
	json_str(&sb, "result", az_exit_name(code));
	sb_adds(&sb, ",\"databases\":[");
	for (size_t i = 0; i < n; i++) {
		sb_adds(&sb, i ? ",{" : "{");
		json_str(&sb, "name", v[i].database);
		sb_adds(&sb, ",");
		json_str(&sb, "role", v[i].role);
		sb_adds(&sb, ",");
		json_str(&sb, "slug", v[i].slug);
		sb_addf(&sb, ",\"applied\":%zu,\"migrations\":%zu,", v[i].applied, v[i].total);
		json_str(&sb, "state", v[i].error ? "error" : v[i].ndiff ? "drift" : "identical");
		sb_adds(&sb, ",\"differences\":[");
		for (size_t k = 0; k < v[i].ndiff; k++) {
			sb_adds(&sb, k ? ",\"" : "\"");
			sb_add_json(&sb, v[i].diff[k]);
			sb_addc(&sb, '"');
		}
		sb_adds(&sb, "],");
		json_str(&sb, "note", v[i].note);
		sb_addf(&sb, ",\"exit_code\":%d,", v[i].exit_code);
		json_str(&sb, "error", v[i].error);
		sb_adds(&sb, "}");
	}
	sb_adds(&sb, "]}");
	return sb.buf; /* the caller frees it */
}

/* Writes text to path, mode 0600, through a temp file and a rename. */
static bool write_0600(const char *path, const char *text, char **err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	size_t len = strlen(text), off = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		*err = xasprintf("cannot write the report %s: %s", path, strerror(errno));
		free(tmp);
		return false;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off < len || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		*err = xasprintf("cannot write the report %s: %s", path, strerror(errno));
		if (off < len)
			close(fd);
		unlink(tmp);
		free(tmp);
		return false;
	}
	free(tmp);
	return true;
}

static void print_verified(const struct verified *v)
{
	if (v->error)
		out_line("%-32s %-7s error: %s", v->database, v->role, v->error);
	else if (!v->ndiff)
		out_line("%-32s %-7s identical to the schema of its %zu applied migration%s",
		         v->database, v->role, v->applied, v->applied == 1 ? "" : "s");
	else
		out_line("%-32s %-7s drift: %zu difference%s from the schema of its %zu applied "
		         "migration%s",
		         v->database, v->role, v->ndiff, v->ndiff == 1 ? "" : "s", v->applied,
		         v->applied == 1 ? "" : "s");
	for (size_t i = 0; i < v->ndiff; i++)
		out_line("    %s", v->diff[i]);
	if (v->note)
		out_line("    note: %s", v->note);
}

int verify_command(const struct config *cfg)
{
	struct migset mset = {0}, tset = {0};
	struct shadow_cache mcache, tcache;
	struct tenant_list tl = {0};
	struct dbconn master;
	struct verified *v = NULL;
	size_t n = 0;
	long long t0 = now_ms();
	char *err = NULL;
	int rc, code = AZ_EXIT_OK;
	bool drift = false;
	enum migration_set_kind mkind = cfg->set_given ? cfg->set : SET_MASTER;

	rc = migset_load(cfg, mkind, &mset, &err);
	if (!rc && !cfg->set_given)
		rc = migset_load(cfg, SET_TENANT, &tset, &err);
	if (rc) {
		migset_free(&mset);
		return fail_line(rc, NULL, err);
	}
	shadow_cache_init(&mcache, cfg, &mset);
	shadow_cache_init(&tcache, cfg, &tset);
	rc = db_connect(cfg, cfg->database_url, NULL, false, &master, &err);
	if (rc) {
		code = fail_line(rc, NULL, err);
		goto done;
	}
	v = xcalloc(1, sizeof *v);
	v[0].database = xstrdup(master.dbname);
	v[0].role = cfg->set_given && cfg->set == SET_TENANT ? "tenant" : "master";
	verify_one(&master, &mset, &mcache, &v[0]);
	n = 1;
	if (!cfg->set_given) {
		rc = tenants_discover(cfg, &master, &tl, &err);
		if (rc) {
			log_error("%s", err);
			free(err);
			err = NULL;
			code = rc;
		} else {
			tenants_shard(&tl, cfg->shard_index, cfg->shard_count);
		}
	}
	db_close(&master);
	v = xrealloc(v, (1 + tl.count) * sizeof *v);
	for (size_t i = 0; i < tl.count; i++) {
		struct verified *t = &v[n++];
		struct dbconn db;
		memset(t, 0, sizeof *t);
		t->database = xstrdup(tl.items[i].database);
		t->slug = xstrdup(tl.items[i].slug);
		t->role = "tenant";
		t->total = tset.count;
		if (signals_stop_requested()) {
			t->exit_code = AZ_EXIT_INTERRUPTED;
			t->error = xstrdup("not verified: stopped by a signal");
			continue;
		}
		if (tl.items[i].invalid) {
			t->exit_code = AZ_EXIT_USAGE;
			t->error = xasprintf("slug rejected: %s", tl.items[i].invalid);
			continue;
		}
		rc = tenant_connect(cfg, &tl.items[i], &db, &t->error);
		if (rc) {
			t->exit_code = rc;
			continue;
		}
		verify_one(&db, &tset, &tcache, t);
		db_close(&db);
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].exit_code == AZ_EXIT_NEEDS_ACTION)
			drift = true;
		else if (v[i].exit_code && !code)
			code = v[i].exit_code;
		if (log_get_format() != LOG_JSON)
			print_verified(&v[i]);
		for (size_t k = 0; k < v[i].ndiff; k++)
			log_at(LOG_DEBUG, &(struct log_ctx){v[i].database, NULL, -1}, "drift: %s",
			       v[i].diff[k]);
	}
	if (!code && drift)
		code = AZ_EXIT_NEEDS_ACTION;
	{
		char *json = verify_json(v, n, code, now_ms() - t0);
		if (log_get_format() == LOG_JSON)
			out_line("%s", json);
		else if (code == AZ_EXIT_OK)
			out_line(
			    "%zu database%s verified: every schema is what its migrations make", n,
			    n == 1 ? "" : "s");
		if (cfg->report_file && !write_0600(cfg->report_file, json, &err)) {
			log_error("%s", err);
			free(err);
			if (!code)
				code = AZ_EXIT_INTERNAL;
		}
		free(json);
	}
done:
	for (size_t i = 0; i < n; i++)
		verified_free(&v[i]);
	free(v);
	tenants_free(&tl);
	shadow_cache_free(&mcache);
	shadow_cache_free(&tcache);
	migset_free(&mset);
	migset_free(&tset);
	return code;
}
