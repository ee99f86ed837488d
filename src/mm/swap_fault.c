/* SPDX-License-Identifier: MIT */
/*
 * Swap-in (Linux's do_swap_page()): the entry at addr refers to a slot.
 * The folio comes from the swap cache when one is cached for the slot (a
 * swap-in by another process after fork, or reclaim still writing it),
 * else from the device into a new folio that enters the cache, so that
 * every process faulting on the slot maps the same page.
 *
 * Whether the page is mapped exclusive (writable, reused by the next write
 * fault) is decided as Linux >= 5.19 decides it: the entry's exclusive
 * marker (SWP_EXCLUSIVE, swp_exclusive), or our reference being the only
 * one once the entry and the cache let go. Without the marker, a page with
 * another reference on it (a FOLL_GET reference that lived through reclaim)
 * comes back shared, and the next write copies away from it.
 */
#include <errno.h>

#include "mm.h"

/* The folio for slot, locked, with a reference; NULL: retry (0 in *err) or
 * -ENOMEM. */
static struct pinmm_page *swapin_folio(struct pinmm *eng, uint64_t slot, int *err)
{
	struct pinmm_page *folio = swap_cache_get_folio(eng, slot), *new;

	*err = 0;
	if (!folio) {
		/* another swap-in of the slot may read it in meanwhile */
		pm_preempt(PM_PT_SWAPIN_MISSED, &eng->swap, slot);
		new = pm_alloc_folio(eng, 0, PM_GFP_MOVABLE);
		if (!new) {
			*err = -ENOMEM;
			return NULL;
		}
		/* locked before the cache shows it: another swap-in of the
		 * slot waits until it is set up */
		folio_trylock(new);
		switch (swap_cache_add_new(eng, slot, new, &folio)) {
		case 0:
			return new;
		case -EEXIST:
			break;			/* someone else's, in folio */
		default:
			folio = NULL;		/* the entry went: retry */
			break;
		}
		folio_unlock(new);
		folio_put(new);
		if (!folio)
			return NULL;
	}
	/* reclaim, or another swap-in, works on it: wait, without locks */
	if (!folio_trylock(folio)) {
		folio_put(folio);
		pm_cpu_relax();
		return NULL;
	}
	return folio;
}

/* mmap_lock held for read. */
int do_swap_page(struct pinmm_mm *mm, struct vm_area *vma, struct pt_table *pte,
		 uint64_t addr, pte_t entry, unsigned flags)
{
	struct pinmm *eng = mm->eng;
	unsigned i = pt_index(addr, PT_LEVEL_PTE);
	uint64_t slot = pte_swp_offset(entry);
	struct pinmm_page *folio;
	bool exclusive;
	pte_t f;
	int err;

	folio = swapin_folio(eng, slot, &err);
	if (!folio)
		return err;
	pm_mutex_lock(&pte->ptl);
	/* the entry holds its slot while it is there; the folio must still
	 * be the one cached for it (reclaim may have freed it meanwhile) */
	if (pt_read(pte, i) != entry || !swap_cache_holds(eng, folio, slot)) {
		pm_mutex_unlock(&pte->ptl);
		folio_unlock(folio);
		folio_put(folio);
		return 0;
	}
	exclusive = pm_policy(eng, PINMM_SW_SWP_EXCLUSIVE) && (entry & PTE_SWP_EXCLUSIVE);
	/* the entry's count goes; the cache goes with the last one */
	swap_free(eng, slot);
	folio_free_swap(eng, folio);
	/* nobody else holds it (no mapping, no cache, no GUP reference) */
	if (!exclusive && !page_test(folio, PG_ksm) && folio_ref_count(folio) == 1)
		exclusive = true;

	if (page_pte_mapcount(folio) == 0)
		page_add_anon_rmap_new(folio, vma, addr);
	else
		page_dup_rmap(folio);	/* another process swapped it in first */
	f = vma_pte_flags(vma, false);
	if (exclusive) {
		page_set(folio, PG_anon_exclusive);
		/* writable at once, as the next write fault would reuse it */
		if (vma->flags & VM_WRITE)
			f |= PTE_WRITE | (flags & FAULT_FLAG_WRITE ? PTE_DIRTY : 0);
	}
	/* our reference is the mapping's now: unlock while the ptl keeps the
	 * mapping (a zap could otherwise free the folio still locked) */
	pt_write(pte, i, mk_pte(eng_page_pfn(eng, folio), f));
	folio_unlock(folio);
	pm_mutex_unlock(&pte->ptl);
	return 0;
}
