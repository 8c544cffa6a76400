/* SPDX-License-Identifier: MIT */
/*
 * MAC1/MAC2 and cookie replies (WireGuard paper §5.4.4, §5.4.7).
 *
 * A device has one cookie_checker (keyed by our public key): it checks
 * MAC1 on every handshake message, checks MAC2 when under load, and makes
 * cookie replies.  Its cookie secret is regenerated lazily when a cookie is
 * made, and a MAC2 from a secret older than 120 s fails.
 *
 * A secret makes cookies until COOKIE_SECRET_GRACE before it expires and
 * takes them until it expires, so a cookie handed out is good for the
 * retry it is meant for (REKEY_TIMEOUT plus jitter later, plus the way
 * there and back on a busy host), whenever it falls in the secret's life.
 *
 * Each peer has one cookie_generator (keyed by the peer's public key): it
 * stamps MAC1 (and MAC2 while it holds a cookie younger than 120 s) on the
 * handshake messages we send, and consumes the peer's cookie replies.
 *
 * "src" is an opaque byte string naming the sender (address bytes followed
 * by the port): only this node ever checks it.  "now" is the injected
 * monotonic clock in nanoseconds.  Both structs have internal locks; every
 * function is safe to call from any thread.
 */
#ifndef VGUARD_DEVICE_COOKIE_H
#define VGUARD_DEVICE_COOKIE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/messages.h"

struct cookie_checker {
	pthread_mutex_t lock;
	uint8_t secret[NOISE_HASH_LEN];
	uint64_t secret_birth;
	bool have_secret;
	/* The secret before, still taking the cookies it made until it is
	 * COOKIE_SECRET_MAX_AGE old. */
	uint8_t prev_secret[NOISE_HASH_LEN];
	uint64_t prev_birth;
	bool have_prev;
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t encryption_key[NOISE_SYMMETRIC_KEY_LEN];
	uint64_t last_under_load;
	bool ever_under_load;
};

struct cookie_generator {
	pthread_mutex_t lock;
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t decryption_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t cookie[COOKIE_LEN];
	uint64_t cookie_birth;
	bool have_cookie;
	uint8_t last_mac1[COOKIE_LEN];
	bool have_sent_mac1;
};

enum cookie_mac_state {
	COOKIE_INVALID_MAC,
	COOKIE_VALID_MAC_BUT_NO_COOKIE,
	COOKIE_VALID_MAC_WITH_COOKIE,
};

#define COOKIE_SECRET_GRACE (10 * WG_NSEC_PER_SEC)

#define COOKIE_SRC_MAX 18	/* 16 address bytes + 2 port bytes */

/* The keys a public key's owner checks MAC1 with and seals its cookies
 * under: HASH(label || pub), labels "mac1----" and "cookie--". */
void cookie_keys(const uint8_t pub[NOISE_PUBLIC_KEY_LEN],
		 uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN],
		 uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN]);

void cookie_checker_init(struct cookie_checker *c);
/* Our public key changed (NULL: we have none). */
void cookie_checker_set_key(struct cookie_checker *c,
			    const uint8_t pub[NOISE_PUBLIC_KEY_LEN]);
void cookie_checker_destroy(struct cookie_checker *c);

/* msg/len: a whole handshake message whose last 32 bytes are the MACs. */
enum cookie_mac_state cookie_validate(struct cookie_checker *c,
				      const uint8_t *msg, size_t len,
				      const uint8_t *src, size_t srclen,
				      bool check_cookie, uint64_t now);
/* Reply to msg (sender index "index", as on the wire) from src; 0 or -errno. */
int cookie_create_reply(struct cookie_checker *c,
			struct message_handshake_cookie *out,
			const uint8_t *msg, size_t len, uint32_t index,
			const uint8_t *src, size_t srclen, uint64_t now);
/* Feed the handshake queue depth; true while under load (and for 1 s after). */
bool cookie_checker_under_load(struct cookie_checker *c, size_t queue_len,
			       uint64_t now);

void cookie_generator_init(struct cookie_generator *g,
			   const uint8_t peer_pub[NOISE_PUBLIC_KEY_LEN]);
void cookie_generator_destroy(struct cookie_generator *g);
void cookie_add_macs(struct cookie_generator *g, uint8_t *msg, size_t len,
		     uint64_t now);
/* 0, or -EBADMSG when it does not decrypt, -ENOENT when we sent no MAC1. */
int cookie_consume_reply(struct cookie_generator *g,
			 const struct message_handshake_cookie *msg,
			 uint64_t now);

#endif
