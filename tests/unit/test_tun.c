// SPDX-License-Identifier: MIT
/* The TUN batch layer on the in-memory TUN: read/write semantics, head
 * room, GRO and its fallbacks, counters, link-event rules. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_tun.h>

#include "tun/tun.h"
#include "tun/virtio.h"
#include "tests/unit/testutil.h"

#define HEAD 16
#define CAP (HEAD + TUN_MAX_PACKET)

static uint8_t *bufs[TUN_MAX_BATCH];
static size_t sizes[TUN_MAX_BATCH];
static uint8_t frame[VNET_HDR_LEN + TUN_MAX_PACKET];

static void setup(void)
{
	int i;

	for (i = 0; i < TUN_MAX_BATCH; i++) {
		bufs[i] = malloc(CAP);
		ck_assert_ptr_nonnull(bufs[i]);
		memset(bufs[i], 0xee, CAP);
	}
}

static void teardown(void)
{
	int i;

	for (i = 0; i < TUN_MAX_BATCH; i++)
		free(bufs[i]);
}

/* A plain reference checksum, independent of the code under test. */
static uint16_t ref_csum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i < len; i++)
		sum += i & 1 ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static uint32_t pseudo4(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	uint32_t s = proto + (uint32_t)l4len;
	int i;

	for (i = 12; i < 20; i += 2)
		s += get16(ip + i);
	return s;
}

static int ip_ok(const uint8_t *ip)
{
	return ref_csum(ip, 20, 0) == 0;
}

static int l4_ok(const uint8_t *ip, size_t len)
{
	return ref_csum(ip + 20, len - 20, pseudo4(ip, ip[9], len - 20)) == 0;
}

/* IPv4/TCP, payload bytes (seq + i) & 0xff so every byte is checkable. */
static size_t tcp4(uint8_t *p, uint32_t seq, size_t pay, uint8_t flags, uint16_t id)
{
	size_t len = 40 + pay, i;

	memset(p, 0, 40);
	p[0] = 0x45;
	put16(p + 2, len);
	put16(p + 4, id);
	p[6] = 0x40;
	p[8] = 64;
	p[9] = 6;
	p[12] = 10, p[15] = 1;
	p[16] = 10, p[19] = 2;
	put16(p + 10, ref_csum(p, 20, 0));
	put16(p + 20, 40000);
	put16(p + 22, 5201);
	put32(p + 24, seq);
	put32(p + 28, 77);
	p[32] = 5 << 4;
	p[33] = flags;
	put16(p + 34, 1000);
	for (i = 0; i < pay; i++)
		p[40 + i] = (uint8_t)(seq + i);
	put16(p + 36, ref_csum(p + 20, len - 20, pseudo4(p, 6, len - 20)));
	return len;
}

static size_t udp4(uint8_t *p, size_t pay, uint8_t fill, uint16_t id)
{
	size_t len = 28 + pay;

	memset(p, 0, 28);
	p[0] = 0x45;
	put16(p + 2, len);
	put16(p + 4, id);
	p[8] = 64;
	p[9] = 17;
	p[12] = 10, p[15] = 1;
	p[16] = 10, p[19] = 2;
	put16(p + 10, ref_csum(p, 20, 0));
	put16(p + 20, 40000);
	put16(p + 22, 53);
	put16(p + 24, len - 20);
	memset(p + 28, fill, pay);
	put16(p + 26, ref_csum(p + 20, len - 20, pseudo4(p, 17, len - 20)));
	return len;
}

static int nlogs;
static char last_log[256];

static void count_log(void *ctx, const char *msg)
{
	(void)ctx;
	nlogs++;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static struct tun *open_mem(bool tso, bool uso, bool reject, bool probe)
{
	struct tun_mem_options o;
	struct tun *t = NULL;

	memset(&o, 0, sizeof(o));
	tun_options_init(&o.tun);
	o.tso = tso;
	o.uso = uso;
	o.reject_gso = reject;
	o.tun.no_gro_probe = !probe;
	o.tun.log = count_log;
	nlogs = 0;
	ck_assert_int_eq(tun_mem_open(&t, "vgmem0", &o), 0);
	return t;
}

START_TEST(test_open_state)
{
	struct tun_offload_state s;
	struct tun *t = open_mem(true, true, false, true);

	ck_assert_str_eq(tun_name(t), "vgmem0");
	ck_assert_uint_eq(tun_queues(t), 1);
	ck_assert_int_ge(tun_queue_fd(t, 0), 0);
	ck_assert_int_eq(tun_queue_fd(t, 1), -1);
	ck_assert_int_ge(tun_event_fd(t), 0);
	ck_assert_int_eq(tun_mtu(t), TUN_DEFAULT_MTU);
	tun_get_offload(t, &s);
	ck_assert(s.vnet_hdr);
	ck_assert_uint_eq(s.accepted, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
			  TUN_F_USO4 | TUN_F_USO6);
	ck_assert(s.on[TUN_FEAT_TSO] && s.on[TUN_FEAT_USO]);
	ck_assert(s.on[TUN_FEAT_TCP_GRO] && s.on[TUN_FEAT_UDP_GRO]);
	ck_assert_str_eq(tun_feature_name(TUN_FEAT_UDP_GRO), "udp-gro");
	ck_assert_str_eq(tun_gso_kind_name(TUN_GSO_TCP6), "tcp6");
	tun_close(t);

	/* Without USO: no USO reads and no coalesced UDP writes. */
	t = open_mem(true, false, false, true);
	tun_get_offload(t, &s);
	ck_assert(s.on[TUN_FEAT_TSO] && !s.on[TUN_FEAT_USO]);
	ck_assert(s.on[TUN_FEAT_TCP_GRO] && !s.on[TUN_FEAT_UDP_GRO]);
	ck_assert_int_eq(s.reason[TUN_FEAT_UDP_GRO], TUN_REASON_GRO_NO_USO);
	tun_close(t);
}
END_TEST

START_TEST(test_read_plain_headroom)
{
	struct tun *t = open_mem(true, true, false, false);
	struct tun_counters c;
	size_t len;
	int i;

	ck_assert_int_eq(tun_read(t, 0, bufs, sizes, TUN_MAX_BATCH, HEAD), -EAGAIN);
	memset(frame, 0, VNET_HDR_LEN);
	len = udp4(frame + VNET_HDR_LEN, 100, 0x5a, 1);
	ck_assert_int_eq(tun_mem_inject(t, 0, frame, len + VNET_HDR_LEN), 0);
	ck_assert_int_eq(tun_read(t, 0, bufs, sizes, TUN_MAX_BATCH, HEAD), 1);
	ck_assert_uint_eq(sizes[0], len);
	ck_assert_mem_eq(bufs[0] + HEAD, frame + VNET_HDR_LEN, len);
	for (i = 0; i < HEAD; i++)	/* head room untouched */
		ck_assert_uint_eq(bufs[0][i], 0xee);
	ck_assert_uint_eq(bufs[0][HEAD + len], 0xee);
	tun_get_counters(t, &c);
	ck_assert_uint_eq(c.reads, 1);
	ck_assert_uint_eq(c.read_packets, 1);
	ck_assert_uint_eq(c.read_bytes, len);
	ck_assert_uint_eq(c.gso[TUN_GSO_UDP4].packets, 0);
	tun_close(t);
}
END_TEST

/* A TSO super-packet as the kernel hands it: partial checksum. */
static size_t tso_frame(uint8_t *f, uint32_t seq, size_t pay, uint16_t gso)
{
	struct vnet_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = 40, .gso_size = gso, .csum_start = 20, .csum_offset = 16,
	};
	uint8_t *ip = f + VNET_HDR_LEN;
	size_t len = tcp4(ip, seq, pay, 0x18, 100);
	uint32_t s = pseudo4(ip, 6, len - 20);

	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	put16(ip + 36, s);
	vnet_hdr_encode(f, &h);
	return len + VNET_HDR_LEN;
}

START_TEST(test_read_tso_split)
{
	struct tun *t = open_mem(true, true, false, false);
	struct tun_counters c;
	size_t flen = tso_frame(frame, 1000, 250, 100);
	int n, i;

	ck_assert_int_eq(tun_mem_inject(t, 0, frame, flen), 0);
	n = tun_read(t, 0, bufs, sizes, TUN_MAX_BATCH, HEAD);
	ck_assert_int_eq(n, 3);
	for (i = 0; i < 3; i++) {
		const uint8_t *ip = bufs[i] + HEAD;
		size_t pay = i < 2 ? 100 : 50;

		ck_assert_uint_eq(sizes[i], 40 + pay);
		ck_assert_uint_eq(get16(ip + 2), 40 + pay);
		ck_assert_uint_eq(get16(ip + 4), 100 + i);
		ck_assert_uint_eq(get32(ip + 24), 1000 + 100 * i);
		ck_assert_uint_eq(ip[33], i < 2 ? 0x10 : 0x18);	/* PSH last */
		ck_assert(ip_ok(ip));
		ck_assert(l4_ok(ip, sizes[i]));
		ck_assert_mem_eq(ip + 40, frame + VNET_HDR_LEN + 40 + 100 * i, pay);
	}
	tun_get_counters(t, &c);
	ck_assert_uint_eq(c.reads, 1);
	ck_assert_uint_eq(c.read_packets, 3);
	ck_assert_uint_eq(c.read_bytes, 140 + 140 + 90);
	ck_assert_uint_eq(c.gso[TUN_GSO_TCP4].packets, 1);
	ck_assert_uint_eq(c.gso[TUN_GSO_TCP4].segments, 3);
	ck_assert_uint_eq(c.gso[TUN_GSO_TCP4].max_gso_size, 100);
	ck_assert_uint_eq(c.gso[TUN_GSO_TCP4].max_segments, 3);

	/* gso_size 0 is malformed: dropped and counted, not returned. */
	put16(frame + 4, 0);
	ck_assert_int_eq(tun_mem_inject(t, 0, frame, flen), 0);
	ck_assert_int_eq(tun_read(t, 0, bufs, sizes, TUN_MAX_BATCH, HEAD), 0);
	tun_get_counters(t, &c);
	ck_assert_uint_eq(c.malformed, 1);
	ck_assert_uint_eq(c.reads, 2);
	tun_close(t);
}
END_TEST

/* Three adjacent segments of one flow, as the data plane hands them. */
static void three_segments(size_t *lens)
{
	lens[0] = tcp4(bufs[0] + HEAD, 5000, 100, 0x10, 1);
	lens[1] = tcp4(bufs[1] + HEAD, 5100, 100, 0x10, 2);
	lens[2] = tcp4(bufs[2] + HEAD, 5200, 60, 0x18, 3);
}

START_TEST(test_write_coalesced)
{
	struct tun *t = open_mem(true, true, false, true);
	struct tun_counters c;
	struct vnet_hdr h;
	size_t lens[3];
	ssize_t n;
	int i;

	three_segments(lens);
	ck_assert_int_eq(tun_write(t, 0, bufs, lens, 3, HEAD), 3);
	n = tun_mem_take(t, 0, frame, sizeof(frame));
	ck_assert_int_eq(n, VNET_HDR_LEN + 40 + 260);
	ck_assert_int_eq(tun_mem_take(t, 0, frame + n, 100), -EAGAIN);
	vnet_hdr_decode(&h, frame);
	ck_assert_uint_eq(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	ck_assert_uint_eq(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	ck_assert_uint_eq(h.gso_size, 100);
	ck_assert_uint_eq(h.csum_start, 20);
	ck_assert_uint_eq(h.csum_offset, 16);
	ck_assert_uint_eq(get16(frame + VNET_HDR_LEN + 2), 300);
	for (i = 0; i < 260; i++)
		ck_assert_uint_eq(frame[VNET_HDR_LEN + 40 + i], (uint8_t)(5000 + i));
	tun_get_counters(t, &c);
	ck_assert_uint_eq(c.write_packets, 3);
	ck_assert_uint_eq(c.writes, 1);
	ck_assert_uint_eq(c.coalesced[GRO_PROTO_TCP], 1);
	ck_assert_uint_eq(c.merged[GRO_PROTO_TCP], 2);
	ck_assert_uint_eq(c.coalesced[GRO_PROTO_UDP], 0);
	ck_assert_uint_eq(c.rejected, 0);
	tun_close(t);
}
END_TEST

START_TEST(test_write_gro_off)
{
	struct tun_mem_options o;
	struct tun *t = NULL;
	size_t lens[3], want[3];
	int i;

	memset(&o, 0, sizeof(o));
	tun_options_init(&o.tun);
	o.tso = o.uso = true;
	o.tun.no_tcp_gro = true;
	ck_assert_int_eq(tun_mem_open(&t, "vgmem1", &o), 0);
	three_segments(lens);
	memcpy(want, lens, sizeof(lens));
	ck_assert_int_eq(tun_write(t, 0, bufs, lens, 3, HEAD), 3);
	for (i = 0; i < 3; i++) {
		ssize_t n = tun_mem_take(t, 0, frame, sizeof(frame));
		static const uint8_t zero[VNET_HDR_LEN];

		ck_assert_int_eq(n, VNET_HDR_LEN + want[i]);
		ck_assert_mem_eq(frame, zero, VNET_HDR_LEN);
		ck_assert_mem_eq(frame + VNET_HDR_LEN, bufs[i] + HEAD, want[i]);
	}
	ck_assert_int_eq(tun_mem_take(t, 0, frame, sizeof(frame)), -EAGAIN);
	tun_close(t);
}
END_TEST

/* A kernel that takes the flags and then refuses every coalesced write. */
START_TEST(test_probe_turns_gro_off)
{
	struct tun *t = open_mem(true, true, true, true);
	struct tun_offload_state s;

	tun_get_offload(t, &s);
	ck_assert(!s.on[TUN_FEAT_TCP_GRO]);
	ck_assert(!s.on[TUN_FEAT_UDP_GRO]);
	ck_assert_int_eq(s.reason[TUN_FEAT_TCP_GRO], TUN_REASON_PROBE_TCP);
	ck_assert_int_eq(nlogs, 1);
	ck_assert_ptr_nonnull(strstr(last_log, "turned off"));
	ck_assert(s.on[TUN_FEAT_TSO]);
	tun_close(t);
}
END_TEST

START_TEST(test_einval_resends_split)
{
	struct tun *t = open_mem(true, true, true, false);
	struct tun_offload_state s;
	struct tun_counters c;
	uint8_t orig[3][200];
	size_t lens[3], want[3];
	int i;

	three_segments(lens);
	for (i = 0; i < 3; i++) {
		want[i] = lens[i];
		memcpy(orig[i], bufs[i] + HEAD, lens[i]);
	}
	ck_assert_int_eq(tun_write(t, 0, bufs, lens, 3, HEAD), 3);
	for (i = 0; i < 3; i++) {
		ssize_t n = tun_mem_take(t, 0, frame, sizeof(frame));
		const uint8_t *ip = frame + VNET_HDR_LEN;

		ck_assert_int_eq(n, VNET_HDR_LEN + want[i]);
		ck_assert_uint_eq(frame[1], VIRTIO_NET_HDR_GSO_NONE);
		/* Same bytes the caller gave, checksums fresh and right. */
		ck_assert_mem_eq(ip + 40, orig[i] + 40, want[i] - 40);
		ck_assert_uint_eq(get32(ip + 24), get32(orig[i] + 24));
		ck_assert_uint_eq(ip[33], orig[i][33]);
		ck_assert(ip_ok(ip));
		ck_assert(l4_ok(ip, want[i]));
	}
	ck_assert_int_eq(tun_mem_take(t, 0, frame, sizeof(frame)), -EAGAIN);
	tun_get_counters(t, &c);
	ck_assert_uint_eq(c.rejected, 1);
	ck_assert_uint_eq(c.writes, 3);
	ck_assert_uint_eq(c.write_errors, 0);
	tun_get_offload(t, &s);
	ck_assert(!s.on[TUN_FEAT_TCP_GRO]);
	ck_assert_int_eq(s.reason[TUN_FEAT_TCP_GRO], TUN_REASON_WRITE_EINVAL);

	ck_assert_int_eq(nlogs, 1);

	/* GRO stays off: the next batch goes out as is, no new log line. */
	three_segments(lens);
	ck_assert_int_eq(tun_write(t, 0, bufs, lens, 3, HEAD), 3);
	tun_get_counters(t, &c);
	ck_assert_uint_eq(c.rejected, 1);
	ck_assert_uint_eq(c.writes, 6);
	ck_assert_int_eq(nlogs, 1);
	tun_close(t);
}
END_TEST

START_TEST(test_udp_gro)
{
	struct tun *t = open_mem(true, true, false, true);
	struct vnet_hdr h;
	size_t lens[2];
	ssize_t n;

	lens[0] = udp4(bufs[0] + HEAD, 200, 0x11, 1);
	lens[1] = udp4(bufs[1] + HEAD, 200, 0x22, 2);
	ck_assert_int_eq(tun_write(t, 0, bufs, lens, 2, HEAD), 2);
	n = tun_mem_take(t, 0, frame, sizeof(frame));
	ck_assert_int_eq(n, VNET_HDR_LEN + 28 + 400);
	vnet_hdr_decode(&h, frame);
	ck_assert_uint_eq(h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
	ck_assert_uint_eq(h.gso_size, 200);
	ck_assert_uint_eq(frame[VNET_HDR_LEN + 28], 0x11);
	ck_assert_uint_eq(frame[VNET_HDR_LEN + 28 + 200], 0x22);
	tun_close(t);

	/* No USO in the kernel: two plain writes. */
	t = open_mem(true, false, false, true);
	lens[0] = udp4(bufs[0] + HEAD, 200, 0x11, 1);
	lens[1] = udp4(bufs[1] + HEAD, 200, 0x22, 2);
	ck_assert_int_eq(tun_write(t, 0, bufs, lens, 2, HEAD), 2);
	ck_assert_int_eq(tun_mem_take(t, 0, frame, sizeof(frame)), VNET_HDR_LEN + 228);
	ck_assert_int_eq(tun_mem_take(t, 0, frame, sizeof(frame)), VNET_HDR_LEN + 228);
	tun_close(t);
}
END_TEST

START_TEST(test_no_vnet_hdr)
{
	struct tun_mem_options o;
	struct tun_offload_state s;
	struct tun *t = NULL;
	size_t lens[3], len;
	int i;

	memset(&o, 0, sizeof(o));
	tun_options_init(&o.tun);
	o.tun.no_vnet_hdr = true;
	ck_assert_int_eq(tun_mem_open(&t, "vgmem2", &o), 0);
	tun_get_offload(t, &s);
	ck_assert(!s.vnet_hdr);
	for (i = 0; i < TUN_FEAT_COUNT; i++)
		ck_assert(!s.on[i]);
	len = udp4(frame, 300, 0x33, 9);
	ck_assert_int_eq(tun_mem_inject(t, 0, frame, len), 0);
	ck_assert_int_eq(tun_read(t, 0, bufs, sizes, TUN_MAX_BATCH, 0), 1);
	ck_assert_uint_eq(sizes[0], len);
	ck_assert_mem_eq(bufs[0], frame, len);
	/* Head room 0 is fine without a virtio header. */
	three_segments(lens);
	for (i = 0; i < 3; i++)
		memmove(bufs[i], bufs[i] + HEAD, lens[i]);
	ck_assert_int_eq(tun_write(t, 0, bufs, lens, 3, 0), 3);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(tun_mem_take(t, 0, frame, sizeof(frame)), lens[i]);
		ck_assert_mem_eq(frame, bufs[i], lens[i]);
	}
	tun_close(t);
}
END_TEST

static int next_event(struct tun *t, struct tun_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	return tun_event_read(t, ev);
}

START_TEST(test_events)
{
	struct tun *t = open_mem(true, true, false, false);
	struct tun_event ev, e;

	e.mtu = 0;
	e.type = TUN_EVENT_DOWN;	/* never down before the first up */
	ck_assert_int_eq(tun_mem_push_event(t, &e), 0);
	ck_assert_int_eq(next_event(t, &ev), 0);
	e.type = TUN_EVENT_UP;
	tun_mem_push_event(t, &e);
	tun_mem_push_event(t, &e);	/* no change: no event */
	ck_assert_int_eq(next_event(t, &ev), 1);
	ck_assert_int_eq(ev.type, TUN_EVENT_UP);
	ck_assert_int_eq(next_event(t, &ev), 0);
	e.type = TUN_EVENT_DOWN;
	tun_mem_push_event(t, &e);
	ck_assert_int_eq(next_event(t, &ev), 1);
	ck_assert_int_eq(ev.type, TUN_EVENT_DOWN);

	ck_assert_int_eq(tun_set_mtu(t, 1280), 0);
	ck_assert_int_eq(tun_mtu(t), 1280);
	ck_assert_int_eq(next_event(t, &ev), 1);
	ck_assert_int_eq(ev.type, TUN_EVENT_MTU);
	ck_assert_uint_eq(ev.mtu, 1280);
	ck_assert_int_eq(tun_set_mtu(t, 1280), 0);
	ck_assert_int_eq(next_event(t, &ev), 0);
	ck_assert_int_eq(tun_set_mtu(t, 20), -EINVAL);

	ck_assert_int_eq(tun_mem_delete(t), 0);
	ck_assert_int_eq(next_event(t, &ev), 1);
	ck_assert_int_eq(ev.type, TUN_EVENT_CLOSED);
	ck_assert_int_eq(next_event(t, &ev), 0);
	ck_assert_int_eq(tun_read(t, 0, bufs, sizes, TUN_MAX_BATCH, HEAD), -EBADFD);
	tun_close(t);
}
END_TEST

START_TEST(test_read_gone_is_closed)
{
	struct tun *t = open_mem(true, true, false, false);
	struct tun_event ev;

	shutdown(tun_mem_peer_fd(t, 0), SHUT_RDWR);
	ck_assert_int_eq(tun_read(t, 0, bufs, sizes, TUN_MAX_BATCH, HEAD), -EBADFD);
	ck_assert_int_eq(next_event(t, &ev), 1);
	ck_assert_int_eq(ev.type, TUN_EVENT_CLOSED);
	tun_close(t);
}
END_TEST

struct drain {
	struct tun *t;
	int frames;
};

static void *drain_later(void *arg)
{
	struct drain *d = arg;
	static uint8_t buf[VNET_HDR_LEN + TUN_MAX_PACKET];

	usleep(200 * 1000);
	while (d->frames < 40) {
		ssize_t n = tun_mem_take(d->t, 0, buf, sizeof(buf));

		if (n == -EAGAIN) {
			usleep(1000);
			continue;
		}
		ck_assert_int_eq(n, VNET_HDR_LEN + 1000 + 28);
		d->frames++;
	}
	return NULL;
}

START_TEST(test_backpressure)
{
	struct tun *t = open_mem(true, true, false, false);
	struct tun_counters c;
	struct drain d = { .t = t };
	size_t lens[TUN_MAX_BATCH];
	pthread_t th;
	int i, small = 16 * 1024;

	/* A tiny queue, so 40 writes must wait for the reader. */
	setsockopt(tun_queue_fd(t, 0), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	for (i = 0; i < 40; i++)	/* distinct flows: nothing merges */
		lens[i] = udp4(bufs[i] + HEAD, 1000, i, i);
	for (i = 0; i < 40; i++)
		put16(bufs[i] + HEAD + 20, 1000 + i), put16(bufs[i] + HEAD + 26, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, drain_later, &d), 0);
	ck_assert_int_eq(tun_write(t, 0, bufs, lens, 40, HEAD), 40);
	pthread_join(th, NULL);
	ck_assert_int_eq(d.frames, 40);
	tun_get_counters(t, &c);
	ck_assert_uint_eq(c.writes, 40);
	ck_assert_uint_gt(c.eagain, 0);
	ck_assert_uint_eq(c.write_errors, 0);
	tun_close(t);
}
END_TEST

START_TEST(test_options_env)
{
	struct tun_options o;

	tun_options_init(&o);
	ck_assert_uint_eq(o.queues, 1);
	ck_assert_uint_eq(o.mtu, TUN_DEFAULT_MTU);
	setenv("VGUARD_NO_TSO", "1", 1);
	setenv("VGUARD_NO_UDP_GRO", "yes", 1);
	setenv("VGUARD_NO_USO", "0", 1);
	setenv("VGUARD_NO_TCP_GRO", "", 1);
	unsetenv("VGUARD_NO_OFFLOAD");
	tun_options_from_env(&o);
	ck_assert(o.no_tso && o.no_udp_gro);
	ck_assert(!o.no_uso && !o.no_tcp_gro && !o.no_vnet_hdr);
	unsetenv("VGUARD_NO_TSO");
	unsetenv("VGUARD_NO_UDP_GRO");
	unsetenv("VGUARD_NO_USO");
	unsetenv("VGUARD_NO_TCP_GRO");
}
END_TEST

/* The shared switches set exactly their own field and leave a program's own
 * options (here -x and --queues) to the program. */
START_TEST(test_options_getopt)
{
	static const struct option lo[] = {
		{ "queues", required_argument, NULL, 'q' },
		TUN_OPTION_LONGOPTS,
		{ 0 }
	};
	char *argv[] = { "prog", "--no-tso", "-x", "--no-udp-gro", "--queues", "3",
			 "--no-offload", NULL };
	struct tun_options o;
	int opt, own = 0;

	tun_options_init(&o);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(7, argv, "x", lo, NULL)) != -1) {
		if (tun_options_getopt(&o, opt))
			continue;
		ck_assert(opt == 'x' || opt == 'q');
		own++;
	}
	ck_assert_int_eq(own, 2);
	ck_assert(o.no_tso && o.no_udp_gro && o.no_vnet_hdr);
	ck_assert(!o.no_uso && !o.no_tcp_gro && !o.no_gro_probe);
	ck_assert_uint_eq(o.queues, 1);
	ck_assert(!tun_options_getopt(&o, 'q'));
	ck_assert(!tun_options_getopt(&o, TUN_OPT_NO_OFFLOAD - 1));
	ck_assert(tun_options_getopt(&o, TUN_OPT_NO_USO) && o.no_uso);
	ck_assert(tun_options_getopt(&o, TUN_OPT_NO_TCP_GRO) && o.no_tcp_gro);
}
END_TEST

START_TEST(test_bad_args)
{
	struct tun *t = open_mem(true, true, false, false);
	size_t lens[1] = { 40 };

	ck_assert_int_eq(tun_read(t, 1, bufs, sizes, TUN_MAX_BATCH, HEAD), -EINVAL);
	ck_assert_int_eq(tun_write(t, 0, bufs, lens, 1, 4), -EINVAL);
	ck_assert_int_eq(tun_write(t, 0, bufs, lens, TUN_MAX_BATCH + 1, HEAD), -EINVAL);
	tun_close(t);
	tun_close(NULL);
}
END_TEST

static Suite *tun_suite(void)
{
	Suite *s = suite_create("tun");
	TCase *tc = tcase_create("mem");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_open_state);
	tcase_add_test(tc, test_read_plain_headroom);
	tcase_add_test(tc, test_read_tso_split);
	tcase_add_test(tc, test_write_coalesced);
	tcase_add_test(tc, test_write_gro_off);
	tcase_add_test(tc, test_probe_turns_gro_off);
	tcase_add_test(tc, test_einval_resends_split);
	tcase_add_test(tc, test_udp_gro);
	tcase_add_test(tc, test_no_vnet_hdr);
	tcase_add_test(tc, test_events);
	tcase_add_test(tc, test_read_gone_is_closed);
	tcase_add_test(tc, test_backpressure);
	tcase_add_test(tc, test_options_env);
	tcase_add_test(tc, test_options_getopt);
	tcase_add_test(tc, test_bad_args);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(tun_suite(), false);
}
