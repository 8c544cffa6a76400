/* SPDX-License-Identifier: MIT */
/*
 * One UAPI connection: bytes in, reply bytes out, several operations in a
 * row as IpcHandle serves them.  No sockets here (see uapi_server.c), so it
 * is unit-testable and fuzzable.  Both buffers may hold keys (a set=1's
 * input, a get=1's reply), so they are wiped whenever they are let go.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "device/uapi.h"
#include "device/uapi_impl.h"

int uapi_errno(int err)
{
	switch (err) {
	case 0:
	case UAPI_ERR_IO:
	case UAPI_ERR_PROTOCOL:
	case UAPI_ERR_INVALID:
	case UAPI_ERR_PORT_IN_USE:
	case UAPI_ERR_UNKNOWN:
		return err;
	default:
		return UAPI_ERR_UNKNOWN;
	}
}

void uapi_conn_init(struct uapi_conn *c, const struct uapi_ops *ops, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->ctx = ctx;
	c->state = UAPI_ST_OP;
}

void uapi_conn_free(struct uapi_conn *c)
{
	uapi_txn_clear(&c->parser.txn);
	if (c->in)
		sodium_memzero(c->in, c->in_cap);
	free(c->in);
	if (c->out)
		sodium_memzero(c->out, c->out_cap);
	free(c->out);
	memset(c, 0, sizeof(*c));
}

bool uapi_conn_done(const struct uapi_conn *c)
{
	return c->state == UAPI_ST_CLOSE;
}

static int out_add(struct uapi_conn *c, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (!n)
		return 0;
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n > c->out_cap) {
		cap = c->out_cap ? c->out_cap : 512;
		while (cap < c->out_len + n)
			cap *= 2;
		p = uapi_realloc_wipe(c->out, c->out_cap, c->out_len, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return 0;
}

static int reply_status(struct uapi_conn *c, int err)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "errno=%d\n\n", uapi_errno(err));

	return out_add(c, line, (size_t)n);
}

static int run_get(struct uapi_conn *c)
{
	struct uapi_snapshot snap;
	char *text;
	size_t len = 0;
	int ret;

	memset(&snap, 0, sizeof(snap));
	ret = c->ops->get ? c->ops->get(c->ctx, &snap) : -EINVAL;
	if (ret) {
		uapi_snapshot_clear(&snap);
		return reply_status(c, ret);
	}
	text = uapi_format_get(&snap, &len);
	uapi_snapshot_clear(&snap);
	if (!text)
		return reply_status(c, UAPI_ERR_UNKNOWN);
	ret = out_add(c, text, len);
	sodium_memzero(text, len);
	free(text);
	return ret ? ret : reply_status(c, 0);
}

static int run_stats(struct uapi_conn *c)
{
	struct uapi_emitter em;
	int ret;

	memset(&em, 0, sizeof(em));
	if (!c->ops->stats)
		return reply_status(c, UAPI_ERR_INVALID);
	ret = c->ops->stats(c->ctx, &em);
	if (!ret && em.b.oom)
		ret = -ENOMEM;
	if (!ret && em.b.len)
		ret = out_add(c, em.b.p, em.b.len);
	uapi_sbuf_wipe(&em.b);
	return reply_status(c, ret);
}

static int run_set(struct uapi_conn *c)
{
	int ret = c->parser.err;

	if (!ret)
		ret = c->ops->set ? c->ops->set(c->ctx, &c->parser.txn) : -EINVAL;
	uapi_txn_clear(&c->parser.txn);
	uapi_parser_init(&c->parser);
	return reply_status(c, ret);
}

/* The first line of an operation: anything unknown closes the
 * connection, as IpcHandle does. */
static int step_op(struct uapi_conn *c, size_t *pos)
{
	const char *s = c->in + *pos, *nl;
	size_t avail = c->in_len - *pos;

	nl = memchr(s, '\n', avail);
	if (!nl) {
		/* "stats=1\n" is the longest valid operation line (but for
		 * UAPI_UPGRADE_LINE where upgrades are served). */
		if (c->eof || avail > (c->ops->upgrade ? sizeof(UAPI_UPGRADE_LINE) : 8))
			c->state = UAPI_ST_CLOSE;
		return 1;
	}
	*pos += (size_t)(nl - s) + 1;
	if (uapi_str_eq(s, (size_t)(nl - s), "get=1")) {
		c->state = UAPI_ST_GET;
		c->op = 'g';
	} else if (uapi_str_eq(s, (size_t)(nl - s), "stats=1")) {
		c->state = UAPI_ST_GET;
		c->op = 's';
	} else if (uapi_str_eq(s, (size_t)(nl - s), "set=1")) {
		c->state = UAPI_ST_SET;
		uapi_parser_init(&c->parser);
	} else if (c->ops->upgrade && *pos == c->in_len &&
		   uapi_str_eq(s, (size_t)(nl - s), UAPI_UPGRADE_LINE)) {
		/* Nothing may follow before the reply: what comes next is the
		 * handover's own exchange (device/upgrade.c). */
		c->state = UAPI_ST_UPGRADE;
		return 1;
	} else {
		c->state = UAPI_ST_CLOSE;
	}
	return 0;
}

static int step_get(struct uapi_conn *c, size_t *pos, int *ret)
{
	char b;

	if (*pos == c->in_len) {
		if (c->eof)
			c->state = UAPI_ST_CLOSE;
		return 1;
	}
	b = c->in[(*pos)++];
	c->state = UAPI_ST_OP;
	if (b != '\n')
		*ret = reply_status(c, UAPI_ERR_INVALID);
	else
		*ret = c->op == 's' ? run_stats(c) : run_get(c);
	return 0;
}

static int step_set(struct uapi_conn *c, size_t *pos, int *ret)
{
	const char *s = c->in + *pos, *nl;
	size_t avail = c->in_len - *pos, n;

	nl = memchr(s, '\n', avail);
	if (!nl) {
		if (avail >= UAPI_MAX_LINE) {
			/* bufio.Scanner's ErrTooLong: reply, then give up on
			 * the connection, which cannot be resynchronised. */
			c->parser.err = UAPI_ERR_IO;
			*ret = run_set(c);
			c->state = UAPI_ST_CLOSE;
			return 1;
		}
		if (!c->eof)
			return 1;
		/* At EOF the scanner hands over a last unterminated line and
		 * the operation ends as if a blank line had followed. */
		if (avail && !(avail == 1 && s[0] == '\r'))
			uapi_parser_line(&c->parser, s, avail);
		*pos += avail;
		*ret = run_set(c);
		c->state = UAPI_ST_CLOSE;
		return 1;
	}
	n = (size_t)(nl - s);
	*pos += n + 1;
	if (n == 0 || (n == 1 && s[0] == '\r')) {
		c->state = UAPI_ST_OP;
		*ret = run_set(c);
		return 0;
	}
	uapi_parser_line(&c->parser, s, n);
	return 0;
}

static int conn_run(struct uapi_conn *c)
{
	size_t pos = 0;
	int ret = 0, wait = 0;

	while (!wait && !ret && c->state != UAPI_ST_CLOSE) {
		switch (c->state) {
		case UAPI_ST_OP:
			wait = step_op(c, &pos);
			break;
		case UAPI_ST_GET:
			wait = step_get(c, &pos, &ret);
			break;
		case UAPI_ST_SET:
			wait = step_set(c, &pos, &ret);
			break;
		case UAPI_ST_CLOSE:
		case UAPI_ST_UPGRADE:
			wait = 1;
			break;
		}
	}
	if (c->state == UAPI_ST_CLOSE)
		pos = c->in_len;
	if (pos) {
		sodium_memzero(c->in, pos);
		memmove(c->in, c->in + pos, c->in_len - pos);
		c->in_len -= pos;
	}
	return ret;
}

int uapi_conn_input(struct uapi_conn *c, const void *data, size_t len, bool eof)
{
	size_t cap;
	char *p;

	if (c->state == UAPI_ST_CLOSE || c->state == UAPI_ST_UPGRADE)
		return 0;
	if (!c->in || c->in_len + len > c->in_cap) {
		cap = c->in_cap ? c->in_cap : 4096;
		while (cap < c->in_len + len)
			cap *= 2;
		p = uapi_realloc_wipe(c->in, c->in_cap, c->in_len, cap);
		if (!p)
			return -ENOMEM;
		c->in = p;
		c->in_cap = cap;
	}
	if (len)
		memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
	c->eof = c->eof || eof;
	return conn_run(c);
}
