/* SPDX-License-Identifier: MIT */
/*
 * The store against a plain model: random transactions (new peers, removed
 * peers, prefixes added, moved, removed and cleared) keep what `get` shows
 * equal to the model, in order, through the holes removed peers leave and
 * the compactions that close them; and a transaction refused by a hook at
 * the end leaves the store exactly as before.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "device/uapi.h"
#include "tests/unit/testutil.h"

#define KEYS 64
#define PFX 48

/* The model: which keys are peers, in the order they were added, and
 * which prefix each owns, in the order it got them. */
static int order[KEYS], n_order;
static int owner[PFX];		/* key + 1; 0: nobody */
static int got_at[PFX];		/* when the owner took it */
static int clock_;

static void key_of(int k, uint8_t *out)
{
	memset(out, 0, UAPI_KEY_LEN);
	out[0] = (uint8_t)(k + 1);
	out[31] = 0x42;
}

static struct uapi_prefix pfx_of(int i)
{
	struct uapi_prefix p = { .family = AF_INET, .cidr = 32 };

	p.addr[0] = 10;
	p.addr[3] = (uint8_t)(i + 1);
	return p;
}

static int pos_of(int k)
{
	for (int i = 0; i < n_order; i++)
		if (order[i] == k)
			return i;
	return -1;
}

static void model_remove(int k)
{
	int i = pos_of(k);

	if (i < 0)
		return;
	memmove(&order[i], &order[i + 1], (size_t)(n_order - i - 1) * sizeof(order[0]));
	n_order--;
	for (i = 0; i < PFX; i++)
		if (owner[i] == k + 1)
			owner[i] = 0;
}

static void model_add(int k, int p)
{
	if (pos_of(k) < 0)
		order[n_order++] = k;
	if (p >= 0 && owner[p] != k + 1) {
		owner[p] = k + 1;
		got_at[p] = ++clock_;
	}
}

static void check_against_model(struct uapi_store *st)
{
	struct uapi_snapshot snap;
	int i, j;

	memset(&snap, 0, sizeof(snap));
	ck_assert_int_eq(uapi_store_snapshot(st, &snap), 0);
	ck_assert_uint_eq(snap.n_peers, (size_t)n_order);
	for (i = 0; i < n_order; i++) {
		uint8_t key[UAPI_KEY_LEN];
		int last = 0, n = 0;

		key_of(order[i], key);
		ck_assert_mem_eq(snap.peers[i].public_key, key, UAPI_KEY_LEN);
		for (j = 0; j < (int)snap.peers[i].n_aips; j++) {
			int p = snap.peers[i].aips[j].addr[3] - 1;

			ck_assert_int_eq(owner[p], order[i] + 1);
			ck_assert_int_gt(got_at[p], last);	/* in the order it got them */
			last = got_at[p];
		}
		for (j = 0; j < PFX; j++)
			n += owner[j] == order[i] + 1;
		ck_assert_uint_eq(snap.peers[i].n_aips, (size_t)n);
	}
	uapi_snapshot_clear(&snap);
}

static int refuse_port(void *arg, uint16_t *port, uint32_t mark)
{
	(void)arg;
	(void)mark;
	return *port == 1 ? -EADDRINUSE : 0;
}

START_TEST(test_random_against_model)
{
	struct uapi_store st;
	unsigned int seed = 12345;
	int round;

	uapi_store_init(&st);
	st.bind_port = refuse_port;
	for (round = 0; round < 3000; round++) {
		struct uapi_txn txn;
		struct uapi_snapshot before, after;
		bool refuse = rand_r(&seed) % 8 == 0;
		int ops = 1 + rand_r(&seed) % 4, i;

		memset(&txn, 0, sizeof(txn));
		txn.peers = calloc((size_t)ops, sizeof(*txn.peers));
		ck_assert_ptr_nonnull(txn.peers);
		txn.n_peers = txn.cap_peers = (size_t)ops;
		if (refuse) {
			txn.flags = UAPI_DEV_LISTEN_PORT;
			txn.listen_port = 1;
		}
		for (i = 0; i < ops; i++) {
			struct uapi_peer_op *op = &txn.peers[i];
			int k = rand_r(&seed) % KEYS, what = rand_r(&seed) % 10;

			key_of(k, op->public_key);
			op->aips = calloc(2, sizeof(*op->aips));
			ck_assert_ptr_nonnull(op->aips);
			op->cap_aips = 2;
			if (what < 3) {
				op->flags = UAPI_PEER_REMOVE;
			} else if (what < 8) {
				op->n_aips = 1;
				op->aips[0].action = UAPI_AIP_ADD;
				op->aips[0].prefix = pfx_of(rand_r(&seed) % PFX);
			} else if (what < 9) {
				op->n_aips = 1;
				op->aips[0].action = UAPI_AIP_REMOVE;
				op->aips[0].prefix = pfx_of(rand_r(&seed) % PFX);
			} else {
				op->n_aips = 2;
				op->aips[0].action = UAPI_AIP_CLEAR;
				op->aips[1].action = UAPI_AIP_ADD;
				op->aips[1].prefix = pfx_of(rand_r(&seed) % PFX);
			}
		}
		memset(&before, 0, sizeof(before));
		ck_assert_int_eq(uapi_store_snapshot(&st, &before), 0);
		if (refuse) {
			ck_assert_int_eq(uapi_store_apply(&st, &txn), UAPI_ERR_PORT_IN_USE);
		} else {
			ck_assert_int_eq(uapi_store_apply(&st, &txn), 0);
			for (i = 0; i < ops; i++) {
				const struct uapi_peer_op *op = &txn.peers[i];
				int k = op->public_key[0] - 1;

				if (op->flags & UAPI_PEER_REMOVE) {
					model_remove(k);
					continue;
				}
				model_add(k, -1);
				for (size_t j = 0; j < op->n_aips; j++) {
					int p = op->aips[j].prefix.addr[3] - 1;

					if (op->aips[j].action == UAPI_AIP_ADD)
						model_add(k, p);
					else if (op->aips[j].action == UAPI_AIP_REMOVE && owner[p] == k + 1)
						owner[p] = 0;
					else if (op->aips[j].action == UAPI_AIP_CLEAR)
						for (int q = 0; q < PFX; q++)
							if (owner[q] == k + 1)
								owner[q] = 0;
				}
			}
		}
		memset(&after, 0, sizeof(after));
		ck_assert_int_eq(uapi_store_snapshot(&st, &after), 0);
		check_against_model(&st);
		if (refuse) {
			ck_assert_uint_eq(after.n_peers, before.n_peers);
			for (size_t p = 0; p < after.n_peers; p++) {
				ck_assert_mem_eq(after.peers[p].public_key, before.peers[p].public_key,
						 UAPI_KEY_LEN);
				ck_assert_uint_eq(after.peers[p].n_aips, before.peers[p].n_aips);
			}
		}
		uapi_snapshot_clear(&before);
		uapi_snapshot_clear(&after);
		uapi_txn_clear(&txn);
	}
	/* Every key once more, and all gone: the holes were compacted. */
	ck_assert_uint_le(st.n_slots, (size_t)2 * KEYS + 16);
	uapi_store_free(&st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("uapi_store");
	TCase *tc = tcase_create("model");

	tcase_add_test(tc, test_random_against_model);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return vg_test_run(s, false);
}
