/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TOOLS_VG_SHOW_H
#define VGUARD_TOOLS_VG_SHOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "tools/vg_device.h"

/* What `show` prints, byte for byte as wg: the pretty form, `dump`, each
 * field selector, and `showconf`. Pure formatting, so the unit tests
 * can pin it down from a canned UAPI reply. */

struct vg_show_opts {
	bool color;		/* ANSI colours (wg: stdout is a tty, WG_COLOR_MODE) */
	bool show_keys;		/* WG_HIDE_KEYS=never */
	time_t now;		/* for "latest handshake: ... ago" */
};

/* The options from the environment, as wg reads them. */
void vg_show_opts_from_env(struct vg_show_opts *o, FILE *out);

/* Sorts the peers by latest handshake, newest first, as wg does. */
void vg_show_pretty(FILE *out, struct vg_device *dev, const struct vg_show_opts *o);
void vg_show_dump(FILE *out, const struct vg_device *dev, bool with_iface);
/* One field selector ("peers", "transfer", ...); false if unknown. */
bool vg_show_field(FILE *out, const struct vg_device *dev, const char *field, bool with_iface);
void vg_showconf(FILE *out, const struct vg_device *dev);

/* "1 day, 2 hours, 3 seconds"; returns the length written. */
size_t vg_format_duration(char *buf, size_t len, unsigned long long secs, bool color);
/* "1.50 KiB" and the like. */
void vg_format_bytes(char *buf, size_t len, uint64_t b, bool color);
/* "Now", "3 minutes, 2 seconds ago", or the clock-went-back warning. */
void vg_format_ago(char *buf, size_t len, int64_t then, time_t now, bool color);

#endif
