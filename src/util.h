/*
 * util.h - memory and string helpers shared by every module.
 *
 * Owns: the x*alloc family (they print one line and exit(1) on out of
 * memory, so callers never see NULL) and struct strbuf, a growable
 * NUL-terminated byte buffer.  Whoever initialises a strbuf frees it.
 * Also: writing a file whole or not at all (write_file_atomic and the
 * streaming atomic_open / atomic_commit / atomic_abort it is made of).
 */
#ifndef AUZDB_UTIL_H
#define AUZDB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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

/*
 * Reads a whole regular file of at most max bytes; returns 0 or an errno
 * value, AZ_ENOTREG for a FIFO, device, socket or directory (never opened
 * for a blocking read, never read) and EFBIG beyond max, also when it grows
 * while read.  *out is NUL-terminated.  read_file_strerror names the value.
 */
#define AZ_ENOTREG            (-1)
#define AZ_FILE_MAX_SECRET    ((size_t)64 * 1024) /* a *_FILE value */
#define AZ_FILE_MAX_MIGRATION ((size_t)64 << 20)  /* one migration.sql */
int read_file(const char *path, size_t max, unsigned char **out, size_t *len) AZ_MUSTCHECK;
const char *read_file_strerror(int e);

/*
 * A file that appears whole or not at all.  atomic_open creates the temp
 * file tmp (NULL: "<path>.tmp.<pid>"), which must be in path's directory,
 * with O_EXCL and mode (callers use 0600).  The caller writes to fd, then
 * atomic_commit fsyncs and closes the temp file, renames it to path and
 * fsyncs the directory; atomic_close does the first half alone, for a
 * caller that reads the bytes back before committing.  Every failure
 * gives a one-line *err naming the file; on any but the directory's fsync
 * the temp file is gone.  After atomic_open succeeds, exactly one of
 * atomic_commit and atomic_abort must follow: both free the names.
 */
struct atomic_file {
	int fd;       /* the temp file; -1 once closed */
	char *path;   /* the final name */
	char *tmp;    /* the temp file's name */
	bool renamed; /* set by atomic_commit once path is the new file */
};

bool atomic_open(struct atomic_file *af, const char *path, const char *tmp, mode_t mode,
                 char **err) AZ_MUSTCHECK;
bool atomic_close(struct atomic_file *af, char **err) AZ_MUSTCHECK;
bool atomic_commit(struct atomic_file *af, char **err) AZ_MUSTCHECK;
/* Closes and removes the temp file. */
void atomic_abort(struct atomic_file *af);
/* data as the whole new content of path, through the above. */
bool write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                       char **err) AZ_MUSTCHECK;
/*
 * The same written in place (O_TRUNC, write, fsync), for a file in a
 * directory auzdb may not be able to write, such as /dev/termination-log.
 * A file that cannot be fsynced (a pipe, a terminal) is not an error.
 */
bool write_file_in_place(const char *path, const void *data, size_t len, mode_t mode,
                         char **err) AZ_MUSTCHECK;

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
