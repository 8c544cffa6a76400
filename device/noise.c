// SPDX-License-Identifier: MIT
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "device/noise.h"
#include "device/timers.h"

static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* ---- index table ---- */

void index_table_init(struct index_table *t)
{
	memset(t, 0, sizeof(*t));
	pthread_rwlock_init(&t->lock, NULL);
}

void index_table_destroy(struct index_table *t)
{
	pthread_rwlock_destroy(&t->lock);
}

static struct index_entry **bucket(struct index_table *t, uint32_t index)
{
	return &t->buckets[index & (INDEX_BUCKETS - 1)];
}

static struct index_entry *find_locked(struct index_table *t, uint32_t index)
{
	struct index_entry *e;

	for (e = *bucket(t, index); e; e = e->next)
		if (e->index == index)
			return e;
	return NULL;
}

static void unlink_locked(struct index_table *t, struct index_entry *e)
{
	struct index_entry **pp;

	for (pp = bucket(t, e->index); *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			e->next = NULL;
			e->hashed = false;
			t->count--;
			return;
		}
	}
}

uint32_t index_table_insert(struct index_table *t, struct index_entry *e)
{
	uint32_t index;

	pthread_rwlock_wrlock(&t->lock);
	if (e->hashed)
		unlink_locked(t, e);
	/*
	 * Random indices hide how many sessions we hold; retry on collision.
	 * An index is four random bytes kept as they go on the wire, so it is
	 * drawn as bytes: the same draw is the same wire index on any host.
	 */
	do
		crypto_random(&index, sizeof(index));
	while (find_locked(t, index));
	e->index = index;
	e->next = *bucket(t, index);
	*bucket(t, index) = e;
	e->hashed = true;
	t->count++;
	pthread_rwlock_unlock(&t->lock);
	return index;
}

int index_table_insert_at(struct index_table *t, struct index_entry *e, uint32_t index)
{
	int ret = -EEXIST;

	pthread_rwlock_wrlock(&t->lock);
	if (!e->hashed && !find_locked(t, index)) {
		e->index = index;
		e->next = *bucket(t, index);
		*bucket(t, index) = e;
		e->hashed = true;
		t->count++;
		ret = 0;
	}
	pthread_rwlock_unlock(&t->lock);
	return ret;
}

void index_table_replace(struct index_table *t, struct index_entry *old,
			 struct index_entry *new)
{
	struct index_entry **pp;

	pthread_rwlock_wrlock(&t->lock);
	if (!old->hashed)
		goto out;
	for (pp = bucket(t, old->index); *pp; pp = &(*pp)->next) {
		if (*pp != old)
			continue;
		new->index = old->index;
		new->next = old->next;
		new->hashed = true;
		*pp = new;
		old->next = NULL;
		old->hashed = false;
		break;
	}
out:
	pthread_rwlock_unlock(&t->lock);
}

void index_table_remove(struct index_table *t, struct index_entry *e)
{
	pthread_rwlock_wrlock(&t->lock);
	if (e->hashed)
		unlink_locked(t, e);
	pthread_rwlock_unlock(&t->lock);
}

struct noise_keypair *index_table_get_keypair(struct index_table *t,
					      uint32_t index)
{
	struct noise_keypair *kp = NULL;
	struct index_entry *e;

	pthread_rwlock_rdlock(&t->lock);
	e = find_locked(t, index);
	/* An indexed keypair is still in a peer slot, so its count is > 0. */
	if (e && e->type == INDEX_KEYPAIR) {
		kp = e->keypair;
		noise_keypair_get(kp);
	}
	pthread_rwlock_unlock(&t->lock);
	return kp;
}

struct wg_peer *index_table_lookup_handshake(struct index_table *t,
					     uint32_t index)
{
	struct wg_peer *peer = NULL;
	struct index_entry *e;

	pthread_rwlock_rdlock(&t->lock);
	e = find_locked(t, index);
	if (e && e->type == INDEX_HANDSHAKE)
		peer = e->peer;
	pthread_rwlock_unlock(&t->lock);
	return peer;
}

/* ---- keypairs ---- */

void noise_keypair_get(struct noise_keypair *kp)
{
	atomic_fetch_add_explicit(&kp->refcount, 1, memory_order_relaxed);
}

void noise_keypair_put(struct noise_keypair *kp)
{
	if (!kp)
		return;
	if (atomic_fetch_sub_explicit(&kp->refcount, 1, memory_order_acq_rel) != 1)
		return;
	dp_aead_free(kp->send);
	dp_aead_free(kp->recv);
	pthread_mutex_destroy(&kp->replay_lock);
	crypto_wipe(kp, sizeof(*kp));
	free(kp);
}

static bool expired(uint64_t birth, uint64_t age, uint64_t now)
{
	return now >= birth + age || now < birth;
}

int noise_keypair_reserve(struct noise_keypair *kp, uint64_t now, unsigned int n,
			  uint64_t *first)
{
	uint64_t c;

	if (!atomic_load(&kp->valid) || expired(kp->birthdate, wg_timers_reject_after_time, now))
		return -ENOKEY;
	c = atomic_fetch_add(&kp->send_counter, n);
	if (c >= REJECT_AFTER_MESSAGES || REJECT_AFTER_MESSAGES - c < n) {
		/* Leave the counter parked past the limit: it never wraps. */
		atomic_store(&kp->send_counter, REJECT_AFTER_MESSAGES);
		return -ENOKEY;
	}
	*first = c;
	return 0;
}

bool noise_keypair_receive_ok(const struct noise_keypair *kp, uint64_t counter,
			      uint64_t now)
{
	return atomic_load(&kp->valid) && counter < REJECT_AFTER_MESSAGES &&
	       !expired(kp->birthdate, wg_timers_reject_after_time, now);
}

int noise_keypair_replay(struct noise_keypair *kp, uint64_t counter)
{
	bool fresh;

	pthread_mutex_lock(&kp->replay_lock);
	fresh = replay_check(&kp->replay, counter);
	pthread_mutex_unlock(&kp->replay_lock);
	return fresh ? 0 : -EALREADY;
}

/* ---- the symmetric state ---- */

static void mix_hash(uint8_t hash[NOISE_HASH_LEN], const uint8_t *in, size_t len)
{
	struct blake2s_state s;

	blake2s_init(&s, NOISE_HASH_LEN);
	blake2s_update(&s, hash, NOISE_HASH_LEN);
	blake2s_update(&s, in, len);
	blake2s_final(&s, hash);
}

/* ck, out2, out3 = HKDF(ck, data); out2/out3 may be NULL. */
static void kdf(uint8_t ck[NOISE_HASH_LEN], uint8_t *out2, uint8_t *out3,
		const uint8_t *data, size_t len)
{
	uint8_t c[NOISE_HASH_LEN], o2[NOISE_HASH_LEN], o3[NOISE_HASH_LEN];

	wg_kdf(c, out2 ? o2 : NULL, out3 ? o3 : NULL, data, len, ck);
	memcpy(ck, c, NOISE_HASH_LEN);
	if (out2)
		memcpy(out2, o2, NOISE_HASH_LEN);
	if (out3)
		memcpy(out3, o3, NOISE_HASH_LEN);
	crypto_wipe(c, sizeof(c));
	crypto_wipe(o2, sizeof(o2));
	crypto_wipe(o3, sizeof(o3));
}

static void handshake_start(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
			    const uint8_t responder_static[NOISE_PUBLIC_KEY_LEN])
{
	blake2s(ck, NOISE_HASH_LEN, (const uint8_t *)construction,
		sizeof(construction) - 1, NULL, 0);
	memcpy(hash, ck, NOISE_HASH_LEN);
	mix_hash(hash, (const uint8_t *)identifier, sizeof(identifier) - 1);
	mix_hash(hash, responder_static, NOISE_PUBLIC_KEY_LEN);
}

static void message_ephemeral(uint8_t *dst, const uint8_t *src,
			      uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN])
{
	if (dst != src)
		memcpy(dst, src, NOISE_PUBLIC_KEY_LEN);
	mix_hash(hash, src, NOISE_PUBLIC_KEY_LEN);
	kdf(ck, NULL, NULL, src, NOISE_PUBLIC_KEY_LEN);
}

static int mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t *key,
		  const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
		  const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t dh[NOISE_PUBLIC_KEY_LEN];
	int ret;

	ret = x25519(dh, priv, pub);
	if (!ret)
		kdf(ck, key, NULL, dh, sizeof(dh));
	crypto_wipe(dh, sizeof(dh));
	return ret;
}

static void mix_psk(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
		    uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
		    const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t tau[NOISE_HASH_LEN];

	kdf(ck, tau, key, psk, NOISE_SYMMETRIC_KEY_LEN);
	mix_hash(hash, tau, sizeof(tau));
	crypto_wipe(tau, sizeof(tau));
}

static void message_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			    const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
			    uint8_t hash[NOISE_HASH_LEN])
{
	aead_encrypt(dst, src, len, hash, NOISE_HASH_LEN, 0, key);
	mix_hash(hash, dst, NOISE_ENCRYPTED_LEN(len));
}

static int message_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
			   const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
			   uint8_t hash[NOISE_HASH_LEN])
{
	int ret;

	ret = aead_decrypt(dst, src, len, hash, NOISE_HASH_LEN, 0, key);
	if (ret)
		return ret;
	mix_hash(hash, src, len);
	return 0;
}

/* ---- handshake ---- */

void noise_handshake_precompute(struct noise_handshake *hs,
				const struct noise_static_identity *id)
{
	hs->static_static_ok = id->has_identity &&
		!x25519(hs->precomputed_static_static, id->static_private,
			hs->remote_static);
	if (!hs->static_static_ok)
		crypto_wipe(hs->precomputed_static_static,
			    sizeof(hs->precomputed_static_static));
}

void noise_handshake_init(struct noise_handshake *hs,
			  const struct noise_static_identity *id,
			  const uint8_t peer_public[NOISE_PUBLIC_KEY_LEN],
			  const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	memset(hs, 0, sizeof(*hs));
	hs->entry.type = INDEX_HANDSHAKE;
	memcpy(hs->remote_static, peer_public, NOISE_PUBLIC_KEY_LEN);
	if (psk)
		memcpy(hs->preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	noise_handshake_precompute(hs, id);
}

void noise_handshake_clear(struct noise_handshake *hs)
{
	crypto_wipe(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	crypto_wipe(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	crypto_wipe(hs->hash, sizeof(hs->hash));
	crypto_wipe(hs->chaining_key, sizeof(hs->chaining_key));
	hs->remote_index = 0;
	hs->state = HANDSHAKE_ZEROED;
}

int noise_create_initiation(struct noise_handshake *hs,
			    const struct noise_static_identity *id,
			    struct message_handshake_initiation *dst,
			    const uint8_t timestamp[NOISE_TIMESTAMP_LEN])
{
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], e_pub[NOISE_PUBLIC_KEY_LEN];
	int ret = -ENOKEY;

	if (!id->has_identity || !hs->static_static_ok)
		return -ENOKEY;
	dst->header.type = htole32(MESSAGE_HANDSHAKE_INITIATION);
	handshake_start(hs->chaining_key, hs->hash, hs->remote_static);
	x25519_generate(hs->ephemeral_private, e_pub);
	message_ephemeral(dst->unencrypted_ephemeral, e_pub, hs->chaining_key,
			  hs->hash);
	if (mix_dh(hs->chaining_key, key, hs->ephemeral_private, hs->remote_static))
		goto out;
	message_encrypt(dst->encrypted_static, id->static_public,
			NOISE_PUBLIC_KEY_LEN, key, hs->hash);
	kdf(hs->chaining_key, key, NULL, hs->precomputed_static_static,
	    NOISE_PUBLIC_KEY_LEN);
	message_encrypt(dst->encrypted_timestamp, timestamp, NOISE_TIMESTAMP_LEN,
			key, hs->hash);
	hs->state = HANDSHAKE_CREATED_INITIATION;
	ret = 0;
out:
	crypto_wipe(key, sizeof(key));
	return ret;
}

int noise_consume_initiation_static(const struct message_handshake_initiation *src,
				    const struct noise_static_identity *id,
				    uint8_t peer_public[NOISE_PUBLIC_KEY_LEN],
				    uint8_t hash[NOISE_HASH_LEN],
				    uint8_t chaining_key[NOISE_HASH_LEN])
{
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	int ret = -ENOKEY;

	if (!id->has_identity)
		return -ENOKEY;
	handshake_start(chaining_key, hash, id->static_public);
	message_ephemeral((uint8_t *)src->unencrypted_ephemeral,
			  src->unencrypted_ephemeral, chaining_key, hash);
	if (mix_dh(chaining_key, key, id->static_private, src->unencrypted_ephemeral))
		goto out;
	ret = message_decrypt(peer_public, src->encrypted_static,
			      sizeof(src->encrypted_static), key, hash);
out:
	crypto_wipe(key, sizeof(key));
	return ret;
}

int noise_consume_initiation_finish(struct noise_handshake *hs,
				    const struct message_handshake_initiation *src,
				    uint8_t hash[NOISE_HASH_LEN],
				    uint8_t chaining_key[NOISE_HASH_LEN],
				    uint64_t now)
{
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], t[NOISE_TIMESTAMP_LEN];
	bool replay, flood;
	int ret = -ENOKEY;

	if (!hs->static_static_ok)
		return -ENOKEY;
	kdf(chaining_key, key, NULL, hs->precomputed_static_static,
	    NOISE_PUBLIC_KEY_LEN);
	ret = message_decrypt(t, src->encrypted_timestamp,
			      sizeof(src->encrypted_timestamp), key, hash);
	if (ret)
		goto out;
	/* TAI64N is big-endian, so byte order is time order. */
	replay = memcmp(t, hs->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0;
	flood = hs->have_consumed_initiation &&
		!expired(hs->last_initiation_consumption,
			 WG_NSEC_PER_SEC / INITIATIONS_PER_SECOND, now);
	if (replay || flood) {
		ret = replay ? -EALREADY : -EBUSY;
		goto out;
	}
	memcpy(hs->remote_ephemeral, src->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	memcpy(hs->latest_timestamp, t, NOISE_TIMESTAMP_LEN);
	memcpy(hs->hash, hash, NOISE_HASH_LEN);
	memcpy(hs->chaining_key, chaining_key, NOISE_HASH_LEN);
	hs->remote_index = src->sender_index;
	hs->last_initiation_consumption = now;
	hs->have_consumed_initiation = true;
	hs->state = HANDSHAKE_CONSUMED_INITIATION;
	ret = 0;
out:
	crypto_wipe(key, sizeof(key));
	crypto_wipe(t, sizeof(t));
	return ret;
}

int noise_create_response(struct noise_handshake *hs,
			  struct message_handshake_response *dst)
{
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], e_pub[NOISE_PUBLIC_KEY_LEN];
	int ret = -EINVAL;

	if (hs->state != HANDSHAKE_CONSUMED_INITIATION)
		return -EINVAL;
	dst->header.type = htole32(MESSAGE_HANDSHAKE_RESPONSE);
	dst->receiver_index = hs->remote_index;
	x25519_generate(hs->ephemeral_private, e_pub);
	message_ephemeral(dst->unencrypted_ephemeral, e_pub, hs->chaining_key,
			  hs->hash);
	if (mix_dh(hs->chaining_key, NULL, hs->ephemeral_private, hs->remote_ephemeral))
		goto out;
	if (mix_dh(hs->chaining_key, NULL, hs->ephemeral_private, hs->remote_static))
		goto out;
	mix_psk(hs->chaining_key, hs->hash, key, hs->preshared_key);
	message_encrypt(dst->encrypted_nothing, NULL, 0, key, hs->hash);
	hs->state = HANDSHAKE_CREATED_RESPONSE;
	ret = 0;
out:
	crypto_wipe(key, sizeof(key));
	return ret;
}

int noise_consume_response(struct noise_handshake *hs,
			   const struct noise_static_identity *id,
			   const struct message_handshake_response *src)
{
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN], ck[NOISE_HASH_LEN];
	int ret = -EINVAL;

	if (hs->state != HANDSHAKE_CREATED_INITIATION || !id->has_identity)
		return -EINVAL;
	memcpy(hash, hs->hash, sizeof(hash));
	memcpy(ck, hs->chaining_key, sizeof(ck));
	message_ephemeral((uint8_t *)src->unencrypted_ephemeral,
			  src->unencrypted_ephemeral, ck, hash);
	if (mix_dh(ck, NULL, hs->ephemeral_private, src->unencrypted_ephemeral))
		goto out;
	if (mix_dh(ck, NULL, id->static_private, src->unencrypted_ephemeral))
		goto out;
	mix_psk(ck, hash, key, hs->preshared_key);
	ret = message_decrypt(NULL, src->encrypted_nothing,
			      sizeof(src->encrypted_nothing), key, hash);
	if (ret)
		goto out;
	memcpy(hs->remote_ephemeral, src->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	memcpy(hs->hash, hash, sizeof(hash));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	hs->remote_index = src->sender_index;
	hs->state = HANDSHAKE_CONSUMED_RESPONSE;
out:
	crypto_wipe(key, sizeof(key));
	crypto_wipe(hash, sizeof(hash));
	crypto_wipe(ck, sizeof(ck));
	return ret;
}

struct noise_keypair *noise_derive_keypair(struct noise_handshake *hs,
					   uint64_t now)
{
	uint8_t k1[NOISE_SYMMETRIC_KEY_LEN], k2[NOISE_SYMMETRIC_KEY_LEN];
	struct noise_keypair *kp;
	bool initiator;

	if (hs->state == HANDSHAKE_CONSUMED_RESPONSE)
		initiator = true;
	else if (hs->state == HANDSHAKE_CREATED_RESPONSE)
		initiator = false;
	else
		return NULL;
	kp = calloc(1, sizeof(*kp));
	if (!kp)
		return NULL;
	wg_kdf(k1, k2, NULL, NULL, 0, hs->chaining_key);
	/* The initiator sends with the first key, the responder with the second. */
	kp->send = dp_aead_new(initiator ? k1 : k2);
	kp->recv = dp_aead_new(initiator ? k2 : k1);
	crypto_wipe(k1, sizeof(k1));
	crypto_wipe(k2, sizeof(k2));
	if (!kp->send || !kp->recv) {
		dp_aead_free(kp->send);
		dp_aead_free(kp->recv);
		free(kp);
		return NULL;
	}
	atomic_init(&kp->refcount, 1);
	atomic_init(&kp->send_counter, 0);
	atomic_init(&kp->valid, true);
	pthread_mutex_init(&kp->replay_lock, NULL);
	replay_init(&kp->replay);
	kp->entry.type = INDEX_KEYPAIR;
	kp->entry.keypair = kp;
	kp->birthdate = now;
	kp->i_am_the_initiator = initiator;
	kp->remote_index = hs->remote_index;
	noise_handshake_clear(hs);
	return kp;
}
