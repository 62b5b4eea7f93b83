/* json.c - see json.h */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>

void json_init(struct json *j)
{
	sb_init(&j->sb);
	j->depth = 0;
	j->first[0] = true;
}

/* The comma and the key before a value at the current level. */
static void member(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		sb_addc(&j->sb, ',');
	j->first[j->depth] = false;
	if (key) {
		sb_addc(&j->sb, '"');
		sb_add_json(&j->sb, key);
		sb_adds(&j->sb, "\":");
	}
}

static void open_level(struct json *j, const char *key, char open, char close)
{
	if (j->depth + 1 >= JSON_MAX_DEPTH) { /* a bug in the caller, not bad input */
		fputs("auzdb: internal error: JSON nested too deeply\n", stderr);
		abort();
	}
	member(j, key);
	sb_addc(&j->sb, open);
	j->first[++j->depth] = true;
	j->closer[j->depth] = close;
}

void json_object(struct json *j, const char *key)
{
	open_level(j, key, '{', '}');
}

void json_array(struct json *j, const char *key)
{
	open_level(j, key, '[', ']');
}

void json_end(struct json *j)
{
	if (j->depth == 0)
		return;
	sb_addc(&j->sb, j->closer[j->depth--]);
}

void json_sb_string(struct strbuf *sb, const char *key, const char *v)
{
	if (key) {
		sb_addc(sb, '"');
		sb_add_json(sb, key);
		sb_adds(sb, "\":");
	}
	if (!v) {
		sb_adds(sb, "null");
		return;
	}
	sb_addc(sb, '"');
	sb_add_json(sb, v);
	sb_addc(sb, '"');
}

void json_string(struct json *j, const char *key, const char *v)
{
	member(j, NULL);
	json_sb_string(&j->sb, key, v);
}

void json_int(struct json *j, const char *key, long long v)
{
	member(j, key);
	sb_addf(&j->sb, "%lld", v);
}

void json_uint(struct json *j, const char *key, size_t v)
{
	member(j, key);
	sb_addf(&j->sb, "%zu", v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	member(j, key);
	sb_adds(&j->sb, v ? "true" : "false");
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	sb_adds(&j->sb, "null");
}

void json_strings(struct json *j, const char *key, char *const *v, size_t n)
{
	json_array(j, key);
	for (size_t i = 0; i < n; i++)
		json_string(j, NULL, v[i]);
	json_end(j);
}

char *json_finish(struct json *j)
{
	char *doc = sb_detach(&j->sb);
	sb_free(&j->sb); /* sb_detach leaves a fresh empty buffer behind */
	return doc;
}
