/* SPDX-License-Identifier: MIT */
/* THP, PMD split, folio split, khugepaged and MADV_COLLAPSE (G3 rows). */
#include "helpers.h"
#include "mm/mm.h"		/* the entries' dirty bit */

#define HP (2ul << 20)
#define HPN 512

static uint64_t map_thp(struct pinmm_mm *mm, unsigned nr_huge)
{
	uint64_t a;

	assert_int_equal(pinmm_mmap(mm, 0, nr_huge * HP, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE, &a), 0);
	assert_int_equal(a % HP, 0);
	return a;
}

static void thp_fault_maps_pmd(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp(mm, 2);

	store8(mm, a + 5 * PG + 3, 0x44);
	struct pinmm_mapping m = follow(mm, a + 5 * PG);
	assert_true(m.huge);
	assert_int_equal(m.order, 9);
	assert_true(m.writable);
	assert_int_equal(pfn_at(mm, a) + 5, m.pfn);
	assert_int_equal(load8(mm, a + 5 * PG + 3), 0x44);
	assert_int_equal(load8(mm, a + HP - 1), 0);
	/* NOHUGEPAGE: small pages */
	uint64_t b;
	assert_int_equal(pinmm_mmap(mm, 0, HP, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_NOHUGEPAGE | PINMM_MAP_ALIGN_2M, &b), 0);
	store8(mm, b, 1);
	assert_false(follow(mm, b).huge);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_subpage_then_split_pmd_and_folio(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp(mm, 1);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x10, HP);
	pin_ok(mm, &pin, a + 7 * PG, 2, PINMM_FOLL_WRITE, true, pages);
	assert_coherent(&pin, mm, a + 7 * PG);
	uint64_t pfn = pinmm_page_pfn(pages[0]);
	struct pinmm_folio_info fi = finfo(pages[0]);
	assert_int_equal(fi.order, 9);
	{
		assert_int_equal(pinmm_split_pmd(mm, a + 7 * PG), 0);
		assert_false(follow(mm, a + 7 * PG).huge);
		assert_int_equal(pfn_at(mm, a + 7 * PG), pfn);	/* same page */
		assert_coherent(&pin, mm, a + 7 * PG);
		assert_int_equal(pinmm_split_folio(mm, a + 7 * PG), -EBUSY);
		assert_int_equal(finfo(pages[0]).order, 9);
	}
	assert_invariants(eng);
	unpin_ok(&pin);
	{
		assert_int_equal(pinmm_split_folio(mm, a + 7 * PG), 0);
		assert_int_equal(follow(mm, a + 7 * PG).order, 0);
		assert_int_equal(pfn_at(mm, a + 7 * PG), pfn);
	}
	assert_bytes(mm, a, 0x10, HP);
	assert_int_equal(pinmm_split_pmd(mm, a), -EINVAL);	/* no PMD now */
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* The dirty bit of the entry mapping addr (a PTE, or the PMD leaf). */
static bool entry_dirty(struct pinmm_mm *mm, uint64_t addr)
{
	struct pt_table *pte = pte_table_lookup(mm, addr, NULL);

	if (pte)
		return atomic_load(&pte->ent[pt_index(addr, PT_LEVEL_PTE)]) & PTE_DIRTY;
	struct pt_table *pmd = pmd_leaf_lock(mm, addr);
	assert_non_null(pmd);
	pte_t l = pt_read(pmd, pt_index(addr, PT_LEVEL_PMD));
	pm_mutex_unlock(&pmd->ptl);
	return l & PTE_DIRTY;
}

/*
 * A GUP-fast pin that starts in the last pages of a PMD-mapped THP and runs
 * on into the next 2 MiB, mapped by small pages: every page returned is the
 * one mapped at its address (the leaf's walk stops at the THP's end).
 */
static void gup_fast_runs_past_thp_into_small_pages(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp(mm, 2);
	enum { N = 8, BEFORE = 3 };
	struct pinmm_page *pages[N];
	struct pinmm_pin pin;

	/* the second 2 MiB: small pages */
	assert_int_equal(pinmm_madvise(mm, a + HP, HP, PINMM_MADV_NOHUGEPAGE), 0);
	fill(mm, a, 0x31, HP);
	fill(mm, a + HP, 0x32, 16 * PG);
	assert_true(follow(mm, a).huge);
	assert_false(follow(mm, a + HP).huge);
	assert_int_equal(follow(mm, a + HP).order, 0);

	uint64_t start = a + HP - BEFORE * PG;
	size_t fallbacks = get_stats(eng).gup_fast_fallbacks;
	zero_pin(&pin);
	memset(pages, 0, sizeof(pages));
	pin_ok(mm, &pin, start, N, PINMM_FOLL_WRITE, true, pages);
	assert_int_equal(get_stats(eng).gup_fast_fallbacks, fallbacks);
	for (unsigned i = 0; i < N; i++) {
		struct pinmm_mapping m = follow(mm, start + i * PG);
		assert_true(m.present);
		assert_ptr_equal(pages[i], m.page);
		assert_int_equal(pinmm_page_pfn(pages[i]), m.pfn);
		assert_int_equal(finfo(pages[i]).order, i < BEFORE ? 9 : 0);
	}
	assert_coherent(&pin, mm, start);
	assert_int_equal(dev_read8(&pin, BEFORE - 1, 0), 0x31);
	assert_int_equal(dev_read8(&pin, BEFORE, 0), 0x32);
	assert_invariants(eng);
	unpin_ok(&pin);
	/* the same through the slow path */
	pin_ok(mm, &pin, start, N, PINMM_FOLL_WRITE, false, pages);
	for (unsigned i = 0; i < N; i++)
		assert_ptr_equal(pages[i], follow(mm, start + i * PG).page);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* The dirty state of a written THP survives the split of its PMD: every
 * PTE made from the leaf is dirty, and the folio's dirty flag is set once
 * the mappings go. */
static void split_pmd_keeps_dirty(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp(mm, 1);

	store8(mm, a + 9 * PG, 0x5D);
	assert_true(follow(mm, a).huge);
	assert_true(entry_dirty(mm, a));
	struct pinmm_page *head = follow(mm, a).page;
	assert_false(finfo(head).dirty);	/* the entry holds it so far */
	assert_int_equal(pinmm_split_pmd(mm, a), 0);
	assert_false(follow(mm, a).huge);
	for (unsigned i = 0; i < HPN; i += 73)
		assert_true(entry_dirty(mm, a + i * PG));
	assert_true(entry_dirty(mm, a + (HPN - 1) * PG));
	assert_true(follow(mm, a + (HPN - 1) * PG).writable);
	/* the folio learns it when its mappings are zapped */
	struct pinmm_pin pin;
	struct pinmm_page *pages[1];
	zero_pin(&pin);
	pin_ok(mm, &pin, a, 1, 0, false, pages);
	assert_int_equal(pinmm_munmap(mm, a, HP), 0);
	assert_true(finfo(pages[0]).dirty);
	assert_int_equal(dev_read8(&pin, 0, 0), 0);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void longterm_pin_of_thp_leaves_movable(void **s)
{
	(void)s;
	struct pinmm *eng = make_movablecore_engine(PINMM_POLICY_STRICT);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp(mm, 1);
	struct pinmm_page *pages[3];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x15, HP);
	assert_int_equal(finfo_at(mm, a).zone, PINMM_ZONE_MOVABLE);
	pin_ok(mm, &pin, a + 7 * PG, 3, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, true, pages);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(finfo(pages[i]).zone, PINMM_ZONE_NORMAL);
	assert_coherent(&pin, mm, a + 7 * PG);
	assert_bytes(mm, a, 0x15, HP);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void thp_pin_keeps_whole_folio(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x21, HP);
	pin_ok(mm, &pin, a + 100 * PG, 1, PINMM_FOLL_WRITE, true, pages);
	assert_int_equal(finfo(pages[0]).order, 9);
	assert_true(finfo_at(mm, a).maybe_dma_pinned);	/* the head counts it */
	assert_int_equal(pinmm_split_folio(mm, a), -EBUSY);
	/* munmap of the rest: the folio lives on for the pin */
	assert_int_equal(pinmm_munmap(mm, a, HP), 0);
	assert_int_equal(dev_read8(&pin, 0, 0), 0x21);
	unpin_ok(&pin);
	assert_int_equal(frames_used(eng), 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void fork_thp_case(struct pinmm_policy p, bool pinned, bool detected)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x31, HP);
	if (pinned)
		pin_ok(mm, &pin, a + 3 * PG, 1, PINMM_FOLL_WRITE, true, pages);
	struct pinmm_mm *child = fork_mm(mm);
	if (!pinned) {
		/* shared copy-on-write as a whole */
		assert_true(follow(child, a).huge);
		assert_int_equal(pfn_at(child, a), pfn_at(mm, a));
	}
	store8(mm, a + 3 * PG, 0x32);	/* the parent writes */
	store8(child, a + 9 * PG, 0x33);	/* the child writes */
	assert_int_equal(load8(child, a + 3 * PG), 0x31);
	assert_int_equal(load8(mm, a + 9 * PG), 0x31);
	assert_int_equal(load8(mm, a + 3 * PG), 0x32);
	if (pinned) {
		if (detected)
			assert_false(is_coherent(&pin, mm, a + 3 * PG));
		else
			assert_coherent(&pin, mm, a + 3 * PG);
		unpin_ok(&pin);
	}
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void fork_thp_shared(void **s) { (void)s; fork_thp_case(policy_strict(), false, false); }
static void fork_thp_pinned(void **s) { (void)s; fork_thp_case(policy_strict(), true, false); }
static void fork_thp_pinned_off_detected(void **s)
{
	(void)s;
	fork_thp_case(policy_strict_without(PINMM_SW_FORK_COPY_PINNED), true, true);
}

static void thp_partial_unmap_mprotect_mremap(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp(mm, 2), n;

	fill(mm, a, 0x41, 2 * HP);
	assert_int_equal(pinmm_munmap(mm, a + 10 * PG, PG), 0);	/* PTE-maps it */
	assert_false(follow(mm, a).huge);
	assert_int_equal(load_err(mm, a + 10 * PG), -EFAULT);
	assert_int_equal(load8(mm, a + 11 * PG), 0x41);
	assert_true(follow(mm, a + HP).huge);
	assert_int_equal(pinmm_mprotect(mm, a + HP, HP, PROT_R), 0);
	assert_true(follow(mm, a + HP).huge);
	assert_int_equal(store_err(mm, a + HP, 1), -EACCES);
	assert_int_equal(pinmm_mprotect(mm, a + HP, HP, PROT_RW), 0);
	store8(mm, a + HP, 0x42);
	assert_int_equal(pinmm_mremap(mm, a + HP, HP, HP, PINMM_MREMAP_MAYMOVE |
				      PINMM_MREMAP_FIXED, a + 8 * HP, &n), 0);
	assert_int_equal(load8(mm, n), 0x42);
	assert_int_equal(load8(mm, n + 5), 0x41);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* small pages, then HUGEPAGE: collapsible */
static uint64_t map_small_then_hugepage(struct pinmm_mm *mm, uint8_t byte)
{
	uint64_t a;

	assert_int_equal(pinmm_mmap(mm, 0, HP, PROT_RW, PINMM_MAP_PRIVATE |
				    PINMM_MAP_NOHUGEPAGE | PINMM_MAP_ALIGN_2M, &a), 0);
	for (unsigned i = 0; i < HPN; i++)
		store8(mm, a + i * PG, (uint8_t)(byte + i));
	assert_false(follow(mm, a).huge);
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_HUGEPAGE), 0);
	return a;
}

static void khugepaged_collapses(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_small_then_hugepage(mm, 7);

	assert_int_equal(pinmm_khugepaged_scan(eng, 1), 1);
	assert_true(follow(mm, a).huge);
	for (unsigned i = 0; i < HPN; i += 37)
		assert_int_equal(load8(mm, a + i * PG), (uint8_t)(7 + i));
	assert_int_equal(pinmm_khugepaged_scan(eng, 1), 0);	/* nothing left */
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void collapse_refuses_pinned(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_small_then_hugepage(mm, 9);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	pin_ok(mm, &pin, a + 77 * PG, 1, PINMM_FOLL_WRITE, true, pages);
	uint64_t pfn = pfn_at(mm, a + 77 * PG);
	assert_int_equal(pinmm_khugepaged_scan(eng, 2), 0);	/* skipped silently */
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_COLLAPSE), -EAGAIN);
	assert_false(follow(mm, a).huge);
	assert_int_equal(pfn_at(mm, a + 77 * PG), pfn);
	assert_coherent(&pin, mm, a + 77 * PG);
	unpin_ok(&pin);
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_COLLAPSE), 0);
	assert_true(follow(mm, a).huge);
	assert_int_equal(load8(mm, a + 77 * PG), (uint8_t)(9 + 77));
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* PTE-map a PMD-mapped THP the way cow.c does: mprotect one page away and
 * back (the VMA splits, and merges again). */
static void pte_map_thp(struct pinmm_mm *mm, uint64_t a)
{
	assert_int_equal(pinmm_mprotect(mm, a + PG, PG, PROT_R), 0);
	assert_int_equal(pinmm_mprotect(mm, a + PG, PG, PROT_RW), 0);
	assert_false(follow(mm, a).huge);
	assert_int_equal(finfo_at(mm, a).order, PINMM_HPAGE_ORDER);
}

/* cow.c "Basic COW after fork() when collapsing before fork()": a
 * PTE-mapped THP collapses again into a new THP with the same bytes. */
static void collapse_pte_mapped_thp(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp(mm, 1);

	for (unsigned i = 0; i < HPN; i++)
		store8(mm, a + i * PG, (uint8_t)(3 + i));
	pte_map_thp(mm, a);
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_COLLAPSE), 0);
	assert_true(follow(mm, a).huge);
	for (unsigned i = 0; i < HPN; i += 11)
		assert_int_equal(load8(mm, a + i * PG), (uint8_t)(3 + i));
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* cow.c "... when collapsing after fork() (fully shared / lower shared)":
 * the parent's collapse copies the pages it shares with the child; COW
 * then holds both ways. With DONTFORK on the upper half only the lower
 * half is shared. */
static void collapse_after_fork(bool lower_only)
{
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng), *child;
	uint64_t a = map_thp(mm, 1);

	fill(mm, a, 0x11, HP);
	pte_map_thp(mm, a);
	if (lower_only)
		assert_int_equal(pinmm_madvise(mm, a + HP / 2, HP / 2, PINMM_MADV_DONTFORK), 0);
	child = fork_mm(mm);
	if (lower_only)
		assert_int_equal(pinmm_madvise(mm, a + HP / 2, HP / 2, PINMM_MADV_DOFORK), 0);
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_COLLAPSE), 0);
	assert_true(follow(mm, a).huge);
	assert_false(follow(child, a).huge);
	assert_invariants(eng);
	fill(mm, a, 0x22, HP);
	assert_bytes(child, a, 0x11, lower_only ? HP / 2 : HP);
	fill(child, a, 0x33, PG);
	assert_bytes(mm, a, 0x22, HP);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void collapse_after_fork_fully_shared(void **s)
{
	(void)s;
	collapse_after_fork(false);
}

static void collapse_after_fork_lower_shared(void **s)
{
	(void)s;
	collapse_after_fork(true);
}

/* A page COW-shared with a child, which holds a GUP reference to it (a
 * FOLL_GET does not unshare): its count is more than its two mappings, so
 * the parent's collapse refuses (EAGAIN), as is_refcount_suitable() in
 * Linux; once the reference goes the collapse copies it. */
static void collapse_refuses_shared_page_referenced_by_child(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng), *child;
	uint64_t a = map_small_then_hugepage(mm, 5);
	struct pinmm_page *pages[1];
	struct pinmm_pin ref;

	zero_pin(&ref);
	child = fork_mm(mm);
	assert_int_equal(pinmm_get(child, &ref, a + 3 * PG, 1, 0, false, pages), 0);
	assert_int_equal(pfn_at(mm, a + 3 * PG), pinmm_page_pfn(pages[0]));	/* shared */
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_COLLAPSE), -EAGAIN);
	assert_false(follow(mm, a).huge);
	assert_int_equal(pinmm_put(&ref), 0);
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_COLLAPSE), 0);
	assert_true(follow(mm, a).huge);
	assert_int_equal(load8(child, a + 3 * PG), 8);
	assert_int_equal(load8(mm, a + 3 * PG), 8);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* khugepaged's max_ptes_shared and max_ptes_none (defaults 256 and 511);
 * MADV_COLLAPSE ignores both. */
static void khugepaged_limits(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng), *child;
	uint64_t a = map_small_then_hugepage(mm, 5);
	struct pinmm_khugepaged_tunables t;

	assert_int_equal(pinmm_khugepaged_get_tunables(eng, &t), 0);
	assert_int_equal(t.max_ptes_none, 511);
	assert_int_equal(t.max_ptes_shared, 256);
	assert_int_equal(t.max_ptes_swap, 64);
	t.max_ptes_none = 512;
	assert_int_equal(pinmm_khugepaged_set_tunables(eng, &t), -EINVAL);
	assert_int_equal(pinmm_khugepaged_set_tunables(NULL, &t), -EINVAL);
	/* all 512 pages shared with a child: more than 256 */
	child = fork_mm(mm);
	assert_int_equal(pinmm_khugepaged_scan(eng, 1), 0);
	assert_false(follow(mm, a).huge);
	pinmm_mm_exit(child);
	/* one page left, 511 empty: within 511, not within 510 */
	assert_int_equal(pinmm_madvise(mm, a + PG, HP - PG, PINMM_MADV_DONTNEED), 0);
	t = (struct pinmm_khugepaged_tunables){ .max_ptes_none = 510, .max_ptes_shared = 256,
						.max_ptes_swap = 64 };
	assert_int_equal(pinmm_khugepaged_set_tunables(eng, &t), 0);
	assert_int_equal(pinmm_khugepaged_scan(eng, 1), 0);
	t.max_ptes_none = 511;
	assert_int_equal(pinmm_khugepaged_set_tunables(eng, &t), 0);
	assert_int_equal(pinmm_khugepaged_scan(eng, 1), 1);
	assert_true(follow(mm, a).huge);
	assert_int_equal(load8(mm, a), 5);
	assert_int_equal(load8(mm, a + PG), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/*
 * The huge zero page (use_zero_page, on by default as in Linux): a read
 * fault of an untouched THP range maps it read-only with a PMD; a write
 * replaces it by a new zeroed THP of the process's own; fork shares it; a
 * partial unmap splits it into small zero pages; with the knob off a read
 * allocates the THP at once.
 */
static void huge_zero_page(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng), *child;
	uint64_t a = map_thp(mm, 2), b = a + HP;

	assert_int_equal(load8(mm, a + 5 * PG), 0);
	struct pinmm_mapping m = follow(mm, a + 5 * PG);
	assert_true(m.huge && m.zero_page && !m.writable);
	assert_int_equal(finfo_at(mm, a).order, PINMM_HPAGE_ORDER);
	uint64_t zpfn = m.pfn;
	size_t used = frames_used(eng);
	child = fork_mm(mm);
	assert_true(follow(child, a).zero_page && follow(child, a).huge);
	assert_int_equal(pfn_at(child, a + 5 * PG), zpfn);
	/* a write: a THP of its own, zeroed, writable; the child keeps zeroes */
	store8(mm, a + 7 * PG + 3, 0x5a);
	m = follow(mm, a);
	assert_true(m.huge && !m.zero_page && m.writable && m.anon_exclusive);
	assert_bytes(mm, a, 0, 7 * PG + 3);
	assert_int_equal(load8(mm, a + 7 * PG + 3), 0x5a);
	assert_int_equal(load8(child, a + 7 * PG + 3), 0);
	assert_int_equal(frames_used(eng), used + HPN);
	/* a partial unmap of the other range splits it into small zero pages */
	assert_int_equal(load8(mm, b), 0);
	assert_true(follow(mm, b).huge);
	assert_int_equal(pinmm_munmap(mm, b + HP - PG, PG), 0);
	m = follow(mm, b + PG);
	assert_true(m.zero_page && !m.huge);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	/* knob off: a read fault makes a real THP */
	assert_int_equal(pinmm_thp_set_use_zero_page(eng, false), 0);
	uint64_t c = map_thp(mm, 1);
	assert_int_equal(load8(mm, c), 0);
	m = follow(mm, c);
	assert_true(m.huge && !m.zero_page);
	assert_int_equal(pinmm_thp_set_use_zero_page(NULL, true), -EINVAL);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* cow.c "R/O longterm GUP pin ... with huge zeropage": the pin unshares
 * (a new THP, read-only, exclusive), so the process's later write lands
 * in what the device sees. Without anon_exclusive (before 5.19) the pin
 * took the huge zero page itself and the write went to a new THP. */
static void huge_zero_ro_longterm_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_thp(mm, 1);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(load8(mm, a), 0);
	assert_true(follow(mm, a).zero_page);
	pin_ok(mm, &pin, a + 9 * PG, 2, PINMM_FOLL_LONGTERM, false, pages);
	store8(mm, a + 9 * PG + 1, 0x77);
	bool seen = dev_read8(&pin, 0, 1) == 0x77;
	assert_int_equal(seen, !detected);
	if (!detected) {
		assert_false(finfo(pages[0]).zero);
		assert_int_equal(pfn_at(mm, a + 9 * PG), pinmm_page_pfn(pages[0]));
	}
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void huge_zero_ro_longterm_pin_unshares(void **s)
{
	(void)s;
	huge_zero_ro_longterm_case(policy_strict(), false);
}

static void huge_zero_ro_longterm_pin_no_anon_exclusive(void **s)
{
	(void)s;
	huge_zero_ro_longterm_case(policy_strict_without(PINMM_SW_ANON_EXCLUSIVE), true);
}

/* split_folio() of a THP a fork's child maps by its own PMD: the rmap
 * splits the child's PMD too (Linux's unmap_folio() with
 * TTU_SPLIT_HUGE_PMD), then the folio; both keep the same bytes, COW still
 * separates them. It was refused (-EBUSY) while the child's PMD existed. */
static void split_folio_shared_with_child(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng), *child;
	uint64_t a = map_thp(mm, 1);

	fill(mm, a, 0x3a, HP);
	child = fork_mm(mm);
	assert_true(follow(child, a).huge);
	assert_int_equal(pinmm_split_folio(mm, a), 0);
	assert_false(follow(mm, a).huge);
	assert_false(follow(child, a).huge);
	assert_int_equal(finfo_at(mm, a + 9 * PG).order, 0);
	assert_int_equal(pfn_at(mm, a + 9 * PG), pfn_at(child, a + 9 * PG));
	assert_invariants(eng);
	store8(child, a + 9 * PG, 0x01);
	assert_int_equal(load8(mm, a + 9 * PG), 0x3a);
	assert_bytes(child, a + 10 * PG, 0x3a, PG);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(thp_fault_maps_pmd),
		cmocka_unit_test(gup_fast_runs_past_thp_into_small_pages),
		cmocka_unit_test(split_pmd_keeps_dirty),
		cmocka_unit_test(huge_zero_page),
		cmocka_unit_test(split_folio_shared_with_child),
		cmocka_unit_test(huge_zero_ro_longterm_pin_unshares),
		cmocka_unit_test(huge_zero_ro_longterm_pin_no_anon_exclusive),
		cmocka_unit_test(collapse_pte_mapped_thp),
		cmocka_unit_test(collapse_after_fork_fully_shared),
		cmocka_unit_test(collapse_after_fork_lower_shared),
		cmocka_unit_test(collapse_refuses_shared_page_referenced_by_child),
		cmocka_unit_test(khugepaged_limits),
		cmocka_unit_test(pin_subpage_then_split_pmd_and_folio),
		cmocka_unit_test(longterm_pin_of_thp_leaves_movable),
		cmocka_unit_test(thp_pin_keeps_whole_folio),
		cmocka_unit_test(fork_thp_shared),
		cmocka_unit_test(fork_thp_pinned),
		cmocka_unit_test(fork_thp_pinned_off_detected),
		cmocka_unit_test(thp_partial_unmap_mprotect_mremap),
		cmocka_unit_test(khugepaged_collapses),
		cmocka_unit_test(collapse_refuses_pinned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
