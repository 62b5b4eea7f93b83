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

#define GZ_BLOCK  (256 * 1024) /* input per independently compressed block */
#define GZ_DICT   32768        /* deflate's window: the dictionary each block starts with */
#define GZ_MAXTHR 4

/*
 * pigz's scheme: the stream is cut into blocks that worker threads deflate
 * at the same time, each primed with the previous block's last 32 KiB as
 * its dictionary and ended with a sync flush, so their raw deflate outputs
 * concatenate into one valid deflate stream, as small as one thread's.
 * The writer adds the gzip header, and the trailer from the combined
 * crc32s.  Block s lives in ring slot s % njobs.  The producer fills a
 * FREE slot and hands it over (nready++); workers take blocks in order
 * (next_take), deflate them and mark them DONE; whichever worker finds the
 * oldest unwritten block DONE writes it and every DONE block after it, in
 * order, then frees their slots.  All under mu, except the deflating and
 * the writing themselves.
 */
enum job_state { J_FREE, J_READY, J_DONE };

struct job {
	unsigned char *in, *out;
	size_t inlen, outlen, outcap, dictlen;
	uLong crc;
	bool last;
	enum job_state state;
};

struct gz_writer {
	int fd, level;
	char *name;
	EVP_MD_CTX *md;
	uint64_t out_bytes, in_bytes;
	uLong crc;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th[GZ_MAXTHR];
	int nthreads; /* 0: deflate inline on the caller's thread */
	struct coder *inline_coder;
	struct job *jobs;
	size_t njobs;
	uint64_t fill;       /* block the producer fills (its slot is FREE or being filled) */
	uint64_t nready;     /* blocks handed to the workers */
	uint64_t next_take;  /* next block a worker takes */
	uint64_t next_write; /* oldest block not yet written */
	bool writing, finishing, failed;
	char *err;         /* first error, set once under mu */
	uint64_t verified; /* input bytes whose compressed block inflated back to them */
};

/*
 * One thread's deflate stream, and the inflate stream that checks each block
 * it makes: the block, inflated with the same dictionary, must give back its
 * input byte for byte.  Blocks end byte-aligned (sync flush) and a decoder of
 * the whole stream has exactly that dictionary (the previous 32 KiB of
 * output) at each block's start, so checked blocks make a checked stream.
 */
struct coder {
	z_stream dz, iz;
	bool dready, iready;
	unsigned char *check; /* GZ_BLOCK + 1: room to notice one byte too many */
};

static void set_error(struct gz_writer *w, const char *fmt, ...) AZ_PRINTF(2, 3);
static void set_error(struct gz_writer *w, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&w->mu);
	if (!w->failed) {
		w->failed = true;
		w->err = msg;
		msg = NULL;
	}
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	free(msg);
}

static bool is_failed(struct gz_writer *w)
{
	bool f;
	pthread_mutex_lock(&w->mu);
	f = w->failed;
	pthread_mutex_unlock(&w->mu);
	return f;
}

/* Writes n bytes to the file and the sha256; only one thread at a time. */
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

static void coder_free(struct coder *c)
{
	if (!c)
		return;
	if (c->dready)
		deflateEnd(&c->dz);
	if (c->iready)
		inflateEnd(&c->iz);
	free(c->check);
	free(c);
}

/* -15: raw deflate both ways; the gzip header and trailer are the writer's */
static struct coder *coder_new(int level)
{
	struct coder *c = xcalloc(1, sizeof *c);

	c->dready = deflateInit2(&c->dz, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
	c->iready = inflateInit2(&c->iz, -15) == Z_OK;
	c->check = xmalloc(GZ_BLOCK + 1);
	if (!c->dready || !c->iready) {
		coder_free(c);
		return NULL;
	}
	return c;
}

/*
 * memcmp, a word at a time: musl's memcmp goes byte by byte, and this runs
 * over every byte of every backup.
 */
static bool same_bytes(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return false;
	}
	for (; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Inflates block j's output with its dictionary: true when it gives back j's input. */
static bool verify_job(struct gz_writer *w, struct coder *c, const struct job *j)
{
	z_stream *iz = &c->iz;
	int r;

	if (inflateReset(iz) != Z_OK ||
	    (j->dictlen &&
	     inflateSetDictionary(iz, j->in - j->dictlen, (uInt)j->dictlen) != Z_OK)) {
		set_error(w, "verifying %s failed: cannot reset the check stream", w->name);
		return false;
	}
	iz->next_in = j->out;
	iz->avail_in = (uInt)j->outlen;
	iz->next_out = c->check;
	iz->avail_out = GZ_BLOCK + 1;
	r = inflate(iz, Z_SYNC_FLUSH);
	if ((j->last ? r != Z_STREAM_END : r != Z_OK && r != Z_BUF_ERROR) || iz->avail_in != 0 ||
	    GZ_BLOCK + 1 - iz->avail_out != j->inlen || !same_bytes(c->check, j->in, j->inlen)) {
		set_error(w,
		          "verifying %s failed: a compressed block does not inflate back to its "
		          "data (%s)",
		          w->name, iz->msg ? iz->msg : "different bytes");
		return false;
	}
	return true;
}

/* Deflates one block with c (a raw deflate stream of w's level), then checks it. */
static bool deflate_job(struct gz_writer *w, struct coder *c, struct job *j)
{
	z_stream *zs = &c->dz;
	int r;

	if (deflateReset(zs) != Z_OK ||
	    (j->dictlen &&
	     deflateSetDictionary(zs, j->in - j->dictlen, (uInt)j->dictlen) != Z_OK)) {
		set_error(w, "compressing %s failed: cannot reset the stream", w->name);
		return false;
	}
	j->crc = crc32(crc32(0L, Z_NULL, 0), j->in, (uInt)j->inlen);
	zs->next_in = j->in;
	zs->avail_in = (uInt)j->inlen;
	j->outlen = 0;
	do {
		if (j->outlen == j->outcap) {
			j->outcap *= 2;
			j->out = xrealloc(j->out, j->outcap);
		}
		zs->next_out = j->out + j->outlen;
		zs->avail_out = (uInt)(j->outcap - j->outlen);
		r = deflate(zs, j->last ? Z_FINISH : Z_SYNC_FLUSH);
		if (r == Z_STREAM_ERROR) {
			set_error(w, "compressing %s failed: %s", w->name,
			          zs->msg ? zs->msg : "stream error");
			return false;
		}
		j->outlen = j->outcap - zs->avail_out;
	} while (zs->avail_out == 0 || (j->last && r != Z_STREAM_END));
	return verify_job(w, c, j);
}

/*
 * Called under mu after a block became DONE: unless another thread is
 * writing, writes the DONE blocks at next_write in order and frees them.
 */
static void write_done(struct gz_writer *w)
{
	if (w->writing)
		return;
	w->writing = true;
	while (!w->failed) {
		struct job *j = &w->jobs[w->next_write % w->njobs];
		bool ok;
		if (w->next_write >= w->nready || j->state != J_DONE)
			break;
		pthread_mutex_unlock(&w->mu);
		ok = write_out(w, j->out, j->outlen);
		if (ok) {
			w->crc = crc32_combine(w->crc, j->crc, (z_off_t)j->inlen);
			w->in_bytes += j->inlen;
			w->verified += j->inlen; /* deflate_job checked it */
		}
		pthread_mutex_lock(&w->mu);
		if (!ok)
			break;
		j->state = J_FREE;
		w->next_write++;
		pthread_cond_broadcast(&w->cv);
	}
	w->writing = false;
}

static void *worker(void *arg)
{
	struct gz_writer *w = arg;
	struct coder *c = coder_new(w->level);
	bool ready = c != NULL;

	if (!ready)
		set_error(w, "cannot start compressing %s (level %d)", w->name, w->level);
	pthread_mutex_lock(&w->mu);
	while (ready && !w->failed) {
		struct job *j;
		if (w->next_take == w->nready) {
			if (w->finishing)
				break;
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		j = &w->jobs[w->next_take++ % w->njobs];
		pthread_mutex_unlock(&w->mu);
		ready = deflate_job(w, c, j);
		pthread_mutex_lock(&w->mu);
		if (!ready)
			break;
		j->state = J_DONE;
		write_done(w);
	}
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	coder_free(c);
	return NULL;
}

static int compress_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > GZ_MAXTHR ? GZ_MAXTHR : (int)n;
}

struct gz_writer *gzw_open(int fd, int level, const char *name)
{
	static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
	struct gz_writer *w = xcalloc(1, sizeof *w);
	int want = compress_threads();

	w->fd = fd;
	w->level = level;
	w->name = xstrdup(name);
	w->crc = crc32(0L, Z_NULL, 0);
	/* with default attributes neither fails on glibc or musl */
	(void)pthread_mutex_init(&w->mu, NULL);
	(void)pthread_cond_init(&w->cv, NULL);
	w->njobs = (size_t)(2 * want + 2);
	w->jobs = xcalloc(w->njobs, sizeof *w->jobs);
	for (size_t i = 0; i < w->njobs; i++) {
		/* the block is preceded by room for its dictionary */
		w->jobs[i].in = (unsigned char *)xmalloc(GZ_DICT + GZ_BLOCK) + GZ_DICT;
		w->jobs[i].outcap = GZ_BLOCK + GZ_BLOCK / 8 + 64;
		w->jobs[i].out = xmalloc(w->jobs[i].outcap);
	}
	w->md = EVP_MD_CTX_new();
	if (!w->md || !EVP_DigestInit_ex(w->md, EVP_sha256(), NULL)) {
		set_error(w, "cannot start sha256 for %s", name);
		return w;
	}
	if (level < 0 || level > 9) {
		set_error(w, "cannot start compressing %s (level %d)", name, level);
		return w;
	}
	if (!write_out(w, header, sizeof header))
		return w;
	for (int i = 0; i < want; i++) {
		if (pthread_create(&w->th[i], NULL, worker, w) != 0)
			break;
		w->nthreads++;
	}
	if (w->nthreads == 0) {
		/* no thread: compress inline, still correct */
		w->inline_coder = coder_new(level);
		if (!w->inline_coder)
			set_error(w, "cannot start compressing %s (level %d)", name, level);
	}
	return w;
}

bool gzw_failed(struct gz_writer *w)
{
	return is_failed(w);
}

/* Hands the block being filled to the workers and waits for a free slot for the next. */
static bool push_block(struct gz_writer *w, bool last)
{
	struct job *j = &w->jobs[w->fill % w->njobs], *next;

	j->last = last;
	pthread_mutex_lock(&w->mu);
	if (w->failed) {
		pthread_mutex_unlock(&w->mu);
		return false;
	}
	j->state = J_READY;
	w->nready++;
	w->fill++;
	if (w->nthreads == 0) {
		struct job *t = &w->jobs[w->next_take++ % w->njobs];
		bool ok;
		pthread_mutex_unlock(&w->mu);
		ok = deflate_job(w, w->inline_coder, t);
		pthread_mutex_lock(&w->mu);
		if (ok) {
			t->state = J_DONE;
			write_done(w);
		}
	} else {
		pthread_cond_broadcast(&w->cv);
	}
	if (last) {
		pthread_mutex_unlock(&w->mu);
		return true;
	}
	next = &w->jobs[w->fill % w->njobs];
	while (next->state != J_FREE && !w->failed)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	if (is_failed(w))
		return false;
	/* the producer alone writes input buffers, so j's input is stable */
	next->dictlen = j->inlen < GZ_DICT ? j->inlen : GZ_DICT;
	memcpy(next->in - next->dictlen, j->in + j->inlen - next->dictlen, next->dictlen);
	next->inlen = 0;
	return true;
}

bool gzw_write(struct gz_writer *w, const void *p, size_t n)
{
	const unsigned char *s = p;

	if (is_failed(w))
		return false;
	while (n) {
		struct job *j = &w->jobs[w->fill % w->njobs];
		size_t room = GZ_BLOCK - j->inlen, k = n < room ? n : room;

		memcpy(j->in + j->inlen, s, k);
		j->inlen += k;
		s += k;
		n -= k;
		if (j->inlen == GZ_BLOCK && !push_block(w, false))
			return false;
	}
	return true;
}

bool gzw_finish(struct gz_writer *w, bool abandon, uint64_t *bytes, char sha[65], char **err)
{
	unsigned char md[EVP_MAX_MD_SIZE], trailer[8];
	unsigned int mdlen = 0;
	bool ok;

	if (abandon) {
		pthread_mutex_lock(&w->mu);
		if (!w->failed) {
			w->failed = true; /* the workers stop at their next look */
			w->err = xasprintf("%s abandoned", w->name);
		}
		pthread_mutex_unlock(&w->mu);
	} else {
		(void)push_block(w, true); /* the rest, with the final deflate block */
	}
	pthread_mutex_lock(&w->mu);
	w->finishing = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->th[i], NULL);
	if (!w->failed && w->next_write != w->nready)
		set_error(w, "compressing %s failed: %llu blocks left unwritten", w->name,
		          (unsigned long long)(w->nready - w->next_write));
	if (!w->failed && w->verified != w->in_bytes)
		set_error(w, "verifying %s failed: %llu of %llu bytes checked", w->name,
		          (unsigned long long)w->verified, (unsigned long long)w->in_bytes);
	if (!w->failed) {
		for (int i = 0; i < 4; i++) {
			trailer[i] = (unsigned char)(w->crc >> (8 * i));
			trailer[4 + i] = (unsigned char)(w->in_bytes >> (8 * i));
		}
		if (write_out(w, trailer, sizeof trailer) && !EVP_DigestFinal_ex(w->md, md, &mdlen))
			set_error(w, "sha256 of %s failed", w->name);
	}
	coder_free(w->inline_coder);
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
	for (size_t i = 0; i < w->njobs; i++) {
		free(w->jobs[i].in - GZ_DICT);
		free(w->jobs[i].out);
	}
	free(w->jobs);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
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
