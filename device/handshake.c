/* SPDX-License-Identifier: MIT */
/*
 * The handshake thread: initiations, responses and cookie replies arrive
 * from the workers through a bounded queue (full: dropped and counted); the
 * queue depth tells the cookie checker when we are under load, and then
 * MAC2 is required and sources are rate-limited.  Replies go back out
 * through the mailbox of the worker whose socket the message came in on.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "device/device_impl.h"

int hs_enqueue(struct device *d, const struct hs_item *it)
{
	int ret = 0;

	pthread_mutex_lock(&d->hs_lock);
	if (d->hs_count == HS_QUEUE_CAP) {
		ret = -ENOSPC;
	} else {
		d->hs_queue[(d->hs_head + d->hs_count) % HS_QUEUE_CAP] = *it;
		if (!d->hs_count++)
			pthread_cond_signal(&d->hs_cond);
	}
	pthread_mutex_unlock(&d->hs_lock);
	return ret;
}

static void count_received(struct device *d, struct dev_peer *p, uint32_t type, size_t len)
{
	int i;

	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
		i = PC_handshake_initiations_received;
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		i = PC_handshake_responses_received;
		break;
	case MESSAGE_HANDSHAKE_COOKIE:
		i = PC_cookie_replies_received;
		break;
	default:
		return;
	}
	cnt_add(&d->hs_cnt.p[i], 1);
	if (p)
		cnt_add(&p->cnt[SLOT_HANDSHAKE].v[i], 1);
	/* Received bytes count authenticated messages only, as wireguard-go
	 * does: an initiation or response that made a session. */
	if (p && type != MESSAGE_HANDSHAKE_COOKIE) {
		cnt_add(&d->hs_cnt.p[PC_rx_bytes], len);
		cnt_add(&p->cnt[SLOT_HANDSHAKE].v[PC_rx_bytes], len);
	}
}

static void handle_one(struct device *d, struct hs_item *it, size_t qlen)
{
	struct wg_endpoint src;
	struct wg_action act;
	struct dev_peer *p;
	struct mbox_item mb;
	uint64_t now = dev_now(d);
	bool under_load;
	int ret;

	under_load = cookie_checker_under_load(&d->proto.cookie, qlen, now);
	ep_to_wg(&src, &it->src);
	ret = wg_proto_handle_handshake(&d->proto, it->msg, it->len, &src, under_load, now, &act);
	p = dev_peer_of(act.peer);
	if (!ret)
		count_received(d, p, it->msg[0], it->len);
	if (act.flags & WG_ACT_SEND_MSG) {
		memset(&mb, 0, sizeof(mb));
		mb.kind = MBOX_RAW;
		mb.peer = p;
		mb.ep = it->src;
		mb.len = (uint16_t)act.msg_len;
		memcpy(mb.msg, act.msg, act.msg_len);
		/* Counted by the worker once it is really sent. */
		mbox_push(&d->workers[it->worker % d->nworkers], &mb);
	}
	if (p && (act.flags & (WG_ACT_SEND_STAGED | WG_ACT_SEND_KEEPALIVE))) {
		memset(&mb, 0, sizeof(mb));
		mb.peer = p;
		if (act.flags & WG_ACT_SEND_STAGED)
			mb.kind = act.flags & WG_ACT_SEND_KEEPALIVE ? MBOX_STAGED_KEEPALIVE
								    : MBOX_STAGED;
		else
			mb.kind = MBOX_KEEPALIVE;
		mbox_push(&d->workers[dev_worker_for(d, p)], &mb);
	}
}

static void *hs_main(void *arg)
{
	struct device *d = arg;
	struct hs_item it;
	size_t qlen;

	for (;;) {
		pthread_mutex_lock(&d->hs_lock);
		while (!d->hs_count && !atomic_load(&d->stopping))
			pthread_cond_wait(&d->hs_cond, &d->hs_lock);
		if (atomic_load(&d->stopping)) {
			pthread_mutex_unlock(&d->hs_lock);
			break;
		}
		it = d->hs_queue[d->hs_head];
		d->hs_head = (d->hs_head + 1) % HS_QUEUE_CAP;
		qlen = d->hs_count--;
		pthread_mutex_unlock(&d->hs_lock);

		pthread_rwlock_rdlock(&d->cfg_lock);
		handle_one(d, &it, qlen);
		pthread_rwlock_unlock(&d->cfg_lock);
	}
	return NULL;
}

int hs_start(struct device *d)
{
	int ret = pthread_create(&d->hs_thread, NULL, hs_main, d);

	if (ret)
		return -ret;
	d->hs_started = true;
	return 0;
}

void hs_stop(struct device *d)
{
	if (!d->hs_started)
		return;
	atomic_store(&d->stopping, true);
	pthread_mutex_lock(&d->hs_lock);
	pthread_cond_broadcast(&d->hs_cond);
	pthread_mutex_unlock(&d->hs_lock);
	pthread_join(d->hs_thread, NULL);
	d->hs_started = false;
}
