// SPDX-License-Identifier: MIT
/* The UAPI against wireguard-go's byte-exact behaviour, over the in-memory
 * store: every key, every error value, get formatting, atomicity, several
 * operations per connection, and that no key is left in freed memory.  The
 * socket server is tested in test_uapi_server.c. */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <check.h>
#include <sodium.h>

#include "device/uapi.h"
#include "tests/unit/testutil.h"

/* Keys from wg genkey / pubkey (RFC 7748-style clamped), as hex. */
#define PRIV_A "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define PEER1 "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
#define PEER2 "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376"
#define PEER3 "662e14fd594556f522604703340351258903b64f35553763f19426ab2a515c58"
#define PSK "188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52"
#define ZERO_KEY "0000000000000000000000000000000000000000000000000000000000000000"

static struct uapi_store store;
static struct uapi_conn conn;

static void setup(void)
{
	uapi_store_init(&store);
	uapi_conn_init(&conn, &uapi_store_ops, &store);
}

static void teardown(void)
{
	uapi_conn_free(&conn);
	uapi_store_free(&store);
}

/* Feeds req to a fresh connection and returns the reply (static buffer). */
static const char *talk_eof(const char *req, bool eof)
{
	static char reply[1 << 16];
	struct uapi_conn c;

	uapi_conn_init(&c, &uapi_store_ops, &store);
	ck_assert_int_eq(uapi_conn_input(&c, req, strlen(req), eof), 0);
	ck_assert_uint_lt(c.out_len, sizeof(reply));
	if (c.out_len)
		memcpy(reply, c.out, c.out_len);
	reply[c.out_len] = '\0';
	uapi_conn_free(&c);
	return reply;
}

static const char *talk(const char *req)
{
	return talk_eof(req, false);
}

static void set_ok(const char *body)
{
	char req[8192];

	snprintf(req, sizeof(req), "set=1\n%s\n\n", body);
	ck_assert_str_eq(talk(req), "errno=0\n\n");
}

static void set_err(const char *body, int err)
{
	char req[8192], want[32];

	snprintf(req, sizeof(req), "set=1\n%s\n\n", body);
	snprintf(want, sizeof(want), "errno=%d\n\n", err);
	ck_assert_str_eq(talk(req), want);
}

static const char *get(void)
{
	return talk("get=1\n\n");
}

START_TEST(test_get_empty)
{
	ck_assert_str_eq(get(), "errno=0\n\n");
}
END_TEST

START_TEST(test_set_device_and_get_order)
{
	set_ok("private_key=" PRIV_A "\nlisten_port=51820\nfwmark=4660\n"
	       "public_key=" PEER1 "\npreshared_key=" PSK "\n"
	       "endpoint=192.0.2.1:51821\npersistent_keepalive_interval=25\n"
	       "allowed_ip=10.0.0.2/32\nallowed_ip=fd00::2/128\n"
	       "protocol_version=1\n"
	       "public_key=" PEER2 "\nallowed_ip=10.0.1.0/24\n");
	ck_assert_str_eq(get(),
		"private_key=" PRIV_A "\nlisten_port=51820\nfwmark=4660\n"
		"public_key=" PEER1 "\npreshared_key=" PSK "\n"
		"protocol_version=1\nendpoint=192.0.2.1:51821\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		"tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=25\n"
		"allowed_ip=10.0.0.2/32\nallowed_ip=fd00::2/128\n"
		"public_key=" PEER2 "\npreshared_key=" ZERO_KEY "\n"
		"protocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		"tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
		"allowed_ip=10.0.1.0/24\n"
		"errno=0\n\n");
}
END_TEST

START_TEST(test_private_key_clamped_and_zero)
{
	/* Unclamped bytes come back clamped, as FromMaybeZeroHex does. */
	set_ok("private_key=ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	ck_assert_str_eq(get(), "private_key="
		"f8ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f\n"
		"errno=0\n\n");
	/* Upper-case hex is accepted; output is lower-case. */
	set_ok("private_key=E84B5A6D2717C1003A13B431570353DBACA9146CF150C5F8575680FEBA52027A");
	ck_assert_str_eq(get(), "private_key=" PRIV_A "\nerrno=0\n\n");
	set_ok("private_key=" ZERO_KEY);
	ck_assert_str_eq(get(), "errno=0\n\n");
}
END_TEST

START_TEST(test_listen_port_fwmark_zero_hidden)
{
	set_ok("listen_port=0\nfwmark=0");
	ck_assert_str_eq(get(), "errno=0\n\n");
	set_ok("listen_port=065535\nfwmark=4294967295");
	ck_assert_str_eq(get(), "listen_port=65535\nfwmark=4294967295\nerrno=0\n\n");
}
END_TEST

START_TEST(test_errors)
{
	/* Each of wireguard-go's error paths and its value. */
	set_err("listen_port", -71);
	set_err("foo=bar", -22);
	set_err("=1", -22);
	set_err("listen_port=65536", -22);
	set_err("listen_port=-1", -22);
	set_err("listen_port=+1", -22);
	set_err("listen_port=", -22);
	set_err("fwmark=4294967296", -22);
	set_err("fwmark=0x10", -22);
	set_err("private_key=" PRIV_A "00", -22);
	set_err("private_key=zz4b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a", -22);
	set_err("private_key=", -22);
	set_err("replace_peers=false", -22);
	set_err("replace_peers=TRUE", -22);
	set_err("public_key=" PEER1 "0", -22);
	set_err("public_key=", -22);
	/* Device keys after a peer are peer keys, so invalid there. */
	set_err("public_key=" PEER1 "\nlisten_port=1", -22);
	set_err("public_key=" PEER1 "\nprivate_key=" PRIV_A, -22);
	set_err("public_key=" PEER1 "\nremove=false", -22);
	set_err("public_key=" PEER1 "\nupdate_only=1", -22);
	set_err("public_key=" PEER1 "\npreshared_key=12", -22);
	set_err("public_key=" PEER1 "\nendpoint=1.2.3.4", -22);
	set_err("public_key=" PEER1 "\nendpoint=1.2.3.4:", -22);
	set_err("public_key=" PEER1 "\nendpoint=1.2.3.4:65536", -22);
	set_err("public_key=" PEER1 "\nendpoint=::1:80", -22);
	set_err("public_key=" PEER1 "\nendpoint=[1.2.3.4]:80", -22);
	set_err("public_key=" PEER1 "\nendpoint=[::1:80", -22);
	set_err("public_key=" PEER1 "\nendpoint=01.2.3.4:80", -22);
	set_err("public_key=" PEER1 "\nendpoint=example.com:80", -22);
	set_err("public_key=" PEER1 "\nendpoint=[fe80::1%]:80", -22);
	set_err("public_key=" PEER1 "\npersistent_keepalive_interval=65536", -22);
	set_err("public_key=" PEER1 "\nreplace_allowed_ips=yes", -22);
	set_err("public_key=" PEER1 "\nallowed_ip=10.0.0.0", -22);
	set_err("public_key=" PEER1 "\nallowed_ip=10.0.0.0/33", -22);
	set_err("public_key=" PEER1 "\nallowed_ip=10.0.0.0/08", -22);
	set_err("public_key=" PEER1 "\nallowed_ip=10.0.0.0/+8", -22);
	set_err("public_key=" PEER1 "\nallowed_ip=10.0.0.0/", -22);
	set_err("public_key=" PEER1 "\nallowed_ip=fd00::/129", -22);
	set_err("public_key=" PEER1 "\nallowed_ip=fe80::%eth0/64", -22);
	set_err("public_key=" PEER1 "\nallowed_ip=--10.0.0.0/8", -22);
	set_err("public_key=" PEER1 "\nprotocol_version=2", -22);
	set_err("public_key=" PEER1 "\nbogus=1", -22);
	set_err("public_key=" PEER1 "\nno-equals-sign", -71);
	/* The first error wins, even if a later line is worse. */
	set_err("listen_port=x\nnoequals", -22);
	/* None of that changed anything. */
	ck_assert_str_eq(get(), "errno=0\n\n");
}
END_TEST

START_TEST(test_atomic_failure)
{
	set_ok("listen_port=1000\npublic_key=" PEER1 "\nallowed_ip=10.0.0.1/32");
	/* A good peer section, then an error: nothing may be applied. */
	set_err("listen_port=2000\nreplace_peers=true\npublic_key=" PEER2
		"\nallowed_ip=10.0.0.1/32\npublic_key=" PEER3
		"\nendpoint=nonsense", -22);
	ck_assert_str_eq(get(),
		"listen_port=1000\n"
		"public_key=" PEER1 "\npreshared_key=" ZERO_KEY "\n"
		"protocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		"tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
		"allowed_ip=10.0.0.1/32\nerrno=0\n\n");
}
END_TEST

static int refuse_port(void *arg, uint16_t *port, uint32_t mark)
{
	(void)arg;
	(void)mark;
	return *port == 2000 ? -EADDRINUSE : 0;
}

static int refuse_mark(void *arg, uint32_t mark)
{
	(void)arg;
	return mark == 7 ? -EPERM : 0;
}

START_TEST(test_port_in_use_atomic)
{
	store.bind_port = refuse_port;
	store.set_mark = refuse_mark;
	set_ok("listen_port=1000");
	/* The rebind fails after the peer section parsed fine: -98 and no
	 * peer left behind. */
	set_err("listen_port=2000\npublic_key=" PEER1 "\nallowed_ip=10.0.0.1/32", -98);
	set_err("fwmark=7\npublic_key=" PEER1, -98);
	ck_assert_str_eq(get(), "listen_port=1000\nerrno=0\n\n");
}
END_TEST

START_TEST(test_remove_update_only_replace)
{
	set_ok("public_key=" PEER1 "\nallowed_ip=10.0.0.1/32\n"
	       "public_key=" PEER2 "\nallowed_ip=10.0.0.2/32");
	/* update_only on a missing peer: the section is ignored. */
	set_ok("public_key=" PEER3 "\nupdate_only=true\nallowed_ip=10.0.0.3/32");
	/* update_only on an existing one: applied. */
	set_ok("public_key=" PEER2 "\nupdate_only=true\nallowed_ip=10.0.0.22/32");
	/* remove, with later lines ignored. */
	set_ok("public_key=" PEER1 "\nremove=true\nallowed_ip=10.9.9.9/32");
	ck_assert_str_eq(get(),
		"public_key=" PEER2 "\npreshared_key=" ZERO_KEY "\n"
		"protocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		"tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
		"allowed_ip=10.0.0.2/32\nallowed_ip=10.0.0.22/32\nerrno=0\n\n");
	/* Removing a peer that does not exist is fine. */
	set_ok("public_key=" PEER3 "\nremove=true");
	set_ok("replace_peers=true");
	ck_assert_str_eq(get(), "errno=0\n\n");
}
END_TEST

START_TEST(test_allowed_ips_semantics)
{
	set_ok("public_key=" PEER1 "\nallowed_ip=10.0.0.1/24\nallowed_ip=192.168.1.7/16\n"
	       "allowed_ip=fd00:1:2:3:4:5:6:7/48\nallowed_ip=0.0.0.0/0\n"
	       "allowed_ip=::/0\nallowed_ip=::ffff:10.1.2.3/120\n"
	       "allowed_ip=10.0.0.0/24");
	ck_assert_str_eq(get(),
		"public_key=" PEER1 "\npreshared_key=" ZERO_KEY "\n"
		"protocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		"tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
		"allowed_ip=10.0.0.0/24\nallowed_ip=192.168.0.0/16\n"
		"allowed_ip=fd00:1:2::/48\nallowed_ip=0.0.0.0/0\n"
		"allowed_ip=::/0\nallowed_ip=::ffff:10.1.2.0/120\nerrno=0\n\n");
	/* -prefix removes only from its owner; another peer's is untouched. */
	set_ok("public_key=" PEER2 "\nallowed_ip=172.16.0.0/12\n"
	       "public_key=" PEER1 "\nallowed_ip=-172.16.0.0/12\n"
	       "allowed_ip=-192.168.0.0/16\nallowed_ip=-0.0.0.0/0\n"
	       "allowed_ip=-::/0\nallowed_ip=-::ffff:10.1.2.0/120\n"
	       "allowed_ip=-10.99.0.0/16");
	/* Adding another peer's prefix moves it. */
	set_ok("public_key=" PEER2 "\nallowed_ip=10.0.0.0/24");
	ck_assert_str_eq(get(),
		"public_key=" PEER1 "\npreshared_key=" ZERO_KEY "\n"
		"protocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		"tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
		"allowed_ip=fd00:1:2::/48\n"
		"public_key=" PEER2 "\npreshared_key=" ZERO_KEY "\n"
		"protocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		"tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
		"allowed_ip=172.16.0.0/12\nallowed_ip=10.0.0.0/24\nerrno=0\n\n");
	/* replace_allowed_ips acts where it stands. */
	set_ok("public_key=" PEER2 "\nallowed_ip=10.5.0.0/16\nreplace_allowed_ips=true\n"
	       "allowed_ip=10.6.0.0/16");
	ck_assert(strstr(get(), "persistent_keepalive_interval=0\nallowed_ip=10.6.0.0/16\nerrno=0\n\n"));
}
END_TEST

START_TEST(test_endpoints)
{
	static const char *const cases[][2] = {
		{ "192.0.2.1:0", "192.0.2.1:0" },
		{ "192.0.2.1:051820", "192.0.2.1:51820" },
		{ "[::1]:1", "[::1]:1" },
		{ "[2001:DB8:0:0:0:0:0:1]:65535", "[2001:db8::1]:65535" },
		{ "[2001:db8:0:1:0:0:1:0]:2", "[2001:db8:0:1::1:0]:2" },
		{ "[1:0:0:2:0:0:0:3]:2", "[1:0:0:2::3]:2" },
		{ "[1:0:1:1:1:1:1:1]:2", "[1:0:1:1:1:1:1:1]:2" },
		{ "[::ffff:192.0.2.5]:9", "[::ffff:192.0.2.5]:9" },
		{ "[::192.0.2.5]:9", "[::c000:205]:9" },
		{ "[fe80::1%7]:9", "[fe80::1%7]:9" },
		{ "[fe80::1%lo]:9", "[fe80::1%lo]:9" },
	};
	char req[512], want[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), "public_key=" PEER1 "\nendpoint=%s", cases[i][0]);
		set_ok(req);
		snprintf(want, sizeof(want), "endpoint=%s\n", cases[i][1]);
		ck_assert_msg(strstr(get(), want), "endpoint %s", cases[i][0]);
	}
}
END_TEST

START_TEST(test_own_key_ignored)
{
	uint8_t sk[32], pk[32];
	char hex[65], body[512];

	sodium_hex2bin(sk, 32, PRIV_A, 64, NULL, NULL, NULL);
	crypto_scalarmult_base(pk, sk);
	sodium_bin2hex(hex, sizeof(hex), pk, 32);
	/* A peer with our own public key is removed by the new private key
	 * and a later section for it is silently ignored. */
	snprintf(body, sizeof(body), "public_key=%s\nallowed_ip=10.0.0.1/32", hex);
	set_ok(body);
	snprintf(body, sizeof(body), "private_key=" PRIV_A "\npublic_key=%s\n"
		 "allowed_ip=10.0.0.1/32", hex);
	set_ok(body);
	ck_assert_str_eq(get(), "private_key=" PRIV_A "\nerrno=0\n\n");
}
END_TEST

START_TEST(test_keepalive_psk_last_wins)
{
	set_ok("public_key=" PEER1 "\npersistent_keepalive_interval=5\n"
	       "persistent_keepalive_interval=65535\npreshared_key=" PSK);
	ck_assert(strstr(get(), "persistent_keepalive_interval=65535\n"));
	ck_assert(strstr(get(), "preshared_key=" PSK "\n"));
	set_ok("public_key=" PEER1 "\npreshared_key=" ZERO_KEY);
	ck_assert(strstr(get(), "preshared_key=" ZERO_KEY "\n"));
}
END_TEST

START_TEST(test_several_ops_one_conn)
{
	const char *req = "set=1\nlisten_port=7\n\nget=1\n\nset=1\nbad\n\n"
			  "get=1\n\nstats=1\n\nget=1\nX";

	const char *want = "errno=0\n\nlisten_port=7\nerrno=0\n\nerrno=-71\n\n"
			   "listen_port=7\nerrno=0\n\noffload_tso=on\n";
	char out[4096];

	ck_assert_int_eq(uapi_conn_input(&conn, req, strlen(req), false), 0);
	ck_assert_uint_lt(conn.out_len, sizeof(out));
	memcpy(out, conn.out, conn.out_len);
	out[conn.out_len] = '\0';
	ck_assert_int_eq(strncmp(out, want, strlen(want)), 0);
	/* get=1 followed by anything but a newline: -EINVAL, and go on. */
	ck_assert_str_eq(out + strlen(out) - 21, "\nerrno=0\n\nerrno=-22\n\n");
	ck_assert(!uapi_conn_done(&conn));
	ck_assert_int_eq(uapi_conn_input(&conn, "get=1\n\n", 7, false), 0);
	ck_assert(!uapi_conn_done(&conn));
}
END_TEST

START_TEST(test_split_input_bytewise)
{
	const char *req = "set=1\r\n";	/* not a valid op: closes */
	const char *ok = "set=1\nlisten_port=9\r\n\r\nget=1\n\n";
	size_t i;

	ck_assert_int_eq(uapi_conn_input(&conn, req, strlen(req), false), 0);
	ck_assert(uapi_conn_done(&conn));
	ck_assert_uint_eq(conn.out_len, 0);
	uapi_conn_free(&conn);
	uapi_conn_init(&conn, &uapi_store_ops, &store);
	for (i = 0; i < strlen(ok); i++)
		ck_assert_int_eq(uapi_conn_input(&conn, ok + i, 1, false), 0);
	ck_assert_uint_eq(conn.out_len, strlen("errno=0\n\nlisten_port=9\nerrno=0\n\n"));
	ck_assert_int_eq(memcmp(conn.out, "errno=0\n\nlisten_port=9\nerrno=0\n\n",
				conn.out_len), 0);
}
END_TEST

START_TEST(test_bad_op_closes)
{
	ck_assert_str_eq(talk("bogus=1\nget=1\n\n"), "");
	ck_assert_str_eq(talk("get=2\n"), "");
	ck_assert_int_eq(uapi_conn_input(&conn, "getxxxxxxxxx", 12, false), 0);
	ck_assert(uapi_conn_done(&conn));
}
END_TEST

START_TEST(test_set_at_eof)
{
	/* Without the blank line, EOF ends the operation (bufio.Scanner). */
	ck_assert_str_eq(talk_eof("set=1\nlisten_port=3", true), "errno=0\n\n");
	ck_assert_str_eq(get(), "listen_port=3\nerrno=0\n\n");
	ck_assert_str_eq(talk_eof("set=1\nlisten_port=4\nbad", true), "errno=-71\n\n");
	/* Unfinished without EOF: nothing yet. */
	ck_assert_str_eq(talk("set=1\nlisten_port=4\n"), "");
	ck_assert_str_eq(talk_eof("get=1\n", true), "");
	ck_assert_str_eq(get(), "listen_port=3\nerrno=0\n\n");
}
END_TEST

START_TEST(test_line_too_long)
{
	size_t n = UAPI_MAX_LINE + 10;
	char *req = malloc(n + 1);

	memcpy(req, "set=1\nfoo=", 10);
	memset(req + 10, 'a', n - 10);
	req[n] = '\0';
	ck_assert_int_eq(uapi_conn_input(&conn, req, n, false), 0);
	ck_assert_uint_eq(conn.out_len, strlen("errno=-5\n\n"));
	ck_assert_int_eq(memcmp(conn.out, "errno=-5\n\n", conn.out_len), 0);
	ck_assert(uapi_conn_done(&conn));
	free(req);
}
END_TEST

START_TEST(test_stats)
{
	const char *r;

	set_ok("public_key=" PEER1);
	store.stats.udp_gso = UAPI_OFFLOAD_UNSUPPORTED;
	store.stats.tcp_gro = UAPI_OFFLOAD_DISABLED;
	store.stats.tx_bytes = 12345678901234ULL;
	store.stats.drop_no_peer = 3;
	r = talk("stats=1\n\n");
	ck_assert_int_eq(strncmp(r,
		"offload_tso=on\noffload_uso=on\noffload_tcp_gro=off:disabled\n"
		"offload_udp_gro=on\noffload_udp_gso=off:unsupported\n"
		"offload_udp_gro_rx=on\ntx_packets=0\ntx_bytes=12345678901234\n", 150), 0);
	ck_assert_ptr_nonnull(strstr(r, "\ndrop_no_peer=3\n"));
	ck_assert_ptr_nonnull(strstr(r, "\nicmp_unreachable_sent=0\npublic_key=" PEER1
				     "\ntx_packets=0\n"));
	ck_assert_ptr_nonnull(strstr(r, "\ndrop_queue_full=0\nerrno=0\n\n"));
	ck_assert_str_eq(talk("stats=1\nx"), "errno=-22\n\n");
}
END_TEST

START_TEST(test_errno_map)
{
	ck_assert_int_eq(uapi_errno(0), 0);
	ck_assert_int_eq(uapi_errno(-EIO), -5);
	ck_assert_int_eq(uapi_errno(-EPROTO), -71);
	ck_assert_int_eq(uapi_errno(-EINVAL), -22);
	ck_assert_int_eq(uapi_errno(-EADDRINUSE), -98);
	ck_assert_int_eq(uapi_errno(-ENOMEM), -55);
	ck_assert_int_eq(uapi_errno(-EPERM), -55);
}
END_TEST

START_TEST(test_parse_set_txn)
{
	struct uapi_txn t;

	ck_assert_int_eq(uapi_parse_set(&t, "listen_port=5\nreplace_peers=true\n"
		"public_key=" PEER1 "\nremove=true\npublic_key=" PEER1
		"\nallowed_ip=-10.0.0.0/8\nreplace_allowed_ips=true\n"
		"allowed_ip=10.1.0.0/16\nendpoint=[::1]:5\n\nignored", 1000), 0);
	ck_assert_uint_eq(t.flags, UAPI_DEV_LISTEN_PORT | UAPI_DEV_REPLACE_PEERS);
	ck_assert_uint_eq(t.listen_port, 5);
	ck_assert_uint_eq(t.n_peers, 2);
	ck_assert_uint_eq(t.peers[0].flags, UAPI_PEER_REMOVE);
	ck_assert_uint_eq(t.peers[1].flags,
			  UAPI_PEER_REPLACE_ALLOWED_IPS | UAPI_PEER_ENDPOINT);
	ck_assert_uint_eq(t.peers[1].n_aips, 3);
	ck_assert_int_eq(t.peers[1].aips[0].action, UAPI_AIP_REMOVE);
	ck_assert_int_eq(t.peers[1].aips[1].action, UAPI_AIP_CLEAR);
	ck_assert_int_eq(t.peers[1].aips[2].action, UAPI_AIP_ADD);
	ck_assert_uint_eq(t.peers[1].aips[2].prefix.cidr, 16);
	ck_assert_int_eq(t.peers[1].endpoint.dst.in6.sin6_family, AF_INET6);
	uapi_txn_clear(&t);
}
END_TEST

START_TEST(test_tombstones)
{
	/* Removed and re-created in one set: a fresh peer, at the end. */
	set_ok("public_key=" PEER1 "\nallowed_ip=10.0.0.1/32\npreshared_key=" PSK "\n"
	       "public_key=" PEER2 "\nallowed_ip=10.0.0.2/32");
	set_ok("public_key=" PEER1 "\nremove=true\npublic_key=" PEER1
	       "\nallowed_ip=10.0.0.3/32\npublic_key=" PEER2 "\nallowed_ip=10.0.0.1/32");
	ck_assert_str_eq(get(),
		"public_key=" PEER2 "\npreshared_key=" ZERO_KEY "\n"
		"protocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		"tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
		"allowed_ip=10.0.0.2/32\nallowed_ip=10.0.0.1/32\n"
		"public_key=" PEER1 "\npreshared_key=" ZERO_KEY "\n"
		"protocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		"tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
		"allowed_ip=10.0.0.3/32\nerrno=0\n\n");
	/* replace_peers, then one of the old peers again: it starts empty
	 * and may take back a prefix its removed self had. */
	set_ok("replace_peers=true\npublic_key=" PEER2 "\nallowed_ip=10.0.0.3/32");
	ck_assert_str_eq(get(),
		"public_key=" PEER2 "\npreshared_key=" ZERO_KEY "\n"
		"protocol_version=1\n"
		"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		"tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
		"allowed_ip=10.0.0.3/32\nerrno=0\n\n");
}
END_TEST

START_TEST(test_too_many_peers)
{
	const size_t n = UAPI_MAX_PEERS + 1;
	struct uapi_txn txn;
	size_t i;

	set_ok("public_key=" PEER1);
	memset(&txn, 0, sizeof(txn));
	txn.flags = UAPI_DEV_LISTEN_PORT;
	txn.listen_port = 9;
	txn.peers = calloc(n, sizeof(*txn.peers));
	ck_assert_ptr_nonnull(txn.peers);
	txn.n_peers = txn.cap_peers = n;
	for (i = 0; i < n; i++)
		memcpy(txn.peers[i].public_key, &i, sizeof(i));
	/* PEER1 plus 65537 new ones: refused whole, as NewPeer's limit is. */
	ck_assert_int_eq(uapi_store_apply(&store, &txn), -EINVAL);
	ck_assert_uint_eq(store.n_peers, 1);
	ck_assert_uint_eq(store.listen_port, 0);
	/* Exactly the limit fits once PEER1 goes. */
	txn.flags |= UAPI_DEV_REPLACE_PEERS;
	txn.n_peers = UAPI_MAX_PEERS;
	ck_assert_int_eq(uapi_store_apply(&store, &txn), 0);
	ck_assert_uint_eq(store.n_peers, UAPI_MAX_PEERS);
	txn.n_peers = n;
	uapi_txn_clear(&txn);
}
END_TEST

START_TEST(test_section_cap)
{
	const char *line = "public_key=" PEER1;
	struct uapi_parser p;
	size_t i;

	uapi_parser_init(&p);
	for (i = 0; i < 4 * (size_t)UAPI_MAX_PEERS; i++)
		ck_assert_int_eq(uapi_parser_line(&p, line, strlen(line)), 0);
	ck_assert_int_eq(uapi_parser_line(&p, line, strlen(line)), -22);
	/* The error sticks. */
	ck_assert_int_eq(uapi_parser_line(&p, "listen_port=1", 13), -22);
	uapi_txn_clear(&p.txn);
}
END_TEST

/* Every byte value in a key: accepted exactly when it is a hex digit of
 * either case, and then decoded to its value. */
START_TEST(test_key_hex_alphabet)
{
	static const char digits[] = "0123456789abcdef";
	char line[] = "private_key=" PRIV_A;
	char *pos = line + strlen("private_key=") + 10;	/* byte 5, high nibble */
	struct uapi_parser p;
	const char *d;
	int c, want;

	for (c = 0; c < 256; c++) {
		*pos = (char)c;
		d = c ? strchr(digits, c >= 'A' && c <= 'F' ? c + 32 : c) : NULL;
		want = d ? 0 : -22;
		uapi_parser_init(&p);
		ck_assert_int_eq(uapi_parser_line(&p, line, sizeof(line) - 1), want);
		if (d)
			ck_assert_uint_eq(p.txn.private_key[5], (d - digits) << 4 | 0x7);
		uapi_txn_clear(&p.txn);
	}
}
END_TEST

/*
 * An allocation seam: device/uapi.am links this test with
 * -Wl,--wrap=free,--wrap=realloc, so every free() and realloc() in the
 * binary, the library's included, passes through here.  While armed, a
 * block handed back with a key still in it counts as a leak: free() would
 * leave the key in freed memory, and so may realloc() when it moves it.
 */
void __real_free(void *p);
void *__real_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_realloc(void *p, size_t n);

static uint8_t psk_bin[UAPI_KEY_LEN];
static bool armed;
static unsigned int leaks;

static void check_released(void *p)
{
	size_t n;

	if (!armed || !p)
		return;
	n = malloc_usable_size(p);
	if (memmem(p, n, PRIV_A, 16) || memmem(p, n, PSK, 16) ||
	    memmem(p, n, psk_bin, 16))
		leaks++;
}

void __wrap_free(void *p)
{
	check_released(p);
	__real_free(p);
}

void *__wrap_realloc(void *p, size_t n)
{
	check_released(p);
	return __real_realloc(p, n);
}

START_TEST(test_reply_wiped)
{
	/* Through a pointer the compiler cannot see, so the control below
	 * is not optimised away. */
	void (*volatile release)(void *) = free;
	const char *req = "get=1\n\nget=1\n\nget=1\n\n";
	char body[4096], *control;
	struct uapi_conn c;
	size_t n = 0;
	int i;

	ck_assert_int_eq(sodium_hex2bin(psk_bin, sizeof(psk_bin), PSK, 64,
					NULL, NULL, NULL), 0);
	/* The control: the seam is linked in and sees a key. */
	control = strdup("private_key=" PRIV_A);
	armed = true;
	release(control);
	armed = false;
	ck_assert_uint_eq(leaks, 1);
	leaks = 0;

	/* Enough peers that the snapshot, the formatted reply and the
	 * connection's output all grow while holding keys. */
	n += (size_t)snprintf(body + n, sizeof(body) - n, "private_key=" PRIV_A);
	for (i = 0; i < 9; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n,
				      "\npublic_key=%062x%02x\npreshared_key=" PSK
				      "\nallowed_ip=10.0.0.%d/32", 0, i + 1, i);
	set_ok(body);

	armed = true;
	uapi_conn_init(&c, &uapi_store_ops, &store);
	ck_assert_int_eq(uapi_conn_input(&c, req, strlen(req), true), 0);
	ck_assert(c.out_cap > 4096);
	ck_assert(memmem(c.out, c.out_len, "preshared_key=" PSK, 78));
	uapi_conn_free(&c);
	armed = false;
	ck_assert_uint_eq(leaks, 0);
}
END_TEST

static Suite *uapi_suite(void)
{
	Suite *s = suite_create("uapi");
	TCase *tc = tcase_create("protocol");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_get_empty);
	tcase_add_test(tc, test_set_device_and_get_order);
	tcase_add_test(tc, test_private_key_clamped_and_zero);
	tcase_add_test(tc, test_listen_port_fwmark_zero_hidden);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_atomic_failure);
	tcase_add_test(tc, test_port_in_use_atomic);
	tcase_add_test(tc, test_remove_update_only_replace);
	tcase_add_test(tc, test_allowed_ips_semantics);
	tcase_add_test(tc, test_endpoints);
	tcase_add_test(tc, test_own_key_ignored);
	tcase_add_test(tc, test_keepalive_psk_last_wins);
	tcase_add_test(tc, test_several_ops_one_conn);
	tcase_add_test(tc, test_split_input_bytewise);
	tcase_add_test(tc, test_bad_op_closes);
	tcase_add_test(tc, test_set_at_eof);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_errno_map);
	tcase_add_test(tc, test_parse_set_txn);
	tcase_add_test(tc, test_tombstones);
	tcase_add_test(tc, test_too_many_peers);
	tcase_add_test(tc, test_section_cap);
	tcase_add_test(tc, test_key_hex_alphabet);
	tcase_add_test(tc, test_reply_wiped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	return vg_test_run(uapi_suite(), false);
}
