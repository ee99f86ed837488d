/* SPDX-License-Identifier: MIT */
/*
 * Reclaim: pick cold anonymous pages, put them in the swap cache
 * (add_to_swap), unmap them into swap entries through the rmap, write them
 * to the swap device and free them from the cache.
 *
 * A page that may be pinned is never unmapped (reclaim_skips_pinned): each
 * entry is replaced by its swap entry first (the clear), then the pin
 * count is read (the check); a pinned page keeps its entry. Once the
 * last mapping is gone, a page that someone else still references (a GUP
 * reference) stays in the swap cache, unmapped, as Linux keeps it
 * (__remove_mapping() fails to freeze the count): the next access maps it
 * again from there. With the switch off reclaim is blind to pins and
 * references: the page leaves the cache anyway, and the next access swaps
 * in a different page than the one the device holds.
 *
 * A swap entry remembers whether its page was exclusive (swp_exclusive);
 * with the switch off the marker is dropped at unmap, as before Linux 5.19.
 */
#include <errno.h>

#include <pinmm/daemons.h>

#include "../mm/mm.h"
#include "daemons.h"

struct reclaim_walk {
	struct pinmm *eng;
	uint64_t slot;
	unsigned unmapped, young;
	bool abort;
};

/* folio_referenced(): clear the young bits, count the ones that were set. */
static bool referenced_one(struct pinmm_page *folio, struct vm_area *vma, uint64_t addr,
			   void *arg)
{
	struct reclaim_walk *w = arg;
	struct pt_table *pte = pte_table_lock(vma->mm, addr);
	unsigned i = pt_index(addr, PT_LEVEL_PTE);

	if (!pte)
		return true;
	pte_t e = pt_read(pte, i);
	if (pte_present(e) && pte_pfn(e) == eng_page_pfn(w->eng, folio) && (e & PTE_YOUNG)) {
		pt_clear_bits(pte, i, PTE_YOUNG);
		w->young++;
	}
	pm_mutex_unlock(&pte->ptl);
	return true;
}

static bool try_to_unmap_one(struct pinmm_page *folio, struct vm_area *vma, uint64_t addr,
			     void *arg)
{
	struct reclaim_walk *w = arg;
	struct pinmm *eng = w->eng;
	struct pt_table *pte = pte_table_lock(vma->mm, addr);
	unsigned i = pt_index(addr, PT_LEVEL_PTE);

	if (!pte)
		return true;
	pte_t e = pt_read(pte, i);
	if (pte_present(e) && !pte_special(e) && pte_pfn(e) == eng_page_pfn(eng, folio)) {
		/* the saved bits serve a restore (a swap-in maps the page by
		 * the VMA's rules instead) */
		if (try_to_unmap_pte(eng, pte, i, e, SWP_SWAP, w->slot, folio, folio,
				     pm_policy(eng, PINMM_SW_RECLAIM_SKIPS_PINNED))) {
			/* before 5.19 PG_anon_exclusive was forgotten here */
			if (!pm_policy(eng, PINMM_SW_SWP_EXCLUSIVE))
				pt_clear_bits(pte, i, PTE_SWP_EXCLUSIVE);
			if (e & PTE_DIRTY)
				page_set(folio, PG_dirty);
			swap_dup(eng, w->slot);
			page_remove_rmap(folio);
			folio_put(folio);
			w->unmapped++;
		} else {
			w->abort = true;
		}
	}
	pm_mutex_unlock(&pte->ptl);
	return !w->abort;
}

/*
 * Swap one small anon folio out (caller holds a reference and its lock).
 * cold_only: leave it if it was used since the last look (second chance).
 * Returns 1 swapped out (freed), 0 kept (mapped, or unmapped in the cache).
 */
int shrink_folio(struct pinmm *eng, struct pinmm_page *folio, bool cold_only)
{
	struct reclaim_walk w = { .eng = eng };
	bool check = pm_policy(eng, PINMM_SW_RECLAIM_SKIPS_PINNED);
	struct rmap_pin rp;
	long slot;
	int ret = 0;

	if (!rmap_pin_get(eng, folio, &rp))
		return 0;
	if (cold_only) {
		rmap_walk_pinned(&rp, folio, referenced_one, &w);
		if (w.young)
			goto out;
	}
	if (check && folio_maybe_dma_pinned(eng, folio))
		goto out;	/* cheap early answer; the walk decides */
	/* a folio swapped in while another entry still refers to its slot
	 * (after fork) is in the cache already: it goes back to that slot.
	 * The count we hold keeps slot and cache alive through the walk. */
	slot = add_to_swap(eng, folio);
	if (slot < 0)
		goto out;
	w.slot = (uint64_t)slot;
	rmap_walk_pinned(&rp, folio, try_to_unmap_one, &w);
	/* a pin seen part-way: the entries unmapped before it stay swap
	 * entries of the cached folio and fault it back (try_to_unmap() stops
	 * there too) */
	if (!w.abort && page_pte_mapcount(folio) == 0) {
		/* unmapped everywhere: its bytes are final now */
		swap_write(eng, w.slot, eng_page_virt(eng, folio));
		/* __remove_mapping(): only our reference and the cache's */
		ret = swap_cache_remove(eng, folio, check ? 2 : -1) && w.unmapped > 0;
	}
	/* our hold; the last count takes a folio left mapped out of the cache */
	swap_free(eng, w.slot);
out:
	rmap_pin_put(&rp);
	return ret;
}

static bool reclaimable(struct pinmm_page *p)
{
	return !page_test(p, PG_buddy) && !page_test(p, PG_tail) && folio_order(p) == 0 &&
	       page_test(p, PG_anon) && !page_test(p, PG_ksm) && !page_test(p, PG_zero) &&
	       page_pte_mapcount(p) > 0;
}

long pinmm_reclaim(struct pinmm *eng, unsigned long nr_pages)
{
	unsigned long done = 0;

	if (!eng)
		return -EINVAL;
	/* the first sweep ages (second chance), the second takes what is cold */
	for (int sweep = 0; sweep < 2 && done < nr_pages; sweep++) {
		for (uint64_t pfn = 0; pfn < eng->mem.nr_frames && done < nr_pages; pfn++) {
			struct pinmm_page *p = eng_pfn_page(eng, pfn);

			if (!reclaimable(p) || !folio_try_get(p))
				continue;
			if (reclaimable(p) && folio_trylock(p)) {
				done += shrink_folio(eng, p, true);
				folio_unlock(p);
			}
			folio_put(p);
		}
	}
	return (long)done;
}

/* MADV_PAGEOUT: reclaim the small anon pages mapped in [start, end) now.
 * mmap_lock held. */
int madvise_pageout(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	struct pinmm *eng = mm->eng;

	for (uint64_t a = start; a < end; a += PINMM_PAGE_SIZE) {
		struct pt_table *pte = pte_table_lock(mm, a);
		struct pinmm_page *p = NULL;

		if (!pte)
			continue;
		pte_t e = pt_read(pte, pt_index(a, PT_LEVEL_PTE));
		if (pte_present(e) && !pte_special(e)) {
			p = eng_pfn_page(eng, pte_pfn(e));
			if (reclaimable(p))
				folio_get(p);
			else
				p = NULL;
		}
		pm_mutex_unlock(&pte->ptl);
		if (!p)
			continue;
		if (folio_trylock(p)) {
			shrink_folio(eng, p, false);
			folio_unlock(p);
		}
		folio_put(p);
	}
	return 0;
}
