/*
 * json.h - the one JSON writer for reports and machine-readable output.
 *
 * Owns: building a JSON document into a strbuf with commas and nesting kept
 * right, and the one rule for a missing string: a NULL value is written as
 * `null` (never as ""). Strings are escaped by sb_add_json (util).
 * Calls: util.
 */
#ifndef AUZDB_JSON_H
#define AUZDB_JSON_H

#include "util.h"

#define JSON_MAX_DEPTH 16

struct json {
	struct strbuf sb;
	int depth;
	bool first[JSON_MAX_DEPTH];  /* nothing written yet at this level */
	char closer[JSON_MAX_DEPTH]; /* what ends each open level */
};

void json_init(struct json *j);
/*
 * Every call takes the member's key inside an object, and NULL for an
 * element of an array or the top-level value.
 */
void json_object(struct json *j, const char *key);
void json_array(struct json *j, const char *key);
void json_end(struct json *j); /* closes the innermost object or array */
void json_string(struct json *j, const char *key, const char *v); /* NULL: null */
void json_int(struct json *j, const char *key, long long v);
void json_uint(struct json *j, const char *key, size_t v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
/*
 * `"key":"v"` (or `"key":null`) appended to sb, no comma: for the documents
 * reset and resync assemble from pieces.  The same escaping and NULL rule.
 */
void json_sb_string(struct strbuf *sb, const char *key, const char *v);
/* An array of strings. */
void json_strings(struct json *j, const char *key, char *const *v, size_t n);
/* The document (caller frees); j is empty afterwards. */
char *json_finish(struct json *j);

#endif
