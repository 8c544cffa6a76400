/* SPDX-License-Identifier: MIT */
/*
 * The wire format does not depend on the host: every message type, built
 * from fixed keys, ephemerals, indices, nonces and clocks, must come out as
 * the bytes committed below on little- and big-endian, 32- and 64-bit
 * builds alike (README.md, "Architectures", runs this suite on s390x and
 * i686 too).  Randomness comes from a deterministic generator installed in
 * libsodium, so the same draws feed every build.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>

#include <sodium.h>

#include "device/proto_sim.h"
#include "tests/unit/testutil.h"

/* ---- deterministic randomness ---- */

static uint32_t draws;

/* Each request is the start of the ChaCha20 stream of its own seed: a
 * fixed label and the request number, little-endian. */
static void det_buf(void *const buf, const size_t size)
{
	uint8_t seed[randombytes_SEEDBYTES] = "vguard wire-format test seed";
	uint32_t n = draws++;

	for (int i = 0; i < 4; i++)
		seed[randombytes_SEEDBYTES - 4 + i] = (uint8_t)(n >> (8 * i));
	randombytes_buf_deterministic(buf, size, seed);
}

static uint32_t det_random(void)
{
	uint8_t b[4];

	det_buf(b, sizeof(b));
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static const char *det_name(void)
{
	return "vguard-test-deterministic";
}

static randombytes_implementation det_impl = {
	.implementation_name = det_name,
	.random = det_random,
	.buf = det_buf,
};

/* ---- golden bytes ---- */

static void hex(char *out, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void check_golden(const char *what, const uint8_t *msg, size_t len,
			 const char *want)
{
	char got[2 * SIM_MAX_PKT + 1];

	hex(got, msg, len);
	ck_assert_msg(!strcmp(got, want), "%s:\n got  %s\n want %s", what, got, want);
}

static const char initiation[] =
	"010000003f2340acd71652c9e85841983c0a4fa4ec104783e13313a61899e5e0"
	"772c02cf4960d20c49160fe349db8efce8cbee605a821d05c730571f453c301f"
	"2e13d7649c3143f386390beb75d8d49a30ae7b743c6e0c87bf983dd0d8547ebd"
	"0316e5595902964c84ab98ef8d801b14ac6c0a7c2e9f025f60031d21e8b13025"
	"94be909600000000000000000000000000000000";
static const char response[] =
	"0200000052a18f553f2340ac7badca6381529cdf08c4bcba45737341dae30dda"
	"cd734d3a6d38b4210ac0f14129229c6f9f6dec105fe44df9299e477b5e5b307a"
	"861126945ef4d5f69ae812fb00000000000000000000000000000000";
static const char data_first[] =
	"0400000052a18f550000000000000000abac3bc02a0c5bef21120252bf52215d"
	"53a235afb7f0c3166fc6b24d0c7746f8b38f259fab62d1c6244aaae9a23b315d";
static const char data_high_counter[] =
	"0400000052a18f5508070605040302014d3e6416beddb35c1a9e931d234879d8"
	"697f0a93ae3650a54a1356d62dbc938f0231f37907562052d4e9c9c8948d8c51";
static const char cookie_reply[] =
	"0300000051fef378aec28b8dcbb48bdd4a40b544fff836e26c0d0b82af23a51d"
	"03a7f72dd706608d5b1adbdadaa5f0c4c0d01685cb4a35b9af33eec6a35b06aa";
static const char initiation_mac2[] =
	"01000000c51ecf9631662f4f049b71ff79c865226be8c583e5c9b779c24bc06c"
	"b0fc69e01fe91f6373cf96059e35e0a7adfc99ae572130d951a381e769cdb08f"
	"1d942e8a39a88c5e43e0b6d0c0c392e0007e0b8fdb1a4af3338f5edbdc37d8cf"
	"61c1d72fed30a20d310ae6dba073aa85284a146abb3579386c338b11950ccec9"
	"004d0ba1ef71f91df6430fc1276146d43823f3e3";

static struct sim sm;

static void setup(void)
{
	draws = 0;
	sim_init(&sm);
}

static void teardown(void)
{
	sim_destroy(&sm);
}

static void seal(struct noise_keypair *kp, uint64_t nonce, const char *what,
		 const char *want)
{
	uint8_t pkt[MESSAGE_DATA_HEADER_LEN + 32 + NOISE_AUTHTAG_LEN];
	size_t n;

	memcpy(pkt + MESSAGE_DATA_HEADER_LEN, "thirty-two bytes of plain text!!", 32);
	n = wg_data_seal(kp, nonce, pkt + MESSAGE_DATA_HEADER_LEN, 32);
	ck_assert_uint_eq(n, sizeof(pkt));
	check_golden(what, pkt, n, want);
}

START_TEST(every_message_as_committed)
{
	uint8_t init[MESSAGE_INITIATION_LEN], resp[MESSAGE_RESPONSE_LEN];
	uint8_t cookie[MESSAGE_COOKIE_LEN];
	struct noise_keypair *kp;
	struct wg_action act;
	uint64_t nonce;

	/* Handshake: initiation, response. */
	ck_assert_int_eq(wg_peer_want_handshake(sm.a.peer, sm.now, &act), 0);
	ck_assert_uint_eq(act.msg_len, sizeof(init));
	memcpy(init, act.msg, sizeof(init));
	check_golden("initiation", init, sizeof(init), initiation);
	ck_assert_int_eq(wg_proto_handle_handshake(&sm.b.p, init, sizeof(init),
						   &sm.a.self, false, sm.now, &act), 0);
	ck_assert_uint_eq(act.msg_len, sizeof(resp));
	memcpy(resp, act.msg, sizeof(resp));
	check_golden("response", resp, sizeof(resp), response);
	ck_assert_int_eq(wg_proto_handle_handshake(&sm.a.p, resp, sizeof(resp),
						   &sm.b.self, false, sm.now, &act), 0);

	/* Data: the first counter, and one that fills all eight bytes. */
	kp = wg_peer_send_keypair(sm.a.peer, sm.now, 1, &nonce);
	ck_assert_ptr_nonnull(kp);
	ck_assert_uint_eq(nonce, 0);
	seal(kp, nonce, "data, counter 0", data_first);
	seal(kp, 0x0102030405060708ULL, "data, counter 0x0102030405060708",
	     data_high_counter);
	noise_keypair_put(kp);

	/* Under load, B answers a new initiation with a cookie reply ... */
	sm.now += REKEY_TIMEOUT + WG_NSEC_PER_SEC;
	ck_assert_int_eq(wg_peer_want_handshake(sm.a.peer, sm.now, &act), 0);
	memcpy(init, act.msg, sizeof(init));
	ck_assert_int_eq(wg_proto_handle_handshake(&sm.b.p, init, sizeof(init),
						   &sm.a.self, true, sm.now, &act), 0);
	ck_assert_uint_eq(act.msg_len, sizeof(cookie));
	memcpy(cookie, act.msg, sizeof(cookie));
	check_golden("cookie reply", cookie, sizeof(cookie), cookie_reply);

	/* ... and A's next initiation carries MAC2 under that cookie. */
	ck_assert_int_eq(wg_proto_handle_handshake(&sm.a.p, cookie, sizeof(cookie),
						   &sm.b.self, false, sm.now, &act), 0);
	sm.now += REKEY_TIMEOUT + WG_NSEC_PER_SEC;
	ck_assert_int_eq(wg_peer_want_handshake(sm.a.peer, sm.now, &act), 0);
	check_golden("initiation with mac2", act.msg, act.msg_len, initiation_mac2);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("golden");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_message_as_committed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* Before sodium_init(), which crypto_init() calls. */
	if (randombytes_set_implementation(&det_impl))
		return EXIT_FAILURE;
	return vg_test_run(wire_suite(), false);
}
