/* SPDX-License-Identifier: MIT */
/*
 * What an object met at a preemption point is (explore build only), for
 * the front end that names a trace's steps (pinmm/explore.h): an entry of
 * a page table at some level, a table's split lock, a mapped folio and its
 * rmap lock, an mm's mmap_lock or write_protect_seq, a file's page or
 * lock, one of the engine's own locks, a frame by number.
 *
 * The caller is an explorer thread at a preemption point with every other
 * thread stopped, so nothing changes under the walk; it still reads
 * entries with atomic loads (never pt_read(), which is a preemption point
 * itself) and holds an RCU read section, as a freed table waits for one.
 */
#ifdef PINMM_EXPLORE
#include <stdio.h>
#include <stdlib.h>

#include <pinmm/explore.h>

#include "../mm/mm.h"
#include "sched.h"

static const char *const level_name[] = {
	[PT_LEVEL_PTE] = "pte", [PT_LEVEL_PMD] = "pmd",
	[PT_LEVEL_PUD] = "pud", [PT_LEVEL_PGD] = "pgd",
};

/* A present leaf's folio, its page, and the rmap lock behind the folio. */
static const char *leaf_object(struct pinmm *eng, pte_t e, uint64_t sub, const void *obj)
{
	struct pinmm_page *page, *folio;

	if (!pte_present(e) || pte_pfn(e) + sub >= eng->mem.nr_frames)
		return NULL;
	page = pm_pfn_to_page(&eng->mem, pte_pfn(e) + sub);
	folio = page_folio(page);
	if (obj == page || obj == folio)
		return pte_special(e) ? "zero page at" : "folio of";
	if (!folio_mapping(folio))
		return NULL;
	if (folio_test_anon(folio)) {
		/* an anon folio's mapping is its anon_vma | 1, as Linux's */
		struct anon_vma *av = (void *)((uintptr_t)folio_mapping(folio) & ~(uintptr_t)1);

		return obj == &av->lock ? "anon_vma lock" : NULL;
	}
	return obj == &((struct pinmm_file *)folio_mapping(folio))->lock ? "mapping lock" : NULL;
}

/* obj in the tables that map addr: the entry at each level, each table's
 * lock, the leaf's objects; *span: how far the walk may step next. */
static const char *walk_one(struct pinmm_mm *mm, struct pt_table *t, uint64_t addr,
			    const void *obj, uint64_t *span, uint64_t *at)
{
	for (int level = PT_LEVEL_PGD; t && level >= PT_LEVEL_PTE; level--) {
		unsigned i = pt_index(addr, level);
		pte_t e;

		*span = pt_entry_span(level);
		*at = ALIGN_DOWN(addr, *span);
		if (obj == &t->ent[i])
			return level_name[level];
		if (obj == &t->ptl)
			return level == PT_LEVEL_PTE ? "ptl" : "pmd ptl";
		e = atomic_load(&t->ent[i]);
		if (pte_none(e))
			return NULL;
		if (level > PT_LEVEL_PTE && pte_is_table(e)) {
			t = pte_table(e);
			continue;
		}
		/* a leaf: a PTE, or a PMD-mapped THP (the page under addr) */
		return leaf_object(mm->eng, e, (addr - *at) >> PINMM_PAGE_SHIFT, obj);
	}
	return NULL;
}

bool pinmm_explore_find_in_range(struct pinmm_mm *mm, uint64_t start, uint64_t end,
				 const void *obj, struct pinmm_explore_where *w)
{
	const char *what = NULL;
	uint64_t addr = start, span = PINMM_PAGE_SIZE, at = start;

	if (!mm || !obj)
		return false;
	pm_rcu_read_lock();
	for (struct pt_table *pgd = atomic_load(&mm->pgd); pgd && addr < end && !what;
	     addr = ALIGN_DOWN(addr, span) + span)
		what = walk_one(mm, pgd, addr, obj, &span, &at);
	pm_rcu_read_unlock();
	if (!what)
		return false;
	w->what = what;
	/* a table's entry or lock covers more than the range: its start */
	w->addr = at < start ? start : at;
	return true;
}

bool pinmm_explore_same_table(const void *entry, uint64_t addr, int level, const void *obj,
			      uint64_t *obj_addr)
{
	/* a table's 512 entries are one array */
	const _Atomic pte_t *ent = (const _Atomic pte_t *)entry - pt_index(addr, level);
	const _Atomic pte_t *o = obj;

	if (level < PT_LEVEL_PTE || level > PT_LEVEL_PGD || o < ent || o >= ent + PT_ENTRIES ||
	    ((uintptr_t)obj - (uintptr_t)ent) % sizeof(*ent))
		return false;
	*obj_addr = ALIGN_DOWN(addr, pt_entry_span(level) * PT_ENTRIES) +
		    (uint64_t)(o - ent) * pt_entry_span(level);
	return true;
}

const char *pinmm_explore_find_in_mm(struct pinmm_mm *mm, const void *obj)
{
	if (!mm)
		return NULL;
	if (obj == &mm->mmap_lock)
		return "mmap_lock";
	if (obj == &mm->write_protect_seq)
		return "write_protect_seq";
	return NULL;
}

const char *pinmm_explore_find_in_file(struct pinmm_file *f, const void *obj, uint64_t *index)
{
	if (!f)
		return NULL;
	if (obj == &f->lock)
		return "mapping lock";
	for (uint64_t i = 0; i < f->nr_pages; i++) {
		struct pinmm_page *p = __atomic_load_n(&f->cache[i], __ATOMIC_RELAXED);

		if (p && pinmm_explore_is_folio_of(p, obj)) {
			*index = i;
			return "folio of";
		}
	}
	return NULL;
}

bool pinmm_explore_is_folio_of(const struct pinmm_page *page, const void *obj)
{
	return page && (obj == page || obj == page_folio((struct pinmm_page *)page));
}

const char *pinmm_explore_find_in_engine(struct pinmm *eng, const void *obj, uint64_t *pfn)
{
	const struct pinmm_page *p = obj;
	const struct {
		const void *obj;
		const char *name;
	} own[] = {
		{ &eng->objects_lock, "mmlist_lock" },
		{ &eng->ksm.lock, "ksm_thread_mutex" },
		{ &eng->swap.lock, "swap_lock" },
		{ &eng->split_queue.lock, "split_queue_lock" },
		{ &eng->kthread_lock, "kthread lock" },
		{ &eng->pin_records.lock, "pin records lock" },
		{ &eng->mem.zones[PINMM_ZONE_NORMAL].lock, "zone normal lock" },
		{ &eng->mem.zones[PINMM_ZONE_MOVABLE].lock, "zone movable lock" },
		{ eng->zero_page, "zero page" },
		{ atomic_load(&eng->huge_zero), "huge zero page" },
	};

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (own[i].obj && obj == own[i].obj)
			return own[i].name;
	if (p >= eng->mem.pages && p < eng->mem.pages + eng->mem.nr_frames) {
		*pfn = pm_page_to_pfn(&eng->mem, p);
		return "folio pfn";
	}
	return NULL;
}

size_t pinmm_explore_mms(struct pinmm *eng, struct pinmm_mm **mms, size_t max)
{
	struct pm_list *pos;
	size_t n = 0;

	/* the list is newest first */
	for (pos = eng->mms.prev; pos != &eng->mms; pos = pos->prev, n++)
		if (n < max)
			mms[n] = container_of(pos, struct pinmm_mm, link);
	return n;
}
/* An entry in words: "none", "pfn 0x601 write,dirty", "swap 0x3", ... */
static void entry_words(pte_t e, char *buf, size_t len)
{
	static const struct {
		pte_t bit;
		const char *name;
	} flags[] = {
		{ PTE_WRITE, "write" }, { PTE_DIRTY, "dirty" }, { PTE_YOUNG, "young" },
		{ PTE_SPECIAL, "special" }, { PTE_PROTNONE, "protnone" }, { PTE_HUGE, "huge" },
	};
	size_t n;

	if (pte_none(e)) {
		snprintf(buf, len, "none");
		return;
	}
	if (pte_is_swp(e)) {
		snprintf(buf, len, "%s 0x%llx", pte_swp_type(e) == SWP_MIGRATION ? "migration pfn"
			 : "swap", (unsigned long long)pte_swp_offset(e));
		return;
	}
	n = (size_t)snprintf(buf, len, "pfn 0x%llx", (unsigned long long)pte_pfn(e));
	for (size_t i = 0, first = 1; i < sizeof(flags) / sizeof(flags[0]) && n < len; i++)
		if (e & flags[i].bit) {
			n += (size_t)snprintf(buf + n, len - n, "%s%s", first ? " " : ",",
					      flags[i].name);
			first = 0;
		}
}

void pm_trace_value(enum pm_point pt, uint64_t *val, char *buf, size_t len)
{
	switch (pt) {
	case PM_PT_PMD_READ:
	case PM_PT_PMD_WRITE:
		if (pte_is_table(*val)) {
			/* the table's address differs from run to run */
			*val &= PTE_FLAGS_MASK & 0x7f;
			snprintf(buf, len, "table");
			return;
		}
		entry_words(*val, buf, len);	/* a PMD leaf */
		return;
	case PM_PT_PTE_READ:
	case PM_PT_PTE_WRITE:
	case PM_PT_GUP_FAST_WALKED:
	case PM_PT_GUP_FAST_GRABBED:
		entry_words(*val, buf, len);
		return;
	case PM_PT_LOCK:
	case PM_PT_UNLOCK:
		snprintf(buf, len, "%s", *val == 2 ? "write" : *val == 1 ? "read" : "mutex");
		return;
	case PM_PT_FORK_CHECKED:
	case PM_PT_KSM_CHECKED:
	case PM_PT_COLLAPSE_CHECKED:
		buf[0] = 0;
		return;
	default:
		snprintf(buf, len, "%llu", (unsigned long long)*val);
	}
}
#else
typedef int pm_objects_unused_t;
#endif
