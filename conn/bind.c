// SPDX-License-Identifier: MIT
/* The bind interface: dispatch, counters, offload state, logging. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/bind_impl.h"

static void log_stderr(void *arg, const char *msg)
{
	fprintf(stderr, "vguard: %s\n", msg);
}

void vg_bind_init(struct vg_bind *b, const struct vg_bind_ops *ops,
		  const struct vg_bind_config *cfg)
{
	unsigned int i;

	b->ops = ops;
	b->cfg = *cfg;
	if (!b->cfg.log)
		b->cfg.log = log_stderr;
	if (!b->cfg.log_fault)
		b->cfg.log_fault = b->cfg.log;
	if (!b->cfg.sockbuf)
		b->cfg.sockbuf = VG_BIND_SOCKBUF;
	if (!b->cfg.rcvbuf)
		b->cfg.rcvbuf = VG_BIND_RCVBUF;
	for (i = 0; i < 4; i++)
		b->reason[i] = VG_BIND_REASON_NO_SOCKET;
}

static void vlog(struct vg_bind *b, vg_bind_log_fn fn, const char *fmt, va_list ap)
{
	char msg[256];
	int len = snprintf(msg, sizeof(msg), "udp queue %u: ", b->cfg.queue);

	vsnprintf(msg + len, sizeof(msg) - (size_t)len, fmt, ap);
	fn(b->cfg.log_arg, msg);
}

void vg_bind_log(struct vg_bind *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(b, b->cfg.log, fmt, ap);
	va_end(ap);
}

void vg_bind_log_once(struct vg_bind *b, unsigned int event, const char *fmt, ...)
{
	va_list ap;

	if (b->logged & event)
		return;
	b->logged |= event;
	va_start(ap, fmt);
	vlog(b, event & VG_LOG_FAULTS ? b->cfg.log_fault : b->cfg.log, fmt, ap);
	va_end(ap);
}

unsigned int vg_bind_bit_index(unsigned int bit)
{
	return (unsigned int)__builtin_ctz(bit) & 3;
}

void vg_bind_set_state(struct vg_bind *b, unsigned int bits, bool on,
		       enum vg_bind_offload_reason why)
{
	unsigned int i, off;

	for (i = 0; i < 4; i++) {
		if (!(bits & (1u << i)))
			continue;
		__atomic_store_n(&b->reason[i], why, __ATOMIC_RELAXED);
	}
	if (on)
		off = __atomic_load_n(&b->offloads, __ATOMIC_RELAXED) | bits;
	else
		off = __atomic_load_n(&b->offloads, __ATOMIC_RELAXED) & ~bits;
	__atomic_store_n(&b->offloads, off, __ATOMIC_RELAXED);
}

void vg_bind_close(struct vg_bind *b)
{
	if (b)
		b->ops->close(b);
}

void vg_bind_group_close(struct vg_bind **binds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		vg_bind_close(binds[i]);
		binds[i] = NULL;
	}
}

int vg_bind_group_open(struct vg_bind **binds, const struct vg_bind_config *cfg)
{
	struct vg_bind_config c = *cfg;
	unsigned int n = cfg->queues ? cfg->queues : 1, i;
	int ret;

	c.queues = n;
	for (i = 0; i < n; i++) {
		c.queue = i;
		ret = vg_bind_open(&binds[i], &c);
		if (ret < 0) {
			vg_bind_group_close(binds, i);
			return ret;
		}
		c.port = vg_bind_port(binds[0]);
	}
	return 0;
}

int vg_bind_fd(const struct vg_bind *b, int family)
{
	return b->ops->fd(b, family);
}

uint16_t vg_bind_port(const struct vg_bind *b)
{
	return b->port;
}

int vg_bind_recv(struct vg_bind *b, int family, struct vg_rx_pkt *pkts, unsigned int n)
{
	if (!n)
		return 0;
	return b->ops->recv(b, family, pkts, n);
}

int vg_bind_recv_lent(struct vg_bind *b, int family, struct vg_rx_pkt *pkts, unsigned int n)
{
	if (!n)
		return 0;
	if (!b->ops->recv_lent)
		return b->ops->recv(b, family, pkts, n);
	return b->ops->recv_lent(b, family, pkts, n);
}

bool vg_bind_pending(const struct vg_bind *b, int family)
{
	return b->ops->pending(b, family);
}

int vg_bind_send(struct vg_bind *b, const struct vg_endpoint *ep, const struct iovec *pkts,
		 unsigned int n, unsigned int *result)
{
	unsigned int ignored;

	if (!result)
		result = &ignored;
	*result = 0;
	if (!n)
		return 0;
	return b->ops->send(b, ep, pkts, n, result);
}

void vg_bind_mark_lost(struct vg_bind *b, int err)
{
	int none = 0;

	__atomic_compare_exchange_n(&b->lost, &none, err, false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
}

int vg_bind_check(struct vg_bind *b, bool probe)
{
	if (probe && b->ops->probe)
		b->ops->probe(b);
	return -__atomic_load_n(&b->lost, __ATOMIC_RELAXED);
}

int vg_bind_set_fwmark(struct vg_bind *b, uint32_t mark)
{
	int ret = b->ops->set_fwmark(b, mark);

	if (!ret)
		b->cfg.fwmark = mark;
	return ret;
}

uint32_t vg_bind_fwmark(const struct vg_bind *b)
{
	return b->cfg.fwmark;
}

int vg_bind_rebind(struct vg_bind *b, uint16_t port)
{
	return vg_bind_group_rebind(&b, 1, port);
}

int vg_bind_group_rebind(struct vg_bind **binds, unsigned int n, uint16_t port)
{
	void **state = calloc(n ? n : 1, sizeof(*state));
	unsigned int i;
	int ret = 0;

	if (!state)
		return -ENOMEM;
	/* The same fixed port again: nothing to do (and rebinding a port
	 * without SO_REUSEPORT onto itself would fail). */
	if (n && port && port == binds[0]->port) {
		free(state);
		return 0;
	}
	for (i = 0; i < n; i++) {
		ret = binds[i]->ops->rebind_prepare(binds[i], port, &state[i]);
		if (ret < 0)
			break;
		/* Members after the first join the port it got. */
		port = binds[i]->ops->prepared_port(state[i]);
	}
	if (ret < 0) {
		while (i--)
			binds[i]->ops->rebind_abort(state[i]);
	} else {
		for (i = 0; i < n; i++)
			binds[i]->ops->rebind_commit(binds[i], state[i]);
	}
	free(state);
	return ret;
}

unsigned int vg_bind_offloads(const struct vg_bind *b)
{
	return __atomic_load_n(&b->offloads, __ATOMIC_RELAXED);
}

enum vg_bind_offload_reason vg_bind_offload_state(const struct vg_bind *b, unsigned int bit)
{
	if (!bit || (bit & (bit - 1)) || bit > VG_BIND_GRO6)
		return VG_BIND_REASON_UNKNOWN;
	return __atomic_load_n(&b->reason[vg_bind_bit_index(bit)], __ATOMIC_RELAXED);
}

const char *vg_bind_offload_reason_text(enum vg_bind_offload_reason r)
{
	static const char *const text[VG_BIND_REASON_COUNT] = {
		[VG_BIND_REASON_NO_SOCKET] = "off (no socket)",
		[VG_BIND_REASON_ON] = "on",
		[VG_BIND_REASON_SWITCH] = "off (switch)",
		[VG_BIND_REASON_KERNEL] = "off (kernel)",
		[VG_BIND_REASON_EIO] = "off (EIO)",
		[VG_BIND_REASON_NO_MEMORY] = "off (no memory)",
		[VG_BIND_REASON_UNKNOWN] = "unknown",
	};

	return (unsigned int)r < VG_BIND_REASON_COUNT ? text[r] : "unknown";
}

int vg_bind_set_offload(struct vg_bind *b, unsigned int mask, bool on)
{
	return b->ops->set_offload(b, mask & (VG_BIND_GSO | VG_BIND_GRO), on);
}

/* 8-byte atomics are only atomic on 8-byte aligned words (i386: fildq). */
_Static_assert(_Alignof(struct vg_bind_stats) >= 8, "counters are 8-aligned");

#define LOAD(f) __atomic_load_n(&b->stats.f, __ATOMIC_RELAXED)
void vg_bind_add_stats(const struct vg_bind *b, struct vg_bind_stats *out)
{
	out->rx_packets += LOAD(rx_packets);
	out->rx_bytes += LOAD(rx_bytes);
	out->rx_syscalls += LOAD(rx_syscalls);
	out->rx_gro_batches += LOAD(rx_gro_batches);
	out->rx_gro_datagrams += LOAD(rx_gro_datagrams);
	out->rx_truncated += LOAD(rx_truncated);
	out->rx_errors += LOAD(rx_errors);
	out->tx_packets += LOAD(tx_packets);
	out->tx_bytes += LOAD(tx_bytes);
	out->tx_syscalls += LOAD(tx_syscalls);
	out->tx_gso_msgs += LOAD(tx_gso_msgs);
	out->tx_gso_datagrams += LOAD(tx_gso_datagrams);
	out->tx_eagain += LOAD(tx_eagain);
	out->tx_unreachable += LOAD(tx_unreachable);
	out->tx_errors += LOAD(tx_errors);
	out->tx_gso_eio += LOAD(tx_gso_eio);
	out->tx_gso_einval += LOAD(tx_gso_einval);
	out->tx_gso_emsgsize += LOAD(tx_gso_emsgsize);
	out->tx_sticky_einval += LOAD(tx_sticky_einval);
}
#undef LOAD

void vg_bind_get_stats(const struct vg_bind *b, struct vg_bind_stats *out)
{
	memset(out, 0, sizeof(*out));
	vg_bind_add_stats(b, out);
}
