/* SPDX-License-Identifier: MIT */
/*
 * Packets waiting for a session: a bounded ring per peer under peer->lock,
 * dropping the oldest when full, as the kernel does.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "device/peer.h"
#include "device/proto_impl.h"

int wg_peer_stage(struct wg_peer *peer, const void *pkt, size_t len)
{
	struct wg_staged_packet *sp;
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, pkt, len);
	pthread_mutex_lock(&peer->lock);
	if (peer->staged_count == MAX_STAGED_PACKETS) {
		sp = &peer->staged[peer->staged_head];
		free(sp->data);
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		peer->staged_count--;
		atomic_fetch_add(&peer->staged_dropped, 1);
	}
	sp = &peer->staged[(peer->staged_head + peer->staged_count) % MAX_STAGED_PACKETS];
	sp->data = copy;
	sp->len = len;
	peer->staged_count++;
	pthread_mutex_unlock(&peer->lock);
	return 0;
}

ssize_t wg_peer_staged_pop(struct wg_peer *peer, void *buf, size_t cap)
{
	struct wg_staged_packet *sp;
	ssize_t ret = 0;

	pthread_mutex_lock(&peer->lock);
	if (!peer->staged_count)
		goto out;
	sp = &peer->staged[peer->staged_head];
	ret = -ENOSPC;
	if (sp->len > cap)
		goto out;
	memcpy(buf, sp->data, sp->len);
	ret = (ssize_t)sp->len;
	free(sp->data);
	sp->data = NULL;
	peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
	peer->staged_count--;
out:
	pthread_mutex_unlock(&peer->lock);
	return ret;
}

unsigned int wg_peer_staged_count(struct wg_peer *peer)
{
	unsigned int n;

	pthread_mutex_lock(&peer->lock);
	n = peer->staged_count;
	pthread_mutex_unlock(&peer->lock);
	return n;
}

void wg_peer_staged_flush_locked(struct wg_peer *peer)
{
	while (peer->staged_count) {
		free(peer->staged[peer->staged_head].data);
		peer->staged[peer->staged_head].data = NULL;
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		peer->staged_count--;
		atomic_fetch_add(&peer->staged_dropped, 1);
	}
}
