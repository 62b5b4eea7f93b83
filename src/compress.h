/*
 * compress.h - gzip streams for backups.
 *
 * Owns: the writer that turns a byte stream into a gzip file: the stream
 * is cut into 256 KiB blocks that up to 4 threads (one per core) deflate
 * at once, each primed with the previous block's last 32 KiB, and joined
 * into one gzip member as pigz does, so reading from the server and
 * compressing overlap and the file is as small as one thread's; each
 * block is inflated back and compared with its input by the thread that
 * made it, so a finished stream is a checked one (memory:
 * a ring of 2 blocks per thread, about 3.5 MiB with 2 threads); the
 * sha256 and size of what was written; and the reader that gives back
 * the bytes of a gzip or plain file.  Errors are sticky: after the first failure every write
 * returns false, and the error is reported once, at the end. Calls: util (memory), zlib, OpenSSL
 * (sha256), pthreads.
 */
#ifndef AUZDB_COMPRESS_H
#define AUZDB_COMPRESS_H

#include "util.h"

#include <stdint.h>
#include <sys/types.h>

struct gz_writer;

/*
 * Starts a gzip stream onto fd (not owned: the caller fsyncs and closes
 * it after gzw_finish).  level is 0-9.  name is used in error messages.
 */
struct gz_writer *gzw_open(int fd, int level, const char *name);
/* Queues n bytes; false once the stream has failed (see gzw_finish). */
bool gzw_write(struct gz_writer *w, const void *p, size_t n) AZ_MUSTCHECK;
/* True when an earlier write failed (disk full, ...). */
bool gzw_failed(struct gz_writer *w);
/*
 * Ends the stream, stops the thread and frees w.  On success returns true
 * with the compressed size in *bytes and its lowercase hex sha256 in sha;
 * otherwise false and a one-line *err naming the file and the cause.
 * With abandon set the stream is discarded (no trailer) and false returned.
 */
bool gzw_finish(struct gz_writer *w, bool abandon, uint64_t *bytes, char sha[65],
                char **err) AZ_MUSTCHECK;

struct gz_reader;

/* Opens path ("-" is stdin) for reading, gzip or plain; NULL and *err on failure. */
struct gz_reader *gzr_open(const char *path, char **err);
/* Reads up to n bytes: >0 bytes, 0 at the end, -1 on error (*err). */
ssize_t gzr_read(struct gz_reader *r, void *buf, size_t n, char **err);
/* True when the input is gzip-compressed (valid after the first read). */
bool gzr_compressed(struct gz_reader *r);
void gzr_close(struct gz_reader *r);

/* Lowercase hex sha256 of a file's bytes; false (errno set) when it cannot be read. */
bool file_sha256(const char *path, char out[65]) AZ_MUSTCHECK;

#endif
