/* sf_output.h: a command's output file (-o FILE), written the way the user means it.
 *
 * What the path names decides how it is written:
 *   - a regular file, or nothing yet: a temporary file beside it, renamed over it
 *     by sf_output_commit, so a failure or Ctrl-C never leaves half a file and the
 *     old contents stay until the new ones are complete; a replaced file keeps its
 *     permission bits;
 *   - a symbolic link: followed (through every link) to its final target, which is
 *     written as above; the link stays a link, pointing at the new file;
 *   - "-": standard output;
 *   - a FIFO or a character device (/dev/null, a terminal), and anything under /dev
 *     or /proc that is not a directory (/dev/stdout, /dev/fd/3: a descriptor the
 *     shell gave, even when it is a file): written through as a stream (appending),
 *     never replaced; opening a FIFO waits for its reader;
 *   - anything else (a directory, a socket, a block device) is refused with a
 *     message naming it, before anything is computed.
 *
 *   sf_output o;
 *   if (sf_output_open(&o, path) != SF_OK) die(sf_last_error());
 *   fprintf(o.f, ...);
 *   if (sf_output_commit(&o) != SF_OK) die(sf_last_error());   // or sf_output_abort(&o)
 *
 * Errors are SF_ERR with a message naming the path. After open, exactly one of
 * commit and abort must follow; both release everything.
 */
#ifndef SF_OUTPUT_H
#define SF_OUTPUT_H

#include <stdio.h>

typedef struct {
    FILE *f;       /* write here */
    char *path;    /* as given, for messages */
    char *target;  /* the regular file the rename replaces; NULL for a stream */
    char *tmp;     /* the temporary file beside target; NULL for a stream */
    int is_stdout; /* "-" */
    int is_tty;    /* the stream is a terminal (show text escaped, see sf_shown) */
    int mode;      /* permission bits of the file replaced, or -1 */
} sf_output;

/* Opens path for writing as above. */
int sf_output_open(sf_output *o, const char *path);
/* The same for a writer that makes its file from a name (cfitsio): for a file,
 * o->tmp is the name to create, nothing is created yet and o->f is NULL; a stream
 * ("-", a FIFO, a device) is opened as above and the caller writes the finished
 * file to o->f. Commit then gives the new file the permission bits of the one it
 * replaces and renames it; abort removes it. */
int sf_output_open_named(sf_output *o, const char *path);
/* Flushes and closes; for a file, renames the temporary file over the target.
 * SF_ERR on any write error (then nothing replaces the target). */
int sf_output_commit(sf_output *o);
/* Closes and removes the temporary file; the target is left as it was. */
void sf_output_abort(sf_output *o);
/* Writes a cairo image surface to path as PNG, through sf_output. */
typedef struct _cairo_surface cairo_surface_t;
int sf_output_png(cairo_surface_t *surface, const char *path);
/* 1 when path can be written by sf_output_open as a file that is replaced (regular,
 * absent, or a link to one), 0 for a stream; SF_ERR (with a message) when it would
 * be refused. Does not open anything. */
int sf_output_check(const char *path);

#endif
