/* SPDX-License-Identifier: MIT */
/* Small helpers every engine file uses. */
#ifndef PM_BASE_COMPILER_H
#define PM_BASE_COMPILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((uint64_t)(a) - 1)) == 0)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/*
 * A fault that must be retried (a racing change, a page being moved or
 * swapped out by someone else) waits it out; only a wait this long is
 * taken for a livelock and answered -EAGAIN.
 */
#include <time.h>
#define PM_RETRY_SECONDS 5
static inline double pm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
/* tries counts calls; the clock is read only every 256th */
static inline bool pm_retry_expired(unsigned *tries, double *since)
{
	if ((++*tries & 255) != 1)
		return false;
	if (*tries == 1) {
		*since = pm_now();
		return false;
	}
	return pm_now() - *since > PM_RETRY_SECONDS;
}

#if defined(__SANITIZE_THREAD__)
#define PM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PM_TSAN 1
#endif
#endif

#endif
