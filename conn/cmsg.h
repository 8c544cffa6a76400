/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_CONN_CMSG_H
#define VGUARD_CONN_CMSG_H

/*
 * Control messages: writing one, finding one in a received message without
 * trusting its lengths, and the UDP_SEGMENT / UDP_GRO ones the binds send
 * and receive with (the PKTINFO ones are in sticky.h).
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Fallbacks for C libraries and kernel headers older than UDP GSO/GRO
 * (Linux 4.18 / 5.0); the values are the kernel's ABI. */
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* Writes one cmsg of dlen data bytes at ctl. Returns the bytes used
 * (CMSG_SPACE(dlen)), or 0 when it does not fit in len. */
size_t vg_cmsg_put(void *ctl, size_t len, int level, int type, const void *data, size_t dlen);

/* The first cmsg of level/type with at least dlen data bytes within
 * msg_controllen, or NULL. A malformed length ends the walk. */
const struct cmsghdr *vg_cmsg_find(const struct msghdr *msg, int level, int type, size_t dlen);

/* The UDP_GRO segment size from a received message's control data (an int,
 * as the kernel writes it), or 0 when there is none (one datagram). */
int vg_cmsg_gro_size(const struct msghdr *msg);

/* Appends a UDP_SEGMENT control message (a u16 segment size) at ctl.
 * Returns CMSG_SPACE(sizeof(uint16_t)) or 0 if it does not fit. */
size_t vg_cmsg_put_gso(void *ctl, size_t len, uint16_t gso_size);

#endif
