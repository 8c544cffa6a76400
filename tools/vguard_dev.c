// SPDX-License-Identifier: MIT
/*
 * The device behind the daemon, for now: the UAPI served from the
 * in-memory config store, with the TUN's real offload state in stats=1.
 * No packets move yet; the data plane replaces the inside of these
 * functions, not their callers.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/vguard_dev.h"

struct vguard_dev {
	struct tun *tun;
	struct vguard_dev_config cfg;
	struct uapi_store store;
	bool up;
};

static void dev_log(struct vguard_dev *d, bool verbose, const char *msg)
{
	if (d->cfg.log)
		d->cfg.log(d->cfg.log_arg, verbose, msg);
}

static enum uapi_offload_state tun_state(bool on, const char *why)
{
	if (on)
		return UAPI_OFFLOAD_ON;
	if (strstr(why, "by option"))
		return UAPI_OFFLOAD_DISABLED;
	if (strstr(why, "probe"))
		return UAPI_OFFLOAD_PROBE_FAILED;
	if (strstr(why, "refused a coalesced write"))
		return UAPI_OFFLOAD_ERROR;
	return UAPI_OFFLOAD_UNSUPPORTED;
}

static void fill_stats(struct vguard_dev *d, struct uapi_device_stats *s)
{
	struct tun_offload_state o;
	struct tun_counters c;

	tun_get_offload(d->tun, &o);
	tun_get_counters(d->tun, &c);
	s->tso = tun_state(o.on[TUN_FEAT_TSO], o.why[TUN_FEAT_TSO]);
	s->uso = tun_state(o.on[TUN_FEAT_USO], o.why[TUN_FEAT_USO]);
	s->tcp_gro = tun_state(o.on[TUN_FEAT_TCP_GRO], o.why[TUN_FEAT_TCP_GRO]);
	s->udp_gro = tun_state(o.on[TUN_FEAT_UDP_GRO], o.why[TUN_FEAT_UDP_GRO]);
	/* No UDP sockets are open without the data plane. */
	s->udp_gso = d->cfg.no_udp_gso ? UAPI_OFFLOAD_DISABLED : UAPI_OFFLOAD_INACTIVE;
	s->udp_gro_rx = d->cfg.no_udp_gro_rx ? UAPI_OFFLOAD_DISABLED :
					       UAPI_OFFLOAD_INACTIVE;
	s->tso_packets = c.gso[TUN_GSO_TCP4].packets + c.gso[TUN_GSO_TCP6].packets;
	s->tso_segments = c.gso[TUN_GSO_TCP4].segments + c.gso[TUN_GSO_TCP6].segments;
	s->uso_packets = c.gso[TUN_GSO_UDP4].packets + c.gso[TUN_GSO_UDP6].packets;
	s->uso_segments = c.gso[TUN_GSO_UDP4].segments + c.gso[TUN_GSO_UDP6].segments;
	s->drop_malformed = c.malformed;
}

static int dev_set(void *ctx, const struct uapi_txn *txn)
{
	struct vguard_dev *d = ctx;
	int ret = uapi_store_apply(&d->store, txn);
	char msg[96];

	snprintf(msg, sizeof(msg), "UAPI: set: %zu peer section(s), errno=%d",
		 txn->n_peers, uapi_errno(ret));
	dev_log(d, ret == 0, msg);
	return ret;
}

static int dev_get(void *ctx, struct uapi_snapshot *snap)
{
	struct vguard_dev *d = ctx;

	return uapi_store_snapshot(&d->store, snap);
}

static int dev_stats(void *ctx, struct uapi_emitter *em)
{
	struct vguard_dev *d = ctx;

	fill_stats(d, &d->store.stats);
	return uapi_store_ops.stats(&d->store, em);
}

static const struct uapi_ops dev_ops = {
	.set = dev_set,
	.get = dev_get,
	.stats = dev_stats,
};

int vguard_dev_open(struct vguard_dev **out, struct tun *tun,
		    const struct vguard_dev_config *cfg)
{
	struct vguard_dev *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->tun = tun;
	d->cfg = *cfg;
	uapi_store_init(&d->store);
	*out = d;
	return 0;
}

const struct uapi_ops *vguard_dev_uapi(struct vguard_dev *d, void **ctx)
{
	*ctx = d;
	return &dev_ops;
}

void vguard_dev_link_event(struct vguard_dev *d, const struct tun_event *ev)
{
	char msg[64];

	switch (ev->type) {
	case TUN_EVENT_UP:
		d->up = true;
		dev_log(d, true, "Interface state was Down, requested Up, now Up");
		break;
	case TUN_EVENT_DOWN:
		d->up = false;
		dev_log(d, true, "Interface state was Up, requested Down, now Down");
		break;
	case TUN_EVENT_MTU:
		snprintf(msg, sizeof(msg), "MTU updated: %u", ev->mtu);
		dev_log(d, true, msg);
		break;
	default:
		break;
	}
}

void vguard_dev_close(struct vguard_dev *d)
{
	if (!d)
		return;
	tun_close(d->tun);
	uapi_store_free(&d->store);
	free(d);
}
