/* SPDX-License-Identifier: MIT */
/*
 * Two devices, each over an in-memory TUN, joined by an in-memory UDP
 * network, for the tests of the whole data plane without root: set-up,
 * configuration through the UAPI, and packets injected on one TUN ("the
 * kernel sends") and taken from the other ("the kernel receives").
 */
#ifndef VGUARD_TESTS_DEVICE_TESTUTIL_H
#define VGUARD_TESTS_DEVICE_TESTUTIL_H

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "conn/bind.h"
#include "device/device.h"
#include "device/uapi.h"
#include "tun/offload_pkt.h"
#include "tun/tun.h"
#include "tun/virtio.h"
#include "tests/unit/testutil.h"

#define PORT_A 51820
#define PORT_B 51821

struct side {
	struct tun *tun;
	struct device *dev;
	uint8_t priv[32], pub[32];
};

static struct vg_memnet *net;
static struct side A, B;

/* Both devices' clock: the real one plus an offset the tests jump. */
static uint64_t clock_offset;

static inline uint64_t test_clock(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec +
	       __atomic_load_n(&clock_offset, __ATOMIC_RELAXED);
}

static inline void jump(unsigned int secs)
{
	__atomic_fetch_add(&clock_offset, (uint64_t)secs * 1000000000ULL, __ATOMIC_RELAXED);
}

static inline void hex(char *out, const uint8_t *k)
{
	static const char h[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = h[k[i] >> 4];
		out[2 * i + 1] = h[k[i] & 15];
	}
	out[64] = 0;
}

static inline void side_open(struct side *s, const char *name, bool offloads, unsigned int queues)
{
	struct tun_mem_options mo;
	struct device_options o;
	struct tun_event up = { .type = TUN_EVENT_UP };

	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	mo.tun.queues = queues;
	mo.tso = offloads;
	mo.uso = offloads;
	if (!offloads) {
		mo.tun.no_tcp_gro = true;
		mo.tun.no_udp_gro = true;
	}
	ck_assert_int_eq(tun_mem_open(&s->tun, name, &mo), 0);
	device_options_init(&o);
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = net;
	o.clock = test_clock;
	o.no_udp_gso = !offloads;
	o.no_udp_gro_rx = !offloads;
	ck_assert_int_eq(device_new(&s->dev, s->tun, &o), 0);
	ck_assert_int_eq(device_start(s->dev), 0);
	ck_assert_int_eq(tun_mem_push_event(s->tun, &up), 0);
	for (int i = 0; i < 2000 && !device_port(s->dev); i++)
		usleep(1000);
	ck_assert_uint_ne(device_port(s->dev), 0);
	crypto_box_keypair(s->pub, s->priv);
	s->priv[0] &= 248;
	s->priv[31] = (s->priv[31] & 127) | 64;
	crypto_scalarmult_base(s->pub, s->priv);
}

static inline int set(struct side *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline int set(struct side *s, const char *fmt, ...)
{
	char buf[2048];
	struct uapi_txn txn;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memset(&txn, 0, sizeof(txn));
	ret = uapi_parse_set(&txn, buf, strlen(buf));
	ck_assert_int_eq(ret, 0);
	ret = device_uapi_ops.set(s->dev, &txn);
	uapi_txn_clear(&txn);
	return ret;
}

static inline void configure(struct side *s, struct side *peer, uint16_t port, uint16_t peer_port,
		      uint8_t peer_last)
{
	char k[65], pk[65];

	hex(k, s->priv);
	hex(pk, peer->pub);
	ck_assert_int_eq(set(s, "private_key=%s\nlisten_port=%u\npublic_key=%s\n"
			     "endpoint=127.0.0.1:%u\nallowed_ip=192.0.2.%u/32\n"
			     "allowed_ip=2001:db8::%u/128\n",
			     k, port, pk, peer_port, peer_last, peer_last), 0);
}

static inline void setup(bool off_a, bool off_b, unsigned int queues)
{
	net = vg_memnet_new();
	ck_assert_ptr_nonnull(net);
	side_open(&A, "vga", !off_a, queues);
	side_open(&B, "vgb", !off_b, queues);
	configure(&A, &B, PORT_A, PORT_B, 2);
	configure(&B, &A, PORT_B, PORT_A, 1);
}

static inline void setup_on(void)
{
	setup(false, false, 1);
}

static inline void teardown(void)
{
	device_free(A.dev);
	device_free(B.dev);
	vg_memnet_free(net);
}

/* Takes one frame written to s's TUN (any queue) within ~16 s: crossing
 * initiations (both ends' timers firing at once) settle only at the next
 * retransmission, REKEY_TIMEOUT later, and under ThreadSanitizer on a
 * loaded machine that may take a second retransmission. */
static inline ssize_t take(struct side *s, uint8_t *buf, size_t cap)
{
	unsigned int q, i;
	ssize_t n;

	for (i = 0; i < 16000; i++) {
		for (q = 0; q < tun_queues(s->tun); q++) {
			n = tun_mem_take(s->tun, q, buf, cap);
			if (n != -EAGAIN)
				return n;
		}
		usleep(1000);
	}
	return -ETIMEDOUT;
}

static inline void inject(struct side *s, const struct vnet_hdr *h, const uint8_t *pkt, size_t len)
{
	static uint8_t frame[VNET_HDR_LEN + 65536];
	struct vnet_hdr zero = { 0 };

	vnet_hdr_encode(frame, h ? h : &zero);
	memcpy(frame + VNET_HDR_LEN, pkt, len);
	ck_assert_int_eq(tun_mem_inject(s->tun, 0, frame, VNET_HDR_LEN + len), 0);
}

static inline void roundtrip(struct side *from, struct side *to, bool v6, uint8_t proto, size_t payload,
		      uint8_t src, uint8_t dst)
{
	static uint8_t pkt[2048], got[70000];
	struct pkt_spec sp = pkt_default(v6, proto, payload, 1000);
	size_t len;
	ssize_t n;

	sp.src = src;
	sp.dst = dst;
	sp.ttl = 64;
	len = pkt_build(pkt, &sp);
	inject(from, NULL, pkt, len);
	n = take(to, got, sizeof(got));
	ck_assert_msg(n == (ssize_t)(VNET_HDR_LEN + len), "%s %s %zu bytes: got %zd",
		      v6 ? "IPv6" : "IPv4", proto == PKT_TCP ? "TCP" : "UDP", payload, n);
	ck_assert_mem_eq(got + VNET_HDR_LEN, pkt, len);
}

/* stats=1 through a UAPI connection: the counters moved. */
static inline char *uapi_call(struct device *d, const char *req)
{
	struct uapi_conn c;
	char *out;

	uapi_conn_init(&c, &device_uapi_ops, d);
	ck_assert_int_eq(uapi_conn_input(&c, req, strlen(req), true), 0);
	out = strndup(c.out + c.out_off, c.out_len - c.out_off);
	uapi_conn_free(&c);
	return out;
}

static inline uint64_t stat_of(const char *text, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s=", key);
	p = strstr(text, pat);
	ck_assert_msg(p != NULL, "no %s", key);
	return strtoull(p + strlen(pat), NULL, 10);
}

#endif
