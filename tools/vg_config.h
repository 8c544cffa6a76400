/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TOOLS_VG_CONFIG_H
#define VGUARD_TOOLS_VG_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "tools/vg_device.h"

/* The wg(8) configuration grammar: `setconf`/`addconf`/`syncconf` files
 * line by line, and `set` arguments. Diagnostics go to `err` with wg's
 * exact wording. */
struct vg_config_ctx {
	struct vg_device *device;
	struct vg_peer *peer;
	bool in_interface;
	bool in_peer;
	FILE *err;
};

/* append: addconf (keep what is not mentioned); otherwise the file
 * replaces the whole configuration, as setconf does. */
bool vg_config_init(struct vg_config_ctx *ctx, bool append, FILE *err);
/* On failure the device is freed and ctx->device is NULL. */
bool vg_config_line(struct vg_config_ctx *ctx, const char *line);
/* Returns the parsed device (the caller owns it), or NULL when a peer
 * lacks a public key (the device is then freed). */
struct vg_device *vg_config_finish(struct vg_config_ctx *ctx);

/* A whole `setconf`/`addconf`/`syncconf` file (append: addconf), as the
 * three commands read it; NULL after printing why to err. */
struct vg_device *vg_config_read(FILE *in, bool append, FILE *err);

/* syncconf: turns the parsed file into the set that makes the running
 * configuration (runtime, from get) equal to it without touching the
 * peers both name: a running peer the file does not name is removed, one
 * it names keeps its session, with a preshared key or keepalive the file
 * no longer sets cleared explicitly.  false after printing why to err. */
bool vg_config_sync(struct vg_device *file, struct vg_device *runtime, FILE *err);

/* `set IFACE ...`: argv starts after the interface name. */
struct vg_device *vg_config_cmd(int argc, char **argv, FILE *err);

#endif
