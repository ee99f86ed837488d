/* SPDX-License-Identifier: MIT */
/*
 * Shared hugetlb memory: MAP_SHARED|MAP_HUGETLB and hugetlb files (memfd
 * MFD_HUGETLB). Pages live in the file's page cache, shared by every
 * mapping and across fork; private mappings of a file COW from it;
 * reservations of shared mappings belong to the file; pins of shared
 * pages (R/W and R/O, longterm, fast and slow) hold them where they are.
 */
#include <pinmm/daemons.h>

#include "helpers.h"

#define HP PINMM_PMD_SIZE

static struct pinmm *make_pool_engine(struct pinmm_policy p, unsigned long pages)
{
	struct pinmm *eng = make_engine(p);

	assert_int_equal(pinmm_hugetlb_set_pool(eng, pages), 0);
	return eng;
}

static struct pinmm_hugetlb_info pool(struct pinmm *eng)
{
	struct pinmm_hugetlb_info i;

	assert_int_equal(pinmm_hugetlb_info(eng, &i), 0);
	return i;
}

static struct pinmm_file *hugetlb_file(struct pinmm *eng, uint64_t size, uint8_t fill)
{
	struct pinmm_file *f = NULL;

	assert_int_equal(pinmm_file_create_kind(eng, size, fill, PINMM_FILE_HUGETLB, &f), 0);
	return f;
}

static uint64_t map_file(struct pinmm_mm *mm, struct pinmm_file *f, uint64_t len,
			 unsigned flags)
{
	uint64_t a;

	assert_int_equal(pinmm_mmap_file(mm, 0, len, PROT_RW, flags, f, 0, &a), 0);
	assert_int_equal(a % HP, 0);
	return a;
}

/* MAP_SHARED|MAP_HUGETLB: the file reserves at mmap, faults consume it,
 * fork shares the pages (no copy, no COW); the reservation outlives the
 * parent's munmap while the child maps the file. */
static void shared_anon_shared_by_fork(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 3);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a, b;

	assert_int_equal(pinmm_mmap(mm, 0, 2 * HP, PROT_RW,
				    PINMM_MAP_SHARED | PINMM_MAP_HUGETLB, &a), 0);
	assert_int_equal(pool(eng).resv, 2);
	assert_int_equal(pinmm_mmap(mm, 0, 2 * HP, PROT_RW,
				    PINMM_MAP_SHARED | PINMM_MAP_HUGETLB, &b), -ENOMEM);
	store8(mm, a + 5, 0x11);
	assert_int_equal(pool(eng).resv, 1);
	struct pinmm_mapping m = follow(mm, a);
	assert_true(m.huge);
	assert_true(m.writable);	/* writable at once: a shared mapping */
	assert_false(m.anon_exclusive);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(load8(child, a + 5), 0x11);
	assert_int_equal(pfn_at(child, a), pfn_at(mm, a));
	store8(child, a + HP, 0x12);	/* consumes the second reservation */
	assert_int_equal(pool(eng).resv, 0);
	assert_int_equal(load8(mm, a + HP), 0x12);
	store8(mm, a + 6, 0x13);
	assert_int_equal(load8(child, a + 6), 0x13);
	assert_int_equal(pool(eng).free, 1);
	assert_invariants(eng);
	assert_int_equal(pinmm_munmap(mm, a, 2 * HP), 0);
	assert_int_equal(load8(child, a + HP), 0x12);
	pinmm_mm_exit(child);
	assert_int_equal(pool(eng).free, 3);
	assert_int_equal(pool(eng).resv, 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* An unfaulted reservation of the file goes back when the file goes, not
 * at munmap (hugetlb_unreserve_pages() at eviction). */
static void file_reservation_goes_with_the_file(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 2);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a;

	assert_int_equal(pinmm_mmap(mm, 0, 2 * HP, PROT_RW,
				    PINMM_MAP_SHARED | PINMM_MAP_HUGETLB, &a), 0);
	store8(mm, a, 1);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(pinmm_munmap(mm, a, 2 * HP), 0);
	assert_int_equal(pool(eng).resv, 1);	/* the child still maps the file */
	pinmm_mm_exit(child);
	assert_int_equal(pool(eng).resv, 0);
	assert_int_equal(pool(eng).free, 2);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* A hugetlb file: fallocated from the pool at creation; its shared
 * mappings reserve nothing more, a private one reserves for its owner;
 * the private mapping maps the page-cache page until it writes, then owns
 * a copy, and the shared mapping never sees the copy. */
static void file_private_cows_from_the_cache(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 3);
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f = hugetlb_file(eng, HP, 0x21);

	assert_int_equal(pool(eng).free, 2);
	assert_int_equal(pool(eng).resv, 0);
	uint64_t sh = map_file(mm, f, HP, PINMM_MAP_SHARED);
	assert_int_equal(pool(eng).resv, 0);
	uint64_t pr = map_file(mm, f, HP, PINMM_MAP_PRIVATE);
	assert_int_equal(pool(eng).resv, 1);
	assert_int_equal(load8(mm, pr + 9), 0x21);
	assert_int_equal(load8(mm, sh + 9), 0x21);
	assert_int_equal(pfn_at(mm, pr), pfn_at(mm, sh));
	assert_false(follow(mm, pr).writable);
	assert_int_equal(finfo_at(mm, sh).mapcount, 2);
	store8(mm, pr + 9, 0x22);
	assert_int_not_equal(pfn_at(mm, pr), pfn_at(mm, sh));
	assert_true(follow(mm, pr).anon_exclusive);
	assert_int_equal(load8(mm, sh + 9), 0x21);
	assert_int_equal(load8(mm, pr + 10), 0x21);
	assert_int_equal(pool(eng).resv, 0);	/* the owner's reservation */
	store8(mm, sh + 11, 0x23);
	assert_int_equal(load8(mm, pr + 11), 0x21);
	uint8_t b = 0;
	assert_int_equal(pinmm_file_read(f, 11, &b, 1), 0);
	assert_int_equal(b, 0x23);
	assert_invariants(eng);
	pinmm_file_put(f);
	pinmm_mm_exit(mm);
	assert_int_equal(pool(eng).free, 3);
	finish_engine(eng);
}

/* A private mapping's slot that maps the file's page has used none of its
 * owner's reservation: unmapping it gives that page's reservation back. */
static void private_file_unmap_returns_reservation(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 4);
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f = hugetlb_file(eng, 2 * HP, 0x51);
	uint64_t pr = map_file(mm, f, 2 * HP, PINMM_MAP_PRIVATE);

	assert_int_equal(pool(eng).resv, 2);
	assert_int_equal(load8(mm, pr), 0x51);
	assert_int_equal(load8(mm, pr + HP), 0x51);
	store8(mm, pr, 0x52);	/* the first slot's copy takes one */
	assert_int_equal(pool(eng).resv, 1);
	assert_int_equal(pinmm_munmap(mm, pr + HP, HP), 0);
	assert_int_equal(pool(eng).resv, 0);
	assert_int_equal(pool(eng).free, 1);
	assert_invariants(eng);
	pinmm_file_put(f);
	pinmm_mm_exit(mm);
	assert_int_equal(pool(eng).free, 4);
	finish_engine(eng);
}

/* What a hugetlb file refuses or answers otherwise. */
static void file_errors(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 2);
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f = NULL, *shm = NULL;
	uint64_t a;
	uint8_t v = 1;

	assert_int_equal(pinmm_file_create_kind(eng, HP + PG, 0, PINMM_FILE_HUGETLB, &f), -EINVAL);
	assert_int_equal(pinmm_file_create_kind(eng, 3 * HP, 0, PINMM_FILE_HUGETLB, &f), -ENOMEM);
	assert_int_equal(pool(eng).free, 2);	/* what fallocate took went back */
	f = hugetlb_file(eng, 2 * HP, 0);
	assert_int_equal(pinmm_file_write(f, 0, &v, 1), -EINVAL);	/* no write(2) */
	assert_int_equal(pinmm_uprobe_register(f, 0), -EIO);
	assert_int_equal(pinmm_mmap_file(mm, 0, HP, PROT_RW, PINMM_MAP_SHARED, f, PG, &a),
			 -EINVAL);
	/* the pool is empty: a private mapping cannot reserve */
	assert_int_equal(pinmm_mmap_file(mm, 0, HP, PROT_RW, PINMM_MAP_PRIVATE, f, 0, &a),
			 -ENOMEM);
	assert_int_equal(pinmm_file_create(eng, PG, 0, &shm), 0);
	assert_int_equal(pinmm_mmap_file(mm, 0, PG, PROT_RW,
					 PINMM_MAP_SHARED | PINMM_MAP_HUGETLB, shm, 0, &a), -EINVAL);
	/* MAP_HUGETLB of a hugetlb file is what it is anyway; the length
	 * rounds up to whole huge pages */
	assert_int_equal(pinmm_mmap_file(mm, 0, PG, PROT_RW,
					 PINMM_MAP_SHARED | PINMM_MAP_HUGETLB, f, HP, &a), 0);
	assert_int_equal(load8(mm, a + HP - 1), 0);
	/* past the end of the file: a read-only mapping reserves it and
	 * faults there are SIGBUS; a writable one makes the file longer */
	uint64_t b, c;
	assert_int_equal(pinmm_mmap_file(mm, 0, 2 * HP, PINMM_PROT_READ, PINMM_MAP_SHARED, f, HP,
					 &b), -ENOMEM);	/* the pool is empty */
	assert_int_equal(pinmm_hugetlb_set_pool(eng, 3), 0);
	assert_int_equal(pinmm_mmap_file(mm, 0, 2 * HP, PINMM_PROT_READ, PINMM_MAP_SHARED, f, HP,
					 &b), 0);
	assert_int_equal(pool(eng).resv, 1);
	assert_int_equal(load_err(mm, b + HP), -EFAULT);
	assert_int_equal(pinmm_mmap_file(mm, 0, 3 * HP, PROT_RW, PINMM_MAP_SHARED, f, 0, &c), 0);
	assert_int_equal(pool(eng).resv, 1);	/* the same index, reserved once */
	store8(mm, c + 2 * HP, 0x61);	/* consumes it */
	assert_int_equal(pool(eng).resv, 0);
	assert_int_equal(load8(mm, b + HP), 0x61);
	assert_int_equal(pinmm_file_read(f, 2 * HP, &v, 1), 0);
	assert_int_equal(v, 0x61);
	assert_int_equal(pinmm_munmap(mm, a, PG), -EINVAL);	/* never split */
	assert_invariants(eng);
	pinmm_file_put(shm);
	pinmm_file_put(f);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* Pins of a shared hugetlb page: R/W longterm (slow and fast) succeed -
 * hugetlbfs does not track dirty pages - and stay in the normal zone;
 * device and CPU see each other across fork, in both processes. */
static void shared_pins_hold(void **s)
{
	(void)s;
	struct pinmm *eng = make_pool_engine(policy_strict(), 1);
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f = hugetlb_file(eng, HP, 0);
	uint64_t a = map_file(mm, f, HP, PINMM_MAP_SHARED);
	struct pinmm_page **pages = calloc(512, sizeof(*pages)), *ro_pages[1], *rof_pages[1];
	struct pinmm_pin rw, ro, rof;

	assert_non_null(pages);
	zero_pin(&rw);
	zero_pin(&ro);
	zero_pin(&rof);
	fill(mm, a, 0x31, HP);
	pin_ok(mm, &rw, a, 512, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, true, pages);
	assert_int_equal(finfo(pages[0]).zone, PINMM_ZONE_NORMAL);
	assert_int_equal(pinmm_mprotect(mm, a, HP, PINMM_PROT_READ), 0);
	pin_ok(mm, &ro, a + PG, 1, PINMM_FOLL_LONGTERM, false, ro_pages);
	pin_ok(mm, &rof, a + 2 * PG, 1, PINMM_FOLL_LONGTERM, true, rof_pages);
	assert_int_equal(pinmm_mprotect(mm, a, HP, PROT_RW), 0);
	struct pinmm_mm *child = fork_mm(mm);
	store8(child, a + PG, 0x32);
	assert_int_equal(dev_read8(&rw, 1, 0), 0x32);
	assert_int_equal(dev_read8(&ro, 0, 0), 0x32);
	dev_write8(&rw, 2, 0, 0x33);
	assert_int_equal(load8(child, a + 2 * PG), 0x33);
	assert_int_equal(dev_read8(&rof, 0, 0), 0x33);
	assert_coherent(&rw, mm, a);
	assert_coherent(&rw, child, a);
	assert_coherent(&ro, mm, a + PG);
	assert_coherent(&rof, child, a + 2 * PG);
	assert_int_equal(finfo_at(mm, a).pincount, 514);
	assert_int_equal(pinmm_migrate(mm, a), -EBUSY);
	assert_invariants(eng);
	/* the file goes, the mappings go: the pinned page lives on */
	pinmm_file_put(f);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	assert_int_equal(pool(eng).free, 0);
	assert_int_equal(dev_read8(&rw, 2, 0), 0x33);
	unpin_ok(&rof);
	unpin_ok(&ro);
	unpin_ok(&rw);
	assert_int_equal(pool(eng).free, 1);
	free(pages);
	finish_engine(eng);
}

/* A R/O longterm pin of a private mapping of a hugetlb file takes the
 * private copy first (84209e87c696), slow and fast; without the switch it
 * pins the page-cache page and the process's write copies away. */
static void ro_longterm_private_case(struct pinmm_policy p, bool fast, bool detected)
{
	struct pinmm *eng = make_pool_engine(p, 2);
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f = hugetlb_file(eng, HP, 0);
	uint64_t sh = map_file(mm, f, HP, PINMM_MAP_SHARED);
	uint64_t pr = map_file(mm, f, HP, PINMM_MAP_PRIVATE);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(load8(mm, pr), 0);
	assert_int_equal(pinmm_mprotect(mm, pr, HP, PINMM_PROT_READ), 0);
	pin_ok(mm, &pin, pr, 1, PINMM_FOLL_LONGTERM, fast, pages);
	assert_int_equal(pinmm_mprotect(mm, pr, HP, PROT_RW), 0);
	store8(mm, pr, 0x41);
	assert_int_equal(dev_read8(&pin, 0, 0) == 0x41, !detected);
	assert_int_equal(load8(mm, sh), 0);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_file_put(f);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void ro_longterm_private_unshares(void **s)
{
	(void)s;
	ro_longterm_private_case(policy_strict(), false, false);
	ro_longterm_private_case(policy_strict(), true, false);
}

static void ro_longterm_private_off_detected(void **s)
{
	(void)s;
	ro_longterm_private_case(policy_strict_without(PINMM_SW_RO_LONGTERM_COW_UNSHARE), false,
				 true);
	ro_longterm_private_case(policy_strict_without(PINMM_SW_RO_LONGTERM_COW_UNSHARE), true,
				 true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shared_anon_shared_by_fork),
		cmocka_unit_test(file_reservation_goes_with_the_file),
		cmocka_unit_test(file_private_cows_from_the_cache),
		cmocka_unit_test(private_file_unmap_returns_reservation),
		cmocka_unit_test(file_errors),
		cmocka_unit_test(shared_pins_hold),
		cmocka_unit_test(ro_longterm_private_unshares),
		cmocka_unit_test(ro_longterm_private_off_detected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
