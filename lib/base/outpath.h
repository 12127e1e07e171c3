/* outpath.h - may a program write this output? Outputs are written to a
 * temporary name and renamed, which would silently replace whatever the
 * name held: an input of the same run, a FIFO or a device. */
#ifndef LS_OUTPATH_H
#define LS_OUTPATH_H

/* 0 when out may be written: it does not exist, or is a regular file that
 * is none of the n inputs (the same device and inode; "-" and NULL inputs
 * are skipped). Else -1 with ls_err naming out and the reason. */
int ls_output_ok(const char *out, const char *const *in, int n);
/* An exclusive lock on PATH.lock (flock; released when the program ends,
 * and the file removed when it ends normally), so that two programs do not
 * write one output; the lock's file descriptor, or -1 with ls_err when
 * another program holds it. One lock a program. */
int ls_lock_output(const char *path);
/* 1 when a and b name one existing file. */
int ls_same_file(const char *a, const char *b);

#endif
