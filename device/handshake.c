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

int dev_hs_enqueue(struct device *d, const struct hs_item *it)
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

static void handle_one(struct device *d, struct hs_item *it, size_t qlen)
{
	struct wg_action act;
	uint64_t now = dev_now(d);
	bool under_load;
	int ret;

	under_load = cookie_checker_under_load(&d->proto.cookie, qlen, now);
	ret = wg_proto_handle_handshake(&d->proto, it->msg, it->len, &it->src, under_load, now, &act);
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

		epoch_enter(&d->epoch, d->nworkers);
		handle_one(d, &it, qlen);
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
	size_t qlen;

	for (;;) {
		pthread_mutex_lock(&d->hs_lock);
		if (!d->hs_count) {
			pthread_mutex_unlock(&d->hs_lock);
			return;
		}
		it = d->hs_queue[d->hs_head];
		d->hs_head = (d->hs_head + 1) % HS_QUEUE_CAP;
		qlen = d->hs_count--;
		pthread_mutex_unlock(&d->hs_lock);
		handle_one(d, &it, qlen);
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
