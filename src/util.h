/*
 * util.h - memory and string helpers shared by every module.
 *
 * Owns: the x*alloc family (they print one line and exit(1) on out of
 * memory, so callers never see NULL) and struct strbuf, a growable
 * NUL-terminated byte buffer.  Whoever initialises a strbuf frees it.
 */
#ifndef AUZDB_UTIL_H
#define AUZDB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define AZ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define AZ_MUSTCHECK    __attribute__((warn_unused_result))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) AZ_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) AZ_PRINTF(1, 0);

struct strbuf {
	char *buf; /* always NUL-terminated once initialised */
	size_t len;
	size_t cap;
};

void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
void sb_add(struct strbuf *sb, const void *data, size_t n);
void sb_adds(struct strbuf *sb, const char *s);
void sb_addc(struct strbuf *sb, char c);
void sb_addf(struct strbuf *sb, const char *fmt, ...) AZ_PRINTF(2, 3);
void sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap) AZ_PRINTF(2, 0);
/* Appends s as the body of a JSON string (no surrounding quotes). */
void sb_add_json(struct strbuf *sb, const char *s);
/* Hands the buffer to the caller (who frees it) and re-initialises sb. */
char *sb_detach(struct strbuf *sb);

/* Reads a whole file; returns 0 or an errno value. *out is NUL-terminated. */
int read_file(const char *path, unsigned char **out, size_t *len) AZ_MUSTCHECK;

/* Monotonic milliseconds, and the wall clock as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
long long now_ms(void);
void utc_timestamp(char *buf, size_t len, bool micro_sql);

/* Strict decimal parse into [min,max]; false on any junk. */
bool parse_long(const char *s, long min, long max, long *out);

bool str_eq(const char *a, const char *b);
bool str_startswith(const char *s, const char *prefix);

/* Frees n strings and the array holding them. */
void strv_free(char **v, size_t n);

#endif
