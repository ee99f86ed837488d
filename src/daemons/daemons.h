/* SPDX-License-Identifier: MIT */
/* Internals shared by the mechanisms that move pages. */
#ifndef PM_DAEMONS_DAEMONS_H
#define PM_DAEMONS_DAEMONS_H

#include "../mm/mm.h"

/*
 * Move a small folio (caller holds a reference) to a new frame allocated
 * with gfp. 0; -EBUSY (it may be pinned, or it cannot migrate: large, KSM);
 * -EAGAIN (another reference, or locked); -ENOMEM.
 */
int migrate_folio(struct pinmm *eng, struct pinmm_page *folio, unsigned gfp);
/* The same into a frame the caller allocated (consumed either way). */
int migrate_folio_to(struct pinmm *eng, struct pinmm_page *folio, struct pinmm_page *new);

/* MADV_UNMERGEABLE: unshare every KSM page of the range (mmap_lock held). */
int ksm_unmerge_range(struct pinmm_mm *mm, uint64_t start, uint64_t end);

/* MADV_COLLAPSE over [start, end) (mmap_lock held for write): 0, -EAGAIN
 * when a range holds a page that may be pinned, -EINVAL, -ENOMEM. */
int madvise_collapse(struct pinmm_mm *mm, uint64_t start, uint64_t end);

/* MADV_PAGEOUT over [start, end) (mmap_lock held). */
int madvise_pageout(struct pinmm_mm *mm, uint64_t start, uint64_t end);
/* Swap one small anon folio out (reference and lock held): 1 or 0. */
int shrink_folio(struct pinmm *eng, struct pinmm_page *folio, bool cold_only);

#endif
