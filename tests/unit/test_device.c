/* SPDX-License-Identifier: MIT */
/*
 * The whole data plane without root: two devices, each over an in-memory
 * TUN, joined by an in-memory UDP network.  Packets are injected on one
 * TUN ("the kernel sends") and taken from the other ("the kernel
 * receives"), byte for byte.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "conn/bind.h"
#include "device/cookie.h"
#include "device/device.h"
#include "device/messages.h"
#include "device/uapi.h"
#include "tun/offload_pkt.h"
#include "tun/tun.h"
#include "tun/virtio.h"
#include "tests/unit/testutil.h"

#include "device_testutil.h"

START_TEST(test_handshake_and_data_both_ways)
{
	/* The first packet waits (staged) for the handshake, then flows. */
	roundtrip(&A, &B, false, PKT_UDP, 100, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 333, 2, 1);
	roundtrip(&A, &B, true, PKT_TCP, 1200, 1, 2);
	roundtrip(&B, &A, true, PKT_UDP, 0, 2, 1);
}
END_TEST

START_TEST(test_staged_burst_flushed)
{
	static uint8_t pkt[2048], got[70000];
	struct pkt_spec sp = pkt_default(false, PKT_UDP, 64, 0);
	unsigned int i, seen = 0;
	size_t len;
	ssize_t n;

	/* Ten packets before any session: all staged, all delivered in order. */
	for (i = 0; i < 10; i++) {
		sp.src = 1;
		sp.dst = 2;
		sp.sport = (uint16_t)(100 + i);
		len = pkt_build(pkt, &sp);
		inject(&A, NULL, pkt, len);
	}
	while (seen < 10 && (n = take(&B, got, sizeof(got))) > 0) {
		ck_assert_int_eq(n, (ssize_t)(VNET_HDR_LEN + len));
		ck_assert_uint_eq(pkt_get16(got + VNET_HDR_LEN + 20), 100 + seen);
		seen++;
	}
	ck_assert_uint_eq(seen, 10);
}
END_TEST

START_TEST(test_no_peer_icmp)
{
	static uint8_t pkt[2048], got[4096];
	struct pkt_spec sp = pkt_default(false, PKT_UDP, 40, 0);
	size_t len;
	ssize_t n;

	sp.src = 1;
	sp.dst = 99;		/* no peer has 192.0.2.99 */
	len = pkt_build(pkt, &sp);
	inject(&A, NULL, pkt, len);
	n = take(&A, got, sizeof(got));
	ck_assert_int_eq(n, (ssize_t)(VNET_HDR_LEN + 28 + len));
	{
		const uint8_t *ip = got + VNET_HDR_LEN;

		ck_assert_uint_eq(ip[9], 1);		/* ICMP */
		ck_assert_mem_eq(ip + 12, pkt + 16, 4);	/* from the lost destination */
		ck_assert_mem_eq(ip + 16, pkt + 12, 4);	/* to the sender */
		ck_assert(ref_ip4_ok(ip));
		ck_assert_uint_eq(ip[20], 3);		/* destination unreachable */
		ck_assert_uint_eq(ip[21], 1);		/* host unreachable */
		ck_assert_uint_eq(ref_sum(ip + 20, 8 + len, 0), 0xffff);
		ck_assert_mem_eq(ip + 28, pkt, len);
	}
	/* IPv6 too. */
	sp = pkt_default(true, PKT_UDP, 40, 0);
	sp.src = 1;
	sp.dst = 99;
	len = pkt_build(pkt, &sp);
	inject(&A, NULL, pkt, len);
	n = take(&A, got, sizeof(got));
	ck_assert_int_eq(n, (ssize_t)(VNET_HDR_LEN + 48 + len));
	ck_assert_uint_eq(got[VNET_HDR_LEN + 6], 58);
	ck_assert_uint_eq(got[VNET_HDR_LEN + 40], 1);
	ck_assert_uint_eq(got[VNET_HDR_LEN + 41], 3);
	ck_assert_mem_eq(got + VNET_HDR_LEN + 48, pkt, len);
}
END_TEST

START_TEST(test_not_allowed_source_dropped)
{
	static uint8_t pkt[2048], got[70000];
	struct pkt_spec sp = pkt_default(false, PKT_UDP, 50, 0);
	size_t len;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	/* A sends from 192.0.2.7, which B does not allow for A: dropped. */
	sp.src = 7;
	sp.dst = 2;
	len = pkt_build(pkt, &sp);
	/* A must route it: give A's kernel a packet to .2 from .7. */
	inject(&A, NULL, pkt, len);
	roundtrip(&A, &B, false, PKT_UDP, 11, 1, 2);	/* the next one still flows */
	ck_assert_int_eq(tun_mem_take(B.tun, 0, got, sizeof(got)), -EAGAIN);
}
END_TEST

/* A TCP super-packet read from A's TUN is split, encrypted, sent as one
 * UDP_SEGMENT batch, decrypted and re-coalesced on B: the bytes arrive. */
START_TEST(test_tso_to_gro)
{
	static uint8_t pkt[70000], got[70000];
	const size_t mss = 1000, nseg = 20;
	struct pkt_spec sp = pkt_default(false, PKT_TCP, mss * nseg, 5000);
	struct vnet_hdr h = { 0 };
	size_t len, recvd = 0;
	ssize_t n;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);	/* session up */
	sp.src = 1;
	sp.dst = 2;
	sp.ttl = 64;
	len = pkt_build(pkt, &sp);
	pkt_partial_csum(pkt, &sp);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = (uint16_t)mss;
	h.hdr_len = 40;
	h.csum_start = 20;
	h.csum_offset = 16;
	inject(&A, &h, pkt, len);
	while (recvd < mss * nseg && (n = take(&B, got, sizeof(got))) > 0) {
		const uint8_t *ip = got + VNET_HDR_LEN;
		size_t plen = (size_t)n - VNET_HDR_LEN - 40, j;
		uint32_t seq = pkt_get32(ip + 24);

		ck_assert_uint_eq(seq, 5000 + recvd);
		for (j = 0; j < plen; j++)
			ck_assert_uint_eq(ip[40 + j], pkt_pattern((uint32_t)(5000 + recvd + j)));
		recvd += plen;
	}
	ck_assert_uint_eq(recvd, mss * nseg);
}
END_TEST

static void setup_mixed(void)
{
	setup(false, true, 2);
}

static void setup_off(void)
{
	setup(true, true, 1);
}

START_TEST(test_stats_and_get)
{
	char *s, *g;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 10, 2, 1);
	s = uapi_call(A.dev, "stats=1\n\n");
	ck_assert_msg(strstr(s, "errno=0\n\n") != NULL, "%s", s);
	ck_assert_uint_ge(stat_of(s, "tx_packets"), 1);
	ck_assert_uint_ge(stat_of(s, "rx_packets"), 1);
	ck_assert_uint_eq(stat_of(s, "handshake_initiations_sent") +
			  stat_of(s, "handshake_responses_sent"), 1);
	free(s);
	g = uapi_call(A.dev, "get=1\n\n");
	ck_assert_msg(strstr(g, "listen_port=51820\n") != NULL, "%s", g);
	ck_assert_msg(strstr(g, "allowed_ip=192.0.2.2/32\n") != NULL, "%s", g);
	ck_assert_msg(strstr(g, "endpoint=127.0.0.1:51821\n") != NULL, "%s", g);
	ck_assert_msg(strstr(g, "last_handshake_time_sec=0\n") == NULL, "%s", g);
	free(g);
}
END_TEST

/* Re-applying the same peer (as `wg syncconf` does) keeps the session. */
START_TEST(test_reconfigure_keeps_session)
{
	char *s;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	configure(&A, &B, PORT_A, PORT_B, 2);
	configure(&B, &A, PORT_B, PORT_A, 1);
	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 10, 2, 1);
	s = uapi_call(A.dev, "stats=1\n\n");
	ck_assert_uint_eq(stat_of(s, "handshake_initiations_sent") +
			  stat_of(s, "handshake_initiations_received"), 1);
	free(s);
}
END_TEST

START_TEST(test_remove_peer_then_icmp)
{
	char pk[65], *g;
	static uint8_t pkt[2048], got[4096];
	struct pkt_spec sp = pkt_default(false, PKT_UDP, 40, 0);
	size_t len;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	hex(pk, B.pub);
	ck_assert_int_eq(set(&A, "public_key=%s\nremove=true\n", pk), 0);
	g = uapi_call(A.dev, "get=1\n\n");
	ck_assert_msg(strstr(g, "public_key=") == NULL, "%s", g);
	free(g);
	sp.src = 1;
	sp.dst = 2;
	len = pkt_build(pkt, &sp);
	inject(&A, NULL, pkt, len);
	ck_assert_int_eq(take(&A, got, sizeof(got)), (ssize_t)(VNET_HDR_LEN + 28 + len));
}
END_TEST

static void wait_port(struct side *s, bool up)
{
	int i;

	for (i = 0; i < 3000 && (device_port(s->dev) != 0) != up; i++)
		usleep(1000);
	ck_assert_int_eq(device_port(s->dev) != 0, up);
}

/* Link down closes the sockets, up reopens them on the same port; the
 * session does not survive (test_link_down_fresh_session): B, back up,
 * starts a new handshake with its first packet. */
START_TEST(test_link_down_up)
{
	struct tun_event down = { .type = TUN_EVENT_DOWN }, up = { .type = TUN_EVENT_UP };
	char *g;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	ck_assert_int_eq(tun_mem_push_event(B.tun, &down), 0);
	wait_port(&B, false);
	ck_assert_int_eq(tun_mem_push_event(B.tun, &up), 0);
	wait_port(&B, true);
	ck_assert_uint_eq(device_port(B.dev), PORT_B);
	roundtrip(&B, &A, false, PKT_UDP, 25, 2, 1);
	roundtrip(&A, &B, false, PKT_UDP, 20, 1, 2);
	/* Down, the port taken by someone else, up: no sockets; a new port
	 * through the UAPI then opens them. */
	{
		struct vg_bind_config c = { .port = PORT_B };
		struct vg_bind *squat;

		int i, r;

		ck_assert_int_eq(tun_mem_push_event(B.tun, &down), 0);
		wait_port(&B, false);
		/* B's sockets close once its workers have moved on. */
		for (i = 0; (r = vg_bind_open_mem(&squat, net, &c)) == -EADDRINUSE && i < 2000; i++)
			usleep(1000);
		ck_assert_int_eq(r, 0);
		ck_assert_int_eq(tun_mem_push_event(B.tun, &up), 0);
		usleep(100 * 1000);
		ck_assert_uint_eq(device_port(B.dev), 0);
		vg_bind_close(squat);
		ck_assert_int_eq(set(&B, "listen_port=%u\n", PORT_B), 0);
		ck_assert_uint_eq(device_port(B.dev), PORT_B);
	}
	roundtrip(&B, &A, false, PKT_UDP, 30, 2, 1);
	/* A's first, then one of B's after each link up. */
	g = uapi_call(B.dev, "stats=1\n\n");
	ck_assert_uint_eq(stat_of(g, "handshake_initiations_received"), 1);
	ck_assert_uint_eq(stat_of(g, "handshake_initiations_sent"), 2);
	free(g);
}
END_TEST

/* A listen port that is taken: -EADDRINUSE, and nothing changes. */
START_TEST(test_port_in_use)
{
	char *g;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	ck_assert_int_eq(set(&A, "listen_port=%u\n", PORT_B), -EADDRINUSE);
	ck_assert_uint_eq(device_port(A.dev), PORT_A);
	g = uapi_call(A.dev, "get=1\n\n");
	ck_assert_msg(strstr(g, "listen_port=51820\n") != NULL, "%s", g);
	free(g);
	roundtrip(&B, &A, false, PKT_UDP, 10, 2, 1);
	/* Moving to a free port works and the peer follows (roaming). */
	ck_assert_int_eq(set(&A, "listen_port=51830\n"), 0);
	ck_assert_uint_eq(device_port(A.dev), 51830);
	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 12, 2, 1);
}
END_TEST

/* persistent_keepalive_interval=1: empty packets flow without traffic. */
START_TEST(test_persistent_keepalive)
{
	char pk[65], *g;
	uint64_t n = 0;
	int i;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	hex(pk, B.pub);
	ck_assert_int_eq(set(&A, "public_key=%s\npersistent_keepalive_interval=1\n", pk), 0);
	for (i = 0; i < 40 && n < 2; i++) {
		usleep(100 * 1000);
		g = uapi_call(B.dev, "stats=1\n\n");
		n = stat_of(g, "keepalives_received");
		free(g);
	}
	ck_assert_uint_ge(n, 2);
	ck_assert_int_eq(tun_mem_take(B.tun, 0, (uint8_t[64]){ 0 }, 64), -EAGAIN);
}
END_TEST

/* Waits (2 s at most) until key in d's answer to req reaches want. */
static void wait_for(struct device *d, const char *req, const char *key, uint64_t want)
{
	for (int i = 0; i < 200; i++) {
		char *g = uapi_call(d, req);
		uint64_t v = stat_of(g, key);

		free(g);
		if (v >= want)
			return;
		usleep(10 * 1000);
	}
}

/* Past REKEY_AFTER_TIME the initiator rekeys while data keeps flowing on
 * the old session: no packet waits, none is lost. */
START_TEST(test_rekey_without_stall)
{
	char *g;
	int i;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 10, 2, 1);
	usleep(40 * 1000);	/* TAI64N timestamps have ~17 ms steps */
	jump(121);
	for (i = 0; i < 20; i++) {
		roundtrip(&A, &B, false, PKT_UDP, 100 + i, 1, 2);
		roundtrip(&B, &A, false, PKT_UDP, 100 + i, 2, 1);
		usleep(5 * 1000);
	}
	/* The response goes through B's and A's handshake threads: a slow
	 * machine (or emulation) may still have it on the way. */
	wait_for(A.dev, "stats=1\n\n", "handshake_responses_received", 2);
	g = uapi_call(A.dev, "stats=1\n\n");
	ck_assert_uint_eq(stat_of(g, "handshake_initiations_sent"), 2);
	ck_assert_uint_eq(stat_of(g, "handshake_responses_received"), 2);
	free(g);
}
END_TEST

/* Past REJECT_AFTER_TIME the old keys are unusable: the next packet is
 * staged, a new handshake runs, and it is delivered.  (B's keepalive timer
 * fires at the same jump, so the two ends may cross initiations.) */
START_TEST(test_expired_session_restaged)
{
	char *g;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	usleep(40 * 1000);
	jump(200);
	roundtrip(&A, &B, false, PKT_UDP, 11, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 12, 2, 1);
	g = uapi_call(A.dev, "stats=1\n\n");
	ck_assert_uint_ge(stat_of(g, "handshake_initiations_sent"), 2);
	free(g);
}
END_TEST

/* B forgets A, then n UDP packets from A's TUN (source ports from sport):
 * A stages them and asks for a handshake B will never answer. */
static void stage_for_deaf_peer(int n, uint16_t sport)
{
	static uint8_t pkt[256];
	struct pkt_spec sp = pkt_default(false, PKT_UDP, 20, 0);
	char pk[65];
	int i;

	hex(pk, A.pub);
	ck_assert_int_eq(set(&B, "public_key=%s\nremove=true\n", pk), 0);
	sp.src = 1;
	sp.dst = 2;
	for (i = 0; i < n; i++) {
		sp.sport = (uint16_t)(sport + i);
		inject(&A, NULL, pkt, pkt_build(pkt, &sp));
	}
}

/* Without a session, at most MAX_STAGED_PACKETS (128) wait per peer; the
 * oldest are dropped and counted. */
START_TEST(test_staged_overflow_counted)
{
	uint8_t pkt[256];
	uint64_t dropped = 0;
	char *g;
	int i;

	stage_for_deaf_peer(200, 1000);
	for (i = 0; i < 300 && dropped < 72; i++) {
		usleep(10 * 1000);
		g = uapi_call(A.dev, "stats=1\n\n");
		dropped = stat_of(g, "drop_queue_full");
		free(g);
	}
	ck_assert_uint_eq(dropped, 72);
	ck_assert_int_eq(tun_mem_take(B.tun, 0, pkt, sizeof(pkt)), -EAGAIN);
}
END_TEST

/* A flood of initiations with a valid MAC1 puts B under load: it answers
 * with cookie replies instead of doing the Diffie-Hellman work, and the
 * tunnel itself keeps working. */
START_TEST(test_under_load_cookie_replies)
{
	static struct vg_rx_pkt rx[64];
	static uint8_t rxbuf[64][256];
	static uint8_t msgs[256][MESSAGE_INITIATION_LEN];
	struct iovec iov[256];
	struct cookie_generator g;
	struct vg_bind_config c;
	struct vg_endpoint to;
	struct vg_bind *atk;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(PORT_B),
				   .sin_addr.s_addr = htonl(0x7f000001) };
	unsigned int i, round, cookies = 0;
	char *st;
	int n;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	memset(&c, 0, sizeof(c));	/* any free port: a device may hold 40000 */
	ck_assert_int_eq(vg_bind_open_mem(&atk, net, &c), 0);
	ck_assert_int_eq(vg_endpoint_from_sockaddr(&to, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cookie_generator_init(&g, B.pub);
	for (i = 0; i < 256; i++) {
		randombytes_buf(msgs[i], sizeof(msgs[i]));
		msgs[i][0] = MESSAGE_HANDSHAKE_INITIATION;
		msgs[i][1] = msgs[i][2] = msgs[i][3] = 0;
		cookie_add_macs(&g, msgs[i], sizeof(msgs[i]), 0);
		iov[i].iov_base = msgs[i];
		iov[i].iov_len = sizeof(msgs[i]);
	}
	for (round = 0; round < 40 && !cookies; round++) {
		for (i = 0; i < 8; i++)
			ck_assert_int_eq(vg_bind_send(atk, &to, iov, 256, NULL), 256);
		usleep(20 * 1000);
		for (i = 0; i < 64; i++) {
			rx[i].data = rxbuf[i];
			rx[i].cap = sizeof(rxbuf[i]);
		}
		while ((n = vg_bind_recv(atk, AF_INET, rx, 64)) > 0)
			for (i = 0; i < (unsigned int)n; i++)
				if (rx[i].len == MESSAGE_COOKIE_LEN &&
				    rx[i].data[0] == MESSAGE_HANDSHAKE_COOKIE)
					cookies++;
	}
	ck_assert_uint_gt(cookies, 0);
	st = uapi_call(B.dev, "stats=1\n\n");
	ck_assert_uint_gt(stat_of(st, "cookie_replies_sent"), 0);
	free(st);
	cookie_generator_destroy(&g);
	vg_bind_close(atk);
	roundtrip(&A, &B, false, PKT_UDP, 11, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 12, 2, 1);
}
END_TEST

/* While set, the workers wait in short slices and stop before waiting
 * while held: a burst can then be queued whole before they read it. */
static int workers_sliced, workers_held;

static int held_epoll_wait(int epfd, struct epoll_event *evs, int n, int timeout)
{
	if (timeout < 0 && __atomic_load_n(&workers_sliced, __ATOMIC_RELAXED)) {
		while (__atomic_load_n(&workers_held, __ATOMIC_RELAXED))
			usleep(1000);
		timeout = 10;
	}
	return epoll_wait(epfd, evs, n, timeout);
}

/* A burst of coalesced datagrams larger than what one wake-up takes: every
 * datagram is handled without a further arrival, though some wait in the
 * bind's GRO scratch where epoll cannot see them (real loopback sockets):
 * 24 batches of 40 are read 8 messages (320 datagrams) at a time and handed
 * out 128 at a time, so a budget of 8 hand-outs leaves the last 64. */
START_TEST(test_gro_scratch_drained)
{
	static uint8_t dgrams[40][64];
	struct tun_event up = { .type = TUN_EVENT_UP };
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct tun_mem_options mo;
	struct vg_bind_config bc;
	struct device_options o;
	struct vg_endpoint to;
	struct iovec iov[40];
	struct vg_bind *src;
	struct device *d;
	struct tun *t;
	uint64_t got = 0;
	char *st;
	int i;

	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	ck_assert_int_eq(tun_mem_open(&t, "vgg", &mo), 0);
	device_options_init(&o);
	o.log_level = DEVICE_LOG_SILENT;
	o.epoll_wait = held_epoll_wait;
	ck_assert_int_eq(device_new(&d, t, &o), 0);
	ck_assert_int_eq(device_start(d), 0);
	ck_assert_int_eq(tun_mem_push_event(t, &up), 0);
	for (i = 0; i < 2000 && !device_port(d); i++)
		usleep(1000);
	ck_assert_uint_ne(device_port(d), 0);
	usleep(50 * 1000);	/* the worker has its sockets in its epoll */
	__atomic_store_n(&workers_held, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&workers_sliced, 1, __ATOMIC_RELAXED);
	usleep(50 * 1000);	/* ... and now waits in held_epoll_wait */
	memset(&bc, 0, sizeof(bc));
	bc.no_ipv6 = true;
	ck_assert_int_eq(vg_bind_open(&src, &bc), 0);
	sin.sin_port = htons(device_port(d));
	ck_assert_int_eq(vg_endpoint_from_sockaddr(&to, (struct sockaddr *)&sin, sizeof(sin)), 0);
	/* Data messages for no session: each is counted as an unknown index. */
	for (i = 0; i < 40; i++) {
		memset(dgrams[i], 0, sizeof(dgrams[i]));
		dgrams[i][0] = MESSAGE_DATA;
		dgrams[i][4] = (uint8_t)i;
		iov[i].iov_base = dgrams[i];
		iov[i].iov_len = sizeof(dgrams[i]);
	}
	for (i = 0; i < 24; i++)
		ck_assert_int_eq(vg_bind_send(src, &to, iov, 40, NULL), 40);
	usleep(50 * 1000);
	__atomic_store_n(&workers_held, 0, __ATOMIC_RELAXED);
	for (i = 0; i < 200 && got < 960; i++) {
		usleep(10 * 1000);
		st = uapi_call(d, "stats=1\n\n");
		got = stat_of(st, "drop_unknown_index");
		free(st);
	}
	ck_assert_uint_eq(got, 960);
	__atomic_store_n(&workers_sliced, 0, __ATOMIC_RELAXED);
	vg_bind_close(src);
	device_free(d);
}
END_TEST

static uint64_t stat_now(struct side *s, const char *key)
{
	char *g = uapi_call(s->dev, "stats=1\n\n");
	uint64_t v = stat_of(g, key);

	free(g);
	return v;
}

/* Plaintext is padded to a multiple of 16, but never past the MTU: the
 * receiver's byte counter sees header + padded plaintext + tag. */
START_TEST(test_padding_capped_at_mtu)
{
	struct tun_event mtu = { .type = TUN_EVENT_MTU, .mtu = 1300 };
	uint64_t before;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	before = stat_now(&B, "rx_bytes");
	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);		/* 38 -> 48 */
	ck_assert_uint_eq(stat_now(&B, "rx_bytes") - before, 16 + 48 + 16);
	ck_assert_int_eq(tun_mem_push_event(A.tun, &mtu), 0);
	usleep(100 * 1000);
	before = stat_now(&B, "rx_bytes");
	roundtrip(&A, &B, false, PKT_UDP, 1299 - 28, 1, 2);	/* 1299 -> 1300 */
	ck_assert_uint_eq(stat_now(&B, "rx_bytes") - before, 16 + 1300 + 16);
	before = stat_now(&B, "rx_bytes");
	roundtrip(&A, &B, false, PKT_UDP, 1281 - 28, 1, 2);	/* 1281 -> 1296 */
	ck_assert_uint_eq(stat_now(&B, "rx_bytes") - before, 16 + 1296 + 16);
}
END_TEST

/* A daemon that reads link events itself hands them over; CLOSED ends
 * device_wait(), and device_stop() does too. */
START_TEST(test_external_link_events)
{
	struct tun_event up = { .type = TUN_EVENT_UP }, down = { .type = TUN_EVENT_DOWN };
	struct tun_event closed = { .type = TUN_EVENT_CLOSED };
	struct tun_mem_options mo;
	struct device_options o;
	struct device *d;
	struct tun *t;

	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	ck_assert_int_eq(tun_mem_open(&t, "vgc", &mo), 0);
	device_options_init(&o);
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = net;
	o.external_link_events = true;
	ck_assert_int_eq(device_new(&d, t, &o), 0);
	ck_assert_int_eq(device_start(d), 0);
	/* The device leaves the TUN's own event channel alone. */
	ck_assert_int_eq(tun_mem_push_event(t, &up), 0);
	usleep(100 * 1000);
	ck_assert_uint_eq(device_port(d), 0);
	device_link_event(d, &up);
	ck_assert_uint_ne(device_port(d), 0);
	device_link_event(d, &down);
	ck_assert_uint_eq(device_port(d), 0);
	device_link_event(d, &closed);
	ck_assert_int_eq(device_wait(d), DEVICE_EXIT_LINK_GONE);
	device_free(d);

	ck_assert_int_eq(tun_mem_open(&t, "vgd", &mo), 0);
	ck_assert_int_eq(device_new(&d, t, &o), 0);
	ck_assert_int_eq(device_start(d), 0);
	device_stop(d);
	ck_assert_int_eq(device_wait(d), DEVICE_EXIT_STOPPED);
	device_free(d);
}
END_TEST

/* Receives what reached a test socket; returns how many datagrams, the
 * first one's length and type byte in *len / *type. */
static int drain(struct vg_bind *b, size_t *len, uint8_t *type)
{
	static uint8_t buf[8][256];
	struct vg_rx_pkt rx[8];
	int n, i, total = 0;

	for (;;) {
		for (i = 0; i < 8; i++) {
			rx[i].data = buf[i];
			rx[i].cap = sizeof(buf[i]);
		}
		n = vg_bind_recv(b, AF_INET, rx, 8);
		if (n <= 0)
			return total;
		if (!total) {
			*len = rx[0].len;
			*type = rx[0].data[0];
		}
		total += n;
	}
}

/* Which threads' epoll_wait fails: the workers wait without a timeout,
 * the control thread with one. */
static int fail_workers, fail_control;

static int failing_epoll_wait(int epfd, struct epoll_event *evs, int n, int timeout)
{
	if (timeout < 0 ? __atomic_load_n(&fail_workers, __ATOMIC_RELAXED)
			: __atomic_load_n(&fail_control, __ATOMIC_RELAXED)) {
		errno = EBADF;
		return -1;
	}
	return epoll_wait(epfd, evs, n, timeout);
}

static void *stop_later(void *arg)
{
	usleep(3000 * 1000);
	device_stop(arg);
	return NULL;
}

/* A device thread that cannot go on stops the device with an error,
 * rather than leaving a daemon that no longer moves packets. */
static void check_thread_failure(int *which, const char *name)
{
	struct tun_mem_options mo;
	struct device_options o;
	struct device *d;
	pthread_t stopper;
	struct tun *t;

	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	mo.tun.queues = 2;
	ck_assert_int_eq(tun_mem_open(&t, name, &mo), 0);
	device_options_init(&o);
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = net;
	o.epoll_wait = failing_epoll_wait;
	__atomic_store_n(which, 1, __ATOMIC_RELAXED);
	ck_assert_int_eq(device_new(&d, t, &o), 0);
	ck_assert_int_eq(device_start(d), 0);
	/* Without the failure reported, only this would end the wait. */
	ck_assert_int_eq(pthread_create(&stopper, NULL, stop_later, d), 0);
	ck_assert_int_eq(device_wait(d), DEVICE_EXIT_ERROR);
	pthread_join(stopper, NULL);
	__atomic_store_n(which, 0, __ATOMIC_RELAXED);
	device_free(d);
}

START_TEST(test_thread_failure_stops_device)
{
	check_thread_failure(&fail_workers, "vge");
	check_thread_failure(&fail_control, "vgf");
}
END_TEST


/* As in wireguard-go, a peer does nothing while the link is down: setting
 * an endpoint and a persistent keepalive creates no initiation and counts
 * no bytes.  At link up the keepalive falls due: one initiation leaves and
 * get's tx_bytes counts exactly its 148 bytes. */
START_TEST(test_link_down_no_protocol)
{
	struct tun_event up = { .type = TUN_EVENT_UP };
	struct vg_bind_config c;
	struct tun_mem_options mo;
	struct device_options o;
	struct vg_bind *peer;
	struct device *d;
	struct tun *t;
	char k[65], pk[65], *g;
	size_t len = 0;
	uint8_t type = 0;
	int i, n = 0;

	memset(&c, 0, sizeof(c));	/* any free port */
	ck_assert_int_eq(vg_bind_open_mem(&peer, net, &c), 0);
	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	ck_assert_int_eq(tun_mem_open(&t, "vge", &mo), 0);
	device_options_init(&o);
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = net;
	o.clock = test_clock;
	o.external_link_events = true;
	ck_assert_int_eq(device_new(&d, t, &o), 0);
	ck_assert_int_eq(device_start(d), 0);
	hex(k, A.priv);
	hex(pk, B.pub);
	ck_assert_int_eq(set(&(struct side){ .dev = d },
			     "private_key=%s\npublic_key=%s\n"
			     "endpoint=127.0.0.1:%u\npersistent_keepalive_interval=1\n"
			     "allowed_ip=192.0.2.9/32\n", k, pk, vg_bind_port(peer)), 0);
	usleep(300 * 1000);	/* several control-thread ticks */
	jump(30);		/* and well past any timer */
	usleep(300 * 1000);
	g = uapi_call(d, "get=1\n\n");
	ck_assert_uint_eq(stat_of(g, "tx_bytes"), 0);
	ck_assert_uint_eq(stat_of(g, "rx_bytes"), 0);
	free(g);
	g = uapi_call(d, "stats=1\n\n");
	ck_assert_uint_eq(stat_of(g, "handshake_initiations_sent"), 0);
	ck_assert_uint_eq(stat_of(g, "tx_bytes"), 0);
	free(g);
	ck_assert_int_eq(drain(peer, &len, &type), 0);

	device_link_event(d, &up);
	for (i = 0; i < 200 && !n; i++) {
		usleep(10 * 1000);
		n = drain(peer, &len, &type);
	}
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(len, MESSAGE_INITIATION_LEN);
	ck_assert_uint_eq(type, MESSAGE_HANDSHAKE_INITIATION);
	/* Counted once the send returns, which may be after peer has it. */
	wait_for(d, "get=1\n\n", "tx_bytes", MESSAGE_INITIATION_LEN);
	g = uapi_call(d, "get=1\n\n");
	ck_assert_uint_eq(stat_of(g, "tx_bytes"), MESSAGE_INITIATION_LEN);
	free(g);
	g = uapi_call(d, "stats=1\n\n");
	ck_assert_uint_eq(stat_of(g, "handshake_initiations_sent"), 1);
	free(g);
	device_free(d);
	vg_bind_close(peer);
}
END_TEST

/* The last handshake time `get` reports, as "sec.nsec". */
static void last_handshake(struct side *s, char *out, size_t len)
{
	char *g = uapi_call(s->dev, "get=1\n\n");

	snprintf(out, len, "%llu.%llu",
		 (unsigned long long)stat_of(g, "last_handshake_time_sec"),
		 (unsigned long long)stat_of(g, "last_handshake_time_nsec"));
	free(g);
}

/* As in the kernel and wireguard-go, link down drops every session: after
 * link up the first packet waits for a new handshake, then data flows both
 * ways.  `get` keeps reporting the last handshake time while the link is
 * down and after it is up again, until a new handshake replaces it. */
START_TEST(test_link_down_fresh_session)
{
	struct tun_event down = { .type = TUN_EVENT_DOWN }, up = { .type = TUN_EVENT_UP };
	char before[48], during[48], after[48];

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 10, 2, 1);
	ck_assert_uint_eq(stat_now(&A, "handshake_initiations_sent"), 1);
	last_handshake(&A, before, sizeof(before));
	ck_assert_str_ne(before, "0.0");
	usleep(40 * 1000);	/* TAI64N timestamps have ~17 ms steps */

	ck_assert_int_eq(tun_mem_push_event(A.tun, &down), 0);
	wait_port(&A, false);
	last_handshake(&A, during, sizeof(during));
	ck_assert_str_eq(during, before);
	ck_assert_int_eq(tun_mem_push_event(A.tun, &up), 0);
	wait_port(&A, true);
	last_handshake(&A, during, sizeof(during));
	ck_assert_str_eq(during, before);

	roundtrip(&A, &B, false, PKT_UDP, 20, 1, 2);
	ck_assert_uint_eq(stat_now(&A, "handshake_initiations_sent"), 2);
	ck_assert_uint_eq(stat_now(&A, "handshake_responses_received"), 2);
	ck_assert_uint_eq(stat_now(&B, "handshake_initiations_received"), 2);
	last_handshake(&A, after, sizeof(after));
	ck_assert_str_ne(after, before);
	roundtrip(&B, &A, false, PKT_UDP, 30, 2, 1);
	roundtrip(&A, &B, true, PKT_TCP, 1200, 1, 2);
	ck_assert_uint_eq(stat_now(&A, "handshake_initiations_sent"), 2);
}
END_TEST

/* A peer with a persistent keepalive sends one at link up, at once and
 * without traffic: on a new session, since the old one is gone. */
START_TEST(test_link_down_keepalive_at_up)
{
	struct tun_event down = { .type = TUN_EVENT_DOWN }, up = { .type = TUN_EVENT_UP };
	uint64_t kas = 0;
	char pk[65];
	int i;

	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	hex(pk, B.pub);
	ck_assert_int_eq(set(&A, "public_key=%s\npersistent_keepalive_interval=25\n", pk), 0);
	for (i = 0; i < 300 && !kas; i++) {
		usleep(10 * 1000);
		kas = stat_now(&B, "keepalives_received");
	}
	ck_assert_uint_eq(kas, 1);
	usleep(200 * 1000);
	ck_assert_uint_eq(stat_now(&B, "keepalives_received"), 1);

	ck_assert_int_eq(tun_mem_push_event(A.tun, &down), 0);
	wait_port(&A, false);
	ck_assert_int_eq(tun_mem_push_event(A.tun, &up), 0);
	for (i = 0; i < 300 && kas < 2; i++) {
		usleep(10 * 1000);
		kas = stat_now(&B, "keepalives_received");
	}
	ck_assert_uint_eq(kas, 2);
	ck_assert_uint_eq(stat_now(&A, "handshake_initiations_sent"), 2);
	ck_assert_uint_eq(stat_now(&B, "handshake_initiations_received"), 2);
	roundtrip(&B, &A, false, PKT_UDP, 30, 2, 1);
}
END_TEST

/* Packets staged for a handshake that never completed are dropped at link
 * down and counted (drop_queue_full), as the kernel counts them in
 * tx_dropped; after link up they are not sent. */
START_TEST(test_link_down_drops_staged)
{
	struct tun_event down = { .type = TUN_EVENT_DOWN }, up = { .type = TUN_EVENT_UP };
	uint8_t pkt[256];
	uint64_t dropped = 0;
	int i;

	stage_for_deaf_peer(3, 2000);
	for (i = 0; i < 300 && !stat_now(&A, "handshake_initiations_sent"); i++)
		usleep(10 * 1000);
	usleep(100 * 1000);	/* the three are staged */
	ck_assert_uint_eq(stat_now(&A, "drop_queue_full"), 0);

	ck_assert_int_eq(tun_mem_push_event(A.tun, &down), 0);
	wait_port(&A, false);
	for (i = 0; i < 300 && dropped < 3; i++) {
		dropped = stat_now(&A, "drop_queue_full");
		usleep(10 * 1000);
	}
	ck_assert_uint_eq(dropped, 3);
	ck_assert_int_eq(tun_mem_push_event(A.tun, &up), 0);
	wait_port(&A, true);
	configure(&B, &A, PORT_B, PORT_A, 1);
	/* Only the new packet arrives: nothing from before the link went down. */
	roundtrip(&A, &B, false, PKT_UDP, 20, 1, 2);
	usleep(100 * 1000);
	ck_assert_int_eq(tun_mem_take(B.tun, 0, pkt, sizeof(pkt)), -EAGAIN);
	ck_assert_uint_eq(stat_now(&A, "drop_queue_full"), 3);
}
END_TEST

/* Applies a set request of any size. */
static int set_text(struct device *d, const char *text)
{
	struct uapi_txn txn;
	int ret;

	memset(&txn, 0, sizeof(txn));
	ck_assert_int_eq(uapi_parse_set(&txn, text, strlen(text)), 0);
	ret = device_uapi_ops.set(d, &txn);
	uapi_txn_clear(&txn);
	return ret;
}

static size_t count_lines(const char *text, const char *prefix)
{
	size_t n = 0, l = strlen(prefix);
	const char *p;

	for (p = text; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		n += !strncmp(p, prefix, l);
	}
	return n;
}

/* Thousands of peers: added, then replaced by a set that lists B again
 * and half of them.  get lists exactly the store's peers, and B's session
 * survives both sets (a peer listed again keeps it). */
START_TEST(test_many_peers_replace)
{
	enum { N = 4000 };
	const size_t cap = (size_t)N * 128 + 256;
	char *req = malloc(cap), *rep = malloc(cap), *g, k[65];
	size_t off = 0, half = 0;
	uint8_t key[32];
	int i;

	ck_assert_ptr_nonnull(req);
	ck_assert_ptr_nonnull(rep);
	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);
	for (i = 0; i < N; i++) {
		if (i == N / 2)
			half = off;
		randombytes_buf(key, sizeof(key));
		hex(k, key);
		off += (size_t)snprintf(req + off, cap - off,
					"public_key=%s\nallowed_ip=10.%d.%d.0/24\n",
					k, 64 + i / 256, i % 256);
	}
	ck_assert_int_eq(set_text(A.dev, req), 0);
	g = uapi_call(A.dev, "get=1\n\n");
	ck_assert_uint_eq(count_lines(g, "public_key="), N + 1);
	ck_assert_uint_eq(count_lines(g, "allowed_ip="), N + 2);
	free(g);
	roundtrip(&A, &B, false, PKT_UDP, 11, 1, 2);

	hex(k, B.pub);
	off = (size_t)snprintf(rep, cap, "replace_peers=true\npublic_key=%s\n"
			       "allowed_ip=192.0.2.2/32\nallowed_ip=2001:db8::2/128\n", k);
	memcpy(rep + off, req, half);
	rep[off + half] = 0;
	ck_assert_int_eq(set_text(A.dev, rep), 0);
	g = uapi_call(A.dev, "get=1\n\n");
	ck_assert_uint_eq(count_lines(g, "public_key="), N / 2 + 1);
	ck_assert_uint_eq(count_lines(g, "allowed_ip="), N / 2 + 2);
	ck_assert_ptr_nonnull(strstr(g, "allowed_ip=10.64.0.0/24\n"));
	ck_assert_ptr_null(strstr(g, "allowed_ip=10.71.208.0/24\n"));	/* peer 2000 */
	free(g);
	roundtrip(&A, &B, false, PKT_UDP, 12, 1, 2);
	roundtrip(&B, &A, false, PKT_UDP, 13, 2, 1);
	g = uapi_call(A.dev, "stats=1\n\n");
	ck_assert_uint_eq(stat_of(g, "handshake_initiations_sent") +
			  stat_of(g, "handshake_responses_sent"), 1);
	free(g);
	free(req);
	free(rep);
}
END_TEST

/* More queues than CPUs is allowed: the count is the caller's, up to the
 * TUN's limit, not capped at some small number. */
START_TEST(test_device_queues)
{
	struct device_options o;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	device_options_init(&o);
	o.queues = 200;
	ck_assert_uint_eq(device_queues(&o), 200);
	o.queues = DEVICE_MAX_QUEUES + 1;
	ck_assert_uint_eq(device_queues(&o), DEVICE_MAX_QUEUES);
	o.queues = 0;
	ck_assert_uint_eq(device_queues(&o),
			  cpus < 1 ? 1 : cpus > DEVICE_MAX_QUEUES ? DEVICE_MAX_QUEUES : cpus);
}
END_TEST

static void setup_many(void)
{
	setup(false, false, 16);
}

/* Each of A's 16 workers sends from its own TUN queue, so the peer's
 * counters are spread over 16 worker slots: get and stats sum them all. */
START_TEST(test_many_queues_counted)
{
	static uint8_t frame[VNET_HDR_LEN + 2048], got[70000];
	struct pkt_spec sp = pkt_default(false, PKT_UDP, 100, 0);
	struct vnet_hdr zero = { 0 };
	const unsigned int nq = 16;
	char *sa, *sb, *g;
	const char *pa, *pb;
	unsigned int q, seen = 0;
	size_t len = 0;

	ck_assert_uint_eq(tun_queues(A.tun), nq);
	roundtrip(&A, &B, false, PKT_UDP, 10, 1, 2);	/* session up */
	vnet_hdr_encode(frame, &zero);
	for (q = 0; q < nq; q++) {
		sp.src = 1;
		sp.dst = 2;
		sp.sport = (uint16_t)(1000 + q);
		len = pkt_build(frame + VNET_HDR_LEN, &sp);
		ck_assert_int_eq(tun_mem_inject(A.tun, q, frame, VNET_HDR_LEN + len), 0);
	}
	while (seen < nq && take(&B, got, sizeof(got)) == (ssize_t)(VNET_HDR_LEN + len))
		seen++;
	ck_assert_uint_eq(seen, nq);
	/* Workers count a packet after handing it on, which may be after B's
	 * TUN has it: give the last count a moment (slow under emulation). */
	wait_for(A.dev, "stats=1\n\n", "tx_packets", 1 + nq);
	wait_for(B.dev, "stats=1\n\n", "rx_packets", 1 + nq);

	sa = uapi_call(A.dev, "stats=1\n\n");
	sb = uapi_call(B.dev, "stats=1\n\n");
	g = uapi_call(A.dev, "get=1\n\n");
	pa = strstr(sa, "\npublic_key=");
	pb = strstr(sb, "\npublic_key=");
	ck_assert_msg(pa && pb, "%s%s", sa, sb);
	ck_assert_uint_eq(stat_of(sa, "tx_packets"), 1 + nq);
	ck_assert_uint_eq(stat_of(pa, "tx_packets"), 1 + nq);
	ck_assert_uint_eq(stat_of(sb, "rx_packets"), 1 + nq);
	ck_assert_uint_eq(stat_of(pb, "rx_packets"), 1 + nq);
	/* One peer: the device's sums are the peer's, and get agrees. */
	ck_assert_uint_eq(stat_of(pa, "tx_bytes"), stat_of(sa, "tx_bytes"));
	ck_assert_uint_eq(stat_of(pa, "rx_bytes"), stat_of(sa, "rx_bytes"));
	ck_assert_uint_eq(stat_of(pb, "rx_bytes"), stat_of(sb, "rx_bytes"));
	ck_assert_uint_eq(stat_of(g, "tx_bytes"), stat_of(pa, "tx_bytes"));
	ck_assert_uint_eq(stat_of(g, "rx_bytes"), stat_of(pa, "rx_bytes"));
	ck_assert_uint_gt(stat_of(pa, "tx_bytes"), nq * len);
	free(sa);
	free(sb);
	free(g);
	roundtrip(&B, &A, false, PKT_UDP, 12, 2, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("device");
	TCase *tc = tcase_create("offloads on");
	TCase *mixed = tcase_create("offloads mixed, 2 queues");
	TCase *off = tcase_create("offloads off");
	TCase *many = tcase_create("16 queues");

	/* Crossing initiations settle after REKEY_TIMEOUT (5 s): more than
	 * Check's default 4 s per test. */
	tcase_set_timeout(tc, 60);
	tcase_set_timeout(mixed, 60);
	tcase_set_timeout(off, 60);
	tcase_set_timeout(many, 60);
	tcase_add_checked_fixture(tc, setup_on, teardown);
	tcase_add_test(tc, test_handshake_and_data_both_ways);
	tcase_add_test(tc, test_staged_burst_flushed);
	tcase_add_test(tc, test_no_peer_icmp);
	tcase_add_test(tc, test_not_allowed_source_dropped);
	tcase_add_test(tc, test_tso_to_gro);
	tcase_add_test(tc, test_stats_and_get);
	tcase_add_test(tc, test_reconfigure_keeps_session);
	tcase_add_test(tc, test_remove_peer_then_icmp);
	tcase_add_test(tc, test_link_down_up);
	tcase_add_test(tc, test_port_in_use);
	tcase_add_test(tc, test_persistent_keepalive);
	tcase_add_test(tc, test_rekey_without_stall);
	tcase_add_test(tc, test_expired_session_restaged);
	tcase_add_test(tc, test_staged_overflow_counted);
	tcase_add_test(tc, test_under_load_cookie_replies);
	tcase_add_test(tc, test_padding_capped_at_mtu);
	tcase_add_test(tc, test_external_link_events);
	tcase_add_test(tc, test_thread_failure_stops_device);
	/* Real loopback sockets with UDP_GRO control messages. */
	if (!vg_test_qemu_cross_endian())
		tcase_add_test(tc, test_gro_scratch_drained);
	else
		puts("test_gro_scratch_drained skipped: cross-endian qemu-user");
	tcase_add_test(tc, test_link_down_no_protocol);
	tcase_add_test(tc, test_link_down_fresh_session);
	tcase_add_test(tc, test_link_down_keepalive_at_up);
	tcase_add_test(tc, test_link_down_drops_staged);
	tcase_add_test(tc, test_many_peers_replace);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(mixed, setup_mixed, teardown);
	tcase_add_test(mixed, test_handshake_and_data_both_ways);
	tcase_add_test(mixed, test_tso_to_gro);
	suite_add_tcase(s, mixed);

	tcase_add_checked_fixture(off, setup_off, teardown);
	tcase_add_test(off, test_handshake_and_data_both_ways);
	tcase_add_test(off, test_staged_burst_flushed);
	suite_add_tcase(s, off);

	tcase_add_checked_fixture(many, setup_many, teardown);
	tcase_add_test(many, test_device_queues);
	tcase_add_test(many, test_handshake_and_data_both_ways);
	tcase_add_test(many, test_many_queues_counted);
	suite_add_tcase(s, many);
	return s;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	return vg_test_run(suite(), false);
}
