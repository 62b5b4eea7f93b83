/* compress.c - see compress.h */
#define _POSIX_C_SOURCE 200809L
#include "compress.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define GZ_CHUNK (256 * 1024) /* one queued buffer */
#define GZ_NBUF  4            /* buffers in the ring: at most ~1 MiB in flight */
#define GZ_OUT   (64 * 1024)

/*
 * The producer fills ring slot `fill`; a full slot joins the queue
 * (count++) and the producer moves to the next slot once one is free
 * (count < GZ_NBUF).  The consumer deflates slot head while it is still
 * counted, then frees it (head++, count--), so the producer never writes
 * into a buffer that is being compressed.  Slots join and leave in ring
 * order, so the queue is always head .. fill - 1.
 */
struct gz_writer {
	int fd;
	char *name;
	z_stream zs;
	bool zs_ready;
	EVP_MD_CTX *md;
	uint64_t out_bytes;
	unsigned char *out;

	pthread_t th;
	bool threaded;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* any change of count, failed or finishing */
	unsigned char *buf[GZ_NBUF];
	size_t len[GZ_NBUF];
	size_t head, count; /* the queue, under mu */
	size_t fill;        /* slot the producer fills; the producer's alone */
	bool finishing, failed;
	char *err; /* first error, set once under mu */
};

static void set_error(struct gz_writer *w, const char *fmt, ...) AZ_PRINTF(2, 3);
static void set_error(struct gz_writer *w, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (w->threaded)
		pthread_mutex_lock(&w->mu);
	if (!w->failed) {
		w->failed = true;
		w->err = sb_detach(&sb);
	}
	if (w->threaded) {
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	sb_free(&sb);
}

static bool write_out(struct gz_writer *w, const unsigned char *p, size_t n)
{
	if (!EVP_DigestUpdate(w->md, p, n)) {
		set_error(w, "sha256 of %s failed", w->name);
		return false;
	}
	while (n) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			set_error(w, "cannot write %s: %s", w->name,
			          k < 0 ? strerror(errno) : "short write");
			return false;
		}
		p += k;
		n -= (size_t)k;
		w->out_bytes += (uint64_t)k;
	}
	return true;
}

/* Deflates n bytes (flush: Z_NO_FLUSH or Z_FINISH) and writes the output. */
static bool deflate_some(struct gz_writer *w, const unsigned char *p, size_t n, int flush)
{
	int r;

	w->zs.next_in = (Bytef *)(uintptr_t)p;
	w->zs.avail_in = (uInt)n;
	do {
		w->zs.next_out = w->out;
		w->zs.avail_out = GZ_OUT;
		r = deflate(&w->zs, flush);
		if (r == Z_STREAM_ERROR) {
			set_error(w, "compressing %s failed: %s", w->name,
			          w->zs.msg ? w->zs.msg : "stream error");
			return false;
		}
		if (!write_out(w, w->out, GZ_OUT - w->zs.avail_out))
			return false;
	} while (w->zs.avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
	return true;
}

static bool is_failed(struct gz_writer *w)
{
	bool f;
	if (!w->threaded)
		return w->failed;
	pthread_mutex_lock(&w->mu);
	f = w->failed;
	pthread_mutex_unlock(&w->mu);
	return f;
}

static void *consumer(void *arg)
{
	struct gz_writer *w = arg;

	for (;;) {
		size_t slot, n;
		pthread_mutex_lock(&w->mu);
		while (w->count == 0 && !w->finishing && !w->failed)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->failed || w->count == 0) {
			pthread_mutex_unlock(&w->mu);
			return NULL; /* failed, or finishing with nothing left */
		}
		slot = w->head;
		n = w->len[slot];
		pthread_mutex_unlock(&w->mu);

		if (!deflate_some(w, w->buf[slot], n, Z_NO_FLUSH))
			return NULL;

		pthread_mutex_lock(&w->mu);
		w->head = (w->head + 1) % GZ_NBUF;
		w->count--;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
}

struct gz_writer *gzw_open(int fd, int level, const char *name)
{
	struct gz_writer *w = xcalloc(1, sizeof *w);

	w->fd = fd;
	w->name = xstrdup(name);
	w->out = xmalloc(GZ_OUT);
	for (int i = 0; i < GZ_NBUF; i++)
		w->buf[i] = xmalloc(GZ_CHUNK);
	w->md = EVP_MD_CTX_new();
	if (!w->md || !EVP_DigestInit_ex(w->md, EVP_sha256(), NULL)) {
		set_error(w, "cannot start sha256 for %s", name);
		return w;
	}
	/* 15 + 16: a gzip header and trailer rather than a zlib one */
	if (deflateInit2(&w->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		set_error(w, "cannot start compressing %s (level %d)", name, level);
		return w;
	}
	w->zs_ready = true;
	if (pthread_mutex_init(&w->mu, NULL) == 0) {
		if (pthread_cond_init(&w->cv, NULL) == 0) {
			w->threaded = true;
			if (pthread_create(&w->th, NULL, consumer, w) != 0) {
				/* no second thread: compress inline, still correct */
				w->threaded = false;
				pthread_cond_destroy(&w->cv);
				pthread_mutex_destroy(&w->mu);
			}
		} else {
			pthread_mutex_destroy(&w->mu);
		}
	}
	return w;
}

bool gzw_failed(struct gz_writer *w)
{
	return is_failed(w);
}

/* Hands the slot being filled to the consumer; false when the stream failed. */
static bool push_slot(struct gz_writer *w)
{
	size_t slot;

	if (!w->threaded) {
		slot = w->fill;
		if (!w->failed && !deflate_some(w, w->buf[slot], w->len[slot], Z_NO_FLUSH))
			return false;
		w->len[slot] = 0;
		return !w->failed;
	}
	pthread_mutex_lock(&w->mu);
	w->count++;
	pthread_cond_broadcast(&w->cv);
	while (w->count == GZ_NBUF && !w->failed)
		pthread_cond_wait(&w->cv, &w->mu);
	w->fill = (w->fill + 1) % GZ_NBUF;
	w->len[w->fill] = 0;
	pthread_mutex_unlock(&w->mu);
	return !is_failed(w);
}

bool gzw_write(struct gz_writer *w, const void *p, size_t n)
{
	const unsigned char *s = p;

	if (is_failed(w))
		return false;
	while (n) {
		size_t slot = w->fill;
		size_t room, k;

		room = GZ_CHUNK - w->len[slot];
		k = n < room ? n : room;
		memcpy(w->buf[slot] + w->len[slot], s, k);
		w->len[slot] += k;
		s += k;
		n -= k;
		if (w->len[slot] == GZ_CHUNK && !push_slot(w))
			return false;
	}
	return true;
}

bool gzw_finish(struct gz_writer *w, bool abandon, uint64_t *bytes, char sha[65], char **err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	bool ok;

	if (w->threaded) {
		pthread_mutex_lock(&w->mu);
		w->finishing = true;
		if (abandon && !w->failed) {
			w->failed = true; /* the consumer stops at its next look */
			w->err = xasprintf("%s abandoned", w->name);
		}
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
		w->threaded = false; /* from here on, this thread only */
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
	} else if (abandon && !w->failed) {
		w->failed = true;
		w->err = xasprintf("%s abandoned", w->name);
	}
	if (!w->failed && w->zs_ready) {
		/* whatever sits in the slot being filled, then the trailer */
		size_t slot = w->fill;
		if (deflate_some(w, w->buf[slot], w->len[slot], Z_FINISH) &&
		    !EVP_DigestFinal_ex(w->md, md, &mdlen))
			set_error(w, "sha256 of %s failed", w->name);
	}
	if (w->zs_ready && deflateEnd(&w->zs) != Z_OK && !w->failed && !abandon)
		set_error(w, "compressing %s did not end cleanly", w->name);
	ok = !w->failed && mdlen == 32;
	if (ok) {
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(sha + 2 * i, 3, "%02x", md[i]);
		*bytes = w->out_bytes;
	} else {
		*err = w->err ? w->err : xasprintf("compressing %s failed", w->name);
		w->err = NULL;
	}
	free(w->err);
	EVP_MD_CTX_free(w->md);
	for (int i = 0; i < GZ_NBUF; i++)
		free(w->buf[i]);
	free(w->out);
	free(w->name);
	free(w);
	return ok;
}

/* ---- reading --------------------------------------------------------- */

struct gz_reader {
	gzFile f;
	char *name;
};

struct gz_reader *gzr_open(const char *path, char **err)
{
	struct gz_reader *r;
	int fd = str_eq(path, "-") ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	gzFile f;

	if (fd < 0) {
		*err = xasprintf("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	f = gzdopen(fd, "rb");
	if (!f) {
		close(fd);
		*err = xasprintf("cannot read %s: out of memory", path);
		return NULL;
	}
	gzbuffer(f, 128 * 1024);
	r = xcalloc(1, sizeof *r);
	r->f = f;
	r->name = xstrdup(str_eq(path, "-") ? "standard input" : path);
	return r;
}

ssize_t gzr_read(struct gz_reader *r, void *buf, size_t n, char **err)
{
	int k, zerr;
	const char *msg;

	if (n > 1u << 30)
		n = 1u << 30;
	k = gzread(r->f, buf, (unsigned)n);
	msg = gzerror(r->f, &zerr);
	if (k < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR) || (k == 0 && zerr == Z_BUF_ERROR)) {
		if (zerr == Z_ERRNO)
			*err = xasprintf("cannot read %s: %s", r->name, strerror(errno));
		else
			*err =
			    xasprintf("cannot read %s: %s%s", r->name, msg ? msg : "corrupt data",
			              zerr == Z_BUF_ERROR ? " (truncated file?)" : "");
		return -1;
	}
	return k;
}

bool gzr_compressed(struct gz_reader *r)
{
	return gzdirect(r->f) == 0;
}

void gzr_close(struct gz_reader *r)
{
	if (!r)
		return;
	gzclose_r(r->f);
	free(r->name);
	free(r);
}

bool file_sha256(const char *path, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE], *buf;
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	bool ok;

	if (fd < 0)
		return false;
	ctx = EVP_MD_CTX_new();
	buf = xmalloc(128 * 1024);
	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (ok && (n = read(fd, buf, 128 * 1024)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ok = false;
			break;
		}
		ok = EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;
	if (ok)
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
	else if (!errno)
		errno = EIO;
	free(buf);
	EVP_MD_CTX_free(ctx);
	close(fd);
	return ok;
}
