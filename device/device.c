/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "device/device_impl.h"
#include "device/ratelimiter.h"

/* ---- small helpers ---- */

uint64_t dev_now(struct device *d)
{
	struct timespec ts;

	if (d->opts.clock)
		return d->opts.clock(d->opts.clock_ctx);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

void dev_log(struct device *d, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (level > d->opts.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (d->opts.log)
		d->opts.log(d->opts.log_ctx, level, buf);
	else
		fprintf(stderr, "%s\n", buf);
}

void dev_exit(struct device *d, int reason)
{
	pthread_mutex_lock(&d->exit_lock);
	if (d->exit_reason < 0)
		d->exit_reason = reason;
	pthread_cond_broadcast(&d->exit_cond);
	pthread_mutex_unlock(&d->exit_lock);
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") && strcasecmp(v, "no") && strcasecmp(v, "false");
}

void device_options_init(struct device_options *o)
{
	memset(o, 0, sizeof(*o));
	o->log_level = DEVICE_LOG_ERROR;
}

void device_options_from_env(struct device_options *o)
{
	o->no_udp_gso |= env_true("VGUARD_NO_UDP_GSO");
	o->no_udp_gro_rx |= env_true("VGUARD_NO_UDP_GRO_RX");
}

unsigned int device_queues(const struct device_options *o)
{
	long n = o->queues;

	if (!n)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > DEVICE_MAX_QUEUES)
		n = DEVICE_MAX_QUEUES;
	return (unsigned int)n;
}

/* ---- endpoints: conn's value type <-> the protocol layer's ---- */

void ep_to_wg(struct wg_endpoint *w, const struct vg_endpoint *v)
{
	memset(w, 0, sizeof(*w));
	if (vg_endpoint_family(v) == AF_INET6) {
		w->addr.in6 = v->dst.in6;
		if (v->has_src)
			w->src6 = v->src.in6;
	} else {
		w->addr.in4 = v->dst.in4;
		if (v->has_src)
			w->src4 = v->src.in4;
	}
	if (v->has_src)
		w->src_ifindex = v->src_ifindex ? (int)v->src_ifindex : -1;
}

void ep_from_wg(struct vg_endpoint *v, const struct wg_endpoint *w)
{
	memset(v, 0, sizeof(*v));
	if (w->addr.sa.sa_family == AF_INET6) {
		v->dst.in6 = w->addr.in6;
		v->src.in6 = w->src6;
	} else if (w->addr.sa.sa_family == AF_INET) {
		v->dst.in4 = w->addr.in4;
		v->src.in4 = w->src4;
	}
	if (w->src_ifindex) {
		v->has_src = true;
		v->src_ifindex = w->src_ifindex > 0 ? (uint32_t)w->src_ifindex : 0;
	}
}

struct dev_peer *dev_peer_of(struct wg_peer *wp)
{
	return wp ? wp->user : NULL;
}

unsigned int dev_worker_for(struct device *d, const struct dev_peer *p)
{
	return p ? p->pub[0] % d->nworkers : 0;
}

/* ---- mailboxes ---- */

int mbox_push(struct worker *w, const struct mbox_item *it)
{
	uint64_t one = 1;
	int ret = 0;

	pthread_mutex_lock(&w->mbox_lock);
	if (w->mbox_count == MBOX_CAP) {
		ret = -ENOSPC;
		atomic_fetch_add(&w->mbox_dropped, 1);
	} else {
		w->mbox[(w->mbox_head + w->mbox_count) % MBOX_CAP] = *it;
		w->mbox_count++;
	}
	pthread_mutex_unlock(&w->mbox_lock);
	if (!ret && write(w->mbox_fd, &one, sizeof(one)) < 0)
		ret = 0;	/* the counter is already non-zero: the worker wakes */
	return ret;
}

void mbox_purge_peer(struct device *d, struct dev_peer *p)
{
	unsigned int i, k;

	for (i = 0; i < d->nworkers; i++) {
		struct worker *w = &d->workers[i];

		pthread_mutex_lock(&w->mbox_lock);
		for (k = 0; k < w->mbox_count; k++) {
			struct mbox_item *it = &w->mbox[(w->mbox_head + k) % MBOX_CAP];

			if (it->peer == p) {
				it->peer = NULL;
				if (it->kind != MBOX_RAW)
					it->len = 0, it->kind = MBOX_RAW;
			}
		}
		pthread_mutex_unlock(&w->mbox_lock);
	}
}

static void kick_workers(struct device *d)
{
	uint64_t one = 1;
	unsigned int i;

	for (i = 0; i < d->nworkers; i++)
		if (write(d->workers[i].mbox_fd, &one, sizeof(one)) < 0)
			continue;
}

/* ---- link state: binds open while the interface is up ---- */

static void bind_log(void *arg, const char *msg)
{
	dev_log(arg, DEVICE_LOG_VERBOSE, "udp: %s", msg);
}

static void bind_config(struct device *d, struct vg_bind_config *c, uint16_t port)
{
	memset(c, 0, sizeof(*c));
	c->port = port;
	c->queues = d->nworkers;
	c->fwmark = d->store.fwmark;
	c->no_gso = d->opts.no_udp_gso;
	c->no_gro = d->opts.no_udp_gro_rx;
	c->log = bind_log;
	c->log_arg = d;
}

static int open_binds(struct device *d, uint16_t port)
{
	struct vg_bind_config c;
	unsigned int i;
	int ret;

	bind_config(d, &c, port);
	if (!d->opts.memnet)
		return vg_bind_group_open(d->binds, &c);
	for (i = 0; i < d->nworkers; i++) {
		c.queue = i;
		ret = vg_bind_open_mem(&d->binds[i], d->opts.memnet, &c);
		if (ret) {
			vg_bind_group_close(d->binds, i);
			return ret;
		}
		if (!c.port)
			c.port = vg_bind_port(d->binds[0]);
	}
	return 0;
}

/* cfg_lock held for writing. */
int dev_link_up(struct device *d)
{
	int ret;

	d->link_up = true;
	if (d->binds_open)
		return 0;
	ret = open_binds(d, d->store.listen_port);
	if (ret) {
		dev_log(d, DEVICE_LOG_ERROR, "cannot open UDP port %u: %s",
			d->store.listen_port, strerror(-ret));
		return ret;
	}
	d->binds_open = true;
	d->port = vg_bind_port(d->binds[0]);
	d->store.listen_port = d->port;
	atomic_fetch_add(&d->bind_gen, 1);
	kick_workers(d);
	dev_clear_all_src(d);
	dev_log(d, DEVICE_LOG_VERBOSE, "link up: UDP port %u, %u queues", d->port, d->nworkers);
	return 0;
}

/* cfg_lock held for writing. */
void dev_link_down(struct device *d)
{
	d->link_up = false;
	if (!d->binds_open)
		return;
	vg_bind_group_close(d->binds, d->nworkers);
	memset(d->binds, 0, sizeof(d->binds));
	d->binds_open = false;
	d->port = 0;
	atomic_fetch_add(&d->bind_gen, 1);
	kick_workers(d);
	dev_log(d, DEVICE_LOG_VERBOSE, "link down: UDP sockets closed");
}

void dev_clear_all_src(struct device *d)
{
	struct wg_peer *p;

	for (p = d->proto.peers; p; p = p->next)
		wg_peer_clear_src(p);
}

/* ---- configuration (UAPI set) ---- */

static int hook_bind_port(void *arg, uint16_t *port)
{
	struct device *d = arg;
	int ret;

	/* Down: the port is used at the next link up.  Up but without
	 * sockets (the port was taken then): try again now. */
	if (!d->binds_open) {
		if (!d->link_up)
			return 0;
		ret = open_binds(d, *port);
		if (ret)
			return ret;
		d->binds_open = true;
		goto bound;
	}
	/* Same port: nothing to move (wg syncconf repeats it). */
	if (*port && *port == d->port)
		return 0;
	ret = d->opts.memnet ? -EOPNOTSUPP : vg_bind_group_rebind(d->binds, d->nworkers, *port);
	if (ret == -EOPNOTSUPP) {
		/* The in-memory network cannot rebind: reopen instead. */
		struct vg_bind *old[DEVICE_MAX_QUEUES];

		memcpy(old, d->binds, sizeof(old));
		ret = open_binds(d, *port);
		if (ret) {
			memcpy(d->binds, old, sizeof(old));
			return ret;
		}
		vg_bind_group_close(old, d->nworkers);
	}
	if (ret)
		return ret;
bound:
	d->port = vg_bind_port(d->binds[0]);
	*port = d->port;
	atomic_fetch_add(&d->bind_gen, 1);
	kick_workers(d);
	dev_clear_all_src(d);
	return 0;
}

static int hook_set_mark(void *arg, uint32_t mark)
{
	struct device *d = arg;
	unsigned int i;
	int ret;

	if (!d->binds_open)
		return 0;
	for (i = 0; i < d->nworkers; i++) {
		ret = vg_bind_set_fwmark(d->binds[i], mark);
		if (ret)
			return ret;
	}
	dev_clear_all_src(d);
	return 0;
}

static void remove_runtime_peer(struct device *d, struct wg_peer *wp)
{
	struct dev_peer *p = dev_peer_of(wp);

	mbox_purge_peer(d, p);
	wg_peer_remove(wp);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

/* The transaction's peer sections by public key, so each store peer finds
 * its section in O(1): open addressing over indices + 1 (0 is empty). */
struct op_index {
	const struct uapi_txn *txn;
	const struct wg_proto *proto;
	size_t mask;
	uint32_t *slots;
};

static size_t op_slot(const struct op_index *x, const uint8_t *pub)
{
	size_t i = wg_proto_key_hash(x->proto, pub) & x->mask;
	uint32_t v;

	for (; (v = x->slots[i]); i = (i + 1) & x->mask)
		if (!memcmp(x->txn->peers[v - 1].public_key, pub, UAPI_KEY_LEN))
			break;
	return i;
}

static int op_index_build(struct op_index *x, const struct uapi_txn *txn,
			  const struct wg_proto *proto)
{
	size_t cap = 16, i;

	while (cap < 2 * txn->n_peers)
		cap *= 2;
	x->txn = txn;
	x->proto = proto;
	x->mask = cap - 1;
	x->slots = calloc(cap, sizeof(*x->slots));
	if (!x->slots)
		return -ENOMEM;
	/* The last section for a key wins, as the store applied them in order. */
	for (i = 0; i < txn->n_peers; i++)
		x->slots[op_slot(x, txn->peers[i].public_key)] = (uint32_t)i + 1;
	return 0;
}

static const struct uapi_peer_op *txn_op_for(const struct op_index *x, const uint8_t *pub)
{
	uint32_t v = x->slots[op_slot(x, pub)];

	return v ? &x->txn->peers[v - 1] : NULL;
}

static void uapi_ep_to_wg(struct wg_endpoint *w, const struct uapi_endpoint *u)
{
	memset(w, 0, sizeof(*w));
	if (u->sa.sa_family == AF_INET6)
		w->addr.in6 = u->in6;
	else
		w->addr.in4 = u->in4;
}

static struct dev_peer *sync_peer(struct device *d, const struct uapi_store_peer *sp,
				  const struct op_index *ops, uint64_t now, int *err)
{
	const struct uapi_txn *txn = ops->txn;
	const struct uapi_peer_op *op = txn_op_for(ops, sp->public_key);
	struct wg_peer *wp = wg_proto_find_peer(&d->proto, sp->public_key);
	struct wg_endpoint ep;
	struct dev_peer *p;
	bool fresh = false;

	if (!wp) {
		p = calloc(1, sizeof(*p));
		if (!p) {
			*err = -ENOMEM;
			return NULL;
		}
		wp = wg_peer_new(&d->proto, sp->public_key, err);
		if (!wp) {
			free(p);
			return NULL;
		}
		p->wp = wp;
		memcpy(p->pub, sp->public_key, sizeof(p->pub));
		wp->user = p;
		fresh = true;
	}
	p = dev_peer_of(wp);
	/* replace_peers: every field comes from this transaction, but a peer
	 * listed again keeps its session (unlike wireguard-go, which drops
	 * it), so `wg setconf` with an unchanged peer does not stall. */
	if (txn->flags & UAPI_DEV_REPLACE_PEERS)
		fresh = true;
	if (fresh || (op && (op->flags & UAPI_PEER_PRESHARED_KEY)))
		wg_peer_set_psk(wp, sodium_is_zero(sp->preshared_key, UAPI_KEY_LEN) ?
				NULL : sp->preshared_key);
	if (sp->has_endpoint && (fresh || (op && (op->flags & UAPI_PEER_ENDPOINT)))) {
		uapi_ep_to_wg(&ep, &sp->endpoint);
		wg_peer_set_endpoint(wp, &ep);
	}
	if (fresh || (op && (op->flags & UAPI_PEER_KEEPALIVE))) {
		uint16_t old = (uint16_t)atomic_load(&wp->persistent_keepalive);

		if (old != sp->persistent_keepalive_interval)
			wg_peer_set_persistent_keepalive(wp, sp->persistent_keepalive_interval,
							 now);
	}
	return p;
}

/* Brings the protocol state and the routing table in line with the store;
 * cfg_lock held for writing. */
static int sync_runtime(struct device *d, const struct uapi_txn *txn, bool key_changed)
{
	struct allowedips *rt = allowedips_new();
	struct wg_peer *wp, *next;
	uint64_t now = dev_now(d);
	struct op_index ops;
	size_t i, j;
	int ret = 0;

	if (!rt)
		return -ENOMEM;
	ret = op_index_build(&ops, txn, &d->proto);
	if (ret) {
		allowedips_free(rt);
		return ret;
	}
	if (key_changed) {
		bool none = sodium_is_zero(d->store.private_key, UAPI_KEY_LEN);

		ret = wg_proto_set_private_key(&d->proto, none ? NULL : d->store.private_key);
		if (ret)
			goto out;
		for (wp = d->proto.peers; wp; wp = wp->next)
			wg_peer_zero_keys(wp);
	}
	/* Peers gone from the store (removed, replaced, or our own key):
	 * mark those still there, then sweep the rest. */
	d->sync_gen++;
	for (i = 0; i < d->store.n_peers; i++) {
		wp = wg_proto_find_peer(&d->proto, d->store.peers[i].public_key);
		if (wp)
			dev_peer_of(wp)->sync_gen = d->sync_gen;
	}
	for (wp = d->proto.peers; wp; wp = next) {
		next = wp->next;
		if (dev_peer_of(wp)->sync_gen != d->sync_gen)
			remove_runtime_peer(d, wp);
	}
	for (i = 0; i < d->store.n_peers; i++) {
		const struct uapi_store_peer *sp = &d->store.peers[i];
		struct dev_peer *p = sync_peer(d, sp, &ops, now, &ret);

		if (!p)
			goto out;
		for (j = 0; j < sp->n_aips; j++) {
			const struct uapi_prefix *a = &sp->aips[j];

			ret = allowedips_insert(rt, a->family, a->addr, a->cidr, p);
			if (ret)
				goto out;
		}
	}
	allowedips_free(d->rt);
	d->rt = rt;
	free(ops.slots);
	return 0;
out:
	allowedips_free(rt);
	free(ops.slots);
	return ret;
}

static int dev_set(void *ctx, const struct uapi_txn *txn)
{
	struct device *d = ctx;
	uint8_t old_key[UAPI_KEY_LEN];
	bool key_changed;
	int ret;

	pthread_rwlock_wrlock(&d->cfg_lock);
	memcpy(old_key, d->store.private_key, UAPI_KEY_LEN);
	ret = uapi_store_apply(&d->store, txn);
	if (ret)
		goto out;
	key_changed = sodium_memcmp(old_key, d->store.private_key, UAPI_KEY_LEN) != 0;
	ret = sync_runtime(d, txn, key_changed);
	if (ret)
		dev_log(d, DEVICE_LOG_ERROR, "applying the configuration: %s", strerror(-ret));
out:
	sodium_memzero(old_key, sizeof(old_key));
	pthread_rwlock_unlock(&d->cfg_lock);
	return ret;
}

/* ---- get ---- */

static void wg_ep_to_uapi(struct uapi_endpoint *u, const struct wg_endpoint *w)
{
	memset(u, 0, sizeof(*u));
	if (w->addr.sa.sa_family == AF_INET6)
		u->in6 = w->addr.in6;
	else
		u->in4 = w->addr.in4;
}

/* get and stats read the same per-thread counters, summed. */
static void peer_bytes(const struct dev_peer *p, uint64_t *rx, uint64_t *tx)
{
	unsigned int k;

	*rx = *tx = 0;
	for (k = 0; k < SLOTS; k++) {
		*rx += __atomic_load_n(&p->cnt[k].v[PC_rx_bytes], __ATOMIC_RELAXED);
		*tx += __atomic_load_n(&p->cnt[k].v[PC_tx_bytes], __ATOMIC_RELAXED);
	}
}

static int dev_get(void *ctx, struct uapi_snapshot *snap)
{
	struct device *d = ctx;
	struct wg_endpoint ep;
	size_t i;
	int ret;

	pthread_rwlock_rdlock(&d->cfg_lock);
	ret = uapi_store_snapshot(&d->store, snap);
	if (!ret)
		snap->listen_port = d->binds_open ? d->port : d->store.listen_port;
	for (i = 0; !ret && i < snap->n_peers; i++) {
		struct uapi_peer_info *pi = &snap->peers[i];
		struct wg_peer *wp = wg_proto_find_peer(&d->proto, pi->public_key);
		uint64_t hs;

		if (!wp)
			continue;
		if (wg_peer_get_endpoint(wp, &ep) && ep.addr.sa.sa_family) {
			pi->has_endpoint = true;
			wg_ep_to_uapi(&pi->endpoint, &ep);
		}
		hs = atomic_load(&wp->last_handshake_ns);
		pi->last_handshake_sec = (int64_t)(hs / WG_NSEC_PER_SEC);
		pi->last_handshake_nsec = (int64_t)(hs % WG_NSEC_PER_SEC);
		peer_bytes(dev_peer_of(wp), &pi->rx_bytes, &pi->tx_bytes);
	}
	pthread_rwlock_unlock(&d->cfg_lock);
	return ret;
}

/* ---- stats ---- */

static void sum_dc(struct dcounters *out, const struct dcounters *in)
{
	unsigned int i;

	for (i = 0; i < PC_MAX; i++)
		out->p[i] += __atomic_load_n(&in->p[i], __ATOMIC_RELAXED);
	for (i = 0; i < DC_MAX; i++)
		out->d[i] += __atomic_load_n(&in->d[i], __ATOMIC_RELAXED);
}

static enum uapi_offload_state tun_state(const struct tun_offload_state *s, enum tun_feature f)
{
	const char *why = s->why[f];

	if (s->on[f])
		return UAPI_OFFLOAD_ON;
	if (strstr(why, "by option") || strstr(why, "disabled"))
		return UAPI_OFFLOAD_DISABLED;
	if (strstr(why, "probe"))
		return UAPI_OFFLOAD_PROBE_FAILED;
	if (strstr(why, "refused a coalesced write"))
		return UAPI_OFFLOAD_ERROR;
	return UAPI_OFFLOAD_UNSUPPORTED;
}

static enum uapi_offload_state bind_state(struct device *d, unsigned int bits, bool switched_off)
{
	const char *why;

	if (switched_off)
		return UAPI_OFFLOAD_DISABLED;
	if (!d->binds_open)
		return UAPI_OFFLOAD_INACTIVE;
	if (vg_bind_offloads(d->binds[0]) & bits)
		return UAPI_OFFLOAD_ON;
	/* Off for both families: the IPv4 reason stands for the pair. */
	why = vg_bind_offload_state(d->binds[0], bits & (VG_BIND_GSO4 | VG_BIND_GRO4));
	if (why && strstr(why, "switch"))
		return UAPI_OFFLOAD_DISABLED;
	if (why && (strstr(why, "EIO") || strstr(why, "error")))
		return UAPI_OFFLOAD_ERROR;
	return UAPI_OFFLOAD_UNSUPPORTED;
}

static void fill_device_stats(struct device *d, struct uapi_device_stats *s)
{
	struct tun_offload_state os;
	struct tun_counters tc;
	struct vg_bind_stats bs;
	struct dcounters sum;
	struct wg_peer *wp;
	unsigned int i;

	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < d->nworkers; i++)
		sum_dc(&sum, &d->workers[i].cnt);
	sum_dc(&sum, &d->hs_cnt);
	sum_dc(&sum, &d->ctl_cnt);
#define X(n) s->n = sum.p[PC_##n];
	UAPI_PEER_COUNTERS(X)
#undef X
#define X(n) s->n = sum.d[DC_##n];
	UAPI_DEVICE_COUNTERS(X)
#undef X
	s->drop_bad_mac += wg_proto_counter(&d->proto, WG_CNT_BAD_MAC1) +
			   wg_proto_counter(&d->proto, WG_CNT_BAD_DATA) +
			   wg_proto_counter(&d->proto, WG_CNT_BAD_INITIATION) +
			   wg_proto_counter(&d->proto, WG_CNT_BAD_RESPONSE) +
			   wg_proto_counter(&d->proto, WG_CNT_BAD_COOKIE);
	s->drop_replay += wg_proto_counter(&d->proto, WG_CNT_REPLAYED_DATA) +
			  wg_proto_counter(&d->proto, WG_CNT_REPLAYED_INITIATION);
	s->drop_unknown_index += wg_proto_counter(&d->proto, WG_CNT_UNKNOWN_INDEX);
	s->drop_malformed += wg_proto_counter(&d->proto, WG_CNT_BAD_LENGTH) +
			     wg_proto_counter(&d->proto, WG_CNT_BAD_TYPE) +
			     wg_proto_counter(&d->proto, WG_CNT_EXPIRED_DATA);

	/* Staged packets dropped oldest-first while a handshake was pending. */
	for (wp = d->proto.peers; wp; wp = wp->next)
		s->drop_queue_full += atomic_load(&wp->staged_dropped);
	for (i = 0; i < d->nworkers; i++)
		s->drop_queue_full += atomic_load(&d->workers[i].mbox_dropped);

	tun_get_counters(d->tun, &tc);
	s->tso_packets = tc.gso[TUN_GSO_TCP4].packets + tc.gso[TUN_GSO_TCP6].packets;
	s->tso_segments = tc.gso[TUN_GSO_TCP4].segments + tc.gso[TUN_GSO_TCP6].segments;
	s->uso_packets = tc.gso[TUN_GSO_UDP4].packets + tc.gso[TUN_GSO_UDP6].packets;
	s->uso_segments = tc.gso[TUN_GSO_UDP4].segments + tc.gso[TUN_GSO_UDP6].segments;
	s->tcp_gro_writes = tc.coalesced[GRO_PROTO_TCP];
	s->tcp_gro_segments = tc.merged[GRO_PROTO_TCP];
	s->udp_gro_writes = tc.coalesced[GRO_PROTO_UDP];
	s->udp_gro_segments = tc.merged[GRO_PROTO_UDP];
	s->drop_malformed += tc.malformed;

	memset(&bs, 0, sizeof(bs));
	if (d->binds_open)
		for (i = 0; i < d->nworkers; i++)
			vg_bind_add_stats(d->binds[i], &bs);
	s->udp_gso_messages = bs.tx_gso_msgs;
	s->udp_gso_datagrams = bs.tx_gso_datagrams;
	s->udp_gro_rx_messages = bs.rx_gro_batches;
	s->udp_gro_rx_datagrams = bs.rx_gro_datagrams;

	tun_get_offload(d->tun, &os);
	s->tso = tun_state(&os, TUN_FEAT_TSO);
	s->uso = tun_state(&os, TUN_FEAT_USO);
	s->tcp_gro = tun_state(&os, TUN_FEAT_TCP_GRO);
	s->udp_gro = tun_state(&os, TUN_FEAT_UDP_GRO);
	s->udp_gso = bind_state(d, VG_BIND_GSO, d->opts.no_udp_gso);
	s->udp_gro_rx = bind_state(d, VG_BIND_GRO, d->opts.no_udp_gro_rx);
}

static int dev_stats(void *ctx, struct uapi_emitter *em)
{
	struct device *d = ctx;
	struct uapi_device_stats ds;
	struct uapi_peer_stats ps;
	struct wg_peer *wp;
	unsigned int i, k;
	int ret;

	pthread_rwlock_rdlock(&d->cfg_lock);
	memset(&ds, 0, sizeof(ds));
	fill_device_stats(d, &ds);
	ret = uapi_emit_device_stats(em, &ds);
	for (wp = d->proto.peers; !ret && wp; wp = wp->next) {
		struct dev_peer *p = dev_peer_of(wp);
		uint64_t v[PC_MAX] = { 0 };

		for (k = 0; k < SLOTS; k++)
			for (i = 0; i < PC_MAX; i++)
				v[i] += __atomic_load_n(&p->cnt[k].v[i], __ATOMIC_RELAXED);
		memset(&ps, 0, sizeof(ps));
		memcpy(ps.public_key, p->pub, UAPI_KEY_LEN);
#define X(n) ps.n = v[PC_##n];
		UAPI_PEER_COUNTERS(X)
#undef X
		ps.drop_queue_full += atomic_load(&wp->staged_dropped);
		ret = uapi_emit_peer_stats(em, &ps);
	}
	pthread_rwlock_unlock(&d->cfg_lock);
	return ret;
}

const struct uapi_ops device_uapi_ops = {
	.set = dev_set,
	.get = dev_get,
	.stats = dev_stats,
};

uint16_t device_port(struct device *d)
{
	uint16_t port;

	pthread_rwlock_rdlock(&d->cfg_lock);
	port = d->port;
	pthread_rwlock_unlock(&d->cfg_lock);
	return port;
}

void device_describe_offloads(struct device *d, char *buf, size_t len)
{
	struct uapi_device_stats s;
	size_t off = 0;

	pthread_rwlock_rdlock(&d->cfg_lock);
	memset(&s, 0, sizeof(s));
	fill_device_stats(d, &s);
	pthread_rwlock_unlock(&d->cfg_lock);
	buf[0] = 0;
#define X(n) \
	if (off < len) \
		off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", off ? " " : "", #n, \
					uapi_offload_state_name(s.n));
	UAPI_OFFLOADS(X)
#undef X
}

/* ---- lifecycle ---- */

/* Under load, each source address gets a few handshakes per second. */
static bool dev_ratelimit(void *ctx, const struct wg_endpoint *src, uint64_t now)
{
	if (src->addr.sa.sa_family == AF_INET6)
		return ratelimiter_allow(ctx, AF_INET6, &src->addr.in6.sin6_addr);
	return ratelimiter_allow(ctx, AF_INET, &src->addr.in4.sin_addr);
}

static int worker_init(struct device *d, struct worker *w, unsigned int id)
{
	const size_t slot = SLOT_SIZE;
	unsigned int i;

	w->dev = d;
	w->id = id;
	w->epfd = -1;
	w->reg_fd[0] = w->reg_fd[1] = -1;
	pthread_mutex_init(&w->mbox_lock, NULL);
	w->mbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->mbox = calloc(MBOX_CAP, sizeof(*w->mbox));
	/* Large, mostly untouched: the kernel backs only the pages used. */
	w->tx_mem = malloc(slot * TUN_MAX_BATCH);
	w->rx_mem = malloc(slot * VG_BIND_BATCH);
	w->icmp_buf = malloc(slot);
	if (w->mbox_fd < 0 || !w->mbox || !w->tx_mem || !w->rx_mem || !w->icmp_buf)
		return -ENOMEM;
	for (i = 0; i < TUN_MAX_BATCH; i++)
		w->tx_bufs[i] = w->tx_mem + i * slot;
	for (i = 0; i < VG_BIND_BATCH; i++)
		w->rx_bufs[i] = w->rx_mem + i * slot;
	return 0;
}

static void worker_free(struct worker *w)
{
	if (w->mbox_fd >= 0)
		close(w->mbox_fd);
	if (w->epfd >= 0)
		close(w->epfd);
	free(w->mbox);
	free(w->tx_mem);
	free(w->rx_mem);
	free(w->icmp_buf);
	pthread_mutex_destroy(&w->mbox_lock);
}

int device_new(struct device **out, struct tun *tun, const struct device_options *o)
{
	pthread_rwlockattr_t attr;
	struct device *d;
	unsigned int i;
	int ret, mtu;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d) {
		tun_close(tun);
		return -ENOMEM;
	}
	d->opts = *o;
	d->tun = tun;
	d->exit_reason = -1;
	d->stop_fd = -1;
	d->wake_fd = -1;
	d->ctl_epfd = -1;
	d->nworkers = tun_queues(tun);
	if (d->nworkers > DEVICE_MAX_QUEUES)
		d->nworkers = DEVICE_MAX_QUEUES;
	if (!d->nworkers)
		d->nworkers = 1;
	mtu = tun_mtu(tun);
	atomic_store(&d->mtu, mtu > 0 ? (unsigned int)mtu : TUN_DEFAULT_MTU);
	/* Writers (set, link changes) must not starve behind busy workers. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&d->cfg_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&d->exit_lock, NULL);
	pthread_cond_init(&d->exit_cond, NULL);
	pthread_mutex_init(&d->hs_lock, NULL);
	pthread_cond_init(&d->hs_cond, NULL);
	uapi_store_init(&d->store);
	d->store.bind_port = hook_bind_port;
	d->store.set_mark = hook_set_mark;
	d->store.hook_arg = d;
	ret = crypto_init();
	if (ret)
		goto fail;
	ret = wg_proto_init(&d->proto);
	if (ret)
		goto fail;
	ret = -ENOMEM;
	d->ratelimiter = ratelimiter_new(0, NULL, NULL);
	if (!d->ratelimiter)
		goto fail;
	d->proto.ratelimit = dev_ratelimit;
	d->proto.ratelimit_ctx = d->ratelimiter;
	d->hs_queue = calloc(HS_QUEUE_CAP, sizeof(*d->hs_queue));
	d->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!d->hs_queue || d->stop_fd < 0 || d->wake_fd < 0)
		goto fail;
	for (i = 0; i < d->nworkers; i++) {
		ret = worker_init(d, &d->workers[i], i);
		if (ret)
			goto fail;
	}
	*out = d;
	return 0;
fail:
	device_free(d);
	return ret;
}

int device_uapi_start(struct device *d, int listen_fd, const char *path)
{
	int ret = uapi_server_init(&d->uapi, listen_fd, path ? path : "", &device_uapi_ops, d);

	if (ret)
		return ret;
	d->uapi_on = true;
	return 0;
}

int device_start(struct device *d)
{
	int ret;

	ret = hs_start(d);
	if (!ret)
		ret = worker_start_all(d);
	if (!ret)
		ret = ctl_start(d);
	return ret;
}

int device_wait(struct device *d)
{
	int r;

	pthread_mutex_lock(&d->exit_lock);
	while (d->exit_reason < 0) {
		uint64_t v;

		/* device_stop() only writes the eventfd (signal safe): poll it. */
		if (read(d->stop_fd, &v, sizeof(v)) == sizeof(v)) {
			d->exit_reason = DEVICE_EXIT_STOPPED;
			break;
		}
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&d->exit_cond, &d->exit_lock, &ts);
	}
	r = d->exit_reason;
	pthread_mutex_unlock(&d->exit_lock);
	return r;
}

void device_stop(struct device *d)
{
	uint64_t one = 1;

	if (write(d->stop_fd, &one, sizeof(one)) < 0)
		return;
}

void device_free(struct device *d)
{
	struct wg_peer *wp, *next;
	unsigned int i;

	if (!d)
		return;
	atomic_store(&d->stopping, true);
	ctl_stop(d);
	worker_stop_all(d);
	hs_stop(d);
	pthread_rwlock_wrlock(&d->cfg_lock);
	dev_link_down(d);
	for (wp = d->proto.peers; wp; wp = next) {
		next = wp->next;
		remove_runtime_peer(d, wp);
	}
	pthread_rwlock_unlock(&d->cfg_lock);
	if (d->uapi_on)
		uapi_server_close(&d->uapi);
	wg_proto_destroy(&d->proto);
	ratelimiter_free(d->ratelimiter);
	uapi_store_free(&d->store);
	allowedips_free(d->rt);
	for (i = 0; i < d->nworkers; i++)
		worker_free(&d->workers[i]);
	tun_close(d->tun);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	if (d->ctl_epfd >= 0)
		close(d->ctl_epfd);
	free(d->hs_queue);
	pthread_rwlock_destroy(&d->cfg_lock);
	free(d);
}
