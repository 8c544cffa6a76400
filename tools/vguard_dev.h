/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TOOLS_VGUARD_DEV_H
#define VGUARD_TOOLS_VGUARD_DEV_H

/*
 * The daemon's only door into the tunnel device.  tools/vguard.c owns the
 * process (arguments, daemonising, signals, the control loop, the UAPI
 * socket and the TUN); everything WireGuard sits behind these calls.  Until
 * the data plane (device/device.h) lands, vguard_dev.c serves the UAPI from
 * the in-memory config store and moves no packets.
 */

#include <stdbool.h>

#include "device/uapi.h"
#include "tun/tun.h"

struct vguard_dev_config {
	unsigned int queues;
	bool no_udp_gso;	/* --no-udp-gso / VGUARD_NO_UDP_GSO */
	bool no_udp_gro_rx;	/* --no-udp-gro-rx / VGUARD_NO_UDP_GRO_RX */
	void (*log)(void *arg, bool verbose, const char *msg);
	void *log_arg;
};

struct vguard_dev;

/* Takes over tun (closed by vguard_dev_close); 0 or a negative errno. */
int vguard_dev_open(struct vguard_dev **out, struct tun *tun,
		    const struct vguard_dev_config *cfg);
/* The UAPI operations and their context, for uapi_server_init(). */
const struct uapi_ops *vguard_dev_uapi(struct vguard_dev *d, void **ctx);
/* A link event from the TUN (up, down, MTU); CLOSED is the caller's. */
void vguard_dev_link_event(struct vguard_dev *d, const struct tun_event *ev);
void vguard_dev_close(struct vguard_dev *d);

#endif
