/* SPDX-License-Identifier: MIT */
/*
 * Data messages: sealing and opening type-4 messages (index, counter
 * limits, replay window), and what a sent or authenticated one means for
 * its peer (timers, key confirmation, roaming, rekeying).
 */
#include "config.h"

#include <errno.h>

#include "device/crypto.h"
#include "device/peer.h"
#include "device/proto_impl.h"
#include "device/timers.h"

void wg_peer_sent_data(struct wg_peer *peer, bool keepalive, uint64_t now,
		       struct wg_action *act)
{
	struct noise_keypair *cur;
	bool rekey;

	wg_act_reset(act, peer);
	pthread_mutex_lock(&peer->lock);
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	wg_timers_on_any_authenticated_packet_sent(peer);
	if (!keepalive)
		wg_timers_on_data_sent(peer, now);
	cur = wg_peer_current_keypair(peer);
	rekey = cur && atomic_load(&cur->valid) &&
		(atomic_load(&cur->send_counter) > REKEY_AFTER_MESSAGES ||
		 (cur->i_am_the_initiator &&
		  wg_expired(cur->birthdate, wg_timers_rekey_after_time, now)));
	noise_keypair_put(cur);
	if (rekey)
		wg_peer_send_initiation_locked(peer, now, false, act);
	pthread_mutex_unlock(&peer->lock);
}

void wg_peer_received_data(struct wg_peer *peer, struct noise_keypair *kp,
			   const struct vg_endpoint *src, bool keepalive, uint64_t now,
			   struct wg_action *act)
{
	struct noise_keypair *cur;
	bool rekey;

	wg_act_reset(act, peer);
	pthread_mutex_lock(&peer->lock);
	if (wg_peer_confirm_keypair(peer, kp)) {
		wg_timers_on_handshake_complete(peer);
		act->flags |= WG_ACT_SEND_STAGED;
	}
	/* The initiator starts one last handshake before the session runs
	 * out, so a quiet responder does not have to. */
	cur = wg_peer_current_keypair(peer);
	rekey = cur && atomic_load(&cur->valid) && cur->i_am_the_initiator &&
		!peer->timers.sent_lastminute_handshake &&
		wg_expired(cur->birthdate,
			wg_timers_reject_after_time - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT,
			now);
	noise_keypair_put(cur);
	if (rekey) {
		peer->timers.sent_lastminute_handshake = true;
		wg_peer_send_initiation_locked(peer, now, false, act);
	}
	wg_timers_on_any_authenticated_packet_received(peer);
	wg_timers_on_any_authenticated_packet_traversal(peer, now);
	if (src)
		wg_peer_set_endpoint(peer, src);
	if (!keepalive)
		wg_timers_on_data_received(peer, now);
	pthread_mutex_unlock(&peer->lock);
}

size_t wg_data_seal(struct noise_keypair *kp, uint64_t nonce, uint8_t *buf,
		    size_t plain_len)
{
	struct message_data *hdr = (void *)(buf - MESSAGE_DATA_HEADER_LEN);

	hdr->header.type = htole32(MESSAGE_DATA);
	hdr->key_idx = kp->remote_index;
	hdr->counter = htole64(nonce);
	dp_aead_seal(kp->send, nonce, buf, plain_len);
	return MESSAGE_DATA_HEADER_LEN + plain_len + NOISE_AUTHTAG_LEN;
}

int wg_data_open_to(struct wg_proto *p, const uint8_t *msg, size_t len, uint8_t *dst,
		    uint64_t now, struct noise_keypair **kpp, uint8_t **plain, size_t *plain_len)
{
	const struct message_data *hdr = (const void *)msg;
	struct noise_keypair *kp;
	uint64_t counter;
	int ret;

	*kpp = NULL;
	if (len < MESSAGE_DATA_MIN_LEN || le32toh(hdr->header.type) != MESSAGE_DATA) {
		wg_proto_count(p, WG_CNT_BAD_LENGTH);
		return -EINVAL;
	}
	kp = index_table_get_keypair(&p->index, hdr->key_idx);
	if (!kp) {
		wg_proto_count(p, WG_CNT_UNKNOWN_INDEX);
		return -ENOENT;
	}
	counter = le64toh(hdr->counter);
	ret = -EKEYEXPIRED;
	if (!noise_keypair_receive_ok(kp, counter, now)) {
		wg_proto_count(p, WG_CNT_EXPIRED_DATA);
		goto fail;
	}
	ret = dp_aead_open_to(kp->recv, counter, dst, msg + MESSAGE_DATA_HEADER_LEN,
			      len - MESSAGE_DATA_HEADER_LEN);
	if (ret) {
		wg_proto_count(p, WG_CNT_BAD_DATA);
		goto fail;
	}
	ret = noise_keypair_replay(kp, counter);
	if (ret) {
		wg_proto_count(p, WG_CNT_REPLAYED_DATA);
		goto fail;
	}
	*kpp = kp;
	*plain = dst;
	*plain_len = len - MESSAGE_DATA_MIN_LEN;
	return 0;
fail:
	noise_keypair_put(kp);
	return ret;
}

int wg_data_open(struct wg_proto *p, uint8_t *msg, size_t len, uint64_t now,
		 struct noise_keypair **kpp, uint8_t **plain, size_t *plain_len)
{
	return wg_data_open_to(p, msg, len, msg + MESSAGE_DATA_HEADER_LEN, now, kpp, plain,
			       plain_len);
}
