/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TOOLS_VG_UAPI_H
#define VGUARD_TOOLS_VG_UAPI_H

#include <stdbool.h>
#include <stdio.h>

#include "tools/vg_device.h"

/* The client side of the cross-platform UAPI: one connection per
 * operation to /var/run/wireguard/IFACE.sock, like wg. Functions return 0
 * or a negative errno, and also leave the positive errno in `errno` so
 * callers can report with wg's perror() wording. */

#define VG_UAPI_DIR "/var/run/wireguard/"

/* Whether a live daemon answers on IFACE's socket; a socket nobody
 * listens on any more is unlinked, as wg does. */
bool vg_uapi_exists(const char *iface);
/* A connected stream for IFACE, or NULL with errno set. */
FILE *vg_uapi_open(const char *iface);

int vg_uapi_get(struct vg_device **out, const char *iface);
int vg_uapi_set(const struct vg_device *dev);

/* The two halves of get and set on an already open stream, exposed
 * for the unit tests. */
int vg_uapi_read_get(FILE *f, struct vg_device *dev);
void vg_uapi_write_set(FILE *f, const struct vg_device *dev);
/*
 * Reads a reply's key=value lines up to the blank line that ends it and
 * hands each to line(ctx, key, value, &status); line sets status from the
 * errno= line and returns 0 to go on, a negative errno to stop with it, or
 * 1 to stop with -EPROTO.  Returns status at the blank line, -EPROTO for a
 * malformed or unterminated reply.  Lines are wiped (they may carry keys).
 */
typedef int vg_uapi_line_fn(void *ctx, const char *key, char *value, int *status);
int vg_uapi_read_lines(FILE *f, vg_uapi_line_fn *line, void *ctx);
/* Reads a set reply's "errno=N" line: 0 or the daemon's negative errno. */
int vg_uapi_read_status(FILE *f);

/* Interfaces with a live socket, as "a\0b\0\0" (always terminated by
 * an empty name); NULL with errno set on failure. */
char *vg_uapi_list(void);

#endif
