/* SPDX-License-Identifier: MIT */
/*
 * The state a live upgrade hands over (device/upgrade.h): a header (magic,
 * format version, layout fingerprint, body length), the body, and a
 * BLAKE2b hash of both so that a garbled blob is refused whole.  Values
 * are in host order: both processes run on the same host.
 *
 * Body: the device (monotonic time, queues, link, configuration, counters)
 * then each peer: its configuration as the store keeps it, then its live
 * state (endpoint with sticky source, last handshake, counters, timers,
 * handshake, keypairs).  This file writes it; upgrade_load.c reads it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "device/crypto.h"
#include "device/device_impl.h"
#include "device/upgrade.h"
#include "device/upgrade_impl.h"


/* The fields and sizes below, as text: a change makes another fingerprint. */
#define LAYOUT_FMT "dev:now,queues,link,port,priv,lport,fwmark,pc%u,dc%u,wg%u;" \
	"peer:pub,psk,ka,ep,aips;live:ep,lhs,pc,timers6+3+1,hs(st,idx,lic,hci,eph,epriv,h%u," \
	"ck,ts%u,ri),kp3(k%u,k,ctr,replay%ux%u,birth,idx,ri,init,valid)"

uint64_t device_upgrade_layout(void)
{
	char s[512];
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	int i, n;

	n = snprintf(s, sizeof(s), LAYOUT_FMT, PC_MAX, DC_MAX, WG_CNT_MAX, NOISE_HASH_LEN,
		     NOISE_TIMESTAMP_LEN, AEAD_KEY_SIZE, REPLAY_RING_BLOCKS, REPLAY_BLOCK_BITS);
	for (i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
	return h;
}

/* ---- writing ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void put(struct wbuf *b, const void *v, size_t n)
{
	uint8_t *q;
	size_t cap;

	if (b->err)
		return;
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		/* Never realloc: the old buffer holds keys and is wiped. */
		q = malloc(cap);
		if (!q) {
			b->err = -ENOMEM;
			return;
		}
		if (b->p) {
			memcpy(q, b->p, b->len);
			sodium_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void put_u8(struct wbuf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put_u16(struct wbuf *b, uint16_t v)
{
	put(b, &v, 2);
}

static void put_u32(struct wbuf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void put_u64(struct wbuf *b, uint64_t v)
{
	put(b, &v, 8);
}

/* Field by field: sockaddr padding must not decide the layout. */
static void put_endpoint(struct wbuf *b, const struct vg_endpoint *ep)
{
	uint8_t addr[16] = { 0 };
	uint16_t fam = ep->dst.sa.sa_family, port = 0;
	uint32_t scope = 0;

	if (fam == AF_INET) {
		memcpy(addr, &ep->dst.in4.sin_addr, 4);
		port = ep->dst.in4.sin_port;
	} else if (fam == AF_INET6) {
		memcpy(addr, &ep->dst.in6.sin6_addr, 16);
		port = ep->dst.in6.sin6_port;
		scope = ep->dst.in6.sin6_scope_id;
	}
	put_u16(b, fam);
	put(b, addr, 16);
	put_u16(b, port);
	put_u32(b, scope);
	put(b, &ep->src, 16);
	put_u32(b, ep->src_ifindex);
	put_u8(b, ep->has_src);
	put_u8(b, ep->zone_numeric);
}

static void put_keypair(struct wbuf *b, struct noise_keypair *kp)
{
	uint8_t key[AEAD_KEY_SIZE];

	put_u8(b, kp != NULL);
	if (!kp)
		return;
	dp_aead_key(kp->send, key);
	put(b, key, sizeof(key));
	dp_aead_key(kp->recv, key);
	put(b, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	put_u64(b, atomic_load(&kp->send_counter));
	pthread_mutex_lock(&kp->replay_lock);
	put_u64(b, kp->replay.last);
	put(b, kp->replay.ring, sizeof(kp->replay.ring));
	pthread_mutex_unlock(&kp->replay_lock);
	put_u64(b, kp->birthdate);
	put_u32(b, kp->entry.hashed ? kp->entry.index : 0);
	put_u8(b, kp->entry.hashed);
	put_u32(b, kp->remote_index);
	put_u8(b, kp->i_am_the_initiator);
	put_u8(b, atomic_load(&kp->valid));
}

static void put_timers(struct wbuf *b, const struct wg_timers *t)
{
	put_u64(b, t->retransmit_handshake);
	put_u64(b, t->send_keepalive);
	put_u64(b, t->new_handshake);
	put_u64(b, t->zero_key_material);
	put_u64(b, t->persistent_keepalive);
	put_u64(b, t->last_sent_handshake);
	put_u8(b, t->have_sent_handshake);
	put_u8(b, t->need_another_keepalive);
	put_u8(b, t->sent_lastminute_handshake);
	put_u32(b, t->handshake_attempts);
}

static void put_handshake(struct wbuf *b, const struct noise_handshake *hs)
{
	put_u8(b, (uint8_t)hs->state);
	put_u8(b, hs->entry.hashed);
	put_u32(b, hs->entry.hashed ? hs->entry.index : 0);
	put_u64(b, hs->last_initiation_consumption);
	put_u8(b, hs->have_consumed_initiation);
	put(b, hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	put(b, hs->ephemeral_private, sizeof(hs->ephemeral_private));
	put(b, hs->hash, sizeof(hs->hash));
	put(b, hs->chaining_key, sizeof(hs->chaining_key));
	put(b, hs->latest_timestamp, sizeof(hs->latest_timestamp));
	put_u32(b, hs->remote_index);
}

/* The peer's live state; the data path is stopped, so the locks only
 * keep the order the rest of the device keeps. */
static void put_live(struct wbuf *b, struct wg_peer *wp)
{
	struct dev_peer *p = dev_peer_of(wp);
	struct vg_endpoint ep;
	uint64_t c[PC_MAX] = { 0 };
	unsigned int s, k;
	bool has;

	has = wg_peer_get_endpoint(wp, &ep);
	put_u8(b, has);
	put_endpoint(b, &ep);
	put_u64(b, atomic_load(&wp->last_handshake_ns));
	for (s = 0; s < p->nslots; s++)
		for (k = 0; k < PC_MAX; k++)
			c[k] += __atomic_load_n(&p->cnt[s].v[k], __ATOMIC_RELAXED);
	put(b, c, sizeof(c));
	pthread_mutex_lock(&wp->lock);
	put_timers(b, &wp->timers);
	put_handshake(b, &wp->handshake);
	pthread_mutex_lock(&wp->keypairs.lock);
	put_keypair(b, wp->keypairs.previous);
	put_keypair(b, wp->keypairs.current);
	put_keypair(b, wp->keypairs.next);
	pthread_mutex_unlock(&wp->keypairs.lock);
	pthread_mutex_unlock(&wp->lock);
}

static void put_peer(struct wbuf *b, struct device *d, const struct uapi_peer_info *pi)
{
	struct wg_peer *wp = wg_proto_find_peer(&d->proto, pi->public_key);
	size_t i;

	put(b, pi->public_key, UAPI_KEY_LEN);
	put(b, pi->preshared_key, UAPI_KEY_LEN);
	put_u16(b, pi->persistent_keepalive_interval);
	put_u8(b, pi->has_endpoint);
	put_endpoint(b, &pi->endpoint);
	put_u32(b, (uint32_t)pi->n_aips);
	for (i = 0; i < pi->n_aips; i++) {
		put_u8(b, pi->aips[i].family);
		put_u8(b, pi->aips[i].cidr);
		put(b, pi->aips[i].addr, 16);
	}
	put_u8(b, wp != NULL);
	if (wp)
		put_live(b, wp);
}

static void put_device(struct wbuf *b, struct device *d, const struct uapi_snapshot *snap)
{
	const struct dev_binds *nb = atomic_load(&d->binds);
	struct dcounters sum;
	unsigned int i, k;

	put_u64(b, dev_now(d));
	put_u32(b, d->nworkers);
	put_u8(b, d->link_up);
	put_u16(b, nb ? nb->port : 0);
	put(b, snap->private_key, UAPI_KEY_LEN);
	put_u16(b, d->store.listen_port);
	put_u32(b, snap->fwmark);
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i <= d->nworkers + 1; i++) {
		const struct dcounters *dc = i < d->nworkers ? &d->workers[i].cnt :
					     i == d->nworkers ? &d->hs_cnt : &d->ctl_cnt;

		for (k = 0; k < PC_MAX; k++)
			sum.p[k] += __atomic_load_n(&dc->p[k], __ATOMIC_RELAXED);
		for (k = 0; k < DC_MAX; k++)
			sum.d[k] += __atomic_load_n(&dc->d[k], __ATOMIC_RELAXED);
	}
	put(b, sum.p, sizeof(sum.p));
	put(b, sum.d, sizeof(sum.d));
	for (k = 0; k < WG_CNT_MAX; k++)
		put_u64(b, wg_proto_counter(&d->proto, k));
}

int device_upgrade_save(struct device *d, uint8_t **blob, size_t *len)
{
	struct uapi_snapshot snap;
	struct wbuf b = { 0 };
	uint64_t layout = device_upgrade_layout(), body;
	uint32_t version = DEVICE_UPGRADE_VERSION, flags = 0;
	uint8_t hash[UPG_HASH_LEN];
	size_t i;
	int ret;

	memset(&snap, 0, sizeof(snap));
	pthread_mutex_lock(&d->cfg_mutex);
	ret = uapi_store_snapshot(&d->store, &snap);
	if (!ret) {
		put(&b, UPG_MAGIC, 8);
		put_u32(&b, version);
		put_u32(&b, flags);
		put_u64(&b, layout);
		put_u64(&b, 0);		/* body length, below */
		put_device(&b, d, &snap);
		put_u32(&b, (uint32_t)snap.n_peers);
		for (i = 0; i < snap.n_peers; i++)
			put_peer(&b, d, &snap.peers[i]);
		ret = b.err;
	}
	pthread_mutex_unlock(&d->cfg_mutex);
	uapi_snapshot_clear(&snap);
	if (!ret) {
		body = b.len - UPG_HDR_LEN;
		memcpy(b.p + 24, &body, 8);
		crypto_generichash(hash, sizeof(hash), b.p, b.len, NULL, 0);
		put(&b, hash, sizeof(hash));
		ret = b.err;
	}
	if (ret) {
		device_upgrade_wipe(b.p, b.cap);
		return ret;
	}
	*blob = b.p;
	*len = b.len;
	return 0;
}

void device_upgrade_wipe(uint8_t *blob, size_t len)
{
	if (!blob)
		return;
	sodium_memzero(blob, len);
	free(blob);
}
