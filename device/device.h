/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_DEVICE_DEVICE_H
#define VGUARD_DEVICE_DEVICE_H

/*
 * The tunnel: one WireGuard device over a TUN (tun/tun.h) and a group of
 * batched UDP binds (conn/bind.h).
 *
 * Threads (doc/architecture.md): N queue workers, worker i owning TUN queue
 * i and bind i of an SO_REUSEPORT group, each running both paths to
 * completion in its own epoll; one handshake thread; one control thread
 * (UAPI socket, timers, link events).
 *
 * The daemon (tools/vguard.c) lets the device do everything:
 *	device_options_init(&o); device_options_from_env(&o); (flags...)
 *	tun_open(&tun, name, &topts);           (queues = device_queues(&o))
 *	device_new(&dev, tun, &o);              (takes the TUN)
 *	device_uapi_start(dev, listen_fd, path) (serves the UAPI socket)
 *	device_start(dev);
 *	reason = device_wait(dev);              (signal handler: device_stop)
 *	device_free(dev);
 * A caller with its own loop may instead read the link events itself
 * (external_link_events + device_link_event()) and serve &device_uapi_ops
 * with the device as ctx from its own UAPI server.
 * Errors are negative errno values.
 */

#include <stdbool.h>
#include <stdint.h>

#include "device/uapi.h"
#include "tun/tun.h"

/* The multi-queue TUN's limit; per-queue state is sized by the real count. */
#define DEVICE_MAX_QUEUES TUN_MAX_QUEUES

enum device_log_level {
	DEVICE_LOG_SILENT = 0,
	DEVICE_LOG_ERROR = 1,
	DEVICE_LOG_VERBOSE = 2,
};

struct epoll_event;
struct vg_memnet;

struct device_options {
	unsigned int queues;	/* 0: one per online CPU, at most DEVICE_MAX_QUEUES */
	bool no_udp_gso;	/* never send with UDP_SEGMENT */
	bool no_udp_gro_rx;	/* never receive with UDP_GRO */
	int udp_rcvbuf;		/* the UDP sockets' SO_RCVBUF; 0: VG_BIND_RCVBUF */
	int log_level;		/* enum device_log_level */
	/* One line per message, no trailing newline; NULL: stderr. */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
	/* The caller reads the TUN's link events and hands them to
	 * device_link_event() (the control thread then leaves the event fd
	 * alone); without it the control thread reads them itself. */
	bool external_link_events;
	/* Tests: open the UDP binds on this in-memory network. */
	struct vg_memnet *memnet;
	/* Tests: the monotonic clock in ns (NULL: CLOCK_MONOTONIC), so the
	 * protocol's minutes-long timers can be jumped over. */
	uint64_t (*clock)(void *ctx);
	void *clock_ctx;
	/* Tests: epoll_wait for every device thread (NULL: the real one), to
	 * inject the failure that must stop the device. */
	int (*epoll_wait)(int epfd, struct epoll_event *evs, int n, int timeout);
};

/* Defaults: CPU-count queues, every offload on, errors logged to stderr. */
void device_options_init(struct device_options *o);
/* VGUARD_NO_UDP_GSO, VGUARD_NO_UDP_GRO_RX (same truth rules as the TUN's). */
void device_options_from_env(struct device_options *o);
/* The queue count to open the TUN with: o->queues or the online CPU count,
 * 1..DEVICE_MAX_QUEUES. */
unsigned int device_queues(const struct device_options *o);

enum device_exit {
	DEVICE_EXIT_STOPPED,	/* device_stop() (a signal) */
	DEVICE_EXIT_SOCKET_GONE,	/* the UAPI socket file was deleted */
	DEVICE_EXIT_LINK_GONE,	/* the interface was deleted */
	DEVICE_EXIT_ERROR,	/* a worker or the control thread failed */
	DEVICE_EXIT_UPGRADED,	/* handed over to a new process (device/upgrade.h) */
};

struct device;

/* Takes ownership of tun (closed by device_free, also on failure). */
int device_new(struct device **out, struct tun *tun, const struct device_options *o);
/* Serves the UAPI on listen_fd (from uapi_listen or WG_UAPI_FD); path is the
 * socket file watched for deletion (NULL: not watched).  Before start. */
int device_uapi_start(struct device *d, int listen_fd, const char *path);
/* Starts the threads. */
int device_start(struct device *d);
/* Blocks until the device should go away; returns an enum device_exit. */
int device_wait(struct device *d);
/* Async-signal-safe: makes device_wait() return DEVICE_EXIT_STOPPED. */
void device_stop(struct device *d);
/* Stops every thread, closes the sockets and the TUN, frees everything. */
void device_free(struct device *d);

/* A link event read by the caller (external_link_events): UP opens the UDP
 * sockets, DOWN closes them, MTU is applied; CLOSED makes device_wait()
 * return DEVICE_EXIT_LINK_GONE.  Any thread but the device's own. */
void device_link_event(struct device *d, const struct tun_event *ev);

/* The UAPI operations (ctx: the struct device); usable without the socket
 * (a daemon with its own UAPI server passes &device_uapi_ops, d). */
extern const struct uapi_ops device_uapi_ops;

/* The bound UDP port, 0 while the link is down. */
uint16_t device_port(struct device *d);
/* Offload summary for the start-up log ("tso=on uso=off:unsupported ..."). */
void device_describe_offloads(struct device *d, char *buf, size_t len);

#endif
