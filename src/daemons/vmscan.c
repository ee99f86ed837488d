/* SPDX-License-Identifier: MIT */
/*
 * Reclaim: pick cold anonymous pages, unmap them into swap entries through
 * the rmap, write them to the swap device and free the frames.
 *
 * A page that may be pinned is never unmapped (reclaim_skips_pinned): each
 * entry is replaced by its swap entry first (the clear), then the pin
 * count is read (the check); a pinned page gets its entries back. After
 * the last mapping is gone, any reference but ours (a GUP reference) also
 * puts it back. With the switch off a pinned page is unmapped, and the next
 * access swaps in a different page than the one the device holds.
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
		/* the saved bits serve a restore (a swap-in maps a new page by
		 * the VMA's rules instead) */
		if (try_to_unmap_pte(eng, pte, i, e, SWP_SWAP, w->slot, folio, folio,
				     pm_policy(eng, PINMM_SW_RECLAIM_SKIPS_PINNED))) {
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

/* Undo: swap entries of our slot point at the folio again. */
static bool restore_one(struct pinmm_page *folio, struct vm_area *vma, uint64_t addr,
			void *arg)
{
	struct reclaim_walk *w = arg;
	struct pt_table *pte = pte_table_lock(vma->mm, addr);
	unsigned i = pt_index(addr, PT_LEVEL_PTE);

	if (!pte)
		return true;
	pte_t e = pt_read(pte, i);
	if (pte_is_swp(e) && pte_swp_type(e) == SWP_SWAP && pte_swp_offset(e) == w->slot) {
		restore_pte(w->eng, pte, i, e, folio, folio);
		swap_free(w->eng, w->slot);
	}
	pm_mutex_unlock(&pte->ptl);
	return true;
}

/*
 * Swap one small anon folio out (caller holds a reference and its lock).
 * cold_only: leave it if it was used since the last look (second chance).
 * Returns 1 swapped out, 0 kept.
 */
int shrink_folio(struct pinmm *eng, struct pinmm_page *folio, bool cold_only)
{
	struct reclaim_walk w = { .eng = eng };
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
	if (pm_policy(eng, PINMM_SW_RECLAIM_SKIPS_PINNED) && folio_maybe_dma_pinned(eng, folio))
		goto out;	/* cheap early answer; the walk decides */
	slot = swap_alloc(eng);
	if (slot < 0)
		goto out;
	w.slot = (uint64_t)slot;
	/* the slot holds no entry yet: keep it alive through the walk */
	swap_dup(eng, w.slot);
	rmap_walk_pinned(&rp, folio, try_to_unmap_one, &w);
	if (w.abort || (pm_policy(eng, PINMM_SW_RECLAIM_SKIPS_PINNED) &&
			folio_ref_count(folio) != 1)) {
		rmap_walk_pinned(&rp, folio, restore_one, &w);
	} else {
		/* unmapped everywhere: its bytes are final now */
		swap_write(eng, w.slot, eng_page_virt(eng, folio));
		ret = w.unmapped > 0;
	}
	swap_free(eng, w.slot);	/* our own hold */
out:
	rmap_pin_put(&rp);
	return ret;
}

static bool reclaimable(struct pinmm_page *p)
{
	return !page_test(p, PG_buddy) && !page_test(p, PG_tail) && folio_order(p) == 0 &&
	       page_test(p, PG_anon) && !page_test(p, PG_ksm) && !page_test(p, PG_zero) &&
	       atomic_load(&p->mapcount) > 0;
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
