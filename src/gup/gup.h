/* SPDX-License-Identifier: MIT */
/* GUP internals shared by the slow path, GUP-fast and the pin handles. */
#ifndef PM_GUP_GUP_H
#define PM_GUP_GUP_H

#include <pinmm/gup.h>

#include "../mm/mm.h"

/*
 * Take refs references of the kind flags asks for (FOLL_GET or FOLL_PIN) on
 * a folio the caller already holds a reference to, or (fast) only if its
 * count is not zero: one per page, in one atomic step per count however
 * many pages of the folio are taken (Linux's try_grab_folio(folio, refs)).
 * Returns false when the fast grab found it free.
 */
bool try_grab_folio(struct pinmm *eng, struct pinmm_page *folio, int refs,
		    unsigned flags, bool fast);
/* Undo a try_grab_folio() of refs. */
void gup_put_folio(struct pinmm *eng, struct pinmm_page *folio, int refs, unsigned flags);

/* Must a R/O FOLL_PIN of this page unshare it first (make it exclusive)?
 * vma is NULL on GUP-fast, which then leaves the question to the slow path. */
bool gup_must_unshare(struct pinmm *eng, const struct vm_area *vma, unsigned flags,
		      struct pinmm_page *page, bool zero_page);

/* Slow path: under mmap_lock, faulting. Returns pages taken or -errno. */
long __get_user_pages(struct pinmm_mm *mm, uint64_t start, unsigned long nr,
		      unsigned flags, struct pinmm_page **pages);
/* GUP-fast: no mmap_lock, no ptl. Returns pages taken (0..nr). */
unsigned long gup_fast(struct pinmm_mm *mm, uint64_t start, unsigned long nr,
		       unsigned flags, struct pinmm_page **pages);

#endif
