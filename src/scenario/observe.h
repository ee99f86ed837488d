/* SPDX-License-Identifier: MIT */
/*
 * observe.h - what an expectation observes, shared by the engine
 * interpreter (interp_expect.c) and the host backend (host.c): the bytes
 * the last `read` saw, and the verdict of one observation with the words
 * saying what was seen.
 */
#ifndef PINMM_SCENARIO_OBSERVE_H
#define PINMM_SCENARIO_OBSERVE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* What the last `read` (or `dev-read`) saw. */
struct rt_last {
	bool valid, uniform;
	uint8_t first, diff;	/* diff: the first byte unlike first ... */
	uint64_t len, diff_at;	/* ... at this offset */
};

/* OBS_SKIP: the host cannot make this observation (never the engine). */
enum obs { OBS_FALSE, OBS_TRUE, OBS_ERROR, OBS_SKIP };

struct observation {
	enum obs v;
	char what[200];		/* what was seen */
};

__attribute__((format(printf, 3, 4), unused))
static enum obs saw(struct observation *o, enum obs v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->what, sizeof(o->what), fmt, ap);
	va_end(ap);
	return o->v = v;
}

/* `expect read == B`: every byte of the last read was want. */
static inline void bytes(struct observation *o, const struct rt_last *l, long want)
{
	if (!l->valid)
		saw(o, OBS_ERROR, "nothing was read before");
	else if (!l->uniform)
		saw(o, OBS_FALSE, "0x%02x, then 0x%02x at +%llu", l->first, l->diff,
		    (unsigned long long)l->diff_at);
	else
		saw(o, l->first == want ? OBS_TRUE : OBS_FALSE, "0x%02x", l->first);
}

#endif
