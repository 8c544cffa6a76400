// SPDX-License-Identifier: MIT
/*
 * Published vectors for WireGuard's primitives, and the two data-path
 * AEAD backends checked against each other and against fixed bytes.
 */
#include "config.h"

#include "device/crypto.h"
#include "tests/unit/testutil.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void unhex(uint8_t *out, const char *hex, size_t len)
{
	ck_assert_uint_eq(strlen(hex), 2 * len);
	for (size_t i = 0; i < len; i++) {
		unsigned int b;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = b;
	}
}

#define ck_assert_hex(buf, hex) do { \
	uint8_t _exp[sizeof(hex) / 2]; \
	unhex(_exp, hex, sizeof(_exp)); \
	ck_assert_mem_eq(buf, _exp, sizeof(_exp)); \
} while (0)

static void seq(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = i;
}

static void setup(void)
{
	ck_assert_int_eq(crypto_init(), 0);
}

/* ---- BLAKE2s ---- */

START_TEST(blake2s_abc)
{
	uint8_t out[32];

	blake2s(out, 32, (const uint8_t *)"abc", 3, NULL, 0);
	ck_assert_hex(out, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}
END_TEST

/* blake2s-kat.txt: key 00..1f, message 00..n-1. */
static const struct {
	size_t n;
	const char *hash;
} keyed_kat[] = {
	{ 0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49" },
	{ 1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1" },
	{ 2, "6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803" },
	{ 3, "1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b" },
	{ 64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4" },
	{ 65, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8" },
	{ 255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd" },
};

START_TEST(blake2s_keyed_kat)
{
	uint8_t key[32], msg[255], out[32], exp[32];

	seq(key, sizeof(key));
	seq(msg, sizeof(msg));
	blake2s(out, 32, msg, keyed_kat[_i].n, key, 32);
	unhex(exp, keyed_kat[_i].hash, 32);
	ck_assert_mem_eq(out, exp, 32);
}
END_TEST

/* Incremental updates in every split must give the one-shot result. */
START_TEST(blake2s_incremental)
{
	uint8_t key[32], msg[255], one[32], two[32];
	struct blake2s_state s;

	seq(key, sizeof(key));
	seq(msg, sizeof(msg));
	blake2s(one, 32, msg, sizeof(msg), key, 32);
	for (size_t split = 0; split <= sizeof(msg); split++) {
		blake2s_init_key(&s, 32, key, 32);
		blake2s_update(&s, msg, split);
		blake2s_update(&s, msg + split, sizeof(msg) - split);
		blake2s_final(&s, two);
		ck_assert_mem_eq(one, two, 32);
	}
}
END_TEST

static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t t, a = 0xDEAD4BAD * seed, b = 1;

	for (size_t i = 0; i < len; i++) {
		t = a + b;
		a = b;
		b = t;
		out[i] = t >> 24;
	}
}

/* RFC 7693 Appendix E: 16- to 32-byte digests, keyed and unkeyed. */
START_TEST(blake2s_rfc7693_selftest)
{
	static const size_t outlens[] = { 16, 20, 28, 32 };
	static const size_t inlens[] = { 0, 3, 64, 65, 255, 1024 };
	uint8_t in[1024], key[32], md[32], res[32];
	struct blake2s_state ctx;

	blake2s_init(&ctx, 32);
	for (size_t i = 0; i < 4; i++) {
		size_t outlen = outlens[i];

		for (size_t j = 0; j < 6; j++) {
			size_t inlen = inlens[j];

			selftest_seq(in, inlen, inlen);
			blake2s(md, outlen, in, inlen, NULL, 0);
			blake2s_update(&ctx, md, outlen);
			selftest_seq(key, outlen, outlen);
			blake2s(md, outlen, in, inlen, key, outlen);
			blake2s_update(&ctx, md, outlen);
		}
	}
	blake2s_final(&ctx, res);
	ck_assert_hex(res, "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
}
END_TEST

/* The protocol's own constants: HASH(CONSTRUCTION) and HASH(ck || IDENTIFIER). */
START_TEST(blake2s_wireguard_constants)
{
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
	uint8_t ck[32], h[32];
	struct blake2s_state s;

	blake2s(ck, 32, (const uint8_t *)construction, strlen(construction), NULL, 0);
	ck_assert_hex(ck, "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
	blake2s_init(&s, 32);
	blake2s_update(&s, ck, 32);
	blake2s_update(&s, (const uint8_t *)identifier, strlen(identifier));
	blake2s_final(&s, h);
	ck_assert_hex(h, "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
}
END_TEST

/* ---- HMAC and HKDF ---- */

START_TEST(hmac_vectors)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	uint8_t out[32], key[100];

	hmac_blake2s(out, (const uint8_t *)"key", 3, (const uint8_t *)fox, strlen(fox));
	ck_assert_hex(out, "f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0");
	/* A key longer than a block is hashed first. */
	seq(key, sizeof(key));
	hmac_blake2s(out, key, sizeof(key), (const uint8_t *)"abc", 3);
	ck_assert_hex(out, "c1b751501db12b753069a918627b623179be55c8cc7ca5c4e14bdf32274ac656");
}
END_TEST

/* HMAC spelled out with one-shot hashes over concatenated buffers. */
static void plain_hmac(uint8_t out[32], const uint8_t key[32], const uint8_t *in,
		       size_t inlen)
{
	uint8_t ibuf[64 + 64], obuf[64 + 32];

	ck_assert_uint_le(inlen, 64);
	memset(ibuf, 0x36, 64);
	memset(obuf, 0x5c, 64);
	for (int i = 0; i < 32; i++) {
		ibuf[i] ^= key[i];
		obuf[i] ^= key[i];
	}
	memcpy(ibuf + 64, in, inlen);
	blake2s(obuf + 64, 32, ibuf, 64 + inlen, NULL, 0);
	blake2s(out, 32, obuf, sizeof(obuf), NULL, 0);
}

START_TEST(kdf_matches_plain_construction)
{
	uint8_t ck[32], data[32], t0[32], t[3][33], o[3][32], buf[33];

	seq(ck, 32);
	for (int i = 0; i < 32; i++)
		data[i] = 0x40 + i;
	plain_hmac(t0, ck, data, 32);
	buf[0] = 1;
	plain_hmac(t[0], t0, buf, 1);
	for (int i = 1; i < 3; i++) {
		memcpy(buf, t[i - 1], 32);
		buf[32] = i + 1;
		plain_hmac(t[i], t0, buf, 33);
	}

	wg_kdf(o[0], o[1], o[2], data, 32, ck);
	for (int i = 0; i < 3; i++)
		ck_assert_mem_eq(o[i], t[i], 32);
	ck_assert_hex(o[0], "a308e29d3a10567bd1ac089e27310bd54ec6522ca2118240c3dd2416f7dc23fa");
	ck_assert_hex(o[1], "c68caa124476385ed5f83d7aa98ebe58c9b636f48586d36061cf3781cc84b9a7");
	ck_assert_hex(o[2], "089a9e4090ac20caaafab1a1e6d221242a8f1f547f4c2aea31d6312858451388");

	/* Fewer outputs give the same prefix. */
	memset(o, 0, sizeof(o));
	wg_kdf(o[0], NULL, NULL, data, 32, ck);
	ck_assert_mem_eq(o[0], t[0], 32);
	wg_kdf(o[0], o[1], NULL, data, 32, ck);
	ck_assert_mem_eq(o[1], t[1], 32);
	/* Output may alias the chaining key, as the handshake does. */
	wg_kdf(ck, o[1], NULL, data, 32, ck);
	ck_assert_mem_eq(ck, t[0], 32);
	ck_assert_mem_eq(o[1], t[1], 32);
}
END_TEST

/* ---- TAI64N ---- */

START_TEST(tai64n_layout)
{
	uint8_t t[12];

	tai64n_from(t, 0, 0);
	ck_assert_hex(t, "400000000000000a00000000");
	tai64n_from(t, 1700000000, 999999999);
	/* 1700000000 = 0x6553f100; 999999999 & ~0xffffff = 0x3b000000 */
	ck_assert_hex(t, "400000006553f10a3b000000");
	tai64n_from(t, 1700000000, 16777215);
	ck_assert_hex(t, "400000006553f10a00000000");
}
END_TEST

START_TEST(tai64n_now_is_now)
{
	uint8_t a[12], b[12], c[12];
	time_t now = time(NULL);

	tai64n_now(a);
	tai64n_from(b, now - 2, 0);
	tai64n_from(c, now + 2, 0);
	ck_assert_int_gt(memcmp(a, b, 12), 0);
	ck_assert_int_lt(memcmp(a, c, 12), 0);
}
END_TEST

/* Handshake timestamps come from the wall clock: it must go past 2038
 * (configure asks for a 64-bit time_t on 32-bit targets). */
START_TEST(tai64n_past_2038)
{
	uint8_t t[12];
	time_t when = (time_t)((1LL << 31) + 1);

	ck_assert_msg(sizeof(time_t) >= 8, "time_t is %zu bytes", sizeof(time_t));
	ck_assert_int_gt((long long)when, 0);
	tai64n_from(t, when, 0);
	ck_assert_hex(t, "400000008000000b00000000");
}
END_TEST

/* ---- X25519 (RFC 7748) ---- */

START_TEST(x25519_rfc7748)
{
	uint8_t k[32], u[32], out[32], a[32], b[32], apub[32], bpub[32];

	unhex(k, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4", 32);
	unhex(u, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", 32);
	ck_assert_int_eq(x25519(out, k, u), 0);
	ck_assert_hex(out, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");

	unhex(a, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", 32);
	unhex(b, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", 32);
	ck_assert_int_eq(x25519_public(apub, a), 0);
	ck_assert_hex(apub, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	ck_assert_int_eq(x25519_public(bpub, b), 0);
	ck_assert_hex(bpub, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	ck_assert_int_eq(x25519(out, a, bpub), 0);
	ck_assert_hex(out, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	ck_assert_int_eq(x25519(out, b, apub), 0);
	ck_assert_hex(out, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
}
END_TEST

START_TEST(x25519_rejects_zero_secret)
{
	uint8_t priv[32], pub[32], zero[32] = { 0 }, one[32] = { 1 }, out[32];

	x25519_generate(priv, pub);
	ck_assert_int_eq(x25519(out, priv, zero), -EINVAL);
	ck_assert_mem_eq(out, zero, 32);
	/* u = 1 is a small-order point too. */
	ck_assert_int_eq(x25519(out, priv, one), -EINVAL);
}
END_TEST

START_TEST(x25519_generate_and_agree)
{
	uint8_t a[32], apub[32], b[32], bpub[32], s1[32], s2[32], c[32];

	x25519_generate(a, apub);
	x25519_generate(b, bpub);
	ck_assert_uint_eq(a[0] & 7, 0);
	ck_assert_uint_eq(a[31] & 0xc0, 0x40);
	ck_assert_int_eq(x25519(s1, a, bpub), 0);
	ck_assert_int_eq(x25519(s2, b, apub), 0);
	ck_assert_mem_eq(s1, s2, 32);
	memcpy(c, a, 32);
	x25519_clamp(c);
	ck_assert_mem_eq(c, a, 32);
}
END_TEST

/* ---- ChaCha20-Poly1305 (RFC 8439 A.5) and XChaCha20-Poly1305 ---- */

static const char ietf_text[] =
	"Internet-Drafts are draft documents valid for a maximum of six months "
	"and may be updated, replaced, or obsoleted by other documents at any "
	"time. It is inappropriate to use Internet-Drafts as reference material "
	"or to cite them other than as /\xe2\x80\x9cwork in progress./\xe2\x80\x9d";

static const char rfc8439_a5_ct[] =
	"64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
	"4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
	"332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
	"9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
	"b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
	"af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
	"0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
	"49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
	"a6ad5cb4022b02709b"
	"eead9d67890cbb22392336fea1851f38";

START_TEST(aead_rfc8439)
{
	uint8_t key[32], ad[12], ct[265 + 16], buf[265 + 16];
	const size_t len = strlen(ietf_text);

	ck_assert_uint_eq(len, 265);
	unhex(key, "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0", 32);
	unhex(ad, "f33388860000000000004e91", 12);
	unhex(ct, rfc8439_a5_ct, sizeof(ct));
	/* Nonce 00000000 0102030405060708: counter 0x0807060504030201. */
	aead_encrypt(buf, (const uint8_t *)ietf_text, len, ad, 12,
		     0x0807060504030201ULL, key);
	ck_assert_mem_eq(buf, ct, sizeof(ct));

	ck_assert_int_eq(aead_decrypt(buf, buf, sizeof(buf), ad, 12,
				      0x0807060504030201ULL, key), 0);
	ck_assert_mem_eq(buf, ietf_text, len);

	/* Any flipped bit, wrong AD, wrong nonce or short input fails. */
	ct[100] ^= 1;
	ck_assert_int_eq(aead_decrypt(buf, ct, sizeof(ct), ad, 12,
				      0x0807060504030201ULL, key), -EBADMSG);
	ct[100] ^= 1;
	ck_assert_int_eq(aead_decrypt(buf, ct, sizeof(ct), ad, 11,
				      0x0807060504030201ULL, key), -EBADMSG);
	ck_assert_int_eq(aead_decrypt(buf, ct, sizeof(ct), ad, 12,
				      0x0807060504030202ULL, key), -EBADMSG);
	ck_assert_int_eq(aead_decrypt(buf, ct, 15, ad, 12, 0, key), -EBADMSG);
}
END_TEST

START_TEST(aead_empty_roundtrip)
{
	uint8_t key[32], tag[16];

	seq(key, 32);
	aead_encrypt(tag, NULL, 0, NULL, 0, 0, key);
	ck_assert_int_eq(aead_decrypt(NULL, tag, 16, NULL, 0, 0, key), 0);
	tag[0] ^= 0x80;
	ck_assert_int_eq(aead_decrypt(NULL, tag, 16, NULL, 0, 0, key), -EBADMSG);
}
END_TEST

/* draft-irtf-cfrg-xchacha-03, A.3.1 */
START_TEST(xaead_draft_vector)
{
	static const char text[] =
		"Ladies and Gentlemen of the class of '99: If I could offer you "
		"only one tip for the future, sunscreen would be it.";
	uint8_t key[32], nonce[24], ad[12], ct[114 + 16], buf[114 + 16];

	ck_assert_uint_eq(strlen(text), 114);
	for (int i = 0; i < 32; i++)
		key[i] = 0x80 + i;
	for (int i = 0; i < 24; i++)
		nonce[i] = 0x40 + i;
	unhex(ad, "50515253c0c1c2c3c4c5c6c7", 12);
	unhex(ct,
	      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
	      "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
	      "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
	      "21f9664c97637da9768812f615c68b13b52e"
	      "c0875924c1c7987947deafd8780acf49", sizeof(ct));
	xaead_encrypt(buf, (const uint8_t *)text, 114, ad, 12, nonce, key);
	ck_assert_mem_eq(buf, ct, sizeof(ct));
	ck_assert_int_eq(xaead_decrypt(buf, buf, sizeof(buf), ad, 12, nonce, key), 0);
	ck_assert_mem_eq(buf, text, 114);
	nonce[23] ^= 1;
	ck_assert_int_eq(xaead_decrypt(buf, ct, sizeof(ct), ad, 12, nonce, key),
			 -EBADMSG);
	ck_assert_int_eq(xaead_decrypt(buf, ct, 3, ad, 12, nonce, key), -EBADMSG);
}
END_TEST

/* ---- Randomness and hygiene ---- */

START_TEST(random_and_equal)
{
	uint8_t a[64] = { 0 }, b[64] = { 0 }, zero[64] = { 0 };

	ck_assert(crypto_equal(a, b, sizeof(a)));
	crypto_random(a, sizeof(a));
	crypto_random(b, sizeof(b));
	ck_assert(!crypto_equal(a, b, sizeof(a)));
	ck_assert(memcmp(a, zero, sizeof(a)) != 0);
	memcpy(b, a, sizeof(a));
	ck_assert(crypto_equal(a, b, sizeof(a)));
	b[63] ^= 1;
	ck_assert(!crypto_equal(a, b, sizeof(a)));
	crypto_wipe(a, sizeof(a));
	ck_assert_mem_eq(a, zero, sizeof(a));
	ck_assert_uint_ne(crypto_random_u32() | crypto_random_u32() |
			  crypto_random_u32(), 0);
}
END_TEST

/* ---- The data-path seam ---- */

static const struct dp_aead_ops *const backends[] = {
	&dp_aead_sodium,
#ifdef HAVE_OPENSSL
	&dp_aead_openssl,
	&dp_aead_hybrid,
#endif
};
#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* Computed independently (Python cryptography's ChaCha20Poly1305): key
 * 80..9f, nonce counter 0x0123456789abcdef, plaintext (7i + 3) & 0xff, no AD:
 * BLAKE2s of the sealed bytes and the tag. */
static const struct {
	size_t len;
	const char *digest, *tag;
} seam_kat[] = {
	{ 0, "11443323f85eb6fd8feb4cbde4a83e1a3cd7e3d623b39298e1f8e135549a8911",
	  "280060e27d0d3581cc4b8f43b83be7f9" },
	{ 1, "4ffa5716a45e27b9bde6ec278c37703580fd05f2aad30a8b3c5c3eba2766f66c",
	  "2516b0e1ad26ef0cabdce3c711af3cd4" },
	{ 64, "d45454e4d9e04404fe7f4314774bcd3302ff0952187f22ab717fb67eb6ee65c9",
	  "8726cb47defefab1cf6c6b50d48dbf93" },
	{ 1420, "63fe77429de97a77773c44628343095dbeebe535c68f7a9d6b585e251697698f",
	  "8d2e1c6e3f9e30c101ea6dc4baa22535" },
};

static void fill_pattern(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (i * 7 + 3) & 0xff;
}

START_TEST(seam_known_answers)
{
	const struct dp_aead_ops *ops = backends[_i / 4];
	size_t len = seam_kat[_i % 4].len;
	uint8_t key[32], buf[1420 + 16], plain[1420], digest[32], exp[32];
	struct dp_aead *a;

	for (int i = 0; i < 32; i++)
		key[i] = 0x80 + i;
	a = ops->new(key);
	ck_assert_ptr_nonnull(a);
	fill_pattern(plain, len);
	memcpy(buf, plain, len);
	ops->seal(a, 0x0123456789abcdefULL, buf, len);
	blake2s(digest, 32, buf, len + 16, NULL, 0);
	unhex(exp, seam_kat[_i % 4].digest, 32);
	ck_assert_mem_eq(digest, exp, 32);
	unhex(exp, seam_kat[_i % 4].tag, 16);
	ck_assert_mem_eq(buf + len, exp, 16);

	ck_assert_int_eq(ops->open(a, 0x0123456789abcdefULL, buf, len + 16), 0);
	ck_assert_mem_eq(buf, plain, len);
	ops->free(a);
}
END_TEST

/* Every length 0..1500 (all the block-boundary cases), both backends, the
 * same bytes as the handshake AEAD with no associated data. */
START_TEST(seam_backends_agree)
{
	uint8_t key[32], ref[1500 + 16], plain[1500], buf[N_BACKENDS][1500 + 16];
	struct dp_aead *a[N_BACKENDS];

	crypto_random(key, sizeof(key));
	for (size_t b = 0; b < N_BACKENDS; b++)
		a[b] = backends[b]->new(key);
	for (size_t len = 0; len <= 1500; len++) {
		uint64_t nonce = ((uint64_t)crypto_random_u32() << 32) | len;

		crypto_random(plain, len);
		memcpy(ref, plain, len);
		for (size_t b = 0; b < N_BACKENDS; b++) {
			memcpy(buf[b], ref, len);
			backends[b]->seal(a[b], nonce, buf[b], len);
		}
		aead_encrypt(ref, ref, len, NULL, 0, nonce, key);
		for (size_t b = 0; b < N_BACKENDS; b++) {
			ck_assert_mem_eq(buf[b], ref, len + 16);
			ck_assert_int_eq(backends[b]->open(a[b], nonce, buf[b],
							   len + 16), 0);
			ck_assert_mem_eq(buf[b], plain, len);
		}
	}
	for (size_t b = 0; b < N_BACKENDS; b++)
		backends[b]->free(a[b]);
}
END_TEST

/* Opening out of place gives the same plaintext, leaves the source as it
 * was, and puts no plaintext in dst on failure (both sides of the
 * OpenSSL/libsodium split in the hybrid). */
START_TEST(seam_open_to)
{
	static const size_t lens[] = { 0, 1, 64, 255, 256, 1420, 1500 };
	const struct dp_aead_ops *ops = backends[_i];
	uint8_t key[32], plain[1500], sealed[1500 + 16], src[1500 + 16], dst[1500 + 1];
	struct dp_aead *a;

	crypto_random(key, 32);
	a = ops->new(key);
	for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
		size_t len = lens[j];

		crypto_random(plain, len);
		memcpy(sealed, plain, len);
		ops->seal(a, 99 + j, sealed, len);
		memcpy(src, sealed, len + 16);
		memset(dst, 0xa5, sizeof(dst));
		ck_assert_int_eq(ops->open_to(a, 99 + j, dst, src, len + 16), 0);
		ck_assert_mem_eq(dst, plain, len);
		ck_assert_mem_eq(src, sealed, len + 16);
		ck_assert_uint_eq(dst[len], 0xa5);	/* nothing past the plaintext */
		/* In place through open_to is open. */
		ck_assert_int_eq(ops->open_to(a, 99 + j, src, src, len + 16), 0);
		ck_assert_mem_eq(src, plain, len);
		if (len < 16)
			continue;
		memcpy(src, sealed, len + 16);
		src[len + 3] ^= 1;
		memset(dst, 0xa5, sizeof(dst));
		ck_assert_int_eq(ops->open_to(a, 99 + j, dst, src, len + 16), -EBADMSG);
		ck_assert(memcmp(dst, plain, len) != 0);
		ck_assert_uint_eq(src[len + 3], sealed[len + 3] ^ 1);
	}
	ops->free(a);
}
END_TEST

START_TEST(seam_rejects_forgeries)
{
	const struct dp_aead_ops *ops = backends[_i];
	uint8_t key[32], other[32], buf[200], sealed[200];
	struct dp_aead *a, *b;

	crypto_random(key, 32);
	crypto_random(other, 32);
	a = ops->new(key);
	b = ops->new(other);
	crypto_random(sealed, 184);
	ops->seal(a, 7, sealed, 184);
	for (size_t i = 0; i < 200; i += 13) {
		memcpy(buf, sealed, 200);
		buf[i] ^= 0x10;
		ck_assert_int_eq(ops->open(a, 7, buf, 200), -EBADMSG);
	}
	memcpy(buf, sealed, 200);
	ck_assert_int_eq(ops->open(a, 8, buf, 200), -EBADMSG);
	memcpy(buf, sealed, 200);
	ck_assert_int_eq(ops->open(b, 7, buf, 200), -EBADMSG);
	/* Interleaving two keys on one thread must not mix them up. */
	memcpy(buf, sealed, 200);
	ck_assert_int_eq(ops->open(a, 7, buf, 200), 0);
	for (size_t len = 0; len < 16; len++)
		ck_assert_int_eq(ops->open(a, 7, buf, len), -EBADMSG);
	ops->free(a);
	ops->free(b);
}
END_TEST

struct mt_arg {
	const struct dp_aead_ops *ops;
	struct dp_aead *a;
	const uint8_t *key;
	int id, bad;
};

/* Several threads sealing and opening with one shared context, each
 * checked against the libsodium handshake AEAD. */
static void *mt_worker(void *p)
{
	struct mt_arg *m = p;
	uint8_t buf[1420 + 16], ref[1420 + 16];

	for (int i = 0; i < 3000; i++) {
		size_t len = (i * 37 + m->id * 11) % 1421;
		uint64_t nonce = (uint64_t)m->id << 32 | i;

		memset(buf, i ^ m->id, len);
		aead_encrypt(ref, buf, len, NULL, 0, nonce, m->key);
		m->ops->seal(m->a, nonce, buf, len);
		if (memcmp(buf, ref, len + 16) ||
		    m->ops->open(m->a, nonce, buf, len + 16))
			m->bad++;
	}
	return NULL;
}

START_TEST(seam_threads_share_context)
{
	const struct dp_aead_ops *ops = backends[_i];
	struct mt_arg args[4];
	pthread_t th[4];
	uint8_t key[32];
	struct dp_aead *a;

	crypto_random(key, 32);
	a = ops->new(key);
	for (int t = 0; t < 4; t++) {
		args[t] = (struct mt_arg){ .ops = ops, .a = a, .key = key, .id = t };
		ck_assert_int_eq(pthread_create(&th[t], NULL, mt_worker, &args[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		ck_assert_int_eq(args[t].bad, 0);
	}
	ops->free(a);
}
END_TEST

START_TEST(seam_default_backend)
{
	uint8_t key[32], buf[64 + 16];
	struct dp_aead *a;

	crypto_random(key, 32);
	a = dp_aead_new(key);
	ck_assert_ptr_nonnull(a);
	memset(buf, 0xab, 64);
	dp_aead_seal(a, 1, buf, 64);
	ck_assert_int_eq(dp_aead_open(a, 1, buf, 80), 0);
	for (int i = 0; i < 64; i++)
		ck_assert_uint_eq(buf[i], 0xab);
	ck_assert_int_eq(dp_aead_open(a, 1, buf, 80), -EBADMSG);
	dp_aead_free(a);
#ifdef HAVE_OPENSSL
	ck_assert_str_eq(dp_aead_backend(), dp_aead_hybrid.name);
#else
	ck_assert_str_eq(dp_aead_backend(), "libsodium");
#endif
}
END_TEST

static Suite *crypto_suite(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc;

	tc = tcase_create("blake2s");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, blake2s_abc);
	tcase_add_loop_test(tc, blake2s_keyed_kat, 0,
			    sizeof(keyed_kat) / sizeof(keyed_kat[0]));
	tcase_add_test(tc, blake2s_incremental);
	tcase_add_test(tc, blake2s_rfc7693_selftest);
	tcase_add_test(tc, blake2s_wireguard_constants);
	suite_add_tcase(s, tc);

	tc = tcase_create("hmac-hkdf-tai64n");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, hmac_vectors);
	tcase_add_test(tc, kdf_matches_plain_construction);
	tcase_add_test(tc, tai64n_layout);
	tcase_add_test(tc, tai64n_now_is_now);
	tcase_add_test(tc, tai64n_past_2038);
	suite_add_tcase(s, tc);

	tc = tcase_create("x25519-aead");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, x25519_rfc7748);
	tcase_add_test(tc, x25519_rejects_zero_secret);
	tcase_add_test(tc, x25519_generate_and_agree);
	tcase_add_test(tc, aead_rfc8439);
	tcase_add_test(tc, aead_empty_roundtrip);
	tcase_add_test(tc, xaead_draft_vector);
	tcase_add_test(tc, random_and_equal);
	suite_add_tcase(s, tc);

	tc = tcase_create("seam");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, seam_known_answers, 0, 4 * N_BACKENDS);
	tcase_add_test(tc, seam_backends_agree);
	tcase_add_loop_test(tc, seam_rejects_forgeries, 0, N_BACKENDS);
	tcase_add_loop_test(tc, seam_open_to, 0, N_BACKENDS);
	tcase_add_loop_test(tc, seam_threads_share_context, 0, N_BACKENDS);
	tcase_add_test(tc, seam_default_backend);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vg_test_run(crypto_suite(), false);
}
