// SPDX-License-Identifier: MIT
#include "config.h"

#include <stdlib.h>
#include <sodium.h>

#include "tools/vg_device.h"

struct vg_device *vg_device_new(void)
{
	return calloc(1, sizeof(struct vg_device));
}

struct vg_peer *vg_device_add_peer(struct vg_device *dev)
{
	struct vg_peer *peer = calloc(1, sizeof(*peer));

	if (!peer)
		return NULL;
	if (dev->last_peer)
		dev->last_peer->next = peer;
	else
		dev->first_peer = peer;
	dev->last_peer = peer;
	return peer;
}

struct vg_allowedip *vg_peer_add_allowedip(struct vg_peer *peer)
{
	struct vg_allowedip *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	if (peer->last_allowedip)
		peer->last_allowedip->next = a;
	else
		peer->first_allowedip = a;
	peer->last_allowedip = a;
	return a;
}

static void free_peer(struct vg_peer *peer)
{
	struct vg_allowedip *a, *next;

	for (a = peer->first_allowedip; a; a = next) {
		next = a->next;
		free(a);
	}
	sodium_memzero(peer, sizeof(*peer));
	free(peer);
}

void vg_device_free(struct vg_device *dev)
{
	struct vg_peer *peer, *next;

	if (!dev)
		return;
	for (peer = dev->first_peer; peer; peer = next) {
		next = peer->next;
		free_peer(peer);
	}
	sodium_memzero(dev, sizeof(*dev));
	free(dev);
}
