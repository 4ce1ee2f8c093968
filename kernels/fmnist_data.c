/* fmnist_data.c — reads and checks the Fashion-MNIST files of Debian's dataset-fashion-mnist
 * (docs/kernels.md §4) for the fmnist_mlp kernel, once per process. The two splits it uses live in
 * static arrays, so the data costs no heap block and needs no cleanup (hbmpi's HB_CHECK_LEAKS
 * counts every live block at exit). Knows nothing of the network. */
#define _POSIX_C_SOURCE 200809L /* stat's st_mtim */
#include "fmnist_data.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "sha256.h"

#define KNAME "fmnist_mlp"
#define SRC_ROWS 60000      /* images in the training file */
#define VAL_FIRST 50000     /* first validation image (docs/kernels.md §4, splits) */
#define CHUNK (64 * 1024)   /* decompressed bytes per gzread */
#define PATH_LEN 4096

/* One IDX file as docs/kernels.md §4 lists it. */
typedef struct idx_file {
    const char *name;  /* in the data directory */
    uint32_t magic;    /* 0x801 labels, 0x803 images */
    size_t header;     /* bytes before the data: 4 per header field */
    size_t row;        /* bytes per item: 1 per label, 784 per image */
    size_t raw;        /* decompressed size */
    const char *sha256; /* of the decompressed bytes */
} idx_file;

/* The labels first: they are small, so a missing or damaged package is reported without first
 * decompressing 47 MB of images. */
static const idx_file files[2] = {
    {"train-labels-idx1-ubyte.gz", 0x00000801, 8, 1, 60008,
     "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
    {"train-images-idx3-ubyte.gz", 0x00000803, 16, HB__FMNIST_PIXELS, 47040016,
     "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
};

static unsigned char train_x[HB__FMNIST_ROWS * HB__FMNIST_PIXELS];
static unsigned char val_x[HB__FMNIST_ROWS * HB__FMNIST_PIXELS];
static unsigned char train_y[HB__FMNIST_ROWS];
static unsigned char val_y[HB__FMNIST_ROWS];
static int loaded;                 /* the arrays above hold checked data */
static char checked_dir[PATH_LEN]; /* the last directory that passed, "" if none */
static struct stat checked[2];     /* what its files were then (same order as files[]) */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Copy the part of the decompressed bytes [off, off + n) that falls in [from, from + len) of the
 * file to 'to' (which holds the bytes from 'from' on). */
static void keep(const unsigned char *buf, size_t off, size_t n, size_t from, size_t len,
                 unsigned char *to)
{
    size_t lo = off > from ? off : from;
    size_t hi = off + n < from + len ? off + n : from + len;
    if (lo < hi) memcpy(to + (lo - from), buf + (lo - off), hi - lo);
}

/* Check the IDX header in 'h' (f->header bytes). */
static int check_header(const idx_file *f, const char *path, const unsigned char *h,
                        hb_error *err)
{
    int ok = be32(h) == f->magic && be32(h + 4) == SRC_ROWS;
    if (ok && f->header == 16) ok = be32(h + 8) == 28 && be32(h + 12) == 28;
    if (!ok)
        return hb_error_set(err, HB_EIO, NULL,
                            "%s: '%s' is not the IDX file expected (magic 0x%08x, %d %s); "
                            "reinstall %s",
                            KNAME, path, (unsigned)f->magic, SRC_ROWS,
                            f->header == 16 ? "images of 28 x 28" : "labels",
                            HB__FMNIST_PACKAGE);
    return HB_OK;
}

/* 1 if the files of 'dir' are still the ones that passed the last check: same directory name,
 * and each file the same inode, size and modification time. */
static int unchanged(const char *dir)
{
    char path[PATH_LEN];
    struct stat st;
    if (!loaded || strcmp(dir, checked_dir) != 0) return 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const struct stat *c = &checked[i];
        if (snprintf(path, sizeof path, "%s/%s", dir, files[i].name) >= (int)sizeof path ||
            stat(path, &st) != 0 || st.st_dev != c->st_dev || st.st_ino != c->st_ino ||
            st.st_size != c->st_size || st.st_mtim.tv_sec != c->st_mtim.tv_sec ||
            st.st_mtim.tv_nsec != c->st_mtim.tv_nsec)
            return 0;
    }
    return 1;
}

/* Decompress 'f' from 'dir', checking size, header and SHA-256; with 'store', copy the train and
 * validation rows into the static arrays on the way. '*id' gets the file's identity as it was
 * opened. */
static int read_file(const char *dir, const idx_file *f, int store, struct stat *id,
                     hb_error *err)
{
    char path[PATH_LEN];
    unsigned char buf[CHUNK], head[16], digest[HB__SHA256_BYTES];
    char hex[2 * HB__SHA256_BYTES + 1];
    unsigned char *to_train = f->row == 1 ? train_y : train_x;
    unsigned char *to_val = f->row == 1 ? val_y : val_x;
    size_t split = (size_t)HB__FMNIST_ROWS * f->row, off = 0;
    hb__sha256_ctx sha;
    int rc = HB_OK, n;

    if (snprintf(path, sizeof path, "%s/%s", dir, f->name) >= (int)sizeof path)
        return hb_error_set(err, HB_EINVAL, NULL, "%s: the data directory name is too long",
                            KNAME);
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (gz == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return hb_error_set(err, HB_ENOTFOUND, NULL,
                                "%s: no Fashion-MNIST data: cannot open '%s' (%s); install it "
                                "with: apt-get install %s (or give another directory with "
                                "--kernel %s:data=DIR)",
                                KNAME, path, strerror(errno), HB__FMNIST_PACKAGE, KNAME);
        if (errno == 0) return hb_error_set(err, HB_ENOMEM, NULL, "%s: out of memory", KNAME);
        return hb_error_set(err, HB_EIO, NULL, "%s: cannot open '%s': %s", KNAME, path,
                            strerror(errno));
    }
    if (stat(path, id) != 0) memset(id, 0, sizeof *id); /* then the next check reads it again */
    gzbuffer(gz, CHUNK); /* before the first read; a failure only leaves zlib's default size */
    hb__sha256_init(&sha);
    while ((n = gzread(gz, buf, CHUNK)) > 0) {
        size_t got = (size_t)n;
        if (got > f->raw - off) {
            rc = hb_error_set(err, HB_EIO, NULL,
                              "%s: '%s' is longer than the %zu bytes expected (decompressed); "
                              "reinstall %s",
                              KNAME, path, f->raw, HB__FMNIST_PACKAGE);
            goto done;
        }
        hb__sha256_update(&sha, buf, got);
        if (off < f->header) keep(buf, off, got, 0, f->header, head);
        if (off < f->header && off + got >= f->header &&
            (rc = check_header(f, path, head, err)) != HB_OK)
            goto done;
        if (store) {
            keep(buf, off, got, f->header, split, to_train);
            keep(buf, off, got, f->header + (size_t)VAL_FIRST * f->row, split, to_val);
        }
        off += got;
    }
    if (n < 0) {
        int zerr;
        const char *what = gzerror(gz, &zerr);
        if (zerr == Z_BUF_ERROR) /* zlib's "unexpected end of file" */
            rc = hb_error_set(err, HB_EIO, NULL,
                              "%s: '%s' is truncated (the gzip stream ends after %zu of %zu "
                              "bytes); reinstall %s",
                              KNAME, path, off, f->raw, HB__FMNIST_PACKAGE);
        else if (zerr == Z_ERRNO)
            rc = hb_error_set(err, HB_EIO, NULL, "%s: cannot read '%s': %s", KNAME, path,
                              strerror(errno));
        else
            rc = hb_error_set(err, HB_EIO, NULL, "%s: '%s' is damaged (gzip: %s); reinstall %s",
                              KNAME, path, what, HB__FMNIST_PACKAGE);
        goto done;
    }
    if (off < f->raw) {
        rc = hb_error_set(err, HB_EIO, NULL,
                          "%s: '%s' is truncated (%zu of %zu bytes decompressed); reinstall %s",
                          KNAME, path, off, f->raw, HB__FMNIST_PACKAGE);
        goto done;
    }
    hb__sha256_final(&sha, digest);
    hb__sha256_hex(digest, hex);
    if (strcmp(hex, f->sha256) != 0)
        rc = hb_error_set(err, HB_EIO, NULL,
                          "%s: SHA-256 checksum mismatch in '%s' (decompressed bytes give %s, "
                          "expected %s); reinstall %s",
                          KNAME, path, hex, f->sha256, HB__FMNIST_PACKAGE);
done:
    gzclose(gz);
    return rc;
}

int hb__fmnist_check(const char *dir, hb_error *err)
{
    struct stat ids[2];
    int rc;
    if (dir == NULL) dir = HB__FMNIST_DEFAULT_DIR;
    if (dir[0] == '\0')
        return hb_error_set(err, HB_EINVAL, NULL, "%s: the data directory is empty", KNAME);
    if (unchanged(dir)) return HB_OK;
    checked_dir[0] = '\0';
    /* Data already kept is not overwritten: data that passes the checksum has the same bytes,
     * and a file that fails must not damage what an earlier check kept. */
    int store = !loaded;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if ((rc = read_file(dir, &files[i], store, &ids[i], err)) != HB_OK) return rc;
    loaded = 1;
    if (strlen(dir) < sizeof checked_dir) {
        strcpy(checked_dir, dir);
        memcpy(checked, ids, sizeof checked);
    }
    return HB_OK;
}

int hb__fmnist_get(hb__fmnist *out, hb_error *err)
{
    int rc;
    if (!loaded && (rc = hb__fmnist_check(NULL, err)) != HB_OK) return rc;
    out->train_x = train_x;
    out->train_y = train_y;
    out->val_x = val_x;
    out->val_y = val_y;
    return HB_OK;
}
