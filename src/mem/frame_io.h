/* SPDX-License-Identifier: MIT */
/*
 * Moving bytes in and out of frames. A device (DMA) and a CPU may touch the
 * same frame at once, as on real hardware; in a ThreadSanitizer build the
 * copies use relaxed atomics so that such traffic, which the guarantee
 * permits, is not reported as a data race of the engine.
 */
#ifndef PM_MEM_FRAME_IO_H
#define PM_MEM_FRAME_IO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../base/compiler.h"

static inline void frame_copy_to(void *frame, const void *src, size_t len)
{
#ifdef PM_TSAN
	uint8_t *d = frame;
	const uint8_t *s = src;
	for (size_t i = 0; i < len; i++)
		__atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
#else
	memcpy(frame, src, len);
#endif
}

static inline void frame_copy_from(void *dst, const void *frame, size_t len)
{
#ifdef PM_TSAN
	uint8_t *d = dst;
	const uint8_t *s = frame;
	for (size_t i = 0; i < len; i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
#else
	memcpy(dst, frame, len);
#endif
}

static inline void frame_fill(void *frame, uint8_t byte, size_t len)
{
#ifdef PM_TSAN
	uint8_t *d = frame;
	for (size_t i = 0; i < len; i++)
		__atomic_store_n(&d[i], byte, __ATOMIC_RELAXED);
#else
	memset(frame, byte, len);
#endif
}

/* frame to frame (COW copy, fork's early copy, migration) */
static inline void frame_copy(void *dst, const void *src, size_t len)
{
#ifdef PM_TSAN
	uint8_t *d = dst;
	const uint8_t *s = src;
	for (size_t i = 0; i < len; i++)
		__atomic_store_n(&d[i], __atomic_load_n(&s[i], __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
#else
	memcpy(dst, src, len);
#endif
}

#endif
