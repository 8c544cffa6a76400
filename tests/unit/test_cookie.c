// SPDX-License-Identifier: MIT
/* MAC1, MAC2, cookie replies, secret rotation and load detection. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include "device/cookie.h"
#include "tests/unit/testutil.h"

#define SEC 1000000000ULL

static uint8_t priv[32], pub[32];
static struct cookie_checker checker;
static struct cookie_generator gen;
static uint8_t msg[MESSAGE_INITIATION_LEN];
static const uint8_t src[6] = { 192, 0, 2, 1, 0xca, 0x6c };
static const uint8_t other_src[6] = { 192, 0, 2, 9, 0xca, 0x6c };

static void setup(void)
{
	crypto_init();
	x25519_generate(priv, pub);
	cookie_checker_init(&checker);
	cookie_checker_set_key(&checker, pub);
	cookie_generator_init(&gen, pub);
	crypto_random(msg, sizeof(msg));
}

static void teardown(void)
{
	cookie_checker_destroy(&checker);
	cookie_generator_destroy(&gen);
}

static void label_key(uint8_t key[32], const char *label)
{
	struct blake2s_state s;

	blake2s_init(&s, 32);
	blake2s_update(&s, (const uint8_t *)label, 8);
	blake2s_update(&s, pub, 32);
	blake2s_final(&s, key);
}

START_TEST(mac1_matches_spec)
{
	uint8_t key[32], mac[16];

	cookie_add_macs(&gen, msg, sizeof(msg), 0);
	label_key(key, "mac1----");
	blake2s(mac, 16, msg, sizeof(msg) - 32, key, 32);
	ck_assert_mem_eq(msg + 116, mac, 16);
	ck_assert_mem_eq(msg + 132, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	ck_assert_int_eq(cookie_validate(&checker, msg, sizeof(msg), src, 6, false, 0),
			 COOKIE_VALID_MAC_BUT_NO_COOKIE);
	ck_assert_int_eq(cookie_validate(&checker, msg, sizeof(msg), src, 6, true, 0),
			 COOKIE_VALID_MAC_BUT_NO_COOKIE);
}
END_TEST

START_TEST(mac1_rejects_any_change)
{
	unsigned int i;

	cookie_add_macs(&gen, msg, sizeof(msg), 0);
	for (i = 0; i < 132; i++) {
		msg[i] ^= 0x01;
		ck_assert_int_eq(cookie_validate(&checker, msg, sizeof(msg), src, 6, false, 0),
				 COOKIE_INVALID_MAC);
		msg[i] ^= 0x01;
	}
	/* MAC2 bytes are outside MAC1. */
	msg[140] ^= 0xff;
	ck_assert_int_eq(cookie_validate(&checker, msg, sizeof(msg), src, 6, false, 0),
			 COOKIE_VALID_MAC_BUT_NO_COOKIE);
}
END_TEST

START_TEST(cookie_round_trip)
{
	struct message_handshake_cookie reply;
	uint8_t key[32], cookie[16], want[16];
	uint64_t now = 1000 * SEC;

	cookie_add_macs(&gen, msg, sizeof(msg), now);
	ck_assert_int_eq(cookie_create_reply(&checker, &reply, msg, sizeof(msg),
					     htole32(0x01020304), src, 6, now), 0);
	ck_assert_mem_eq(&reply, "\x03\0\0\0\x04\x03\x02\x01", 8);
	/* Independently: XChaCha20-Poly1305 under HASH("cookie--" || pub) with
	 * the message's MAC1 as associated data, holding MAC(secret, src). */
	label_key(key, "cookie--");
	ck_assert_int_eq(xaead_decrypt(cookie, reply.encrypted_cookie, 32, msg + 116, 16,
				       reply.nonce, key), 0);
	blake2s(want, 16, src, 6, checker.secret, 32);
	ck_assert_mem_eq(cookie, want, 16);

	ck_assert_int_eq(cookie_consume_reply(&gen, &reply, now), 0);
	/* Replayed reply: no MAC1 outstanding any more. */
	ck_assert_int_eq(cookie_consume_reply(&gen, &reply, now), -ENOENT);
	cookie_add_macs(&gen, msg, sizeof(msg), now + SEC);
	blake2s(want, 16, msg, sizeof(msg) - 16, cookie, 16);
	ck_assert_mem_eq(msg + 132, want, 16);
	ck_assert_int_eq(cookie_validate(&checker, msg, sizeof(msg), src, 6, true, now + SEC),
			 COOKIE_VALID_MAC_WITH_COOKIE);
	/* The cookie is bound to the source. */
	ck_assert_int_eq(cookie_validate(&checker, msg, sizeof(msg), other_src, 6, true,
					 now + SEC),
			 COOKIE_VALID_MAC_BUT_NO_COOKIE);
	/* Not looked at unless asked. */
	ck_assert_int_eq(cookie_validate(&checker, msg, sizeof(msg), src, 6, false, now + SEC),
			 COOKIE_VALID_MAC_BUT_NO_COOKIE);
}
END_TEST

START_TEST(cookie_reply_tampered)
{
	struct message_handshake_cookie reply;
	unsigned int i;

	cookie_add_macs(&gen, msg, sizeof(msg), 0);
	cookie_create_reply(&checker, &reply, msg, sizeof(msg), 1, src, 6, 0);
	for (i = 8; i < sizeof(reply); i++) {
		((uint8_t *)&reply)[i] ^= 0x80;
		ck_assert_int_eq(cookie_consume_reply(&gen, &reply, 0), -EBADMSG);
		((uint8_t *)&reply)[i] ^= 0x80;
	}
	ck_assert_int_eq(cookie_consume_reply(&gen, &reply, 0), 0);
}
END_TEST

START_TEST(no_mac1_sent)
{
	struct message_handshake_cookie reply;

	cookie_create_reply(&checker, &reply, msg, sizeof(msg), 1, src, 6, 0);
	ck_assert_int_eq(cookie_consume_reply(&gen, &reply, 0), -ENOENT);
}
END_TEST

START_TEST(secret_rotates_every_120s)
{
	struct message_handshake_cookie reply;
	uint8_t old[32];
	uint64_t t0 = 5000 * SEC;

	cookie_add_macs(&gen, msg, sizeof(msg), t0);
	cookie_create_reply(&checker, &reply, msg, sizeof(msg), 1, src, 6, t0);
	memcpy(old, checker.secret, 32);
	ck_assert_int_eq(cookie_consume_reply(&gen, &reply, t0), 0);
	cookie_add_macs(&gen, msg, sizeof(msg), t0 + 119 * SEC);
	ck_assert_int_eq(cookie_validate(&checker, msg, sizeof(msg), src, 6, true,
					 t0 + 119 * SEC),
			 COOKIE_VALID_MAC_WITH_COOKIE);
	/* The checker's secret is stale at 120 s: MAC2 no longer counts. */
	ck_assert_int_eq(cookie_validate(&checker, msg, sizeof(msg), src, 6, true,
					 t0 + 120 * SEC),
			 COOKIE_VALID_MAC_BUT_NO_COOKIE);
	/* A new reply brings a new secret. */
	cookie_create_reply(&checker, &reply, msg, sizeof(msg), 1, src, 6, t0 + 121 * SEC);
	ck_assert_mem_ne(checker.secret, old, 32);
	/* The generator stops sending an expired cookie. */
	cookie_add_macs(&gen, msg, sizeof(msg), t0 + 120 * SEC);
	ck_assert_mem_eq(msg + 132, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
}
END_TEST

/*
 * A cookie handed out late in its secret's life still counts at the retry
 * it is for, REKEY_TIMEOUT plus jitter later, across a rotation another
 * reply causes in between; and one made just before an early rotation
 * keeps counting on the previous secret.
 */
START_TEST(cookie_outlives_rotation)
{
	struct message_handshake_cookie reply;
	const uint64_t retry = REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX_MS * 1000000ULL;
	uint64_t t0 = 5000 * SEC, t;

	cookie_create_reply(&checker, &reply, msg, sizeof(msg), 1, other_src, 6, t0);
	for (t = t0 + 100 * SEC; t <= t0 + 119 * SEC; t += SEC) {
		cookie_checker_destroy(&checker);
		cookie_checker_init(&checker);
		cookie_checker_set_key(&checker, pub);
		cookie_create_reply(&checker, &reply, msg, sizeof(msg), 1, other_src, 6, t0);
		cookie_add_macs(&gen, msg, sizeof(msg), t);
		cookie_create_reply(&checker, &reply, msg, sizeof(msg), 1, src, 6, t);
		ck_assert_int_eq(cookie_consume_reply(&gen, &reply, t), 0);
		/* Someone else's cookie a second later. */
		cookie_create_reply(&checker, &reply, msg, sizeof(msg), 1, other_src, 6, t + SEC);
		cookie_add_macs(&gen, msg, sizeof(msg), t + retry);
		ck_assert_msg(cookie_validate(&checker, msg, sizeof(msg), src, 6, true, t + retry) ==
				      COOKIE_VALID_MAC_WITH_COOKIE,
			      "a cookie made at %llu s fails its retry",
			      (unsigned long long)((t - t0) / SEC));
	}
}
END_TEST

START_TEST(under_load)
{
	uint64_t t0 = 77 * SEC;

	ck_assert(!cookie_checker_under_load(&checker, 0, t0));
	ck_assert(!cookie_checker_under_load(&checker, UNDER_LOAD_QUEUE_LEN - 1, t0));
	ck_assert(cookie_checker_under_load(&checker, UNDER_LOAD_QUEUE_LEN, t0));
	ck_assert(cookie_checker_under_load(&checker, 0, t0 + SEC - 1));
	ck_assert(!cookie_checker_under_load(&checker, 0, t0 + SEC));
}
END_TEST

START_TEST(no_key_no_mac)
{
	cookie_checker_set_key(&checker, NULL);
	cookie_add_macs(&gen, msg, sizeof(msg), 0);
	ck_assert_int_eq(cookie_validate(&checker, msg, sizeof(msg), src, 6, false, 0),
			 COOKIE_INVALID_MAC);
	ck_assert_int_eq(cookie_validate(&checker, msg, 31, src, 6, false, 0),
			 COOKIE_INVALID_MAC);
}
END_TEST

static Suite *cookie_suite(void)
{
	Suite *su = suite_create("cookie");
	TCase *tc = tcase_create("cookie");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, mac1_matches_spec);
	tcase_add_test(tc, mac1_rejects_any_change);
	tcase_add_test(tc, cookie_round_trip);
	tcase_add_test(tc, cookie_reply_tampered);
	tcase_add_test(tc, no_mac1_sent);
	tcase_add_test(tc, secret_rotates_every_120s);
	tcase_add_test(tc, cookie_outlives_rotation);
	tcase_add_test(tc, under_load);
	tcase_add_test(tc, no_key_no_mac);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	return vg_test_run(cookie_suite(), false);
}
