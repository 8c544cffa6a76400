/* SPDX-License-Identifier: MIT */
/*
 * Handshake messages for a peer: sending initiations, and handling a
 * received initiation, response or cookie reply (MAC checks, cookie
 * replies and rate limiting under load, then the Noise state and the new
 * keypair).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "device/crypto.h"
#include "device/peer.h"
#include "device/proto_impl.h"

/* TAI64N from the (injectable) wall clock.  Nanoseconds are rounded down
 * to 2^24 ns like the kernel and wireguard-go, so they leak no fine clock. */
static void timestamp_now(struct wg_proto *p, uint8_t out[NOISE_TIMESTAMP_LEN])
{
	uint64_t ns = p->wallclock(p->wallclock_ctx);
	uint64_t secs = 0x400000000000000aULL + ns / WG_NSEC_PER_SEC;
	uint32_t nano = (uint32_t)(ns % WG_NSEC_PER_SEC) & ~(uint32_t)0xffffff;
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(secs >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nano >> (24 - 8 * i));
}

int wg_peer_send_initiation_locked(struct wg_peer *peer, uint64_t now, bool retry,
				   struct wg_action *act)
{
	struct message_handshake_initiation *m = (void *)act->msg;
	struct wg_proto *p = peer->proto;
	struct wg_timers *t = &peer->timers;
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	int ret;

	if (peer->unlinked)
		return -ENOENT;
	if (!retry)
		t->handshake_attempts = 0;
	if (t->have_sent_handshake && !wg_expired(t->last_sent_handshake, REKEY_TIMEOUT, now))
		return -EAGAIN;
	timestamp_now(p, ts);
	pthread_rwlock_rdlock(&p->identity.lock);
	ret = noise_create_initiation(&peer->handshake, &p->identity, m, ts);
	pthread_rwlock_unlock(&p->identity.lock);
	if (ret)
		return ret;
	t->last_sent_handshake = now;
	t->have_sent_handshake = true;
	m->sender_index = index_table_insert(&p->index, &peer->handshake.entry);
	cookie_add_macs(&peer->cookie, act->msg, sizeof(*m), now);
	act->flags |= WG_ACT_SEND_MSG;
	act->msg_len = sizeof(*m);
	act->peer = peer;
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	wg_timers_on_any_authenticated_packet_sent(peer);
	wg_timers_on_handshake_initiated(peer, now);
	return 0;
}

int wg_peer_want_handshake(struct wg_peer *peer, uint64_t now, struct wg_action *act)
{
	int ret;

	wg_act_reset(act, peer);
	pthread_mutex_lock(&peer->lock);
	ret = wg_peer_send_initiation_locked(peer, now, false, act);
	pthread_mutex_unlock(&peer->lock);
	return ret;
}

static int handle_initiation(struct wg_proto *p, const uint8_t *msg,
			     const struct vg_endpoint *src, uint64_t now,
			     struct wg_action *act)
{
	/* The ephemeral is hashed in place: work on a copy of the message. */
	struct message_handshake_initiation in;
	struct message_handshake_response *out = (void *)act->msg;
	uint8_t pub[NOISE_PUBLIC_KEY_LEN], hash[NOISE_HASH_LEN], ck[NOISE_HASH_LEN];
	struct noise_keypair *kp;
	struct wg_peer *peer;
	int ret;

	memcpy(&in, msg, sizeof(in));
	pthread_rwlock_rdlock(&p->identity.lock);
	ret = noise_consume_initiation_static(&in, &p->identity, pub, hash, ck);
	pthread_rwlock_unlock(&p->identity.lock);
	peer = ret ? NULL : wg_proto_find_peer(p, pub);
	if (!peer) {
		wg_proto_count(p, WG_CNT_BAD_INITIATION);
		ret = -ENOENT;
		goto out;
	}
	pthread_mutex_lock(&peer->lock);
	ret = peer->unlinked ? -ENOENT :
	      noise_consume_initiation_finish(&peer->handshake, &in, hash, ck, now);
	if (ret) {
		wg_proto_count(p, ret == -EALREADY || ret == -EBUSY ?
			 WG_CNT_REPLAYED_INITIATION : WG_CNT_BAD_INITIATION);
		goto unlock;
	}
	wg_timers_on_any_authenticated_packet_received(peer);
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	wg_peer_set_endpoint(peer, src);

	peer->timers.last_sent_handshake = now;
	peer->timers.have_sent_handshake = true;
	ret = noise_create_response(&peer->handshake, out);
	if (ret)
		goto unlock;
	out->sender_index = index_table_insert(&p->index, &peer->handshake.entry);
	cookie_add_macs(&peer->cookie, act->msg, sizeof(*out), now);
	kp = noise_derive_keypair(&peer->handshake, now);
	ret = -ENOMEM;
	if (!kp)
		goto unlock;
	wg_peer_add_keypair(peer, kp);
	wg_timers_on_session_derived(peer, now);
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	wg_timers_on_any_authenticated_packet_sent(peer);
	act->peer = peer;
	act->flags |= WG_ACT_SEND_MSG;
	act->msg_len = sizeof(*out);
	ret = 0;
unlock:
	pthread_mutex_unlock(&peer->lock);
out:
	crypto_wipe(hash, sizeof(hash));
	crypto_wipe(ck, sizeof(ck));
	return ret;
}

static int handle_response(struct wg_proto *p, const uint8_t *msg,
			   const struct vg_endpoint *src, uint64_t now,
			   struct wg_action *act)
{
	struct message_handshake_response in;
	struct noise_keypair *kp;
	struct wg_peer *peer;
	int ret = -ENOENT;

	memcpy(&in, msg, sizeof(in));
	peer = index_table_lookup_handshake(&p->index, in.receiver_index);
	if (!peer)
		goto fail;
	pthread_mutex_lock(&peer->lock);
	ret = -ESTALE;
	if (peer->unlinked || !peer->handshake.entry.hashed ||
	    peer->handshake.entry.index != in.receiver_index)
		goto unlock;
	pthread_rwlock_rdlock(&p->identity.lock);
	ret = noise_consume_response(&peer->handshake, &p->identity, &in);
	pthread_rwlock_unlock(&p->identity.lock);
	if (ret)
		goto unlock;
	kp = noise_derive_keypair(&peer->handshake, now);
	ret = -ENOMEM;
	if (!kp)
		goto unlock;
	wg_peer_add_keypair(peer, kp);
	wg_peer_set_endpoint(peer, src);
	wg_timers_on_session_derived(peer, now);
	wg_timers_on_handshake_complete(peer);
	wg_timers_on_any_authenticated_packet_received(peer);
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	/* The initiator confirms the session at once: staged data, or a
	 * keepalive when there is none. */
	act->peer = peer;
	act->flags |= WG_ACT_SEND_STAGED;
	if (!peer->staged_count)
		act->flags |= WG_ACT_SEND_KEEPALIVE;
	pthread_mutex_unlock(&peer->lock);
	return 0;
unlock:
	pthread_mutex_unlock(&peer->lock);
fail:
	if (ret != -ENOMEM)	/* not the response's fault: counted by the caller */
		wg_proto_count(p, WG_CNT_BAD_RESPONSE);
	return ret;
}

static int handle_cookie(struct wg_proto *p, const uint8_t *msg, uint64_t now)
{
	struct message_handshake_cookie in;
	struct wg_peer *peer;
	int ret = -ENOENT;

	memcpy(&in, msg, sizeof(in));
	peer = index_table_lookup_handshake(&p->index, in.receiver_index);
	if (peer)
		ret = cookie_consume_reply(&peer->cookie, &in, now);
	if (ret)
		wg_proto_count(p, WG_CNT_BAD_COOKIE);
	return ret;
}

static size_t expected_len(uint32_t type)
{
	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
		return MESSAGE_INITIATION_LEN;
	case MESSAGE_HANDSHAKE_RESPONSE:
		return MESSAGE_RESPONSE_LEN;
	case MESSAGE_HANDSHAKE_COOKIE:
		return MESSAGE_COOKIE_LEN;
	default:
		return 0;
	}
}

/*
 * Everything before the Diffie-Hellman work: length, type, MAC1, a cookie
 * reply consumed, and under load the per-source rate limit and MAC2
 * (without it: a cookie reply into act).  0: dealt with, 1: an initiation or
 * response for handle_checked(), -errno: dropped (and counted).
 */
static int precheck(struct wg_proto *p, const uint8_t *msg, size_t len,
		    const struct vg_endpoint *src, bool under_load, uint64_t now,
		    struct wg_action *act)
{
	uint8_t key[COOKIE_SRC_MAX];
	enum cookie_mac_state mac;
	uint32_t type, sender;
	size_t keylen;

	if (len < sizeof(struct message_header)) {
		wg_proto_count(p, WG_CNT_BAD_LENGTH);
		return -EINVAL;
	}
	memcpy(&type, msg, sizeof(type));
	type = le32toh(type);
	if (!expected_len(type)) {
		wg_proto_count(p, WG_CNT_BAD_TYPE);
		return -EINVAL;
	}
	if (len != expected_len(type)) {
		wg_proto_count(p, WG_CNT_BAD_LENGTH);
		return -EINVAL;
	}
	if (type == MESSAGE_HANDSHAKE_COOKIE)
		return handle_cookie(p, msg, now);

	keylen = wg_endpoint_key(src, key);
	mac = cookie_validate(&p->cookie, msg, len, key, keylen, under_load, now);
	if (mac == COOKIE_INVALID_MAC) {
		wg_proto_count(p, WG_CNT_BAD_MAC1);
		return -EBADMSG;
	}
	if (!under_load)
		return 1;
	/*
	 * Under load both a cookie reply and the Diffie-Hellman work come out
	 * of the source's bucket: a flood with valid MAC1s from a few hundred
	 * addresses earns a few thousand cookie replies a second, not one per
	 * message (each is a seal and a send on the worker that also carries
	 * the data), while a peer's own address still gets its reply and, a
	 * REKEY_TIMEOUT later, its retry with MAC2 handled.
	 */
	if (p->ratelimit && !p->ratelimit(p->ratelimit_ctx, src, now)) {
		wg_proto_count(p, WG_CNT_RATELIMITED);
		return -EBUSY;
	}
	if (mac == COOKIE_VALID_MAC_BUT_NO_COOKIE) {
		memcpy(&sender, msg + 4, sizeof(sender));
		cookie_create_reply(&p->cookie, (void *)act->msg, msg, len, sender,
				    key, keylen, now);
		act->flags |= WG_ACT_SEND_MSG;
		act->msg_len = MESSAGE_COOKIE_LEN;
		wg_proto_count(p, WG_CNT_COOKIE_SENT);
		return 0;
	}
	return 1;
}

static int handle_checked(struct wg_proto *p, const uint8_t *msg, size_t len,
			  const struct vg_endpoint *src, uint64_t now, struct wg_action *act)
{
	uint32_t type;

	memcpy(&type, msg, sizeof(type));
	if (le32toh(type) == MESSAGE_HANDSHAKE_INITIATION && len == MESSAGE_INITIATION_LEN)
		return handle_initiation(p, msg, src, now, act);
	if (le32toh(type) == MESSAGE_HANDSHAKE_RESPONSE && len == MESSAGE_RESPONSE_LEN)
		return handle_response(p, msg, src, now, act);
	wg_proto_count(p, WG_CNT_BAD_TYPE);
	return -EINVAL;
}

int wg_proto_precheck_handshake(struct wg_proto *p, const uint8_t *msg, size_t len,
				const struct vg_endpoint *src, bool under_load,
				uint64_t now, struct wg_action *act)
{
	wg_act_reset(act, NULL);
	return precheck(p, msg, len, src, under_load, now, act);
}

int wg_proto_handle_checked(struct wg_proto *p, const uint8_t *msg, size_t len,
			    const struct vg_endpoint *src, uint64_t now, struct wg_action *act)
{
	wg_act_reset(act, NULL);
	return handle_checked(p, msg, len, src, now, act);
}

int wg_proto_handle_handshake(struct wg_proto *p, const uint8_t *msg, size_t len,
			      const struct vg_endpoint *src, bool under_load,
			      uint64_t now, struct wg_action *act)
{
	int ret;

	wg_act_reset(act, NULL);
	ret = precheck(p, msg, len, src, under_load, now, act);
	if (ret <= 0)
		return ret;
	return handle_checked(p, msg, len, src, now, act);
}
