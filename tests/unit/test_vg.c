// SPDX-License-Identifier: MIT
/* vg: key encoding, the wg config grammar and its errors, the UAPI
 * client's request/reply handling, and show/showconf/stats output, all
 * byte for byte against what wg(8) prints. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/vg_config.h"
#include "tools/vg_show.h"
#include "tools/vg_stats.h"
#include "tools/vg_uapi.h"
#include "tests/unit/testutil.h"

/* A memory stream for diagnostics or output, read back as a string. */
struct sink {
	FILE *f;
	char *buf;
	size_t len;
};

static void sink_open(struct sink *s)
{
	s->buf = NULL;
	s->len = 0;
	s->f = open_memstream(&s->buf, &s->len);
	ck_assert_ptr_nonnull(s->f);
}

static const char *sink_str(struct sink *s)
{
	fflush(s->f);
	return s->buf;
}

static void sink_close(struct sink *s)
{
	fclose(s->f);
	free(s->buf);
}

/* ---- key encoding ---- */

static const uint8_t seq_key[32] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};

START_TEST(base64_known)
{
	char b64[VG_KEY_B64_SIZE];
	uint8_t key[32], ff[32];

	vg_key_to_base64(b64, seq_key);
	ck_assert_str_eq(b64, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	ck_assert(vg_key_from_base64(key, b64));
	ck_assert_mem_eq(key, seq_key, 32);
	memset(ff, 0xff, sizeof(ff));
	vg_key_to_base64(b64, ff);
	ck_assert_str_eq(b64, "//////////////////////////////////////////8=");
	ck_assert(vg_key_from_base64(key, "+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8="));
	ck_assert_uint_eq(key[0], 0xfb);
	ck_assert_uint_eq(key[31], 0xff);
}
END_TEST

START_TEST(base64_rejects)
{
	uint8_t key[32];

	ck_assert(!vg_key_from_base64(key, ""));
	ck_assert(!vg_key_from_base64(key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"));
	ck_assert(!vg_key_from_base64(key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=="));
	ck_assert(!vg_key_from_base64(key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A"));
	ck_assert(!vg_key_from_base64(key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH!8="));
	ck_assert(!vg_key_from_base64(key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd=h8="));
	/* 'h' = 33 has low bits set: a second spelling of some key. */
	ck_assert(!vg_key_from_base64(key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9="));
	ck_assert(!vg_key_from_base64(key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHhh="));
}
END_TEST

START_TEST(hex_roundtrip)
{
	char hex[VG_KEY_HEX_SIZE];
	uint8_t key[32];

	vg_key_to_hex(hex, seq_key);
	ck_assert_str_eq(hex, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	ck_assert(vg_key_from_hex(key, hex));
	ck_assert_mem_eq(key, seq_key, 32);
	ck_assert(vg_key_from_hex(key, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"));
	ck_assert_mem_eq(key, seq_key, 32);
	ck_assert(!vg_key_from_hex(key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g"));
	ck_assert(!vg_key_from_hex(key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1"));
	ck_assert(!vg_key_from_hex(key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0"));
	ck_assert(!vg_key_from_hex(key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e:f"));
}
END_TEST

START_TEST(public_key_rfc7748)
{
	uint8_t priv[32], pub[32], want[32];

	/* RFC 7748 section 6.1, Alice. */
	ck_assert(vg_key_from_hex(priv, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
	ck_assert(vg_key_from_hex(want, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
	ck_assert(vg_key_public(pub, priv));
	ck_assert_mem_eq(pub, want, 32);
}
END_TEST

START_TEST(clamp)
{
	uint8_t key[32];

	memset(key, 0xff, sizeof(key));
	vg_key_clamp(key);
	ck_assert_uint_eq(key[0], 0xf8);
	ck_assert_uint_eq(key[31], 0x7f);
	memset(key, 0, sizeof(key));
	vg_key_clamp(key);
	ck_assert_uint_eq(key[0], 0);
	ck_assert_uint_eq(key[31], 0x40);
	ck_assert(!vg_key_is_zero(key));
}
END_TEST

/* ---- config grammar ---- */

#define K1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define K2 "//////////////////////////////////////////8="

/* Parses the lines of `text`; returns the device (or NULL) and leaves
 * the diagnostics in `err`. */
static struct vg_device *parse(const char *text, bool append, struct sink *err)
{
	struct vg_config_ctx ctx;
	char *copy = strdup(text), *line, *save = NULL;

	sink_open(err);
	ck_assert(vg_config_init(&ctx, append, err->f));
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!vg_config_line(&ctx, line)) {
			free(copy);
			ck_assert_ptr_null(ctx.device);
			return NULL;
		}
	}
	free(copy);
	return vg_config_finish(&ctx);
}

START_TEST(config_full)
{
	struct vg_device *dev;
	struct vg_peer *p;
	struct vg_allowedip *a;
	struct sink err;
	char ip[64];

	dev = parse("# a comment\n"
		    "[interface]\n"
		    "  privatekey = " K1 "   # trailing comment\n"
		    "ListenPort=51820\n"
		    "FWMARK = 0x1f\n"
		    "\n"
		    "[PEER]\n"
		    "PublicKey = " K2 "\n"
		    "PresharedKey = " K1 "\n"
		    "AllowedIPs = 10.0.0.0/24, fd00::/64,192.168.1.1\n"
		    "Endpoint = 127.0.0.1:4000\n"
		    "PersistentKeepalive = off\n"
		    "[Peer]\n"
		    "PublicKey = " K1 "\n"
		    "Endpoint = [::1]:5\n", false, &err);
	ck_assert_msg(dev, "%s", sink_str(&err));
	ck_assert_str_eq(sink_str(&err), "");
	ck_assert_uint_eq(dev->flags, VG_DEV_REPLACE_PEERS | VG_DEV_HAS_PRIVATE_KEY |
				      VG_DEV_HAS_FWMARK | VG_DEV_HAS_LISTEN_PORT);
	ck_assert_mem_eq(dev->private_key, seq_key, 32);
	ck_assert_uint_eq(dev->listen_port, 51820);
	ck_assert_uint_eq(dev->fwmark, 0x1f);
	p = dev->first_peer;
	ck_assert_uint_eq(p->flags, VG_PEER_HAS_PUBLIC_KEY | VG_PEER_HAS_PRESHARED_KEY |
				    VG_PEER_HAS_KEEPALIVE | VG_PEER_REPLACE_ALLOWEDIPS);
	ck_assert_uint_eq(p->public_key[0], 0xff);
	ck_assert_uint_eq(p->keepalive, 0);
	ck_assert_int_eq(p->endpoint.sa.sa_family, AF_INET);
	ck_assert_uint_eq(ntohs(p->endpoint.in4.sin_port), 4000);
	a = p->first_allowedip;
	inet_ntop(AF_INET, &a->ip4, ip, sizeof(ip));
	ck_assert_str_eq(ip, "10.0.0.0");
	ck_assert_uint_eq(a->cidr, 24);
	a = a->next;
	ck_assert_int_eq(a->family, AF_INET6);
	ck_assert_uint_eq(a->cidr, 64);
	a = a->next;
	ck_assert_uint_eq(a->cidr, 32);
	ck_assert_ptr_null(a->next);
	p = p->next;
	ck_assert_int_eq(p->endpoint.sa.sa_family, AF_INET6);
	ck_assert_uint_eq(p->flags, VG_PEER_HAS_PUBLIC_KEY | VG_PEER_REPLACE_ALLOWEDIPS);
	ck_assert_ptr_null(p->first_allowedip);
	ck_assert_uint_eq(ntohs(p->endpoint.in6.sin6_port), 5);
	ck_assert_ptr_null(p->next);
	vg_device_free(dev);
	sink_close(&err);
}
END_TEST

START_TEST(config_append_and_incremental)
{
	struct vg_device *dev;
	struct sink err;

	dev = parse("[Peer]\nPublicKey=" K1 "\nAllowedIPs=-10.0.0.0/8,+10.1.0.0/16\n", true, &err);
	ck_assert_ptr_nonnull(dev);
	ck_assert_uint_eq(dev->flags, 0);
	ck_assert_uint_eq(dev->first_peer->flags, VG_PEER_HAS_PUBLIC_KEY);
	ck_assert(dev->first_peer->first_allowedip->remove);
	ck_assert(!dev->first_peer->first_allowedip->next->remove);
	vg_device_free(dev);
	sink_close(&err);
}
END_TEST

static const struct {
	const char *text;
	const char *err;
} config_errors[] = {
	{ "[Interface]\nFoo = bar", "Line unrecognized: `Foo=bar'\n" },
	{ "PrivateKey = " K1, "Line unrecognized: `PrivateKey=" K1 "'\n" },
	{ "[Interface]\nAddress = 10.0.0.1/24", "Line unrecognized: `Address=10.0.0.1/24'\n" },
	{ "[Interface]\nDNS = 1.1.1.1", "Line unrecognized: `DNS=1.1.1.1'\n" },
	{ "[Interface]\nPrivateKey =", "Line unrecognized: `PrivateKey='\n" },
	{ "[Peer]\nAllowedIPs = ", "Line unrecognized: `AllowedIPs='\n" },
	{ "[Interface]\nPublicKey = " K1, "Line unrecognized: `PublicKey=" K1 "'\n" },
	{ "[Peer]\nListenPort = 1", "Line unrecognized: `ListenPort=1'\n" },
	{ "[Interface]\nPrivateKey = abc", "Key is not the correct length or format: `abc'\n" },
	{ "[Peer]\nPublicKey = " K1 "x", "Key is not the correct length or format: `" K1 "x'\n" },
	{ "[Peer]\nPresharedKey = AAAA", "Key is not the correct length or format: `AAAA'\n" },
	{ "[Interface]\nFwMark = 0x100000000",
	  "Fwmark is neither 0/off nor 0-0xffffffff: `0x100000000'\n" },
	{ "[Interface]\nFwMark = -1", "Fwmark is neither 0/off nor 0-0xffffffff: `-1'\n" },
	{ "[Interface]\nFwMark = 12z", "Fwmark is neither 0/off nor 0-0xffffffff: `12z'\n" },
	{ "[Peer]\nPersistentKeepalive = 65536",
	  "Persistent keepalive interval is neither 0/off nor 1-65535: `65536'\n" },
	{ "[Peer]\nPersistentKeepalive = never",
	  "Persistent keepalive interval is neither 0/off nor 1-65535: `never'\n" },
	{ "[Peer]\nAllowedIPs = 10.0.0.256/32", "Unable to parse IP address: `10.0.0.256'\n" },
	{ "[Peer]\nAllowedIPs = 10.0.0.0/33", "AllowedIP is not in the correct format: `10.0.0.0/33'\n" },
	{ "[Peer]\nAllowedIPs = ::/129", "AllowedIP is not in the correct format: `::/129'\n" },
	{ "[Peer]\nAllowedIPs = 10.0.0.0/x", "AllowedIP is not in the correct format: `10.0.0.0/x'\n" },
	{ "[Peer]\nAllowedIPs = 10.0.0.0/8/8", "AllowedIP is not in the correct format: `10.0.0.0/8/8'\n" },
	{ "[Peer]\nAllowedIPs = 10.0.0.0/8,,", "Unable to parse IP address: `'\n" },
	{ "[Peer]\nEndpoint = 1.2.3.4", "Unable to find port of endpoint: `1.2.3.4'\n" },
	{ "[Peer]\nEndpoint = 1.2.3.4:", "Unable to find port of endpoint: `1.2.3.4:'\n" },
	{ "[Peer]\nEndpoint = [::1:51820", "Unable to find matching brace of endpoint: `[::1:51820'\n" },
	{ "[Peer]\nEndpoint = [::1]51820", "Unable to find port of endpoint: `[::1]51820'\n" },
	{ "[Peer]\nEndpoint = [::1]:", "Unable to find port of endpoint: `[::1]:'\n" },
};

START_TEST(config_error)
{
	struct vg_device *dev;
	struct sink err;

	dev = parse(config_errors[_i].text, false, &err);
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), config_errors[_i].err);
	sink_close(&err);
}
END_TEST

START_TEST(config_port_name_error)
{
	struct vg_device *dev;
	struct sink err;
	const char *s;

	dev = parse("[Interface]\nListenPort = nosuchservice", false, &err);
	ck_assert_ptr_null(dev);
	s = sink_str(&err);
	ck_assert_msg(strlen(s) > 20 && !strcmp(s + strlen(s) - 18, ": `nosuchservice'\n"), "%s", s);
	sink_close(&err);
}
END_TEST

START_TEST(config_missing_public_key)
{
	struct vg_device *dev;
	struct sink err;

	dev = parse("[Peer]\nAllowedIPs = 10.0.0.1\n", false, &err);
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), "A peer is missing a public key\n");
	sink_close(&err);
}
END_TEST

START_TEST(config_host_bits_warning)
{
	struct vg_device *dev;
	struct sink err;

	dev = parse("[Peer]\nPublicKey=" K1 "\nAllowedIPs = 10.0.0.1/24, fd00::1/127, 10.0.0.1\n",
		    false, &err);
	ck_assert_ptr_nonnull(dev);
	ck_assert_str_eq(sink_str(&err), "Warning: AllowedIP has nonzero host part: 10.0.0.1/24\n"
					 "Warning: AllowedIP has nonzero host part: fd00::1/127\n");
	vg_device_free(dev);
	sink_close(&err);
}
END_TEST

START_TEST(config_endpoint_name)
{
	struct vg_device *dev;
	struct sink err;
	uint16_t port;

	/* localhost comes from /etc/hosts: no network needed. */
	dev = parse("[Peer]\nPublicKey=" K1 "\nEndpoint = localhost:7\n", false, &err);
	ck_assert_msg(dev, "%s", sink_str(&err));
	if (dev->first_peer->endpoint.sa.sa_family == AF_INET)
		port = ntohs(dev->first_peer->endpoint.in4.sin_port);
	else
		port = ntohs(dev->first_peer->endpoint.in6.sin6_port);
	ck_assert_uint_eq(port, 7);
	vg_device_free(dev);
	sink_close(&err);
}
END_TEST

/* wg gives up on the whole command when the retry count is garbage. */
START_TEST(config_bad_retries_exits)
{
	struct sink err;

	setenv("WG_ENDPOINT_RESOLUTION_RETRIES", "lots", 1);
	parse("[Peer]\nPublicKey=" K1 "\nEndpoint = 192.0.2.1:7\n", false, &err);
}
END_TEST

/* ---- `set` arguments ---- */

static char keyfile[64];

static void write_keyfile(const char *content)
{
	FILE *f;

	snprintf(keyfile, sizeof(keyfile), "/tmp/test_vg_key.%d", (int)getpid());
	f = fopen(keyfile, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
}

static struct vg_device *cmd(struct sink *err, int argc, ...)
{
	char *argv[32];
	va_list ap;
	int i;

	va_start(ap, argc);
	for (i = 0; i < argc; ++i)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	sink_open(err);
	return vg_config_cmd(argc, argv, err->f);
}

START_TEST(cmd_full)
{
	struct vg_device *dev;
	struct sink err;

	write_keyfile(K1 "\n\n");
	dev = cmd(&err, 13, "listen-port", "0", "private-key", keyfile, "peer", K2, "remove",
		  "peer", K1, "allowed-ips", " 10.0.0.0/8 , ::/0 ", "preshared-key", "/dev/null");
	unlink(keyfile);
	ck_assert_msg(dev, "%s", sink_str(&err));
	ck_assert_str_eq(sink_str(&err), "");
	ck_assert_uint_eq(dev->flags, VG_DEV_HAS_LISTEN_PORT | VG_DEV_HAS_PRIVATE_KEY);
	ck_assert_mem_eq(dev->private_key, seq_key, 32);
	ck_assert_uint_eq(dev->first_peer->flags, VG_PEER_HAS_PUBLIC_KEY | VG_PEER_REMOVE);
	ck_assert_uint_eq(dev->last_peer->flags, VG_PEER_HAS_PUBLIC_KEY | VG_PEER_REPLACE_ALLOWEDIPS |
						 VG_PEER_HAS_PRESHARED_KEY);
	ck_assert(vg_key_is_zero(dev->last_peer->preshared_key));
	ck_assert_uint_eq(dev->last_peer->last_allowedip->cidr, 0);
	vg_device_free(dev);
	sink_close(&err);
}
END_TEST

START_TEST(cmd_errors)
{
	struct vg_device *dev;
	struct sink err;

	dev = cmd(&err, 2, "peer", K1 "=");
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), "Key is not the correct length or format: `" K1 "='\n");
	sink_close(&err);

	dev = cmd(&err, 3, "peer", K1, "listen-port");
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), "Invalid argument: listen-port\n");
	sink_close(&err);

	dev = cmd(&err, 1, "remove");
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), "Invalid argument: remove\n");
	sink_close(&err);

	dev = cmd(&err, 1, "fwmark");
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), "Invalid argument: fwmark\n");
	sink_close(&err);

	dev = cmd(&err, 2, "listen-port", "");
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), "Unable to parse empty port\n");
	sink_close(&err);

	dev = cmd(&err, 4, "peer", K1, "endpoint", "");
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), "Unable to parse empty endpoint\n");
	sink_close(&err);

	dev = cmd(&err, 4, "peer", K1, "allowed-ips", "10.0.0.0/8,nonsense");
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), "Unable to parse IP address: `nonsense'\n");
	sink_close(&err);

	dev = cmd(&err, 2, "private-key", "/nonexistent/vg-key");
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), "fopen: No such file or directory\n");
	sink_close(&err);

	write_keyfile("short\n");
	dev = cmd(&err, 2, "private-key", keyfile);
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), "Invalid length key in key file\n");
	sink_close(&err);

	write_keyfile(K1 " x\n");
	dev = cmd(&err, 2, "private-key", keyfile);
	unlink(keyfile);
	ck_assert_ptr_null(dev);
	ck_assert_str_eq(sink_str(&err), "Found trailing character in key file: `x'\n");
	sink_close(&err);
}
END_TEST

/* ---- UAPI ---- */

#define H1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define H2 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define PRIV_HEX "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define PRIV_B64 "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define PUB_B64 "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define ZERO_HEX "0000000000000000000000000000000000000000000000000000000000000000"

static const char canned_reply[] =
	"private_key=" PRIV_HEX "\n"
	"listen_port=51820\n"
	"fwmark=66\n"
	"public_key=" H1 "\n"
	"preshared_key=" ZERO_HEX "\n"
	"protocol_version=1\n"
	"endpoint=[fd00::1]:51821\n"
	"last_handshake_time_sec=0\n"
	"last_handshake_time_nsec=0\n"
	"tx_bytes=0\n"
	"rx_bytes=0\n"
	"persistent_keepalive_interval=0\n"
	"public_key=" H2 "\n"
	"preshared_key=" H1 "\n"
	"protocol_version=1\n"
	"endpoint=192.0.2.7:4500\n"
	"last_handshake_time_sec=1000000\n"
	"last_handshake_time_nsec=5\n"
	"tx_bytes=1536\n"
	"rx_bytes=3221225472\n"
	"persistent_keepalive_interval=25\n"
	"allowed_ip=10.0.0.0/24\n"
	"allowed_ip=fd00::/64\n"
	"some_future_key=whatever\n"
	"errno=0\n"
	"\n";

static struct vg_device *canned_device(void)
{
	struct vg_device *dev = vg_device_new();
	FILE *f = fmemopen((void *)canned_reply, sizeof(canned_reply) - 1, "r");

	ck_assert_ptr_nonnull(f);
	snprintf(dev->name, sizeof(dev->name), "wg7");
	ck_assert_int_eq(vg_uapi_read_get(f, dev), 0);
	fclose(f);
	return dev;
}

static int read_reply(const char *reply)
{
	struct vg_device *dev = vg_device_new();
	FILE *f = fmemopen((void *)reply, strlen(reply), "r");
	int ret = vg_uapi_read_get(f, dev);

	fclose(f);
	vg_device_free(dev);
	return ret;
}

START_TEST(uapi_get_errors)
{
	ck_assert_int_eq(read_reply("errno=0\n\n"), 0);
	ck_assert_int_eq(read_reply("errno=22\n\n"), -22);
	ck_assert_int_eq(read_reply("listen_port=1\n\n"), -EPROTO);
	ck_assert_int_eq(read_reply("errno=0\n"), -EPROTO);
	ck_assert_int_eq(read_reply("listen_port=70000\nerrno=0\n\n"), -EPROTO);
	ck_assert_int_eq(read_reply("listen_port\nerrno=0\n\n"), -EPROTO);
	ck_assert_int_eq(read_reply("public_key=" H1 "\nallowed_ip=10.0.0.0/33\nerrno=0\n\n"), -EPROTO);
	ck_assert_int_eq(read_reply("public_key=" H1 "\nendpoint=1.2.3.4\nerrno=0\n\n"), -EPROTO);
	ck_assert_int_eq(read_reply("public_key=zz\nerrno=0\n\n"), -EPROTO);
	ck_assert_int_eq(read_reply("errno=-1\n\n"), -EPROTO);
	ck_assert_int_eq(read_reply(""), -EPROTO);
}
END_TEST

START_TEST(uapi_set_request)
{
	struct vg_device *dev;
	struct sink out, err;

	write_keyfile(PRIV_B64);
	dev = cmd(&err, 17, "private-key", keyfile, "fwmark", "off", "peer", K1, "remove",
		  "peer", K2, "endpoint", "[fd00::2]:7", "persistent-keepalive", "5",
		  "allowed-ips", "10.0.0.0/8,-fd00::/64", "preshared-key", keyfile);
	unlink(keyfile);
	ck_assert_msg(dev, "%s", sink_str(&err));
	sink_open(&out);
	vg_uapi_write_set(out.f, dev);
	ck_assert_str_eq(sink_str(&out),
			 "set=1\n"
			 "private_key=" PRIV_HEX "\n"
			 "fwmark=0\n"
			 "public_key=" H1 "\n"
			 "remove=true\n"
			 "public_key=" H2 "\n"
			 "preshared_key=" PRIV_HEX "\n"
			 "endpoint=[fd00::2]:7\n"
			 "persistent_keepalive_interval=5\n"
			 "allowed_ip=10.0.0.0/8\n"
			 "allowed_ip=-fd00::/64\n"
			 "\n");
	vg_device_free(dev);
	sink_close(&out);
	sink_close(&err);
}
END_TEST

START_TEST(uapi_setconf_request)
{
	struct vg_device *dev;
	struct sink out, err;

	dev = parse("[Peer]\nPublicKey=" K1 "\nAllowedIPs=10.1.2.3/32\nEndpoint=127.0.0.1:9\n",
		    false, &err);
	ck_assert_ptr_nonnull(dev);
	sink_open(&out);
	vg_uapi_write_set(out.f, dev);
	/* setconf resets the whole device, wg sends all of these. */
	ck_assert_str_eq(sink_str(&out),
			 "set=1\n"
			 "private_key=" ZERO_HEX "\n"
			 "listen_port=0\n"
			 "fwmark=0\n"
			 "replace_peers=true\n"
			 "public_key=" H1 "\n"
			 "endpoint=127.0.0.1:9\n"
			 "replace_allowed_ips=true\n"
			 "allowed_ip=10.1.2.3/32\n"
			 "\n");
	vg_device_free(dev);
	sink_close(&out);
	sink_close(&err);
}
END_TEST

START_TEST(uapi_status)
{
	const char *cases[] = { "errno=0\n\n", "errno=-22\n\n", "errno=5\n\n", "garbage\n\n", "" };
	const int want[] = { 0, -22, -EPROTO, -EPROTO, -EPROTO };
	size_t i;

	for (i = 0; i < 5; ++i) {
		FILE *f = fmemopen((void *)cases[i], strlen(cases[i]) + 1, "r");

		ck_assert_int_eq(vg_uapi_read_status(f), want[i]);
		fclose(f);
	}
}
END_TEST

/* ---- show / showconf ---- */

#define H1B "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define H2B "//////////////////////////////////////////8="

START_TEST(show_dump)
{
	struct vg_device *dev = canned_device();
	struct sink out;

	sink_open(&out);
	vg_show_dump(out.f, dev, false);
	ck_assert_str_eq(sink_str(&out),
			 PRIV_B64 "\t" PUB_B64 "\t51820\t0x42\n"
			 H1B "\t(none)\t[fd00::1]:51821\t(none)\t0\t0\t0\toff\n"
			 H2B "\t" H1B "\t192.0.2.7:4500\t10.0.0.0/24,fd00::/64\t1000000\t3221225472\t1536\t25\n");
	sink_close(&out);
	vg_device_free(dev);
}
END_TEST

static const struct {
	const char *field;
	const char *out;
} fields[] = {
	{ "public-key", "wg7\t" PUB_B64 "\n" },
	{ "private-key", "wg7\t" PRIV_B64 "\n" },
	{ "listen-port", "wg7\t51820\n" },
	{ "fwmark", "wg7\t0x42\n" },
	{ "peers", "wg7\t" H1B "\nwg7\t" H2B "\n" },
	{ "preshared-keys", "wg7\t" H1B "\t(none)\nwg7\t" H2B "\t" H1B "\n" },
	{ "endpoints", "wg7\t" H1B "\t[fd00::1]:51821\nwg7\t" H2B "\t192.0.2.7:4500\n" },
	{ "allowed-ips", "wg7\t" H1B "\t(none)\nwg7\t" H2B "\t10.0.0.0/24 fd00::/64\n" },
	{ "latest-handshakes", "wg7\t" H1B "\t0\nwg7\t" H2B "\t1000000\n" },
	{ "persistent-keepalive", "wg7\t" H1B "\toff\nwg7\t" H2B "\t25\n" },
	{ "transfer", "wg7\t" H1B "\t0\t0\nwg7\t" H2B "\t3221225472\t1536\n" },
};

START_TEST(show_fields)
{
	struct vg_device *dev = canned_device();
	struct sink out;

	sink_open(&out);
	ck_assert(vg_show_field(out.f, dev, fields[_i].field, true));
	ck_assert_str_eq(sink_str(&out), fields[_i].out);
	sink_close(&out);
	vg_device_free(dev);
}
END_TEST

START_TEST(show_field_unknown)
{
	struct vg_device *dev = canned_device();
	struct sink out;

	sink_open(&out);
	ck_assert(!vg_show_field(out.f, dev, "bogus", false));
	ck_assert_str_eq(sink_str(&out), "");
	sink_close(&out);
	vg_device_free(dev);
}
END_TEST

START_TEST(show_pretty_plain)
{
	struct vg_show_opts o = { .color = false, .show_keys = false, .now = 1000000 + 3723 };
	struct vg_device *dev = canned_device();
	struct sink out;

	sink_open(&out);
	vg_show_pretty(out.f, dev, &o);
	/* The peer with a handshake comes first. */
	ck_assert_str_eq(sink_str(&out),
			 "interface: wg7\n"
			 "  public key: " PUB_B64 "\n"
			 "  private key: (hidden)\n"
			 "  listening port: 51820\n"
			 "  fwmark: 0x42\n"
			 "\n"
			 "peer: " H2B "\n"
			 "  preshared key: (hidden)\n"
			 "  endpoint: 192.0.2.7:4500\n"
			 "  allowed ips: 10.0.0.0/24, fd00::/64\n"
			 "  latest handshake: 1 hour, 2 minutes, 3 seconds ago\n"
			 "  transfer: 3.00 GiB received, 1.50 KiB sent\n"
			 "  persistent keepalive: every 25 seconds\n"
			 "\n"
			 "peer: " H1B "\n"
			 "  endpoint: [fd00::1]:51821\n"
			 "  allowed ips: (none)\n");
	sink_close(&out);
	vg_device_free(dev);
}
END_TEST

START_TEST(show_pretty_color)
{
	struct vg_show_opts o = { .color = true, .show_keys = true, .now = 1000000 };
	struct vg_device *dev = canned_device();
	struct vg_peer *p;
	struct sink out;

	/* Keep only the second peer to keep the expectation short. */
	p = dev->first_peer;
	dev->first_peer = p->next;
	p->next = NULL;
	dev->last_peer = NULL;
	dev->first_peer->next = p;
	dev->first_peer->handshake_sec = 1000000;
	sink_open(&out);
	vg_show_pretty(out.f, dev, &o);
	ck_assert_str_eq(sink_str(&out),
			 "\x1b[0m\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mwg7\x1b[0m\n"
			 "  \x1b[1mpublic key\x1b[0m: " PUB_B64 "\n"
			 "  \x1b[1mprivate key\x1b[0m: " PRIV_B64 "\n"
			 "  \x1b[1mlistening port\x1b[0m: 51820\n"
			 "  \x1b[1mfwmark\x1b[0m: 0x42\n"
			 "\n"
			 "\x1b[33m\x1b[1mpeer\x1b[0m: \x1b[33m" H2B "\x1b[0m\n"
			 "  \x1b[1mpreshared key\x1b[0m: " H1B "\n"
			 "  \x1b[1mendpoint\x1b[0m: 192.0.2.7:4500\n"
			 "  \x1b[1mallowed ips\x1b[0m: 10.0.0.0\x1b[36m/\x1b[0m24, fd00::\x1b[36m/\x1b[0m64\n"
			 "  \x1b[1mlatest handshake\x1b[0m: Now\n"
			 "  \x1b[1mtransfer\x1b[0m: 3.00 \x1b[36mGiB\x1b[0m received, 1.50 \x1b[36mKiB\x1b[0m sent\n"
			 "  \x1b[1mpersistent keepalive\x1b[0m: every 25 \x1b[36mseconds\x1b[0m\n"
			 "\n"
			 "\x1b[33m\x1b[1mpeer\x1b[0m: \x1b[33m" H1B "\x1b[0m\n"
			 "  \x1b[1mendpoint\x1b[0m: [fd00::1]:51821\n"
			 "  \x1b[1mallowed ips\x1b[0m: (none)\n");
	sink_close(&out);
	vg_device_free(dev);
}
END_TEST

START_TEST(showconf_output)
{
	struct vg_device *dev = canned_device();
	struct sink out;

	sink_open(&out);
	vg_showconf(out.f, dev);
	ck_assert_str_eq(sink_str(&out),
			 "[Interface]\n"
			 "ListenPort = 51820\n"
			 "FwMark = 0x42\n"
			 "PrivateKey = " PRIV_B64 "\n"
			 "\n"
			 "[Peer]\n"
			 "PublicKey = " H1B "\n"
			 "Endpoint = [fd00::1]:51821\n"
			 "\n"
			 "[Peer]\n"
			 "PublicKey = " H2B "\n"
			 "PresharedKey = " H1B "\n"
			 "AllowedIPs = 10.0.0.0/24, fd00::/64\n"
			 "Endpoint = 192.0.2.7:4500\n"
			 "PersistentKeepalive = 25\n");
	sink_close(&out);
	vg_device_free(dev);
}
END_TEST

/* ---- time and transfer formatting ---- */

START_TEST(format_duration)
{
	char buf[256];

	ck_assert_uint_eq(vg_format_duration(buf, sizeof(buf), 1, false), 8);
	ck_assert_str_eq(buf, "1 second");
	vg_format_duration(buf, sizeof(buf), 90061, false);
	ck_assert_str_eq(buf, "1 day, 1 hour, 1 minute, 1 second");
	vg_format_duration(buf, sizeof(buf), 2 * 365 * 86400ULL + 120, false);
	ck_assert_str_eq(buf, "2 years, 2 minutes");
	vg_format_duration(buf, sizeof(buf), 3600, true);
	ck_assert_str_eq(buf, "1 \x1b[36mhour\x1b[0m");
	vg_format_duration(buf, sizeof(buf), 0, false);
	ck_assert_str_eq(buf, "");
	vg_format_ago(buf, sizeof(buf), 100, 100, false);
	ck_assert_str_eq(buf, "Now");
	vg_format_ago(buf, sizeof(buf), 100, 159, false);
	ck_assert_str_eq(buf, "59 seconds ago");
	vg_format_ago(buf, sizeof(buf), 100, 99, false);
	ck_assert_str_eq(buf, "(System clock wound backward; connection problems may ensue.)");
	vg_format_ago(buf, sizeof(buf), 100, 99, true);
	ck_assert_str_eq(buf, "(\x1b[31mSystem clock wound backward; connection problems may ensue.\x1b[0m)");
}
END_TEST

START_TEST(format_bytes)
{
	static const struct {
		uint64_t b;
		const char *s;
	} v[] = {
		{ 0, "0 B" }, { 1023, "1023 B" }, { 1024, "1.00 KiB" }, { 1536, "1.50 KiB" },
		{ 1048575, "1024.00 KiB" }, { 1048576, "1.00 MiB" }, { 1073741824, "1.00 GiB" },
		{ 1099511627776ULL, "1.00 TiB" }, { 5 * 1099511627776ULL * 1024, "5120.00 TiB" },
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); ++i) {
		vg_format_bytes(buf, sizeof(buf), v[i].b, false);
		ck_assert_str_eq(buf, v[i].s);
	}
	vg_format_bytes(buf, sizeof(buf), 10, true);
	ck_assert_str_eq(buf, "10 \x1b[36mB\x1b[0m");
}
END_TEST

/* ---- stats ---- */

static const char stats_reply[] =
	"rx_packets=10\n"
	"offload_tso=on\n"
	"public_key=" H1 "\n"
	"rx_bytes=7\n"
	"handshakes_sent=2\n"
	"public_key=" H2 "\n"
	"rx_bytes=0\n"
	"errno=0\n"
	"\n";

static void canned_stats(struct vg_stats *st)
{
	FILE *f = fmemopen((void *)stats_reply, sizeof(stats_reply) - 1, "r");

	memset(st, 0, sizeof(*st));
	snprintf(st->iface, sizeof(st->iface), "vg0");
	ck_assert_int_eq(vg_stats_read(f, st), 0);
	fclose(f);
}

START_TEST(stats_formats)
{
	struct vg_stats st;
	struct sink out;

	canned_stats(&st);
	ck_assert_uint_eq(st.device.count, 2);
	ck_assert_uint_eq(st.npeers, 2);

	sink_open(&out);
	vg_stats_print_table(out.f, &st);
	ck_assert_str_eq(sink_str(&out),
			 "interface: vg0\n"
			 "  rx_packets       10\n"
			 "  offload_tso      on\n"
			 "\n"
			 "peer: " H1B "\n"
			 "  rx_bytes         7\n"
			 "  handshakes_sent  2\n"
			 "\n"
			 "peer: " H2B "\n"
			 "  rx_bytes         0\n");
	sink_close(&out);

	sink_open(&out);
	vg_stats_print_json(out.f, &st);
	ck_assert_str_eq(sink_str(&out),
			 "{\n"
			 "  \"interface\": \"vg0\",\n"
			 "  \"device\": {\n"
			 "    \"rx_packets\": 10,\n"
			 "    \"offload_tso\": \"on\"\n"
			 "  },\n"
			 "  \"peers\": [{\n"
			 "    \"public_key\": \"" H1B "\",\n"
			 "    \"rx_bytes\": 7,\n"
			 "    \"handshakes_sent\": 2\n"
			 "  }, {\n"
			 "    \"public_key\": \"" H2B "\",\n"
			 "    \"rx_bytes\": 0\n"
			 "  }]\n"
			 "}\n");
	sink_close(&out);

	sink_open(&out);
	vg_stats_print_prometheus(out.f, &st);
	ck_assert_str_eq(sink_str(&out),
			 "# TYPE vguard_rx_packets untyped\n"
			 "vguard_rx_packets{interface=\"vg0\"} 10\n"
			 "# TYPE vguard_offload_tso untyped\n"
			 "vguard_offload_tso{interface=\"vg0\",value=\"on\"} 1\n"
			 "# TYPE vguard_rx_bytes untyped\n"
			 "vguard_rx_bytes{interface=\"vg0\",peer=\"" H1B "\"} 7\n"
			 "vguard_rx_bytes{interface=\"vg0\",peer=\"" H2B "\"} 0\n"
			 "# TYPE vguard_handshakes_sent untyped\n"
			 "vguard_handshakes_sent{interface=\"vg0\",peer=\"" H1B "\"} 2\n");
	sink_close(&out);
	vg_stats_free(&st);
}
END_TEST

/* A hostile daemon's bytes come out as valid UTF-8 with no raw control
 * characters: a terminal escape, a lone continuation byte, an overlong
 * '/', a surrogate and a truncated sequence, around valid "é" and "€". */
START_TEST(stats_hostile_text)
{
	static const char reply[] = "k\x1b[2J=\xc3\xa9\x80\xc0\xaf\n"
				    "public_key=p\xed\xa0\x80\"\n"
				    "v=\xe2\x82\xac\xe2\x82\n"
				    "errno=0\n\n";
	FILE *f = fmemopen((void *)reply, sizeof(reply) - 1, "r");
	struct vg_stats st;
	struct sink out;

	memset(&st, 0, sizeof(st));
	snprintf(st.iface, sizeof(st.iface), "vg0");
	ck_assert_int_eq(vg_stats_read(f, &st), 0);
	fclose(f);

	sink_open(&out);
	vg_stats_print_table(out.f, &st);
	ck_assert_str_eq(sink_str(&out),
			 "interface: vg0\n"
			 "  k\xef\xbf\xbd[2J  \xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\n"
			 "\n"
			 "peer: p\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"\n"
			 "  v      \xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd\n");
	sink_close(&out);

	sink_open(&out);
	vg_stats_print_json(out.f, &st);
	ck_assert_str_eq(sink_str(&out),
			 "{\n"
			 "  \"interface\": \"vg0\",\n"
			 "  \"device\": {\n"
			 "    \"k\\u001b[2J\": \"\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"\n"
			 "  },\n"
			 "  \"peers\": [{\n"
			 "    \"public_key\": \"p\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\\\"\",\n"
			 "    \"v\": \"\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd\"\n"
			 "  }]\n"
			 "}\n");
	sink_close(&out);

	sink_open(&out);
	vg_stats_print_prometheus(out.f, &st);
	ck_assert_str_eq(sink_str(&out),
			 "# TYPE vguard_k__2J untyped\n"
			 "vguard_k__2J{interface=\"vg0\",value=\"\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"} 1\n"
			 "# TYPE vguard_v untyped\n"
			 "vguard_v{interface=\"vg0\",peer=\"p\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\\\"\","
			 "value=\"\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd\"} 1\n");
	sink_close(&out);
	vg_stats_free(&st);
}
END_TEST

START_TEST(utf8_sequences)
{
	static const struct {
		const char *s;
		size_t len;
	} v[] = {
		{ "a", 1 }, { "\x7f", 1 }, { "\xc3\xa9", 2 }, { "\xdf\xbf", 2 },
		{ "\xe0\xa0\x80", 3 }, { "\xed\x9f\xbf", 3 }, { "\xee\x80\x80", 3 },
		{ "\xf0\x90\x80\x80", 4 }, { "\xf4\x8f\xbf\xbf", 4 },
		{ "\x80", 0 }, { "\xc0\xaf", 0 }, { "\xc1\xbf", 0 },		/* overlong */
		{ "\xe0\x9f\xbf", 0 }, { "\xf0\x8f\xbf\xbf", 0 },		/* overlong */
		{ "\xed\xa0\x80", 0 }, { "\xed\xbf\xbf", 0 },			/* surrogates */
		{ "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 },		/* > U+10FFFF */
		{ "\xff", 0 }, { "\xc3", 0 }, { "\xe2\x82", 0 }, { "\xf0\x90\x80", 0 },
		{ "\xe2\x28\xa1", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); ++i)
		ck_assert_msg(vg_utf8_len((const unsigned char *)v[i].s) == v[i].len,
			      "case %zu", i);
}
END_TEST

START_TEST(stats_errors)
{
	static const struct {
		const char *reply;
		int ret;
	} v[] = {
		{ "errno=-22\n\n", -22 }, { "errno=0\n\n", 0 }, { "a=1\n\n", -EPROTO },
		{ "a=1\nerrno=0\n", -EPROTO }, { "a\nerrno=0\n\n", -EPROTO }, { "errno=x\n\n", -EPROTO },
	};
	struct vg_stats st;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); ++i) {
		FILE *f = fmemopen((void *)v[i].reply, strlen(v[i].reply), "r");

		memset(&st, 0, sizeof(st));
		ck_assert_int_eq(vg_stats_read(f, &st), v[i].ret);
		fclose(f);
		vg_stats_free(&st);
	}
}
END_TEST

/* ---- garbage in: the parsers must fail cleanly (run under ASan too) ---- */

static uint32_t rng_state = 0x9e3779b9;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* A copy of `base` with about 3 in `rate` bytes replaced, dropped or
 * duplicated. */
static size_t mutate(char *out, size_t cap, const char *base, uint32_t rate)
{
	static const char alphabet[] = "=\n\n/:[]-+#0123456789abcdefx. \t\0";
	size_t len = strlen(base), n = 0, i;

	for (i = 0; i < len && n + 2 < cap; ++i) {
		uint32_t r = rng() % rate;

		if (r == 0)
			continue;
		if (r == 1)
			out[n++] = base[i];
		out[n++] = r == 2 ? alphabet[rng() % (sizeof(alphabet) - 1)] : base[i];
	}
	out[n] = '\0';
	return n;
}

START_TEST(parsers_survive_garbage)
{
	char buf[sizeof(canned_reply) * 2 + sizeof(stats_reply) * 2];
	struct vg_config_ctx ctx;
	struct vg_device *dev;
	struct vg_stats st;
	FILE *f, *null = fopen("/dev/null", "w");
	size_t n;
	int i;

	ck_assert_ptr_nonnull(null);
	for (i = 0; i < 3000; ++i) {
		n = mutate(buf, sizeof(buf), canned_reply, 64U << (i % 5));
		f = fmemopen(buf, n ? n : 1, "r");
		dev = vg_device_new();
		vg_uapi_read_get(f, dev);
		vg_show_dump(null, dev, true);
		vg_showconf(null, dev);
		vg_device_free(dev);
		fclose(f);

		n = mutate(buf, sizeof(buf), stats_reply, 64U << (i % 5));
		f = fmemopen(buf, n ? n : 1, "r");
		memset(&st, 0, sizeof(st));
		if (!vg_stats_read(f, &st)) {
			vg_stats_print_table(null, &st);
			vg_stats_print_json(null, &st);
			vg_stats_print_prometheus(null, &st);
		}
		vg_stats_free(&st);
		fclose(f);

		mutate(buf, sizeof(buf), "[Peer]\nPublicKey=" K1 "\nAllowedIPs=10.0.0.0/8,-fd00::/64\n"
					 "PersistentKeepalive=25\n[Interface]\nFwMark=0x10\n", 32);
		ck_assert(vg_config_init(&ctx, i & 1, null));
		{
			char *save = NULL, *line;

			for (line = strtok_r(buf, "\n", &save); line && ctx.device;
			     line = strtok_r(NULL, "\n", &save)) {
				/* A name would go to the resolver: keep it offline. */
				if (strcasestr(line, "endpoint"))
					continue;
				vg_config_line(&ctx, line);
			}
		}
		if (ctx.device)
			vg_device_free(vg_config_finish(&ctx));
	}
	fclose(null);
}
END_TEST

static Suite *vg_suite(void)
{
	Suite *s = suite_create("vg");
	TCase *tc;

	tc = tcase_create("encoding");
	tcase_add_test(tc, base64_known);
	tcase_add_test(tc, base64_rejects);
	tcase_add_test(tc, hex_roundtrip);
	tcase_add_test(tc, public_key_rfc7748);
	tcase_add_test(tc, clamp);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_test(tc, config_full);
	tcase_add_test(tc, config_append_and_incremental);
	tcase_add_loop_test(tc, config_error, 0, sizeof(config_errors) / sizeof(config_errors[0]));
	tcase_add_test(tc, config_port_name_error);
	tcase_add_test(tc, config_missing_public_key);
	tcase_add_test(tc, config_host_bits_warning);
	tcase_add_test(tc, config_endpoint_name);
	tcase_add_exit_test(tc, config_bad_retries_exits, 1);
	tcase_add_test(tc, cmd_full);
	tcase_add_test(tc, cmd_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("uapi");
	tcase_add_test(tc, uapi_get_errors);
	tcase_add_test(tc, uapi_set_request);
	tcase_add_test(tc, uapi_setconf_request);
	tcase_add_test(tc, uapi_status);
	suite_add_tcase(s, tc);

	tc = tcase_create("show");
	tcase_add_test(tc, show_dump);
	tcase_add_loop_test(tc, show_fields, 0, sizeof(fields) / sizeof(fields[0]));
	tcase_add_test(tc, show_field_unknown);
	tcase_add_test(tc, show_pretty_plain);
	tcase_add_test(tc, show_pretty_color);
	tcase_add_test(tc, showconf_output);
	tcase_add_test(tc, format_duration);
	tcase_add_test(tc, format_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("stats");
	tcase_add_test(tc, stats_formats);
	tcase_add_test(tc, stats_errors);
	tcase_add_test(tc, stats_hostile_text);
	tcase_add_test(tc, utf8_sequences);
	suite_add_tcase(s, tc);

	tc = tcase_create("garbage");
	tcase_add_test(tc, parsers_survive_garbage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(vg_suite(), false);
}
