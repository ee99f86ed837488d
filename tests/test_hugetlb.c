/* SPDX-License-Identifier: MIT */
/*
 * hugetlb: the pool, reservations, faults, COW after fork (copy-on-write of
 * whole 2 MiB pages, early copy of a pinned one), the guarantee where Linux
 * gives it (pins) and the hole where it does not (a FOLL_GET reference and
 * COW reuse by mapcount), and every operation hugetlb memory refuses.
 */
#include "helpers.h"

#define HP PINMM_PMD_SIZE

static struct pinmm *make_pool_engine(struct pinmm_policy p, unsigned long pages)
{
	struct pinmm *eng = make_engine(p);

	assert_int_equal(pinmm_hugetlb_set_pool(eng, pages), 0);
	return eng;
}

static uint64_t map_hugetlb(struct pinmm_mm *mm, uint64_t len)
{
	uint64_t a;

	assert_int_equal(pinmm_mmap(mm, 0, len, PROT_RW, PINMM_MAP_PRIVATE | PINMM_MAP_HUGETLB, &a),
			 0);
	assert_int_equal(a % HP, 0);
	return a;
}

static struct pinmm_hugetlb_info pool(struct pinmm *eng)
{
	struct pinmm_hugetlb_info i;

	assert_int_equal(pinmm_hugetlb_info(eng, &i), 0);
	return i;
}

static void pool_and_reservations(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 4);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t b;

	assert_int_equal(pool(eng).total, 4);
	assert_int_equal(pool(eng).free, 4);
	assert_int_equal(frames_used(eng), 0);	/* free pool pages are not "used" */
	/* 3 MiB rounds up to two huge pages, both reserved at once */
	uint64_t a = map_hugetlb(mm, 3 * 1024 * 1024);
	assert_int_equal(pool(eng).resv, 2);
	/* three more cannot be reserved: ENOMEM, nothing mapped */
	assert_int_equal(pinmm_mmap(mm, 0, 3 * HP, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_HUGETLB, &b), -ENOMEM);
	store8(mm, a + HP + 5, 0x11);	/* takes one reserved page */
	assert_int_equal(pool(eng).resv, 1);
	assert_int_equal(pool(eng).free, 3);
	struct pinmm_mapping m = follow(mm, a + HP + 5);
	assert_true(m.huge);
	assert_int_equal(m.order, 9);
	assert_true(m.anon_exclusive);
	assert_true(m.writable);
	assert_int_equal(load8(mm, a + HP + 6), 0);
	/* a read fault takes a page too (no zero page), mapped read-only */
	assert_int_equal(load8(mm, a), 0);
	assert_true(follow(mm, a).present);
	assert_false(follow(mm, a).writable);
	assert_int_equal(pool(eng).resv, 0);
	assert_invariants(eng);
	/* the pool cannot shrink below what is in use */
	assert_int_equal(pinmm_hugetlb_set_pool(eng, 0), -EBUSY);
	assert_int_equal(pool(eng).total, 2);
	assert_int_equal(pinmm_munmap(mm, a, 2 * HP), 0);
	assert_int_equal(pool(eng).free, 2);
	assert_int_equal(pinmm_hugetlb_set_pool(eng, 0), 0);
	assert_int_equal(pool(eng).total, 0);
	assert_int_equal(pinmm_hugetlb_set_pool(NULL, 1), -EINVAL);
	assert_int_equal(pinmm_hugetlb_set_pool(eng, 1ul << 40), -EINVAL);
	pinmm_mm_exit(mm);
	assert_int_equal(frames_used(eng), 0);
	finish_engine(eng);
}

/* munmap of an unfaulted reserved range gives its reservation back */
static void unmap_releases_reservation(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 3);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugetlb(mm, 3 * HP);

	store8(mm, a, 1);
	assert_int_equal(pool(eng).resv, 2);
	assert_int_equal(pinmm_munmap(mm, a + HP, HP), 0);	/* split on 2 MiB */
	assert_int_equal(pool(eng).resv, 1);
	assert_int_equal(pinmm_munmap(mm, a + 2 * HP, HP), 0);
	assert_int_equal(pool(eng).resv, 0);
	assert_int_equal(pool(eng).free, 2);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	assert_int_equal(pool(eng).free, 3);
	finish_engine(eng);
}

/* fork shares the page; the child's write copies all 2 MiB from pages
 * nobody reserved; with none left the child's fault is SIGBUS (-EFAULT). */
static void cow_after_fork(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 2);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugetlb(mm, HP);

	fill(mm, a, 0x21, HP);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(pfn_at(child, a), pfn_at(mm, a));
	assert_int_equal(finfo_at(mm, a).mapcount, 2);
	store8(child, a + 7, 0x22);
	assert_int_not_equal(pfn_at(child, a), pfn_at(mm, a));
	assert_int_equal(load8(mm, a + 7), 0x21);
	assert_int_equal(load8(child, a + 8), 0x21);
	assert_int_equal(pool(eng).free, 0);
	/* a second child, and no page left for its copy: SIGBUS */
	struct pinmm_mm *second = fork_mm(mm);
	uint8_t v = 0x25;
	assert_int_equal(pinmm_store(second, a, &v, 1), -EFAULT);
	assert_int_equal(load8(second, a), 0x21);
	pinmm_mm_exit(second);
	/* the parent's page is mapped once again: reused, no copy needed */
	uint64_t pfn = pfn_at(mm, a);
	store8(mm, a + 9, 0x23);
	assert_int_equal(pfn_at(mm, a), pfn);
	assert_int_equal(load8(child, a + 9), 0x21);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* A R/W longterm pin, then fork: the child gets its own copy at once;
 * without fork_copy_pinned the page is shared and the parent's next write
 * COWs away from the pinned one once the child has written. */
static void fork_pinned_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_pool_engine(p, 3);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugetlb(mm, HP);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x31, HP);
	pin_ok(mm, &pin, a + 3 * PG, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(pfn_at(child, a) != pfn_at(mm, a), !detected);
	/* a second mapping keeps the parent from reusing by mapcount */
	struct pinmm_mm *other = fork_mm(mm);
	store8(child, a + 3 * PG, 0x32);
	store8(mm, a + 3 * PG + 1, 0x33);
	assert_int_equal(is_coherent(&pin, mm, a + 3 * PG), !detected);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(other);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void fork_copies_pinned_huge_page(void **s)
{
	(void)s;
	fork_pinned_case(policy_strict(), false);
}

static void fork_pinned_off_detected(void **s)
{
	(void)s;
	fork_pinned_case(policy_strict_without(PINMM_SW_FORK_COPY_PINNED), true);
}

/* A R/O pin of a page shared with a child unshares it first: coherent. */
static void ro_pin_of_shared_unshares(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 2);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugetlb(mm, HP);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x41, HP);
	struct pinmm_mm *child = fork_mm(mm);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_LONGTERM, true, pages);
	assert_true(follow(mm, a).anon_exclusive);
	store8(mm, a, 0x42);
	assert_coherent(&pin, mm, a);
	assert_int_equal(load8(child, a), 0x41);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/*
 * The hole Linux keeps for hugetlb (cow.c's XFAIL "vmsplice() + unmap in
 * child ... with hugetlb"): the child takes a R/O FOLL_GET reference of
 * the shared page and unmaps it; the parent's page is then mapped once,
 * and hugetlb_wp() reuses it by mapcount: the parent's write shows through
 * the child's reference. (Small pages copy here: the reference shows in
 * the refcount.)
 */
static void get_reference_leaks_through_reuse(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 2);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugetlb(mm, HP);
	struct pinmm_page *pages[1];

	fill(mm, a, 0x51, HP);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(pinmm_get_user_pages(child, a, 1, 0, pages), 1);
	assert_int_equal(pinmm_munmap(child, a, HP), 0);
	store8(mm, a, 0x52);
	assert_int_equal(*(uint8_t *)pinmm_page_address(pages[0]), 0x52);	/* the leak */
	pinmm_put_page(pages[0]);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void refused_operations(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 4);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugetlb(mm, 2 * HP), out;
	struct pinmm_page *pages[1];
	uint8_t v = 1;

	fill(mm, a, 0x61, 2 * HP);
	assert_int_equal(pinmm_mmap(mm, 0, HP, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_HUGETLB | PINMM_MAP_HUGEPAGE, &out),
			 -EINVAL);
	assert_int_equal(pinmm_mmap(mm, a + 4 * HP + PG, HP, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_HUGETLB | PINMM_MAP_FIXED, &out),
			 -EINVAL);
	assert_int_equal(pinmm_munmap(mm, a + PG, PG), -EINVAL);
	assert_int_equal(pinmm_mprotect(mm, a, PG, PINMM_PROT_READ), -EINVAL);
	assert_int_equal(pinmm_madvise(mm, a + PG, HP, PINMM_MADV_DONTNEED), -EINVAL);
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_PAGEOUT), -EINVAL);
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_COLLAPSE), -EINVAL);
	assert_int_equal(pinmm_madvise(mm, a, HP, PINMM_MADV_FREE), -EINVAL);
	assert_int_equal(pinmm_split_pmd(mm, a), -EINVAL);
	assert_int_equal(pinmm_split_folio(mm, a), -EINVAL);
	assert_int_equal(pinmm_migrate(mm, a), -EBUSY);
	assert_int_equal(pinmm_mremap(mm, a, HP, HP, PINMM_MREMAP_MAYMOVE, 0, &out), -EINVAL);
	/* a read-only mapping: no FOLL_FORCE write (EFAULT) */
	assert_int_equal(pinmm_mprotect(mm, a + HP, HP, PINMM_PROT_READ), 0);
	assert_int_equal(pinmm_get_user_pages(mm, a + HP, 1, PINMM_FOLL_WRITE | PINMM_FOLL_FORCE,
					      pages), -EFAULT);
	assert_int_equal(pinmm_access_remote(mm, a + HP, &v, 1, true), -EFAULT);
	/* what does apply: DONTNEED of whole pages (the end rounds down) */
	assert_int_equal(pinmm_madvise(mm, a, HP + PG, PINMM_MADV_DONTNEED), 0);
	assert_false(follow(mm, a).present);
	assert_true(follow(mm, a + HP).present);
	assert_bytes(mm, a + HP, 0x61, HP);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* GUP of hugetlb pages: one grab per run, fast and slow; a longterm pin
 * stays where it is (the pool is in the normal zone). */
static void gup_runs(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 2);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_hugetlb(mm, 2 * HP);
	struct pinmm_page **pages = calloc(600, sizeof(*pages));

	assert_non_null(pages);
	fill(mm, a, 0x71, 2 * HP);
	assert_int_equal(pinmm_pin_user_pages_fast(mm, a + 100 * PG, 600,
						   PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, pages),
			 600);
	assert_int_equal(finfo(pages[0]).pincount, 412);
	assert_int_equal(finfo(pages[599]).pincount, 188);
	assert_int_equal(finfo(pages[0]).zone, PINMM_ZONE_NORMAL);
	pinmm_unpin_user_pages(pages, 600, false);
	assert_int_equal(pinmm_pin_user_pages(mm, a, 3, PINMM_FOLL_WRITE, pages), 3);
	assert_int_equal(finfo(pages[0]).pincount, 3);
	pinmm_unpin_user_pages(pages, 3, false);
	assert_invariants(eng);
	free(pages);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pool_and_reservations),
		cmocka_unit_test(unmap_releases_reservation),
		cmocka_unit_test(cow_after_fork),
		cmocka_unit_test(fork_copies_pinned_huge_page),
		cmocka_unit_test(fork_pinned_off_detected),
		cmocka_unit_test(ro_pin_of_shared_unshares),
		cmocka_unit_test(get_reference_leaks_through_reuse),
		cmocka_unit_test(refused_operations),
		cmocka_unit_test(gup_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
