/*
 * Unit tests for migset.h: Prisma's order (prisma_name_cmp and the sort of a
 * loaded set), checksums and how a ledger checksum is compared, migration
 * names, and loading a set from a directory (in a mkdtemp directory).
 * Calls: migset, util.
 */
#define _POSIX_C_SOURCE 200809L
#include "exitcodes.h"
#include "migset.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

/* a sorts strictly before b, and the comparison is antisymmetric */
static void before(const char *a, const char *b)
{
	char what[200];
	snprintf(what, sizeof what, "'%s' sorts before '%s'", a, b);
	CHECK_INT_AT(what, sign(prisma_name_cmp(a, b)), -1);
	CHECK_INT_AT(what, sign(prisma_name_cmp(b, a)), 1);
}

static void test_order(void)
{
	CHECK_INT(prisma_name_cmp("", ""), 0);
	CHECK_INT(prisma_name_cmp("20240101_init", "20240101_init"), 0);
	/* punctuation < digits < letters; '_' before '-' (ICU root collation) */
	before("a_b", "a-b");
	before("a-b", "a0");
	before("a9", "aa");
	before(" ", "_");
	before("a.b", "a0");
	/* letters ignore case first, then lowercase sorts first */
	before("abc", "ABD");
	before("abc", "Abc");
	before("aBc", "abD");
	/* a proper prefix sorts first */
	before("2024", "20240101");
	before("", "a");
	/* the migrations of a real project */
	before("20240101000000_init", "20240102000000_add_users");
	before("20240101000000_init", "20240101000000_init_2");
	before("20240101000000_a_b", "20240101000000_a-b");
}

static char *tmpdir;

static void write_file(const char *rel, const char *data, size_t len)
{
	char *path = xasprintf("%s/%s", tmpdir, rel);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
	free(path);
}

static void make_migration(const char *set, const char *name, const char *sql)
{
	char *dir = xasprintf("%s/%s/%s", tmpdir, set, name);
	char *rel = xasprintf("%s/%s/migration.sql", set, name);
	if (mkdir(dir, 0700) != 0) {
		perror(dir);
		exit(2);
	}
	write_file(rel, sql, strlen(sql));
	free(rel);
	free(dir);
}

static void make_set(const char *set)
{
	char *dir = xasprintf("%s/%s", tmpdir, set);
	if (mkdir(dir, 0700) != 0) {
		perror(dir);
		exit(2);
	}
	free(dir);
}

static int load(const char *set, struct migset *ms, char **err)
{
	char *dir = xasprintf("%s/%s", tmpdir, set);
	int rc;
	memset(ms, 0, sizeof *ms);
	*err = NULL;
	rc = migset_load_dir(dir, ms, err);
	free(dir);
	return rc;
}

static void test_load_sorted(void)
{
	static const char *const want[] = {"20240101_a", "20240101_A", "20240101_b",
	                                   "20240101-a", "202401010",  "20240102"};
	struct migset ms;
	char *err;

	make_set("order");
	/* created out of order: readdir gives them in any order */
	make_migration("order", "20240102", "SELECT 1;");
	make_migration("order", "20240101-a", "SELECT 1;");
	make_migration("order", "20240101_b", "SELECT 1;");
	make_migration("order", "202401010", "SELECT 1;");
	make_migration("order", "20240101_A", "SELECT 1;");
	make_migration("order", "20240101_a", "SELECT 1;");
	write_file("order/migration_lock.toml", "provider = \"postgresql\"\n", 24);
	CHECK_INT(load("order", &ms, &err), AZ_EXIT_OK);
	CHECK_STR(err, NULL);
	CHECK_INT(ms.count, sizeof want / sizeof *want);
	for (size_t i = 0; i < ms.count && i < sizeof want / sizeof *want; i++)
		CHECK_STR_AT("loaded set in Prisma's order", ms.items[i].name, want[i]);
	CHECK(migset_find(&ms, "20240101_b") == &ms.items[2]);
	CHECK(migset_find(&ms, "20240101_B") == NULL);
	migset_free(&ms);
	free(err);
}

static void test_load_contents(void)
{
	struct migset ms;
	char *err;
	const struct migration *m;

	make_set("contents");
	make_migration("contents", "1_bom",
	               "\xef\xbb\xbf"
	               "CREATE TABLE t (id int);");
	make_migration("contents", "2_concurrently", "CREATE INDEX CONCURRENTLY i ON t (id);");
	make_migration("contents", "3_empty", "");
	CHECK_INT(load("contents", &ms, &err), AZ_EXIT_OK);
	CHECK_INT(ms.count, 3);
	if (ms.count == 3) {
		m = &ms.items[0];
		CHECK_INT(m->raw_len, 27);
		CHECK_INT(m->script_len, 24); /* the server never sees the BOM */
		CHECK(strncmp(m->script, "CREATE TABLE", 12) == 0);
		CHECK(!m->own_transaction);
		{
			char hex[65];
			sha256_hex(m->raw, m->raw_len, hex); /* the checksum keeps the BOM */
			CHECK_STR(m->checksum, hex);
		}
		CHECK(ms.items[1].own_transaction);
		CHECK_STR(ms.items[1].own_txn_reason, "CONCURRENTLY");
		CHECK_INT(ms.items[2].raw_len, 0);
		/* sha256 of nothing */
		CHECK_STR(ms.items[2].checksum,
		          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	}
	migset_free(&ms);
	free(err);
}

static void test_load_refused(void)
{
	struct migset ms;
	char *err;

	make_set("nosql");
	{
		char *d = xasprintf("%s/nosql/20240101_x", tmpdir);
		CHECK_INT(mkdir(d, 0700), 0);
		free(d);
	}
	CHECK_INT(load("nosql", &ms, &err), AZ_EXIT_USAGE);
	CHECK_HAS(err, "P3015");
	migset_free(&ms);
	free(err);

	make_set("badutf8");
	make_migration("badutf8", "1", "SELECT '\xc3\x28';");
	CHECK_INT(load("badutf8", &ms, &err), AZ_EXIT_USAGE);
	CHECK_HAS(err, "not valid UTF-8");
	migset_free(&ms);
	free(err);

	make_set("provider");
	write_file("provider/migration_lock.toml", "provider = \"mysql\"\n", 19);
	CHECK_INT(load("provider", &ms, &err), AZ_EXIT_USAGE);
	CHECK_HAS(err, "P3019");
	migset_free(&ms);
	free(err);

	CHECK_INT(load("does-not-exist", &ms, &err), AZ_EXIT_USAGE);
	CHECK_HAS(err, "does-not-exist");
	migset_free(&ms);
	free(err);
}

/* Prisma's legacy checksum: each byte of the digest as {:x}, unpadded */
static void legacy_hex(const char *hex, char out[65])
{
	size_t o = 0;
	for (int i = 0; i < 32; i++) {
		unsigned int byte;
		sscanf(hex + 2 * i, "%2x", &byte);
		o += (size_t)snprintf(out + o, 65 - o, "%x", byte);
	}
}

static void test_checksums(void)
{
	char hex[65], crlf_hex[65], lf_hex[65], legacy[65];
	const char *lf = "CREATE TABLE t (id int);\nSELECT 1;\n";
	const char *crlf = "CREATE TABLE t (id int);\r\nSELECT 1;\r\n";
	struct migration m;

	sha256_hex("abc", 3, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	sha256_hex(lf, strlen(lf), lf_hex);
	sha256_hex(crlf, strlen(crlf), crlf_hex);
	memset(&m, 0, sizeof m);
	m.raw = (unsigned char *)lf;
	m.raw_len = strlen(lf);
	CHECK(migration_checksum_matches(&m, lf_hex));
	CHECK(migration_checksum_matches(&m, crlf_hex)); /* recorded from a CRLF checkout */
	CHECK(!migration_checksum_matches(&m, NULL));
	CHECK(!migration_checksum_matches(&m, ""));
	CHECK(!migration_checksum_matches(&m, hex));
	/* a legacy checksum is shorter than 64 when a digest byte is below 0x10 */
	{
		char sql[32], full[65];
		struct migration l;
		int i = 0;
		do {
			snprintf(sql, sizeof sql, "SELECT %d;\n", i);
			sha256_hex(sql, strlen(sql), full);
			legacy_hex(full, legacy);
		} while (strlen(legacy) == 64 && ++i < 1000);
		CHECK(strlen(legacy) < 64);
		memset(&l, 0, sizeof l);
		l.raw = (unsigned char *)sql;
		l.raw_len = strlen(sql);
		CHECK(migration_checksum_matches(&l, legacy));
		CHECK(migration_checksum_matches(&l, full));
		legacy[0] = legacy[0] == 'a' ? 'b' : 'a';
		CHECK(!migration_checksum_matches(&l, legacy));
	}
	{
		char upper[65];
		for (int i = 0; i < 65; i++)
			upper[i] = (char)(lf_hex[i] >= 'a' && lf_hex[i] <= 'f' ? lf_hex[i] - 32
			                                                       : lf_hex[i]);
		CHECK(!migration_checksum_matches(&m, upper)); /* Prisma writes lowercase */
	}

	m.raw = (unsigned char *)crlf;
	m.raw_len = strlen(crlf);
	CHECK(migration_checksum_matches(&m, crlf_hex));
	CHECK(migration_checksum_matches(&m, lf_hex)); /* recorded from an LF checkout */
	{
		char changed[65];
		memcpy(changed, lf_hex, 65);
		changed[10] = changed[10] == '0' ? '1' : '0';
		CHECK(!migration_checksum_matches(&m, changed));
	}
}

static void test_names(void)
{
	CHECK_STR(migration_name_problem("20240101000000_init"), NULL);
	CHECK_STR(migration_name_problem("a name with 'quotes' and spaces"), NULL);
	CHECK_STR(migration_name_problem(""), "empty name");
	CHECK(migration_name_problem("tab\there") != NULL);
	CHECK(migration_name_problem("caf\xc3\xa9") != NULL);
	CHECK(migration_name_problem("del\x7f") != NULL);
}

static void cleanup(void)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	free(cmd);
}

int main(void)
{
	char tmpl[] = "/tmp/auzdb-unit-migset.XXXXXX";

	tmpdir = mkdtemp(tmpl);
	if (!tmpdir) {
		perror("mkdtemp");
		return 2;
	}
	test_order();
	test_load_sorted();
	test_load_contents();
	test_load_refused();
	test_checksums();
	test_names();
	cleanup();
	return unit_done();
}
