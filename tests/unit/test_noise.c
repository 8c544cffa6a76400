// SPDX-License-Identifier: MIT
/*
 * The handshake against an independent, straight-from-the-paper
 * construction written here (own HKDF over HMAC-BLAKE2s), in both roles;
 * and the index table.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>

#include "device/proto_sim.h"
#include "tests/unit/testutil.h"

/* ---- the paper's Noise_IKpsk2, written independently ---- */

static void H(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen)
{
	struct blake2s_state st;

	blake2s_init(&st, 32);
	blake2s_update(&st, a, alen);
	if (blen)
		blake2s_update(&st, b, blen);
	blake2s_final(&st, out);
}

/* KDF_n(key, input): t0 = HMAC(key, input), t_i = HMAC(t0, t_{i-1} || i). */
static void KDF(uint8_t *o1, uint8_t *o2, uint8_t *o3, const uint8_t key[32],
		const void *in, size_t inlen)
{
	uint8_t t0[32], t[33];

	hmac_blake2s(t0, key, 32, in, inlen);
	t[0] = 1;
	hmac_blake2s(t, t0, 32, t, 1);
	memcpy(o1, t, 32);
	if (o2) {
		t[32] = 2;
		hmac_blake2s(t, t0, 32, t, 33);
		memcpy(o2, t, 32);
	}
	if (o3) {
		t[32] = 3;
		hmac_blake2s(t, t0, 32, t, 33);
		memcpy(o3, t, 32);
	}
}

struct spec {
	uint8_t c[32], h[32], k[32];
};

static void spec_start(struct spec *s, const uint8_t responder_pub[32])
{
	const char *cons = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	const char *id = "WireGuard v1 zx2c4 Jason@zx2c4.com";

	H(s->c, cons, strlen(cons), NULL, 0);
	H(s->h, s->c, 32, id, strlen(id));
	H(s->h, s->h, 32, responder_pub, 32);
}

static void spec_mix_hash(struct spec *s, const void *d, size_t len)
{
	H(s->h, s->h, 32, d, len);
}

static void spec_mix_key(struct spec *s, const uint8_t *dh_priv, const uint8_t *dh_pub,
			 bool want_key)
{
	uint8_t dh[32], c[32];

	ck_assert_int_eq(x25519(dh, dh_priv, dh_pub), 0);
	KDF(c, want_key ? s->k : NULL, NULL, s->c, dh, 32);
	memcpy(s->c, c, 32);
}

static void mac1_of(uint8_t out[16], const uint8_t *msg, size_t len, const uint8_t pub[32])
{
	uint8_t key[32];

	H(key, "mac1----", 8, pub, 32);
	blake2s(out, 16, msg, len - 32, key, 32);
}

static void expected_timestamp(const struct sim *sm, uint8_t out[12])
{
	uint64_t ns = sm->wall_base + sm->now;
	uint64_t secs = (1ULL << 62) + 10 + ns / 1000000000ULL;
	uint32_t nano = (uint32_t)(ns % 1000000000ULL) & 0xff000000u;
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(secs >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nano >> (24 - 8 * i));
}

static struct sim sm;

static void setup(void)
{
	sim_init(&sm);
	/* A wall clock with sub-second bits, to check the rounding. */
	sm.wall_base += 123456789;
}

static void teardown(void)
{
	sim_destroy(&sm);
}

START_TEST(initiator_matches_spec)
{
	const uint8_t zero_psk[32] = { 0 };
	struct message_handshake_initiation init;
	struct message_handshake_response resp;
	uint8_t plain[48], ts[12], tau[32], er_priv[32], er_pub[32], mac[16];
	uint8_t t_send_i[32], t_recv_i[32], pkt[64];
	struct noise_keypair *kp;
	struct wg_action act;
	struct spec s;
	uint64_t nonce;
	size_t n;

	ck_assert_int_eq(wg_peer_want_handshake(sm.a.peer, sm.now, &act), 0);
	ck_assert_uint_eq(act.msg_len, 148);
	memcpy(&init, act.msg, sizeof(init));
	ck_assert_mem_eq(act.msg, "\x01\0\0\0", 4);
	ck_assert_uint_eq(init.sender_index, sm.a.peer->handshake.entry.index);

	/* B's side, from the paper. */
	spec_start(&s, sm.b.pub);
	KDF(s.c, NULL, NULL, s.c, init.unencrypted_ephemeral, 32);
	spec_mix_hash(&s, init.unencrypted_ephemeral, 32);
	spec_mix_key(&s, sm.b.priv, init.unencrypted_ephemeral, true);
	ck_assert_int_eq(aead_decrypt(plain, init.encrypted_static, 48, s.h, 32, 0, s.k), 0);
	ck_assert_mem_eq(plain, sm.a.pub, 32);
	spec_mix_hash(&s, init.encrypted_static, 48);
	spec_mix_key(&s, sm.b.priv, sm.a.pub, true);
	ck_assert_int_eq(aead_decrypt(plain, init.encrypted_timestamp, 28, s.h, 32, 0, s.k), 0);
	expected_timestamp(&sm, ts);
	ck_assert_mem_eq(plain, ts, 12);
	spec_mix_hash(&s, init.encrypted_timestamp, 28);
	mac1_of(mac, act.msg, 148, sm.b.pub);
	ck_assert_mem_eq(init.macs.mac1, mac, 16);
	ck_assert_mem_eq(init.macs.mac2, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);

	/* B's response, from the paper, consumed by A. */
	memset(&resp, 0, sizeof(resp));
	resp.header.type = htole32(2);
	resp.sender_index = htole32(0x12345678);
	resp.receiver_index = init.sender_index;
	x25519_generate(er_priv, er_pub);
	memcpy(resp.unencrypted_ephemeral, er_pub, 32);
	KDF(s.c, NULL, NULL, s.c, er_pub, 32);
	spec_mix_hash(&s, er_pub, 32);
	spec_mix_key(&s, er_priv, init.unencrypted_ephemeral, false);
	spec_mix_key(&s, er_priv, sm.a.pub, false);
	KDF(s.c, tau, s.k, s.c, zero_psk, 32);
	spec_mix_hash(&s, tau, 32);
	aead_encrypt(resp.encrypted_nothing, NULL, 0, s.h, 32, 0, s.k);
	mac1_of(resp.macs.mac1, (uint8_t *)&resp, sizeof(resp), sm.a.pub);
	ck_assert_int_eq(wg_proto_handle_handshake(&sm.a.p, (uint8_t *)&resp, sizeof(resp),
						   &sm.b.self, false, sm.now, &act), 0);
	ck_assert_uint_eq(act.flags, WG_ACT_SEND_STAGED | WG_ACT_SEND_KEEPALIVE);

	/* Transport keys: initiator sends with the first. */
	KDF(t_send_i, t_recv_i, NULL, s.c, NULL, 0);
	kp = wg_peer_send_keypair(sm.a.peer, sm.now, 1, &nonce);
	ck_assert_ptr_nonnull(kp);
	ck_assert_uint_eq(nonce, 0);
	memcpy(pkt + 16, "sixteen bytes!!!", 16);
	n = wg_data_seal(kp, nonce, pkt + 16, 16);
	noise_keypair_put(kp);
	ck_assert_uint_eq(n, 48);
	ck_assert_mem_eq(pkt, "\x04\0\0\0\x78\x56\x34\x12\0\0\0\0\0\0\0\0", 16);
	ck_assert_int_eq(aead_decrypt(plain, pkt + 16, 32, NULL, 0, 0, t_send_i), 0);
	ck_assert_mem_eq(plain, "sixteen bytes!!!", 16);
}
END_TEST

START_TEST(responder_matches_spec)
{
	struct message_handshake_initiation init;
	struct message_handshake_response resp;
	uint8_t ei_priv[32], ei_pub[32], ts[12], tau[32], mac[16], plain[16];
	uint8_t t_send_i[32], t_recv_i[32], psk[32], pkt[64];
	struct noise_keypair *kp;
	struct wg_action act;
	struct spec s;
	uint8_t *pl;
	size_t pll;

	memset(psk, 0x5a, sizeof(psk));
	wg_peer_set_psk(sm.b.peer, psk);
	/* A's initiation to B, from the paper. */
	memset(&init, 0, sizeof(init));
	init.header.type = htole32(1);
	init.sender_index = htole32(0xa1b2c3d4);
	spec_start(&s, sm.b.pub);
	x25519_generate(ei_priv, ei_pub);
	memcpy(init.unencrypted_ephemeral, ei_pub, 32);
	KDF(s.c, NULL, NULL, s.c, ei_pub, 32);
	spec_mix_hash(&s, ei_pub, 32);
	spec_mix_key(&s, ei_priv, sm.b.pub, true);
	aead_encrypt(init.encrypted_static, sm.a.pub, 32, s.h, 32, 0, s.k);
	spec_mix_hash(&s, init.encrypted_static, 48);
	spec_mix_key(&s, sm.a.priv, sm.b.pub, true);
	expected_timestamp(&sm, ts);
	aead_encrypt(init.encrypted_timestamp, ts, 12, s.h, 32, 0, s.k);
	spec_mix_hash(&s, init.encrypted_timestamp, 28);
	mac1_of(init.macs.mac1, (uint8_t *)&init, sizeof(init), sm.b.pub);

	ck_assert_int_eq(wg_proto_handle_handshake(&sm.b.p, (uint8_t *)&init, sizeof(init),
						   &sm.a.self, false, sm.now, &act), 0);
	ck_assert_uint_eq(act.flags, WG_ACT_SEND_MSG);
	ck_assert_uint_eq(act.msg_len, 92);
	memcpy(&resp, act.msg, sizeof(resp));
	ck_assert_mem_eq(act.msg, "\x02\0\0\0", 4);
	ck_assert_uint_eq(le32toh(resp.receiver_index), 0xa1b2c3d4);
	mac1_of(mac, act.msg, 92, sm.a.pub);
	ck_assert_mem_eq(resp.macs.mac1, mac, 16);

	/* A's side of the response, from the paper. */
	KDF(s.c, NULL, NULL, s.c, resp.unencrypted_ephemeral, 32);
	spec_mix_hash(&s, resp.unencrypted_ephemeral, 32);
	spec_mix_key(&s, ei_priv, resp.unencrypted_ephemeral, false);
	spec_mix_key(&s, sm.a.priv, resp.unencrypted_ephemeral, false);
	KDF(s.c, tau, s.k, s.c, psk, 32);
	spec_mix_hash(&s, tau, 32);
	ck_assert_int_eq(aead_decrypt(NULL, resp.encrypted_nothing, 16, s.h, 32, 0, s.k), 0);

	/* A's first data packet under T_send_i confirms B's keypair. */
	KDF(t_send_i, t_recv_i, NULL, s.c, NULL, 0);
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 4;
	memcpy(pkt + 4, &resp.sender_index, 4);
	aead_encrypt(pkt + 16, (const uint8_t *)"0123456789abcdef", 16, NULL, 0, 0, t_send_i);
	ck_assert_int_eq(wg_data_open(&sm.b.p, pkt, 48, sm.now, &kp, &pl, &pll), 0);
	ck_assert_uint_eq(pll, 16);
	ck_assert_mem_eq(pl, "0123456789abcdef", 16);
	wg_peer_received_data(kp->peer, kp, &sm.a.self, false, sm.now, &act);
	ck_assert_ptr_eq(sm.b.peer->keypairs.current, kp);
	noise_keypair_put(kp);

	/* B's reply is under T_recv_i. */
	kp = wg_peer_send_keypair(sm.b.peer, sm.now, 1, &(uint64_t){ 0 });
	ck_assert_ptr_nonnull(kp);
	memcpy(pkt + 16, "reply from b....", 16);
	wg_data_seal(kp, 0, pkt + 16, 16);
	noise_keypair_put(kp);
	ck_assert_uint_eq(le32toh(*(uint32_t *)(pkt + 4)), 0xa1b2c3d4);
	ck_assert_int_eq(aead_decrypt(plain, pkt + 16, 32, NULL, 0, 0, t_recv_i), 0);
	ck_assert_mem_eq(plain, "reply from b....", 16);
}
END_TEST

START_TEST(private_key_is_clamped)
{
	uint8_t priv[32];

	memset(priv, 0xff, sizeof(priv));
	wg_proto_set_private_key(&sm.a.p, priv);
	ck_assert_uint_eq(sm.a.p.identity.static_private[0], 0xf8);
	ck_assert_uint_eq(sm.a.p.identity.static_private[31], 0x7f);
}
END_TEST

/* ---- index table ---- */

START_TEST(index_table)
{
	static struct index_entry e[2000];
	struct index_table t;
	struct noise_keypair kp;
	unsigned int i;

	index_table_init(&t);
	for (i = 0; i < 2000; i++) {
		e[i].type = INDEX_HANDSHAKE;
		e[i].peer = (struct wg_peer *)&e[i];
		index_table_insert(&t, &e[i]);
	}
	ck_assert_uint_eq(t.count, 2000);
	/* Each index finds its own entry, so no two share one. */
	for (i = 0; i < 2000; i++)
		ck_assert_ptr_eq(index_table_lookup_handshake(&t, e[i].index), &e[i]);
	/* Re-inserting takes a new index and drops the old one. */
	i = e[7].index;
	index_table_insert(&t, &e[7]);
	ck_assert_uint_ne(e[7].index, i);
	ck_assert_ptr_null(index_table_lookup_handshake(&t, i));
	ck_assert_uint_eq(t.count, 2000);
	/* A handshake becoming a keypair keeps its index. */
	memset(&kp, 0, sizeof(kp));
	atomic_init(&kp.refcount, 1);
	kp.entry.type = INDEX_KEYPAIR;
	kp.entry.keypair = &kp;
	i = e[9].index;
	index_table_replace(&t, &e[9], &kp.entry);
	ck_assert_ptr_null(index_table_lookup_handshake(&t, i));
	ck_assert_ptr_eq(index_table_get_keypair(&t, i), &kp);
	ck_assert_uint_eq(atomic_load(&kp.refcount), 2);
	ck_assert_ptr_null(index_table_get_keypair(&t, e[10].index));
	index_table_remove(&t, &kp.entry);
	ck_assert_ptr_null(index_table_get_keypair(&t, i));
	for (i = 0; i < 2000; i++)
		index_table_remove(&t, &e[i]);
	ck_assert_uint_eq(t.count, 0);
	index_table_destroy(&t);
}
END_TEST

static Suite *noise_suite(void)
{
	Suite *su = suite_create("noise");
	TCase *tc = tcase_create("handshake");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, initiator_matches_spec);
	tcase_add_test(tc, responder_matches_spec);
	tcase_add_test(tc, private_key_is_clamped);
	suite_add_tcase(su, tc);
	tc = tcase_create("tables");
	tcase_add_test(tc, index_table);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	crypto_init();
	return vg_test_run(noise_suite(), false);
}
