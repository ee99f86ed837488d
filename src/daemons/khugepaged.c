/* SPDX-License-Identifier: MIT */
/*
 * khugepaged and MADV_COLLAPSE: replace an aligned 2 MiB range of small
 * anonymous pages (or of a PTE-mapped THP) by a new THP, copying each page;
 * pages other processes map too keep their other mappings (the collapse
 * breaks their COW for this mm), swapped pages are swapped in first.
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

#include <string.h>

#include "../mem/frame_io.h"
#include "../mm/mm.h"
#include "daemons.h"

#define HPAGE_NR (1ul << PINMM_HPAGE_ORDER)

/* Who collapses: khugepaged obeys its max_ptes_* knobs, MADV_COLLAPSE
 * does not (Linux's collapse_control.is_khugepaged). */
struct collapse_control {
	bool is_khugepaged;
	struct pinmm_khugepaged_tunables limits;
};

/*
 * Can the range mapped by this PTE table be collapsed? As Linux's
 * hpage_collapse_scan_pmd(): empty entries and the zero page become zeroes
 * of the new THP; pages other processes map too (COW-shared after fork)
 * are copied, the others keep theirs; pages of a large folio (a PTE-mapped
 * THP) are copied like small ones; khugepaged refuses a range with more of
 * each than its knobs allow. 0 ok, -EINVAL not collapsible, -EAGAIN try
 * later; *swapped counts swap entries (the caller swaps them in first).
 * pte lock held.
 */
static int scan_ptes(struct pinmm *eng, struct pt_table *pte, const struct collapse_control *cc,
		     unsigned *swapped)
{
	unsigned none_or_zero = 0, shared = 0, present = 0;

	*swapped = 0;
	/* plain loads, no preemption points: reading entries under their lock
	 * commutes with everything GUP-fast does (it only reads them too) */
	for (unsigned j = 0; j < PT_ENTRIES; j++) {
		pte_t e = atomic_load(&pte->ent[j]);
		struct pinmm_page *page, *folio;

		if (pte_none(e) || (pte_present(e) && pte_special(e))) {
			if (cc->is_khugepaged && ++none_or_zero > cc->limits.max_ptes_none)
				return -EINVAL;
			continue;
		}
		if (pte_is_swp(e) && pte_swp_type(e) == SWP_SWAP) {
			if (cc->is_khugepaged && *swapped + 1 > cc->limits.max_ptes_swap)
				return -EINVAL;
			(*swapped)++;
			continue;
		}
		if (!pte_present(e))
			return -EAGAIN;	/* migrating */
		page = eng_pfn_page(eng, pte_pfn(e));
		folio = page_folio(page);
		if (!page_test(folio, PG_anon) || page_test(folio, PG_ksm))
			return -EINVAL;	/* KSM: left alone */
		if (page_mapcount(page) > 1 && cc->is_khugepaged &&
		    ++shared > cc->limits.max_ptes_shared)
			return -EINVAL;
		present++;
	}
	return present || *swapped ? 0 : -EINVAL;
}

/* References of a folio beyond its mappings' and the swap cache's (a pin,
 * a GUP reference, a mover's): is_refcount_suitable() in Linux. */
static int folio_extra_refs(struct pinmm_page *folio)
{
	/* the count before the flag: a folio leaving the swap cache meanwhile
	 * (the cache clears the flag, then drops its reference) looks
	 * referenced, never the other way round */
	int refs = folio_ref_count(folio);
	int maps = folio_entire_mapcount(folio);

	for (unsigned long i = 0; i < folio_nr_pages(folio); i++)
		maps += page_pte_mapcount(&folio[i]);
	if (page_test(folio, PG_swapcache))
		maps += (int)folio_nr_pages(folio);
	return refs - maps;
}

/* Does any page mapped here belong to a folio that may be pinned? */
static bool any_extra_refs(struct pinmm *eng, struct pt_table *pte)
{
	for (unsigned j = 0; j < PT_ENTRIES; j++) {
		pte_t e = atomic_load(&pte->ent[j]);

		if (pte_present(e) && !pte_special(e) &&
		    folio_extra_refs(page_folio(eng_pfn_page(eng, pte_pfn(e)))) > 0)
			return true;
	}
	return false;
}

/* __collapse_huge_page_swapin(): fault the swapped pages back in. */
static int collapse_swapin(struct pinmm_mm *mm, struct vm_area *vma, uint64_t haddr,
			   struct pt_table *pte)
{
	for (unsigned j = 0; j < PT_ENTRIES; j++) {
		pte_t e = atomic_load(&pte->ent[j]);

		if (pte_is_swp(e) && pte_swp_type(e) == SWP_SWAP) {
			int err = handle_mm_fault(mm, vma, haddr + j * PINMM_PAGE_SIZE, 0);

			if (err)
				return err;
		}
	}
	return 0;
}

/* Collapse [haddr, haddr + 2 MiB) of vma. mmap_lock held for write.
 * 0 collapsed, 1 already a THP, -EINVAL / -EAGAIN / -ENOMEM. */
static int collapse_huge_page(struct pinmm_mm *mm, struct vm_area *vma, uint64_t haddr,
			      const struct collapse_control *cc)
{
	struct pinmm *eng = mm->eng;
	unsigned i = pt_index(haddr, PT_LEVEL_PMD);
	struct pt_table *pmd = pmd_table_alloc(mm, haddr), *pte;
	struct pinmm_page *folio;
	unsigned swapped;
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
	err = scan_ptes(eng, pte, cc, &swapped);
	pm_mutex_unlock(&pte->ptl);
	if (!err && swapped)
		err = collapse_swapin(mm, vma, haddr, pte);
	if (err)
		return err;
	/* the memory comes first: after the protocol nothing may fail */
	if (pmd_deposit(pmd, i))
		return -ENOMEM;
	/* not zeroed: every page is copied or cleared below, as Linux's
	 * __collapse_huge_page_copy() does */
	folio = pm_alloc_folio(eng, PINMM_HPAGE_ORDER, PM_GFP_MOVABLE);
	if (!folio)
		return -ENOMEM;

	pm_mutex_lock(&pmd->ptl);
	pm_mutex_lock(&pte->ptl);
	/* the entries may have changed while we allocated (swapped out,
	 * migrating, unmapped): look again, now that they cannot */
	if (pt_read(pmd, i) != pmd_val || scan_ptes(eng, pte, cc, &swapped) || swapped) {
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
		uint8_t *to = dst + j * PINMM_PAGE_SIZE;
		pte_t e = atomic_load(&pte->ent[j]);

		/* an empty entry has nothing to clear: no step to interleave */
		if (!pte_none(e))
			e = pt_xchg(pte, j, 0);
		if (pte_present(e) && !pte_special(e)) {
			frame_copy(to, pm_pfn_to_virt(&eng->mem, pte_pfn(e)), PINMM_PAGE_SIZE);
			zap_present_pte(eng, e);
		} else {
			/* empty, or the zero page; the folio is nobody's yet,
			 * as when the allocator zeroes it */
			memset(to, 0, PINMM_PAGE_SIZE);
		}
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
		pt_free_rcu(spare);	/* deposited: may once have been live */
	return 0;
}

/* MADV_COLLAPSE over [start, end): mmap_lock held for write. */
int madvise_collapse(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	const struct collapse_control cc = { .is_khugepaged = false };
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
		err = collapse_huge_page(mm, vma, h, &cc);
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
	struct collapse_control cc = { .is_khugepaged = true };
	long collapsed = 0;

	if (!eng)
		return -EINVAL;
	cc.limits = eng->khugepaged;
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
					collapsed += collapse_huge_page(mm, v, h, &cc) == 0;
			}
			pm_up_write(&mm->mmap_lock);
		}
		free(mms);
	}
	return collapsed;
}

int pinmm_khugepaged_get_tunables(const struct pinmm *eng, struct pinmm_khugepaged_tunables *t)
{
	if (!eng || !t)
		return -EINVAL;
	*t = eng->khugepaged;
	return 0;
}

int pinmm_khugepaged_set_tunables(struct pinmm *eng, const struct pinmm_khugepaged_tunables *t)
{
	if (!eng || !t || t->max_ptes_none >= HPAGE_NR || t->max_ptes_shared >= HPAGE_NR ||
	    t->max_ptes_swap >= HPAGE_NR)
		return -EINVAL;
	eng->khugepaged = *t;
	return 0;
}
