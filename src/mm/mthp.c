/* SPDX-License-Identifier: MIT */
/*
 * Which THP sizes an anonymous fault may allocate, and multi-size THPs
 * (mTHP, Linux >= 6.8): anonymous folios of 16 KiB .. 1 MiB mapped by
 * PTEs. A write (or unshare) fault of an empty PTE in a region that
 * allows some of these sizes takes the largest one whose naturally
 * aligned range lies inside the VMA with every PTE of it still empty
 * (alloc_anon_folio()), and maps all its pages at once, exclusive. Each
 * PTE holds a reference and a mapcount of its page, as a PTE-mapped PMD
 * THP does, so COW, fork, pins, migration and splits treat the pages as
 * they treat those of any large folio. A read fault still maps the zero
 * page.
 */
#include <errno.h>

#include "mm.h"

#define MTHP_MIN_ORDER 2	/* 16 KiB: order 1 is not an anonymous size */

static int thp_size_order(uint64_t size)
{
	for (int order = MTHP_MIN_ORDER; order <= PINMM_HPAGE_ORDER; order++)
		if (size == (uint64_t)PINMM_PAGE_SIZE << order)
			return order;
	return -EINVAL;
}

int pinmm_thp_set_enabled(struct pinmm *eng, uint64_t size, enum pinmm_thp_mode mode)
{
	int order = thp_size_order(size);

	if (!eng || order < 0 || (unsigned)mode > PINMM_THP_ALWAYS)
		return -EINVAL;
	atomic_store(&eng->thp_enabled[order], (unsigned char)mode);
	return 0;
}

int pinmm_thp_get_enabled(struct pinmm *eng, uint64_t size, enum pinmm_thp_mode *mode)
{
	int order = thp_size_order(size);

	if (!eng || !mode || order < 0)
		return -EINVAL;
	*mode = (enum pinmm_thp_mode)atomic_load(&eng->thp_enabled[order]);
	return 0;
}

bool thp_vma_allowable_order(const struct vm_area *vma, unsigned order)
{
	unsigned mode = atomic_load(&vma->mm->eng->thp_enabled[order]);

	if (vma->file || (vma->flags & (VM_SHARED | VM_NOHUGEPAGE | VM_HUGETLB)))
		return false;
	return mode == PINMM_THP_ALWAYS || (mode == PINMM_THP_MADVISE && (vma->flags & VM_HUGEPAGE));
}

/* Every PTE of the n from index i is empty. ptl held (or not: a hint). */
static bool pte_range_none(struct pt_table *pte, unsigned i, unsigned long n)
{
	for (unsigned long k = 0; k < n; k++) {
		pm_access(&pte->ent[i + k], PM_ACC_READ);	/* maybe lockless */
		if (!pte_none(atomic_load(&pte->ent[i + k])))
			return false;
	}
	return true;
}

/* The largest mTHP order that may serve a fault at addr, or 0. */
static unsigned mthp_fault_order(struct vm_area *vma, struct pt_table *pte, uint64_t addr)
{
	for (unsigned order = PINMM_HPAGE_ORDER - 1; order >= MTHP_MIN_ORDER; order--) {
		uint64_t size = (uint64_t)PINMM_PAGE_SIZE << order;
		uint64_t start = ALIGN_DOWN(addr, size);

		if (thp_vma_allowable_order(vma, order) && start >= vma->start &&
		    start + size <= vma->end &&
		    pte_range_none(pte, pt_index(start, PT_LEVEL_PTE), 1ul << order))
			return order;
	}
	return 0;
}

int do_anonymous_mthp(struct pinmm_mm *mm, struct vm_area *vma, struct pt_table *pte,
		      uint64_t addr, unsigned flags)
{
	struct pinmm *eng = mm->eng;
	struct pinmm_page *folio = NULL;
	unsigned order = mthp_fault_order(vma, pte, addr);

	/* the largest size a folio can be had for; the smaller ranges nest
	 * inside that one, so they are empty and inside the VMA too */
	for (; order >= MTHP_MIN_ORDER && !folio; order--)
		if (thp_vma_allowable_order(vma, order))
			folio = pm_alloc_folio(eng, order, PM_GFP_MOVABLE | PM_GFP_ZERO);
	if (!folio)
		return 1;	/* small pages will do */
	unsigned long nr = folio_nr_pages(folio);
	uint64_t start = ALIGN_DOWN(addr, nr * PINMM_PAGE_SIZE);
	unsigned i = pt_index(start, PT_LEVEL_PTE);

	pm_mutex_lock(&pte->ptl);
	if (!pte_range_none(pte, i, nr)) {
		/* a fault got to one of them first: try again smaller */
		pm_mutex_unlock(&pte->ptl);
		folio_put(folio);
		return 1;
	}
	folio_set_anon(folio, vma, start);
	/* one reference per PTE mapping: the allocation's is the first */
	folio_get_refs(folio, (int)nr - 1);
	pte_t prot = vma_pte_flags(vma, flags & FAULT_FLAG_WRITE);
	for (unsigned long j = 0; j < nr; j++) {
		page_set(&folio[j], PG_anon_exclusive);
		page_dup_rmap(&folio[j]);
		pt_write(pte, i + (unsigned)j, mk_pte(eng_page_pfn(eng, folio) + j, prot));
	}
	pm_mutex_unlock(&pte->ptl);
	return 0;
}
