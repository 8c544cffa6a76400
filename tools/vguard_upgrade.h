/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TOOLS_VGUARD_UPGRADE_H
#define VGUARD_TOOLS_VGUARD_UPGRADE_H

/*
 * `vguard --upgrade IFACE`: this binary takes over the running vguard's
 * interface (device/upgrade.h, README.md "Live upgrade").  Without -f the
 * command starts itself in the background, as a normal start does, and
 * returns once that process runs the interface, or fails with its reason.
 */

#include <stddef.h>
#include <stdint.h>

#include "device/device.h"
#include "tun/tun.h"

/* The parent: starts argv in the background and waits for its report.
 * Returns the exit status (0, or 1 with the reason printed). */
int vguard_upgrade_spawn(char **argv, const char *iface);
/* Takes iface over and starts the device; on failure *dev is NULL and
 * reason says why in one line. */
int vguard_upgrade_setup(struct device **dev, const char *iface, const struct tun_options *to,
			 const struct device_options *dopt, uint32_t version, char *reason,
			 size_t reason_len);
/* The background process's outcome to the parent (nothing in the
 * foreground). */
void vguard_upgrade_report(int err, const char *reason);

#endif
