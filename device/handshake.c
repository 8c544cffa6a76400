/* SPDX-License-Identifier: MIT */
/*
 * The handshake thread: initiations and responses that passed their MAC
 * checks arrive from the workers through a bounded queue (full: dropped and
 * counted), and it does their Diffie-Hellman work.  The checks themselves,
 * cookie replies received, and under load the cookie replies sent and the
 * per-source rate limit are the workers' (dev_hs_receive): a flood without
 * valid cookies never reaches the queue, so it can neither fill it nor
 * crowd out a peer that proves its address.  The queue depth tells when we
 * are under load.  Replies go back out through the mailbox of the worker
 * whose socket the message came in on.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "device/device_impl.h"

/* 0, or -ENOSPC when the queue is full (counted by the caller). */
static int dev_hs_enqueue(struct device *d, const struct hs_item *it)
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

static void handle_one(struct device *d, struct hs_item *it)
{
	struct wg_action act;
	uint64_t now = dev_now(d);
	int ret;

	ret = wg_proto_handle_checked(&d->proto, it->msg, it->len, &it->src, now, &act);
	if (!ret) {
		struct dev_peer *p = dev_peer_of(act.peer);

		dev_count_handshake(&d->hs_cnt, p ? p->cnt[SLOT_HANDSHAKE(d)].v : NULL, it->msg[0],
				    it->len, false);
	} else if (ret == -ENOMEM) {
		/* No session without memory: the initiator's retransmission
		 * tries again. */
		cnt_add(&d->hs_cnt.d[DC_drop_no_memory], 1);
		dev_log_once(d, DEV_LOGGED_NOMEM, "out of memory: packets dropped (drop_no_memory)");
	}
	/* The reply leaves by the socket the message came in on; it is
	 * counted by the worker once it is really sent. */
	dev_act(d, NULL, &act, &it->src, it->worker);
}

static unsigned int hs_queue_len(struct device *d)
{
	unsigned int n;

	pthread_mutex_lock(&d->hs_lock);
	n = d->hs_count;
	pthread_mutex_unlock(&d->hs_lock);
	return n;
}

/*
 * A handshake message in worker w's batch.  What it costs no
 * Diffie-Hellman to decide is decided here; the rest is queued.  Under
 * load the cookie reply leaves at once by the socket the message came in
 * on, and costs about what receiving the message did.
 */
void dev_hs_receive(struct worker *w, const struct vg_rx_pkt *pk, uint64_t now)
{
	struct device *d = w->dev;
	struct wg_action act;
	struct hs_item it;
	bool under_load;
	int ret;

	if (pk->len > sizeof(it.msg)) {
		cnt_add(&w->cnt.d[DC_drop_malformed], 1);
		return;
	}
	under_load = cookie_checker_under_load(&d->proto.cookie, hs_queue_len(d), now);
	ret = wg_proto_precheck_handshake(&d->proto, pk->data, pk->len, &pk->ep, under_load,
					  now, &act);
	if (ret < 0)
		return;
	if (!ret) {
		dev_count_handshake(&w->cnt, NULL, pk->data[0], pk->len, false);
		dev_act(d, w, &act, &pk->ep, w->id);
		return;
	}
	it.src = pk->ep;
	it.worker = w->id;
	it.len = (uint16_t)pk->len;
	memcpy(it.msg, pk->data, pk->len);
	if (dev_hs_enqueue(d, &it))
		cnt_add(&w->cnt.p[PC_drop_queue_full], 1);
}

static void *hs_main(void *arg)
{
	struct device *d = arg;
	struct hs_item it;

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
		d->hs_count--;
		pthread_mutex_unlock(&d->hs_lock);

		epoch_enter(&d->epoch, d->nworkers);
		handle_one(d, &it);
		epoch_exit(&d->epoch, d->nworkers);
	}
	return NULL;
}

/*
 * Tests and fuzzers that run the device without its threads: handles the
 * messages queued so far on the calling thread, as the handshake thread
 * would (inside a worker's epoch, dev_worker_enter()).
 */
void dev_hs_run_queued(struct device *d)
{
	struct hs_item it;

	for (;;) {
		pthread_mutex_lock(&d->hs_lock);
		if (!d->hs_count) {
			pthread_mutex_unlock(&d->hs_lock);
			return;
		}
		it = d->hs_queue[d->hs_head];
		d->hs_head = (d->hs_head + 1) % HS_QUEUE_CAP;
		d->hs_count--;
		pthread_mutex_unlock(&d->hs_lock);
		handle_one(d, &it);
	}
}

int dev_hs_start(struct device *d)
{
	int ret = pthread_create(&d->hs_thread, NULL, hs_main, d);

	if (ret)
		return -ret;
	d->hs_started = true;
	return 0;
}

void dev_hs_stop(struct device *d)
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
