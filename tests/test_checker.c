/* SPDX-License-Identifier: MIT */
/*
 * tests/test_checker.c - the G5 checker itself (src/check/invariants.c).
 *
 * A clean state reports nothing. Then, for each clause of
 * pinmm_check_invariants(), a small engine state is built, exactly one thing
 * in it is corrupted through the engine's internal structures, the checker
 * must report a violation whose message names that clause, and the
 * corruption is put back before the engine is torn down (which the clean
 * report then confirms).
 */
#include "helpers.h"
#include "mm/mm.h"

#define HP (PINMM_PMD_SIZE / PG)

/* the checker reports a violation, and its first message holds `what` */
static void expect_violation(struct pinmm *eng, const char *what)
{
	struct pinmm_violation_report rep;

	memset(&rep, 0xAB, sizeof(rep));
	int r = pinmm_check_invariants(eng, &rep);
	if (r != -EUCLEAN || !strstr(rep.first, what))
		print_error("want a violation naming '%s'; got %d, %u violation(s): %s\n",
			    what, r, r == -EUCLEAN ? rep.nr : 0,
			    r == -EUCLEAN ? rep.first : "");
	assert_int_equal(r, -EUCLEAN);
	assert_true(rep.nr >= 1);
	assert_non_null(strstr(rep.first, what));
}

static void expect_clean(struct pinmm *eng)
{
	struct pinmm_violation_report rep;

	memset(&rep, 0xAB, sizeof(rep));
	assert_int_equal(pinmm_check_invariants(eng, &rep), 0);
	assert_int_equal(rep.nr, 0);
}

static struct pinmm_page *page_at(struct pinmm_mm *mm, uint64_t a)
{
	struct pinmm_mapping m = follow(mm, a);
	assert_true(m.present);
	assert_non_null(m.page);
	return m.page;
}

/* the entry (PTE, or PMD leaf) mapping a, and its table */
static _Atomic pte_t *entry_at(struct pinmm_mm *mm, uint64_t a)
{
	struct pt_table *pte = pte_table_lookup(mm, a, NULL);

	if (pte)
		return &pte->ent[pt_index(a, PT_LEVEL_PTE)];
	struct pt_table *pmd = pmd_leaf_lock(mm, a);
	assert_non_null(pmd);
	pm_mutex_unlock(&pmd->ptl);
	return &pmd->ent[pt_index(a, PT_LEVEL_PMD)];
}

static uint64_t map_thp(struct pinmm_mm *mm)
{
	uint64_t a;

	assert_int_equal(pinmm_mmap(mm, 0, HP * PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE, &a), 0);
	return a;
}

/* A rich but consistent state: small pages, a THP, the huge zero page, a
 * fork, a swapped-out page, a file mapping, a pin and a get. */
static void clean_state_reports_nothing(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_pin pin, get;
	struct pinmm_page *pp[1], *gp[1];
	struct pinmm_file *file = NULL;
	uint64_t a = map_rw_populated(mm, 4), t = map_thp(mm), z = map_thp(mm), f;

	expect_clean(eng);
	fill(mm, a, 0x11, 4 * PG);
	store8(mm, t, 1);
	assert_int_equal(load8(mm, z), 0);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(pinmm_madvise(mm, a + 3 * PG, PG, PINMM_MADV_PAGEOUT), 0);
	assert_int_equal(pinmm_file_create(eng, 2 * PG, 0x42, &file), 0);
	assert_int_equal(pinmm_mmap_file(mm, 0, 2 * PG, PROT_RW, PINMM_MAP_SHARED, file, 0,
					 &f), 0);
	store8(mm, f, 0x43);
	zero_pin(&pin);
	zero_pin(&get);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, false, pp);
	assert_int_equal(pinmm_get(mm, &get, a + PG, 1, 0, false, gp), 0);
	expect_clean(eng);
	unpin_ok(&pin);
	assert_int_equal(pinmm_put(&get), 0);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	pinmm_file_put(file);
	expect_clean(eng);
	finish_engine(eng);
}

/* mapcount of a page vs the PTEs mapping it */
static void checker_mapcount(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *p = page_at(mm, a + PG);

	atomic_fetch_add(&p->mapcount, 1);
	expect_violation(eng, "mappings");
	atomic_fetch_sub(&p->mapcount, 2);
	expect_violation(eng, "mapcount 0 but 1 mappings");
	atomic_fetch_add(&p->mapcount, 1);
	expect_clean(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* entire_mapcount of a THP vs the PMDs mapping it */
static void checker_entire_mapcount(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t t = map_thp(mm);

	store8(mm, t, 1);
	assert_true(follow(mm, t).huge);
	struct pinmm_page *head = page_at(mm, t);
	atomic_fetch_add(&head->entire_mapcount, 1);
	expect_violation(eng, "entire_mapcount 2 but 1 PMD maps");
	atomic_fetch_sub(&head->entire_mapcount, 1);
	expect_clean(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* refcount below what the mappings, caches and pins explain */
static void checker_refcount_below_explained(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_mm *child = fork_mm(mm);	/* two maps, refcount 2 */
	struct pinmm_page *p = page_at(mm, a);

	assert_int_equal(finfo(p).refcount, 2);
	atomic_fetch_sub(&p->refcount, 1);
	expect_violation(eng, "refcount 1 < 2");
	atomic_fetch_add(&p->refcount, 1);
	expect_clean(eng);
	/* one too many: an unexplained reference no get accounts for */
	atomic_fetch_add(&p->refcount, 1);
	expect_violation(eng, "unexplained references");
	atomic_fetch_sub(&p->refcount, 1);
	expect_clean(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* an allocated folio with refcount <= 0, mapped (a PTE mapping a free
 * frame) or not (held by a get only) */
static void checker_refcount_zero(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *p = page_at(mm, a);
	struct pinmm_pin get;
	struct pinmm_page *gp[1];

	atomic_store(&p->refcount, 0);
	expect_violation(eng, "maps free pfn");
	atomic_store(&p->refcount, 1);
	expect_clean(eng);

	zero_pin(&get);
	assert_int_equal(pinmm_get(mm, &get, a + PG, 1, 0, false, gp), 0);
	assert_int_equal(pinmm_munmap(mm, a + PG, PG), 0);
	expect_clean(eng);
	atomic_store(&gp[0]->refcount, 0);
	expect_violation(eng, "allocated with refcount 0");
	atomic_store(&gp[0]->refcount, 1);
	expect_clean(eng);
	assert_int_equal(pinmm_put(&get), 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* pincount < 0, and the pincounts against the pins held */
static void checker_pincount(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *p = page_at(mm, a);

	atomic_store(&p->pincount, -1);
	expect_violation(eng, "pincount -1 < 0");
	atomic_store(&p->pincount, 0);
	expect_clean(eng);
	atomic_fetch_add(&eng->nr_pins, 1);
	expect_violation(eng, "pincounts sum to 0, 1 pins held");
	atomic_fetch_sub(&eng->nr_pins, 1);
	atomic_fetch_add(&eng->nr_gets, 1);
	expect_violation(eng, "0 unexplained references, 1 gets held");
	atomic_fetch_sub(&eng->nr_gets, 1);
	expect_clean(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* a writable private anon entry (PTE, or a THP's PMD) of a page not marked
 * exclusive */
static void checker_writable_not_exclusive(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1), t = map_thp(mm);
	struct pinmm_page *p = page_at(mm, a);

	assert_true(follow(mm, a).writable);
	page_clear(p, PG_anon_exclusive);
	expect_violation(eng, "writable but not anon-exclusive");
	page_set(p, PG_anon_exclusive);
	expect_clean(eng);

	store8(mm, t, 1);
	assert_true(follow(mm, t).huge);
	assert_true(follow(mm, t).writable);
	struct pinmm_page *head = page_at(mm, t);
	page_clear(head, PG_anon_exclusive);
	expect_violation(eng, "writable THP not exclusive");
	page_set(head, PG_anon_exclusive);
	expect_clean(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* the rmap would not find a mapping: the page's index, or its anon_vma */
static void checker_rmap(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *p = page_at(mm, a + PG);

	p->index += 1;
	expect_violation(eng, "the rmap would not find this mapping");
	p->index -= 1;
	expect_clean(eng);
	void *mapping = p->mapping;
	p->mapping = NULL;
	expect_violation(eng, "the rmap would not find this mapping");
	p->mapping = mapping;
	expect_clean(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* special entries: a small one not the zero page, a PMD one writable */
static void checker_special_entries(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1), z = map_thp(mm);

	_Atomic pte_t *e = entry_at(mm, a);
	atomic_fetch_or(e, PTE_SPECIAL);
	expect_violation(eng, "special entry not the zero page");
	atomic_fetch_and(e, ~(pte_t)PTE_SPECIAL);
	expect_clean(eng);

	assert_int_equal(load8(mm, z), 0);	/* the huge zero page */
	assert_true(follow(mm, z).huge);
	assert_true(follow(mm, z).zero_page);
	e = entry_at(mm, z);
	atomic_fetch_or(e, PTE_WRITE);
	expect_violation(eng, "special PMD not the huge zero page, or writable");
	atomic_fetch_and(e, ~(pte_t)PTE_WRITE);
	expect_clean(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* a swap slot's count vs the swap entries referring to it */
static void checker_swap_count(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_swapped_out(mm, 1, 0x5C);
	size_t slot = SIZE_MAX;
	for (size_t i = 0; i < eng->swap.nr; i++)
		if (eng->swap.data[i])
			slot = i;
	assert_true(slot != SIZE_MAX);
	assert_int_equal(eng->swap.count[slot], 1);
	expect_clean(eng);
	eng->swap.count[slot]++;
	expect_violation(eng, "count 2 but 1 entries");
	eng->swap.count[slot]--;
	expect_clean(eng);
	assert_bytes(mm, a, 0x5C, PG);	/* swapped back in */
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* the swap cache: its reference is counted, and a cached folio and its
 * slot must name each other; a slot held by nothing is a leak */
static void checker_swap_cache(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_swapped_out(mm, 1, 0x5D);
	struct pinmm_mm *child = fork_mm(mm);
	assert_bytes(mm, a, 0x5D, PG);	/* cached: the child's entry refers to it */
	struct pinmm_page *folio = follow(mm, a).page;
	uint64_t slot = folio->private;
	assert_true(page_test(folio, PG_swapcache));
	assert_ptr_equal(eng->swap.cache[slot], folio);
	expect_clean(eng);

	/* the cache's reference explains one reference of the folio */
	page_clear(folio, PG_swapcache);
	expect_violation(eng, "caches pfn");
	page_set(folio, PG_swapcache);
	atomic_fetch_sub(&folio->refcount, 1);
	expect_violation(eng, "refcount 1 < 2");
	atomic_fetch_add(&folio->refcount, 1);
	expect_clean(eng);

	/* a folio claiming a slot that does not cache it */
	eng->swap.cache[slot] = NULL;
	expect_violation(eng, "which does not cache it");
	eng->swap.cache[slot] = folio;

	expect_clean(eng);

	/* a slot held by no entry and no cached folio: leaked */
	long leak = swap_alloc(eng);
	assert_true(leak >= 0);
	expect_violation(eng, "in use with no entry and no cached folio");
	swap_dup(eng, (uint64_t)leak);
	swap_free(eng, (uint64_t)leak);		/* the last count frees it */
	expect_clean(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* the buddy free lists vs the zones' free counts */
static void checker_free_lists(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	(void)map_rw_populated(mm, 3);

	eng->mem.zones[PINMM_ZONE_NORMAL].nr_free += 1;
	expect_violation(eng, "buddy lists hold");
	eng->mem.zones[PINMM_ZONE_NORMAL].nr_free -= 1;
	expect_clean(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_state_reports_nothing),
		cmocka_unit_test(checker_mapcount),
		cmocka_unit_test(checker_entire_mapcount),
		cmocka_unit_test(checker_refcount_below_explained),
		cmocka_unit_test(checker_refcount_zero),
		cmocka_unit_test(checker_pincount),
		cmocka_unit_test(checker_writable_not_exclusive),
		cmocka_unit_test(checker_rmap),
		cmocka_unit_test(checker_special_entries),
		cmocka_unit_test(checker_swap_count),
		cmocka_unit_test(checker_swap_cache),
		cmocka_unit_test(checker_free_lists),
	};
	return cmocka_run_group_tests_name("checker", tests, NULL, NULL);
}
