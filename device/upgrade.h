/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_DEVICE_UPGRADE_H
#define VGUARD_DEVICE_UPGRADE_H

/*
 * Live upgrade (README.md, "Live upgrade"): a running device hands its
 * interface to a new process without taking it down.  The TUN queues, the
 * UDP sockets and the UAPI listener move by fd passing over the new
 * process's connection to the UAPI socket, with a versioned state blob:
 * the configuration and every peer's live session (keypairs with their
 * indices, send counters and replay windows, the handshake in progress,
 * timers, endpoint with its sticky source, counters, last handshake), so
 * no handshake is needed.
 *
 * The running device answers UAPI_UPGRADE_LINE on its control thread
 * (device_uapi_ops.upgrade): it checks the caller's credentials (root or
 * its own uid) and the state format, stops its workers and handshake
 * thread between batches, sends the state and the fds and waits for the
 * new process to be ready.  Until then any failure resumes it as if
 * nothing had happened; once it has told the new process to go, it wipes
 * its keys and device_wait() returns DEVICE_EXIT_UPGRADED.
 *
 * The new process:
 *	fd = device_upgrade_connect(iface);
 *	device_upgrade_begin(&u, fd, 0, reason, sizeof(reason));
 *	fds = device_upgrade_tun_fds(u, &n);
 *	tun_open_fds(&tun, fds, n, &topts); device_upgrade_tun_taken(u);
 *	device_new(&dev, tun, &o);
 *	device_upgrade_apply(u, dev);           configuration, sessions, sockets
 *	device_upgrade_commit(u);               0: the old process has let go
 *	device_uapi_start(dev, device_upgrade_uapi_fd(u), path);
 *	device_start(dev);
 *	device_upgrade_end(u, ret);             tells it, frees u
 * Errors are negative errno values: -EPROTO when the state formats differ
 * (reason says how), -EBADMSG for a truncated or garbled state, -EPERM
 * when the running daemon refused the caller.
 */

#include <stddef.h>
#include <stdint.h>

#include "device/device.h"

/* Bump whenever the state blob changes meaning (upgrade_state.c). */
#define DEVICE_UPGRADE_VERSION 1

struct device_upgrade;

/* A connection to the UAPI socket of iface (UAPI_SOCKET_DIR); fd or -errno. */
int device_upgrade_connect(const char *dir, const char *iface);
/* Asks for the handover and receives the state and the fds.  version: the
 * format announced (0: DEVICE_UPGRADE_VERSION; tests force a mismatch).
 * Takes fd (closed by device_upgrade_end, or here on failure). */
int device_upgrade_begin(struct device_upgrade **out, int fd, uint32_t version, char *reason,
			 size_t reason_len);
/* The TUN queue fds (n of them; n is 0 without a TUN to hand over). */
const int *device_upgrade_tun_fds(const struct device_upgrade *u, unsigned int *n);
/* tun_open_fds() took them. */
void device_upgrade_tun_taken(struct device_upgrade *u);
/* The UAPI listening fd, now the caller's (-1 if none).  Serve it only
 * after device_upgrade_commit(): a device serving the socket file unlinks
 * it when freed, which would stop the old daemon if it resumes. */
int device_upgrade_uapi_fd(struct device_upgrade *u);
/* Restores the state into d (new, not started) and adopts the sockets; the
 * state's copy of the keys is wiped. */
int device_upgrade_apply(struct device_upgrade *u, struct device *d);
/* Ready: 0 once the old process has stopped for good (then start d), or
 * -ECANCELED when it resumed instead. */
int device_upgrade_commit(struct device_upgrade *u);
/* Reports err (0: running) to the old process; frees u, closing any fd
 * nobody took.  NULL is fine. */
void device_upgrade_end(struct device_upgrade *u, int err);

/*
 * The state alone, for tests and fuzzers.  save: d's configuration and
 * sessions (no other thread may change them: its workers and handshake
 * thread are stopped); the blob holds keys: device_upgrade_wipe() it.
 * load: into d, new and not started; on failure d is only fit for
 * device_free().
 */
int device_upgrade_save(struct device *d, uint8_t **blob, size_t *len);
int device_upgrade_load(struct device *d, const uint8_t *blob, size_t len);
void device_upgrade_wipe(uint8_t *blob, size_t len);
/* The state format's fingerprint (fields and sizes) checked with the version. */
uint64_t device_upgrade_layout(void);

#endif
