// SPDX-License-Identifier: MIT
/*
 * aead-bench: nanoseconds per packet of the data-path ChaCha20-Poly1305,
 * called the way the data path calls it (one keyed context reused, seal
 * and open in place, 64-bit counter nonce), for each backend built in.
 *
 * Times are thread CPU time, so other processes on a shared machine only
 * add noise, not their own run time; each figure is the median of -r runs.
 * Open timings include restoring the ciphertext (a memcpy), whose own
 * median cost is measured and subtracted.
 *
 * -x sweeps packet sizes to find where the backends cross over (the
 * threshold below which the OpenSSL build hands packets to libsodium).
 *
 * -f prints only the cipher floor of the tunnel: seal + open of one
 * 1420-byte packet with the data path's backend, in ns (what both ends of
 * a tunnel must spend per packet whatever else they do).
 *
 * usage: aead-bench [-r RUNS] [-s SCALE] [-x | -f]
 */
#include "config.h"

#include "device/crypto.h"
#include "tools/bench/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_OPENSSL
#include <openssl/evp.h>
#endif

#define MAX_RUNS 51

static int runs = 9;
static double scale = 1.0;

static size_t packets_for(size_t len)
{
	/* Roughly 20 ms of work per run on a 2020s core. */
	size_t n = (size_t)(scale * 20e6 / (50 + len * 1.5));

	return n ? n : 1;
}

/* A volatile sink keeps the compiler from dropping the copy loop. */
static volatile uint8_t sink;

static double copy_ns(uint8_t *buf, const uint8_t *src, size_t len)
{
	size_t n = packets_for(len);
	double t[MAX_RUNS];

	for (int r = 0; r < runs; r++) {
		double t0 = bench_cpu_ns();

		for (size_t i = 0; i < n; i++) {
			memcpy(buf, src, len + AEAD_TAG_SIZE);
			__asm__ volatile("" : : "r"(buf) : "memory");
		}
		t[r] = (bench_cpu_ns() - t0) / n;
		sink = buf[0];
	}
	return bench_median(t, runs);
}

static double seal_ns(const struct dp_aead_ops *ops, struct dp_aead *a,
		      uint8_t *buf, size_t len)
{
	size_t n = packets_for(len);
	double t[MAX_RUNS];
	uint64_t nonce = 0;

	for (int r = 0; r < runs; r++) {
		double t0 = bench_cpu_ns();

		for (size_t i = 0; i < n; i++)
			ops->seal(a, nonce++, buf, len);
		t[r] = (bench_cpu_ns() - t0) / n;
	}
	return bench_median(t, runs);
}

static double open_ns(const struct dp_aead_ops *ops, struct dp_aead *a,
		      uint8_t *buf, const uint8_t *sealed, size_t len)
{
	size_t n = packets_for(len);
	double t[MAX_RUNS];

	for (int r = 0; r < runs; r++) {
		double t0 = bench_cpu_ns();

		for (size_t i = 0; i < n; i++) {
			memcpy(buf, sealed, len + AEAD_TAG_SIZE);
			if (ops->open(a, 42, buf, len + AEAD_TAG_SIZE)) {
				fprintf(stderr, "%s: open failed\n", ops->name);
				exit(1);
			}
		}
		t[r] = (bench_cpu_ns() - t0) / n;
	}
	return bench_median(t, runs);
}

/* Two keypairs used alternately by one thread: the per-thread context has
 * to be re-keyed on every packet (the worst case for the OpenSSL cache). */
static double seal_alternating_ns(const struct dp_aead_ops *ops,
				  struct dp_aead *a, struct dp_aead *b,
				  uint8_t *buf, size_t len)
{
	size_t n = packets_for(len);
	double t[MAX_RUNS];
	uint64_t nonce = 0;

	for (int r = 0; r < runs; r++) {
		double t0 = bench_cpu_ns();

		for (size_t i = 0; i < n; i++)
			ops->seal(i & 1 ? b : a, nonce++, buf, len);
		t[r] = (bench_cpu_ns() - t0) / n;
	}
	return bench_median(t, runs);
}

#ifdef HAVE_OPENSSL
/* The naive way: a fresh EVP context, cipher and key for every packet. */
static double naive_openssl_seal_ns(const uint8_t *key, uint8_t *buf, size_t len)
{
	size_t n = packets_for(len);
	double t[MAX_RUNS];
	uint8_t iv[12] = { 0 };
	int outl;

	for (int r = 0; r < runs; r++) {
		double t0 = bench_cpu_ns();

		for (size_t i = 0; i < n; i++) {
			EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

			iv[4] = i;
			if (!c || !EVP_EncryptInit_ex(c, EVP_chacha20_poly1305(),
						      NULL, key, iv) ||
			    !EVP_EncryptUpdate(c, buf, &outl, buf, (int)len) ||
			    !EVP_EncryptFinal_ex(c, buf + outl, &outl) ||
			    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16,
						 buf + len)) {
				fprintf(stderr, "naive EVP failed\n");
				exit(1);
			}
			EVP_CIPHER_CTX_free(c);
		}
		t[r] = (bench_cpu_ns() - t0) / n;
	}
	return bench_median(t, runs);
}
#endif

static void bench_backend(const struct dp_aead_ops *ops, const char *label,
			  const uint8_t *key)
{
	static const size_t sizes[] = { 64, 1420 };
	static uint8_t buf[1420 + AEAD_TAG_SIZE], sealed[1420 + AEAD_TAG_SIZE];
	struct dp_aead *a = ops->new(key), *b = ops->new(key + 32);

	if (!a || !b) {
		fprintf(stderr, "%s: no memory\n", ops->name);
		exit(1);
	}
	for (size_t i = 0; i < 2; i++) {
		size_t len = sizes[i];
		double s, o, c, alt;

		memset(sealed, 0x5a, len);
		ops->seal(a, 42, sealed, len);
		/* Warm up caches, the CPU clock and the per-thread context. */
		seal_ns(ops, a, buf, len);
		s = seal_ns(ops, a, buf, len);
		c = copy_ns(buf, sealed, len);
		o = open_ns(ops, a, buf, sealed, len) - c;
		alt = seal_alternating_ns(ops, a, b, buf, len);
		printf("%-16s %5zu  seal %7.1f ns (%6.0f MB/s)  open %7.1f ns (%6.0f MB/s)  seal, 2 keys alternating %7.1f ns\n",
		       label, len, s, len * 1e3 / s, o, len * 1e3 / o, alt);
	}
	ops->free(a);
	ops->free(b);
}

static void sweep(const uint8_t *key)
{
	static const size_t sizes[] = { 32, 64, 96, 128, 192, 256, 320, 384,
					448, 512, 768, 1024, 1420 };
	static uint8_t buf[1420 + AEAD_TAG_SIZE], sealed[1420 + AEAD_TAG_SIZE];
	const struct dp_aead_ops *ops[] = {
		&dp_aead_sodium,
#ifdef HAVE_OPENSSL
		&dp_aead_openssl,
#endif
	};
	const size_t nops = sizeof(ops) / sizeof(ops[0]);

	printf("%5s", "bytes");
	for (size_t j = 0; j < nops; j++)
		printf("  %18s seal / open", ops[j]->name);
	printf("\n");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];

		printf("%5zu", len);
		for (size_t j = 0; j < nops; j++) {
			struct dp_aead *a = ops[j]->new(key);
			double s, o;

			memset(sealed, 0x5a, len);
			ops[j]->seal(a, 42, sealed, len);
			seal_ns(ops[j], a, buf, len);
			s = seal_ns(ops[j], a, buf, len);
			o = open_ns(ops[j], a, buf, sealed, len) -
			    copy_ns(buf, sealed, len);
			printf("  %16.1f ns / %7.1f ns", s, o);
			ops[j]->free(a);
		}
		printf("\n");
	}
}

/* tools/bench/tunnel-bench divides daemon CPU by this. */
static void floor_ns(const uint8_t *key)
{
	static uint8_t buf[1420 + AEAD_TAG_SIZE], sealed[1420 + AEAD_TAG_SIZE];
#ifdef HAVE_OPENSSL
	const struct dp_aead_ops *ops = &dp_aead_hybrid;
#else
	const struct dp_aead_ops *ops = &dp_aead_sodium;
#endif
	struct dp_aead *a = ops->new(key);
	double s, o;

	if (!a) {
		fprintf(stderr, "%s: no memory\n", ops->name);
		exit(1);
	}
	memset(sealed, 0x5a, sizeof(sealed));
	ops->seal(a, 42, sealed, 1420);
	seal_ns(ops, a, buf, 1420);
	s = seal_ns(ops, a, buf, 1420);
	o = open_ns(ops, a, buf, sealed, 1420) - copy_ns(buf, sealed, 1420);
	printf("%.1f %.1f %.1f %s\n", s + o, s, o, dp_aead_backend());
	ops->free(a);
}

int main(int argc, char **argv)
{
	uint8_t key[64];
	bool do_sweep = false, do_floor = false;
	int opt;

	while ((opt = getopt(argc, argv, "r:s:xf")) != -1) {
		switch (opt) {
		case 'x':
			do_sweep = true;
			break;
		case 'f':
			do_floor = true;
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 's':
			scale = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-r RUNS] [-s SCALE] [-x | -f]\n", argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS || scale <= 0) {
		fprintf(stderr, "runs must be 1..%d, scale > 0\n", MAX_RUNS);
		return 2;
	}
	if (crypto_init()) {
		fprintf(stderr, "crypto_init failed\n");
		return 1;
	}
	crypto_random(key, sizeof(key));
	if (do_sweep) {
		sweep(key);
		return 0;
	}
	if (do_floor) {
		floor_ns(key);
		return 0;
	}
	printf("data-path AEAD, ns per packet (thread CPU time, median of %d runs); configured backend: %s\n",
	       runs, dp_aead_backend());
	bench_backend(&dp_aead_sodium, "libsodium", key);
#ifdef HAVE_OPENSSL
	bench_backend(&dp_aead_openssl, "openssl", key);
	bench_backend(&dp_aead_hybrid, "hybrid", key);
	{
		static uint8_t buf[1420 + AEAD_TAG_SIZE];
		static const size_t sizes[] = { 64, 1420 };

		for (size_t i = 0; i < 2; i++) {
			double s = naive_openssl_seal_ns(key, buf, sizes[i]);

			printf("%-16s %5zu  seal %7.1f ns (%6.0f MB/s)  (new EVP context per packet)\n",
			       "openssl-naive", sizes[i], s, sizes[i] * 1e3 / s);
		}
	}
#endif
	return 0;
}
