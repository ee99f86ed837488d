/* SPDX-License-Identifier: MIT */
/*
 * GUP-fast: take references without mmap_lock and without any page-table
 * lock, walking the tables under RCU (tables are freed only after a grace
 * period, so every table we reach stays readable until we leave).
 *
 * Per page (per run of a THP's pages under one PMD leaf):
 *   1. read the PMD, then the PTE;
 *   2. take a reference only if the count is not zero (a zero count means
 *      the folio is being freed: its descriptor stays valid, we just fail);
 *   3. re-read the PTE and the PMD it came through; if either changed, drop
 *      the reference and stop (gup_fast_recheck, gup_fast_pmd_recheck).
 *
 * Step 3 against a clear-then-check path (KSM, khugepaged, migration, a zap):
 * that path clears the entry (an SC exchange) and then reads the counts;
 * we raise the counts (SC) and then re-read the entry. In any SC order one
 * of the two second steps follows the other side's first: either we see
 * the cleared entry and back off, or they see our reference and leave the
 * page alone. Without step 3 we can pin a page that is no longer mapped
 * here, or that has been freed and reused.
 *
 * FOLL_PIN also samples mm->write_protect_seq before the walk and rechecks
 * it at the end (fork_gup_fast_seq; the argument is in mm/fork.c).
 *
 * Anything unusual — no entry, write to a R/O entry, a R/O pin that must
 * unshare, a special or PROT_NONE entry — stops the walk; the caller then
 * takes the slow path for the rest.
 */
#include "gup.h"

/*
 * nr pages of one folio, with one grab of nr references (Linux's
 * try_grab_folio(folio, refs)): for a THP, pages sub .. sub + nr - 1 of
 * what the PMD leaf at entry i of table pte (the PMD table itself) maps
 * (stride 0: one entry for all); else the pages the nr PTEs from entry i
 * map (stride 1, sub 0), each rechecked. Returns how many were taken: nr,
 * or 0.
 */
static unsigned long gup_fast_entry(struct pinmm *eng, struct pt_table *pmd, unsigned pmd_i,
				    pte_t pmd_val, struct pt_table *pte, unsigned i,
				    uint64_t sub, unsigned long nr, unsigned stride,
				    unsigned flags, struct pinmm_page **pages)
{
	pte_t e = pt_read(pte, i);
	struct pinmm_page *page, *folio;

	if (!pte_present(e) || pte_protnone(e) || pte_special(e))
		return 0;
	if ((flags & PINMM_FOLL_WRITE) && !pte_write(e))
		return 0;
	page = eng_pfn_page(eng, pte_pfn(e) + sub);
	folio = page_folio(page);
	/* a longterm pin of movable memory migrates first: slow path */
	if ((flags & PINMM_FOLL_LONGTERM) && (flags & PINMM_FOLL_PIN) &&
	    pm_policy(eng, PINMM_SW_LONGTERM_UNMOVABLE) &&
	    pm_page_zone(folio) == PINMM_ZONE_MOVABLE)
		return 0;
	pm_preempt(PM_PT_GUP_FAST_WALKED, page, e);
	if (!try_grab_folio(eng, folio, (int)nr, flags, true))
		return 0;
	pm_preempt(PM_PT_GUP_FAST_GRABBED, page, e);

	/* the pages still belong to the folio we counted on (a split in
	 * between puts the same entries back: only this tells) */
	if (page_folio(page) != folio || page - folio + nr > folio_nr_pages(folio))
		goto undo;
	if (pm_policy(eng, PINMM_SW_GUP_FAST_PMD_RECHECK) &&
	    pt_read(pmd, pmd_i) != pmd_val)
		goto undo;
	for (unsigned long k = 0; pm_policy(eng, PINMM_SW_GUP_FAST_RECHECK) && k < nr; k++) {
		if (pt_read(pte, i + (unsigned)(k * stride)) !=
		    e + ((pte_t)(k * stride) << PTE_PFN_SHIFT))
			goto undo;
		if (!stride)
			break;	/* one leaf for the whole run */
	}
	/* gup_fast_folio_allowed(): a writable longterm pin of a page of a
	 * dirty-tracked file is the slow path's to refuse (the file is freed
	 * only after a grace period: we walk under RCU) */
	if ((flags & (PINMM_FOLL_LONGTERM | PINMM_FOLL_WRITE)) ==
		    (PINMM_FOLL_LONGTERM | PINMM_FOLL_WRITE) &&
	    page_test(folio, PG_pagecache) &&
	    ((struct pinmm_file *)folio_mapping(folio))->dirty_tracked)
		goto undo;
	/* a R/O pin of a shared anon page, or a R/O longterm pin of a file
	 * page (the VMA decides), must unshare: slow path. A writable entry
	 * maps a page that needs none (an exclusive one, or a shared
	 * mapping's page-cache page). */
	for (unsigned long k = 0; k < nr; k++) {
		if (!pte_write(e) && gup_must_unshare(eng, NULL, flags, page + k, false))
			goto undo;
		pages[k] = page + k;
	}
	return nr;
undo:
	gup_put_folio(eng, folio, (int)nr, flags);
	return 0;
}

/*
 * How many PTEs from entry i (at most max) map the following pages of one
 * folio with the same bits: a guess taken without preemption points, which
 * gup_fast_entry() checks after its grab like every entry it takes.
 */
static unsigned long pte_run(struct pinmm *eng, struct pt_table *pte, unsigned i,
			     unsigned long max)
{
	pte_t e = atomic_load(&pte->ent[i]);
	unsigned long n = 1;

	pm_access(&pte->ent[i], PM_ACC_READ);	/* lockless: the reduction must know */

	if (!pte_present(e) || pte_special(e))
		return 1;
	struct pinmm_page *page = eng_pfn_page(eng, pte_pfn(e)), *folio = page_folio(page);
	unsigned long left = folio_nr_pages(folio) - (unsigned long)(page - folio);

	max = MIN(max, left);
	while (n < max && (pm_access(&pte->ent[i + n], PM_ACC_READ),
			   atomic_load(&pte->ent[i + n]) == e + ((pte_t)n << PTE_PFN_SHIFT)))
		n++;
	return n;
}

unsigned long gup_fast(struct pinmm_mm *mm, uint64_t start, unsigned long nr,
		       unsigned flags, struct pinmm_page **pages)
{
	struct pinmm *eng = mm->eng;
	bool seq_check = (flags & PINMM_FOLL_PIN) &&
			 pm_policy(eng, PINMM_SW_FORK_GUP_FAST_SEQ);
	unsigned seq = 0;
	unsigned long done = 0;

	if (seq_check) {
		/* raw_read_seqcount(): fork is write-protecting right now */
		seq = atomic_load(&mm->write_protect_seq);
		pm_preempt(PM_PT_WP_SEQ, &mm->write_protect_seq, seq);
		if (seq & 1)
			return 0;
	}

	pm_rcu_read_lock();
	struct pt_table *t = atomic_load(&mm->pgd);
	while (t && done < nr) {
		uint64_t addr = start + done * PINMM_PAGE_SIZE;
		struct pt_table *pud, *pmd, *pte;
		pte_t e, pmd_val;
		unsigned pmd_i = pt_index(addr, PT_LEVEL_PMD);

		e = pt_read(t, pt_index(addr, PT_LEVEL_PGD));
		if (!pte_is_table(e))
			break;
		pud = pte_table(e);
		e = pt_read(pud, pt_index(addr, PT_LEVEL_PUD));
		if (!pte_is_table(e))
			break;
		pmd = pte_table(e);
		pmd_val = pt_read(pmd, pmd_i);
		if (pte_huge(pmd_val)) {
			/* a THP: the rest of the leaf's pages in the range, in
			 * one grab, rechecking the leaf */
			uint64_t sub = pt_index(addr, PT_LEVEL_PTE);
			unsigned long run = MIN(PT_ENTRIES - sub, nr - done);

			if (!gup_fast_entry(eng, pmd, pmd_i, pmd_val, pmd, pmd_i, sub, run, 0, flags,
					    &pages[done]))
				goto out;
			done += run;
			continue;
		}
		if (!pte_is_table(pmd_val))
			break;
		pte = pte_table(pmd_val);
		/* the rest of this PTE table, a run of one folio's pages at a
		 * time */
		for (unsigned i = pt_index(addr, PT_LEVEL_PTE), run;
		     i < PT_ENTRIES && done < nr; i += run) {
			run = (unsigned)pte_run(eng, pte, i, MIN(PT_ENTRIES - i, nr - done));
			if (!gup_fast_entry(eng, pmd, pmd_i, pmd_val, pte, i, 0, run, 1, flags,
					    &pages[done]))
				goto out;
			done += run;
		}
	}
out:
	pm_rcu_read_unlock();

	if (seq_check && done) {
		/* read_seqcount_retry(): fork ran meanwhile; it may have
		 * shared a page after we pinned it */
		unsigned now = atomic_load(&mm->write_protect_seq);
		pm_preempt(PM_PT_WP_SEQ, &mm->write_protect_seq, now);
		if (now != seq) {
			for (unsigned long k = 0; k < done; k++)
				gup_put_folio(eng, page_folio(pages[k]), 1, flags);
			done = 0;
		}
	}
	return done;
}
