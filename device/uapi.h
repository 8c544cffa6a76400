/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_DEVICE_UAPI_H
#define VGUARD_DEVICE_UAPI_H

/*
 * The cross-platform UAPI (wireguard-go's device/uapi.go), byte-compatible:
 * `get=1`, `set=1` and vguard's own `stats=1` over
 * /var/run/wireguard/IFACE.sock.  Every reply ends "errno=N\n\n" with N one of
 * wireguard-go's values (0, -EIO, -EPROTO, -EINVAL, -EADDRINUSE, -55).
 *
 * Unlike wireguard-go, a set=1 is parsed completely into a struct uapi_txn and
 * validated before anything is applied: the device's set() applies it all or
 * nothing, so a failing set never leaves a half-configured peer behind.
 *
 * Three layers, each usable alone:
 *   - the parser and formatter (uapi_txn, uapi_snapshot, uapi_emitter),
 *   - a connection state machine (uapi_conn) fed bytes, producing reply bytes,
 *   - the socket server (uapi_server): listening socket, accept, inotify.
 * Plus an in-memory config store (uapi_store) implementing uapi_ops, used by
 * the tests and by the daemon until the data plane provides its own.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#include "conn/endpoint.h"

#define UAPI_KEY_LEN 32
#define UAPI_SOCKET_DIR "/var/run/wireguard"
#define UAPI_MAX_PEERS 65536
/* wireguard-go's bufio.Scanner token limit: longer set lines are -EIO. */
#define UAPI_MAX_LINE 65536
/* The live upgrade's request (README.md, "Live upgrade"). */
#define UAPI_UPGRADE_LINE "vguard-upgrade=1"

/* The errno values wireguard-go replies with (ipc/uapi_unix.go). */
#define UAPI_ERR_IO (-5)		/* -EIO */
#define UAPI_ERR_PROTOCOL (-71)		/* -EPROTO: a line without '=' */
#define UAPI_ERR_INVALID (-22)		/* -EINVAL */
#define UAPI_ERR_PORT_IN_USE (-98)	/* -EADDRINUSE: listen_port or fwmark */
#define UAPI_ERR_UNKNOWN (-55)		/* anything else (ENOANO) */

/* Maps any negative errno onto the five values above. */
int uapi_errno(int err);

/* ---- addresses ---- */

/* An allowed IP, host bits cleared. */
struct uapi_prefix {
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t cidr;
	uint8_t addr[16];
};

/* Parsers with Go's netip rules (ParseAddrPort, ParsePrefix): 0 or -EINVAL. */
/* An endpoint's address (ep->dst, no sticky source); a v6 zone becomes the
 * scope id. */
int uapi_parse_endpoint(struct vg_endpoint *ep, const char *s, size_t len);
int uapi_parse_prefix(struct uapi_prefix *p, const char *s, size_t len);
/* Formatters with Go's String(); buffers of UAPI_ADDRSTRLEN; return length. */
#define UAPI_ADDRSTRLEN 80
int uapi_format_endpoint(char *buf, const struct vg_endpoint *ep);
int uapi_format_prefix(char *buf, const struct uapi_prefix *p);
bool uapi_prefix_equal(const struct uapi_prefix *a, const struct uapi_prefix *b);

/* ---- set=1: the transaction ---- */

enum uapi_dev_field {
	UAPI_DEV_PRIVATE_KEY = 1 << 0,
	UAPI_DEV_LISTEN_PORT = 1 << 1,
	UAPI_DEV_FWMARK = 1 << 2,
	UAPI_DEV_REPLACE_PEERS = 1 << 3,
};

enum uapi_peer_field {
	UAPI_PEER_REMOVE = 1 << 0,
	UAPI_PEER_UPDATE_ONLY = 1 << 1,
	UAPI_PEER_PRESHARED_KEY = 1 << 2,
	UAPI_PEER_ENDPOINT = 1 << 3,
	UAPI_PEER_KEEPALIVE = 1 << 4,
	UAPI_PEER_REPLACE_ALLOWED_IPS = 1 << 5,
	UAPI_PEER_PROTOCOL_VERSION = 1 << 6,
};

enum uapi_aip_action {
	UAPI_AIP_ADD,			/* allowed_ip=P */
	UAPI_AIP_REMOVE,		/* allowed_ip=-P: only if this peer owns P */
	UAPI_AIP_CLEAR,			/* replace_allowed_ips=true, at its place */
};

struct uapi_aip_op {
	enum uapi_aip_action action;
	struct uapi_prefix prefix;	/* unused for CLEAR */
};

/*
 * One `public_key=` section.  Fields seen more than once keep the last
 * value; allowed-IP operations keep their order.  Apply as wireguard-go does:
 *   - a key equal to the device's own public key (after this transaction's
 *     private_key) is ignored entirely;
 *   - REMOVE: remove the peer if it exists, ignore the rest of the section;
 *   - UPDATE_ONLY: if the peer does not exist, ignore the whole section;
 *   - otherwise create the peer if needed, then set the fields, then replay
 *     aips[] in order (an ADD moves a prefix from whichever peer owns it);
 *   - keepalive turned from 0 to non-zero: send a keepalive at once.
 */
struct uapi_peer_op {
	uint8_t public_key[UAPI_KEY_LEN];
	unsigned int flags;		/* enum uapi_peer_field */
	uint8_t preshared_key[UAPI_KEY_LEN];
	struct vg_endpoint endpoint;
	uint16_t persistent_keepalive_interval;
	size_t n_aips, cap_aips;
	struct uapi_aip_op *aips;
};

/* Device fields come first (wireguard-go refuses them after a peer);
 * replace_peers removes every peer before the sections are applied; the
 * private key is already clamped (all zeros means "no key"). */
struct uapi_txn {
	unsigned int flags;		/* enum uapi_dev_field */
	uint8_t private_key[UAPI_KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	size_t n_peers, cap_peers;
	struct uapi_peer_op *peers;
};

/* Incremental set=1 parser: feed one line at a time (without '\n'; a
 * trailing '\r' is dropped, as Go's ScanLines does).  After the first error
 * every further line is ignored and the error is kept. */
struct uapi_parser {
	struct uapi_txn txn;
	int err;			/* 0 or a UAPI_ERR_* value */
	bool in_peer;
	size_t lines;
};

void uapi_parser_init(struct uapi_parser *p);
int uapi_parser_line(struct uapi_parser *p, const char *line, size_t len);
/* Wipes keys and frees memory; also for a txn the parser handed out. */
void uapi_txn_clear(struct uapi_txn *txn);
/* Parses a whole set body (lines up to an empty line or the end of buf).
 * 0 or a UAPI_ERR_* value; on success *txn must be cleared by the caller. */
int uapi_parse_set(struct uapi_txn *txn, const char *buf, size_t len);

/* ---- get=1: the snapshot the device fills ---- */

struct uapi_peer_info {
	uint8_t public_key[UAPI_KEY_LEN];
	uint8_t preshared_key[UAPI_KEY_LEN];
	bool has_endpoint;
	struct vg_endpoint endpoint;
	int64_t last_handshake_sec;	/* 0/0: never */
	int64_t last_handshake_nsec;
	uint64_t tx_bytes, rx_bytes;
	uint16_t persistent_keepalive_interval;
	size_t n_aips, cap_aips;
	struct uapi_prefix *aips;	/* insertion order */
};

struct uapi_snapshot {
	uint8_t private_key[UAPI_KEY_LEN];	/* all zeros: none */
	uint16_t listen_port;		/* the port actually bound; 0: none */
	uint32_t fwmark;
	size_t n_peers, cap_peers;
	struct uapi_peer_info *peers;
};

/* Append helpers for get(): NULL on allocation failure. */
struct uapi_peer_info *uapi_snapshot_add_peer(struct uapi_snapshot *s);
int uapi_peer_info_add_aip(struct uapi_peer_info *p, const struct uapi_prefix *prefix);
void uapi_snapshot_clear(struct uapi_snapshot *s);

/* ---- stats=1: vguard's counters ---- */

/* Offload state values: "on", "off:disabled" (flag or environment),
 * "off:unsupported" (kernel), "off:probe-failed" (start-up write probe),
 * "off:error" (turned off at run time, e.g. EIO), "off:inactive" (nothing
 * to offload yet, e.g. the UDP sockets are closed while the link is down). */
enum uapi_offload_state {
	UAPI_OFFLOAD_ON,
	UAPI_OFFLOAD_DISABLED,
	UAPI_OFFLOAD_UNSUPPORTED,
	UAPI_OFFLOAD_PROBE_FAILED,
	UAPI_OFFLOAD_ERROR,
	UAPI_OFFLOAD_INACTIVE,
};
const char *uapi_offload_state_name(enum uapi_offload_state s);

/* The offload switches, in output order (key "offload_<name>"). */
#define UAPI_OFFLOADS(X) \
	X(tso) X(uso) X(tcp_gro) X(udp_gro) X(udp_gso) X(udp_gro_rx)

/* Counters common to the device and each peer, in output order. */
#define UAPI_PEER_COUNTERS(X) \
	X(tx_packets) X(tx_bytes) X(rx_packets) X(rx_bytes) \
	X(handshake_initiations_sent) X(handshake_initiations_received) \
	X(handshake_responses_sent) X(handshake_responses_received) \
	X(cookie_replies_sent) X(cookie_replies_received) \
	X(keepalives_sent) X(keepalives_received) \
	X(drop_bad_mac) X(drop_replay) X(drop_not_allowed_ip) \
	X(drop_queue_full)

/* Device-only counters, printed after the common ones. */
#define UAPI_DEVICE_COUNTERS(X) \
	X(tso_packets) X(tso_segments) X(uso_packets) X(uso_segments) \
	X(tcp_gro_writes) X(tcp_gro_segments) \
	X(udp_gro_writes) X(udp_gro_segments) \
	X(udp_gso_messages) X(udp_gso_datagrams) \
	X(udp_gro_rx_messages) X(udp_gro_rx_datagrams) \
	X(drop_unknown_index) X(drop_no_peer) X(drop_malformed) X(drop_routing_loop) \
	X(drop_ratelimited) \
	X(drop_no_memory) X(udp_send_errors) X(udp_recv_errors) X(udp_socket_reopens) \
	X(tun_read_errors) X(tun_write_errors) \
	X(icmp_unreachable_sent)

#define UAPI_X_FIELD(n) uint64_t n;
#define UAPI_X_STATE(n) enum uapi_offload_state n;
struct uapi_peer_stats {
	uint8_t public_key[UAPI_KEY_LEN];
	UAPI_PEER_COUNTERS(UAPI_X_FIELD)
};

struct uapi_device_stats {
	UAPI_OFFLOADS(UAPI_X_STATE)
	UAPI_PEER_COUNTERS(UAPI_X_FIELD)
	UAPI_DEVICE_COUNTERS(UAPI_X_FIELD)
};
#undef UAPI_X_FIELD
#undef UAPI_X_STATE

/*
 * stats() writes through an emitter: first the device lines, then for each
 * peer a group starting with "public_key=<hex>".  Either emit raw lines or
 * use the struct helpers (which give the documented order):
 *   offload_tso=on ... tx_packets=N ... icmp_unreachable_sent=N
 *   public_key=<hex> tx_packets=N ... drop_queue_full=N
 */
struct uapi_emitter;
int uapi_emit_u64(struct uapi_emitter *em, const char *key, uint64_t v);
int uapi_emit_str(struct uapi_emitter *em, const char *key, const char *v);
int uapi_emit_key(struct uapi_emitter *em, const char *key, const uint8_t k[UAPI_KEY_LEN]);
int uapi_emit_device_stats(struct uapi_emitter *em, const struct uapi_device_stats *s);
int uapi_emit_peer_stats(struct uapi_emitter *em, const struct uapi_peer_stats *s);

/* ---- the device's side ---- */

struct uapi_ops {
	/* Apply all of txn or nothing: 0 or a negative errno (-EINVAL for a
	 * bad value or too many peers, -EADDRINUSE when the port cannot be
	 * bound or the mark set). */
	int (*set)(void *ctx, const struct uapi_txn *txn);
	/* Fill snap (zeroed on entry); 0 or a negative errno. */
	int (*get)(void *ctx, struct uapi_snapshot *snap);
	/* Emit the counters; NULL makes stats=1 reply -EINVAL. */
	int (*stats)(void *ctx, struct uapi_emitter *em);
	/* vguard's own "vguard-upgrade=1" line (wg never sends it): the
	 * server hands the connection over and closes it when this returns.
	 * NULL: the line closes the connection like any unknown one. */
	void (*upgrade)(void *ctx, int fd);
};

/* Formats a snapshot exactly as wireguard-go's IpcGetOperation (without
 * the errno line).  Returns a malloc'ed string (*len set) or NULL. */
char *uapi_format_get(const struct uapi_snapshot *s, size_t *len);

/* ---- one connection: bytes in, reply bytes out ---- */

struct uapi_conn {
	const struct uapi_ops *ops;
	void *ctx;
	char *in;			/* the unconsumed input */
	size_t in_len, in_cap;
	char *out;			/* reply bytes not yet written */
	size_t out_len, out_off, out_cap;
	enum { UAPI_ST_OP, UAPI_ST_GET, UAPI_ST_SET, UAPI_ST_CLOSE, UAPI_ST_UPGRADE } state;
	int op;				/* 'g' get, 's' stats while UAPI_ST_GET */
	struct uapi_parser parser;
	bool eof;
};

void uapi_conn_init(struct uapi_conn *c, const struct uapi_ops *ops, void *ctx);
/* Appends input and runs every complete operation, queueing replies in
 * c->out.  eof: the peer has shut down its side.  Returns 0, or -ENOMEM. */
int uapi_conn_input(struct uapi_conn *c, const void *data, size_t len, bool eof);
/* True once the connection should be closed (after its output is sent). */
bool uapi_conn_done(const struct uapi_conn *c);
void uapi_conn_free(struct uapi_conn *c);

/* ---- the socket server ---- */

struct uapi_server {
	int listen_fd;			/* non-blocking, CLOEXEC */
	int watch_fd;			/* inotify, non-blocking; -1 if none */
	char path[108];
	dev_t dev;
	ino_t ino;
	const struct uapi_ops *ops;
	void *ctx;
	struct uapi_srv_conn *conns;	/* open connections */
};

/*
 * Creates DIR (0755) and DIR/IFACE.sock (0700), replacing a stale socket
 * and refusing a live one with -EADDRINUSE.  Returns the listening fd
 * (non-blocking, CLOEXEC) or a negative errno.  dir NULL: UAPI_SOCKET_DIR.
 */
int uapi_listen(const char *dir, const char *iface);
/* Builds DIR/IFACE.sock into buf (108 bytes); -ENAMETOOLONG or 0. */
int uapi_socket_path(char *buf, size_t size, const char *dir, const char *iface);

/* Adopts a listening fd (from uapi_listen or WG_UAPI_FD) and starts
 * watching path for deletion (path NULL or "": no watch, watch_fd stays
 * -1).  0 or a negative errno; on failure the caller still owns the fd. */
int uapi_server_init(struct uapi_server *srv, int listen_fd, const char *path,
		     const struct uapi_ops *ops, void *ctx);
/* Closes everything; unlinks the socket file if it is still ours. */
void uapi_server_close(struct uapi_server *srv);

/*
 * Epoll integration: the caller watches listen_fd (EPOLLIN), watch_fd
 * (EPOLLIN) and each connection fd handed to it by add_fd.
 *   uapi_server_accept(): accepts every pending connection; for each new
 *     fd calls add_fd(arg, fd) so the caller can register it (EPOLLIN).
 *   uapi_server_service(fd, events): reads/writes a ready connection; when
 *     it returns 1 the fd was closed (the caller's epoll forgets it itself);
 *     2: output is pending, wait for EPOLLOUT only (reading pauses until
 *     the reply is out); 0: wait for EPOLLIN only.
 *   uapi_server_gone(): drains inotify; true if the socket file has been
 *     deleted or replaced (the daemon then exits).
 */
int uapi_server_accept(struct uapi_server *srv,
		       void (*add_fd)(void *arg, int fd), void *arg);
int uapi_server_service(struct uapi_server *srv, int fd, uint32_t events);
bool uapi_server_gone(struct uapi_server *srv);

/* ---- the in-memory config store (uapi_store.c) ---- */

struct uapi_store_peer {
	uint8_t public_key[UAPI_KEY_LEN];
	uint8_t preshared_key[UAPI_KEY_LEN];
	bool has_endpoint;
	struct vg_endpoint endpoint;
	uint16_t persistent_keepalive_interval;
	size_t n_aips, cap_aips;
	struct uapi_prefix *aips;
	bool removed;			/* a hole in peers[], until compacted */
};

struct uapi_store_undo;
struct uapi_store_aip;

struct uapi_store {
	uint8_t private_key[UAPI_KEY_LEN];
	uint8_t public_key[UAPI_KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	/* In the order they were added: n_slots entries, of which n_peers
	 * are not removed. */
	size_t n_peers, n_slots, cap_peers;
	struct uapi_store_peer *peers;
	/* Optional hooks, called before the new state is committed; a
	 * negative return aborts the whole set (wireguard-go: -EADDRINUSE).
	 * Each is all or nothing.  set_mark runs first; bind_port gets the
	 * mark the sockets it opens must carry; when it fails, set_mark is
	 * called again with the old mark, so a failed set leaves the sockets
	 * as they were. */
	int (*bind_port)(void *arg, uint16_t *port, uint32_t mark);
	int (*set_mark)(void *arg, uint32_t mark);
	void *hook_arg;
	struct uapi_device_stats stats;	/* what stats=1 reports */

	/* uapi_store.c's own: peers by key, prefixes by owner, and the open
	 * transaction's undo log with the device fields it started from. */
	uint32_t *peer_slots;
	size_t peer_cap, peer_used;
	struct uapi_store_aip *aip_slots;
	size_t aip_cap, aip_used, aip_owned;
	struct uapi_store_undo *undo;
	size_t n_undo, cap_undo;
	bool open;
	uint8_t saved_private_key[UAPI_KEY_LEN];
	uint8_t saved_public_key[UAPI_KEY_LEN];
	uint16_t saved_listen_port;
	uint32_t saved_fwmark;
};

void uapi_store_init(struct uapi_store *st);
void uapi_store_free(struct uapi_store *st);
int uapi_store_apply(struct uapi_store *st, const struct uapi_txn *txn);
/*
 * uapi_store_apply() in steps, for a caller with more to prepare:
 * uapi_store_begin() applies the transaction in place (hooks not called)
 * and keeps what it replaced; then uapi_store_commit() keeps the result or
 * uapi_store_abort() puts everything back.  A failing begin has put it
 * back already.  Each costs what the transaction changes, not the size of
 * the store (a replace_peers or a new private key changes every peer).
 */
int uapi_store_begin(struct uapi_store *st, const struct uapi_txn *txn);
void uapi_store_commit(struct uapi_store *st);
void uapi_store_abort(struct uapi_store *st);
/* The peer with this key, NULL if none (removed ones are none). */
const struct uapi_store_peer *uapi_store_find(const struct uapi_store *st,
					      const uint8_t key[UAPI_KEY_LEN]);
/* The peer this prefix belongs to, NULL if none. */
const struct uapi_store_peer *uapi_store_owner(const struct uapi_store *st,
					       const struct uapi_prefix *p);
int uapi_store_snapshot(struct uapi_store *st, struct uapi_snapshot *snap);
/* uapi_ops over a struct uapi_store (ctx). */
extern const struct uapi_ops uapi_store_ops;

#endif
