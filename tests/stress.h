/* SPDX-License-Identifier: MIT */
/*
 * tests/stress.h - what the real-thread stress tests share: sanitizer-aware
 * budgets (PINMM_STRESS_ROUNDS / PINMM_STRESS_SECONDS override them), a
 * clock, a small PRNG, and a failure record worker threads write to (cmocka
 * asserts only from the test's own thread).
 *
 * The including test defines STRESS_ROUNDS(tsan, asan, plain) and
 * STRESS_SECONDS(tsan, other) values through DEFAULT_ROUNDS and
 * DEFAULT_SECONDS before including this file.
 */
#ifndef PINMM_TESTS_STRESS_H
#define PINMM_TESTS_STRESS_H

#include "helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#if defined(__SANITIZE_THREAD__)
#define SAN_THREAD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SAN_THREAD 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SAN_ADDRESS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SAN_ADDRESS 1
#endif
#endif
#ifndef SAN_THREAD
#define SAN_THREAD 0
#endif
#ifndef SAN_ADDRESS
#define SAN_ADDRESS 0
#endif

static inline unsigned long stress_rounds(unsigned long dflt)
{
	const char *s = getenv("PINMM_STRESS_ROUNDS");
	unsigned long v = s ? strtoul(s, NULL, 0) : 0;
	return v ? v : dflt;
}

static inline double stress_seconds(double dflt)
{
	const char *s = getenv("PINMM_STRESS_SECONDS");
	double v = s ? strtod(s, NULL) : 0;
	return v > 0 ? v : dflt;
}

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t xs(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ------------------------------------------------------ failure record --- */

enum { KEEP_MSGS = 8 };

struct failures {
	atomic_ulong nr;
	pthread_mutex_t lock;
	unsigned kept;
	char msg[KEEP_MSGS][320];	/* the first messages, distinct ones */
};

static void record(struct failures *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), unused));
static void record(struct failures *f, const char *fmt, ...)
{
	char buf[320];
	va_list ap;

	atomic_fetch_add(&f->nr, 1);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&f->lock);
	bool seen = false;
	/* distinct up to the first digit (thread and round numbers differ) */
	size_t cmp = strcspn(buf, "0123456789");
	for (unsigned i = 0; i < f->kept; i++)
		if (strncmp(f->msg[i], buf, cmp) == 0)
			seen = true;
	if (!seen && f->kept < KEEP_MSGS)
		memcpy(f->msg[f->kept++], buf, sizeof(buf));
	pthread_mutex_unlock(&f->lock);
}

static inline void init_failures(struct failures *f)
{
	atomic_init(&f->nr, 0);
	pthread_mutex_init(&f->lock, NULL);
	f->kept = 0;
}

static inline void assert_no_failures(struct failures *f)
{
	if (atomic_load(&f->nr)) {
		print_error("%lu failure(s) in worker threads; first of each kind:\n",
			    atomic_load(&f->nr));
		for (unsigned i = 0; i < f->kept; i++)
			print_error("  %s\n", f->msg[i]);
	}
	assert_int_equal(atomic_load(&f->nr), 0);
	pthread_mutex_destroy(&f->lock);
}

#endif
