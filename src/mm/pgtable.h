/* SPDX-License-Identifier: MIT */
/*
 * Page tables: four levels (pgd, pud, pmd, pte) of 512 64-bit atomic
 * entries each, as x86-64 with 4 KiB pages.
 *
 * An entry is either
 *   - none (0);
 *   - a table: the address of the next level's pt_table | PTE_PRESENT
 *     (tables are 128-byte aligned, so the flag bits below are free);
 *   - a leaf: pfn << 12 | PTE_PRESENT | flags (PTE_HUGE for a PMD leaf);
 *   - a non-present swap/migration entry: offset << 12 | type << 8.
 *
 * Split locks: each PTE table and each PMD table has its own lock (ptl);
 * installing a table in an empty entry is a compare-and-swap. Tables are
 * freed through RCU, so GUP-fast may walk them under rcu_read_lock alone.
 */
#ifndef PM_MM_PGTABLE_H
#define PM_MM_PGTABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../base/lock.h"
#include "../base/rcu.h"

typedef uint64_t pte_t;

#define PTE_PRESENT 0x001ull
#define PTE_WRITE 0x002ull
#define PTE_DIRTY 0x004ull
#define PTE_YOUNG 0x008ull
#define PTE_SPECIAL 0x010ull	/* no struct-page accounting (zero page) */
#define PTE_PROTNONE 0x020ull	/* mapped but no access (PROT_NONE, NUMA hint) */
#define PTE_HUGE 0x040ull	/* PMD leaf */
#define PTE_FLAGS_MASK 0xfffull
#define PTE_SWP_TYPE_SHIFT 8
#define PTE_SWP_TYPE_MASK (0xfull << PTE_SWP_TYPE_SHIFT)
#define PTE_PFN_SHIFT 12

enum pte_swp_type { SWP_NONE, SWP_SWAP, SWP_MIGRATION };

#define PT_ENTRIES 512
#define PT_LEVEL_PTE 1
#define PT_LEVEL_PMD 2
#define PT_LEVEL_PUD 3
#define PT_LEVEL_PGD 4

struct pinmm;

struct pt_table {
	_Atomic pte_t ent[PT_ENTRIES];
	pm_mutex_t ptl;		/* split lock (PTE and PMD tables) */
	struct rcu_head rcu;
	struct pinmm *eng;
	int level;
	/* PMD tables: for each PMD leaf, a PTE table set aside when the THP
	 * was mapped, so that splitting the PMD never needs memory (Linux's
	 * pgtable_trans_huge_deposit) */
	struct pt_table **deposit;
	struct pm_rcu_domain *dom;	/* what the RCU callback may touch */
} __attribute__((aligned(128)));

static inline bool pte_none(pte_t e) { return e == 0; }
static inline bool pte_present(pte_t e) { return e & PTE_PRESENT; }
static inline bool pte_write(pte_t e) { return e & PTE_WRITE; }
static inline bool pte_huge(pte_t e) { return (e & (PTE_PRESENT | PTE_HUGE)) == (PTE_PRESENT | PTE_HUGE); }
static inline bool pte_special(pte_t e) { return e & PTE_SPECIAL; }
static inline bool pte_protnone(pte_t e) { return e & PTE_PROTNONE; }
static inline bool pte_is_table(pte_t e) { return (e & (PTE_PRESENT | PTE_HUGE)) == PTE_PRESENT; }
static inline uint64_t pte_pfn(pte_t e) { return e >> PTE_PFN_SHIFT; }
static inline struct pt_table *pte_table(pte_t e)
{
	/* tables are 128-byte aligned: only the low 7 bits are flags */
	return (struct pt_table *)(uintptr_t)(e & ~(uint64_t)0x7f);
}
static inline pte_t mk_table_entry(struct pt_table *t)
{
	return (pte_t)(uintptr_t)t | PTE_PRESENT;
}
static inline pte_t mk_pte(uint64_t pfn, pte_t flags)
{
	return (pfn << PTE_PFN_SHIFT) | flags | PTE_PRESENT;
}
static inline bool pte_is_swp(pte_t e)
{
	return e && !(e & PTE_PRESENT);
}
static inline enum pte_swp_type pte_swp_type(pte_t e)
{
	return (enum pte_swp_type)((e & PTE_SWP_TYPE_MASK) >> PTE_SWP_TYPE_SHIFT);
}

/*
 * A non-present entry keeps, in its low bits, what the present one had:
 * write, dirty, young, protnone, and whether the page was anon-exclusive.
 */
#define PTE_SWP_EXCLUSIVE PTE_SPECIAL
/* PTE_HUGE too: a PMD migration entry (a THP being migrated whole) keeps
 * it, so the entry says which level it stands for */
#define PTE_SWP_SAVED \
	(PTE_WRITE | PTE_DIRTY | PTE_YOUNG | PTE_PROTNONE | PTE_SWP_EXCLUSIVE | PTE_HUGE)

static inline pte_t mk_swp_entry(enum pte_swp_type type, uint64_t offset, pte_t saved)
{
	return (offset << PTE_PFN_SHIFT) | ((pte_t)type << PTE_SWP_TYPE_SHIFT) |
	       (saved & PTE_SWP_SAVED);
}
static inline uint64_t pte_swp_offset(pte_t e) { return e >> PTE_PFN_SHIFT; }
static inline bool is_migration_entry(pte_t e)
{
	return pte_is_swp(e) && pte_swp_type(e) == SWP_MIGRATION;
}
static inline bool is_pmd_migration_entry(pte_t e)
{
	return is_migration_entry(e) && (e & PTE_HUGE);
}

static inline unsigned pt_index(uint64_t addr, int level)
{
	return (addr >> (12 + 9 * (level - 1))) & (PT_ENTRIES - 1);
}
/* bytes one entry of a table at this level covers */
static inline uint64_t pt_entry_span(int level)
{
	return 1ull << (12 + 9 * (level - 1));
}

static inline pte_t pt_read(struct pt_table *t, unsigned i)
{
	pte_t v = atomic_load(&t->ent[i]);
	pm_preempt(t->level == PT_LEVEL_PTE ? PM_PT_PTE_READ : PM_PT_PMD_READ,
		   &t->ent[i], v);
	return v;
}
static inline void pt_write(struct pt_table *t, unsigned i, pte_t v)
{
	atomic_store(&t->ent[i], v);
	pm_preempt(t->level == PT_LEVEL_PTE ? PM_PT_PTE_WRITE : PM_PT_PMD_WRITE,
		   &t->ent[i], v);
}
/* clear and return the old entry: the full barrier the clear-then-check
 * protocols rely on (an atomic exchange is sequentially consistent) */
static inline pte_t pt_xchg(struct pt_table *t, unsigned i, pte_t v)
{
	pte_t old = atomic_exchange(&t->ent[i], v);
	pm_preempt(t->level == PT_LEVEL_PTE ? PM_PT_PTE_WRITE : PM_PT_PMD_WRITE,
		   &t->ent[i], v);
	return old;
}
static inline void pt_clear_bits(struct pt_table *t, unsigned i, pte_t bits)
{
	pte_t old = atomic_fetch_and(&t->ent[i], ~bits);
	pm_preempt(t->level == PT_LEVEL_PTE ? PM_PT_PTE_WRITE : PM_PT_PMD_WRITE,
		   &t->ent[i], old & ~bits);
}
static inline void pt_set_bits(struct pt_table *t, unsigned i, pte_t bits)
{
	pte_t old = atomic_fetch_or(&t->ent[i], bits);
	pm_preempt(t->level == PT_LEVEL_PTE ? PM_PT_PTE_WRITE : PM_PT_PMD_WRITE,
		   &t->ent[i], old | bits);
}

struct pt_table *pt_alloc(struct pinmm *eng, int level);
/* Set aside a PTE table for a PMD leaf at entry i (before mapping it). */
int pmd_deposit(struct pt_table *pmd, unsigned i);
/* Take it back (splitting: to use it; zapping: to free it with
 * pt_free_rcu(), as a deposited table may once have been live). */
struct pt_table *pmd_withdraw(struct pt_table *pmd, unsigned i);
/* Free after a grace period: a lockless walker may still be inside it. */
void pt_free_rcu(struct pt_table *t);

#endif
