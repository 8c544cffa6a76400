/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_TUN_TUN_BRIDGE_H
#define VGUARD_TUN_TUN_BRIDGE_H

#include "tun/tun.h"

/*
 * Joins two TUN devices through vguard's TUN layer and nothing else: what
 * is read from one (split into plain packets) is written to the other
 * (coalesced again), one thread per direction and queue.  For
 * `vg offload-check` and the tunpipe benchmark: it measures the TUN layer
 * without the tunnel.
 */
struct tun_bridge;

/* Uses min(tun_queues(a), tun_queues(b)) queue pairs. */
int tun_bridge_start(struct tun_bridge **out, struct tun *a, struct tun *b);
/* Stops and joins the threads; the devices stay open.  NULL is a no-op. */
void tun_bridge_stop(struct tun_bridge *br);

#endif
