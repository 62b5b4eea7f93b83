/*
 * libFuzzer target: tenant slugs and URL template expansion.  The input is
 * "template\0slug".  Properties: a slug accepted by tenant_slug_problem is
 * only [A-Za-z0-9_-] and fits 63 bytes with the prefix; in an expanded URL
 * every byte that came from the slug is unreserved or percent-encoded, so a
 * slug can never add a parameter, host or credential; and a slug that is not
 * safe (tenant_slug_problem with no prefix) is never expanded at all.
 */
#include "tenants.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 2), *tmpl, *slug, *url, *err = NULL;
	struct tenant t;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	tmpl = buf;
	slug = buf + strlen(buf) + 1;
	if (slug > buf + size)
		slug = buf + size;
	if (!tenant_slug_problem(slug, "auzguard_tenant_")) {
		if (strlen(slug) + strlen("auzguard_tenant_") > 63)
			abort();
		for (const char *p = slug; *p; p++)
			if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
				abort();
	}
	t.slug = slug;
	t.database = slug;
	t.invalid = NULL;
	/* with a template of exactly "{slug}", the output is the encoded slug */
	url = tenant_url("{slug}", &t, &err);
	if (!url != !!tenant_slug_problem(slug, ""))
		abort(); /* refused exactly when the slug is unsafe */
	for (const char *p = url; p && *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr("-_.~%", *p)))
			abort();
	free(url);
	free(err);
	err = NULL;
	url = tenant_url(tmpl, &t, &err);
	free(url);
	free(err);
	free(buf);
	return 0;
}
