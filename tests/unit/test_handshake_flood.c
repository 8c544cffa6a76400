/* SPDX-License-Identifier: MIT */
/*
 * Handshake floods against a device run without its threads: the worker's
 * receive step and the handshake thread's step are called here in turn, on
 * an in-memory network, so what reaches the handshake queue is exact.  L is
 * a legitimate peer (a bare protocol core on its own bind, from 127.0.0.1),
 * X an attacker that knows D's public key and so can make a valid MAC1
 * (from X_ADDR, or wherever x_ep says).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "conn/bind.h"
#include "device/cookie.h"
#include "device/crypto.h"
#include "device/device_impl.h"
#include "device/messages.h"
#include "device/ratelimiter.h"
#include "device/uapi.h"
#include "tun/tun.h"
#include "tests/unit/testutil.h"

#define D_PORT 51821
#define CHUNK 256

static struct vg_memnet *net;
static struct tun *tun;
static struct device *dev;
static struct worker *w;
static uint64_t d_now, l_now;
static uint8_t d_pub[32];
static struct wg_proto lp;
static struct wg_peer *lpeer;
static struct vg_bind *lb, *xb;
static struct vg_endpoint d_ep, x_ep;	/* D as L sees it; as X sees it */
#define X_ADDR 0xc0000242u		/* 192.0.2.66 */

static uint64_t d_clock(void *ctx)
{
	(void)ctx;
	return d_now;
}

static uint64_t l_wall(void *ctx)
{
	(void)ctx;
	return 1700000000ULL * WG_NSEC_PER_SEC + l_now;
}

static void hex(char *out, const uint8_t *k)
{
	static const char h[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = h[k[i] >> 4];
		out[2 * i + 1] = h[k[i] & 15];
	}
	out[64] = 0;
}

static void setup(void)
{
	uint8_t d_priv[32], l_priv[32], l_pub[32];
	char dk[65], lk[65], conf[512];
	struct tun_mem_options mo;
	struct device_options o;
	struct vg_bind_config bc;
	struct tun_event up = { .type = TUN_EVENT_UP };
	struct uapi_txn txn;

	ck_assert_int_eq(crypto_init(), 0);
	net = vg_memnet_new();
	ck_assert_ptr_nonnull(net);
	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	mo.tun.queues = 1;
	ck_assert_int_eq(tun_mem_open(&tun, "vgflood", &mo), 0);
	device_options_init(&o);
	o.queues = 1;
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = net;
	o.clock = d_clock;
	d_now = l_now = 1000 * WG_NSEC_PER_SEC;
	ck_assert_int_eq(device_new(&dev, tun, &o), 0);
	w = &dev->workers[0];

	x25519_generate(d_priv, d_pub);
	x25519_generate(l_priv, l_pub);
	hex(dk, d_priv);
	hex(lk, l_pub);
	snprintf(conf, sizeof(conf), "private_key=%s\nlisten_port=%u\npublic_key=%s\n"
		 "allowed_ip=192.0.2.1/32\n", dk, D_PORT, lk);
	memset(&txn, 0, sizeof(txn));
	ck_assert_int_eq(uapi_parse_set(&txn, conf, strlen(conf)), 0);
	ck_assert_int_eq(device_uapi_ops.set(dev, &txn), 0);
	uapi_txn_clear(&txn);
	device_link_event(dev, &up);

	memset(&d_ep, 0, sizeof(d_ep));
	d_ep.dst.in4.sin_family = AF_INET;
	d_ep.dst.in4.sin_port = htons(D_PORT);
	d_ep.dst.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(wg_proto_init(&lp), 0);
	lp.wallclock = l_wall;
	ck_assert_int_eq(wg_proto_set_private_key(&lp, l_priv), 0);
	lpeer = wg_peer_new(&lp, d_pub, NULL);
	ck_assert_ptr_nonnull(lpeer);
	wg_peer_set_endpoint(lpeer, &d_ep);
	x_ep = d_ep;
	x_ep.has_src = true;
	x_ep.src.in4.s_addr = htonl(X_ADDR);
	memset(&bc, 0, sizeof(bc));
	ck_assert_int_eq(vg_bind_open_mem(&lb, net, &bc), 0);
	ck_assert_int_eq(vg_bind_open_mem(&xb, net, &bc), 0);
}

static void teardown(void)
{
	vg_bind_close(lb);
	vg_bind_close(xb);
	wg_proto_destroy(&lp);
	device_free(dev);
	vg_memnet_free(net);
}

/* The worker's turn: everything D's socket holds. */
static void d_recv(void)
{
	dev_worker_enter(w);
	while (dev_recv_batch(w, AF_INET, d_now) > 0)
		;
	dev_worker_exit(w);
}

/* The handshake thread's turn, then the mailbox it filled. */
static void d_handshakes(void)
{
	dev_worker_enter(w);
	dev_hs_run_queued(dev);
	dev_worker_run_mbox(w, d_now);
	dev_worker_exit(w);
}

static void send_to_d(struct vg_bind *b, const uint8_t *msg, size_t len)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };

	ck_assert_int_eq(vg_bind_send(b, b == xb ? &x_ep : &d_ep, &iov, 1, NULL), 1);
}

/* The next datagram of type `type` b received (others are skipped); its
 * length, 0 when none is waiting. */
static size_t recv_type(struct vg_bind *b, uint8_t type, uint8_t *out, size_t cap)
{
	static uint8_t buf[256];
	struct vg_rx_pkt pk = { .data = buf, .cap = sizeof(buf) };

	while (vg_bind_recv(b, AF_INET, &pk, 1) == 1) {
		if (pk.len && pk.data[0] == type && pk.len <= cap) {
			memcpy(out, pk.data, pk.len);
			return pk.len;
		}
		pk.data = buf;
		pk.cap = sizeof(buf);
	}
	return 0;
}

/* n initiations with random contents and a valid MAC1 (and MAC2 when g
 * holds a cookie) from X, D's worker taking them as they come; the cookie
 * replies X got. */
static unsigned int flood(struct cookie_generator *g, unsigned int n)
{
	static uint8_t msgs[CHUNK][MESSAGE_INITIATION_LEN];
	uint8_t reply[MESSAGE_COOKIE_LEN];
	struct iovec iov[CHUNK];
	unsigned int i, k, cookies = 0;

	while (n) {
		k = n < CHUNK ? n : CHUNK;
		for (i = 0; i < k; i++) {
			randombytes_buf(msgs[i], sizeof(msgs[i]));
			msgs[i][0] = MESSAGE_HANDSHAKE_INITIATION;
			msgs[i][1] = msgs[i][2] = msgs[i][3] = 0;
			cookie_add_macs(g, msgs[i], sizeof(msgs[i]), d_now);
			iov[i].iov_base = msgs[i];
			iov[i].iov_len = sizeof(msgs[i]);
		}
		ck_assert_int_eq(vg_bind_send(xb, &x_ep, iov, k, NULL), (int)k);
		d_recv();
		while (recv_type(xb, MESSAGE_HANDSHAKE_COOKIE, reply, sizeof(reply)))
			cookies++;
		n -= k;
	}
	return cookies;
}

/* A counter of D's, as `vg stats` reads it. */
static uint64_t stat_of(const char *key)
{
	struct uapi_conn c;
	char pat[64];
	const char *p;
	uint64_t v;

	uapi_conn_init(&c, &device_uapi_ops, dev);
	ck_assert_int_eq(uapi_conn_input(&c, "stats=1\n\n", 9, true), 0);
	snprintf(pat, sizeof(pat), "\n%s=", key);
	p = strstr(c.out + c.out_off, pat);
	ck_assert_msg(p != NULL, "no %s", key);
	v = strtoull(p + strlen(pat), NULL, 10);
	uapi_conn_free(&c);
	return v;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* What one source may have had answered since t0 (monotonic ns): the rate
 * limiter runs on real time, so a slow run earns its bucket's refills. */
static unsigned int bucket_since(uint64_t t0)
{
	return RATELIMITER_BURST + 1 +
	       (unsigned int)((mono_ns() - t0) * RATELIMITER_PACKETS_PER_SECOND / WG_NSEC_PER_SEC);
}

static unsigned int queued(void)
{
	return dev->hs_count;
}

/* L asks for a handshake; its initiation goes to D. */
static void l_initiate(void)
{
	struct wg_action act;

	ck_assert_int_eq(wg_peer_want_handshake(lpeer, l_now, &act), 0);
	ck_assert(act.flags & WG_ACT_SEND_MSG);
	send_to_d(lb, act.msg, act.msg_len);
}

/* L takes D's reply of type `type`: 0 or -errno from its protocol core. */
static int l_take(uint8_t type)
{
	uint8_t msg[256];
	struct wg_action act;
	size_t len = recv_type(lb, type, msg, sizeof(msg));

	ck_assert_msg(len, "no message of type %u for L", type);
	return wg_proto_handle_handshake(&lp, msg, len, &d_ep, false, l_now, &act);
}

/*
 * A flood of valid-MAC1 initiations bigger than the handshake queue: D is
 * under load, answers the flood's address with a burst of cookie replies
 * from the worker and then with nothing (each reply would cost the worker
 * a seal and a send), and its queue stays short.  L, from its own address,
 * is answered with a cookie, retries with a valid MAC2 one REKEY_TIMEOUT
 * later and gets its session while the flood goes on.
 */
START_TEST(test_flood_leaves_room_for_a_peer)
{
	struct cookie_generator x;
	unsigned int cookies, allowed;
	uint64_t t0 = mono_ns();

	cookie_generator_init(&x, d_pub);
	cookies = flood(&x, HS_QUEUE_CAP + 2 * CHUNK);
	allowed = bucket_since(t0);
	ck_assert_uint_le(queued(), UNDER_LOAD_QUEUE_LEN + CHUNK);
	ck_assert_uint_eq(w->cnt.p[PC_drop_queue_full], 0);
	ck_assert_uint_le(cookies, allowed);
	ck_assert_uint_ge(stat_of("drop_ratelimited"),
			  HS_QUEUE_CAP + 2 * CHUNK - UNDER_LOAD_QUEUE_LEN - CHUNK - allowed);

	l_initiate();
	d_recv();
	ck_assert_int_eq(l_take(MESSAGE_HANDSHAKE_COOKIE), 0);

	l_now += REKEY_TIMEOUT + WG_NSEC_PER_SEC / 10;
	d_now += WG_NSEC_PER_SEC / 2;
	flood(&x, 2 * CHUNK);
	l_initiate();
	d_recv();
	flood(&x, 2 * CHUNK);
	d_handshakes();
	ck_assert_int_eq(l_take(MESSAGE_HANDSHAKE_RESPONSE), 0);
	ck_assert_ptr_nonnull(lpeer->keypairs.current);
	cookie_generator_destroy(&x);
}
END_TEST

/* A bad MAC1 is dropped by the worker: it costs the handshake thread nothing. */
START_TEST(test_bad_mac1_not_queued)
{
	uint8_t msg[MESSAGE_INITIATION_LEN];
	unsigned int i;

	for (i = 0; i < 10; i++) {
		randombytes_buf(msg, sizeof(msg));
		msg[0] = MESSAGE_HANDSHAKE_INITIATION;
		msg[1] = msg[2] = msg[3] = 0;
		send_to_d(xb, msg, sizeof(msg));
	}
	d_recv();
	ck_assert_uint_eq(queued(), 0);
	ck_assert_uint_eq(wg_proto_counter(&dev->proto, WG_CNT_BAD_MAC1), 10);
}
END_TEST

/*
 * Cookie replies need no MAC, so anyone can send them: the worker opens
 * them (or finds no handshake of ours they answer) itself, and a flood of
 * them cannot fill the queue a peer's initiation needs.
 */
START_TEST(test_cookie_flood_not_queued)
{
	uint8_t msg[MESSAGE_COOKIE_LEN];
	unsigned int i;

	for (i = 0; i < HS_QUEUE_CAP + CHUNK; i++) {
		randombytes_buf(msg, sizeof(msg));
		msg[0] = MESSAGE_HANDSHAKE_COOKIE;
		msg[1] = msg[2] = msg[3] = 0;
		send_to_d(xb, msg, sizeof(msg));
		if (i % CHUNK == CHUNK - 1)
			d_recv();
	}
	d_recv();
	ck_assert_uint_eq(queued(), 0);
	ck_assert_uint_eq(wg_proto_counter(&dev->proto, WG_CNT_BAD_COOKIE), HS_QUEUE_CAP + CHUNK);

	l_initiate();
	d_recv();
	d_handshakes();
	ck_assert_int_eq(l_take(MESSAGE_HANDSHAKE_RESPONSE), 0);
}
END_TEST

/*
 * An attacker that answers cookie replies gets a valid MAC2 for its own
 * address; under load the per-source rate limit then holds it to a burst
 * before anything is queued, not after the queue has filled.
 */
START_TEST(test_ratelimit_before_queue)
{
	struct cookie_generator x, smart;
	uint8_t msg[MESSAGE_INITIATION_LEN], reply[MESSAGE_COOKIE_LEN];
	unsigned int before;
	uint64_t t0;

	cookie_generator_init(&x, d_pub);
	cookie_generator_init(&smart, d_pub);
	flood(&x, 2 * CHUNK);	/* under load, X's bucket empty */
	x_ep.src.in4.s_addr = htonl(X_ADDR + 1);
	t0 = mono_ns();
	randombytes_buf(msg, sizeof(msg));
	msg[0] = MESSAGE_HANDSHAKE_INITIATION;
	msg[1] = msg[2] = msg[3] = 0;
	cookie_add_macs(&smart, msg, sizeof(msg), d_now);
	send_to_d(xb, msg, sizeof(msg));
	d_recv();
	ck_assert_uint_eq(recv_type(xb, MESSAGE_HANDSHAKE_COOKIE, reply, sizeof(reply)),
			  MESSAGE_COOKIE_LEN);
	ck_assert_int_eq(cookie_consume_reply(&smart, (void *)reply, d_now), 0);

	before = queued();
	flood(&smart, 100);
	ck_assert_uint_le(queued() - before, bucket_since(t0));
	ck_assert_uint_ge(wg_proto_counter(&dev->proto, WG_CNT_RATELIMITED), 100 - bucket_since(t0));
	cookie_generator_destroy(&x);
	cookie_generator_destroy(&smart);
}
END_TEST

static Suite *flood_suite(void)
{
	Suite *s = suite_create("handshake_flood");
	TCase *tc = tcase_create("flood");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_flood_leaves_room_for_a_peer);
	tcase_add_test(tc, test_bad_mac1_not_queued);
	tcase_add_test(tc, test_cookie_flood_not_queued);
	tcase_add_test(tc, test_ratelimit_before_queue);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(flood_suite(), true);
}
