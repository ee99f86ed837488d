/* SPDX-License-Identifier: MIT */
/*
 * Page-table allocation, walks and freeing.
 *
 * Tables are installed with a compare-and-swap into an empty entry (a racing
 * installer frees its own table), and removed only under mmap_lock held for
 * write, by clearing the entry and freeing the table after an RCU grace
 * period: a GUP-fast walker that read the old entry may still be inside it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm.h"

struct pt_table *pt_alloc(struct pinmm *eng, int level)
{
	struct pt_table *t;

	if (pm_should_fail_alloc(eng, PINMM_ALLOC_PGTABLE))
		return NULL;
	/* page tables come out of memory: no more than the engine's budget */
	if ((size_t)atomic_load(&eng->nr_page_tables) >= eng->cfg.max_page_tables)
		return NULL;
	t = aligned_alloc(128, sizeof(*t));
	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	pm_mutex_init(&t->ptl);
	t->eng = eng;
	t->dom = eng->rcu_dom;
	t->level = level;
	atomic_fetch_add(&eng->nr_page_tables, 1);
	return t;
}

/* Free a table's memory (and the tables set aside in it); no accounting:
 * an RCU callback may run this after the engine is gone. */
static void pt_release(struct pt_table *t)
{
	if (t->deposit) {
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (t->deposit[i])
				pt_release(t->deposit[i]);
		free(t->deposit);
	}
	pm_mutex_destroy(&t->ptl);
	free(t);
}

/* nr_page_tables counts tables in use; a table and the ones set aside in
 * it leave the count when it is unlinked */
static void pt_uncount(struct pt_table *t)
{
	long n = 1;

	if (t->deposit)
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			n += t->deposit[i] != NULL;
	atomic_fetch_sub(&t->eng->nr_page_tables, n);
}

/* a table nobody could ever reach (never installed) */
static void pt_free_now(struct pt_table *t)
{
	pt_uncount(t);
	pt_release(t);
}

int pmd_deposit(struct pt_table *pmd, unsigned i)
{
	struct pt_table *pte;

	pm_mutex_lock(&pmd->ptl);
	if (!pmd->deposit)
		pmd->deposit = calloc(PT_ENTRIES, sizeof(*pmd->deposit));
	bool need = pmd->deposit && !pmd->deposit[i];
	pm_mutex_unlock(&pmd->ptl);
	if (!pmd->deposit)
		return -ENOMEM;
	if (!need)
		return 0;
	pte = pt_alloc(pmd->eng, PT_LEVEL_PTE);
	if (!pte)
		return -ENOMEM;
	pm_mutex_lock(&pmd->ptl);
	if (!pmd->deposit[i]) {
		pmd->deposit[i] = pte;
		pte = NULL;
	}
	pm_mutex_unlock(&pmd->ptl);
	if (pte)
		pt_free_now(pte);
	return 0;
}

struct pt_table *pmd_withdraw(struct pt_table *pmd, unsigned i)
{
	struct pt_table *pte = NULL;

	if (pmd->deposit) {
		pte = pmd->deposit[i];
		pmd->deposit[i] = NULL;
	}
	return pte;
}

static void pt_free_cb(struct rcu_head *head)
{
	struct pt_table *t = container_of(head, struct pt_table, rcu);
	struct pm_rcu_domain *dom;

	pm_rcu_callback_begin(head);
	dom = t->dom;
	pt_release(t);
	pm_rcu_domain_put(dom);
}

void pt_free_rcu(struct pt_table *t)
{
	pt_uncount(t);
	pm_rcu_domain_get(t->dom);
	pm_call_rcu(&t->rcu, pt_free_cb);
}

/* The next level's table under entry i of t, installing one if empty;
 * NULL with *huge set when a leaf (a PMD-mapped THP) is in the way. */
static struct pt_table *pt_next_alloc(struct pinmm *eng, struct pt_table *t,
				      unsigned i, bool *huge)
{
	pte_t e = pt_read(t, i);

	if (pte_is_table(e))
		return pte_table(e);
	if (!pte_none(e)) {
		*huge = true;
		return NULL;
	}
	struct pt_table *n = pt_alloc(eng, t->level - 1);
	if (!n)
		return NULL;
	pte_t expected = 0;
	if (atomic_compare_exchange_strong(&t->ent[i], &expected, mk_table_entry(n))) {
		/* t is a PGD, PUD or PMD table: an upper-level entry */
		pm_preempt(PM_PT_PMD_WRITE, &t->ent[i], mk_table_entry(n));
		return n;
	}
	pt_free_now(n);	/* never visible */
	if (pte_is_table(expected))
		return pte_table(expected);
	*huge = true;	/* a THP fault got there first */
	return NULL;
}

struct pt_table *pte_table_alloc(struct pinmm_mm *mm, uint64_t addr, bool *huge)
{
	struct pt_table *t = atomic_load(&mm->pgd);
	bool leaf = false;

	for (int level = PT_LEVEL_PGD; t && level > PT_LEVEL_PTE; level--)
		t = pt_next_alloc(mm->eng, t, pt_index(addr, level), &leaf);
	if (huge)
		*huge = leaf;
	return t;
}

struct pt_table *pte_table_lookup(struct pinmm_mm *mm, uint64_t addr,
				  struct pt_table **pmd_tbl)
{
	struct pt_table *t = atomic_load(&mm->pgd);

	for (int level = PT_LEVEL_PGD; t && level > PT_LEVEL_PTE; level--) {
		pte_t e = pt_read(t, pt_index(addr, level));

		if (level == PT_LEVEL_PMD && pmd_tbl)
			*pmd_tbl = t;
		if (!pte_is_table(e))
			return NULL;
		t = pte_table(e);
	}
	return t;
}

struct pt_table *pte_table_lock(struct pinmm_mm *mm, uint64_t addr)
{
	struct pt_table *pmd = NULL, *pte;

	pm_rcu_read_lock();
	pte = pte_table_lookup(mm, addr, &pmd);
	if (pte) {
		pm_mutex_lock(&pte->ptl);
		/* the table may have been unlinked while we took the lock */
		pte_t e = pt_read(pmd, pt_index(addr, PT_LEVEL_PMD));
		if (!pte_is_table(e) || pte_table(e) != pte) {
			pm_mutex_unlock(&pte->ptl);
			pte = NULL;
		}
	}
	pm_rcu_read_unlock();
	/*
	 * Leaving the read section is safe while we hold the ptl: a table is
	 * unlinked only by free_pgtables() under mmap_lock for write, which
	 * takes this ptl before unlinking — it waits for us.
	 */
	return pte;
}

struct pt_table *pmd_table_alloc(struct pinmm_mm *mm, uint64_t addr)
{
	struct pt_table *t = atomic_load(&mm->pgd);
	bool leaf = false;	/* none above the PMD level */

	for (int level = PT_LEVEL_PGD; t && level > PT_LEVEL_PMD; level--)
		t = pt_next_alloc(mm->eng, t, pt_index(addr, level), &leaf);
	return t;
}

/* The PMD table covering addr (no lock; under RCU or mmap_lock), and the
 * PUD table it hangs from. */
static struct pt_table *pmd_table_lookup(struct pinmm_mm *mm, uint64_t addr,
					 struct pt_table **pud_tbl)
{
	struct pt_table *t = atomic_load(&mm->pgd);

	for (int level = PT_LEVEL_PGD; t && level > PT_LEVEL_PMD; level--) {
		pte_t e = pt_read(t, pt_index(addr, level));

		if (level == PT_LEVEL_PUD && pud_tbl)
			*pud_tbl = t;
		if (!pte_is_table(e))
			return NULL;
		t = pte_table(e);
	}
	return t;
}

/* a PMD leaf, or (with migration) a PMD migration entry */
static bool pmd_is_huge(pte_t e, bool migration)
{
	return pte_huge(e) || (migration && is_pmd_migration_entry(e));
}

static struct pt_table *pmd_lock_huge(struct pinmm_mm *mm, uint64_t addr, bool migration)
{
	struct pt_table *pud = NULL, *pmd;
	unsigned i = pt_index(addr, PT_LEVEL_PMD);

	pm_rcu_read_lock();
	pmd = pmd_table_lookup(mm, addr, &pud);
	if (pmd && pmd_is_huge(pt_read(pmd, i), migration)) {
		pm_mutex_lock(&pmd->ptl);
		pte_t up = pt_read(pud, pt_index(addr, PT_LEVEL_PUD));
		if (!pte_is_table(up) || pte_table(up) != pmd ||
		    !pmd_is_huge(pt_read(pmd, i), migration)) {
			pm_mutex_unlock(&pmd->ptl);
			pmd = NULL;
		}
	} else {
		pmd = NULL;
	}
	pm_rcu_read_unlock();
	return pmd;
}

struct pt_table *pmd_leaf_lock(struct pinmm_mm *mm, uint64_t addr)
{
	return pmd_lock_huge(mm, addr, false);
}

struct pt_table *pmd_huge_lock(struct pinmm_mm *mm, uint64_t addr)
{
	return pmd_lock_huge(mm, addr, true);
}

struct pt_table *entry_lock(struct pinmm_mm *mm, uint64_t addr, unsigned *i, uint64_t *sub)
{
	struct pt_table *t = pte_table_lock(mm, addr);

	*i = pt_index(addr, PT_LEVEL_PTE);
	*sub = 0;
	if (!t && (t = pmd_leaf_lock(mm, addr))) {
		/* a THP: the same entry for the whole 2 MiB, one level up */
		*i = pt_index(addr, PT_LEVEL_PMD);
		*sub = (addr & (PINMM_PMD_SIZE - 1)) >> PINMM_PAGE_SHIFT;
	}
	return t;
}

struct pinmm_page *folio_get_at(struct pinmm_mm *mm, uint64_t addr, int *err)
{
	struct pinmm_page *folio = NULL;
	unsigned i;
	uint64_t sub;
	struct pt_table *t = entry_lock(mm, addr, &i, &sub);

	*err = -EFAULT;
	if (!t)
		return NULL;
	pte_t e = pt_read(t, i);
	if (pte_present(e) && !pte_special(e)) {
		folio = page_folio(eng_pfn_page(mm->eng, pte_pfn(e)));
		folio_get(folio);
		*err = 0;
	}
	pm_mutex_unlock(&t->ptl);
	return folio;
}

/* true when some VMA overlaps [start, end) */
static bool range_has_vma(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	struct vm_area *v = find_vma(mm, start);
	return v && v->start < end;
}

/*
 * Unlink the table under entry i of parent, and everything below it, then
 * free them after a grace period. Each entry is cleared under the lock of
 * the table it points to, so a pte_table_lock() holder finishes first and a
 * later one sees the cleared entry.
 */
static void unlink_and_free(struct pt_table *parent, unsigned i)
{
	struct pt_table *child = pte_table(atomic_load(&parent->ent[i]));

	if (child->level > PT_LEVEL_PTE) {
		for (unsigned j = 0; j < PT_ENTRIES; j++)
			if (pte_is_table(atomic_load(&child->ent[j])))
				unlink_and_free(child, j);
	}
	pm_mutex_lock(&child->ptl);
	pt_write(parent, i, 0);
	pm_mutex_unlock(&child->ptl);
	pt_free_rcu(child);
}

/* Free every table below t, within [start,end), whose span no VMA overlaps. */
static void free_range(struct pinmm_mm *mm, struct pt_table *t, uint64_t base,
		       uint64_t start, uint64_t end)
{
	uint64_t span = pt_entry_span(t->level);

	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		uint64_t lo = base + i * span, hi = lo + span;

		if (hi <= start || lo >= end || !pte_is_table(atomic_load(&t->ent[i])))
			continue;
		if (!range_has_vma(mm, lo, hi))
			unlink_and_free(t, i);
		else if (t->level > PT_LEVEL_PMD)
			free_range(mm, pte_table(atomic_load(&t->ent[i])), lo,
				   start, end);
	}
}

void free_pgtables(struct pinmm_mm *mm, uint64_t start, uint64_t end)
{
	/* widen to whole PTE tables: a table is freed only when no VMA
	 * overlaps anything it maps */
	start = ALIGN_DOWN(start, PINMM_PMD_SIZE);
	end = ALIGN_UP(end, PINMM_PMD_SIZE);
	free_range(mm, atomic_load(&mm->pgd), 0, start, end);
}

void free_all_pgtables(struct pinmm_mm *mm)
{
	struct pt_table *pgd = atomic_load(&mm->pgd);

	for (unsigned i = 0; i < PT_ENTRIES; i++)
		if (pte_is_table(atomic_load(&pgd->ent[i])))
			unlink_and_free(pgd, i);
}
