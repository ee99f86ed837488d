/* SPDX-License-Identifier: MIT */
/*
 * struct pinmm_page (the kernel's struct page) and folio helpers.
 *
 * One 64-byte descriptor per 4 KiB frame, in an array parallel to the
 * frame arena; descriptors are never freed, so a lockless reader (GUP-fast)
 * may always touch the descriptor of a pfn it read from an entry, even if
 * the frame was freed and reused meanwhile: folio_try_get() refuses a free
 * frame (refcount zero) and the entry recheck refuses a reused one.
 *
 * A folio is its head page. Counts (refcount, pincount, entire_mapcount)
 * live in the head; mapcount and the anon-exclusive bit are per page.
 *
 * Pins are counted exactly: each FOLL_PIN raises the head's refcount by one
 * and its pincount by one (Linux does so for large folios; for small ones it
 * adds a bias of 1024 to refcount instead and gets false positives). Exact
 * counts cost one more atomic per pin and give folio_maybe_dma_pinned() no
 * false positives, which the matrix relies on: a "refused" that was really a
 * false positive would hide whether a path checks pins at all. The ordering
 * argument against GUP-fast is in docs/design.md ("pin accounting").
 */
#ifndef PM_MEM_PAGE_H
#define PM_MEM_PAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <pinmm/mm.h>

#include "../base/compiler.h"
#include "../base/debug_vm.h"
#include "../base/preempt.h"

enum pm_page_flag {
	PG_head,		/* first page of a folio of order > 0 */
	PG_tail,		/* a page inside a larger folio */
	PG_buddy,		/* free, owned by the buddy allocator */
	PG_anon,		/* anonymous memory */
	PG_anon_exclusive,	/* per page: mapped by exactly one mm, may be written */
	PG_ksm,
	PG_lru,
	PG_locked,
	PG_swapcache,
	PG_dirty,
	PG_zero,		/* the shared zero page */
	PG_reserved,
	PG_pagecache,		/* in a shmem object's page cache */
	PG_hugetlb,		/* head: a hugetlb pool page (free while refcount 0) */
	PG_partially_mapped,	/* head: a large anon folio on the deferred split queue */
};

struct pinmm_page {
	_Atomic uint32_t flags;
	uint8_t order;		/* head: folio order; buddy: block order */
	uint8_t zone;
	uint16_t head_off;	/* tail: distance to the head page */
	_Atomic int32_t refcount;	/* head only */
	_Atomic int32_t mapcount;	/* per page: PTE mappings */
	_Atomic int32_t pincount;	/* head only: FOLL_PIN pins */
	_Atomic int32_t entire_mapcount; /* head only: PMD mappings */
	void *mapping;		/* anon_vma / shmem object */
	uint64_t index;		/* anon: linear page index; shmem: file page */
	struct pinmm_page *next, *prev;	/* buddy free list */
	uint64_t private;	/* swap entry */
};

_Static_assert(sizeof(struct pinmm_page) == 64, "struct page is 64 bytes");

static inline bool page_test(const struct pinmm_page *p, enum pm_page_flag f)
{
	pm_access(&p->flags, PM_ACC_READ);
	return atomic_load_explicit(&((struct pinmm_page *)p)->flags,
				    memory_order_acquire) & (1u << f);
}
static inline void page_set(struct pinmm_page *p, enum pm_page_flag f)
{
	pm_access(&p->flags, PM_ACC_WRITE);
	atomic_fetch_or(&p->flags, 1u << f);
}
static inline void page_clear(struct pinmm_page *p, enum pm_page_flag f)
{
	pm_access(&p->flags, PM_ACC_WRITE);
	atomic_fetch_and(&p->flags, ~(1u << f));
}
/* every flag at once: the allocator setting a frame up or down, under the
 * zone lock (relaxed: the lock orders it, the refcount publishes it) */
static inline void set_page_flags(struct pinmm_page *p, uint32_t flags)
{
	pm_access(&p->flags, PM_ACC_WRITE);
	atomic_store_explicit(&p->flags, flags, memory_order_relaxed);
}

static inline struct pinmm_page *page_folio(struct pinmm_page *p)
{
	/* GUP-fast may look at a page being freed or split: relaxed, and
	 * checked by its reference and entry recheck */
	pm_access(&p->head_off, PM_ACC_READ);
	return p - __atomic_load_n(&p->head_off, __ATOMIC_RELAXED);
}
static inline void set_page_head_off(struct pinmm_page *p, unsigned off)
{
	pm_access(&p->head_off, PM_ACC_WRITE);
	__atomic_store_n(&p->head_off, (uint16_t)off, __ATOMIC_RELAXED);
}
/*
 * order and mapping are read without locks by the scanners that walk every
 * frame (compaction, reclaim) or a folio's rmap; they are set by whoever
 * owns the frame (allocator, fault, split). Relaxed atomics: a stale value
 * is checked again under the proper lock or reference, never trusted.
 */
static inline unsigned folio_order(const struct pinmm_page *f)
{
	pm_access(&f->order, PM_ACC_READ);
	return __atomic_load_n(&f->order, __ATOMIC_RELAXED);
}
static inline void set_page_order(struct pinmm_page *p, unsigned order)
{
	pm_access(&p->order, PM_ACC_WRITE);
	__atomic_store_n(&p->order, (uint8_t)order, __ATOMIC_RELAXED);
}
static inline void *folio_mapping(const struct pinmm_page *f)
{
	pm_access(&f->mapping, PM_ACC_READ);
	return __atomic_load_n(&f->mapping, __ATOMIC_RELAXED);
}
static inline void set_folio_mapping(struct pinmm_page *f, void *mapping)
{
	pm_access(&f->mapping, PM_ACC_WRITE);
	__atomic_store_n(&f->mapping, mapping, __ATOMIC_RELAXED);
}
static inline unsigned long folio_nr_pages(const struct pinmm_page *f)
{
	return 1ul << folio_order(f);
}

/*
 * The counts. Reads take no preemption point (a reuse check or
 * folio_maybe_dma_pinned() decides on them), updates one each; both are
 * marked as accesses of the field for the explorer's reduction (an add
 * whose result decides nothing commutes with other adds).
 */
static inline int folio_ref_count(const struct pinmm_page *f)
{
	pm_access(&f->refcount, PM_ACC_READ);
	return atomic_load(&((struct pinmm_page *)f)->refcount);
}
static inline int folio_pincount(const struct pinmm_page *f)
{
	pm_access(&f->pincount, PM_ACC_READ);
	return atomic_load(&((struct pinmm_page *)f)->pincount);
}
static inline int folio_entire_mapcount(const struct pinmm_page *f)
{
	pm_access(&f->entire_mapcount, PM_ACC_READ);
	return atomic_load(&((struct pinmm_page *)f)->entire_mapcount);
}
/* a page's PTE mappings alone */
static inline int page_pte_mapcount(const struct pinmm_page *p)
{
	pm_access(&p->mapcount, PM_ACC_READ);
	return atomic_load(&((struct pinmm_page *)p)->mapcount);
}

static inline void folio_get_refs(struct pinmm_page *f, int refs)
{
	int old;

	pm_access(&f->refcount, PM_ACC_ADD);
	old = atomic_fetch_add(&f->refcount, refs);

	/* a plain get is for a folio the caller knows alive (mapped under a
	 * lock it holds, or already referenced): never a free frame */
	VM_BUG_ON_PAGE(old <= 0, f);
	pm_preempt(PM_PT_REF_GET, f, old + refs);
}

static inline void folio_get(struct pinmm_page *f)
{
	folio_get_refs(f, 1);
}

/*
 * Take a reference unless the count is zero (the frame is free or being
 * freed). Sequentially consistent: it orders before the caller's re-read of
 * the entry it came from (see gup_fast.c).
 */
static inline bool folio_try_get_refs(struct pinmm_page *f, int refs)
{
	int old;

	pm_access(&f->refcount, PM_ACC_WRITE);	/* decides on the value */
	old = atomic_load(&f->refcount);
	do {
		if (old <= 0)
			return false;
	} while (!atomic_compare_exchange_weak(&f->refcount, &old, old + refs));
	pm_preempt(PM_PT_REF_GET, f, old + refs);
	return true;
}

static inline bool folio_try_get(struct pinmm_page *f)
{
	return folio_try_get_refs(f, 1);
}

/* Drop a reference; frees the folio on the last one. */
void folio_put(struct pinmm_page *f);
void folio_put_refs(struct pinmm_page *f, int refs);

/* PG_locked: one mover of a folio at a time (migration, splits, reclaim),
 * and a swap-in's folio until it is mapped. */
static inline bool folio_trylock(struct pinmm_page *folio)
{
	pm_access(&folio->flags, PM_ACC_WRITE);
	return !(atomic_fetch_or(&folio->flags, 1u << PG_locked) & (1u << PG_locked));
}

static inline void folio_unlock(struct pinmm_page *folio)
{
	pm_access(&folio->flags, PM_ACC_WRITE);
	atomic_fetch_and(&folio->flags, ~(1u << PG_locked));
}

/* Per page mapcount (PTE maps) plus the folio's PMD maps. */
static inline int page_mapcount(struct pinmm_page *p)
{
	return page_pte_mapcount(p) + folio_entire_mapcount(page_folio(p));
}
static inline bool folio_test_anon(const struct pinmm_page *f)
{
	return page_test(f, PG_anon);
}

#endif
