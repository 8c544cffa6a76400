// SPDX-License-Identifier: MIT
#include "config.h"

#include <errno.h>
#include <string.h>

#include "device/cookie.h"

void cookie_keys(const uint8_t pub[NOISE_PUBLIC_KEY_LEN],
		 uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN],
		 uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN])
{
	static const char *const labels[2] = { "mac1----", "cookie--" };
	uint8_t *keys[2] = { mac1_key, cookie_key };
	struct blake2s_state s;
	int i;

	for (i = 0; i < 2; i++) {
		blake2s_init(&s, NOISE_SYMMETRIC_KEY_LEN);
		blake2s_update(&s, (const uint8_t *)labels[i], 8);
		blake2s_update(&s, pub, NOISE_PUBLIC_KEY_LEN);
		blake2s_final(&s, keys[i]);
	}
}

static void compute_mac1(uint8_t mac1[COOKIE_LEN], const uint8_t *msg,
			 size_t len, const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	size_t off = len - sizeof(struct message_macs);

	blake2s(mac1, COOKIE_LEN, msg, off, key, NOISE_SYMMETRIC_KEY_LEN);
}

static void compute_mac2(uint8_t mac2[COOKIE_LEN], const uint8_t *msg,
			 size_t len, const uint8_t cookie[COOKIE_LEN])
{
	size_t off = len - COOKIE_LEN;

	blake2s(mac2, COOKIE_LEN, msg, off, cookie, COOKIE_LEN);
}

void cookie_checker_init(struct cookie_checker *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

void cookie_checker_set_key(struct cookie_checker *c,
			    const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	pthread_mutex_lock(&c->lock);
	if (pub) {
		cookie_keys(pub, c->mac1_key, c->encryption_key);
	} else {
		crypto_wipe(c->mac1_key, sizeof(c->mac1_key));
		crypto_wipe(c->encryption_key, sizeof(c->encryption_key));
	}
	pthread_mutex_unlock(&c->lock);
}

void cookie_checker_destroy(struct cookie_checker *c)
{
	crypto_wipe(c->secret, sizeof(c->secret));
	crypto_wipe(c->prev_secret, sizeof(c->prev_secret));
	crypto_wipe(c->mac1_key, sizeof(c->mac1_key));
	crypto_wipe(c->encryption_key, sizeof(c->encryption_key));
	pthread_mutex_destroy(&c->lock);
}

static bool expired(uint64_t birth, uint64_t age, uint64_t now)
{
	return now >= birth + age || now < birth;
}

/* Caller holds c->lock.  The secret only rotates when a cookie is made, as
 * in the kernel, so validation against an expired secret simply fails; it
 * rotates COOKIE_SECRET_GRACE early and the old one stays to take the
 * cookies it made (cookie.h). */
static void make_cookie(struct cookie_checker *c, uint8_t cookie[COOKIE_LEN],
			const uint8_t *src, size_t srclen, uint64_t now)
{
	if (!c->have_secret ||
	    expired(c->secret_birth, COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_GRACE, now)) {
		memcpy(c->prev_secret, c->secret, sizeof(c->secret));
		c->prev_birth = c->secret_birth;
		c->have_prev = c->have_secret;
		crypto_random(c->secret, sizeof(c->secret));
		c->secret_birth = now;
		c->have_secret = true;
	}
	blake2s(cookie, COOKIE_LEN, src, srclen, c->secret, sizeof(c->secret));
}

/* Caller holds c->lock.  Whether msg's MAC2 comes from the cookie that
 * secret (unless absent or expired) makes for src. */
static bool mac2_from(const uint8_t secret[NOISE_HASH_LEN], bool have, uint64_t birth,
		      const uint8_t *msg, size_t len, const uint8_t *src, size_t srclen,
		      uint64_t now)
{
	const struct message_macs *macs =
		(const struct message_macs *)(msg + len - sizeof(*macs));
	uint8_t computed[COOKIE_LEN], cookie[COOKIE_LEN];
	bool ok;

	if (!have || expired(birth, COOKIE_SECRET_MAX_AGE, now))
		return false;
	blake2s(cookie, COOKIE_LEN, src, srclen, secret, NOISE_HASH_LEN);
	compute_mac2(computed, msg, len, cookie);
	ok = crypto_equal(computed, macs->mac2, COOKIE_LEN);
	crypto_wipe(cookie, sizeof(cookie));
	return ok;
}

enum cookie_mac_state cookie_validate(struct cookie_checker *c,
				      const uint8_t *msg, size_t len,
				      const uint8_t *src, size_t srclen,
				      bool check_cookie, uint64_t now)
{
	const struct message_macs *macs;
	uint8_t computed[COOKIE_LEN];
	enum cookie_mac_state ret = COOKIE_INVALID_MAC;

	if (len < sizeof(struct message_macs) + sizeof(struct message_header))
		return COOKIE_INVALID_MAC;
	macs = (const struct message_macs *)(msg + len - sizeof(*macs));
	pthread_mutex_lock(&c->lock);
	compute_mac1(computed, msg, len, c->mac1_key);
	if (!crypto_equal(computed, macs->mac1, COOKIE_LEN))
		goto out;
	ret = COOKIE_VALID_MAC_BUT_NO_COOKIE;
	if (!check_cookie)
		goto out;
	if (mac2_from(c->secret, c->have_secret, c->secret_birth, msg, len, src, srclen, now) ||
	    mac2_from(c->prev_secret, c->have_prev, c->prev_birth, msg, len, src, srclen, now))
		ret = COOKIE_VALID_MAC_WITH_COOKIE;
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int cookie_create_reply(struct cookie_checker *c,
			struct message_handshake_cookie *out,
			const uint8_t *msg, size_t len, uint32_t index,
			const uint8_t *src, size_t srclen, uint64_t now)
{
	const struct message_macs *macs;
	uint8_t cookie[COOKIE_LEN];

	if (len < sizeof(struct message_macs) + sizeof(struct message_header))
		return -EINVAL;
	macs = (const struct message_macs *)(msg + len - sizeof(*macs));
	out->header.type = htole32(MESSAGE_HANDSHAKE_COOKIE);
	out->receiver_index = index;
	crypto_random(out->nonce, sizeof(out->nonce));
	pthread_mutex_lock(&c->lock);
	make_cookie(c, cookie, src, srclen, now);
	xaead_encrypt(out->encrypted_cookie, cookie, COOKIE_LEN, macs->mac1,
		      COOKIE_LEN, out->nonce, c->encryption_key);
	pthread_mutex_unlock(&c->lock);
	crypto_wipe(cookie, sizeof(cookie));
	return 0;
}

bool cookie_checker_under_load(struct cookie_checker *c, size_t queue_len,
			       uint64_t now)
{
	bool ret;

	pthread_mutex_lock(&c->lock);
	if (queue_len >= UNDER_LOAD_QUEUE_LEN) {
		c->last_under_load = now;
		c->ever_under_load = true;
	}
	ret = c->ever_under_load &&
	      !expired(c->last_under_load, UNDER_LOAD_AFTER_TIME, now);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

void cookie_generator_init(struct cookie_generator *g,
			   const uint8_t peer_pub[NOISE_PUBLIC_KEY_LEN])
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	cookie_keys(peer_pub, g->mac1_key, g->decryption_key);
}

void cookie_generator_destroy(struct cookie_generator *g)
{
	crypto_wipe(g->cookie, sizeof(g->cookie));
	crypto_wipe(g->decryption_key, sizeof(g->decryption_key));
	pthread_mutex_destroy(&g->lock);
}

void cookie_add_macs(struct cookie_generator *g, uint8_t *msg, size_t len,
		     uint64_t now)
{
	struct message_macs *macs =
		(struct message_macs *)(msg + len - sizeof(struct message_macs));

	pthread_mutex_lock(&g->lock);
	compute_mac1(macs->mac1, msg, len, g->mac1_key);
	memcpy(g->last_mac1, macs->mac1, COOKIE_LEN);
	g->have_sent_mac1 = true;
	if (g->have_cookie && !expired(g->cookie_birth, COOKIE_SECRET_MAX_AGE, now))
		compute_mac2(macs->mac2, msg, len, g->cookie);
	else
		memset(macs->mac2, 0, COOKIE_LEN);
	pthread_mutex_unlock(&g->lock);
}

int cookie_consume_reply(struct cookie_generator *g,
			 const struct message_handshake_cookie *msg,
			 uint64_t now)
{
	uint8_t cookie[COOKIE_LEN];
	int ret = -ENOENT;

	pthread_mutex_lock(&g->lock);
	if (!g->have_sent_mac1)
		goto out;
	ret = xaead_decrypt(cookie, msg->encrypted_cookie,
			    sizeof(msg->encrypted_cookie), g->last_mac1,
			    COOKIE_LEN, msg->nonce, g->decryption_key);
	if (ret)
		goto out;
	memcpy(g->cookie, cookie, COOKIE_LEN);
	g->cookie_birth = now;
	g->have_cookie = true;
	/* One reply per MAC1: a replayed reply must not refresh the cookie. */
	g->have_sent_mac1 = false;
out:
	pthread_mutex_unlock(&g->lock);
	crypto_wipe(cookie, sizeof(cookie));
	return ret;
}
