/* SPDX-License-Identifier: MIT */
/*
 * Compaction: empty the emptiest 2 MiB blocks of each zone by migrating
 * their pages elsewhere in the same zone, so that a THP can be allocated
 * there. Like Linux, every zone that holds user pages is compacted: on an
 * engine without a movable zone (a kernel booted without movablecore)
 * user pages live in the normal zone.
 * Pages that may be pinned are skipped silently (migrate_refuses_pinned:
 * migration itself refuses them).
 */
#include <errno.h>
#include <stdlib.h>

#include <pinmm/daemons.h>

#include "../mm/mm.h"
#include "daemons.h"

#define BLOCK (1ul << PM_MAX_ORDER)

/* Allocated frames of a block (the buddy lists own the others). */
static unsigned long block_used(struct pinmm *eng, struct pm_zone *z, uint64_t start)
{
	unsigned long free_frames = 0;

	/* the buddy flags and orders are the allocator's: read them locked */
	pm_mutex_lock(&z->lock);
	for (uint64_t pfn = start; pfn < start + BLOCK;) {
		struct pinmm_page *p = eng_pfn_page(eng, pfn);

		if (page_test(p, PG_buddy)) {
			free_frames += 1ul << folio_order(p);
			pfn += 1ul << folio_order(p);
		} else {
			pfn++;
		}
	}
	pm_mutex_unlock(&z->lock);
	return BLOCK - free_frames;
}

/* A frame outside [start, start + BLOCK); frames from inside are kept
 * aside (on *aside) so the allocator does not hand them out again. */
static struct pinmm_page *alloc_outside(struct pinmm *eng, unsigned gfp, uint64_t start,
					struct pinmm_page ***aside, size_t *nr_aside)
{
	for (;;) {
		struct pinmm_page *p = pm_alloc_folio(eng, 0, gfp);
		uint64_t pfn;

		if (!p)
			return NULL;
		pfn = eng_page_pfn(eng, p);
		if (pfn < start || pfn >= start + BLOCK)
			return p;
		struct pinmm_page **n = realloc(*aside, (*nr_aside + 1) * sizeof(*n));
		if (!n) {
			folio_put(p);
			return NULL;
		}
		*aside = n;
		(*aside)[(*nr_aside)++] = p;
	}
}

static long compact_block(struct pinmm *eng, unsigned gfp, uint64_t start)
{
	struct pinmm_page **aside = NULL;
	size_t nr_aside = 0;
	long moved = 0;

	for (uint64_t pfn = start; pfn < start + BLOCK; pfn++) {
		struct pinmm_page *p = eng_pfn_page(eng, pfn);
		struct pinmm_page *new;

		if (page_test(p, PG_buddy) || page_test(p, PG_tail) || folio_order(p) ||
		    !folio_try_get(p))
			continue;
		new = alloc_outside(eng, gfp, start, &aside, &nr_aside);
		if (new && migrate_folio_to(eng, p, new) == 0)
			moved++;
		folio_put(p);
		if (!new)
			break;	/* nowhere to go */
	}
	for (size_t i = 0; i < nr_aside; i++)
		folio_put(aside[i]);
	free(aside);
	return moved;
}

static long compact_zone(struct pinmm *eng, enum pinmm_zone zi)
{
	struct pm_zone *z = &eng->mem.zones[zi];
	unsigned gfp = zi == PINMM_ZONE_MOVABLE ? PM_GFP_MOVABLE : 0;
	long moved = 0;

	/* the emptiest partly used blocks first: the cheapest to free */
	for (int round = 0; round < 4; round++) {
		uint64_t best = UINT64_MAX;
		unsigned long best_used = BLOCK;

		for (uint64_t b = z->start_pfn; b < z->end_pfn; b += BLOCK) {
			unsigned long used = block_used(eng, z, b);

			if (used && used < best_used) {
				best = b;
				best_used = used;
			}
		}
		if (best == UINT64_MAX || pm_zone_nr_free(z) < best_used + BLOCK)
			break;
		long n = compact_block(eng, gfp, best);
		moved += n;
		if (!n)
			break;	/* everything left there is pinned or busy */
	}
	return moved;
}

long pinmm_compact(struct pinmm *eng)
{
	if (!eng)
		return -EINVAL;
	return compact_zone(eng, PINMM_ZONE_NORMAL) + compact_zone(eng, PINMM_ZONE_MOVABLE);
}
