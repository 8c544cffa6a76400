/* SPDX-License-Identifier: MIT */
/* Timing and statistics every benchmark needs; header-only so each
 * benchmark stays one source file. */
#ifndef VGUARD_TOOLS_BENCH_BENCH_H
#define VGUARD_TOOLS_BENCH_BENCH_H

#include <stddef.h>
#include <stdlib.h>
#include <time.h>

/* Nanoseconds on clock id: CLOCK_THREAD_CPUTIME_ID for what the work costs
 * on a busy shared machine, CLOCK_MONOTONIC for wall time. */
static inline double bench_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The calling thread's CPU time in nanoseconds. */
static inline double bench_cpu_ns(void)
{
	return bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v ascending, for medians, minima and maxima. */
static inline void bench_sort(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
}

/* Sorts v and returns its median (the mean of the middle two for even n). */
static inline double bench_median(double *v, size_t n)
{
	bench_sort(v, n);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
