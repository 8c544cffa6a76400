// SPDX-License-Identifier: MIT
/*
 * The Linux bind over loopback (no root): GSO batches through GRO arrive
 * complete and in order on IPv4 and IPv6, replies leave from the sticky
 * source, a REUSEPORT group keeps a 4-tuple on one member, and injected
 * EIO/EINVAL/EMSGSIZE/EAGAIN lose nothing and flip the right switches.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/udp.h>
#include <netinet/in.h>

#include "conn/bind.h"
#include "conn/cmsg.h"
#include "tests/unit/conn_testutil.h"
#include "tests/unit/testutil.h"

#define SLOT 2048
static uint8_t rxbuf[VG_BIND_BATCH][SLOT];
static uint8_t txbuf[VG_BIND_BATCH][SLOT];
static char last_log[256];

static void quiet_log(void *arg, const char *msg)
{
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static struct vg_bind_config cfg(void)
{
	struct vg_bind_config c = { .log = quiet_log };

	return c;
}

static struct vg_bind *open_bind(const struct vg_bind_config *c)
{
	struct vg_bind *b = NULL;
	int ret = vg_bind_open(&b, c);

	ck_assert_msg(ret == 0, "vg_bind_open: %s", strerror(-ret));
	return b;
}

static bool has_v6(struct vg_bind *b)
{
	return vg_bind_fd(b, AF_INET6) >= 0;
}

static const char *lo(int family)
{
	return family == AF_INET ? "127.0.0.1" : "::1";
}

/* Datagram seq: 4-byte sequence number, then a pattern tied to it. */
static void fill(uint8_t *p, size_t len, uint32_t seq)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 31 + i * 7);
	if (len >= 4)
		memcpy(p, &seq, 4);
}

static void check_dgram(const uint8_t *p, size_t len, size_t want_len, uint32_t seq)
{
	uint8_t exp[SLOT];

	ck_assert_msg(len == want_len, "datagram %u: %zu bytes, want %zu", seq, len, want_len);
	fill(exp, want_len, seq);
	ck_assert_msg(!memcmp(p, exp, len), "datagram %u: bytes differ", seq);
}

static void slots(struct vg_rx_pkt *p, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		p[i].data = rxbuf[i];
		p[i].cap = SLOT;
		p[i].len = 0;
	}
}

/* With lend_rx, receives through vg_bind_recv_lent(), counting in lent the
 * datagrams handed out where they lay in the bind's memory. */
static bool lend_rx;
static unsigned int lent;

static bool in_slots(const uint8_t *p)
{
	return p >= &rxbuf[0][0] && p < &rxbuf[0][0] + sizeof(rxbuf);
}

/* Receives up to want datagrams (waiting up to 2 s for each burst). */
static unsigned int recv_some(struct vg_bind *b, int family, struct vg_rx_pkt *out,
			      unsigned int want, unsigned int slots_per_call)
{
	struct pollfd pfd = { .fd = vg_bind_fd(b, family), .events = POLLIN };
	unsigned int got = 0;

	while (got < want) {
		int n;

		slots(out + got, want - got);
		n = (lend_rx ? vg_bind_recv_lent : vg_bind_recv)(b, family, out + got,
				want - got < slots_per_call ? want - got : slots_per_call);
		ck_assert_int_ge(n, 0);
		if (n > 0) {
			/* Move the bytes out of the shared slots. */
			for (int i = 0; i < n; i++) {
				uint8_t *src = out[got + i].data;

				lent += !in_slots(src);
				out[got + i].data = malloc(out[got + i].len + 1);
				memcpy(out[got + i].data, src, out[got + i].len);
			}
			got += (unsigned int)n;
			continue;
		}
		if (!vg_bind_pending(b, family) && poll(&pfd, 1, 2000) <= 0)
			break;
	}
	return got;
}

static void free_rx(struct vg_rx_pkt *p, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		free(p[i].data);
}

/* Deterministic mixed sizes: runs of equal sizes, sometimes a short tail. */
static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

static unsigned int make_batch(struct iovec *iov, size_t *sizes, uint32_t seq0, unsigned int n)
{
	static const size_t menu[] = { 1452, 1452, 1280, 548, 100, 33, 4, 1 };
	unsigned int i = 0;

	while (i < n) {
		size_t sz = menu[next_rand() % 8];
		unsigned int run = 1 + next_rand() % 70;

		for (unsigned int k = 0; k < run && i < n; k++, i++)
			sizes[i] = sz;
		if (i < n && next_rand() % 3 == 0)
			sizes[i++] = sz > 1 ? sz / 2 : 1;
	}
	for (i = 0; i < n; i++) {
		fill(txbuf[i], sizes[i], seq0 + i);
		iov[i].iov_base = txbuf[i];
		iov[i].iov_len = sizes[i];
	}
	return n;
}

/* Sends total datagrams from a to b in batches and checks every one. */
static void stream(struct vg_bind *a, struct vg_bind *b, int family, unsigned int total,
		   unsigned int rx_slots)
{
	static struct vg_rx_pkt got[VG_BIND_BATCH];
	struct vg_endpoint ep = vg_test_ep(lo(family), vg_bind_port(b));
	struct iovec iov[VG_BIND_BATCH];
	size_t sizes[VG_BIND_BATCH];
	uint32_t seq = 0;

	while (seq < total) {
		unsigned int n = 64 + next_rand() % 65, r;

		if (n > total - seq)
			n = total - seq;
		make_batch(iov, sizes, seq, n);
		ck_assert_int_eq(vg_bind_send(a, &ep, iov, n, NULL), (int)n);
		r = recv_some(b, family, got, n, rx_slots);
		ck_assert_msg(r == n, "batch at %u: received %u of %u", seq, r, n);
		for (unsigned int i = 0; i < n; i++) {
			check_dgram(got[i].data, got[i].len, sizes[i], seq + i);
			ck_assert_int_eq(vg_endpoint_family(&got[i].ep), family);
			ck_assert_uint_eq(ntohs(family == AF_INET ? got[i].ep.dst.in4.sin_port
								  : got[i].ep.dst.in6.sin6_port),
					  vg_bind_port(a));
			ck_assert(got[i].ep.has_src);
		}
		free_rx(got, n);
		seq += n;
	}
}

static void gso_gro_family(int family)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a = open_bind(&c), *b = open_bind(&c);
	struct vg_bind_stats sa, sb;

	if (family == AF_INET6 && (!has_v6(a) || !has_v6(b))) {
		vg_bind_close(a);
		vg_bind_close(b);
		return;	/* no IPv6 on this host */
	}
	ck_assert(vg_bind_offloads(a) & (family == AF_INET ? VG_BIND_GSO4 : VG_BIND_GSO6));
	ck_assert(vg_bind_offloads(b) & (family == AF_INET ? VG_BIND_GRO4 : VG_BIND_GRO6));
	stream(a, b, family, 3000, VG_BIND_BATCH);
	vg_bind_get_stats(a, &sa);
	vg_bind_get_stats(b, &sb);
	ck_assert_uint_eq(sa.tx_packets, 3000);
	ck_assert_uint_eq(sb.rx_packets, 3000);
	ck_assert_uint_eq(sa.tx_bytes, sb.rx_bytes);
	/* The offloads really worked: fewer syscalls than datagrams. */
	ck_assert_uint_gt(sa.tx_gso_msgs, 0);
	ck_assert_uint_gt(sb.rx_gro_batches, 0);
	ck_assert_uint_lt(sa.tx_syscalls, 3000 / 10);
	ck_assert_uint_eq(sa.tx_gso_eio + sa.tx_gso_einval + sa.tx_gso_emsgsize, 0);
	vg_bind_close(a);
	vg_bind_close(b);
}

START_TEST(gso_gro_v4)
{
	gso_gro_family(AF_INET);
}
END_TEST

START_TEST(gso_gro_v6)
{
	gso_gro_family(AF_INET6);
}
END_TEST

START_TEST(small_slots_pending)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a = open_bind(&c), *b = open_bind(&c);

	/* 5 slots per call: GRO batches are handed out over several calls. */
	stream(a, b, AF_INET, 1000, 5);
	vg_bind_close(a);
	vg_bind_close(b);
}
END_TEST

/* Lent GRO pieces carry the same bytes, in whatever slots per call. */
START_TEST(gro_lent)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a = open_bind(&c), *b = open_bind(&c);

	lend_rx = true;
	lent = 0;
	stream(a, b, AF_INET, 3000, VG_BIND_BATCH);
	stream(a, b, AF_INET, 1000, 5);
	lend_rx = false;
	ck_assert_uint_gt(lent, 0);
	vg_bind_close(a);
	vg_bind_close(b);
}
END_TEST

START_TEST(offloads_off)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a, *b;
	struct vg_bind_stats sa, sb;

	c.no_gso = true;
	c.no_gro = true;
	a = open_bind(&c);
	b = open_bind(&c);
	ck_assert_uint_eq(vg_bind_offloads(a), 0);
	ck_assert_int_eq(vg_bind_offload_state(a, VG_BIND_GSO4), VG_BIND_REASON_SWITCH);
	ck_assert_int_eq(vg_bind_offload_state(b, VG_BIND_GRO4), VG_BIND_REASON_SWITCH);
	stream(a, b, AF_INET, 1000, VG_BIND_BATCH);
	vg_bind_get_stats(a, &sa);
	vg_bind_get_stats(b, &sb);
	ck_assert_uint_eq(sa.tx_gso_msgs, 0);
	ck_assert_uint_eq(sb.rx_gro_batches, 0);
	/* And back on at run time. */
	ck_assert_int_eq(vg_bind_set_offload(a, VG_BIND_GSO, true), 0);
	ck_assert_int_eq(vg_bind_set_offload(b, VG_BIND_GRO, true), 0);
	ck_assert_int_eq(vg_bind_offload_state(a, VG_BIND_GSO4), VG_BIND_REASON_ON);
	ck_assert_int_eq(vg_bind_offload_state(b, VG_BIND_GRO4), VG_BIND_REASON_ON);
	stream(a, b, AF_INET, 1000, VG_BIND_BATCH);
	vg_bind_get_stats(a, &sa);
	vg_bind_get_stats(b, &sb);
	ck_assert_uint_gt(sa.tx_gso_msgs, 0);
	ck_assert_uint_gt(sb.rx_gro_batches, 0);
	/* Off again: GRO turned off on a socket that had it still splits. */
	ck_assert_int_eq(vg_bind_set_offload(b, VG_BIND_GRO4, false), 0);
	ck_assert_uint_eq(vg_bind_offloads(b) & VG_BIND_GRO4, 0);
	stream(a, b, AF_INET, 500, VG_BIND_BATCH);
	vg_bind_close(a);
	vg_bind_close(b);
}
END_TEST

START_TEST(truncated_direct)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a, *b;
	struct vg_bind_stats sb;
	struct vg_endpoint ep;
	struct iovec iov[3];
	struct vg_rx_pkt p[3];
	struct pollfd pfd;
	int n;

	c.no_gro = true;
	a = open_bind(&c);
	b = open_bind(&c);
	ep = vg_test_ep("127.0.0.1", vg_bind_port(b));
	fill(txbuf[0], 10, 0);
	fill(txbuf[1], 500, 1);
	fill(txbuf[2], 20, 2);
	for (int i = 0; i < 3; i++)
		iov[i].iov_base = txbuf[i];
	iov[0].iov_len = 10;
	iov[1].iov_len = 500;
	iov[2].iov_len = 20;
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 3, NULL), 3);
	pfd.fd = vg_bind_fd(b, AF_INET);
	pfd.events = POLLIN;
	/* Loopback delivers in order; collect until all three were seen. */
	n = 0;
	for (int tries = 0; tries < 200; tries++) {
		int k;

		vg_bind_get_stats(b, &sb);
		if (n + sb.rx_truncated >= 3)
			break;
		for (int i = n; i < 3; i++) {
			p[i].data = rxbuf[i];
			p[i].cap = 100;	/* the 500-byte one does not fit */
		}
		k = vg_bind_recv(b, AF_INET, p + n, 3 - (unsigned int)n);
		ck_assert_int_ge(k, 0);
		n += k;
		if (!k)
			poll(&pfd, 1, 10);
	}
	ck_assert_int_eq(n, 2);
	check_dgram(p[0].data, p[0].len, 10, 0);
	check_dgram(p[1].data, p[1].len, 20, 2);
	vg_bind_get_stats(b, &sb);
	ck_assert_uint_eq(sb.rx_truncated, 1);
	ck_assert_int_eq(vg_bind_recv(b, AF_INET, p, 3), 0);
	vg_bind_close(a);
	vg_bind_close(b);
}
END_TEST

/* The reply to a datagram sent to 127.0.0.2 must come from 127.0.0.2. */
START_TEST(sticky_reply_source)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a = open_bind(&c), *b = open_bind(&c);
	struct vg_endpoint ep = vg_test_ep("127.0.0.2", vg_bind_port(b)), back;
	struct vg_rx_pkt got[1];
	struct iovec iov = { .iov_base = txbuf[0], .iov_len = 100 };
	char s[64];

	fill(txbuf[0], 100, 7);
	ck_assert_int_eq(vg_bind_send(a, &ep, &iov, 1, NULL), 1);
	ck_assert_uint_eq(recv_some(b, AF_INET, got, 1, 1), 1);
	ck_assert(got[0].ep.has_src);
	inet_ntop(AF_INET, &got[0].ep.src, s, sizeof(s));
	ck_assert_str_eq(s, "127.0.0.2");
	ck_assert_uint_eq(got[0].ep.src_ifindex, 1);	/* lo */
	back = got[0].ep;
	free_rx(got, 1);

	/* Reply with the sticky source: A sees 127.0.0.2 as the sender. */
	ck_assert_int_eq(vg_bind_send(b, &back, &iov, 1, NULL), 1);
	ck_assert_uint_eq(recv_some(a, AF_INET, got, 1, 1), 1);
	inet_ntop(AF_INET, &got[0].ep.dst.in4.sin_addr, s, sizeof(s));
	ck_assert_str_eq(s, "127.0.0.2");
	ck_assert_uint_eq(ntohs(got[0].ep.dst.in4.sin_port), vg_bind_port(b));
	free_rx(got, 1);

	/* Without it, the kernel picks 127.0.0.1: the check can fail. */
	vg_endpoint_clear_src(&back);
	ck_assert_int_eq(vg_bind_send(b, &back, &iov, 1, NULL), 1);
	ck_assert_uint_eq(recv_some(a, AF_INET, got, 1, 1), 1);
	inet_ntop(AF_INET, &got[0].ep.dst.in4.sin_addr, s, sizeof(s));
	ck_assert_str_eq(s, "127.0.0.1");
	free_rx(got, 1);

	/* A GSO batch to 127.0.0.2: every GRO piece carries the pktinfo. */
	{
		struct iovec many[20];
		struct vg_rx_pkt g[20];

		for (int i = 0; i < 20; i++) {
			fill(txbuf[i], 300, (uint32_t)i);
			many[i].iov_base = txbuf[i];
			many[i].iov_len = 300;
		}
		ck_assert_int_eq(vg_bind_send(a, &ep, many, 20, NULL), 20);
		ck_assert_uint_eq(recv_some(b, AF_INET, g, 20, VG_BIND_BATCH), 20);
		for (int i = 0; i < 20; i++) {
			check_dgram(g[i].data, g[i].len, 300, (uint32_t)i);
			ck_assert(g[i].ep.has_src);
			ck_assert_uint_eq(g[i].ep.src.in4.s_addr, htonl(0x7f000002));
		}
		free_rx(g, 20);
	}
	vg_bind_close(a);
	vg_bind_close(b);
}
END_TEST

START_TEST(sticky_v6)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a = open_bind(&c), *b = open_bind(&c);
	struct vg_endpoint ep;
	struct vg_rx_pkt got[1];
	struct iovec iov = { .iov_base = txbuf[0], .iov_len = 64 };

	if (!has_v6(a) || !has_v6(b))
		goto out;
	ep = vg_test_ep("::1", vg_bind_port(b));
	fill(txbuf[0], 64, 1);
	ck_assert_int_eq(vg_bind_send(a, &ep, &iov, 1, NULL), 1);
	ck_assert_uint_eq(recv_some(b, AF_INET6, got, 1, 1), 1);
	ck_assert(got[0].ep.has_src);
	ck_assert_mem_eq(&got[0].ep.src.in6, &in6addr_loopback, 16);
	ck_assert_uint_eq(got[0].ep.src_ifindex, 1);
	/* The reply with the sticky v6 source goes through. */
	ck_assert_int_eq(vg_bind_send(b, &got[0].ep, &iov, 1, NULL), 1);
	free_rx(got, 1);
	ck_assert_uint_eq(recv_some(a, AF_INET6, got, 1, 1), 1);
	check_dgram(got[0].data, got[0].len, 64, 1);
	free_rx(got, 1);
out:
	vg_bind_close(a);
	vg_bind_close(b);
}
END_TEST

/* A stale sticky source (an address we do not have) is cleared and the
 * datagram still goes out — with the real kernel, no seam. */
START_TEST(sticky_stale_real)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a = open_bind(&c), *b = open_bind(&c);
	struct vg_endpoint ep = vg_test_ep("127.0.0.1", vg_bind_port(b));
	struct iovec iov = { .iov_base = txbuf[0], .iov_len = 50 };
	struct vg_rx_pkt got[1];
	struct vg_bind_stats sa;
	unsigned int result = 0;

	fill(txbuf[0], 50, 3);
	ep.has_src = true;
	inet_pton(AF_INET, "192.0.2.77", &ep.src.in4);	/* TEST-NET-1, not ours */
	ep.src_ifindex = 0;
	ck_assert_int_eq(vg_bind_send(a, &ep, &iov, 1, &result), 1);
	ck_assert_uint_eq(result, VG_SEND_SRC_REFUSED);
	ck_assert(ep.has_src);	/* the caller's endpoint is the caller's to change */
	vg_bind_get_stats(a, &sa);
	ck_assert_uint_eq(sa.tx_sticky_einval, 1);
	ck_assert_uint_eq(recv_some(b, AF_INET, got, 1, 1), 1);
	check_dgram(got[0].data, got[0].len, 50, 3);
	free_rx(got, 1);
	vg_bind_close(a);
	vg_bind_close(b);
}
END_TEST

/* With N sockets in a REUSEPORT group, one 4-tuple always lands on one. */
START_TEST(reuseport_group)
{
	enum { N = 4, CLIENTS = 12, PER = 10 };
	struct vg_bind_config c = cfg();
	struct vg_bind *g[N], *cl[CLIENTS];
	int member[CLIENTS];
	struct iovec iov = { .iov_base = txbuf[0], .iov_len = 40 };
	unsigned int seen = 0, used = 0;

	c.queues = N;
	ck_assert_int_eq(vg_bind_group_open(g, &c), 0);
	for (int i = 1; i < N; i++)
		ck_assert_uint_eq(vg_bind_port(g[i]), vg_bind_port(g[0]));
	c = cfg();
	for (int k = 0; k < CLIENTS; k++) {
		cl[k] = open_bind(&c);
		member[k] = -1;
	}
	for (int round = 0; round < PER; round++) {
		for (int k = 0; k < CLIENTS; k++) {
			struct vg_endpoint ep = vg_test_ep("127.0.0.1", vg_bind_port(g[0]));

			fill(txbuf[0], 40, (uint32_t)k);
			ck_assert_int_eq(vg_bind_send(cl[k], &ep, &iov, 1, NULL), 1);
		}
	}
	/* Drain every member until all arrived (loopback delivery may lag
	 * on a loaded machine). */
	for (int idle = 0; seen < CLIENTS * PER && idle < 200;) {
		bool any = false;

		for (int i = 0; i < N; i++) {
			struct vg_rx_pkt p[VG_BIND_BATCH];
			int n;

			slots(p, VG_BIND_BATCH);
			n = vg_bind_recv(g[i], AF_INET, p, VG_BIND_BATCH);
			ck_assert_int_ge(n, 0);
			for (int j = 0; j < n; j++) {
				uint32_t k;

				memcpy(&k, p[j].data, 4);
				ck_assert_uint_lt(k, CLIENTS);
				ck_assert_uint_eq(ntohs(p[j].ep.dst.in4.sin_port), vg_bind_port(cl[k]));
				ck_assert_msg(member[k] == -1 || member[k] == i,
					      "client %u on members %d and %d", k, member[k], i);
				if (member[k] == -1)
					used |= 1u << i;
				member[k] = i;
				seen++;
				any = true;
			}
		}
		if (!any) {
			idle++;
			usleep(10000);
		}
	}
	ck_assert_uint_eq(seen, CLIENTS * PER);
	/* 12 clients over 4 members: the kernel spread them (not all on one). */
	ck_assert_uint_ne(__builtin_popcount(used), 1);
	for (int k = 0; k < CLIENTS; k++)
		vg_bind_close(cl[k]);
	vg_bind_group_close(g, N);
}
END_TEST

START_TEST(rebind)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a = open_bind(&c), *b = open_bind(&c), *other = open_bind(&c);
	uint16_t old = vg_bind_port(b);
	struct vg_rx_pkt got[1];
	struct iovec iov = { .iov_base = txbuf[0], .iov_len = 10 };
	struct vg_endpoint ep;

	fill(txbuf[0], 10, 9);
	/* Taken port: refused, and the old socket keeps working. */
	ck_assert_int_eq(vg_bind_rebind(b, vg_bind_port(other)), -EADDRINUSE);
	ck_assert_uint_eq(vg_bind_port(b), old);
	ep = vg_test_ep("127.0.0.1", old);
	ck_assert_int_eq(vg_bind_send(a, &ep, &iov, 1, NULL), 1);
	ck_assert_uint_eq(recv_some(b, AF_INET, got, 1, 1), 1);
	free_rx(got, 1);
	/* The same port again is a no-op, not EADDRINUSE. */
	ck_assert_int_eq(vg_bind_rebind(b, old), 0);
	ck_assert_uint_eq(vg_bind_port(b), old);
	/* A new random port works. */
	ck_assert_int_eq(vg_bind_rebind(b, 0), 0);
	ck_assert_uint_ne(vg_bind_port(b), old);
	ep = vg_test_ep("127.0.0.1", vg_bind_port(b));
	ck_assert_int_eq(vg_bind_send(a, &ep, &iov, 1, NULL), 1);
	ck_assert_uint_eq(recv_some(b, AF_INET, got, 1, 1), 1);
	check_dgram(got[0].data, got[0].len, 10, 9);
	free_rx(got, 1);
	vg_bind_close(a);
	vg_bind_close(b);
	vg_bind_close(other);
}
END_TEST

START_TEST(group_rebind)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *g[3], *other;
	uint16_t old;
	struct iovec iov = { .iov_base = txbuf[0], .iov_len = 10 };
	struct vg_rx_pkt got[1];
	struct vg_endpoint ep;
	bool arrived = false;

	other = open_bind(&c);	/* no SO_REUSEPORT: its port cannot be shared */
	c.queues = 3;
	ck_assert_int_eq(vg_bind_group_open(g, &c), 0);
	old = vg_bind_port(g[0]);
	/* All or nothing: a taken port leaves every member where it was. */
	ck_assert_int_eq(vg_bind_group_rebind(g, 3, vg_bind_port(other)), -EADDRINUSE);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(vg_bind_port(g[i]), old);
	ck_assert_int_eq(vg_bind_group_rebind(g, 3, 0), 0);
	ck_assert_uint_ne(vg_bind_port(g[0]), old);
	for (int i = 1; i < 3; i++)
		ck_assert_uint_eq(vg_bind_port(g[i]), vg_bind_port(g[0]));
	/* The new port receives, on some member. */
	ep = vg_test_ep("127.0.0.1", vg_bind_port(g[0]));
	fill(txbuf[0], 10, 1);
	ck_assert_int_eq(vg_bind_send(other, &ep, &iov, 1, NULL), 1);
	for (int tries = 0; tries < 200 && !arrived; tries++) {
		for (int i = 0; i < 3 && !arrived; i++) {
			slots(got, 1);
			arrived = vg_bind_recv(g[i], AF_INET, got, 1) == 1;
		}
		if (!arrived)
			usleep(10000);
	}
	ck_assert(arrived);
	check_dgram(got[0].data, got[0].len, 10, 1);
	vg_bind_group_close(g, 3);
	vg_bind_close(other);
}
END_TEST

START_TEST(wrong_family)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a;
	struct vg_endpoint ep = vg_test_ep("::1", 9);
	struct iovec iov = { .iov_base = txbuf[0], .iov_len = 10 };
	struct vg_rx_pkt p[1];

	c.no_ipv6 = true;
	a = open_bind(&c);
	ck_assert_int_eq(vg_bind_fd(a, AF_INET6), -1);
	ck_assert_int_eq(vg_bind_send(a, &ep, &iov, 1, NULL), -EAFNOSUPPORT);
	slots(p, 1);
	ck_assert_int_eq(vg_bind_recv(a, AF_INET6, p, 1), -EBADF);
	ck_assert_int_eq(vg_bind_offload_state(a, VG_BIND_GSO6), VG_BIND_REASON_NO_SOCKET);
	vg_bind_close(a);
}
END_TEST

/* ---- fault injection through the syscall seam ---- */

struct inject {
	int err;		/* errno to inject */
	int times;		/* how many more times */
	bool only_gso;		/* only when the first message carries UDP_SEGMENT */
	bool only_sticky;	/* only when the first message carries PKTINFO */
	int calls, injected;
};

static bool has_cmsg(const struct msghdr *h, int level, int type)
{
	struct cmsghdr *cm;

	if (!h->msg_controllen)
		return false;
	for (cm = CMSG_FIRSTHDR((struct msghdr *)h); cm; cm = CMSG_NXTHDR((struct msghdr *)h, cm))
		if (cm->cmsg_level == level && cm->cmsg_type == type)
			return true;
	return false;
}

static int inj_sendmmsg(void *arg, int fd, struct mmsghdr *m, unsigned int n, int flags)
{
	struct inject *in = arg;
	bool gso = has_cmsg(&m[0].msg_hdr, SOL_UDP, UDP_SEGMENT);
	bool sticky = has_cmsg(&m[0].msg_hdr, IPPROTO_IP, IP_PKTINFO);

	in->calls++;
	if (in->times > 0 && (!in->only_gso || gso) && (!in->only_sticky || sticky)) {
		in->times--;
		in->injected++;
		errno = in->err;
		return -1;
	}
	return sendmmsg(fd, m, n, flags);
}

/* Sends 300 datagrams (GSO-friendly runs) under an injected error and
 * checks every one arrives in order. */
static void run_injected(struct inject *in, struct vg_bind_stats *sa, struct vg_bind **ap,
			 bool sticky)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a = open_bind(&c), *b = open_bind(&c);
	struct vg_bind_syscalls sc = { .sendmmsg = inj_sendmmsg, .arg = in };
	static struct vg_rx_pkt got[VG_BIND_BATCH];
	struct iovec iov[100];
	struct vg_endpoint ep = vg_test_ep("127.0.0.1", vg_bind_port(b));

	vg_bind_set_syscalls(a, &sc);
	for (uint32_t round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++) {
			fill(txbuf[i], 1000, round * 100 + (uint32_t)i);
			iov[i].iov_base = txbuf[i];
			iov[i].iov_len = 1000;
		}
		if (sticky) {
			ep.has_src = true;
			ep.src.in4.s_addr = htonl(INADDR_LOOPBACK);
			ep.src_ifindex = 1;
		}
		ck_assert_int_eq(vg_bind_send(a, &ep, iov, 100, NULL), 100);
		ck_assert_uint_eq(recv_some(b, AF_INET, got, 100, VG_BIND_BATCH), 100);
		for (int i = 0; i < 100; i++)
			check_dgram(got[i].data, got[i].len, 1000, round * 100 + (uint32_t)i);
		free_rx(got, 100);
	}
	vg_bind_get_stats(a, sa);
	vg_bind_close(b);
	*ap = a;
}

START_TEST(inject_eio)
{
	struct inject in = { .err = EIO, .times = 1, .only_gso = true };
	struct vg_bind_stats s;
	struct vg_bind *a;

	run_injected(&in, &s, &a, false);
	ck_assert_int_eq(in.injected, 1);
	ck_assert_uint_eq(s.tx_gso_eio, 1);
	ck_assert_uint_eq(s.tx_packets, 300);
	/* GSO is off for IPv4 from then on, and says why. */
	ck_assert_uint_eq(vg_bind_offloads(a) & VG_BIND_GSO4, 0);
	ck_assert_int_eq(vg_bind_offload_state(a, VG_BIND_GSO4), VG_BIND_REASON_EIO);
	ck_assert_uint_eq(s.tx_gso_msgs, 0);
	vg_bind_close(a);
}
END_TEST

static void gso_refused(int err)
{
	struct inject in = { .err = err, .times = 1, .only_gso = true };
	struct vg_bind_stats s;
	struct vg_bind *a;

	run_injected(&in, &s, &a, false);
	ck_assert_int_eq(in.injected, 1);
	ck_assert_uint_eq(err == EINVAL ? s.tx_gso_einval : s.tx_gso_emsgsize, 1);
	ck_assert_uint_eq(s.tx_packets, 300);
	/* GSO itself stays on; only that segment size is remembered as refused. */
	ck_assert(vg_bind_offloads(a) & VG_BIND_GSO4);
	ck_assert_uint_eq(s.tx_gso_msgs, 0);
	vg_bind_close(a);
}

START_TEST(inject_einval_gso)
{
	gso_refused(EINVAL);
}
END_TEST

START_TEST(inject_emsgsize_gso)
{
	gso_refused(EMSGSIZE);
}
END_TEST

START_TEST(inject_einval_sticky)
{
	struct inject in = { .err = EINVAL, .times = 1, .only_sticky = true };
	struct vg_bind_stats s;
	struct vg_bind *a;

	/* GSO and PKTINFO in the same message: first GSO goes, then the source. */
	in.times = 2;
	run_injected(&in, &s, &a, true);
	ck_assert_int_eq(in.injected, 2);
	ck_assert_uint_eq(s.tx_gso_einval, 1);
	ck_assert_uint_eq(s.tx_sticky_einval, 1);
	ck_assert_uint_eq(s.tx_packets, 300);
	/* A sticky source may have been the cause: GSO is still used later. */
	ck_assert_uint_gt(s.tx_gso_msgs, 0);
	vg_bind_close(a);
}
END_TEST

START_TEST(inject_eagain)
{
	struct inject in = { .err = EAGAIN, .times = 3 };
	struct vg_bind_stats s;
	struct vg_bind *a;

	run_injected(&in, &s, &a, false);
	ck_assert_uint_eq(s.tx_eagain, 3);
	ck_assert_uint_eq(s.tx_packets, 300);
	ck_assert_uint_gt(s.tx_gso_msgs, 0);
	vg_bind_close(a);
}
END_TEST

START_TEST(inject_unreachable)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a = open_bind(&c);
	struct inject in = { .err = ECONNREFUSED, .times = 1 };
	struct vg_bind_syscalls sc = { .sendmmsg = inj_sendmmsg, .arg = &in };
	struct vg_endpoint ep = vg_test_ep("127.0.0.1", 9);
	struct iovec iov[4];
	struct vg_bind_stats s;

	for (int i = 0; i < 4; i++) {
		iov[i].iov_base = txbuf[i];
		iov[i].iov_len = i == 3 ? 5 : 10;
	}
	vg_bind_set_syscalls(a, &sc);
	/* One GSO message of 4 refused: counted, not fatal. */
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 4, NULL), 4);
	vg_bind_get_stats(a, &s);
	ck_assert_uint_eq(s.tx_unreachable, 4);
	ck_assert_uint_eq(s.tx_packets, 0);
	in.err = EBADF;
	in.times = 1;
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 4, NULL), -EBADF);
	vg_bind_close(a);
}
END_TEST

/* What reaches sendmmsg: control bytes only when there is something to
 * say, UDP_SEGMENT only on multi-datagram messages, at most 64 each. */
struct inspect {
	unsigned int msgs, with_ctl, with_gso, with_pktinfo, max_iov;
	uint16_t gso_seen;
	bool bad;
};

static int inspect_sendmmsg(void *arg, int fd, struct mmsghdr *m, unsigned int n, int flags)
{
	struct inspect *in = arg;

	for (unsigned int i = 0; i < n; i++) {
		struct msghdr *h = &m[i].msg_hdr;
		size_t total = 0;

		in->msgs++;
		if (h->msg_iovlen > in->max_iov)
			in->max_iov = (unsigned int)h->msg_iovlen;
		for (size_t k = 0; k < h->msg_iovlen; k++)
			total += h->msg_iov[k].iov_len;
		if (!h->msg_controllen) {
			if (h->msg_control)
				in->bad = true;
			if (h->msg_iovlen > 1)
				in->bad = true;	/* several datagrams need UDP_SEGMENT */
			continue;
		}
		in->with_ctl++;
		if (has_cmsg(h, IPPROTO_IP, IP_PKTINFO))
			in->with_pktinfo++;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
			uint16_t g;

			if (cm->cmsg_level != SOL_UDP || cm->cmsg_type != UDP_SEGMENT)
				continue;
			memcpy(&g, CMSG_DATA(cm), sizeof(g));
			in->with_gso++;
			in->gso_seen = g;
			if (cm->cmsg_len != CMSG_LEN(sizeof(uint16_t)) || h->msg_iovlen < 2 ||
			    h->msg_iov[0].iov_len != g || total > VG_UDP_GSO_MAX_BYTES_V4)
				in->bad = true;
		}
	}
	return sendmmsg(fd, m, n, flags);
}

START_TEST(control_bytes)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *a = open_bind(&c), *b = open_bind(&c);
	struct inspect in = { 0 };
	struct vg_bind_syscalls sc = { .sendmmsg = inspect_sendmmsg, .arg = &in };
	struct vg_endpoint ep = vg_test_ep("127.0.0.1", vg_bind_port(b));
	static struct vg_rx_pkt got[VG_BIND_BATCH];
	struct iovec iov[VG_BIND_BATCH];

	vg_bind_set_syscalls(a, &sc);
	/* Unequal sizes, no sticky source: no control bytes at all. */
	for (int i = 0; i < 10; i++) {
		fill(txbuf[i], 10 + (size_t)i, (uint32_t)i);
		iov[i].iov_base = txbuf[i];
		iov[i].iov_len = 10 + (size_t)i;
	}
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 10, NULL), 10);
	ck_assert_uint_eq(in.msgs, 10);
	ck_assert_uint_eq(in.with_ctl, 0);
	ck_assert(!in.bad);
	ck_assert_uint_eq(recv_some(b, AF_INET, got, 10, VG_BIND_BATCH), 10);
	free_rx(got, 10);
	/* 128 equal ones with a sticky source: 2 messages of 64, both with
	 * PKTINFO then UDP_SEGMENT. */
	memset(&in, 0, sizeof(in));
	for (int i = 0; i < 128; i++) {
		fill(txbuf[i], 500, (uint32_t)i);
		iov[i].iov_base = txbuf[i];
		iov[i].iov_len = 500;
	}
	ep.has_src = true;
	ep.src.in4.s_addr = htonl(INADDR_LOOPBACK);
	ep.src_ifindex = 1;
	ck_assert_int_eq(vg_bind_send(a, &ep, iov, 128, NULL), 128);
	ck_assert_uint_eq(in.msgs, 2);
	ck_assert_uint_eq(in.with_pktinfo, 2);
	ck_assert_uint_eq(in.with_gso, 2);
	ck_assert_uint_eq(in.gso_seen, 500);
	ck_assert_uint_eq(in.max_iov, 64);
	ck_assert(!in.bad);
	ck_assert_uint_eq(recv_some(b, AF_INET, got, 128, VG_BIND_BATCH), 128);
	for (int i = 0; i < 128; i++)
		check_dgram(got[i].data, got[i].len, 500, (uint32_t)i);
	free_rx(got, 128);
	vg_bind_close(a);
	vg_bind_close(b);
}
END_TEST

/* A crafted coalesced receive: the UDP_GRO size is an int, and every piece
 * gets the parent's sender and pktinfo, in order, over several calls. */
struct fake_rx {
	bool done;
};

static int fake_recvmmsg(void *arg, int fd, struct mmsghdr *m, unsigned int n, int flags)
{
	struct fake_rx *f = arg;
	struct msghdr *h = &m[0].msg_hdr;
	struct sockaddr_in *from = h->msg_name;
	struct in_pktinfo pi = { .ipi_ifindex = 3 };
	struct cmsghdr *cm;
	int gso = 100;
	uint8_t *p = h->msg_iov[0].iov_base;

	if (f->done) {
		errno = EAGAIN;
		return -1;
	}
	f->done = true;
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_ge(h->msg_iov[0].iov_len, 1050);
	for (int i = 0; i < 1050; i++)
		p[i] = (uint8_t)(i / 100);
	memset(from, 0, sizeof(*from));
	from->sin_family = AF_INET;
	from->sin_port = htons(4242);
	from->sin_addr.s_addr = htonl(0x0a000009);
	h->msg_namelen = sizeof(*from);
	pi.ipi_spec_dst.s_addr = htonl(0x7f000002);
	ck_assert_uint_ge(h->msg_controllen, CMSG_SPACE(sizeof(pi)) + CMSG_SPACE(sizeof(int)));
	cm = CMSG_FIRSTHDR(h);
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	cm = (struct cmsghdr *)((char *)cm + CMSG_SPACE(sizeof(pi)));
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_GRO;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
	h->msg_controllen = CMSG_SPACE(sizeof(pi)) + CMSG_SPACE(sizeof(int));
	h->msg_flags = 0;
	m[0].msg_len = 1050;
	return 1;
}

START_TEST(gro_split_crafted)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *b = open_bind(&c);
	struct fake_rx f = { 0 };
	struct vg_bind_syscalls sc = { .recvmmsg = fake_recvmmsg, .arg = &f };
	struct vg_rx_pkt p[VG_BIND_BATCH];
	struct vg_bind_stats s;
	unsigned int got = 0;

	ck_assert(vg_bind_offloads(b) & VG_BIND_GRO4);
	vg_bind_set_syscalls(b, &sc);
	while (got < 11) {
		int n;

		slots(p, 4);
		n = vg_bind_recv(b, AF_INET, p, 4);	/* 11 pieces over 3 calls */
		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++, got++) {
			ck_assert_uint_eq(p[i].len, got == 10 ? 50 : 100);
			ck_assert_uint_eq(p[i].data[0], got);
			ck_assert_uint_eq(p[i].data[p[i].len - 1], got);
			ck_assert_uint_eq(ntohs(p[i].ep.dst.in4.sin_port), 4242);
			ck_assert_uint_eq(p[i].ep.dst.in4.sin_addr.s_addr, htonl(0x0a000009));
			ck_assert(p[i].ep.has_src);
			ck_assert_uint_eq(p[i].ep.src.in4.s_addr, htonl(0x7f000002));
			ck_assert_uint_eq(p[i].ep.src_ifindex, 3);
		}
		ck_assert(vg_bind_pending(b, AF_INET) == (got < 11));
	}
	slots(p, 4);
	ck_assert_int_eq(vg_bind_recv(b, AF_INET, p, 4), 0);
	vg_bind_get_stats(b, &s);
	ck_assert_uint_eq(s.rx_packets, 11);
	ck_assert_uint_eq(s.rx_gro_batches, 1);
	ck_assert_uint_eq(s.rx_gro_datagrams, 11);
	vg_bind_close(b);
}
END_TEST

static int sockopt(int fd, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, opt, &v, &len), 0);
	return v;
}

/*
 * The receive buffer is VG_BIND_RCVBUF and never more than the send
 * buffer; an explicit size (vguard --udp-rcvbuf) is taken as given.  The
 * kernel doubles the sizes, and caps them at rmem_max/wmem_max without
 * CAP_NET_ADMIN.
 */
START_TEST(socket_buffers)
{
	struct vg_bind_config c = cfg();
	struct vg_bind *b = open_bind(&c);
	int fd = vg_bind_fd(b, AF_INET), r = sockopt(fd, SO_RCVBUF);

	ck_assert_int_gt(r, 0);
	ck_assert_int_le(r, 2 * VG_BIND_RCVBUF);
	ck_assert_int_ge(sockopt(fd, SO_SNDBUF), r);
	vg_bind_close(b);
	c.rcvbuf = VG_BIND_RCVBUF / 2;
	b = open_bind(&c);
	ck_assert_int_le(sockopt(vg_bind_fd(b, AF_INET), SO_RCVBUF), VG_BIND_RCVBUF);
	vg_bind_close(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("udp_loopback");
	TCase *t = tcase_create("loopback"), *f = tcase_create("faults");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, gso_gro_v4);
	tcase_add_test(t, gso_gro_v6);
	tcase_add_test(t, small_slots_pending);
	tcase_add_test(t, gro_lent);
	tcase_add_test(t, offloads_off);
	tcase_add_test(t, truncated_direct);
	tcase_add_test(t, sticky_reply_source);
	tcase_add_test(t, sticky_v6);
	tcase_add_test(t, sticky_stale_real);
	tcase_add_test(t, reuseport_group);
	tcase_add_test(t, rebind);
	tcase_add_test(t, group_rebind);
	tcase_add_test(t, wrong_family);
	tcase_add_test(t, socket_buffers);
	tcase_add_test(f, inject_eio);
	tcase_add_test(f, inject_einval_gso);
	tcase_add_test(f, inject_emsgsize_gso);
	tcase_add_test(f, inject_einval_sticky);
	tcase_add_test(f, inject_eagain);
	tcase_add_test(f, inject_unreachable);
	tcase_add_test(f, control_bytes);
	tcase_add_test(f, gro_split_crafted);
	suite_add_tcase(s, t);
	suite_add_tcase(s, f);
	return s;
}

int main(void)
{
	if (vg_test_qemu_cross_endian()) {
		puts("skipped: real socket control messages under cross-endian qemu-user");
		return 77;
	}
	return vg_test_run(suite(), false);
}
