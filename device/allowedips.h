/* SPDX-License-Identifier: MIT */
#ifndef VGUARD_DEVICE_ALLOWEDIPS_H
#define VGUARD_DEVICE_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Cryptokey routing: a path-compressed binary trie per address family
 * mapping prefixes to an opaque peer pointer.  Each prefix belongs to at
 * most one peer; inserting it again (for any peer) moves it to that peer
 * and to the end of that peer's list.  Host bits beyond the prefix length
 * are masked off.  Addresses are in network byte order (4 or 16 bytes)
 * and family is AF_INET or AF_INET6.
 *
 * Writers need exclusive access; any number of lookups may run at once,
 * also while a writer works on a table made concurrent (below).
 */
struct allowedips;

struct allowedips *allowedips_new(void);
void allowedips_free(struct allowedips *t);

/* 0, -EINVAL (family, cidr or NULL peer) or -ENOMEM. */
int allowedips_insert(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, void *peer);
/* Removes the prefix only if peer owns it: 0 or -ENOENT. */
int allowedips_remove(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, void *peer);
void allowedips_remove_peer(struct allowedips *t, void *peer);

/*
 * For a table that lookups read while one writer changes it (the data
 * plane's): after allowedips_set_concurrent(), every change is published
 * so that a lookup running at the same time sees the trie before or after
 * it, and a node the writer unlinks is not reused until the writer hands
 * it back with allowedips_release(), once no lookup can still stand on
 * it: allowedips_take_unlinked() returns those unlinked since the last
 * call (NULL: none).  allowedips_reserve() sets aside what up to `nodes`
 * nodes and `peers` new peers need, so that inserts within it cannot fail
 * (an insert takes at most two nodes).  0 or -ENOMEM.
 */
void allowedips_set_concurrent(struct allowedips *t);
int allowedips_reserve(struct allowedips *t, size_t nodes, size_t peers);
void *allowedips_take_unlinked(struct allowedips *t);
void allowedips_release(struct allowedips *t, void *unlinked);

/* Who has exactly this prefix (for writers): the peer or NULL. */
void *allowedips_owner(const struct allowedips *t, int family, const void *addr, uint8_t cidr);

/* Longest-prefix match: the owning peer or NULL. */
void *allowedips_lookup(const struct allowedips *t, int family,
			const void *addr);
/* The same for the source or destination address of a plain IPv4 or IPv6
 * packet; NULL when the packet is too short or of another version. */
void *allowedips_lookup_src(const struct allowedips *t, const uint8_t *pkt,
			    size_t len);
void *allowedips_lookup_dst(const struct allowedips *t, const uint8_t *pkt,
			    size_t len);

/* Calls fn for each of peer's prefixes in insertion order, stopping at and
 * returning the first non-zero result.  fn must not modify the table. */
typedef int (*allowedips_fn)(void *ctx, int family, const uint8_t *addr,
			     uint8_t cidr);
int allowedips_walk_peer(const struct allowedips *t, void *peer,
			 allowedips_fn fn, void *ctx);
size_t allowedips_count_peer(const struct allowedips *t, void *peer);
/* Prefixes in the table (all peers, both families). */
size_t allowedips_count(const struct allowedips *t);
/* Trie nodes, joins included: at most 2 * allowedips_count() (memory
 * accounting, and the tests check the trie stays compressed). */
size_t allowedips_nodes(const struct allowedips *t);

#endif
