/* migset.c - see migset.h */
#define _POSIX_C_SOURCE 200809L
#include "migset.h"

#include "embedded.h"
#include "exitcodes.h"
#include "sqlscan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- order ---------------------------------------------------------- */

/*
 * Primary weights of printable ASCII under ICU's root collation, the order
 * Node's localeCompare gives Prisma's CLI: punctuation and symbols first
 * (in this order), then digits, then letters with case ignored.
 */
static const char punct_order[] = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";

static int primary_weight(unsigned char c)
{
	const char *p;
	if (c >= '0' && c <= '9')
		return 100 + (c - '0');
	if (isalpha(c))
		return 200 + (tolower(c) - 'a');
	if (c != '\0' && (p = strchr(punct_order, c)) != NULL)
		return 1 + (int)(p - punct_order);
	return 300 + c; /* not expected: names are validated as printable ASCII */
}

int prisma_name_cmp(const char *a, const char *b)
{
	size_t i;

	for (i = 0; a[i] && b[i]; i++) {
		int wa = primary_weight((unsigned char)a[i]);
		int wb = primary_weight((unsigned char)b[i]);
		if (wa != wb)
			return wa < wb ? -1 : 1;
	}
	if (a[i] || b[i])
		return a[i] ? 1 : -1; /* a proper prefix sorts first */
	/* tertiary: first difference in case, lowercase first */
	for (i = 0; a[i]; i++) {
		if (a[i] != b[i])
			return islower((unsigned char)a[i]) ? -1 : 1;
	}
	return 0;
}

static int cmp_migration(const void *x, const void *y)
{
	const struct migration *a = x, *b = y;
	int c = prisma_name_cmp(a->name, b->name);
	return c ? c : strcmp(a->name, b->name);
}

/* ---- checksums ------------------------------------------------------ */

static void digest(const void *data, size_t len, unsigned char md[32])
{
	unsigned int mdlen = 0;
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		fprintf(stderr, "auzdb: internal error: sha256 failed\n");
		exit(AZ_EXIT_INTERNAL);
	}
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	digest(data, len, md);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

/* Prisma's legacy form: each byte as {:x}, without zero padding. */
static void sha256_legacy_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	size_t o = 0;
	digest(data, len, md);
	for (int i = 0; i < 32; i++)
		o += (size_t)snprintf(out + o, 65 - o, "%x", md[i]);
}

static bool variant_matches(const void *data, size_t len, const char *stored)
{
	char hex[65];
	if (strlen(stored) == 64)
		sha256_hex(data, len, hex);
	else
		sha256_legacy_hex(data, len, hex);
	return strcmp(hex, stored) == 0;
}

bool migration_checksum_matches(const struct migration *m, const char *stored)
{
	struct strbuf lf, crlf;
	bool ok;

	if (!stored)
		return false;
	if (variant_matches(m->raw, m->raw_len, stored))
		return true;
	sb_init(&lf);
	sb_init(&crlf);
	for (size_t i = 0; i < m->raw_len; i++) {
		char c = (char)m->raw[i];
		if (c == '\r' && i + 1 < m->raw_len && m->raw[i + 1] == '\n')
			continue;
		sb_addc(&lf, c);
	}
	for (size_t i = 0; i < lf.len; i++) {
		if (lf.buf[i] == '\n')
			sb_addc(&crlf, '\r');
		sb_addc(&crlf, lf.buf[i]);
	}
	ok = variant_matches(lf.buf, lf.len, stored) || variant_matches(crlf.buf, crlf.len, stored);
	sb_free(&lf);
	sb_free(&crlf);
	return ok;
}

/* ---- validation ----------------------------------------------------- */

const char *migration_name_problem(const char *name)
{
	if (!*name)
		return "empty name";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return "name has a character outside printable ASCII";
	return NULL;
}

/* Returns the offset of the first invalid UTF-8 byte, or len when valid. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned int cp;
		if (c < 0x80) {
			if (c == 0)
				return i;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return i;
		}
		for (size_t k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return len;
}

static int add_migration(struct migset *set, const char *name, unsigned char *raw, size_t len,
                         char **err)
{
	struct migration *m;
	const char *problem = migration_name_problem(name);
	size_t bad;

	if (problem) {
		*err = xasprintf("migration directory '%s' in %s: %s", name, set->source, problem);
		free(raw);
		return AZ_EXIT_USAGE;
	}
	bad = utf8_invalid_at(raw, len);
	if (bad < len) {
		*err = xasprintf("migration %s: migration.sql is not valid UTF-8 (%s at byte %zu)",
		                 name, raw[bad] == 0 ? "NUL byte" : "invalid sequence", bad);
		free(raw);
		return AZ_EXIT_USAGE;
	}
	set->items = xrealloc(set->items, (set->count + 1) * sizeof *set->items);
	m = &set->items[set->count++];
	memset(m, 0, sizeof *m);
	m->name = xstrdup(name);
	m->raw = raw;
	m->raw_len = len;
	sha256_hex(raw, len, m->checksum);
	m->script = (const char *)raw;
	m->script_len = len;
	if (len >= 3 && raw[0] == 0xef && raw[1] == 0xbb && raw[2] == 0xbf) {
		m->script += 3; /* checksum keeps the BOM, the server never sees it */
		m->script_len -= 3;
	}
	m->own_transaction =
	    sql_needs_own_transaction(m->script, m->script_len, &m->own_txn_reason);
	return AZ_EXIT_OK;
}

/* migration_lock.toml: first line starting with "provider" must say postgresql. */
static int check_lockfile(const char *where, const unsigned char *data, size_t len, char **err)
{
	const char *p = (const char *)data, *end = p + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		if (n >= 8 && strncmp(p, "provider", 8) == 0) {
			char *line = xstrndup(p, n), *v = line + 8, *o = line;
			int rc = AZ_EXIT_OK;
			while (*v == ' ' || *v == '=' || *v == '\t')
				v++;
			for (char *q = v; *q; q++)
				if (*q != '"' && *q != '\r')
					*o++ = *q;
			*o = '\0';
			if (strcmp(line, "postgresql") != 0) {
				*err =
				    xasprintf("%s/migration_lock.toml: provider is '%s', expected "
				              "'postgresql' (Prisma P3019)",
				              where, line);
				rc = AZ_EXIT_USAGE;
			}
			free(line);
			return rc;
		}
		p = eol ? eol + 1 : end;
	}
	*err = xasprintf("%s/migration_lock.toml has no provider line (Prisma P3019)", where);
	return AZ_EXIT_USAGE;
}

static int finish(struct migset *set, char **err)
{
	if (set->count > 1) /* an empty set has no items array: qsort(NULL) is undefined */
		qsort(set->items, set->count, sizeof *set->items, cmp_migration);
	for (size_t i = 1; i < set->count; i++) {
		if (strcmp(set->items[i - 1].name, set->items[i].name) == 0) {
			*err = xasprintf("migration %s appears twice in %s", set->items[i].name,
			                 set->source);
			return AZ_EXIT_USAGE;
		}
	}
	return AZ_EXIT_OK;
}

int migset_load_dir(const char *dir, struct migset *set, char **err)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	int rc = AZ_EXIT_OK;

	set->source = xstrdup(dir);
	if (stat(dir, &st) != 0) {
		*err = xasprintf("migrations directory %s: %s", dir, strerror(errno));
		return AZ_EXIT_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		*err = xasprintf("migrations directory %s is not a directory", dir);
		return AZ_EXIT_USAGE;
	}
	d = opendir(dir);
	if (!d) {
		*err = xasprintf("migrations directory %s: %s", dir, strerror(errno));
		return AZ_EXIT_USAGE;
	}
	while (rc == AZ_EXIT_OK && (errno = 0, de = readdir(d)) != NULL) {
		char *path;
		if (str_eq(de->d_name, ".") || str_eq(de->d_name, ".."))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0) {
			*err = xasprintf("%s: %s", path, strerror(errno));
			rc = AZ_EXIT_USAGE;
		} else if (S_ISDIR(st.st_mode)) {
			char *file = xasprintf("%s/migration.sql", path);
			unsigned char *raw;
			size_t len;
			int e = read_file(file, AZ_FILE_MAX_MIGRATION, &raw, &len);
			if (e == ENOENT)
				*err = xasprintf(
				    "migration %s has no migration.sql (in %s; Prisma P3015)",
				    de->d_name, dir);
			else if (e)
				*err =
				    xasprintf("cannot read %s: %s%s", file, read_file_strerror(e),
				              e == EFBIG ? " (64 MiB per migration)" : "");
			if (e)
				rc = AZ_EXIT_USAGE;
			else
				rc = add_migration(set, de->d_name, raw, len, err);
			free(file);
		} else if (str_eq(de->d_name, "migration_lock.toml")) {
			unsigned char *raw;
			size_t len;
			int e = read_file(path, AZ_FILE_MAX_SECRET, &raw, &len);
			if (e) {
				*err =
				    xasprintf("cannot read %s: %s%s", path, read_file_strerror(e),
				              e == EFBIG ? " (64 KiB)" : "");
				rc = AZ_EXIT_USAGE;
			} else {
				rc = check_lockfile(dir, raw, len, err);
				free(raw);
			}
		}
		free(path);
	}
	if (rc == AZ_EXIT_OK && errno) {
		*err = xasprintf("reading %s: %s", dir, strerror(errno));
		rc = AZ_EXIT_USAGE;
	}
	closedir(d);
	return rc == AZ_EXIT_OK ? finish(set, err) : rc;
}

static int load_embedded(enum migration_set_kind kind, struct migset *set, char **err)
{
	const char *prefix = set_kind_name(kind);
	size_t plen = strlen(prefix);

	set->source = xasprintf("embedded:%s", prefix);
	for (size_t i = 0; i < az_embedded_count; i++) {
		const struct embedded_file *f = &az_embedded_files[i];
		const char *rest, *slash;
		if (strncmp(f->path, prefix, plen) != 0 || f->path[plen] != '/')
			continue;
		rest = f->path + plen + 1;
		slash = strchr(rest, '/');
		if (slash && str_eq(slash, "/migration.sql")) {
			char *name = xstrndup(rest, (size_t)(slash - rest));
			unsigned char *raw = xmalloc(f->len + 1);
			int rc;
			memcpy(raw, f->data, f->len);
			raw[f->len] = '\0';
			rc = add_migration(set, name, raw, f->len, err);
			free(name);
			if (rc)
				return rc;
		} else if (!slash && str_eq(rest, "migration_lock.toml")) {
			int rc = check_lockfile(set->source, f->data, f->len, err);
			if (rc)
				return rc;
		}
	}
	return finish(set, err);
}

int migset_load(const struct config *cfg, enum migration_set_kind kind, struct migset *set,
                char **err)
{
	int rc;

	memset(set, 0, sizeof *set);
	set->kind = kind;
	if (cfg->migrations_dir[kind])
		rc = migset_load_dir(cfg->migrations_dir[kind], set, err);
	else
		rc = load_embedded(kind, set, err);
	if (rc)
		migset_free(set); /* a refused set is never half-used */
	return rc;
}

void migset_free(struct migset *set)
{
	for (size_t i = 0; i < set->count; i++) {
		free(set->items[i].name);
		free(set->items[i].raw);
	}
	free(set->items);
	free(set->source);
	memset(set, 0, sizeof *set);
}

const struct migration *migset_find(const struct migset *set, const char *name)
{
	for (size_t i = 0; i < set->count; i++)
		if (strcmp(set->items[i].name, name) == 0)
			return &set->items[i];
	return NULL;
}
