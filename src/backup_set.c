/* backup_set.c - see backup_set.h */
#define _POSIX_C_SOURCE 200809L
#include "backup_set.h"

#include "backup.h"
#include "compress.h"
#include "exitcodes.h"
#include "log.h"
#include "signals.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef AUZDB_VERSION
#define AUZDB_VERSION "unknown"
#endif

/* ---- files ----------------------------------------------------------- */

static bool fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok;
	if (fd < 0)
		return false;
	ok = fsync(fd) == 0 || errno == EINVAL;
	close(fd);
	return ok;
}

/* mkdir -p with mode 0700 for the parts it creates. */
static int mkdir_p(const char *path)
{
	char *p = xstrdup(path);
	int rc = 0;

	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0700) != 0 && errno != EEXIST) {
				rc = errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	if (!rc) {
		struct stat st;
		if (stat(p, &st) != 0)
			rc = errno;
		else if (!S_ISDIR(st.st_mode))
			rc = ENOTDIR;
	}
	free(p);
	return rc;
}

/* A database name as a file name: [A-Za-z0-9_.-] kept, other bytes %XX; ".tag" after it. */
static char *file_name(const char *db, const char *tag)
{
	struct strbuf sb;
	sb_init(&sb);
	for (const unsigned char *p = (const unsigned char *)db; *p; p++) {
		bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		            (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		            (*p == '.' && p != (const unsigned char *)db);
		if (keep)
			sb_addc(&sb, (char)*p);
		else
			sb_addf(&sb, "%%%02X", *p);
	}
	if (tag)
		sb_addf(&sb, ".%s", tag);
	sb_adds(&sb, ".sql.gz");
	return sb.buf;
}

/* FNV-1a, 32 bits: a short, stable tag for a connection string. */
static uint32_t tag_of(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct manifest_entry {
	char *database, *file, *where;
	uint64_t bytes;
	char sha256[65];
	struct dump_info info;
};

struct backup_set {
	const struct config *cfg;
	pthread_mutex_t mu;
	char stamp[32];
	char *dir;    /* NULL until created */
	char *name;   /* the set's name: dir's last part, stamp[-N] */
	char **files; /* file names taken in this set, also by dumps under way */
	size_t nfiles;
	struct manifest_entry *entries;
	size_t count;
	bool failed;
	bool progress_busy; /* one dump at a time shows progress */
};

/*
 * The file name for db in this set, taken for it (caller holds mu):
 * "<database>.sql.gz", or, when another database of the same name (a tenant
 * on another server) took that, "<database>.<tag of user@host:port>.sql.gz",
 * then "-N" after it.  Never the name of another dump's file or temp file.
 */
static char *take_file_name(struct backup_set *bs, const struct dbconn *db)
{
	char *name = file_name(db->dbname, NULL);
	for (int n = 1;; n++) {
		bool taken = false;
		for (size_t i = 0; i < bs->nfiles && !taken; i++)
			taken = str_eq(bs->files[i], name);
		if (!taken)
			break;
		free(name);
		char *tag = n == 1 ? xasprintf("%08x", tag_of(db->where ? db->where : ""))
		                   : xasprintf("%08x-%d", tag_of(db->where ? db->where : ""), n);
		name = file_name(db->dbname, tag);
		free(tag);
	}
	bs->files = xrealloc(bs->files, (bs->nfiles + 1) * sizeof *bs->files);
	bs->files[bs->nfiles++] = xstrdup(name);
	return name;
}

struct backup_set *backup_set_new(const struct config *cfg)
{
	struct backup_set *bs = xcalloc(1, sizeof *bs);
	struct timespec ts;
	struct tm tm;

	bs->cfg = cfg;
	pthread_mutex_init(&bs->mu, NULL);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(bs->stamp, sizeof bs->stamp, "%Y%m%dT%H%M%SZ", &tm);
	return bs;
}

/* Creates <dir>/<stamp>[-N]/ on first use (caller holds mu). */
static int ensure_dir(struct backup_set *bs, char **err)
{
	int e;
	if (bs->dir)
		return AZ_EXIT_OK;
	e = mkdir_p(bs->cfg->backup_dir);
	if (e) {
		*err = xasprintf("cannot create backup directory %s: %s", bs->cfg->backup_dir,
		                 strerror(e));
		return AZ_EXIT_BACKUP;
	}
	for (int n = 1; n < 1000; n++) {
		char *d = n == 1 ? xasprintf("%s/%s", bs->cfg->backup_dir, bs->stamp)
		                 : xasprintf("%s/%s-%d", bs->cfg->backup_dir, bs->stamp, n);
		if (mkdir(d, 0700) == 0) {
			if (!fsync_dir(bs->cfg->backup_dir)) {
				*err = xasprintf("cannot fsync backup directory %s: %s",
				                 bs->cfg->backup_dir, strerror(errno));
				rmdir(d);
				free(d);
				return AZ_EXIT_BACKUP;
			}
			bs->dir = d;
			bs->name = xstrdup(strrchr(d, '/') + 1);
			return AZ_EXIT_OK;
		}
		e = errno;
		free(d);
		if (e != EEXIST) {
			*err = xasprintf("cannot create a backup set in %s: %s",
			                 bs->cfg->backup_dir, strerror(e));
			return AZ_EXIT_BACKUP;
		}
	}
	*err = xasprintf("cannot create a backup set in %s: too many sets named %s",
	                 bs->cfg->backup_dir, bs->stamp);
	return AZ_EXIT_BACKUP;
}

static char *manifest_json(const struct backup_set *bs)
{
	struct strbuf sb;
	sb_init(&sb);
	sb_addf(&sb, "{\n  \"format\": \"auzdb-backup-1\",\n  \"auzdb_version\": \"%s\",\n",
	        AUZDB_VERSION);
	sb_addf(&sb, "  \"set\": \"%s\",\n  \"compression\": \"gzip\",\n  \"level\": %ld,\n",
	        bs->name, bs->cfg->compress_level);
	sb_adds(&sb, "  \"databases\": [");
	for (size_t i = 0; i < bs->count; i++) {
		const struct manifest_entry *m = &bs->entries[i];
		sb_adds(&sb, i ? ",\n    {" : "\n    {");
		sb_adds(&sb, "\"database\": \"");
		sb_add_json(&sb, m->database);
		sb_adds(&sb, "\", \"file\": \"");
		sb_add_json(&sb, m->file);
		sb_adds(&sb, "\", \"connection\": \"");
		sb_add_json(&sb, m->where);
		sb_addf(&sb, "\", \"bytes\": %llu, \"sha256\": \"%s\", \"server_version\": \"",
		        (unsigned long long)m->bytes, m->sha256);
		sb_add_json(&sb, m->info.server_version);
		sb_addf(&sb,
		        "\", \"started_at\": \"%s\", \"duration_ms\": %lld,\n      \"tables\": {",
		        m->info.started_at, m->info.duration_ms);
		for (size_t k = 0; k < m->info.ntables; k++) {
			sb_adds(&sb, k ? ", \"" : "\"");
			sb_add_json(&sb, m->info.tables[k].name);
			sb_addf(&sb, "\": %lld", m->info.tables[k].rows);
		}
		sb_adds(&sb, "}}");
	}
	sb_adds(&sb, bs->count ? "\n  ]\n}\n" : "]\n}\n");
	return sb.buf;
}

/* Rewrites manifest.json durably (caller holds mu). */
static bool write_manifest(struct backup_set *bs, char **err)
{
	char *json = manifest_json(bs);
	char *path = xasprintf("%s/manifest.json", bs->dir);
	bool ok = write_file_atomic(path, json, strlen(json), 0600, err);

	free(path);
	free(json);
	return ok;
}

/*
 * Reads path back: it must have the sha256 of the bytes we wrote (which
 * the writer inflated and checked against the input as it wrote them).
 */
static bool verify(const char *path, const char *sha, char **err)
{
	char got[65];

	if (!file_sha256(path, got)) {
		*err = xasprintf("backup verification failed: cannot read %s: %s", path,
		                 strerror(errno));
		return false;
	}
	if (strcmp(got, sha) != 0) {
		*err = xasprintf("backup verification failed: %s changed on disk", path);
		return false;
	}
	return true;
}

/* Takes the progress line for one dump when no other dump of the set has it. */
static bool progress_take(struct backup_set *bs)
{
	bool mine = false;

	pthread_mutex_lock(&bs->mu);
	if (bs->cfg->progress && !bs->progress_busy)
		mine = bs->progress_busy = true;
	pthread_mutex_unlock(&bs->mu);
	return mine;
}

static void progress_give(struct backup_set *bs)
{
	pthread_mutex_lock(&bs->mu);
	bs->progress_busy = false;
	pthread_mutex_unlock(&bs->mu);
}

/*
 * Dumps db into af's temp file, then fsyncs and closes it.  Fills *info,
 * *bytes and sha (the file's sha256).
 */
static bool dump_to_file(struct backup_set *bs, struct dbconn *db, struct atomic_file *af,
                         struct dump_info *info, uint64_t *bytes, char sha[65], char **err)
{
	struct dump_opts o = {.lock_timeout_s = bs->cfg->lock_timeout_s,
	                      .owners = bs->cfg->backup_owners};
	struct gz_writer *w = gzw_open(af->fd, (int)bs->cfg->compress_level, af->tmp);
	char *e = NULL, *derr = NULL;
	bool ok;

	o.progress = progress_take(bs);
	ok = backup_dump(db, w, &o, info, &derr);
	if (o.progress)
		progress_give(bs);
	if (!gzw_finish(w, !ok, bytes, sha, &e)) {
		/* a database error explains more than "abandoned" does */
		*err = derr ? derr : e;
		if (derr)
			free(e);
		return false;
	}
	free(derr);
	return atomic_close(af, err);
}

/*
 * Adds the backup to the set and rewrites the manifest; *info moves into
 * the set.  When the manifest cannot be written, final is removed.
 */
static bool record(struct backup_set *bs, const struct dbconn *db, const char *name,
                   const char *final, uint64_t bytes, const char sha[65], struct dump_info *info,
                   char **err)
{
	struct manifest_entry *m;
	bool ok;

	pthread_mutex_lock(&bs->mu);
	bs->entries = xrealloc(bs->entries, (bs->count + 1) * sizeof *bs->entries);
	m = &bs->entries[bs->count++];
	m->database = xstrdup(db->dbname);
	m->where = xstrdup(db->where ? db->where : "");
	m->file = xstrdup(name);
	m->bytes = bytes;
	memcpy(m->sha256, sha, sizeof m->sha256);
	m->info = *info;
	memset(info, 0, sizeof *info);
	ok = write_manifest(bs, err);
	if (!ok) {
		bs->failed = true;
		unlink(final); /* a file the manifest does not vouch for is no backup */
	}
	pthread_mutex_unlock(&bs->mu);
	return ok;
}

int backup_database(struct backup_set *bs, struct dbconn *db, char **file, char **err)
{
	char *name = NULL, *final = NULL, *tmp = NULL;
	struct dump_info info;
	struct atomic_file af = {.fd = -1};
	uint64_t bytes = 0;
	char sha[65];
	int rc;
	long long duration;

	memset(&info, 0, sizeof info);
	*file = NULL;
	pthread_mutex_lock(&bs->mu);
	rc = ensure_dir(bs, err);
	if (!rc) {
		name = take_file_name(bs, db);
		final = xasprintf("%s/%s", bs->dir, name);
		tmp = xasprintf("%s.tmp", final);
	}
	pthread_mutex_unlock(&bs->mu);
	if (rc)
		goto fail;

	if (!atomic_open(&af, final, tmp, 0600, err))
		goto fail;
	signals_track_tmp(tmp); /* a forced exit unlinks it */
	log_db(LOG_INFO, db->dbname, "backing up to %s", final);
	if (!dump_to_file(bs, db, &af, &info, &bytes, sha, err) || !verify(tmp, sha, err))
		goto fail;
	/* renamed, and the set directory fsynced; else no file under the final name */
	if (!atomic_commit(&af, err)) {
		if (af.renamed)
			unlink(final);
		goto fail;
	}
	duration = info.duration_ms;
	if (!record(bs, db, name, final, bytes, sha, &info, err))
		goto fail;
	log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, duration},
	       "backup written: %s (%llu bytes, sha256 %.12s...)", final, (unsigned long long)bytes,
	       sha);
	*file = final;
	signals_untrack_tmp(tmp);
	free(tmp);
	free(name);
	return AZ_EXIT_OK;

fail:
	if (af.tmp)
		atomic_abort(&af); /* not committed: removes the temp file */
	if (tmp)
		signals_untrack_tmp(tmp);
	pthread_mutex_lock(&bs->mu);
	bs->failed = true;
	pthread_mutex_unlock(&bs->mu);
	if (!*err)
		*err = xstrdup("backup failed");
	{
		char *full = xasprintf("backup of \"%s\" failed: %s", db->dbname, *err);
		free(*err);
		*err = full;
	}
	dump_info_free(&info);
	free(final);
	free(tmp);
	free(name);
	return AZ_EXIT_BACKUP;
}

/* ---- retention ------------------------------------------------------- */

static bool is_set_name(const char *s)
{
	/* YYYYMMDDTHHMMSSZ, optionally -N */
	static const char shape[] = "ddddddddTddddddZ";
	size_t i;
	for (i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
			return false;
	}
	if (s[i] == '\0')
		return true;
	if (s[i++] != '-' || !s[i])
		return false;
	for (; s[i]; i++)
		if (!(s[i] >= '0' && s[i] <= '9'))
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes a set: its backup files and manifest, then the directory. */
static void remove_set(const char *base, const char *name)
{
	char *dir = xasprintf("%s/%s", base, name);
	DIR *dh = opendir(dir);
	struct dirent *de;

	if (dh) {
		while ((de = readdir(dh)) != NULL) {
			size_t n = strlen(de->d_name);
			char *f;
			if (de->d_name[0] == '.')
				continue;
			if (!(n > 7 && strcmp(de->d_name + n - 7, ".sql.gz") == 0) &&
			    !(n > 11 && strcmp(de->d_name + n - 11, ".sql.gz.tmp") == 0) &&
			    !str_startswith(de->d_name, "manifest.json"))
				continue; /* not ours: leave it, and the directory */
			f = xasprintf("%s/%s", dir, de->d_name);
			if (unlink(f) != 0)
				log_warn("backup retention: cannot remove %s: %s", f,
				         strerror(errno));
			free(f);
		}
		closedir(dh);
	}
	if (rmdir(dir) != 0)
		log_warn("backup retention: cannot remove %s: %s", dir, strerror(errno));
	else
		log_info("backup retention: removed old set %s", dir);
	free(dir);
}

static void retain(const struct backup_set *bs)
{
	const char *base = bs->cfg->backup_dir;
	DIR *dh = opendir(base);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (!dh) {
		log_warn("backup retention: cannot read %s: %s", base, strerror(errno));
		return;
	}
	while ((de = readdir(dh)) != NULL) {
		char *man;
		struct stat st;
		if (!is_set_name(de->d_name))
			continue;
		man = xasprintf("%s/%s/manifest.json", base, de->d_name);
		if (stat(man, &st) == 0) { /* only complete sets count */
			names = xrealloc(names, (n + 1) * sizeof *names);
			names[n++] = xstrdup(de->d_name);
		}
		free(man);
	}
	closedir(dh);
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i + (size_t)bs->cfg->backup_keep < n; i++)
		remove_set(base, names[i]);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void backup_set_close(struct backup_set *bs)
{
	if (!bs)
		return;
	if (bs->dir && bs->count == 0)
		rmdir(bs->dir); /* nothing was backed up: leave no empty set */
	else if (bs->dir && !bs->failed && bs->cfg->backup_keep > 0)
		retain(bs);
	for (size_t i = 0; i < bs->count; i++) {
		free(bs->entries[i].database);
		free(bs->entries[i].file);
		free(bs->entries[i].where);
		dump_info_free(&bs->entries[i].info);
	}
	free(bs->entries);
	strv_free(bs->files, bs->nfiles);
	free(bs->name);
	free(bs->dir);
	pthread_mutex_destroy(&bs->mu);
	free(bs);
}
