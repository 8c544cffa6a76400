/* SPDX-License-Identifier: MIT */
/*
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses it: the
 * handshake state per peer, the keypairs it derives, and the index table
 * that maps our 32-bit receiver indices to handshakes and keypairs.
 *
 * This layer does no I/O and keeps no timers: it turns a peer's state into
 * message bytes and message bytes into state.  peer.h drives it (locking,
 * timers, key rotation); the data plane normally calls peer.h, not this.
 *
 * Keypair lifetime (read by several data-plane workers at once):
 *   - a keypair is reference counted.  The peer's current/previous/next
 *     slots hold one reference each; every lookup (wg_peer_send_keypair,
 *     wg_data_open) returns a new reference that the worker drops with
 *     noise_keypair_put() when its batch is done.
 *   - rotation swaps the slot pointers under the peer's short keypairs
 *     lock and drops the slots' references; the keypair (and its AEAD
 *     contexts, whose keys are wiped) is freed by the last put, so a
 *     worker can never see freed keys.
 *   - the send counter is atomic: noise_keypair_reserve() hands out
 *     disjoint nonce ranges to concurrent workers.
 *   - the replay window has its own short lock.
 */
#ifndef VGUARD_DEVICE_NOISE_H
#define VGUARD_DEVICE_NOISE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "device/messages.h"
#include "device/replay.h"

struct wg_peer;
struct noise_keypair;

enum index_type {
	INDEX_HANDSHAKE,
	INDEX_KEYPAIR,
};

struct index_entry {
	struct index_entry *next;	/* hash chain */
	struct wg_peer *peer;
	struct noise_keypair *keypair;	/* INDEX_KEYPAIR only */
	uint32_t index;			/* as on the wire (little-endian) */
	enum index_type type;
	bool hashed;
};

#define INDEX_BUCKETS 8192

struct index_table {
	pthread_rwlock_t lock;
	struct index_entry *buckets[INDEX_BUCKETS];
	size_t count;
};

void index_table_init(struct index_table *t);
void index_table_destroy(struct index_table *t);
/* Gives e a fresh random index that is not in use; returns it. */
uint32_t index_table_insert(struct index_table *t, struct index_entry *e);
/* new takes over old's index (a handshake becoming a keypair). */
/* e takes exactly this index (a live upgrade): 0, or -EEXIST when taken. */
int index_table_insert_at(struct index_table *t, struct index_entry *e, uint32_t index);
void index_table_replace(struct index_table *t, struct index_entry *old,
			 struct index_entry *new);
void index_table_remove(struct index_table *t, struct index_entry *e);
/* The keypair with this index, with a reference, or NULL. */
struct noise_keypair *index_table_get_keypair(struct index_table *t,
					      uint32_t index);
/* The peer whose pending handshake has this index, or NULL. */
struct wg_peer *index_table_lookup_handshake(struct index_table *t,
					     uint32_t index);

struct noise_keypair {
	atomic_uint refcount;
	struct index_entry entry;
	struct wg_peer *peer;
	struct dp_aead *send;
	struct dp_aead *recv;
	atomic_uint_fast64_t send_counter;
	pthread_mutex_t replay_lock;
	struct replay replay;
	uint64_t birthdate;		/* injected monotonic clock */
	uint32_t remote_index;		/* wire byte order */
	bool i_am_the_initiator;
	atomic_bool valid;		/* cleared when the keys are zeroed */
};

void noise_keypair_get(struct noise_keypair *kp);
void noise_keypair_put(struct noise_keypair *kp);
/* Reserve n consecutive send nonces; 0 or -ENOKEY once the keypair is
 * invalid, expired (REJECT_AFTER_TIME) or would pass REJECT_AFTER_MESSAGES. */
int noise_keypair_reserve(struct noise_keypair *kp, uint64_t now, unsigned int n,
			  uint64_t *first);
/* May this keypair still receive at "now" with this counter? */
bool noise_keypair_receive_ok(const struct noise_keypair *kp, uint64_t counter,
			      uint64_t now);
/* Replay check after a successful decryption; 0 or -EALREADY. */
int noise_keypair_replay(struct noise_keypair *kp, uint64_t counter);

/* The three keypair slots of a peer. */
struct noise_keypairs {
	pthread_mutex_t lock;
	struct noise_keypair *current;
	struct noise_keypair *previous;
	struct noise_keypair *next;
};

enum noise_handshake_state {
	HANDSHAKE_ZEROED,
	HANDSHAKE_CREATED_INITIATION,
	HANDSHAKE_CONSUMED_INITIATION,
	HANDSHAKE_CREATED_RESPONSE,
	HANDSHAKE_CONSUMED_RESPONSE,
};

struct noise_handshake {
	struct index_entry entry;
	enum noise_handshake_state state;
	uint64_t last_initiation_consumption;
	bool have_consumed_initiation;
	bool static_static_ok;		/* false: low-order key, never handshake */
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t precomputed_static_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];
	uint32_t remote_index;		/* wire byte order */
};

struct noise_static_identity {
	pthread_rwlock_t lock;
	uint8_t static_public[NOISE_PUBLIC_KEY_LEN];
	uint8_t static_private[NOISE_PUBLIC_KEY_LEN];
	bool has_identity;
};

/* Handshake-level functions.  The caller (the protocol core behind
 * peer.h) holds the peer's lock and the identity read lock; they return 0
 * or -errno and never do I/O. */
void noise_handshake_init(struct noise_handshake *hs,
			  const struct noise_static_identity *id,
			  const uint8_t peer_public[NOISE_PUBLIC_KEY_LEN],
			  const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN]);
void noise_handshake_precompute(struct noise_handshake *hs,
				const struct noise_static_identity *id);
void noise_handshake_clear(struct noise_handshake *hs);

int noise_create_initiation(struct noise_handshake *hs,
			    const struct noise_static_identity *id,
			    struct message_handshake_initiation *dst,
			    const uint8_t timestamp[NOISE_TIMESTAMP_LEN]);
/* First half of consuming an initiation: decrypts the initiator's static
 * key into peer_public without touching any peer state. */
int noise_consume_initiation_static(const struct message_handshake_initiation *src,
				    const struct noise_static_identity *id,
				    uint8_t peer_public[NOISE_PUBLIC_KEY_LEN],
				    uint8_t hash[NOISE_HASH_LEN],
				    uint8_t chaining_key[NOISE_HASH_LEN]);
/* Second half: with the peer found, checks timestamp and flood guard. */
int noise_consume_initiation_finish(struct noise_handshake *hs,
				    const struct message_handshake_initiation *src,
				    uint8_t hash[NOISE_HASH_LEN],
				    uint8_t chaining_key[NOISE_HASH_LEN],
				    uint64_t now);
int noise_create_response(struct noise_handshake *hs,
			  struct message_handshake_response *dst);
int noise_consume_response(struct noise_handshake *hs,
			   const struct noise_static_identity *id,
			   const struct message_handshake_response *src);
/* Derive the transport keys; hs is zeroed.  Returns the new keypair with
 * one reference, or NULL. */
struct noise_keypair *noise_derive_keypair(struct noise_handshake *hs,
					   uint64_t now);

#endif
