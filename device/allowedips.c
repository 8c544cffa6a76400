// SPDX-License-Identifier: MIT
/*
 * Allowed IPs: a path-compressed binary trie per family.  Keys are held
 * as 128-bit integers, most significant bit first, with IPv4 addresses in
 * the top 32 bits, so matching a prefix is an XOR and a mask per half.  Nodes
 * without a peer only join two subtrees and disappear as soon as they
 * have fewer than two children.  Each peer's prefixes are also threaded
 * on a list, found through a small hash of peer pointers, so "list" and
 * "remove all" cost what that peer owns, not the size of the table.
 */
#include "config.h"

#include "device/allowedips.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "tun/ip.h"

/*
 * A key as two 64-bit halves rather than unsigned __int128, which 32-bit
 * targets lack; on 64-bit ones the compiler emits the same word pairs.
 * Aligned like __int128 was so a node keeps its size and layout.
 */
typedef struct {
	uint64_t hi, lo;
} __attribute__((aligned(16))) u128;

/* Lookups touch only the first 42 bytes. */
struct node {
	u128 key;			/* masked to cidr bits */
	struct node *child[2];
	void *peer;			/* NULL: a join node */
	uint8_t cidr;
	uint8_t v6;
	struct node *parent;
	struct node *prev, *next;	/* the peer's list, insertion order */
};

struct peer_entry {
	void *peer;
	struct node *head, *tail;
	size_t count;
	struct peer_entry *hnext;
};

/*
 * Nodes come from a pool of mappings that grow from 64 KiB to 2 MiB; the
 * 2 MiB ones are aligned and offered to transparent huge pages, because
 * with a large table every level of a lookup is otherwise a TLB miss too
 * (allowedips-bench: 2.4 -> 1.7 us at a million prefixes).  Freed nodes go
 * on a free list; the mappings are returned only by allowedips_free.
 * Sanitizer builds use calloc/free so use-after-free stays visible.
 */
#if defined(__SANITIZE_ADDRESS__)
#define NODE_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NODE_POOL 0
#endif
#endif
#ifndef NODE_POOL
#define NODE_POOL 1
#endif

#define POOL_FIRST (64 * 1024)
#define POOL_HUGE (2 * 1024 * 1024)

struct chunk {
	struct chunk *next;
	size_t size;
};

struct pool {
	struct chunk *chunks;
	struct node *free;		/* linked through child[0] */
	uint8_t *cur, *end;
	size_t next_size;
};

struct allowedips {
	struct node *root[2];		/* [0] IPv4, [1] IPv6 */
	struct peer_entry **buckets;
	size_t nbuckets, npeers, count, nodes;
	struct pool pool;
	bool deferred;			/* lookups may run during changes */
	struct node *limbo;		/* unlinked, maybe still read; via next */
	struct node *spare;		/* reserved nodes; via child[0] */
	size_t nspare;
	struct peer_entry *spare_entries;	/* reserved; via hnext */
	size_t nspare_entries;
};

/* What lookups read while a writer changes the table: published with
 * release stores, read with acquire loads. */
static inline struct node *load_ptr(struct node *const *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void publish(struct node **p, struct node *n)
{
	__atomic_store_n(p, n, __ATOMIC_RELEASE);
}

static inline void set_peer(struct node *n, void *peer)
{
	__atomic_store_n(&n->peer, peer, __ATOMIC_RELEASE);
}

static inline uint64_t mask64(unsigned int bits)
{
	return bits ? ~UINT64_C(0) << (64 - bits) : 0;
}

/* key with every bit past the first cidr cleared */
static inline u128 key_mask(u128 key, unsigned int cidr)
{
	if (cidr <= 64)
		return (u128){ key.hi & mask64(cidr), 0 };
	return (u128){ key.hi, key.lo & mask64(cidr - 64) };
}

/* Do a and b agree on their first cidr bits? */
static inline bool key_match(u128 a, u128 b, unsigned int cidr)
{
	uint64_t hi = a.hi ^ b.hi, lo = a.lo ^ b.lo;

	if (cidr <= 64)
		return !(hi & mask64(cidr));
	return !(hi | (lo & mask64(cidr - 64)));
}

static inline unsigned int bit_at(u128 key, unsigned int i)
{
	if (i < 64)
		return (unsigned int)(key.hi >> (63 - i)) & 1;
	return (unsigned int)(key.lo >> (127 - i)) & 1;
}

static unsigned int common_bits(u128 a, u128 b)
{
	uint64_t hi = a.hi ^ b.hi, lo = a.lo ^ b.lo;

	if (hi)
		return (unsigned int)__builtin_clzll(hi);
	if (lo)
		return 64 + (unsigned int)__builtin_clzll(lo);
	return 128;
}

static int load_key(int family, const void *addr, u128 *key, int *v6)
{
	uint64_t hi, lo;
	uint32_t a4;

	if (family == AF_INET) {
		memcpy(&a4, addr, 4);
		*key = (u128){ (uint64_t)be32toh(a4) << 32, 0 };
		*v6 = 0;
		return 0;
	}
	if (family == AF_INET6) {
		memcpy(&hi, addr, 8);
		memcpy(&lo, (const uint8_t *)addr + 8, 8);
		*key = (u128){ be64toh(hi), be64toh(lo) };
		*v6 = 1;
		return 0;
	}
	return -EINVAL;
}

static void store_key(u128 key, int v6, uint8_t *out)
{
	uint64_t hi = htobe64(key.hi), lo = htobe64(key.lo);

	memcpy(out, &hi, v6 ? 8 : 4);
	if (v6)
		memcpy(out + 8, &lo, 8);
}

/* ---- The peer hash ---- */

static size_t hash_ptr(const void *p, size_t nbuckets)
{
	uint64_t x = (uintptr_t)p;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)(x & (nbuckets - 1));
}

static struct peer_entry *peer_find(const struct allowedips *t, const void *peer)
{
	struct peer_entry *e;

	if (!t->nbuckets)
		return NULL;
	for (e = t->buckets[hash_ptr(peer, t->nbuckets)]; e; e = e->hnext)
		if (e->peer == peer)
			return e;
	return NULL;
}

static int peer_grow(struct allowedips *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : 16;
	struct peer_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct peer_entry *e = t->buckets[i], *next;

		for (; e; e = next) {
			size_t h = hash_ptr(e->peer, n);

			next = e->hnext;
			e->hnext = b[h];
			b[h] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
	return 0;
}

static struct peer_entry *peer_get(struct allowedips *t, void *peer)
{
	struct peer_entry *e = peer_find(t, peer);
	size_t h;

	if (e)
		return e;
	if (t->npeers >= t->nbuckets && peer_grow(t))
		return NULL;
	if (t->spare_entries) {
		e = t->spare_entries;
		t->spare_entries = e->hnext;
		t->nspare_entries--;
		memset(e, 0, sizeof(*e));
	} else {
		e = calloc(1, sizeof(*e));
	}
	if (!e)
		return NULL;
	e->peer = peer;
	h = hash_ptr(peer, t->nbuckets);
	e->hnext = t->buckets[h];
	t->buckets[h] = e;
	t->npeers++;
	return e;
}

static void peer_put(struct allowedips *t, struct peer_entry *e)
{
	struct peer_entry **pp;

	if (e->count)
		return;
	for (pp = &t->buckets[hash_ptr(e->peer, t->nbuckets)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	t->npeers--;
	free(e);
}

static void list_append(struct peer_entry *e, struct node *n)
{
	n->prev = e->tail;
	n->next = NULL;
	if (e->tail)
		e->tail->next = n;
	else
		e->head = n;
	e->tail = n;
	e->count++;
}

static void list_unlink(struct peer_entry *e, struct node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		e->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		e->tail = n->prev;
	n->prev = n->next = NULL;
	e->count--;
}

/* ---- The trie ---- */

static struct node **slot_of(struct allowedips *t, struct node *n)
{
	if (!n->parent)
		return &t->root[n->v6];
	return &n->parent->child[n->parent->child[1] == n];
}

static void replace(struct allowedips *t, struct node *old, struct node *new)
{
	publish(slot_of(t, old), new);
	if (new)
		new->parent = old->parent;
}

static int pool_grow(struct pool *p)
{
	size_t size = p->next_size ? p->next_size : POOL_FIRST;
	size_t map = size < POOL_HUGE ? size : size + POOL_HUGE;
	uint8_t *base = mmap(NULL, map, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct chunk *c;

	if (base == MAP_FAILED)
		return -ENOMEM;
	if (size >= POOL_HUGE) {
		uint8_t *aligned = (uint8_t *)(((uintptr_t)base + POOL_HUGE - 1) &
					       ~(uintptr_t)(POOL_HUGE - 1));

		if (aligned > base)
			munmap(base, aligned - base);
		if (aligned + size < base + map)
			munmap(aligned + size, base + map - (aligned + size));
		base = aligned;
		madvise(base, size, MADV_HUGEPAGE);	/* a hint; may fail */
	}
	c = (struct chunk *)base;
	c->size = size;
	c->next = p->chunks;
	p->chunks = c;
	p->cur = base + ((sizeof(*c) + _Alignof(struct node) - 1) &
			 ~(_Alignof(struct node) - 1));
	p->end = base + size;
	p->next_size = size < POOL_HUGE ? size * 2 : POOL_HUGE;
	return 0;
}

static struct node *node_alloc_fresh(struct allowedips *t)
{
	struct pool *p = &t->pool;
	struct node *n;

	if (!NODE_POOL)
		return calloc(1, sizeof(struct node));
	if (p->free) {
		n = p->free;
		p->free = n->child[0];
	} else {
		if (p->end - p->cur < (ptrdiff_t)sizeof(*n) && pool_grow(p))
			return NULL;
		n = (struct node *)p->cur;
		p->cur += sizeof(*n);
	}
	memset(n, 0, sizeof(*n));
	return n;
}

/* Reserved nodes first (allowedips_reserve), so a reserved insert cannot fail. */
static struct node *node_alloc(struct allowedips *t)
{
	struct node *n = t->spare;

	if (!n)
		return node_alloc_fresh(t);
	t->spare = n->child[0];
	t->nspare--;
	memset(n, 0, sizeof(*n));
	return n;
}

/* A node unlinked from the trie: a lookup may still stand on it, so it
 * waits in limbo (its child pointers intact) until allowedips_release(). */
static void node_unlinked(struct allowedips *t, struct node *n)
{
	t->nodes--;
	n->next = t->limbo;
	t->limbo = n;
}

static void node_free(struct allowedips *t, struct node *n)
{
	t->nodes--;
	if (!NODE_POOL) {
		free(n);
		return;
	}
	n->child[0] = t->pool.free;
	t->pool.free = n;
}

static void pool_destroy(struct pool *p)
{
	struct chunk *c, *next;

	for (c = p->chunks; c; c = next) {
		next = c->next;
		munmap(c, c->size);
	}
}

static struct node *node_new(struct allowedips *t, u128 key, uint8_t cidr,
			     int v6, void *peer)
{
	struct node *n = node_alloc(t);

	if (!n)
		return NULL;
	t->nodes++;
	n->key = key;
	n->cidr = cidr;
	n->v6 = (uint8_t)v6;
	n->peer = peer;
	return n;
}

/* The node for exactly key/cidr, creating it (without a peer) if needed. */
static struct node *find_or_add(struct allowedips *t, u128 key, uint8_t cidr,
				int v6)
{
	struct node **slot = &t->root[v6], *parent = NULL, *n, *fresh, *join;
	unsigned int common;

	while ((n = *slot)) {
		common = common_bits(n->key, key);
		if (common >= n->cidr && n->cidr <= cidr) {
			if (n->cidr == cidr)
				return n;
			parent = n;
			slot = &n->child[bit_at(key, n->cidr)];
			continue;
		}
		fresh = node_new(t, key, cidr, v6, NULL);
		if (!fresh)
			return NULL;
		/* A new node is complete before it is published, so a lookup
		 * sees the trie either without it or with it. */
		if (common >= cidr) {
			/* The new prefix contains n: it goes above n. */
			fresh->child[bit_at(n->key, cidr)] = n;
			publish(slot, fresh);
			fresh->parent = parent;
			n->parent = fresh;
			return fresh;
		}
		/* They diverge at bit `common`: join them there. */
		join = node_new(t, key_mask(key, common), (uint8_t)common, v6, NULL);
		if (!join) {
			node_free(t, fresh);
			return NULL;
		}
		join->child[bit_at(n->key, common)] = n;
		join->child[bit_at(key, common)] = fresh;
		fresh->parent = join;
		publish(slot, join);
		join->parent = parent;
		n->parent = join;
		return fresh;
	}
	fresh = node_new(t, key, cidr, v6, NULL);
	if (!fresh)
		return NULL;
	fresh->parent = parent;
	publish(slot, fresh);
	return fresh;
}

/* Drop peer-less nodes with fewer than two children, from n upwards. */
static void compact(struct allowedips *t, struct node *n)
{
	while (n && !n->peer && !(n->child[0] && n->child[1])) {
		struct node *parent = n->parent;

		replace(t, n, n->child[0] ? n->child[0] : n->child[1]);
		if (t->deferred)
			node_unlinked(t, n);
		else
			node_free(t, n);
		n = parent;
	}
}

static struct node *find_exact(const struct allowedips *t, u128 key,
			       uint8_t cidr, int v6)
{
	struct node *n = t->root[v6];

	while (n && n->cidr <= cidr && common_bits(n->key, key) >= n->cidr) {
		if (n->cidr == cidr)
			return n;
		n = n->child[bit_at(key, n->cidr)];
	}
	return NULL;
}

static int parse(int family, const void *addr, uint8_t cidr, u128 *key, int *v6)
{
	if (load_key(family, addr, key, v6))
		return -EINVAL;
	if (cidr > (*v6 ? 128 : 32))
		return -EINVAL;
	*key = key_mask(*key, cidr);
	return 0;
}

int allowedips_insert(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, void *peer)
{
	struct peer_entry *e, *old;
	struct node *n;
	u128 key;
	int v6;

	if (!peer || parse(family, addr, cidr, &key, &v6))
		return -EINVAL;
	e = peer_get(t, peer);
	if (!e)
		return -ENOMEM;
	n = find_or_add(t, key, cidr, v6);
	if (!n) {
		peer_put(t, e);
		return -ENOMEM;
	}
	if (n->peer) {
		old = peer_find(t, n->peer);
		list_unlink(old, n);
		if (old != e)
			peer_put(t, old);
	} else {
		t->count++;
	}
	set_peer(n, peer);
	list_append(e, n);
	return 0;
}

static void remove_node(struct allowedips *t, struct peer_entry *e,
			struct node *n)
{
	list_unlink(e, n);
	set_peer(n, NULL);
	t->count--;
	compact(t, n);
}

int allowedips_remove(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, void *peer)
{
	struct peer_entry *e;
	struct node *n;
	u128 key;
	int v6;

	if (!peer || parse(family, addr, cidr, &key, &v6))
		return -ENOENT;
	n = find_exact(t, key, cidr, v6);
	if (!n || n->peer != peer)
		return -ENOENT;
	e = peer_find(t, peer);
	remove_node(t, e, n);
	peer_put(t, e);
	return 0;
}

void allowedips_remove_peer(struct allowedips *t, void *peer)
{
	struct peer_entry *e = peer_find(t, peer);

	if (!e)
		return;
	while (e->head)
		remove_node(t, e, e->head);
	peer_put(t, e);
}

void *allowedips_owner(const struct allowedips *t, int family, const void *addr, uint8_t cidr)
{
	struct node *n;
	u128 key;
	int v6;

	if (parse(family, addr, cidr, &key, &v6))
		return NULL;
	n = find_exact(t, key, cidr, v6);
	return n ? n->peer : NULL;
}

static void *lookup_key(const struct allowedips *t, u128 key, int v6)
{
	const struct node *n = load_ptr(&t->root[v6]);
	void *best = NULL, *peer;

	while (n && key_match(n->key, key, n->cidr)) {
		peer = __atomic_load_n(&n->peer, __ATOMIC_ACQUIRE);
		if (peer)
			best = peer;
		if (n->cidr == 128)
			break;
		n = load_ptr(&n->child[bit_at(key, n->cidr)]);
	}
	return best;
}

void *allowedips_lookup(const struct allowedips *t, int family, const void *addr)
{
	u128 key;
	int v6;

	if (load_key(family, addr, &key, &v6))
		return NULL;
	return lookup_key(t, key, v6);
}

void *allowedips_lookup_src(const struct allowedips *t, const uint8_t *pkt,
			    size_t len)
{
	int fam = ip_family(pkt, len);

	return fam ? allowedips_lookup(t, fam, ip_src_addr(pkt, fam)) : NULL;
}

void *allowedips_lookup_dst(const struct allowedips *t, const uint8_t *pkt,
			    size_t len)
{
	int fam = ip_family(pkt, len);

	return fam ? allowedips_lookup(t, fam, ip_dst_addr(pkt, fam)) : NULL;
}

int allowedips_walk_peer(const struct allowedips *t, void *peer,
			 allowedips_fn fn, void *ctx)
{
	struct peer_entry *e = peer_find(t, peer);
	uint8_t addr[16];
	int ret;

	if (!e)
		return 0;
	for (struct node *n = e->head; n; n = n->next) {
		store_key(n->key, n->v6, addr);
		ret = fn(ctx, n->v6 ? AF_INET6 : AF_INET, addr, n->cidr);
		if (ret)
			return ret;
	}
	return 0;
}

size_t allowedips_count_peer(const struct allowedips *t, void *peer)
{
	struct peer_entry *e = peer_find(t, peer);

	return e ? e->count : 0;
}

size_t allowedips_count(const struct allowedips *t)
{
	return t->count;
}

size_t allowedips_nodes(const struct allowedips *t)
{
	return t->nodes;
}

struct allowedips *allowedips_new(void)
{
	return calloc(1, sizeof(struct allowedips));
}

/* Iterative, so a deep trie cannot overflow the stack. */
static void free_tree(struct allowedips *t, struct node *n)
{
	while (n) {
		if (n->child[0]) {
			n = n->child[0];
			continue;
		}
		if (n->child[1]) {
			n = n->child[1];
			continue;
		}
		struct node *parent = n->parent;

		if (parent)
			parent->child[parent->child[1] == n] = NULL;
		node_free(t, n);
		n = parent;
	}
}

void allowedips_set_concurrent(struct allowedips *t)
{
	t->deferred = true;
}

int allowedips_reserve(struct allowedips *t, size_t nodes, size_t peers)
{
	struct peer_entry *e;
	struct node *n;

	while (t->npeers + peers > t->nbuckets)
		if (peer_grow(t))
			return -ENOMEM;
	while (t->nspare_entries < peers) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->hnext = t->spare_entries;
		t->spare_entries = e;
		t->nspare_entries++;
	}
	while (t->nspare < nodes) {
		n = node_alloc_fresh(t);
		if (!n)
			return -ENOMEM;
		n->child[0] = t->spare;
		t->spare = n;
		t->nspare++;
	}
	return 0;
}

void *allowedips_take_unlinked(struct allowedips *t)
{
	struct node *l = t->limbo;

	t->limbo = NULL;
	return l;
}

static void free_list(struct allowedips *t, struct node *n, size_t link)
{
	struct node *next;

	for (; n; n = next) {
		next = *(struct node **)((char *)n + link);
		t->nodes++;	/* node_free() counts a node leaving the trie */
		node_free(t, n);
	}
}

void allowedips_release(struct allowedips *t, void *unlinked)
{
	free_list(t, unlinked, offsetof(struct node, next));
}

void allowedips_free(struct allowedips *t)
{
	if (!t)
		return;
	free_list(t, t->limbo, offsetof(struct node, next));
	free_list(t, t->spare, offsetof(struct node, child[0]));
	while (t->spare_entries) {
		struct peer_entry *e = t->spare_entries;

		t->spare_entries = e->hnext;
		free(e);
	}
	if (NODE_POOL) {
		pool_destroy(&t->pool);
	} else {
		free_tree(t, t->root[0]);
		free_tree(t, t->root[1]);
	}
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct peer_entry *e = t->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			free(e);
		}
	}
	free(t->buckets);
	free(t);
}
