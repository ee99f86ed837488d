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
 *
 * A THP or mTHP goes whole into a run of slots when the device has one
 * (THP_SWAP), else it is split and its pages go one by one; a large folio
 * anyone else holds stays whole and mapped (can_split_folio()), and one
 * partly mapped is split first. MADV_PAGEOUT splits a large folio its
 * range covers only in part, and leaves one another process maps.
 */
#include <errno.h>

#include <pinmm/daemons.h>

#include "../mm/mm.h"
#include "daemons.h"

struct reclaim_walk {
	struct pinmm *eng;
	struct pinmm_page *folio;
	uint64_t slot;		/* the first of the folio's slots */
	unsigned unmapped, young;
	bool abort;
};

static bool maps_page(struct reclaim_walk *w, pte_t e, unsigned long j)
{
	return pte_present(e) && !pte_special(e) && pte_pfn(e) == eng_page_pfn(w->eng, w->folio) + j;
}

static bool referenced_pte(struct pt_table *pte, unsigned i, pte_t e, unsigned long j, void *arg)
{
	struct reclaim_walk *w = arg;

	if (maps_page(w, e, j) && (e & PTE_YOUNG)) {
		pt_clear_bits(pte, i, PTE_YOUNG);
		w->young++;
	}
	return true;
}

/* folio_referenced(): clear the young bits of its PMD or PTEs, count the
 * ones that were set. */
static bool referenced_one(struct pinmm_page *folio, struct vm_area *vma, uint64_t addr,
			   void *arg)
{
	struct reclaim_walk *w = arg;

	if (folio_entire_mapcount(folio) && IS_ALIGNED(addr, PINMM_PMD_SIZE) &&
	    addr >= vma->start && addr + PINMM_PMD_SIZE <= vma->end) {
		struct pt_table *pmd = pmd_leaf_lock(vma->mm, addr);

		if (pmd) {
			unsigned i = pt_index(addr, PT_LEVEL_PMD);
			pte_t e = pt_read(pmd, i);

			if (pte_pfn(e) == eng_page_pfn(w->eng, folio) && (e & PTE_YOUNG)) {
				pt_clear_bits(pmd, i, PTE_YOUNG);
				w->young++;
			}
			pm_mutex_unlock(&pmd->ptl);
			return true;
		}
	}
	folio_walk_ptes(vma, addr, folio_nr_pages(folio), referenced_pte, w);
	return true;
}

static bool unmap_pte(struct pt_table *pte, unsigned i, pte_t e, unsigned long j, void *arg)
{
	struct reclaim_walk *w = arg;
	struct pinmm *eng = w->eng;
	struct pinmm_page *folio = w->folio;

	if (!maps_page(w, e, j))
		return true;
	/* the saved bits serve a restore (a swap-in maps the page by the
	 * VMA's rules instead); each page's entry keeps its own exclusive
	 * marker */
	if (!try_to_unmap_pte(eng, pte, i, e, SWP_SWAP, w->slot + j, &folio[j], folio,
			      pm_policy(eng, PINMM_SW_RECLAIM_SKIPS_PINNED))) {
		w->abort = true;
		return false;
	}
	/* before 5.19 PG_anon_exclusive was forgotten here */
	if (!pm_policy(eng, PINMM_SW_SWP_EXCLUSIVE))
		pt_clear_bits(pte, i, PTE_SWP_EXCLUSIVE);
	if (e & PTE_DIRTY)
		page_set(folio, PG_dirty);
	swap_dup(eng, w->slot + j);
	page_remove_rmap(&folio[j]);
	folio_put(folio);
	w->unmapped++;
	return true;
}

static bool try_to_unmap_one(struct pinmm_page *folio, struct vm_area *vma, uint64_t addr,
			     void *arg)
{
	return folio_walk_ptes(vma, addr, folio_nr_pages(folio), unmap_pte, arg);
}

static bool reclaimable(struct pinmm_page *p)
{
	return !page_test(p, PG_buddy) && !page_test(p, PG_tail) && page_test(p, PG_anon) &&
	       !page_test(p, PG_ksm) && !page_test(p, PG_zero) && !page_test(p, PG_hugetlb) &&
	       folio_mapped(p);
}

/*
 * No run of slots for a large folio: split it and swap its pages out one
 * by one (THP_SWPOUT_FALLBACK); kept whole when the split is refused.
 * Caller holds a reference and the lock, which the first page keeps.
 */
static int shrink_split(struct pinmm *eng, struct pinmm_page *folio)
{
	unsigned long nr = folio_nr_pages(folio);
	int ret;

	if (split_folio_locked(eng, folio, 1, true))
		return 0;
	ret = shrink_folio(eng, folio, false);
	for (unsigned long j = 1; j < nr; j++) {
		struct pinmm_page *p = &folio[j];

		/* a page nobody mapped went with the split */
		if (!folio_try_get(p))
			continue;
		if (reclaimable(p) && folio_order(p) == 0 && folio_trylock(p)) {
			ret += shrink_folio(eng, p, false);
			folio_unlock(p);
		}
		folio_put(p);
	}
	return ret;
}

/*
 * Swap one anon folio out (caller holds a reference and its lock), whole
 * when it is large and the device has a run of slots for it (THP_SWAP,
 * mTHP swap-out): a PMD mapping is split into PTEs first
 * (TTU_SPLIT_HUGE_PMD), and each PTE becomes the swap entry of its page's
 * slot. cold_only: leave it if it was used since the last look (second
 * chance). Returns the pages swapped out (freed); 0 kept (mapped, or
 * unmapped in the cache).
 */
int shrink_folio(struct pinmm *eng, struct pinmm_page *folio, bool cold_only)
{
	struct reclaim_walk w = { .eng = eng, .folio = folio };
	bool check = pm_policy(eng, PINMM_SW_RECLAIM_SKIPS_PINNED);
	unsigned long nr = folio_nr_pages(folio);
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
	/* can_split_folio(): a large folio anyone else holds stays whole */
	if (nr > 1 && !page_test(folio, PG_swapcache) &&
	    folio_ref_count(folio) != folio_large_mapcount(folio) + 1)
		goto out;
	/* partly mapped: split right away, its unmapped pages go without IO */
	if (nr > 1 && page_test(folio, PG_partially_mapped)) {
		rmap_pin_put(&rp);
		return shrink_split(eng, folio);
	}
	/* a folio swapped in while another entry still refers to its slot
	 * (after fork) is in the cache already: it goes back to that slot.
	 * The counts we hold keep slots and cache alive through the walk. */
	slot = add_to_swap(eng, folio);
	if (slot < 0) {
		rmap_pin_put(&rp);
		return nr > 1 ? shrink_split(eng, folio) : 0;
	}
	w.slot = (uint64_t)slot;
	folio_split_pmds(eng, &rp, folio);
	rmap_walk_pinned(&rp, folio, try_to_unmap_one, &w);
	/* a pin seen part-way: the entries unmapped before it stay swap
	 * entries of the cached folio and fault it back (try_to_unmap() stops
	 * there too) */
	if (!w.abort && !folio_mapped(folio)) {
		/* unmapped everywhere: its bytes are final now */
		swap_write_folio(eng, w.slot, folio);
		/* __remove_mapping(): only our reference and the cache's */
		if (swap_cache_remove(eng, folio, check ? 1 + (int)nr : -1) && w.unmapped > 0)
			ret = (int)nr;
	}
	/* our holds; the last count takes a folio left mapped out of the cache */
	for (unsigned long j = 0; j < nr; j++)
		swap_free(eng, w.slot + j);
out:
	rmap_pin_put(&rp);
	return ret;
}

long pinmm_reclaim(struct pinmm *eng, unsigned long nr_pages)
{
	unsigned long done = 0;

	if (!eng)
		return -EINVAL;
	/* the shrinkers: partly mapped large folios are split, their unmapped
	 * pages freed */
	deferred_split_scan(eng);
	/* the first sweep ages (second chance), the second takes what is cold */
	for (int sweep = 0; sweep < 2 && done < nr_pages; sweep++) {
		for (uint64_t pfn = 0; pfn < eng->mem.nr_frames && done < nr_pages; pfn++) {
			struct pinmm_page *p = eng_pfn_page(eng, pfn);

			if (!reclaimable(p) || !folio_try_get(p))
				continue;
			if (reclaimable(p) && folio_trylock(p)) {
				done += (unsigned long)shrink_folio(eng, p, true);
				folio_unlock(p);
			}
			folio_put(p);
		}
	}
	return (long)done;
}

/* folio_maybe_mapped_shared(): some page of it mapped more than once. */
static bool maybe_mapped_shared(struct pinmm_page *folio)
{
	if (folio_entire_mapcount(folio) > 1)
		return true;
	for (unsigned long j = 0; j < folio_nr_pages(folio); j++)
		if (page_pte_mapcount(&folio[j]) + folio_entire_mapcount(folio) > 1)
			return true;
	return false;
}

/* How many PTEs from index i (at most n) map folio's pages in order from
 * page j (madvise_folio_pte_batch()). ptl held. */
static unsigned long pte_batch(struct pinmm *eng, struct pt_table *pte, unsigned i,
			       unsigned long n, struct pinmm_page *folio, unsigned long j)
{
	unsigned long k = 0;

	while (k < n && i + k < PT_ENTRIES && j + k < folio_nr_pages(folio)) {
		pte_t e = pt_read(pte, i + (unsigned)k);

		if (!pte_present(e) || pte_special(e) ||
		    pte_pfn(e) != eng_page_pfn(eng, folio) + j + k)
			break;
		k++;
	}
	return k;
}

/*
 * The folio mapped at a, with a reference, for MADV_PAGEOUT of [a, end)
 * (madvise_cold_or_pageout_pte_range()): *split when the range does not
 * cover all of a large one; *next where the walk goes on after it.
 */
static struct pinmm_page *pageout_folio_at(struct pinmm_mm *mm, uint64_t a, uint64_t start,
					   uint64_t end, bool *split, uint64_t *next)
{
	struct pinmm *eng = mm->eng;
	struct pinmm_page *p = NULL;
	struct pt_table *pmd = pmd_leaf_lock(mm, a), *pte;

	*split = false;
	*next = a + PINMM_PAGE_SIZE;
	if (pmd) {
		uint64_t haddr = ALIGN_DOWN(a, PINMM_PMD_SIZE);
		pte_t e = pt_read(pmd, pt_index(a, PT_LEVEL_PMD));

		*next = haddr + PINMM_PMD_SIZE;
		if (!pte_special(e)) {	/* not the huge zero page */
			p = eng_pfn_page(eng, pte_pfn(e));
			*split = haddr < start || haddr + PINMM_PMD_SIZE > end;
		}
	} else if ((pte = pte_table_lock(mm, a))) {
		unsigned i = pt_index(a, PT_LEVEL_PTE);
		pte_t e = pt_read(pte, i);

		if (pte_present(e) && !pte_special(e)) {
			struct pinmm_page *page = eng_pfn_page(eng, pte_pfn(e));
			unsigned long j;

			p = page_folio(page);
			j = (unsigned long)(page - p);
			if (folio_order(p)) {
				unsigned long n = pte_batch(eng, pte, i, (end - a) / PINMM_PAGE_SIZE,
							    p, j);

				*split = n < folio_nr_pages(p);
				*next = a + n * PINMM_PAGE_SIZE;
			}
		}
		pmd = pte;
	}
	if (p && (!reclaimable(p) || (folio_order(p) && maybe_mapped_shared(p))))
		p = NULL;	/* not ours to reclaim, or others map it too */
	if (p)
		folio_get(p);
	if (pmd)
		pm_mutex_unlock(&pmd->ptl);
	return p;
}

/* MADV_PAGEOUT: reclaim the anon folios mapped in [start, end) now; a
 * large one the range covers only in part is split first. mmap_lock held. */
int madvise_pageout(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	struct pinmm *eng = mm->eng;

	for (uint64_t a = start; a < end;) {
		uint64_t next;
		bool split;
		struct pinmm_page *p = pageout_folio_at(mm, a, start, end, &split, &next);

		if (!p) {
			a = next;
			continue;
		}
		if (folio_trylock(p)) {
			if (!split) {
				shrink_folio(eng, p, false);
				a = next;
			} else if (split_folio_locked(eng, p, 1, false)) {
				folio_unlock(p);
				a += PINMM_PAGE_SIZE;	/* held elsewhere: leave it */
			}
			/* split: the page at a is a small folio now, go again */
			if (!split)
				folio_unlock(p);
		} else {
			a = next;
		}
		folio_put(p);
	}
	return 0;
}
