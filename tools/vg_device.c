// SPDX-License-Identifier: MIT
#include "config.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

bool vg_peer_has_endpoint(const struct vg_peer *peer)
{
	return peer->endpoint.sa.sa_family == AF_INET ||
	       peer->endpoint.sa.sa_family == AF_INET6;
}

bool vg_hostport_format(char buf[VG_HOSTPORT_SIZE], const union vg_sockaddr *ep)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	socklen_t len = ep->sa.sa_family == AF_INET ? sizeof(ep->in4) : sizeof(ep->in6);
	int ret;

	ret = getnameinfo(&ep->sa, len, host, sizeof(host), serv, sizeof(serv),
			  NI_DGRAM | NI_NUMERICSERV | NI_NUMERICHOST);
	if (ret) {
		snprintf(buf, VG_HOSTPORT_SIZE, "%s", gai_strerror(ret));
		return false;
	}
	if (ep->sa.sa_family == AF_INET6 && strchr(host, ':'))
		snprintf(buf, VG_HOSTPORT_SIZE, "[%s]:%s", host, serv);
	else
		snprintf(buf, VG_HOSTPORT_SIZE, "%s:%s", host, serv);
	return true;
}
