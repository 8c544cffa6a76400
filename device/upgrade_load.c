/* SPDX-License-Identifier: MIT */
/*
 * Reading the state a live upgrade hands over (upgrade_state.c writes it)
 * into a new device.  Everything is parsed twice: a first pass checks
 * every field and builds the configuration transaction, which is applied
 * as a set; the second puts the sessions into the peers the set made.
 * Any field out of range, a length that does not add up or a hash that
 * does not match is -EBADMSG; another version or layout is -EPROTO.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "device/crypto.h"
#include "device/device_impl.h"
#include "device/upgrade.h"
#include "device/upgrade_impl.h"

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static void get(struct rbuf *r, void *v, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		memset(v, 0, n);
		return;
	}
	memcpy(v, r->p + r->off, n);
	r->off += n;
}

static uint8_t get_u8(struct rbuf *r)
{
	uint8_t v;

	get(r, &v, 1);
	return v;
}

static bool get_bool(struct rbuf *r)
{
	uint8_t v = get_u8(r);

	if (v > 1)
		r->bad = true;
	return v == 1;
}

static uint16_t get_u16(struct rbuf *r)
{
	uint16_t v;

	get(r, &v, 2);
	return v;
}

static uint32_t get_u32(struct rbuf *r)
{
	uint32_t v;

	get(r, &v, 4);
	return v;
}

static uint64_t get_u64(struct rbuf *r)
{
	uint64_t v;

	get(r, &v, 8);
	return v;
}

static void get_endpoint(struct rbuf *r, struct vg_endpoint *ep)
{
	uint8_t addr[16];
	uint16_t fam, port;
	uint32_t scope;

	memset(ep, 0, sizeof(*ep));
	fam = get_u16(r);
	get(r, addr, 16);
	port = get_u16(r);
	scope = get_u32(r);
	get(r, &ep->src, 16);
	ep->src_ifindex = get_u32(r);
	ep->has_src = get_bool(r);
	ep->zone_numeric = get_bool(r);
	if (fam == AF_INET) {
		ep->dst.in4.sin_family = AF_INET;
		memcpy(&ep->dst.in4.sin_addr, addr, 4);
		ep->dst.in4.sin_port = port;
	} else if (fam == AF_INET6) {
		ep->dst.in6.sin6_family = AF_INET6;
		memcpy(&ep->dst.in6.sin6_addr, addr, 16);
		ep->dst.in6.sin6_port = port;
		ep->dst.in6.sin6_scope_id = scope;
	} else if (fam) {
		r->bad = true;
	}
}

/* One keypair slot as read; keys wiped by the caller. */
struct kp_rec {
	bool present, hashed, initiator, valid;
	uint8_t send[AEAD_KEY_SIZE], recv[AEAD_KEY_SIZE];
	uint64_t counter, birthdate;
	struct replay replay;
	uint32_t index, remote_index;
};

/* A peer's live state as read (large: one at a time). */
struct live_rec {
	bool has_ep;
	struct vg_endpoint ep;
	uint64_t last_hs;
	uint64_t cnt[PC_MAX];
	struct wg_timers timers;
	struct noise_handshake hs;
	bool hs_hashed;
	uint32_t hs_index;
	struct kp_rec kp[3];	/* previous, current, next */
};

static void get_keypair(struct rbuf *r, struct kp_rec *k)
{
	memset(k, 0, sizeof(*k));
	k->present = get_bool(r);
	if (!k->present)
		return;
	get(r, k->send, sizeof(k->send));
	get(r, k->recv, sizeof(k->recv));
	k->counter = get_u64(r);
	k->replay.last = get_u64(r);
	get(r, k->replay.ring, sizeof(k->replay.ring));
	k->birthdate = get_u64(r);
	k->index = get_u32(r);
	k->hashed = get_bool(r);
	k->remote_index = get_u32(r);
	k->initiator = get_bool(r);
	k->valid = get_bool(r);
}

static void get_live(struct rbuf *r, struct live_rec *l)
{
	struct wg_timers *t = &l->timers;
	struct noise_handshake *hs = &l->hs;
	int i;

	l->has_ep = get_bool(r);
	get_endpoint(r, &l->ep);
	l->last_hs = get_u64(r);
	get(r, l->cnt, sizeof(l->cnt));
	t->retransmit_handshake = get_u64(r);
	t->send_keepalive = get_u64(r);
	t->new_handshake = get_u64(r);
	t->zero_key_material = get_u64(r);
	t->persistent_keepalive = get_u64(r);
	t->last_sent_handshake = get_u64(r);
	t->have_sent_handshake = get_bool(r);
	t->need_another_keepalive = get_bool(r);
	t->sent_lastminute_handshake = get_bool(r);
	t->handshake_attempts = get_u32(r);
	hs->state = get_u8(r);
	if (hs->state > HANDSHAKE_CONSUMED_RESPONSE)
		r->bad = true;
	l->hs_hashed = get_bool(r);
	l->hs_index = get_u32(r);
	hs->last_initiation_consumption = get_u64(r);
	hs->have_consumed_initiation = get_bool(r);
	get(r, hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	get(r, hs->ephemeral_private, sizeof(hs->ephemeral_private));
	get(r, hs->hash, sizeof(hs->hash));
	get(r, hs->chaining_key, sizeof(hs->chaining_key));
	get(r, hs->latest_timestamp, sizeof(hs->latest_timestamp));
	hs->remote_index = get_u32(r);
	for (i = 0; i < 3; i++)
		get_keypair(r, &l->kp[i]);
}

static bool prefix_ok(const struct uapi_prefix *p)
{
	return (p->family == AF_INET && p->cidr <= 32) || (p->family == AF_INET6 && p->cidr <= 128);
}

/* A peer's configuration into op (NULL: skipped), its live state into l. */
static void get_peer(struct rbuf *r, struct uapi_peer_op *op, uint8_t *pub, bool *live,
		     struct live_rec *l)
{
	struct uapi_peer_op tmp;
	struct uapi_prefix pfx;
	uint32_t n, i;
	bool has_ep;

	if (!op)
		op = &tmp;
	memset(op, 0, sizeof(*op));
	get(r, op->public_key, UAPI_KEY_LEN);
	memcpy(pub, op->public_key, UAPI_KEY_LEN);
	get(r, op->preshared_key, UAPI_KEY_LEN);
	op->persistent_keepalive_interval = get_u16(r);
	has_ep = get_bool(r);
	get_endpoint(r, &op->endpoint);
	op->flags = UAPI_PEER_PRESHARED_KEY | UAPI_PEER_KEEPALIVE | UAPI_PEER_REPLACE_ALLOWED_IPS |
		    (has_ep ? UAPI_PEER_ENDPOINT : 0);
	n = get_u32(r);
	/* Each prefix takes 18 bytes: a bad count cannot allocate much. */
	if (n > (r->len - r->off) / 18)
		r->bad = true;
	if (!r->bad && op != &tmp && n) {
		op->aips = calloc(n, sizeof(*op->aips));
		if (!op->aips)
			r->bad = true;
		else
			op->cap_aips = n;
	}
	for (i = 0; i < n && !r->bad; i++) {
		memset(&pfx, 0, sizeof(pfx));
		pfx.family = get_u8(r);
		pfx.cidr = get_u8(r);
		get(r, pfx.addr, 16);
		if (!prefix_ok(&pfx))
			r->bad = true;
		if (op != &tmp && !r->bad) {
			op->aips[i].action = UAPI_AIP_ADD;
			op->aips[i].prefix = pfx;
			op->n_aips = i + 1;
		}
	}
	if (op == &tmp)
		sodium_memzero(&tmp, sizeof(tmp));
	*live = get_bool(r);
	if (*live)
		get_live(r, l);
}

struct dev_rec {
	uint32_t queues;
	bool link_up;
	uint16_t port;
	uint64_t pc[PC_MAX], dc[DC_MAX], wg[WG_CNT_MAX];
};

static void get_device(struct rbuf *r, struct dev_rec *dr, struct uapi_txn *txn)
{
	get_u64(r);	/* the sender's clock: the same monotonic clock as ours */
	dr->queues = get_u32(r);
	dr->link_up = get_bool(r);
	dr->port = get_u16(r);
	get(r, txn->private_key, UAPI_KEY_LEN);
	txn->listen_port = get_u16(r);
	txn->fwmark = get_u32(r);
	txn->flags = UAPI_DEV_PRIVATE_KEY | UAPI_DEV_LISTEN_PORT | UAPI_DEV_FWMARK |
		     UAPI_DEV_REPLACE_PEERS;
	get(r, dr->pc, sizeof(dr->pc));
	get(r, dr->dc, sizeof(dr->dc));
	get(r, dr->wg, sizeof(dr->wg));
}

/* Checks the header and the hash; the body in *r. */
static int open_blob(struct rbuf *r, const uint8_t *blob, size_t len)
{
	uint8_t hash[UPG_HASH_LEN];
	uint64_t layout, body;
	uint32_t version;

	if (len < UPG_HDR_LEN + UPG_HASH_LEN || memcmp(blob, UPG_MAGIC, 8))
		return -EBADMSG;
	memcpy(&version, blob + 8, 4);
	memcpy(&layout, blob + 16, 8);
	memcpy(&body, blob + 24, 8);
	if (version != DEVICE_UPGRADE_VERSION || layout != device_upgrade_layout())
		return -EPROTO;
	if (body != len - UPG_HDR_LEN - UPG_HASH_LEN)
		return -EBADMSG;
	crypto_generichash(hash, sizeof(hash), blob, len - UPG_HASH_LEN, NULL, 0);
	if (sodium_memcmp(hash, blob + len - UPG_HASH_LEN, UPG_HASH_LEN))
		return -EBADMSG;
	r->p = blob + UPG_HDR_LEN;
	r->len = (size_t)body;
	r->off = 0;
	r->bad = false;
	return 0;
}

/* Pass 1: every field checked, the configuration as one set. */
static int parse_config(struct rbuf *r, struct dev_rec *dr, struct uapi_txn *txn,
			struct live_rec *l)
{
	uint8_t pub[UAPI_KEY_LEN];
	uint32_t n, i;
	bool live;

	get_device(r, dr, txn);
	n = get_u32(r);
	if (n > UAPI_MAX_PEERS || r->bad)
		return -EBADMSG;
	txn->peers = n ? calloc(n, sizeof(*txn->peers)) : NULL;
	if (n && !txn->peers)
		return -ENOMEM;
	txn->cap_peers = n;
	for (i = 0; i < n && !r->bad; i++) {
		get_peer(r, &txn->peers[i], pub, &live, l);
		txn->n_peers = i + 1;
	}
	if (r->bad || r->off != r->len)
		return -EBADMSG;
	return 0;
}

static struct noise_keypair *keypair_import(const struct kp_rec *k, struct wg_peer *wp)
{
	struct noise_keypair *kp = calloc(1, sizeof(*kp));

	if (!kp)
		return NULL;
	kp->send = dp_aead_new(k->send);
	kp->recv = dp_aead_new(k->recv);
	if (!kp->send || !kp->recv) {
		dp_aead_free(kp->send);
		dp_aead_free(kp->recv);
		free(kp);
		return NULL;
	}
	atomic_init(&kp->refcount, 1);
	atomic_init(&kp->send_counter, k->counter);
	atomic_init(&kp->valid, k->valid);
	pthread_mutex_init(&kp->replay_lock, NULL);
	kp->replay = k->replay;
	kp->entry.type = INDEX_KEYPAIR;
	kp->entry.keypair = kp;
	kp->entry.peer = wp;
	kp->peer = wp;
	kp->birthdate = k->birthdate;
	kp->i_am_the_initiator = k->initiator;
	kp->remote_index = k->remote_index;
	return kp;
}

/* The keypair goes into its slot before it is indexed, so a failure
 * leaves it where wg_peer_free() finds it. */
static int put_slot(struct wg_peer *wp, struct noise_keypair **slot, const struct kp_rec *k)
{
	struct noise_keypair *kp;

	if (!k->present)
		return 0;
	kp = keypair_import(k, wp);
	if (!kp)
		return -ENOMEM;
	pthread_mutex_lock(&wp->keypairs.lock);
	*slot = kp;
	pthread_mutex_unlock(&wp->keypairs.lock);
	if (k->hashed && index_table_insert_at(&wp->proto->index, &kp->entry, k->index))
		return -EBADMSG;
	return 0;
}

static int restore_live(struct device *d, struct wg_peer *wp, const struct live_rec *l)
{
	struct noise_handshake *hs = &wp->handshake;
	struct dev_peer *p = dev_peer_of(wp);
	unsigned int k;
	int ret = 0;

	pthread_mutex_lock(&wp->lock);
	hs->state = l->hs.state;
	hs->last_initiation_consumption = l->hs.last_initiation_consumption;
	hs->have_consumed_initiation = l->hs.have_consumed_initiation;
	memcpy(hs->remote_ephemeral, l->hs.remote_ephemeral, sizeof(hs->remote_ephemeral));
	memcpy(hs->ephemeral_private, l->hs.ephemeral_private, sizeof(hs->ephemeral_private));
	memcpy(hs->hash, l->hs.hash, sizeof(hs->hash));
	memcpy(hs->chaining_key, l->hs.chaining_key, sizeof(hs->chaining_key));
	memcpy(hs->latest_timestamp, l->hs.latest_timestamp, sizeof(hs->latest_timestamp));
	hs->remote_index = l->hs.remote_index;
	if (l->hs_hashed && index_table_insert_at(&d->proto.index, &hs->entry, l->hs_index))
		ret = -EBADMSG;
	if (!ret)
		ret = put_slot(wp, &wp->keypairs.previous, &l->kp[0]);
	if (!ret)
		ret = put_slot(wp, &wp->keypairs.current, &l->kp[1]);
	if (!ret)
		ret = put_slot(wp, &wp->keypairs.next, &l->kp[2]);
	wp->timers = l->timers;
	pthread_mutex_unlock(&wp->lock);
	if (l->has_ep)
		wg_peer_set_endpoint(wp, &l->ep);
	atomic_store(&wp->last_handshake_ns, l->last_hs);
	/* The handshake thread's slot: it does not run yet. */
	for (k = 0; k < PC_MAX; k++)
		p->cnt[SLOT_HANDSHAKE(d)].v[k] += l->cnt[k];
	return ret;
}

/* Pass 2: the sessions into the peers the set made. */
static int restore_sessions(struct device *d, struct rbuf *r, struct live_rec *l)
{
	struct uapi_txn skip;
	struct dev_rec dr;
	uint8_t pub[UAPI_KEY_LEN];
	struct wg_peer *wp;
	uint32_t n, i;
	bool live;
	int ret = 0;

	memset(&skip, 0, sizeof(skip));
	get_device(r, &dr, &skip);
	sodium_memzero(&skip, sizeof(skip));
	n = get_u32(r);
	for (i = 0; i < n && !ret; i++) {
		memset(l, 0, sizeof(*l));
		get_peer(r, NULL, pub, &live, l);
		if (!live)
			continue;
		wp = wg_proto_find_peer(&d->proto, pub);
		ret = wp ? restore_live(d, wp, l) : -EBADMSG;
	}
	sodium_memzero(l, sizeof(*l));
	/* No deadline may be missed: the next tick visits every peer. */
	atomic_store(&d->proto.timers_due, 0);
	return ret;
}

static void restore_counters(struct device *d, const struct dev_rec *dr)
{
	unsigned int k;

	for (k = 0; k < PC_MAX; k++)
		d->ctl_cnt.p[k] += dr->pc[k];
	for (k = 0; k < DC_MAX; k++)
		d->ctl_cnt.d[k] += dr->dc[k];
	for (k = 0; k < WG_CNT_MAX; k++)
		atomic_fetch_add(&d->proto.counters[k], dr->wg[k]);
}

int device_upgrade_load(struct device *d, const uint8_t *blob, size_t len)
{
	struct live_rec *l = calloc(1, sizeof(*l));
	struct uapi_txn txn;
	struct dev_rec dr;
	struct rbuf r;
	int ret;

	memset(&txn, 0, sizeof(txn));
	if (!l)
		return -ENOMEM;
	ret = open_blob(&r, blob, len);
	if (!ret)
		ret = parse_config(&r, &dr, &txn, l);
	if (!ret && dr.queues != d->nworkers)
		ret = -EINVAL;
	if (!ret)
		ret = dev_set(d, &txn);
	if (!ret) {
		r.off = 0;
		ret = restore_sessions(d, &r, l);
	}
	if (!ret)
		restore_counters(d, &dr);
	uapi_txn_clear(&txn);
	sodium_memzero(l, sizeof(*l));
	free(l);
	return ret;
}
