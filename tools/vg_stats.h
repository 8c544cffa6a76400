/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TOOLS_VG_STATS_H
#define VGUARD_TOOLS_VG_STATS_H

#include <stddef.h>
#include <stdio.h>

/* `vg stats`: the daemon's `stats=1` counters, kept generic (whatever
 * keys come back are shown), printed as a table, JSON or Prometheus. */

struct vg_stat {
	char *key;
	char *value;
};

struct vg_stats_group {
	char *peer;		/* base64 public key; NULL for the device */
	struct vg_stat *items;
	size_t count;
};

struct vg_stats {
	char iface[16];
	struct vg_stats_group device;
	struct vg_stats_group *peers;
	size_t npeers;
};

/* Parses a reply up to its blank line: device lines, then groups opened
 * by public_key=. Returns 0, the daemon's negative errno, or -EPROTO. */
int vg_stats_read(FILE *f, struct vg_stats *st);
/* Sends stats=1 on IFACE's socket and reads the reply. */
int vg_stats_fetch(struct vg_stats *st, const char *iface);
void vg_stats_free(struct vg_stats *st);

void vg_stats_print_table(FILE *out, const struct vg_stats *st);
void vg_stats_print_json(FILE *out, const struct vg_stats *st);
void vg_stats_print_prometheus(FILE *out, const struct vg_stats *st);

#endif
