/* SPDX-License-Identifier: MIT */
/*
 * Moving bytes in and out of frames. A device (DMA) and a CPU may touch the
 * same frame at once, as on real hardware; in a ThreadSanitizer build the
 * copies use relaxed atomics so that such traffic, which the guarantee
 * permits, is not reported as a data race of the engine.
 */
#ifndef PM_MEM_FRAME_IO_H
#define PM_MEM_FRAME_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <pinmm/mm.h>

#include "../base/compiler.h"
#include "../base/preempt.h"

/* For the explorer's reduction: the frames whose bytes a step read or
 * wrote, one access per page (nothing outside the explore build). */
static inline void frame_access(const void *frame, size_t len, enum pm_access_kind kind)
{
#ifdef PINMM_EXPLORE
	uintptr_t a = (uintptr_t)frame & ~(uintptr_t)(PINMM_PAGE_SIZE - 1);

	for (; a < (uintptr_t)frame + len; a += PINMM_PAGE_SIZE)
		pm_access((const void *)a, kind);
#else
	(void)frame, (void)len, (void)kind;
#endif
}

#ifdef PM_TSAN
/* word by word where both ends and the length allow (frames are page
 * aligned): eight times fewer instrumented accesses than byte by byte */
static inline bool frame_words(const void *a, const void *b, size_t len)
{
	return !(((uintptr_t)a | (uintptr_t)b | len) & 7);
}
#endif

static inline void frame_copy_to(void *frame, const void *src, size_t len)
{
	frame_access(frame, len, PM_ACC_WRITE);
#ifdef PM_TSAN
	if (frame_words(frame, src, len)) {
		uint64_t *d = frame, w;
		for (size_t i = 0; i < len / 8; i++) {
			memcpy(&w, (const uint8_t *)src + 8 * i, 8);
			__atomic_store_n(&d[i], w, __ATOMIC_RELAXED);
		}
		return;
	}
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
	frame_access(frame, len, PM_ACC_READ);
#ifdef PM_TSAN
	if (frame_words(dst, frame, len)) {
		const uint64_t *s = frame;
		for (size_t i = 0; i < len / 8; i++) {
			uint64_t w = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
			memcpy((uint8_t *)dst + 8 * i, &w, 8);
		}
		return;
	}
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
	frame_access(frame, len, PM_ACC_WRITE);
#ifdef PM_TSAN
	if (frame_words(frame, frame, len)) {
		uint64_t *d = frame, w = 0x0101010101010101ull * byte;
		for (size_t i = 0; i < len / 8; i++)
			__atomic_store_n(&d[i], w, __ATOMIC_RELAXED);
		return;
	}
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
	frame_access(src, len, PM_ACC_READ);
	frame_access(dst, len, PM_ACC_WRITE);
#ifdef PM_TSAN
	if (frame_words(dst, src, len)) {
		uint64_t *d = dst;
		const uint64_t *s = src;
		for (size_t i = 0; i < len / 8; i++)
			__atomic_store_n(&d[i], __atomic_load_n(&s[i], __ATOMIC_RELAXED),
					 __ATOMIC_RELAXED);
		return;
	}
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
