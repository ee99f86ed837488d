/* SPDX-License-Identifier: MIT */
/*
 * PMD migration entries: a PMD-mapped THP migrates whole, as Linux's THP
 * migration does (set_pmd_migration_entry() / remove_migration_pmd()). The
 * leaf becomes one non-present entry for the 2 MiB (a migration entry that
 * keeps PTE_HUGE) while the bytes move, then a leaf of the new folio.
 *
 * Who meets one: GUP-fast sees no table and no leaf, and falls back to the
 * slow path; the slow path faults; the fault and every other walker that
 * needs the leaf (zap, fork, mprotect, PMD splits) wait until the migrator
 * unlocks the folio, then look again. They hold mmap_lock and no rmap lock,
 * and the migrator takes neither mmap_lock nor waits for anything, so the
 * wait ends. The migrator changes the entry only under the PMD's lock, and
 * a walker decides under the same lock, so none acts on a stale view.
 * Deposited PTE tables stay where they are: the entry still stands for a
 * THP mapping.
 */
#include "mm.h"

/* Wait for the migration of the folio behind swp (a PMD migration entry
 * at entry i of pmd) to end; the caller holds mmap_lock, which keeps the
 * table. Like the PTE case in the fault path, it spins on the folio lock. */
static void pmd_migration_entry_wait(struct pinmm *eng, struct pt_table *pmd, unsigned i,
				     pte_t swp)
{
	struct pinmm_page *folio = eng_pfn_page(eng, pte_swp_offset(swp));

	while (page_test(folio, PG_locked) && pt_read(pmd, i) == swp)
		pm_cpu_relax();
}

struct pt_table *pmd_leaf_lock_wait(struct pinmm_mm *mm, uint64_t addr)
{
	unsigned i = pt_index(addr, PT_LEVEL_PMD);

	for (;;) {
		struct pt_table *pmd = pmd_huge_lock(mm, addr);

		if (!pmd)
			return NULL;
		pte_t e = pt_read(pmd, i);
		if (pte_huge(e))
			return pmd;
		pm_mutex_unlock(&pmd->ptl);
		pmd_migration_entry_wait(mm->eng, pmd, i, e);
	}
}

bool set_pmd_migration_entry(struct pinmm *eng, struct pt_table *pmd, unsigned i, pte_t e,
			     struct pinmm_page *folio, bool check_pins)
{
	/* while PMD-mapped, every page of the folio has the head's
	 * anon-exclusive state: one bit in the entry keeps it */
	pte_t saved = (e & PTE_SWP_SAVED & ~PTE_SWP_EXCLUSIVE) |
		      (page_anon_exclusive(folio) ? PTE_SWP_EXCLUSIVE : 0);

	/* clear ... */
	pt_xchg(pmd, i, mk_swp_entry(SWP_MIGRATION, eng_page_pfn(eng, folio), saved));
	if (check_pins && folio_maybe_dma_pinned(eng, folio)) {	/* ... check */
		pt_write(pmd, i, e);
		return false;
	}
	zap_pmd_folio(folio, e);
	return true;
}

void remove_migration_pmd(struct pinmm *eng, struct pt_table *pmd, unsigned i, pte_t swp,
			  struct pinmm_page *folio)
{
	folio_get(folio);
	pm_access(&folio->entire_mapcount, PM_ACC_ADD);
	atomic_fetch_add(&folio->entire_mapcount, 1);
	if (swp & PTE_SWP_EXCLUSIVE)
		for (unsigned long j = 0; j < HPAGE_PMD_NR; j++)
			page_set(&folio[j], PG_anon_exclusive);
	pt_write(pmd, i, mk_pte(eng_page_pfn(eng, folio), swp & PTE_SWP_SAVED & ~PTE_SWP_EXCLUSIVE));
}
