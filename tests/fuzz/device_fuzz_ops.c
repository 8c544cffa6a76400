/* SPDX-License-Identifier: MIT */
/* The operations of the whole-device fuzz harness (device_fuzz.h). */
#include "config.h"

#include <string.h>

#include "tests/fuzz/device_fuzz_impl.h"
#include "tun/offload_pkt.h"
#include "tun/virtio.h"

static void op_raw(struct dfz *z, struct in *in, uint8_t flags)
{
	uint8_t buf[2048];
	size_t len = (flags & 0x80) ? u16(in) % sizeof(buf) : u8(in), i;

	for (i = 0; i < len; i++)
		buf[i] = u8(in);
	dfz_queue(z, buf, len, flags);
}

static const uint16_t hs_len[4] = { 0, MESSAGE_INITIATION_LEN, MESSAGE_RESPONSE_LEN,
				    MESSAGE_COOKIE_LEN };

static void op_hs(struct dfz *z, struct in *in, uint8_t flags)
{
	uint8_t buf[MESSAGE_INITIATION_LEN];
	unsigned int type = 1 + (flags >> 2) % 3, i;
	size_t len = hs_len[type];
	struct noise_handshake *hs = &z->dwp->handshake;
	uint32_t idx;

	memset(buf, 0, sizeof(buf));
	buf[0] = (uint8_t)type;
	for (i = 4; i < len - (type == 3 ? 0 : 32); i++)
		buf[i] = u8(in);
	/* Aim at D's pending handshake, so that a response or cookie reply
	 * gets as far as its keys. */
	if ((flags & 0x20) && type != 1) {
		idx = hs->entry.index;
		memcpy(buf + (type == 2 ? 8 : 4), &idx, 4);
	}
	if (type != 3)
		cookie_add_macs(&z->hpeer->cookie, buf, len, z->h_now);
	dfz_queue(z, buf, len, flags >> 6);
}

static void op_init(struct dfz *z, struct in *in, uint8_t flags)
{
	struct wg_action act;
	unsigned int n = flags >> 5, i;
	uint8_t pos, x;

	z->h_now += REKEY_TIMEOUT + WG_NSEC_PER_SEC;
	if (wg_peer_want_handshake(z->hpeer, z->h_now, &act))
		return;
	for (i = 0; i < n; i++) {
		pos = u8(in);
		x = u8(in);
		act.msg[pos % act.msg_len] ^= x;
	}
	if (n && (flags & 0x10))
		cookie_add_macs(&z->hpeer->cookie, act.msg, act.msg_len, z->h_now);
	dfz_queue(z, act.msg, act.msg_len, flags);
}

static void op_data(struct dfz *z, struct in *in, uint8_t flags)
{
	uint8_t buf[2048];
	size_t len = u16(in) % sizeof(buf), i;
	unsigned int counter = (flags >> 2) & 3, alter = (flags >> 4) & 3;
	uint64_t arg = 0;

	if (counter == 3)
		counter = 0;
	if (counter || alter)
		for (i = 0; i < (counter == 2 ? 8 : 2); i++)
			arg = arg << 8 | u8(in);
	for (i = 0; i < len; i++)
		buf[i] = u8(in);
	if (alter == 3) {
		/* To D's other index: the previous keypair, if any. */
		struct noise_keypair *prev = z->dwp->keypairs.previous;

		alter = 2;
		arg = prev ? prev->entry.index : 0;
	}
	dfz_h_seal(z, buf, len, counter, arg, alter, flags & 3);
}

/* A segment of one of eight flows from H (or, with bit 5, from outside
 * H's allowed IPs), consecutive unless told otherwise: runs of them are
 * what D's TUN write coalesces. */
static void op_flow(struct dfz *z, struct in *in, uint8_t flags)
{
	uint8_t a = u8(in), b = u8(in), buf[2048];
	unsigned int flow = a & 7;
	struct pkt_spec s;
	size_t len;

	s = pkt_default(flags & 1, (flags & 2) ? PKT_UDP : PKT_TCP, 1 + b % 200, z->seqs[flow]);
	s.sport = (uint16_t)(1 + flow);
	s.src = (flags & 0x20) ? 130 : 1;
	s.dst = 2 + ((a >> 3) & 1);
	if (a & 0x10)
		s.seq -= (uint32_t)s.payload;
	s.pay_off = s.seq;
	if (a & 0x20)
		s.flags |= TH_PSH;
	if (a & 0x40)
		s.payload = 100;
	len = pkt_build(buf, &s);
	if (a & 0x80)
		buf[len - 1] ^= 1;	/* a bad checksum */
	z->seqs[flow] = s.seq + (uint32_t)s.payload;
	dfz_h_seal(z, buf, len, 0, 0, 0, (flags >> 2) & 3);
}

static void op_repeat(struct dfz *z, struct in *in, uint8_t flags)
{
	unsigned int n = u8(in), i;
	struct dgram last;

	if (!z->nq)
		return;
	last = z->q[z->nq - 1];
	/* A few, or enough to put D under load (fewer handshakes than that
	 * cost a Diffie-Hellman each and find nothing new). */
	n = (flags & 0x80) ? UNDER_LOAD_QUEUE_LEN + n % 32 : 1 + n % 8;
	for (i = 0; i < n && z->nq < MAX_DGRAMS; i++)
		z->q[z->nq++] = last;
}

static void op_time(struct dfz *z, struct in *in, uint8_t flags)
{
	uint64_t step = (flags & 0x80) ? 10 * WG_NSEC_PER_SEC : WG_NSEC_PER_SEC / 20;

	z->now += (1 + (uint64_t)u8(in)) * step;
}

static void op_dinit(struct dfz *z, struct in *in, uint8_t flags)
{
	struct wg_action act;
	unsigned int i;

	z->nalter = 2 * ((flags >> 5) & 3);
	for (i = 0; i < z->nalter; i++)
		z->alter[i] = u8(in);
	z->alter_macs = flags & 0x10;
	z->now += REKEY_TIMEOUT + WG_NSEC_PER_SEC;
	dev_worker_enter(z->w);
	if (!wg_peer_want_handshake(z->dwp, z->now, &act))
		dev_act(z->dev, z->w, &act, NULL, 0);
	dev_worker_exit(z->w);
	dfz_pump(z);
	z->nalter = 0;
}

static void op_tun_raw(struct dfz *z, struct in *in, uint8_t flags)
{
	uint8_t buf[4096];
	size_t len = u16(in) % sizeof(buf), i;

	for (i = 0; i < len; i++)
		buf[i] = u8(in);
	tun_mem_inject(z->tun, 0, buf, len);
}

/* A valid TSO/USO super-packet (maybe with one byte changed) to a peer's
 * range: bits 2-3 pick H's, X's (no session: staged) or nobody's. */
static void op_tun_gso(struct dfz *z, struct in *in, uint8_t flags)
{
	static const uint8_t dsts[4] = { 2, 130, 200, 2 };
	uint8_t a = u8(in);
	uint16_t payload = 1 + u16(in) % 4000, gso = 1 + u16(in) % 1500;
	uint8_t pos = u8(in), x = u8(in), buf[VNET_HDR_LEN + 4200];
	bool v6 = flags & 1, udp = flags & 2;
	struct vnet_hdr h = { 0 };
	struct pkt_spec s;
	size_t len;

	s = pkt_default(v6, udp ? PKT_UDP : PKT_TCP, payload, 1000);
	s.dst = ((flags >> 2) & 3) == 3 ? a : dsts[(flags >> 2) & 3];
	len = pkt_build(buf + VNET_HDR_LEN, &s);
	pkt_partial_csum(buf + VNET_HDR_LEN, &s);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = udp ? VIRTIO_NET_HDR_GSO_UDP_L4 :
		     v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	if (flags & 0x10)
		h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h.hdr_len = (uint16_t)(pkt_iph(&s) + pkt_l4h(&s));
	h.gso_size = gso;
	h.csum_start = (uint16_t)pkt_iph(&s);
	h.csum_offset = udp ? 6 : 16;
	vnet_hdr_encode(buf, &h);
	if (flags & 0x20)
		buf[pos % (VNET_HDR_LEN + 60)] ^= x;
	tun_mem_inject(z->tun, 0, buf, VNET_HDR_LEN + len);
}

static void op_reset(struct dfz *z)
{
	pthread_mutex_lock(&z->dev->cfg_mutex);
	dev_mbox_purge_peer(z->dev, dev_peer_of(z->dwp));
	wg_peer_reset(z->dwp, z->now);
	pthread_mutex_unlock(&z->dev->cfg_mutex);
}

static void op_mtu(struct dfz *z, struct in *in)
{
	struct tun_event ev = { .type = TUN_EVENT_MTU, .mtu = 68 + u16(in) % 9000 };

	device_link_event(z->dev, &ev);
}

/* Operations that cost handshakes (a few Diffie-Hellman each): a few per
 * input reach every state worth reaching, more only slow the fuzzer. */
static bool costly(enum dfz_op op, uint8_t flags)
{
	return op == DFZ_INIT || op == DFZ_DINIT || op == DFZ_LINK || op == DFZ_RESET ||
	       (op == DFZ_REPEAT && (flags & 0x80));
}

void dfz_run_op(struct dfz *z, enum dfz_op op, uint8_t flags, struct in *in)
{
	if (costly(op, flags)) {
		if (!z->hs_budget)
			return;
		z->hs_budget--;
	}
	switch (op) {
	case DFZ_RAW: op_raw(z, in, flags); break;
	case DFZ_HS: op_hs(z, in, flags); break;
	case DFZ_INIT: op_init(z, in, flags); break;
	case DFZ_DATA: op_data(z, in, flags); break;
	case DFZ_FLOW: op_flow(z, in, flags); break;
	case DFZ_REPEAT: op_repeat(z, in, flags); break;
	case DFZ_FLUSH: dfz_pump(z); break;
	case DFZ_TIME: op_time(z, in, flags); break;
	case DFZ_DINIT: op_dinit(z, in, flags); break;
	case DFZ_LINK:
		dfz_link_event(z, TUN_EVENT_DOWN);
		if (!(flags & 0x80))
			dfz_link_event(z, TUN_EVENT_UP);
		break;
	case DFZ_TUN_RAW: op_tun_raw(z, in, flags); break;
	case DFZ_TUN_GSO: op_tun_gso(z, in, flags); break;
	case DFZ_RESET: op_reset(z); break;
	case DFZ_MTU: op_mtu(z, in); break;
	default: break;
	}
}

