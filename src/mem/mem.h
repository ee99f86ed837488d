/* SPDX-License-Identifier: MIT */
/*
 * Physical memory: one arena of 4 KiB frames mapped once, split into zones
 * (normal, then movable), each managed by a buddy allocator.
 */
#ifndef PM_MEM_MEM_H
#define PM_MEM_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pinmm/check.h>
#include <pinmm/mm.h>

#include "../base/lock.h"
#include "page.h"

#define PM_MAX_ORDER 9		/* orders 0..9: a 2 MiB THP is the largest */

struct pm_zone {
	uint64_t start_pfn, end_pfn;
	pm_mutex_t lock;
	struct pinmm_page *free_list[PM_MAX_ORDER + 1];
	size_t nr_free;		/* free frames (pages, not blocks) */
};

/*
 * The descriptors live in a block of their own, aligned to
 * PM_DESC_BLOCK: its first cache line names the engine, so any page finds
 * its engine by rounding its own address down — no registry to search, and
 * nothing another engine's teardown could free under a reader.
 */
#define PM_DESC_BLOCK (1ull << 30)	/* room for 16M frames (64 GiB) */
#define PM_MAX_FRAMES ((PM_DESC_BLOCK - 64) / sizeof(struct pinmm_page))

struct pm_mem {
	uint8_t *arena;		/* nr_frames * 4 KiB of real memory */
	size_t arena_bytes;
	void *desc_map;		/* the mapping that holds the block */
	size_t desc_map_bytes;
	struct pinmm_page *pages;	/* descriptor per frame */
	uint64_t nr_frames;
	struct pm_zone zones[PINMM_ZONE_NR];
};

/* gfp: where a frame may come from, and how */
#define PM_GFP_MOVABLE 0x1u	/* user page: movable zone first, then normal */
#define PM_GFP_ZERO 0x2u	/* zero-fill it */
#define PM_GFP_NOINJECT 0x4u	/* never fail by injection (teardown paths) */

struct pinmm;

int pm_mem_init(struct pm_mem *mem, struct pinmm *eng, size_t normal_frames,
		size_t movable_frames);
void pm_mem_destroy(struct pm_mem *mem);

/* A folio of 2^order frames with refcount 1, or NULL (no memory). */
struct pinmm_page *pm_alloc_folio(struct pinmm *eng, unsigned order,
				  unsigned gfp);
/* Back to the buddy allocator (refcount already zero). */
void pm_free_folio(struct pinmm_page *folio);
/* deferred_split_folio(): queue a large anon folio that is now partly
 * mapped, unless queued already. */
void deferred_split_folio(struct pinmm_page *folio);
/* Take folio off the deferred split queue if it is there: true if it was. */
bool folio_unqueue_deferred_split(struct pinmm_page *folio);
/* The shrinker's next folio, off the queue, with a reference; NULL. */
struct pm_split_queue;
struct pinmm_page *deferred_split_pop(struct pm_split_queue *q);

static inline struct pinmm *pm_page_engine(const struct pinmm_page *p)
{
	return *(struct pinmm *const *)ALIGN_DOWN((uintptr_t)p, PM_DESC_BLOCK);
}

static inline uint64_t pm_page_to_pfn(const struct pm_mem *mem,
				      const struct pinmm_page *p)
{
	return (uint64_t)(p - mem->pages);
}
static inline struct pinmm_page *pm_pfn_to_page(const struct pm_mem *mem,
						uint64_t pfn)
{
	return &mem->pages[pfn];
}
static inline uint8_t *pm_pfn_to_virt(const struct pm_mem *mem, uint64_t pfn)
{
	return mem->arena + (pfn << PINMM_PAGE_SHIFT);
}
static inline enum pinmm_zone pm_page_zone(const struct pinmm_page *p)
{
	return (enum pinmm_zone)p->zone;
}

size_t pm_zone_nr_free(struct pm_zone *z);

#endif
