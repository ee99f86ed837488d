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
 *
 * The device is synchronous (zram's SWP_SYNCHRONOUS_IO): an entry that is
 * the slot's only one is read without the swap cache, and Linux >= 6.12
 * then reads a whole mTHP (below the PMD size) at once when the aligned
 * range of entries around the fault are swap entries of consecutive
 * slots, aligned as the address, with the same exclusive marker, none
 * cached, all zeros-only or none (the zeromap a swap-out sets for a whole
 * folio), and that size is enabled for the VMA (alloc_swap_folio(),
 * can_swapin_thp()). A PMD-size folio always comes back as small pages.
 * A large folio found in the swap cache (reclaim met a pin part-way) maps
 * the faulting entry's page of it.
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

/* Are the nr entries from index i0 swap entries of slots first.. with the
 * exclusive marker of entry (swap_pte_batch())? ptl held, or a hint. */
static bool swap_range_ok(struct pt_table *pte, unsigned i0, unsigned long nr, uint64_t first,
			  pte_t entry)
{
	for (unsigned long j = 0; j < nr; j++) {
		pte_t e = pt_read(pte, i0 + (unsigned)j);

		if (!pte_is_swp(e) || pte_swp_type(e) != SWP_SWAP || pte_swp_offset(e) != first + j ||
		    ((e ^ entry) & PTE_SWP_EXCLUSIVE))
			return false;
	}
	return true;
}

/* The largest mTHP order a swap-in at addr may read whole, or 0. */
static unsigned swapin_order(struct vm_area *vma, struct pt_table *pte, uint64_t addr,
			     uint64_t slot, pte_t entry)
{
	for (unsigned order = PINMM_HPAGE_ORDER - 1; order >= 2; order--) {
		unsigned long nr = 1ul << order;
		uint64_t start = ALIGN_DOWN(addr, nr * PINMM_PAGE_SIZE);
		uint64_t idx = (addr - start) / PINMM_PAGE_SIZE;

		/* thp_swap_suitable_orders(): the device's page (slot + 1) is
		 * aligned as the address */
		if (!thp_vma_allowable_order(vma, order) || start < vma->start ||
		    start + nr * PINMM_PAGE_SIZE > vma->end || slot < idx ||
		    ((slot - idx + 1) & (nr - 1)))
			continue;
		if (swap_range_ok(pte, pt_index(start, PT_LEVEL_PTE), nr, slot - idx, entry))
			return order;
	}
	return 0;
}

/* Swap in a whole mTHP past the swap cache: 0 done (or retry), 1 not
 * here (small pages will do). */
static int do_swap_page_large(struct pinmm_mm *mm, struct vm_area *vma, struct pt_table *pte,
			      uint64_t addr, pte_t entry, unsigned flags)
{
	struct pinmm *eng = mm->eng;
	uint64_t slot = pte_swp_offset(entry);
	struct pinmm_page *folio = NULL;
	unsigned order;

	if (swap_count(eng, slot) != 1)
		return 1;	/* shared with another process: the swap cache */
	for (order = swapin_order(vma, pte, addr, slot, entry); order >= 2 && !folio; order--)
		if (thp_vma_allowable_order(vma, order))
			folio = pm_alloc_folio(eng, order, PM_GFP_MOVABLE);
	if (!folio)
		return 1;
	unsigned long nr = folio_nr_pages(folio);
	uint64_t start = ALIGN_DOWN(addr, nr * PINMM_PAGE_SIZE);
	uint64_t first = slot - (addr - start) / PINMM_PAGE_SIZE;
	unsigned i0 = pt_index(start, PT_LEVEL_PTE);

	if (swap_read_uncached(eng, first, nr, folio)) {
		folio_put(folio);
		return 1;	/* a slot is cached now: the swap cache's way */
	}
	pm_mutex_lock(&pte->ptl);
	if (pt_read(pte, pt_index(addr, PT_LEVEL_PTE)) != entry ||
	    !swap_range_ok(pte, i0, nr, first, entry)) {
		pm_mutex_unlock(&pte->ptl);
		folio_put(folio);
		return 0;
	}
	folio_set_anon(folio, vma, start);
	folio_get_refs(folio, (int)nr - 1);	/* one per PTE */
	/* a fresh folio the swap cache never showed: certainly exclusive */
	pte_t f = vma_pte_flags(vma, false);
	if (vma->flags & VM_WRITE)
		f |= PTE_WRITE | (flags & FAULT_FLAG_WRITE ? PTE_DIRTY : 0);
	for (unsigned long j = 0; j < nr; j++) {
		swap_free(eng, first + j);
		page_set(&folio[j], PG_anon_exclusive);
		page_dup_rmap(&folio[j]);
		pt_write(pte, i0 + (unsigned)j, mk_pte(eng_page_pfn(eng, folio) + j, f));
	}
	pm_mutex_unlock(&pte->ptl);
	return 0;
}

/* mmap_lock held for read. */
int do_swap_page(struct pinmm_mm *mm, struct vm_area *vma, struct pt_table *pte,
		 uint64_t addr, pte_t entry, unsigned flags)
{
	struct pinmm *eng = mm->eng;
	unsigned i = pt_index(addr, PT_LEVEL_PTE);
	uint64_t slot = pte_swp_offset(entry);
	struct pinmm_page *folio, *page;
	bool exclusive;
	pte_t f;
	int err;

	err = do_swap_page_large(mm, vma, pte, addr, entry, flags);
	if (err <= 0)
		return err;
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
	page = folio + (slot - __atomic_load_n(&folio->private, __ATOMIC_RELAXED));
	exclusive = pm_policy(eng, PINMM_SW_SWP_EXCLUSIVE) && (entry & PTE_SWP_EXCLUSIVE);
	/* the entry's count goes; the cache goes with the last one */
	swap_free(eng, slot);
	folio_free_swap(eng, folio);
	/* nobody else holds it (no mapping, no cache, no GUP reference) */
	if (!exclusive && !page_test(folio, PG_ksm) && folio_ref_count(folio) == 1)
		exclusive = true;

	if (!folio_order(folio) && page_pte_mapcount(folio) == 0)
		page_add_anon_rmap_new(folio, vma, addr);
	else
		page_dup_rmap(page);	/* another process swapped it in first, or
					 * a large folio keeps its anon rmap */
	f = vma_pte_flags(vma, false);
	if (exclusive) {
		page_set(page, PG_anon_exclusive);
		/* writable at once, as the next write fault would reuse it */
		if (vma->flags & VM_WRITE)
			f |= PTE_WRITE | (flags & FAULT_FLAG_WRITE ? PTE_DIRTY : 0);
	}
	/* our reference is the mapping's now: unlock while the ptl keeps the
	 * mapping (a zap could otherwise free the folio still locked) */
	pt_write(pte, i, mk_pte(eng_page_pfn(eng, page), f));
	folio_unlock(folio);
	pm_mutex_unlock(&pte->ptl);
	return 0;
}
