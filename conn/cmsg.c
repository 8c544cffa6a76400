/* SPDX-License-Identifier: MIT */
/* Control messages: the generic put and find, and UDP_SEGMENT / UDP_GRO. */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <linux/udp.h>
#include <netinet/in.h>

#include "conn/cmsg.h"

/* Fills the cmsg through CMSG_DATA so data alignment is the platform's,
 * not a guess. */
size_t vg_cmsg_put(void *ctl, size_t len, int level, int type, const void *data, size_t dlen)
{
	struct cmsghdr *cm = ctl;

	if (len < CMSG_SPACE(dlen))
		return 0;
	memset(cm, 0, CMSG_SPACE(dlen));
	cm->cmsg_level = level;
	cm->cmsg_type = type;
	cm->cmsg_len = CMSG_LEN(dlen);
	memcpy(CMSG_DATA(cm), data, dlen);
	return CMSG_SPACE(dlen);
}

/* CMSG_NXTHDR trusts cmsg_len; a zero or oversized length in a truncated or
 * hostile buffer must end the walk instead of looping or overrunning. */
static bool cmsg_sane(const struct msghdr *msg, const struct cmsghdr *cm)
{
	size_t used = (size_t)((const char *)cm - (const char *)msg->msg_control);

	return cm->cmsg_len >= CMSG_LEN(0) && cm->cmsg_len <= msg->msg_controllen - used;
}

const struct cmsghdr *vg_cmsg_find(const struct msghdr *msg, int level, int type, size_t dlen)
{
	struct cmsghdr *cm;

	if (!msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr))
		return NULL;
	for (cm = CMSG_FIRSTHDR((struct msghdr *)msg); cm;
	     cm = CMSG_NXTHDR((struct msghdr *)msg, cm)) {
		if (!cmsg_sane(msg, cm))
			return NULL;
		if (cm->cmsg_level == level && cm->cmsg_type == type &&
		    cm->cmsg_len >= CMSG_LEN(dlen))
			return cm;
	}
	return NULL;
}

size_t vg_cmsg_put_gso(void *ctl, size_t len, uint16_t gso_size)
{
	return vg_cmsg_put(ctl, len, SOL_UDP, UDP_SEGMENT, &gso_size, sizeof(gso_size));
}

int vg_cmsg_gro_size(const struct msghdr *msg)
{
	const struct cmsghdr *cm = vg_cmsg_find(msg, SOL_UDP, UDP_GRO, sizeof(int));
	int gso;

	if (!cm)
		return 0;
	memcpy(&gso, CMSG_DATA(cm), sizeof(gso));
	return gso > 0 ? gso : 0;
}
