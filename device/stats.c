/* SPDX-License-Identifier: MIT */
/*
 * Counters: each thread counts into its own slot (device_impl.h), and get
 * and stats sum the slots; the offload states come from the TUN and the
 * binds.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "device/device_impl.h"

/*
 * Counts a handshake message a thread has sent or received: by its type,
 * and its bytes.  Sent bytes always count (as `wg show transfer` does);
 * received ones only for an initiation or response that made a session,
 * as wireguard-go counts them.  pc is the peer's slot, NULL when the
 * message belongs to no known peer.
 */
void dev_count_handshake(struct dcounters *dc, uint64_t *pc, uint8_t type, size_t len, bool sent)
{
	bool bytes = sent || (pc && type != MESSAGE_HANDSHAKE_COOKIE);
	int i, b = sent ? PC_tx_bytes : PC_rx_bytes;

	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
		i = sent ? PC_handshake_initiations_sent : PC_handshake_initiations_received;
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		i = sent ? PC_handshake_responses_sent : PC_handshake_responses_received;
		break;
	case MESSAGE_HANDSHAKE_COOKIE:
		i = sent ? PC_cookie_replies_sent : PC_cookie_replies_received;
		break;
	default:
		return;
	}
	cnt_add(&dc->p[i], 1);
	if (bytes)
		cnt_add(&dc->p[b], len);
	if (pc) {
		cnt_add(&pc[i], 1);
		if (bytes)
			cnt_add(&pc[b], len);
	}
}

/* 8-byte atomics are only atomic on 8-byte aligned words (i386: fildq). */
_Static_assert(offsetof(struct dev_peer, loop_at) % 8 == 0 &&
	       offsetof(struct dev_peer, cnt) % 8 == 0 &&
	       _Alignof(struct dev_peer) >= 8, "counters are 8-aligned");

/* get and stats read the same per-thread counters, summed. */
void dev_peer_bytes(const struct dev_peer *p, uint64_t *rx, uint64_t *tx)
{
	unsigned int k;

	*rx = *tx = 0;
	for (k = 0; k < p->nslots; k++) {
		*rx += __atomic_load_n(&p->cnt[k].v[PC_rx_bytes], __ATOMIC_RELAXED);
		*tx += __atomic_load_n(&p->cnt[k].v[PC_tx_bytes], __ATOMIC_RELAXED);
	}
}

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
	if (s->on[f])
		return UAPI_OFFLOAD_ON;
	switch (s->reason[f]) {
	case TUN_REASON_BY_OPTION:
	case TUN_REASON_VNET_HDR_BY_OPTION:
	case TUN_REASON_OFFLOADS_BY_OPTION:
		return UAPI_OFFLOAD_DISABLED;
	case TUN_REASON_PROBE_TCP:
	case TUN_REASON_PROBE_UDP:
		return UAPI_OFFLOAD_PROBE_FAILED;
	case TUN_REASON_WRITE_EINVAL:
		return UAPI_OFFLOAD_ERROR;
	default:
		return UAPI_OFFLOAD_UNSUPPORTED;
	}
}

static enum uapi_offload_state bind_state(const struct dev_binds *nb, unsigned int bits,
					  bool switched_off)
{
	if (switched_off)
		return UAPI_OFFLOAD_DISABLED;
	if (!nb)
		return UAPI_OFFLOAD_INACTIVE;
	if (vg_bind_offloads(nb->b[0]) & bits)
		return UAPI_OFFLOAD_ON;
	/* Off for both families: the IPv4 reason stands for the pair. */
	switch (vg_bind_offload_state(nb->b[0], bits & (VG_BIND_GSO4 | VG_BIND_GRO4))) {
	case VG_BIND_REASON_SWITCH:
		return UAPI_OFFLOAD_DISABLED;
	case VG_BIND_REASON_EIO:
		return UAPI_OFFLOAD_ERROR;
	default:
		return UAPI_OFFLOAD_UNSUPPORTED;
	}
}

/* cfg_mutex held: the sockets stay open. */
static void fill_device_stats(struct device *d, struct uapi_device_stats *s)
{
	const struct dev_binds *nb = atomic_load(&d->binds);
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
	s->drop_ratelimited += wg_proto_counter(&d->proto, WG_CNT_RATELIMITED);
	s->drop_malformed += wg_proto_counter(&d->proto, WG_CNT_BAD_LENGTH) +
			     wg_proto_counter(&d->proto, WG_CNT_BAD_TYPE) +
			     wg_proto_counter(&d->proto, WG_CNT_EXPIRED_DATA);

	/* Staged packets dropped: oldest-first while a handshake was pending, or
	 * when the session went (link down, handshake given up). */
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
	s->tun_read_errors = tc.read_errors;
	s->tun_write_errors = tc.write_errors;

	bs = d->binds_gone;
	if (nb)
		for (i = 0; i < nb->n; i++)
			vg_bind_add_stats(nb->b[i], &bs);
	s->udp_gso_messages = bs.tx_gso_msgs;
	s->udp_gso_datagrams = bs.tx_gso_datagrams;
	s->udp_gro_rx_messages = bs.rx_gro_batches;
	s->udp_gro_rx_datagrams = bs.rx_gro_datagrams;
	s->udp_send_errors = bs.tx_errors + bs.tx_unreachable;
	s->udp_recv_errors = bs.rx_errors;

	tun_get_offload(d->tun, &os);
	s->tso = tun_state(&os, TUN_FEAT_TSO);
	s->uso = tun_state(&os, TUN_FEAT_USO);
	s->tcp_gro = tun_state(&os, TUN_FEAT_TCP_GRO);
	s->udp_gro = tun_state(&os, TUN_FEAT_UDP_GRO);
	s->udp_gso = bind_state(nb, VG_BIND_GSO, d->opts.no_udp_gso);
	s->udp_gro_rx = bind_state(nb, VG_BIND_GRO, d->opts.no_udp_gro_rx);
}

int dev_stats(void *ctx, struct uapi_emitter *em)
{
	struct device *d = ctx;
	struct uapi_device_stats ds;
	struct uapi_peer_stats ps;
	struct wg_peer *wp;
	unsigned int i, k;
	int ret;

	pthread_mutex_lock(&d->cfg_mutex);
	memset(&ds, 0, sizeof(ds));
	fill_device_stats(d, &ds);
	ret = uapi_emit_device_stats(em, &ds);
	for (wp = d->proto.peers; !ret && wp; wp = wp->next) {
		struct dev_peer *p = dev_peer_of(wp);
		uint64_t v[PC_MAX] = { 0 };

		for (k = 0; k < p->nslots; k++)
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
	pthread_mutex_unlock(&d->cfg_mutex);
	return ret;
}

void device_describe_offloads(struct device *d, char *buf, size_t len)
{
	struct uapi_device_stats s;
	size_t off = 0;

	pthread_mutex_lock(&d->cfg_mutex);
	memset(&s, 0, sizeof(s));
	fill_device_stats(d, &s);
	pthread_mutex_unlock(&d->cfg_mutex);
	buf[0] = 0;
#define X(n) \
	if (off < len) \
		off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", off ? " " : "", #n, \
					uapi_offload_state_name(s.n));
	UAPI_OFFLOADS(X)
#undef X
}

