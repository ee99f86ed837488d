/* SPDX-License-Identifier: MIT */
/*
 * Mapping counts and unmapping: rmap accounting of PTE maps, zapping a range
 * of entries, and munmap.
 */
#include <errno.h>

#include "mm.h"

void folio_set_anon(struct pinmm_page *folio, struct vm_area *vma, uint64_t addr)
{
	page_set(folio, PG_anon);
	/* the rmap: the family's anon_vma, tagged as Linux's PAGE_MAPPING_ANON */
	set_folio_mapping(folio, (void *)((uintptr_t)vma->anon_vma | 1));
	folio->index = vma_page_index(vma, addr);
}

void page_add_anon_rmap_new(struct pinmm_page *page, struct vm_area *vma,
			    uint64_t addr)
{
	folio_set_anon(page_folio(page), vma, addr);
	pm_access(&page->mapcount, PM_ACC_WRITE);
	atomic_store(&page->mapcount, 1);
	pm_preempt(PM_PT_MAP_CHANGE, page, 1);
}

void page_dup_rmap(struct pinmm_page *page)
{
	int n;

	pm_access(&page->mapcount, PM_ACC_ADD);
	n = atomic_fetch_add(&page->mapcount, 1) + 1;
	pm_preempt(PM_PT_MAP_CHANGE, page, n);
}

void page_remove_rmap(struct pinmm_page *page)
{
	int n;

	pm_access(&page->mapcount, PM_ACC_WRITE);	/* the last one decides */
	n = atomic_fetch_sub(&page->mapcount, 1) - 1;

	pm_preempt(PM_PT_MAP_CHANGE, page, n);
	/* an anon page nobody maps is exclusive to nobody */
	if (n == 0)
		page_clear(page, PG_anon_exclusive);
}

/* Drop what one present entry held. */
void zap_present_pte(struct pinmm *eng, pte_t old)
{
	struct pinmm_page *page, *folio;

	if (pte_special(old))
		return;		/* the zero page: no accounting */
	page = eng_pfn_page(eng, pte_pfn(old));
	folio = page_folio(page);
	if (old & PTE_DIRTY)
		page_set(folio, PG_dirty);
	page_remove_rmap(page);
	/* a large anon folio some of whose pages are still mapped is split
	 * later, by the shrinker, not here (__folio_remove_rmap()) */
	if (folio_order(folio) && page_test(folio, PG_anon) && !page_test(folio, PG_hugetlb) &&
	    !page_test(folio, PG_partially_mapped) && !page_pte_mapcount(page) &&
	    !folio_entire_mapcount(folio) && folio_mapped(folio))
		deferred_split_folio(folio);
	folio_put(folio);
}

void zap_page_range(struct pinmm_mm *mm, struct vm_area *vma, uint64_t start,
		    uint64_t end)
{
	(void)vma;
	for (uint64_t addr = start; addr < end;) {
		uint64_t haddr = ALIGN_DOWN(addr, PINMM_PMD_SIZE);
		uint64_t next = MIN(haddr + PINMM_PMD_SIZE, end);
		struct pt_table *pmd = pmd_leaf_lock_wait(mm, addr);

		if (pmd) {
			/* a THP: all of it goes, or its PMD splits first */
			if (haddr >= start && haddr + PINMM_PMD_SIZE <= end) {
				zap_huge_pmd(mm->eng, pmd, pt_index(addr, PT_LEVEL_PMD));
				pm_mutex_unlock(&pmd->ptl);
				addr = next;
				continue;
			}
			split_huge_pmd_locked(mm->eng, pmd, pt_index(addr, PT_LEVEL_PMD));
			pm_mutex_unlock(&pmd->ptl);
		}
		struct pt_table *pte = pte_table_lock(mm, addr);

		if (pte) {
			for (; addr < next; addr += PINMM_PAGE_SIZE) {
				unsigned i = pt_index(addr, PT_LEVEL_PTE);
				pte_t old = pt_read(pte, i);

				if (pte_none(old))
					continue;
				old = pt_xchg(pte, i, 0);
				if (pte_present(old))
					zap_present_pte(mm->eng, old);
				else if (pte_swp_type(old) == SWP_SWAP)
					swap_free(mm->eng, pte_swp_offset(old));
			}
			pm_mutex_unlock(&pte->ptl);
		}
		addr = next;
	}
}

int do_munmap(struct pinmm_mm *mm, uint64_t start, uint64_t len)
{
	uint64_t end = start + len;
	struct vm_area *v;
	int err;

	err = vma_split_range(mm, start, end);
	if (err)
		return err;
	v = find_vma(mm, start);
	while (v && v->start < end) {
		struct vm_area *next = vma_next(mm, v);

		zap_page_range(mm, v, v->start, v->end);
		vma_remove(mm, v);
		vma_free(v);
		v = next;
	}
	free_pgtables(mm, start, end);
	return 0;
}
