/*
 * Unit tests for tenants.h without a server: the safe-slug rule, merging
 * duplicates (tenants_discover from --tenant / AUZDB_TENANTS needs no
 * master connection), the shard hash and split, and URL template expansion
 * with percent-encoding.  Calls: tenants, config (struct only), util.
 */
#include "tenants.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static void test_slugs(void)
{
	const char *prefix = "auzguard_tenant_";
	char long_slug[64];

	CHECK_STR(tenant_slug_problem("acme", prefix), NULL);
	CHECK_STR(tenant_slug_problem("Acme_2-eu", prefix), NULL);
	CHECK_STR(tenant_slug_problem("", prefix), "empty slug");
	CHECK_STR(tenant_slug_problem("a'b", prefix), "contains a quote");
	CHECK_STR(tenant_slug_problem("a\"b", prefix), "contains a quote");
	CHECK_STR(tenant_slug_problem("a b", prefix), "contains whitespace");
	CHECK_STR(tenant_slug_problem("a\nb", prefix), "contains whitespace");
	CHECK_STR(tenant_slug_problem("caf\xc3\xa9", prefix), "non-ASCII character");
	CHECK_STR(tenant_slug_problem("a;b", prefix),
	          "only letters, digits, '_' and '-' are allowed");
	CHECK_STR(tenant_slug_problem("a.b", prefix),
	          "only letters, digits, '_' and '-' are allowed");
	CHECK_STR(tenant_slug_problem("a%b", prefix),
	          "only letters, digits, '_' and '-' are allowed");
	/* prefix + slug must fit PostgreSQL's 63 bytes */
	memset(long_slug, 'x', 63 - strlen(prefix));
	long_slug[63 - strlen(prefix)] = '\0';
	CHECK_STR(tenant_slug_problem(long_slug, prefix), NULL);
	long_slug[63 - strlen(prefix)] = 'x';
	long_slug[64 - strlen(prefix)] = '\0';
	CHECK_HAS(tenant_slug_problem(long_slug, prefix), "too long");
	CHECK_STR(tenant_slug_problem("x", ""), NULL);
}

/* tenants_discover on a list as config_parse leaves it */
static void discover(char **slugs, size_t n, bool from_env, struct tenant_list *out)
{
	struct config cfg;
	char *err = NULL;

	memset(&cfg, 0, sizeof cfg);
	cfg.tenants = slugs;
	cfg.ntenants = n;
	cfg.tenants_from_env = from_env;
	cfg.tenant_prefix = "p_";
	CHECK_INT(tenants_discover(&cfg, NULL, out, &err), 0);
	CHECK_STR(err, NULL);
	free(err);
}

static void test_merge(void)
{
	char *flags[] = {"acme", " acme ", "beta", "acme", "", "bad slug"};
	char *env[] = {"one", " ", "two ", "one"};
	struct tenant_list l;

	discover(flags, 6, false, &l);
	CHECK_STR(l.source, "--tenant");
	CHECK_INT(l.count, 4); /* acme (trimmed and merged), beta, "", "bad slug" */
	if (l.count == 4) {
		CHECK_STR(l.items[0].slug, "acme");
		CHECK_STR(l.items[0].database, "p_acme");
		CHECK_STR(l.items[0].invalid, NULL);
		CHECK_STR(l.items[1].slug, "beta");
		CHECK_STR(l.items[2].slug, ""); /* an empty --tenant is kept, and invalid */
		CHECK_STR(l.items[2].invalid, "empty slug");
		CHECK_STR(l.items[3].slug, "bad slug");
		CHECK_STR(l.items[3].invalid, "contains whitespace");
	}
	tenants_free(&l);
	CHECK_INT(l.count, 0);

	discover(env, 4, true, &l);
	CHECK_STR(l.source, "AUZDB_TENANTS");
	CHECK_INT(l.count, 2); /* empty entries of a comma list are dropped */
	if (l.count == 2) {
		CHECK_STR(l.items[0].slug, "one");
		CHECK_STR(l.items[1].slug, "two");
	}
	tenants_free(&l);
}

static void test_shards(void)
{
	/*
	 * The shard of a tenant must not move between releases: today's values,
	 * pinned.  The offset basis in tenants.c is 1469598103934665603, FNV's
	 * 14695981039346656037 without its last digit, so these are not the
	 * published FNV-1a vectors (the prime and the xor-then-multiply are).
	 */
	CHECK(tenant_hash("") == 1469598103934665603ULL);
	CHECK(tenant_hash("a") == 0x44bd8ad473cd9906ULL);
	CHECK(tenant_hash("foobar") == 0x88fad7c0a8ff07f2ULL);
	CHECK(tenant_hash("a") == ((1469598103934665603ULL ^ 'a') * 1099511628211ULL));
	/* not the standard FNV-1a basis (0xaf63dc4c8601ec8c for "a"): pinned, see tenants.h */
	CHECK(tenant_hash("a") != 0xaf63dc4c8601ec8cULL);

	/* every tenant lands in exactly one of N shards, the one its hash says */
	for (long n = 1; n <= 5; n++) {
		char *names[40];
		size_t seen[40] = {0};
		for (size_t i = 0; i < 40; i++)
			names[i] = xasprintf("tenant%zu", i);
		for (long k = 0; k < n; k++) {
			struct tenant_list l;
			discover(names, 40, false, &l);
			tenants_shard(&l, k, n);
			for (size_t j = 0; j < l.count; j++) {
				size_t idx = (size_t)atoi(l.items[j].slug + 6);
				if (idx < 40)
					seen[idx]++;
				CHECK_INT_AT("the shard of a tenant is hash % count",
				             (long)(tenant_hash(l.items[j].slug) % (uint64_t)n), k);
			}
			tenants_free(&l);
		}
		for (size_t i = 0; i < 40; i++) {
			CHECK_INT_AT("shards a tenant is in", seen[i], 1);
			free(names[i]);
		}
	}
}

static void test_url(void)
{
	struct tenant t = {"acme_2", "p_a b'c/d%e", NULL};
	struct tenant plain = {"acme-1_x", "auzguard_tenant_acme", NULL};
	char *err = NULL, *u;

	/* {database} is percent-encoded, whatever the name holds */
	u = tenant_url("postgresql://u:p@h:5432/{database}?application_name={slug}", &t, &err);
	CHECK_STR(u, "postgresql://u:p@h:5432/p_a%20b%27c%2Fd%25e?application_name=acme_2");
	CHECK_STR(err, NULL);
	free(u);
	u = tenant_url("postgres://h/{database}#{slug}{slug}", &plain, &err);
	CHECK_STR(u, "postgres://h/auzguard_tenant_acme#acme-1_xacme-1_x");
	free(u);
	u = tenant_url("no placeholders", &plain, &err);
	CHECK_STR(u, "no placeholders");
	free(u);
	/* a slug that is not safe is never put into a template (it could pick the host) */
	{
		static const char *const unsafe[] = {"a b'c/d%e", "/some/dir", "h1,h2",
		                                     "caf\xc3\xa9", "x.y~z"};
		for (size_t i = 0; i < sizeof unsafe / sizeof *unsafe; i++) {
			struct tenant bad = {(char *)unsafe[i], (char *)unsafe[i], NULL};
			u = tenant_url("postgresql://u:PW@{slug}-db:5432/{database}", &bad, &err);
			CHECK_STR(u, NULL);
			CHECK_HAS(err, "is not put into AUZDB_TENANT_URL_TEMPLATE");
			free(err);
			err = NULL;
		}
	}
	u = tenant_url("postgres://h/{tenant}", &plain, &err);
	CHECK_STR(u, NULL);
	CHECK_HAS(err, "unknown placeholder at '{tenant}'");
	free(err);
	err = NULL;
	u = tenant_url("postgres://h/{slug", &plain, &err);
	CHECK_STR(u, NULL);
	CHECK_HAS(err, "unknown placeholder");
	free(err);
	err = NULL;
	u = tenant_url("{SLUG}", &plain, &err);
	CHECK_STR(u, NULL);
	free(err);
}

int main(void)
{
	test_slugs();
	test_merge();
	test_shards();
	test_url();
	return unit_done();
}
