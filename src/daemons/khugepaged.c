/* SPDX-License-Identifier: MIT */
/*
 * khugepaged and MADV_COLLAPSE: replace an aligned 2 MiB range of small
 * anonymous pages by one THP.
 *
 * The protocol that keeps collapse off pinned pages
 * (khugepaged_clear_then_check): clear the PMD entry first — the PTEs stay
 * as they are — and only then read the counts of the small pages; a page
 * with a reference beyond its mapping's may be pinned: restore the PMD and
 * give up. A GUP-fast walker that read the PMD before the clear walks the
 * old PTE table, still intact: re-reading its PTE shows no change, which is
 * why GUP-fast must re-read the PMD too (gup_fast_pmd_recheck; Linux 6.1,
 * "fix the fast GUP race against THP collapse").
 */
#include <errno.h>
#include <stdlib.h>

#include <pinmm/daemons.h>

#include "../mem/frame_io.h"
#include "../mm/mm.h"
#include "daemons.h"

#define HPAGE_NR (1ul << PINMM_HPAGE_ORDER)

/* Which small pages may be collapsed? 0 ok, -EINVAL not collapsible,
 * -EAGAIN try later. pte lock held. */
static int scan_ptes(struct pinmm *eng, struct pt_table *pte, unsigned *present)
{
	*present = 0;
	/* plain loads, no preemption points: reading entries under their lock
	 * commutes with everything GUP-fast does (it only reads them too) */
	for (unsigned j = 0; j < PT_ENTRIES; j++) {
		pte_t e = atomic_load(&pte->ent[j]);
		struct pinmm_page *page;

		if (pte_none(e) || (pte_present(e) && pte_special(e)))
			continue;	/* empty or the zero page: zero-filled */
		if (!pte_present(e))
			return -EAGAIN;	/* swapped or migrating */
		page = eng_pfn_page(eng, pte_pfn(e));
		if (page_folio(page) != page || folio_order(page) || !page_test(page, PG_anon) ||
		    page_test(page, PG_ksm) || page_mapcount(page) != 1)
			return -EINVAL;	/* large, KSM or shared: left alone */
		(*present)++;
	}
	return *present ? 0 : -EINVAL;
}

/* Does any small page hold a reference beyond its mapping's? */
static bool any_extra_refs(struct pinmm *eng, struct pt_table *pte)
{
	for (unsigned j = 0; j < PT_ENTRIES; j++) {
		pte_t e = atomic_load(&pte->ent[j]);

		if (pte_present(e) && !pte_special(e) &&
		    folio_ref_count(eng_pfn_page(eng, pte_pfn(e))) != 1)
			return true;
	}
	return false;
}

/* Collapse [haddr, haddr + 2 MiB) of vma. mmap_lock held for write.
 * 0 collapsed, 1 already a THP, -EINVAL / -EAGAIN / -ENOMEM. */
static int collapse_huge_page(struct pinmm_mm *mm, struct vm_area *vma, uint64_t haddr)
{
	struct pinmm *eng = mm->eng;
	unsigned i = pt_index(haddr, PT_LEVEL_PMD);
	struct pt_table *pmd = pmd_table_alloc(mm, haddr), *pte;
	struct pinmm_page *folio;
	unsigned present;
	int err;

	if (!pmd)
		return -ENOMEM;
	pte_t pmd_val = pt_read(pmd, i);
	if (pte_huge(pmd_val))
		return 1;
	if (!pte_is_table(pmd_val))
		return -EINVAL;
	pte = pte_table(pmd_val);
	pm_mutex_lock(&pte->ptl);
	err = scan_ptes(eng, pte, &present);
	pm_mutex_unlock(&pte->ptl);
	if (err)
		return err;
	/* the memory comes first: after the protocol nothing may fail */
	if (pmd_deposit(pmd, i))
		return -ENOMEM;
	folio = pm_alloc_folio(eng, PINMM_HPAGE_ORDER, PM_GFP_MOVABLE | PM_GFP_ZERO);
	if (!folio)
		return -ENOMEM;

	pm_mutex_lock(&pmd->ptl);
	pm_mutex_lock(&pte->ptl);
	/* the entries may have changed while we allocated (swapped out,
	 * migrating, unmapped): look again, now that they cannot */
	if (pt_read(pmd, i) != pmd_val || scan_ptes(eng, pte, &present)) {
		pm_mutex_unlock(&pte->ptl);
		pm_mutex_unlock(&pmd->ptl);
		folio_put(folio);
		return -EAGAIN;
	}
	if (pm_policy(eng, PINMM_SW_KHUGEPAGED_CLEAR_THEN_CHECK)) {
		pt_xchg(pmd, i, 0);			/* clear ... */
		if (any_extra_refs(eng, pte)) {		/* ... then check */
			pt_write(pmd, i, pmd_val);
			err = -EAGAIN;
		}
	} else {
		if (any_extra_refs(eng, pte))		/* check ... */
			err = -EAGAIN;
		else {
			pm_preempt(PM_PT_COLLAPSE_CHECKED, pte, 0);	/* GUP-fast here */
			pt_xchg(pmd, i, 0);		/* ... then clear */
		}
	}
	if (err) {
		pm_mutex_unlock(&pte->ptl);
		pm_mutex_unlock(&pmd->ptl);
		folio_put(folio);
		return err;
	}
	/* copy, and let go of the small pages */
	uint8_t *dst = eng_page_virt(eng, folio);
	for (unsigned j = 0; j < PT_ENTRIES; j++) {
		if (pte_none(atomic_load(&pte->ent[j])))
			continue;	/* nothing to clear: no step to interleave */
		pte_t e = pt_xchg(pte, j, 0);

		if (pte_present(e) && !pte_special(e)) {
			frame_copy(dst + j * PINMM_PAGE_SIZE,
				   pm_pfn_to_virt(&eng->mem, pte_pfn(e)), PINMM_PAGE_SIZE);
			zap_present_pte(eng, e);
		}	/* empty, or the zero page: the THP came zeroed */
	}
	prep_anon_thp(folio, vma, haddr);
	/* the emptied PTE table is set aside for a later split (a GUP-fast
	 * walker still inside it fails its PMD recheck) */
	struct pt_table *spare = pmd_withdraw(pmd, i);
	pmd->deposit[i] = pte;
	pm_mutex_unlock(&pte->ptl);
	pt_write(pmd, i, mk_pte(eng_page_pfn(eng, folio), PTE_HUGE | vma_pte_flags(vma, true)));
	pm_mutex_unlock(&pmd->ptl);
	if (spare)
		pt_free_now(spare);
	return 0;
}

/* MADV_COLLAPSE over [start, end): mmap_lock held for write. */
int madvise_collapse(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	int ret = -EINVAL;
	bool busy = false;

	for (uint64_t h = ALIGN_UP(start, PINMM_PMD_SIZE); h + PINMM_PMD_SIZE <= end;
	     h += PINMM_PMD_SIZE) {
		struct vm_area *vma = vma_lookup(mm, h);
		int err;

		if (!vma || vma->file || (vma->flags & VM_SHARED) ||
		    h + PINMM_PMD_SIZE > vma->end)
			continue;
		/* MADV_NOHUGEPAGE forbids it, as Linux answers EINVAL */
		if (vma->flags & VM_NOHUGEPAGE)
			return -EINVAL;
		err = collapse_huge_page(mm, vma, h);
		if (err == -EAGAIN)
			busy = true;
		else if (err == -ENOMEM)
			return err;
		else if (err >= 0)
			ret = 0;
	}
	/* a range holding a page that may be pinned: EAGAIN, as Linux */
	return busy ? -EAGAIN : ret;
}

long pinmm_khugepaged_scan(struct pinmm *eng, unsigned passes)
{
	long collapsed = 0;

	if (!eng)
		return -EINVAL;
	for (unsigned p = 0; p < passes; p++) {
		size_t nr;
		struct pinmm_mm **mms = pm_snapshot_mms(eng, &nr);

		for (size_t m = 0; m < nr; m++) {
			struct pinmm_mm *mm = mms[m];

			pm_down_write(&mm->mmap_lock);
			for (struct vm_area *v = atomic_load(&mm->dead) ? NULL :
						 RB_MIN(vma_tree, &mm->vmas);
			     v; v = vma_next(mm, v)) {
				for (uint64_t h = ALIGN_UP(v->start, PINMM_PMD_SIZE);
				     vma_thp_suitable(v, h); h += PINMM_PMD_SIZE)
					/* khugepaged skips what it cannot collapse */
					collapsed += collapse_huge_page(mm, v, h) == 0;
			}
			pm_up_write(&mm->mmap_lock);
		}
		free(mms);
	}
	return collapsed;
}
