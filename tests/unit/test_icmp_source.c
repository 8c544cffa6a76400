/* SPDX-License-Identifier: MIT */
/*
 * The ICMP "destination unreachable" the device writes into its TUN for a
 * packet no peer takes is sourced as the kernel module sources it
 * (icmp_ndo_send): from the host's address for the way back to the
 * original sender, the interface's own when nothing better fits; a sender
 * the host source-NATed is looked up first.  The in-memory TUN stands in
 * for the host: its addresses (tun_mem_set_addrs) and its conntrack
 * (tun_mem_set_snat).
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "conn/bind.h"
#include "device/device.h"
#include "device/uapi.h"
#include "tests/unit/testutil.h"
#include "tun/checksum.h"
#include "tun/tun.h"
#include "tun/virtio.h"

static struct vg_memnet *net;
static struct device *dev;
static struct tun *tun;

static struct tun_addr addr(const char *text, unsigned int prefixlen, bool on_tun, uint8_t scope)
{
	struct tun_addr a;

	memset(&a, 0, sizeof(a));
	a.family = strchr(text, ':') ? AF_INET6 : AF_INET;
	ck_assert_int_eq(inet_pton(a.family, text, a.addr), 1);
	a.prefixlen = (uint8_t)prefixlen;
	a.on_tun = on_tun;
	a.scope = scope;
	return a;
}

/* The router of the kernel selftest's NAT step: the tunnel on
 * 192.168.241.2/24 and fd00::2/112, the LAN on 10.0.0.100/24. */
static void host_addrs(void)
{
	struct tun_addr a[] = {
		addr("192.168.241.2", 24, true, 0),
		addr("fd00::2", 112, true, 0),
		addr("127.0.0.1", 8, false, 254),
		addr("10.9.9.9", 8, false, 0),
		addr("10.0.0.100", 24, false, 0),
		addr("::1", 128, false, 254),
	};

	ck_assert_int_eq(tun_mem_set_addrs(tun, a, sizeof(a) / sizeof(a[0])), 0);
}

static void setup(void)
{
	struct tun_mem_options mo;
	struct device_options o;
	struct tun_event up = { .type = TUN_EVENT_UP };

	net = vg_memnet_new();
	ck_assert_ptr_nonnull(net);
	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	ck_assert_int_eq(tun_mem_open(&tun, "vgi", &mo), 0);
	host_addrs();
	device_options_init(&o);
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = net;
	ck_assert_int_eq(device_new(&dev, tun, &o), 0);
	ck_assert_int_eq(device_start(dev), 0);
	/* The addresses are read before the link comes up (the port). */
	ck_assert_int_eq(tun_mem_push_event(tun, &up), 0);
	for (int i = 0; i < 2000 && !device_port(dev); i++)
		usleep(1000);
	ck_assert_uint_ne(device_port(dev), 0);
}

static void teardown(void)
{
	device_free(dev);
	vg_memnet_free(net);
}

/* A UDP packet from src to dst (both of one family) into the TUN. */
static void send_udp(const char *src, const char *dst)
{
	uint8_t frame[VNET_HDR_LEN + 40 + 8 + 16];
	uint8_t *p = frame + VNET_HDR_LEN;
	struct vnet_hdr h = { 0 };
	bool v6 = strchr(src, ':');
	size_t ihl = v6 ? 40 : 20, len = ihl + 8 + 16;

	memset(frame, 0, sizeof(frame));
	vnet_hdr_encode(frame, &h);
	if (v6) {
		p[0] = 0x60;
		p[5] = 8 + 16;
		p[6] = 17;
		p[7] = 64;
		ck_assert_int_eq(inet_pton(AF_INET6, src, p + 8), 1);
		ck_assert_int_eq(inet_pton(AF_INET6, dst, p + 24), 1);
	} else {
		p[0] = 0x45;
		p[3] = (uint8_t)len;
		p[8] = 64;
		p[9] = 17;
		ck_assert_int_eq(inet_pton(AF_INET, src, p + 12), 1);
		ck_assert_int_eq(inet_pton(AF_INET, dst, p + 16), 1);
		p[10] = (uint8_t)(csum_ipv4_header(p, 20) >> 8);
		p[11] = (uint8_t)csum_ipv4_header(p, 20);
	}
	p[ihl + 1] = 9;		/* ports 9 -> 9 */
	p[ihl + 3] = 9;
	p[ihl + 5] = 8 + 16;
	ck_assert_int_eq(tun_mem_inject(tun, 0, frame, VNET_HDR_LEN + len), 0);
}

/* The next ICMP error the device wrote: its source and destination as
 * text; false when none came within a second. */
static bool take_icmp(char *src, char *dst, uint8_t *type, uint8_t *code)
{
	static uint8_t buf[4096];
	const uint8_t *p = buf + VNET_HDR_LEN;
	ssize_t n = -EAGAIN;
	bool v6;

	for (int i = 0; i < 1000 && n == -EAGAIN; i++) {
		n = tun_mem_take(tun, 0, buf, sizeof(buf));
		if (n == -EAGAIN)
			usleep(1000);
	}
	if (n < 0)
		return false;
	ck_assert_int_gt(n, VNET_HDR_LEN + 48);
	v6 = p[0] >> 4 == 6;
	ck_assert_uint_eq(p[v6 ? 6 : 9], v6 ? 58 : 1);
	inet_ntop(v6 ? AF_INET6 : AF_INET, p + (v6 ? 8 : 12), src, INET6_ADDRSTRLEN);
	inet_ntop(v6 ? AF_INET6 : AF_INET, p + (v6 ? 24 : 16), dst, INET6_ADDRSTRLEN);
	*type = p[v6 ? 40 : 20];
	*code = p[v6 ? 41 : 21];
	return true;
}

static void expect_icmp(const char *from, const char *to, const char *want_src)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	bool v6 = strchr(from, ':');
	uint8_t type, code;

	send_udp(from, to);
	ck_assert(take_icmp(src, dst, &type, &code));
	ck_assert_str_eq(src, want_src);
	ck_assert_str_eq(dst, from);
	ck_assert_uint_eq(type, v6 ? 1 : 3);	/* destination unreachable */
	ck_assert_uint_eq(code, v6 ? 3 : 1);	/* address / host */
}

/* The host itself sent it: the error comes from the sender's own address,
 * as the kernel's route back to a local address is sourced. */
START_TEST(test_local_sender)
{
	expect_icmp("192.168.241.2", "192.168.241.9", "192.168.241.2");
	expect_icmp("10.0.0.100", "192.168.241.9", "10.0.0.100");
	expect_icmp("fd00::2", "fd00::9", "fd00::2");
}
END_TEST

/* Forwarded for a LAN host: from the router's address on the sender's
 * subnet (the longest prefix), else from the interface's own address. */
START_TEST(test_forwarded_sender)
{
	expect_icmp("10.0.0.1", "192.168.241.9", "10.0.0.100");
	expect_icmp("10.7.0.1", "192.168.241.9", "10.9.9.9");
	expect_icmp("172.16.5.5", "192.168.241.9", "192.168.241.2");
	expect_icmp("2001:db8::5", "fd00::9", "fd00::2");
}
END_TEST

/* Kernel selftest step 15: the router source-NATs 10.0.0.1 to its tunnel
 * address; the error is meant for 10.0.0.1, so it comes from the router's
 * LAN address, addressed to the NATed sender (conntrack turns it back). */
START_TEST(test_source_nat)
{
	uint8_t from[4], to[4];

	inet_pton(AF_INET, "192.168.241.2", from);
	inet_pton(AF_INET, "10.0.0.1", to);
	ck_assert_int_eq(tun_mem_set_snat(tun, AF_INET, from, to), 0);
	expect_icmp("192.168.241.2", "192.168.241.1", "10.0.0.100");
	ck_assert_int_eq(tun_mem_set_snat(tun, 0, NULL, NULL), 0);
	expect_icmp("192.168.241.2", "192.168.241.1", "192.168.241.2");
}
END_TEST

/* Addresses come and go: the next errors follow.  Without an address of
 * the family anywhere, the error keeps the unreachable address. */
START_TEST(test_addresses_follow)
{
	struct tun_addr a[] = {
		addr("10.0.0.100", 24, false, 0),
		addr("127.0.0.1", 8, false, 254),
	};
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	uint8_t type, code;
	int i;

	ck_assert_int_eq(tun_mem_set_addrs(tun, a, 2), 0);
	/* The control thread reads them soon; errors are rate-limited, so
	 * ask at most ten times a second. */
	for (i = 0; i < 30; i++) {
		send_udp("172.16.5.5", "192.168.241.9");
		if (take_icmp(src, dst, &type, &code) && !strcmp(src, "10.0.0.100"))
			break;
		usleep(100 * 1000);
	}
	ck_assert_int_lt(i, 30);
	expect_icmp("2001:db8::5", "fd00::9", "fd00::9");
	host_addrs();
	for (i = 0; i < 30; i++) {
		send_udp("172.16.5.5", "192.168.241.9");
		if (take_icmp(src, dst, &type, &code) && !strcmp(src, "192.168.241.2"))
			break;
		usleep(100 * 1000);
	}
	ck_assert_int_lt(i, 30);
}
END_TEST

/* A peer (the second device) allowed everything, so only the host's own
 * addresses stand between its packets and the host. */
static struct device *peer;
static struct tun *peer_tun;

static void hex(char *out, const uint8_t *k)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", k[i]);
}

static void set(struct device *d, const char *req)
{
	struct uapi_txn txn;

	memset(&txn, 0, sizeof(txn));
	ck_assert_int_eq(uapi_parse_set(&txn, req, strlen(req)), 0);
	ck_assert_int_eq(device_uapi_ops.set(d, &txn), 0);
	uapi_txn_clear(&txn);
}

static void setup_peer(void)
{
	uint8_t priv[2][32], pub[2][32];
	char req[512], k[65], pk[65];
	struct tun_mem_options mo;
	struct device_options o;
	struct tun_event up = { .type = TUN_EVENT_UP };

	setup();
	memset(&mo, 0, sizeof(mo));
	tun_options_init(&mo.tun);
	ck_assert_int_eq(tun_mem_open(&peer_tun, "vgp", &mo), 0);
	device_options_init(&o);
	o.log_level = DEVICE_LOG_SILENT;
	o.memnet = net;
	ck_assert_int_eq(device_new(&peer, peer_tun, &o), 0);
	ck_assert_int_eq(device_start(peer), 0);
	ck_assert_int_eq(tun_mem_push_event(peer_tun, &up), 0);
	for (int i = 0; i < 2; i++) {
		randombytes_buf(priv[i], 32);
		crypto_scalarmult_base(pub[i], priv[i]);
	}
	hex(k, priv[0]);
	hex(pk, pub[1]);
	snprintf(req, sizeof(req), "private_key=%s\nlisten_port=51820\npublic_key=%s\n"
		 "endpoint=127.0.0.1:51821\nallowed_ip=0.0.0.0/0\n", k, pk);
	set(dev, req);
	hex(k, priv[1]);
	hex(pk, pub[0]);
	snprintf(req, sizeof(req), "private_key=%s\nlisten_port=51821\npublic_key=%s\n"
		 "endpoint=127.0.0.1:51820\nallowed_ip=192.168.241.0/24\n", k, pk);
	set(peer, req);
}

static void teardown_peer(void)
{
	device_free(peer);
	teardown();
}

/* What reaches the host's TUN from the peer within ms milliseconds: the
 * IPv4 source, or "" for nothing. */
static void from_peer(const char *src, char *got, int ms)
{
	static uint8_t frame[VNET_HDR_LEN + 64], buf[4096];
	uint8_t *p = frame + VNET_HDR_LEN;
	ssize_t n = -EAGAIN;

	memset(frame, 0, sizeof(frame));
	p[0] = 0x45;
	p[3] = 28;
	p[8] = 64;
	p[9] = 17;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, "192.168.241.2", p + 16);
	p[10] = (uint8_t)(csum_ipv4_header(p, 20) >> 8);
	p[11] = (uint8_t)csum_ipv4_header(p, 20);
	p[21] = p[23] = 9;
	p[25] = 8;
	ck_assert_int_eq(tun_mem_inject(peer_tun, 0, frame, VNET_HDR_LEN + 28), 0);
	got[0] = 0;
	for (int i = 0; i < ms && n == -EAGAIN; i++) {
		n = tun_mem_take(tun, 0, buf, sizeof(buf));
		if (n == -EAGAIN)
			usleep(1000);
	}
	if (n > VNET_HDR_LEN + 20)
		inet_ntop(AF_INET, buf + VNET_HDR_LEN + 12, got, INET6_ADDRSTRLEN);
}

/* The interface accepts the host's own IPv4 addresses as sources (for the
 * errors above), which the kernel would otherwise refuse from a tunnel:
 * the device refuses them itself, even from a peer allowed 0.0.0.0/0. */
START_TEST(test_peer_cannot_claim_host_address)
{
	char got[INET6_ADDRSTRLEN];

	from_peer("10.5.5.5", got, 8000);	/* the handshake first */
	ck_assert_str_eq(got, "10.5.5.5");
	from_peer("10.0.0.100", got, 500);
	ck_assert_str_eq(got, "");
	from_peer("10.5.5.6", got, 2000);
	ck_assert_str_eq(got, "10.5.5.6");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("icmp_source");
	TCase *tc = tcase_create("device");
	TCase *pair = tcase_create("pair");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_local_sender);
	tcase_add_test(tc, test_forwarded_sender);
	tcase_add_test(tc, test_source_nat);
	tcase_add_test(tc, test_addresses_follow);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(pair, setup_peer, teardown_peer);
	tcase_add_test(pair, test_peer_cannot_claim_host_address);
	suite_add_tcase(s, pair);
	return s;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	return vg_test_run(suite(), false);
}
