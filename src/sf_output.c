/* sf_output.c: output files that replace regular files atomically and write through
 * to streams (see sf_output.h). */
#include "sf_output.h"

#include <cairo.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sf_util.h"

enum { OUT_FILE, OUT_STREAM };

/* A symbolic link's target as a path usable from here: relative targets are
 * relative to the link's folder. Owned by the caller; NULL with a message. */
static char *link_target(const char *link) {
    char buf[PATH_MAX];
    ssize_t n = readlink(link, buf, sizeof buf - 1);
    if (n < 0) {
        sf_fail("%s: cannot read the link: %s", link, strerror(errno));
        return NULL;
    }
    buf[n] = 0;
    const char *slash = strrchr(link, '/');
    if (buf[0] == '/' || !slash) return xstrdup(buf);
    size_t dir_len = (size_t)(slash - link) + 1;
    char *out = xmalloc(dir_len + (size_t)n + 1);
    memcpy(out, link, dir_len);
    memcpy(out + dir_len, buf, (size_t)n + 1);
    return out;
}

/* What path names: OUT_FILE with *target the regular file to replace (maybe not
 * there yet; *mode its permission bits, or -1), OUT_STREAM, or SF_ERR. */
static int classify(const char *path, char **target, int *mode) {
    *target = NULL;
    *mode = -1;
    /* /dev/stdout, /dev/fd/N, /proc/self/fd/N name a descriptor this process was
     * given (a pipe, a terminal, or a file the shell opened): written through, never
     * replaced, whatever it is */
    struct stat st;
    if ((!strncmp(path, "/dev/", 5) || !strncmp(path, "/proc/", 6)) && stat(path, &st) == 0 &&
        !S_ISDIR(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISSOCK(st.st_mode))
        return OUT_STREAM;
    char *cur = xstrdup(path);
    for (int hops = 0;; hops++) {
        if (lstat(cur, &st) != 0) {
            if (errno != ENOENT) {
                sf_fail("%s: %s", cur, strerror(errno));
                free(cur);
                return SF_ERR;
            }
            *target = cur; /* a new file (or a dangling link's future target) */
            return OUT_FILE;
        }
        if (S_ISLNK(st.st_mode)) {
            if (hops == 40) {
                sf_fail("%s: too many levels of symbolic links", path);
                free(cur);
                return SF_ERR;
            }
            char *next = link_target(cur);
            free(cur);
            if (!next) return SF_ERR;
            cur = next;
            continue;
        }
        if (S_ISREG(st.st_mode)) {
            *target = cur;
            *mode = (int)(st.st_mode & 07777);
            return OUT_FILE;
        }
        const char *what = S_ISDIR(st.st_mode) ? "a directory: give a file name inside it"
                           : S_ISBLK(st.st_mode)
                               ? "a block device (a disk): refusing to write over it"
                           : S_ISSOCK(st.st_mode) ? "a socket: refusing to write to it"
                                                  : NULL;
        if (what) {
            if (strcmp(cur, path)) sf_fail("%s (through the link to %s) is %s", path, cur, what);
            else sf_fail("%s is %s", path, what);
            free(cur);
            return SF_ERR;
        }
        free(cur); /* a FIFO or a character device */
        return OUT_STREAM;
    }
}

int sf_output_check(const char *path) {
    if (!strcmp(path, "-")) return 0;
    char *target;
    int mode;
    int kind = classify(path, &target, &mode);
    free(target);
    if (kind == SF_ERR) return SF_ERR;
    return kind == OUT_FILE;
}

/* Opens path as described in sf_output.h; named: for a file, only the temporary
 * name is chosen (the caller's library creates it). */
static int output_open(sf_output *o, const char *path, int named) {
    memset(o, 0, sizeof *o);
    o->path = xstrdup(path);
    o->mode = -1;
    if (!strcmp(path, "-")) {
        o->f = stdout;
        o->is_stdout = 1;
        o->is_tty = isatty(STDOUT_FILENO);
        return SF_OK;
    }
    int kind = classify(path, &o->target, &o->mode);
    if (kind == SF_ERR) goto fail;
    int fd;
    if (kind == OUT_STREAM) {
        /* O_APPEND: a file the shell opened for >> (through /dev/stdout) is appended to */
        fd = open(path, O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            sf_fail("%s: cannot write: %s", path, strerror(errno));
            goto fail;
        }
    } else {
        size_t n = strlen(o->target) + 32;
        o->tmp = xmalloc(n);
        snprintf(o->tmp, n, "%s.tmp-%ld", o->target, (long)getpid());
        if (named) {
            unlink(o->tmp); /* left by an earlier process of this pid */
            return SF_OK;
        }
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST) { /* left by an earlier process of this pid */
            unlink(o->tmp);
            fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        }
        if (fd < 0) {
            sf_fail("%s: cannot create %s: %s", path, o->tmp, strerror(errno));
            free(o->tmp);
            o->tmp = NULL;
            goto fail;
        }
        if (o->mode >= 0) (void)fchmod(fd, (mode_t)o->mode);
    }
    o->f = fdopen(fd, "wb");
    SF_ASSERT(o->f);
    o->is_tty = isatty(fd);
    return SF_OK;
fail:
    free(o->path);
    free(o->target);
    memset(o, 0, sizeof *o);
    return SF_ERR;
}

int sf_output_open(sf_output *o, const char *path) { return output_open(o, path, 0); }

int sf_output_open_named(sf_output *o, const char *path) { return output_open(o, path, 1); }

static void release(sf_output *o) {
    free(o->path);
    free(o->target);
    free(o->tmp);
    memset(o, 0, sizeof *o);
}

/* fsync of the file at path (written by a library under its name). */
static int sync_path(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd) != 0 && errno != EINVAL ? -1 : 0;
    close(fd);
    return rc;
}

int sf_output_commit(sf_output *o) {
    int rc = SF_OK;
    errno = 0;
    if (o->f) {
        if (fflush(o->f) != 0 || ferror(o->f))
            rc = sf_fail("%s: cannot write: %s", o->path, strerror(errno ? errno : EIO));
        if (o->tmp && rc == SF_OK && fsync(fileno(o->f)) != 0 && errno != EINVAL)
            rc = sf_fail("%s: cannot write: %s", o->path, strerror(errno));
        if (!o->is_stdout && fclose(o->f) != 0 && rc == SF_OK)
            rc = sf_fail("%s: cannot write: %s", o->path, strerror(errno));
    } else if (o->tmp) { /* written under o->tmp by the caller */
        if (o->mode >= 0 && chmod(o->tmp, (mode_t)o->mode) != 0)
            rc = sf_fail("%s: cannot write %s: %s", o->path, o->tmp, strerror(errno));
        if (rc == SF_OK && sync_path(o->tmp) != 0)
            rc = sf_fail("%s: cannot write %s: %s", o->path, o->tmp, strerror(errno));
    }
    if (o->tmp) {
        if (rc == SF_OK && rename(o->tmp, o->target) != 0)
            rc = sf_fail("%s: cannot move %s over %s: %s", o->path, o->tmp, o->target,
                         strerror(errno));
        if (rc != SF_OK) unlink(o->tmp);
    }
    release(o);
    return rc;
}

void sf_output_abort(sf_output *o) {
    if (o->is_stdout) fflush(o->f);
    else if (o->f) fclose(o->f);
    if (o->tmp) unlink(o->tmp);
    release(o);
}

static cairo_status_t write_to_file(void *closure, const unsigned char *data, unsigned int len) {
    FILE *f = closure;
    return fwrite(data, 1, len, f) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

int sf_output_png(cairo_surface_t *surface, const char *path) {
    sf_output out;
    if (sf_output_open(&out, path) != SF_OK) return SF_ERR;
    cairo_status_t st = cairo_surface_write_to_png_stream(surface, write_to_file, out.f);
    if (st != CAIRO_STATUS_SUCCESS) {
        sf_output_abort(&out);
        return sf_fail("%s: cannot write the PNG: %s", path, cairo_status_to_string(st));
    }
    return sf_output_commit(&out);
}
