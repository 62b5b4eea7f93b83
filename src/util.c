/* util.c - see util.h */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
	fprintf(stderr, "auzdb: out of memory (allocating %zu bytes)\n", n);
	exit(1);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	struct strbuf sb;

	sb_init(&sb);
	sb_vaddf(&sb, fmt, ap);
	return sb.buf;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void sb_init(struct strbuf *sb)
{
	sb->cap = 64;
	sb->len = 0;
	sb->buf = xmalloc(sb->cap);
	sb->buf[0] = '\0';
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->buf[0] = '\0';
}

static void sb_grow(struct strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;
	if (need < sb->len)
		oom(SIZE_MAX);
	if (need <= sb->cap)
		return;
	while (sb->cap < need)
		sb->cap = sb->cap > SIZE_MAX / 2 ? need : sb->cap * 2;
	sb->buf = xrealloc(sb->buf, sb->cap);
}

void sb_add(struct strbuf *sb, const void *data, size_t n)
{
	sb_grow(sb, n);
	memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void sb_adds(struct strbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void sb_addc(struct strbuf *sb, char c)
{
	sb_add(sb, &c, 1);
}

void sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= sb->cap - sb->len) {
		sb_grow(sb, (size_t)n);
		vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
	}
	sb->len += (size_t)n;
}

void sb_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(sb, fmt, ap);
	va_end(ap);
}

void sb_add_json(struct strbuf *sb, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': sb_adds(sb, "\\\""); break;
		case '\\': sb_adds(sb, "\\\\"); break;
		case '\n': sb_adds(sb, "\\n"); break;
		case '\r': sb_adds(sb, "\\r"); break;
		case '\t': sb_adds(sb, "\\t"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				sb_addf(sb, "\\u%04x", *p);
			else
				sb_addc(sb, (char)*p);
		}
	}
}

char *sb_detach(struct strbuf *sb)
{
	char *p = sb->buf;
	sb_init(sb);
	return p;
}

int read_file(const char *path, size_t max, unsigned char **out, size_t *len)
{
	struct strbuf sb;
	struct stat st;
	char chunk[65536];
	/* O_NONBLOCK: opening a FIFO for reading must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return errno;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return AZ_ENOTREG;
	}
	if ((uintmax_t)st.st_size > max) {
		close(fd);
		return EFBIG;
	}
	sb_init(&sb);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			close(fd);
			sb_free(&sb);
			return e;
		}
		if (n == 0)
			break;
		if ((size_t)n > max - sb.len) { /* grew while being read */
			close(fd);
			sb_free(&sb);
			return EFBIG;
		}
		sb_add(&sb, chunk, (size_t)n);
	}
	close(fd);
	*len = sb.len;
	*out = (unsigned char *)sb.buf;
	return 0;
}

const char *read_file_strerror(int e)
{
	if (e == AZ_ENOTREG)
		return "not a regular file (a FIFO, device, socket or directory)";
	if (e == EFBIG)
		return "larger than auzdb reads for it";
	return strerror(e);
}

/* write(2) until done; false with errno set (EIO for a write of nothing). */
static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* fsync; a file that cannot be synced (EINVAL: a pipe, a terminal, ...) counts as synced. */
static bool sync_fd(int fd)
{
	return fsync(fd) == 0 || errno == EINVAL;
}

/* fsyncs the directory holding path, so that a rename in it survives a crash. */
static bool sync_parent(const char *path, char **err)
{
	const char *slash = strrchr(path, '/');
	char *dir = !slash          ? xstrdup(".")
	            : slash == path ? xstrdup("/")
	                            : xstrndup(path, (size_t)(slash - path));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok = fd >= 0 && sync_fd(fd);

	if (!ok)
		*err = xasprintf("cannot fsync %s: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return ok;
}

bool atomic_open(struct atomic_file *af, const char *path, const char *tmp, mode_t mode, char **err)
{
	memset(af, 0, sizeof *af);
	af->tmp = tmp ? xstrdup(tmp) : xasprintf("%s.tmp.%ld", path, (long)getpid());
	af->fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (af->fd < 0) {
		*err = xasprintf("cannot create %s: %s", af->tmp, strerror(errno));
		free(af->tmp);
		af->tmp = NULL;
		return false;
	}
	af->path = xstrdup(path);
	return true;
}

bool atomic_close(struct atomic_file *af, char **err)
{
	int fd = af->fd;

	if (fd < 0)
		return true;
	af->fd = -1;
	if (fsync(fd) != 0) {
		*err = xasprintf("cannot fsync %s: %s", af->tmp, strerror(errno));
		close(fd);
		return false;
	}
	if (close(fd) != 0) {
		*err = xasprintf("cannot close %s: %s", af->tmp, strerror(errno));
		return false;
	}
	return true;
}

static void atomic_free(struct atomic_file *af)
{
	free(af->path);
	free(af->tmp);
	af->path = af->tmp = NULL;
}

bool atomic_commit(struct atomic_file *af, char **err)
{
	bool ok = atomic_close(af, err);

	if (ok && rename(af->tmp, af->path) != 0) {
		*err = xasprintf("cannot rename %s: %s", af->tmp, strerror(errno));
		ok = false;
	}
	if (!ok) {
		unlink(af->tmp);
	} else {
		af->renamed = true;
		ok = sync_parent(af->path, err);
	}
	atomic_free(af);
	return ok;
}

void atomic_abort(struct atomic_file *af)
{
	if (af->fd >= 0)
		close(af->fd);
	af->fd = -1;
	if (af->tmp)
		unlink(af->tmp);
	atomic_free(af);
}

bool write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, char **err)
{
	struct atomic_file af;

	if (!atomic_open(&af, path, NULL, mode, err))
		return false;
	if (!write_all(af.fd, data, len)) {
		*err = xasprintf("cannot write %s: %s", af.tmp, strerror(errno));
		atomic_abort(&af);
		return false;
	}
	return atomic_commit(&af, err);
}

bool write_file_in_place(const char *path, const void *data, size_t len, mode_t mode, char **err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	bool ok = fd >= 0 && write_all(fd, data, len) && sync_fd(fd);

	if (!ok)
		*err = xasprintf("cannot write %s: %s", path, strerror(errno));
	if (fd >= 0 && close(fd) != 0 && ok) {
		*err = xasprintf("cannot close %s: %s", path, strerror(errno));
		ok = false;
	}
	return ok;
}

long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void utc_timestamp(char *buf, size_t len, bool micro_sql)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (micro_sql) {
		strftime(base, sizeof base, "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(buf, len, "%s.%06ld+00", base, ts.tv_nsec / 1000);
	} else {
		strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(buf, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
	}
}

bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	/* digits with an optional '-': strtol alone would take blanks and a '+' */
	if (!s || !*s ||
	    !(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

bool str_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
