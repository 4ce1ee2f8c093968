/* fmnist_data.h — the Fashion-MNIST data of the fmnist_mlp kernel (docs/kernels.md §4), internal to
 * kernels/. fmnist_data.c reads the IDX files of Debian's dataset-fashion-mnist once per process,
 * checks them (sizes, IDX headers, SHA-256 of the decompressed bytes) and keeps the two splits the
 * kernel uses for the life of the process. Not thread-safe: a process evaluates one job at a
 * time. Also declares fmnist_mlp.c's internal test hook. */
#ifndef HB_FMNIST_DATA_H
#define HB_FMNIST_DATA_H

#include "hb_common.h"

#define HB__FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist" /* the Debian package's */
#define HB__FMNIST_PACKAGE "dataset-fashion-mnist"
#define HB__FMNIST_PIXELS 784  /* 28 x 28, row-major as in the file */
#define HB__FMNIST_CLASSES 10
#define HB__FMNIST_ROWS 10000  /* images in each split */

/* A view of the process's data. Pixels are the file's bytes (0..255), one image per row of
 * HB__FMNIST_PIXELS; labels are 0..9. Valid for the rest of the process. */
typedef struct hb__fmnist {
    const unsigned char *train_x; /* images 0..9999 of the training file */
    const unsigned char *train_y; /* their labels */
    const unsigned char *val_x;   /* images 50000..59999 of the training file (validation) */
    const unsigned char *val_y;   /* their labels */
} hb__fmnist;

/* Check the data files in directory 'dir' (NULL: HB__FMNIST_DEFAULT_DIR) and, if the process has
 * no data yet, keep theirs. Only the training file and its labels are read (the t10k test set is
 * never used). The last directory that passed is not read again while its files stay the same
 * (inode, size, modification time).
 * Errors, each naming the file: a missing directory or file (HB_ENOTFOUND; the message tells
 * how to install HB__FMNIST_PACKAGE), a truncated, damaged or over-long file, a wrong IDX
 * header or a SHA-256 mismatch (HB_EIO; "truncated" and "checksum" appear in those messages).
 * A failed check leaves data loaded earlier in place. */
int hb__fmnist_check(const char *dir, hb_error *err);

/* The process's data in '*out': what the last successful hb__fmnist_check kept, or, when no
 * check has succeeded yet, the default directory's (checked now). */
int hb__fmnist_get(hb__fmnist *out, hb_error *err);

/* Internal test hook (fmnist_mlp.c): the initial weights for 'n_hidden' and 'seed' (docs/kernels.md
 * §4: stream 1, Glorot-uniform) in the caller's arrays 'w1' (784 x n_hidden, row-major) and 'w2'
 * (n_hidden x 10), and the validation error of that untrained network (biases 0) in
 * '*val_error'. Loads the data as hb__fmnist_get does. */
int hb__fmnist_initial(size_t n_hidden, uint64_t seed, double *w1, double *w2, double *val_error,
                       hb_error *err);

/* Internal, for tests that craft states: a saved state is a header of this many bytes, then the
 * doubles (floats for fmnist_mlp32) of W1 (stored transposed, H x 784; W1[0][0] comes first),
 * b1, W2, b2 and their momentum buffers, the uint32 permutation, and last the SHA-256 of all the
 * bytes before it (fmnist_mlp_body.h). */
#define HB__FMNIST_STATE_HEADER 104

#endif
