/* SPDX-License-Identifier: MIT */
/*
 * tests/test_mm.c - address spaces and CPU access: mmap, munmap, mprotect,
 * madvise, mremap, fork, exit, load/store, the zero page. Public API only.
 */
#include "helpers.h"

#include "mm/mm.h"

#include <pthread.h>

/* ================================================================ mmap === */

static void mmap_private_anon_basic(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 4);

	/* fresh anonymous memory reads as zeros */
	assert_bytes(mm, a, 0, 4 * PG);
	store8(mm, a, 0x11);
	store8(mm, a + 3 * PG + PG - 1, 0x44);
	assert_int_equal(load8(mm, a), 0x11);
	assert_int_equal(load8(mm, a + 4 * PG - 1), 0x44);
	assert_int_equal(load8(mm, a + 1), 0);
	assert_invariants(eng);

	assert_int_equal(pinmm_munmap(mm, a, 4 * PG), 0);
	assert_int_equal(load_err(mm, a), -EFAULT);
	assert_int_equal(store_err(mm, a, 1), -EFAULT);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_shared_anon_basic(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_shared(mm, 3);

	assert_bytes(mm, a, 0, 3 * PG);
	fill(mm, a + PG, 0x5A, PG);
	assert_bytes(mm, a + PG, 0x5A, PG);
	assert_bytes(mm, a, 0, PG);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_two_mappings_distinct(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2);
	uint64_t b = map_rw(mm, 2);

	/* no overlap */
	assert_true(a + 2 * PG <= b || b + 2 * PG <= a);
	store8(mm, a, 1);
	store8(mm, b, 2);
	assert_int_equal(load8(mm, a), 1);
	assert_int_equal(load8(mm, b), 2);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_unaligned_len_rounds_up(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = 0;

	assert_int_equal(pinmm_mmap(mm, 0, 100, PROT_RW, PINMM_MAP_PRIVATE, &a), 0);
	assert_int_equal(a % PG, 0);
	/* the whole page is mapped (Linux rounds len up) */
	store8(mm, a + PG - 1, 7);
	assert_int_equal(load8(mm, a + PG - 1), 7);
	/* and nothing more (the only mapping of this mm) */
	assert_int_equal(load_err(mm, a + PG), -EFAULT);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_fixed_replaces(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 4), out = 0;

	fill(mm, a, 0xAA, 4 * PG);
	assert_int_equal(pinmm_mmap(mm, a + PG, 2 * PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED, &out), 0);
	assert_int_equal(out, a + PG);
	/* the replaced pages are new, zero-filled memory */
	assert_bytes(mm, a + PG, 0, 2 * PG);
	/* the rest is untouched */
	assert_bytes(mm, a, 0xAA, PG);
	assert_bytes(mm, a + 3 * PG, 0xAA, PG);
	assert_invariants(eng);

	/* FIXED with a different protection: the old R/W is gone */
	assert_int_equal(pinmm_mmap(mm, a, PG, PROT_R,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED, &out), 0);
	assert_int_equal(out, a);
	assert_int_equal(load8(mm, a), 0);
	assert_int_equal(store_err(mm, a, 1), -EACCES);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_fixed_into_free_space(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 8), out = 0;

	assert_int_equal(pinmm_munmap(mm, a, 8 * PG), 0);
	assert_int_equal(pinmm_mmap(mm, a + 2 * PG, PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED, &out), 0);
	assert_int_equal(out, a + 2 * PG);
	store8(mm, out, 3);
	assert_int_equal(load8(mm, out), 3);
	assert_int_equal(load_err(mm, a), -EFAULT);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_fixed_noreplace(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 4), out = 0;

	fill(mm, a, 0x33, 4 * PG);
	/* exactly over it */
	assert_int_equal(pinmm_mmap(mm, a, 4 * PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED_NOREPLACE,
				    &out), -EEXIST);
	/* partly over it (one page below, one page in) */
	assert_int_equal(pinmm_mmap(mm, a - PG, 2 * PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED_NOREPLACE,
				    &out), -EEXIST);
	/* a single page in the middle */
	assert_int_equal(pinmm_mmap(mm, a + 2 * PG, PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED_NOREPLACE,
				    &out), -EEXIST);
	/* nothing changed */
	assert_bytes(mm, a, 0x33, 4 * PG);
	assert_int_equal(load_err(mm, a - PG), -EFAULT);

	/* in free space it maps exactly there */
	assert_int_equal(pinmm_munmap(mm, a + 3 * PG, PG), 0);
	assert_int_equal(pinmm_mmap(mm, a + 3 * PG, PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED_NOREPLACE,
				    &out), 0);
	assert_int_equal(out, a + 3 * PG);
	assert_bytes(mm, a + 3 * PG, 0, PG);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_populate(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	size_t before = frames_used(eng);
	uint64_t a = map_rw_populated(mm, 8);

	assert_true(frames_used(eng) >= before + 8);
	for (unsigned i = 0; i < 8; i++) {
		struct pinmm_mapping m = follow(mm, a + i * PG);
		assert_true(m.present);
		assert_false(m.zero_page);
		assert_true(m.writable);	/* populated for write */
		assert_non_null(m.page);
	}
	/* populating did not change the contents */
	assert_bytes(mm, a, 0, 8 * PG);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_populate_readonly(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_anon(mm, 4 * PG, PROT_R,
			      PINMM_MAP_PRIVATE | PINMM_MAP_POPULATE);

	for (unsigned i = 0; i < 4; i++) {
		struct pinmm_mapping m = follow(mm, a + i * PG);
		assert_true(m.present);
		assert_false(m.writable);
	}
	assert_bytes(mm, a, 0, 4 * PG);
	assert_int_equal(store_err(mm, a, 1), -EACCES);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_not_populated_is_lazy(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 16);
	struct pinmm_mapping m;

	memset(&m, 0xff, sizeof(m));
	assert_int_equal(pinmm_follow_page(mm, a + 5 * PG, &m), 0);
	assert_false(m.present);
	assert_int_equal(frames_used(eng), 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_align_2m(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	/* a small mapping first, so the next free address is not aligned */
	(void)map_rw(mm, 1);
	for (int i = 0; i < 3; i++) {
		uint64_t a = map_anon(mm, PINMM_PMD_SIZE, PROT_RW,
				      PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M);
		assert_int_equal(a % PINMM_PMD_SIZE, 0);
		store8(mm, a + PINMM_PMD_SIZE - 1, 9);
		assert_int_equal(load8(mm, a + PINMM_PMD_SIZE - 1), 9);
		(void)map_rw(mm, 3);
	}
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_bad_args(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t out = 0;
	int r;

	/* zero length */
	assert_int_equal(pinmm_mmap(mm, 0, 0, PROT_RW, PINMM_MAP_PRIVATE, &out),
			 -EINVAL);
	/* neither private nor shared, both */
	assert_int_equal(pinmm_mmap(mm, 0, PG, PROT_RW, 0, &out), -EINVAL);
	assert_int_equal(pinmm_mmap(mm, 0, PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_SHARED, &out),
			 -EINVAL);
	/* unknown flag */
	assert_int_equal(pinmm_mmap(mm, 0, PG, PROT_RW,
				    PINMM_MAP_PRIVATE | 0x10000u, &out), -EINVAL);
	/* FIXED at an unaligned address */
	assert_int_equal(pinmm_mmap(mm, 0x40000123ul, PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED, &out),
			 -EINVAL);
	assert_int_equal(pinmm_mmap(mm, 0x40000123ul, PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED_NOREPLACE,
				    &out), -EINVAL);
	/* a length that overflows when rounded, or is larger than user space */
	r = pinmm_mmap(mm, 0, UINT64_MAX - 10, PROT_RW, PINMM_MAP_PRIVATE, &out);
	assert_true(r == -EINVAL || r == -ENOMEM);
	r = pinmm_mmap(mm, 0, PINMM_USER_MAX + PG, PROT_RW, PINMM_MAP_PRIVATE,
		       &out);
	assert_true(r == -EINVAL || r == -ENOMEM);
	/* FIXED beyond the top of user space */
	r = pinmm_mmap(mm, PINMM_USER_MAX, PG, PROT_RW,
		       PINMM_MAP_PRIVATE | PINMM_MAP_FIXED, &out);
	assert_true(r == -EINVAL || r == -ENOMEM);
	/* FIXED below the bottom */
	r = pinmm_mmap(mm, 0, PG, PROT_RW, PINMM_MAP_PRIVATE | PINMM_MAP_FIXED,
		       &out);
	assert_true(r == -EINVAL || r == -ENOMEM || r == -EPERM);
	/* nothing got mapped by all this */
	assert_int_equal(frames_used(eng), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ============================================================== munmap === */

/* fill page i of [a, a+n pages) with byte base+i */
static void fill_pages(struct pinmm_mm *mm, uint64_t a, unsigned n,
		       uint8_t base)
{
	for (unsigned i = 0; i < n; i++)
		fill(mm, a + i * PG, (uint8_t)(base + i), PG);
}

static void munmap_partial_front_back(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 4);

	fill_pages(mm, a, 4, 1);
	assert_int_equal(pinmm_munmap(mm, a, PG), 0);
	assert_int_equal(load_err(mm, a), -EFAULT);
	assert_bytes(mm, a + PG, 2, PG);
	assert_int_equal(pinmm_munmap(mm, a + 3 * PG, PG), 0);
	assert_int_equal(load_err(mm, a + 3 * PG), -EFAULT);
	assert_bytes(mm, a + PG, 2, PG);
	assert_bytes(mm, a + 2 * PG, 3, PG);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void munmap_middle_split(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 5);

	fill_pages(mm, a, 5, 0x10);
	size_t used = frames_used(eng);
	assert_int_equal(pinmm_munmap(mm, a + 2 * PG, PG), 0);
	/* the page's frame was freed */
	assert_int_equal(frames_used(eng), used - 1);
	assert_int_equal(load_err(mm, a + 2 * PG), -EFAULT);
	for (unsigned i = 0; i < 5; i++)
		if (i != 2)
			assert_bytes(mm, a + i * PG, (uint8_t)(0x10 + i), PG);
	/* both halves are real VMAs: each can be changed on its own */
	assert_int_equal(pinmm_mprotect(mm, a, 2 * PG, PROT_R), 0);
	assert_int_equal(store_err(mm, a + PG, 1), -EACCES);
	store8(mm, a + 3 * PG, 0x77);
	assert_int_equal(pinmm_munmap(mm, a + 3 * PG, 2 * PG), 0);
	assert_bytes(mm, a, 0x10, PG);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void munmap_holes_ok(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 6);

	fill(mm, a, 1, 6 * PG);
	assert_int_equal(pinmm_munmap(mm, a + PG, PG), 0);
	assert_int_equal(pinmm_munmap(mm, a + 4 * PG, PG), 0);
	/* a range with holes in it (and beyond both ends) */
	assert_int_equal(pinmm_munmap(mm, a - 4 * PG, 14 * PG), 0);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(load_err(mm, a + i * PG), -EFAULT);
	/* nothing mapped at all: still fine */
	assert_int_equal(pinmm_munmap(mm, a, 6 * PG), 0);
	assert_int_equal(frames_used(eng), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void munmap_bad_args(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2);

	store8(mm, a, 5);
	assert_int_equal(pinmm_munmap(mm, a + 1, PG), -EINVAL);
	assert_int_equal(pinmm_munmap(mm, a, 0), -EINVAL);
	assert_int_equal(load8(mm, a), 5);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void munmap_unaligned_len_rounds_up(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 3);

	fill(mm, a, 4, 3 * PG);
	assert_int_equal(pinmm_munmap(mm, a, PG + 1), 0);
	assert_int_equal(load_err(mm, a), -EFAULT);
	assert_int_equal(load_err(mm, a + PG), -EFAULT);
	assert_int_equal(load8(mm, a + 2 * PG), 4);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ============================================================ mprotect === */

static void mprotect_readonly(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2);

	fill(mm, a, 0x11, 2 * PG);
	uint64_t pfn = pfn_at(mm, a);
	assert_int_equal(pinmm_mprotect(mm, a, 2 * PG, PROT_R), 0);
	assert_int_equal(load8(mm, a), 0x11);
	assert_int_equal(store_err(mm, a, 0x22), -EACCES);
	assert_int_equal(store_err(mm, a + 2 * PG - 1, 0x22), -EACCES);
	assert_false(follow(mm, a).writable);
	assert_bytes(mm, a, 0x11, 2 * PG);

	assert_int_equal(pinmm_mprotect(mm, a, 2 * PG, PROT_RW), 0);
	store8(mm, a, 0x22);
	assert_int_equal(load8(mm, a), 0x22);
	/* the page did not change (it was exclusive: reused, no copy) */
	assert_int_equal(pfn_at(mm, a), pfn);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mprotect_none(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 1);

	fill(mm, a, 0x3C, PG);
	uint64_t pfn = pfn_at(mm, a);
	assert_int_equal(pinmm_mprotect(mm, a, PG, PINMM_PROT_NONE), 0);
	assert_int_equal(load_err(mm, a), -EACCES);
	assert_int_equal(store_err(mm, a, 1), -EACCES);
	assert_int_equal(pinmm_mprotect(mm, a, PG, PROT_RW), 0);
	assert_bytes(mm, a, 0x3C, PG);
	store8(mm, a + 7, 0x3D);
	assert_int_equal(load8(mm, a + 7), 0x3D);
	assert_int_equal(pfn_at(mm, a), pfn);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mprotect_middle_page(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 3);

	assert_int_equal(pinmm_mprotect(mm, a + PG, PG, PROT_R), 0);
	store8(mm, a, 1);
	assert_int_equal(store_err(mm, a + PG, 2), -EACCES);
	store8(mm, a + 2 * PG, 3);
	assert_int_equal(load8(mm, a + PG), 0);
	assert_int_equal(load8(mm, a + 2 * PG), 3);
	/* back again (VMAs may merge) */
	assert_int_equal(pinmm_mprotect(mm, a, 3 * PG, PROT_RW), 0);
	store8(mm, a + PG, 2);
	assert_int_equal(load8(mm, a + PG), 2);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mprotect_bad_args(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2);

	assert_int_equal(pinmm_mprotect(mm, a + 5, PG, PROT_R), -EINVAL);
	/* a range not fully mapped is refused (Linux: ENOMEM) */
	assert_int_not_equal(pinmm_mprotect(mm, a, 4 * PG, PROT_R), 0);
	store8(mm, a, 1);	/* the mapping is still writable */
	assert_int_equal(load8(mm, a), 1);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ============================================================= madvise === */

static void madvise_dontneed_zeroes(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 4);

	fill(mm, a, 0x5A, 4 * PG);
	size_t used = frames_used(eng);
	assert_int_equal(pinmm_madvise(mm, a + PG, 2 * PG, PINMM_MADV_DONTNEED), 0);
	/* the frames went back */
	assert_int_equal(frames_used(eng), used - 2);
	assert_false(follow(mm, a + PG).present);
	assert_false(follow(mm, a + 2 * PG).present);
	/* the data is gone: fresh zeros */
	assert_bytes(mm, a + PG, 0, 2 * PG);
	assert_bytes(mm, a, 0x5A, PG);
	assert_bytes(mm, a + 3 * PG, 0x5A, PG);
	/* the mapping is still there and writable */
	store8(mm, a + PG, 0x66);
	assert_int_equal(load8(mm, a + PG), 0x66);
	assert_true(follow(mm, a + PG).present);
	assert_false(follow(mm, a + PG).zero_page);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void madvise_dontneed_shared_keeps_data(void **state)
{
	(void)state;
	/* shared anonymous memory lives in its object: DONTNEED only unmaps */
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_shared(mm, 2);

	fill(mm, a, 0x21, 2 * PG);
	assert_int_equal(pinmm_madvise(mm, a, 2 * PG, PINMM_MADV_DONTNEED), 0);
	assert_bytes(mm, a, 0x21, 2 * PG);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void madvise_free(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);

	fill(mm, a, 0x7E, 2 * PG);
	int r = pinmm_madvise(mm, a, 2 * PG, PINMM_MADV_FREE);
	if (r == -EOPNOTSUPP) {
		pinmm_mm_exit(mm);
		finish_engine(eng);
		print_message("MADV_FREE not implemented: skipped\n");
		skip();
	}
	assert_int_equal(r, 0);
	/* lazily freed: each page reads either its old data or zeros */
	for (unsigned i = 0; i < 2; i++) {
		uint8_t v = load8(mm, a + i * PG + 100);
		assert_true(v == 0x7E || v == 0);
	}
	/* a store after FREE is kept */
	store8(mm, a, 0x42);
	assert_int_equal(load8(mm, a), 0x42);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void madvise_dontfork_dofork(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2), b = map_rw(mm, 1);

	fill(mm, a, 0x31, 2 * PG);
	fill(mm, b, 0x32, PG);
	assert_int_equal(pinmm_madvise(mm, a, 2 * PG, PINMM_MADV_DONTFORK), 0);
	struct pinmm_mm *c1 = fork_mm(mm);
	assert_int_equal(load_err(c1, a), -EFAULT);
	assert_int_equal(load_err(c1, a + PG), -EFAULT);
	assert_int_equal(load8(c1, b), 0x32);	/* other mappings inherited */
	assert_bytes(mm, a, 0x31, 2 * PG);	/* parent unaffected */
	pinmm_mm_exit(c1);

	assert_int_equal(pinmm_madvise(mm, a, 2 * PG, PINMM_MADV_DOFORK), 0);
	struct pinmm_mm *c2 = fork_mm(mm);
	assert_bytes(c2, a, 0x31, 2 * PG);
	pinmm_mm_exit(c2);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void madvise_bad_args(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 3);

	fill(mm, a, 9, 3 * PG);
	assert_int_equal(pinmm_madvise(mm, a + 1, PG, PINMM_MADV_DONTNEED), -EINVAL);
	assert_int_equal(pinmm_madvise(mm, a, PG, PINMM_MADV_NR), -EINVAL);
	assert_int_equal(pinmm_madvise(mm, a, PG, (enum pinmm_advice)-1), -EINVAL);
	/* a hole in the range: ENOMEM (Linux) */
	assert_int_equal(pinmm_munmap(mm, a + PG, PG), 0);
	assert_int_equal(pinmm_madvise(mm, a, 3 * PG, PINMM_MADV_DONTFORK), -ENOMEM);
	assert_int_equal(load8(mm, a), 9);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ============================================================== mremap === */

static void mremap_grow_in_place(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	/* map 4 and drop the last 2, so the two pages after it are free
	 * (and below the top of user space) */
	uint64_t a = map_rw(mm, 4), out = 0;

	assert_int_equal(pinmm_munmap(mm, a + 2 * PG, 2 * PG), 0);
	fill_pages(mm, a, 2, 0x40);
	assert_int_equal(pinmm_mremap(mm, a, 2 * PG, 4 * PG, 0, 0, &out), 0);
	assert_int_equal(out, a);
	assert_bytes(mm, a, 0x40, PG);
	assert_bytes(mm, a + PG, 0x41, PG);
	assert_bytes(mm, a + 2 * PG, 0, 2 * PG);
	store8(mm, a + 3 * PG, 1);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mremap_shrink(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 4), out = 0;

	fill_pages(mm, a, 4, 0x50);
	size_t used = frames_used(eng);
	assert_int_equal(pinmm_mremap(mm, a, 4 * PG, 2 * PG, 0, 0, &out), 0);
	assert_int_equal(out, a);
	assert_int_equal(frames_used(eng), used - 2);
	assert_bytes(mm, a, 0x50, PG);
	assert_bytes(mm, a + PG, 0x51, PG);
	assert_int_equal(load_err(mm, a + 2 * PG), -EFAULT);
	assert_int_equal(load_err(mm, a + 3 * PG), -EFAULT);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* A: [x, x+PG), B: [x+2PG, x+3PG) with a one-page hole between. */
static void map_blocked(struct pinmm_mm *mm, uint64_t *pa, uint64_t *pb)
{
	uint64_t x = map_rw(mm, 3);
	assert_int_equal(pinmm_munmap(mm, x + PG, PG), 0);
	*pa = x;
	*pb = x + 2 * PG;
}

static void mremap_grow_blocked_needs_maymove(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a, b, out = 0;

	map_blocked(mm, &a, &b);
	fill(mm, a, 0xA1, PG);
	fill(mm, b, 0xB1, PG);
	uint64_t pfn = pfn_at(mm, a);
	assert_int_equal(pinmm_mremap(mm, a, PG, 3 * PG, 0, 0, &out), -ENOMEM);
	assert_bytes(mm, a, 0xA1, PG);

	assert_int_equal(pinmm_mremap(mm, a, PG, 3 * PG, PINMM_MREMAP_MAYMOVE, 0,
				      &out), 0);
	assert_int_not_equal(out, a);
	assert_int_equal(out % PG, 0);
	/* the data (the very page) moved; the old address is unmapped */
	assert_bytes(mm, out, 0xA1, PG);
	assert_int_equal(pfn_at(mm, out), pfn);
	assert_bytes(mm, out + PG, 0, 2 * PG);
	assert_int_equal(load_err(mm, a), -EFAULT);
	/* B is untouched */
	assert_bytes(mm, b, 0xB1, PG);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mremap_fixed(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2), dst = map_rw(mm, 3), out = 0;

	fill_pages(mm, a, 2, 0x60);
	fill(mm, dst, 0xDD, 3 * PG);
	/* FIXED replaces what is at the target (the first 2 pages of dst) */
	assert_int_equal(pinmm_mremap(mm, a, 2 * PG, 2 * PG,
				      PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_FIXED,
				      dst, &out), 0);
	assert_int_equal(out, dst);
	assert_bytes(mm, dst, 0x60, PG);
	assert_bytes(mm, dst + PG, 0x61, PG);
	assert_bytes(mm, dst + 2 * PG, 0xDD, PG);
	assert_int_equal(load_err(mm, a), -EFAULT);
	assert_int_equal(load_err(mm, a + PG), -EFAULT);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mremap_move_shrink_and_grow(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 4), tmp = map_rw(mm, 8), out = 0;

	fill_pages(mm, a, 4, 0x70);
	assert_int_equal(pinmm_munmap(mm, tmp, 8 * PG), 0);
	/* move + grow to 6 pages at tmp */
	assert_int_equal(pinmm_mremap(mm, a, 4 * PG, 6 * PG,
				      PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_FIXED,
				      tmp, &out), 0);
	assert_int_equal(out, tmp);
	for (unsigned i = 0; i < 4; i++)
		assert_bytes(mm, tmp + i * PG, (uint8_t)(0x70 + i), PG);
	assert_bytes(mm, tmp + 4 * PG, 0, 2 * PG);
	/* move + shrink back to 1 page at a */
	assert_int_equal(pinmm_mremap(mm, tmp, 6 * PG, PG,
				      PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_FIXED,
				      a, &out), 0);
	assert_int_equal(out, a);
	assert_bytes(mm, a, 0x70, PG);
	assert_int_equal(load_err(mm, tmp), -EFAULT);
	assert_int_equal(load_err(mm, tmp + 5 * PG), -EFAULT);
	assert_int_equal(load_err(mm, a + PG), -EFAULT);
	assert_int_equal(frames_used(eng), 1);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mremap_part_of_vma(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 4), dst = map_rw(mm, 2), out = 0;

	fill_pages(mm, a, 4, 0x80);
	assert_int_equal(pinmm_munmap(mm, dst, 2 * PG), 0);
	/* move the middle two pages out */
	assert_int_equal(pinmm_mremap(mm, a + PG, 2 * PG, 2 * PG,
				      PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_FIXED,
				      dst, &out), 0);
	assert_bytes(mm, dst, 0x81, PG);
	assert_bytes(mm, dst + PG, 0x82, PG);
	assert_bytes(mm, a, 0x80, PG);
	assert_bytes(mm, a + 3 * PG, 0x83, PG);
	assert_int_equal(load_err(mm, a + PG), -EFAULT);
	assert_int_equal(load_err(mm, a + 2 * PG), -EFAULT);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mremap_dontunmap(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2), out = 0;

	fill(mm, a, 0x90, 2 * PG);
	int r = pinmm_mremap(mm, a, 2 * PG, 2 * PG,
			     PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_DONTUNMAP, 0,
			     &out);
	assert_int_equal(r, 0);
	assert_int_not_equal(out, a);
	assert_bytes(mm, out, 0x90, 2 * PG);
	/* the old range stays mapped, but empty */
	assert_bytes(mm, a, 0, 2 * PG);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mremap_bad_args(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2), out = 0;

	store8(mm, a, 0x12);
	/* FIXED without MAYMOVE */
	assert_int_equal(pinmm_mremap(mm, a, PG, PG, PINMM_MREMAP_FIXED,
				      a + 16 * PG, &out), -EINVAL);
	/* unaligned old address */
	assert_int_equal(pinmm_mremap(mm, a + 1, PG, 2 * PG, 0, 0, &out), -EINVAL);
	/* zero new length */
	assert_int_equal(pinmm_mremap(mm, a, PG, 0, 0, 0, &out), -EINVAL);
	/* DONTUNMAP without MAYMOVE */
	assert_int_equal(pinmm_mremap(mm, a, PG, PG, PINMM_MREMAP_DONTUNMAP, 0,
				      &out), -EINVAL);
	/* unknown flag */
	assert_int_equal(pinmm_mremap(mm, a, PG, PG, 0x100u, 0, &out), -EINVAL);
	/* old range not mapped: EFAULT (Linux) */
	uint64_t hole = map_rw(mm, 1);
	assert_int_equal(pinmm_munmap(mm, hole, PG), 0);
	assert_int_equal(pinmm_mremap(mm, hole, PG, 2 * PG, PINMM_MREMAP_MAYMOVE,
				      0, &out), -EFAULT);
	assert_int_equal(load8(mm, a), 0x12);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ========================================================== CPU access === */

static void access_across_page_boundary(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 3);
	uint8_t in[64], out[64];

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(pinmm_store(mm, a + PG - 20, in, sizeof(in)), 0);
	memset(out, 0, sizeof(out));
	assert_int_equal(pinmm_load(mm, a + PG - 20, out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	/* each side as seen on its own */
	assert_int_equal(load8(mm, a + PG - 1), in[19]);
	assert_int_equal(load8(mm, a + PG), in[20]);
	/* a store spanning three pages */
	uint8_t *big = malloc(PG + 200);
	uint8_t *chk = malloc(PG + 200);
	assert_non_null(big);
	assert_non_null(chk);
	for (unsigned i = 0; i < PG + 200; i++)
		big[i] = (uint8_t)(i ^ 0x5c);
	assert_int_equal(pinmm_store(mm, a + PG - 100, big, PG + 200), 0);
	assert_int_equal(pinmm_load(mm, a + PG - 100, chk, PG + 200), 0);
	assert_memory_equal(big, chk, PG + 200);
	free(big);
	free(chk);
	/* store_fill across the boundary */
	assert_int_equal(pinmm_store_fill(mm, a + 2 * PG - 3, 0xF0, 6), 0);
	assert_bytes(mm, a + 2 * PG - 3, 0xF0, 6);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void access_efault_unmapped(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint8_t b[8] = { 0 };

	/* an empty mm: nothing is mapped */
	assert_int_equal(pinmm_load(mm, 0x100000000ul, b, 1), -EFAULT);
	assert_int_equal(pinmm_store(mm, 0x100000000ul, b, 1), -EFAULT);
	assert_int_equal(pinmm_load(mm, PINMM_USER_MIN, b, 1), -EFAULT);
	assert_int_equal(pinmm_load(mm, 0, b, 1), -EFAULT);
	assert_int_equal(pinmm_store_fill(mm, 0x200000000ul, 1, 8), -EFAULT);
	/* far above user space */
	assert_int_equal(pinmm_load(mm, PINMM_USER_MAX + PG, b, 1), -EFAULT);
	assert_int_equal(pinmm_load(mm, UINT64_MAX - 3, b, 8), -EFAULT);
	assert_int_equal(frames_used(eng), 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void access_straddling_end_of_mapping(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2);
	uint8_t in[16], out[16];

	assert_int_equal(pinmm_munmap(mm, a + PG, PG), 0);
	memset(in, 0xC3, sizeof(in));
	assert_int_equal(pinmm_load(mm, a + PG - 8, out, 16), -EFAULT);
	assert_int_equal(pinmm_store(mm, a + PG - 8, in, 16), -EFAULT);
	/* the page before the failing one was written, as a CPU would */
	assert_bytes(mm, a + PG - 8, 0xC3, 8);
	/* a store that stays in one page is all or nothing */
	assert_int_equal(pinmm_mprotect(mm, a, PG, PROT_R), 0);
	assert_int_equal(pinmm_store(mm, a + 100, in, 16), -EACCES);
	assert_bytes(mm, a + 100, 0, 16);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void zero_page_for_reads(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 4);

	assert_int_equal(load8(mm, a + PG + 5), 0);
	assert_int_equal(load8(mm, a + 2 * PG + 5), 0);
	struct pinmm_mapping m1 = follow(mm, a + PG);
	struct pinmm_mapping m2 = follow(mm, a + 2 * PG);
	assert_true(m1.present);
	assert_true(m1.zero_page);
	assert_false(m1.writable);
	assert_true(m2.zero_page);
	/* one shared zero page */
	assert_int_equal(m1.pfn, m2.pfn);
	/* reads allocate nothing */
	assert_int_equal(frames_used(eng), 0);
	if (m1.page)
		assert_true(finfo(m1.page).zero);

	/* a write replaces it with a real page */
	store8(mm, a + PG + 5, 0x99);
	struct pinmm_mapping m3 = follow(mm, a + PG);
	assert_true(m3.present);
	assert_false(m3.zero_page);
	assert_true(m3.writable);
	assert_int_not_equal(m3.pfn, m1.pfn);
	assert_int_equal(frames_used(eng), 1);
	assert_int_equal(load8(mm, a + PG + 5), 0x99);
	assert_int_equal(load8(mm, a + PG + 6), 0);
	/* the other reader still sees zeros on the zero page */
	assert_int_equal(load8(mm, a + 2 * PG + 5), 0);
	assert_true(follow(mm, a + 2 * PG).zero_page);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void follow_page_outside_vma(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_mapping m;
	uint64_t a = map_rw(mm, 1);

	memset(&m, 0xff, sizeof(m));
	assert_int_equal(pinmm_follow_page(mm, a + 16 * PG, &m), -EFAULT);
	assert_false(m.present);
	assert_int_equal(pinmm_munmap(mm, a, PG), 0);
	assert_int_equal(pinmm_follow_page(mm, a, &m), -EFAULT);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ================================================================ fork === */

static void fork_cow_private(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2);

	fill(mm, a, 0x11, 2 * PG);
	uint64_t pfn = pfn_at(mm, a);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_not_equal(pinmm_mm_id(child), pinmm_mm_id(mm));
	assert_ptr_equal(pinmm_mm_engine(child), eng);
	/* shared copy-on-write: same frame, write-protected in both */
	assert_int_equal(pfn_at(child, a), pfn);
	assert_false(follow(mm, a).writable);
	assert_false(follow(child, a).writable);
	assert_int_equal(finfo_at(mm, a).mapcount, 2);
	assert_bytes(child, a, 0x11, 2 * PG);

	/* child writes: its own copy */
	store8(child, a, 0x22);
	assert_int_equal(load8(child, a), 0x22);
	assert_int_equal(load8(mm, a), 0x11);
	assert_int_not_equal(pfn_at(child, a), pfn_at(mm, a));
	/* parent writes: the child does not see it */
	store8(mm, a + PG, 0x33);
	assert_int_equal(load8(mm, a + PG), 0x33);
	assert_int_equal(load8(child, a + PG), 0x11);
	store8(mm, a, 0x44);
	assert_int_equal(load8(mm, a), 0x44);
	assert_int_equal(load8(child, a), 0x22);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	assert_bytes(mm, a + 1, 0x11, PG - 1);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void fork_parent_reuses_after_child_exit(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 1);

	fill(mm, a, 0x11, PG);
	uint64_t pfn = pfn_at(mm, a);
	struct pinmm_mm *child = fork_mm(mm);
	pinmm_mm_exit(child);
	/* the page is the parent's alone again: the write fault reuses it */
	store8(mm, a, 0x12);
	assert_int_equal(pfn_at(mm, a), pfn);
	assert_int_equal(load8(mm, a), 0x12);
	assert_int_equal(frames_used(eng), 1);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void fork_shared_anon(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_shared(mm, 2);

	fill(mm, a, 0x01, 2 * PG);
	struct pinmm_mm *child = fork_mm(mm);
	store8(child, a, 0x02);
	assert_int_equal(load8(mm, a), 0x02);
	store8(mm, a + PG, 0x03);
	assert_int_equal(load8(child, a + PG), 0x03);
	assert_int_equal(pfn_at(mm, a), pfn_at(child, a));
	/* a grandchild shares it too */
	struct pinmm_mm *gc = fork_mm(child);
	store8(gc, a + 9, 0x04);
	assert_int_equal(load8(mm, a + 9), 0x04);
	pinmm_mm_exit(child);
	/* it survives the exit of the mm that wrote it */
	assert_int_equal(load8(gc, a), 0x02);
	pinmm_mm_exit(gc);
	assert_int_equal(load8(mm, a), 0x02);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void fork_chain_and_exit_order(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 8);
	struct pinmm_mm *kids[4];

	fill(mm, a, 0xA0, 8 * PG);
	for (unsigned i = 0; i < 4; i++) {
		kids[i] = fork_mm(i ? kids[i - 1] : mm);
		store8(kids[i], a + i * PG, (uint8_t)(0xB0 + i));
	}
	for (unsigned i = 0; i < 4; i++)
		for (unsigned j = 0; j < 4; j++)
			assert_int_equal(load8(kids[i], a + j * PG),
					 j <= i ? 0xB0 + j : 0xA0);
	assert_bytes(mm, a, 0xA0, 8 * PG);
	assert_int_equal(get_stats(eng).nr_mms, 5);
	/* exit in a mixed order */
	pinmm_mm_exit(kids[1]);
	pinmm_mm_exit(mm);
	assert_int_equal(load8(kids[3], a + 3 * PG), 0xB3);
	pinmm_mm_exit(kids[3]);
	pinmm_mm_exit(kids[0]);
	assert_int_equal(load8(kids[2], a + 2 * PG), 0xB2);
	assert_int_equal(load8(kids[2], a + 7 * PG), 0xA0);
	pinmm_mm_exit(kids[2]);
	finish_engine(eng);
}

static void fork_keeps_protection_and_zero_page(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2);

	assert_int_equal(load8(mm, a), 0);	/* zero page */
	fill(mm, a + PG, 5, PG);
	assert_int_equal(pinmm_mprotect(mm, a + PG, PG, PROT_R), 0);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(store_err(child, a + PG, 1), -EACCES);
	assert_int_equal(load8(child, a + PG), 5);
	assert_int_equal(load8(child, a), 0);
	store8(child, a, 6);
	assert_int_equal(load8(mm, a), 0);
	assert_int_equal(load8(child, a), 6);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ========================================================== many VMAs === */

static void many_vmas(void **state)
{
	(void)state;
	enum { N = 10000 };
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, N);

	/* every odd page read-only: N separate VMAs */
	for (unsigned i = 1; i < N; i += 2)
		assert_int_equal(pinmm_mprotect(mm, a + (uint64_t)i * PG, PG, PROT_R), 0);
	for (unsigned i = 0; i < N; i += 2)
		store8(mm, a + (uint64_t)i * PG + (i % PG), (uint8_t)i);
	for (unsigned i = 0; i < N; i++) {
		if (i & 1) {
			assert_int_equal(store_err(mm, a + (uint64_t)i * PG, 1), -EACCES);
			assert_int_equal(load8(mm, a + (uint64_t)i * PG), 0);
		} else {
			assert_int_equal(load8(mm, a + (uint64_t)i * PG + (i % PG)),
					 (uint8_t)i);
		}
	}
	assert_invariants(eng);
	/* fork of a many-VMA mm */
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(load8(child, a + 4000ul * PG + 4000 % PG), (uint8_t)4000);
	assert_int_equal(store_err(child, a + 4001ul * PG, 1), -EACCES);
	pinmm_mm_exit(child);
	/* punch holes into half of them, then unmap everything */
	for (unsigned i = 0; i < N; i += 4)
		assert_int_equal(pinmm_munmap(mm, a + (uint64_t)i * PG, PG), 0);
	assert_int_equal(load_err(mm, a + 4ul * PG), -EFAULT);
	assert_int_equal(load8(mm, a + 2ul * PG + 2), 2);
	assert_invariants(eng);
	assert_int_equal(pinmm_munmap(mm, a, (uint64_t)N * PG), 0);
	assert_int_equal(frames_used(eng), 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ================================================================ exit === */

static void exit_frees_everything(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_mm *mm2 = make_mm(eng);

	(void)map_rw_populated(mm, 64);
	uint64_t s = map_shared(mm, 4);
	fill(mm, s, 1, 4 * PG);
	(void)map_rw_populated(mm2, 32);
	assert_true(frames_used(eng) >= 100);
	assert_int_equal(get_stats(eng).nr_mms, 2);
	pinmm_mm_exit(mm);
	assert_int_equal(get_stats(eng).nr_mms, 1);
	assert_true(frames_used(eng) >= 32);
	assert_invariants(eng);
	pinmm_mm_exit(mm2);
	assert_int_equal(get_stats(eng).page_tables, 0);
	finish_engine(eng);
}

static void destroy_with_live_mm(void **state)
{
	(void)state;
	/* destroy tears down remaining mms: nothing pinned, so no leak */
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 4);
	store8(mm, a, 1);
	assert_int_equal(pinmm_destroy(eng), 0);
}

static void config_and_create(void **state)
{
	(void)state;
	struct pinmm_config cfg;
	struct pinmm *eng = NULL;

	pinmm_config_default(&cfg);
	assert_true(cfg.normal_frames > 0);
	/* no movable zone: a kernel booted without movablecore */
	assert_int_equal(cfg.movable_frames, 0);
	assert_int_equal(cfg.policy.on, PINMM_POLICY_STRICT.on);
	/* a zone size not a multiple of 512 */
	struct pinmm_config bad = cfg;
	bad.normal_frames = 513;
	assert_int_equal(pinmm_create(&bad, &eng), -EINVAL);
	bad = cfg;
	bad.normal_frames = 0;
	bad.movable_frames = 0;
	assert_int_equal(pinmm_create(&bad, &eng), -EINVAL);

	eng = make_strict_engine();
	assert_int_equal(pinmm_get_policy(eng).on, PINMM_POLICY_STRICT.on);
	struct pinmm_stats st = get_stats(eng);
	assert_int_equal(st.frames_total[PINMM_ZONE_NORMAL], cfg.normal_frames);
	assert_int_equal(st.frames_total[PINMM_ZONE_MOVABLE], cfg.movable_frames);
	assert_int_equal(st.frames_used, 0);
	assert_int_equal(st.nr_mms, 0);
	finish_engine(eng);
}

static void policy_text(void **state)
{
	(void)state;
	struct pinmm_policy p;
	char buf[256], err[128];

	assert_int_equal(pinmm_policy_parse("strict", &p, err, sizeof(err)), 0);
	assert_int_equal(p.on, PINMM_POLICY_STRICT.on);
	assert_int_equal(pinmm_policy_parse("legacy", &p, err, sizeof(err)), 0);
	assert_int_equal(p.on, 0);
	assert_int_equal(pinmm_policy_parse("strict,-anon_exclusive", &p, err,
					    sizeof(err)), 0);
	assert_int_equal(p.on, policy_strict_without(PINMM_SW_ANON_EXCLUSIVE).on);
	assert_int_equal(pinmm_policy_parse("legacy,+pin_accounting", &p, err,
					    sizeof(err)), 0);
	assert_int_equal(p.on, 1u << PINMM_SW_PIN_ACCOUNTING);
	assert_int_equal(pinmm_policy_parse("strict,-no_such_switch", &p, err,
					    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no_such_switch"));
	assert_int_equal(pinmm_policy_parse("bogus", &p, err, sizeof(err)), -EINVAL);

	for (int s = 0; s < PINMM_SW_NR; s++) {
		const char *n = pinmm_switch_name((enum pinmm_switch)s);
		assert_non_null(n);
		assert_int_equal(pinmm_switch_lookup(n, strlen(n)), s);
	}
	assert_null(pinmm_switch_name(PINMM_SW_NR));
	assert_int_equal(pinmm_switch_lookup("nope", 4), -EINVAL);

	struct pinmm_policy q = policy_strict_without(PINMM_SW_FORK_COPY_PINNED);
	int n = pinmm_policy_format(q, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf, "strict,-fork_copy_pinned");
	assert_int_equal(pinmm_policy_parse(buf, &p, err, sizeof(err)), 0);
	assert_int_equal(p.on, q.on);
	pinmm_policy_format(PINMM_POLICY_STRICT, buf, sizeof(buf));
	assert_string_equal(buf, "strict");
	pinmm_policy_format(PINMM_POLICY_LEGACY, buf, sizeof(buf));
	assert_string_equal(buf, "legacy");
}


/* ====================================================== out of memory === */

static void populate_out_of_memory(void **state)
{
	(void)state;
	/* 4 MiB of frames; the mapping is bigger */
	struct pinmm *eng = make_small_engine(512, 512);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = 0;
	enum { N = 1200 };

	/* POPULATE failing part-way still returns 0 and keeps the mapping */
	assert_int_equal(pinmm_mmap(mm, 0, N * PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_POPULATE, &a), 0);
	size_t used = frames_used(eng);
	assert_true(used > 0);
	assert_true(used <= 1024);
	unsigned present = 0, first_absent = N;
	for (unsigned i = 0; i < N; i++) {
		if (follow(mm, a + (uint64_t)i * PG).present)
			present++;
		else if (first_absent == N)
			first_absent = i;
	}
	assert_true(present < N);
	assert_true(first_absent < N);
	/* a write fault with no frame left: ENOMEM, nothing written */
	assert_int_equal(store_err(mm, a + (uint64_t)first_absent * PG, 1), -ENOMEM);
	/* reads still work (the zero page needs no frame) */
	assert_int_equal(load8(mm, a + (uint64_t)first_absent * PG), 0);
	/* so does a fork (COW shares) */
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(load8(child, a), 0);
	/* ... but a COW copy has no frame either */
	assert_int_equal(store_err(child, a, 1), -ENOMEM);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	/* give memory back: faults work again */
	assert_int_equal(pinmm_munmap(mm, a, 512 * PG), 0);
	store8(mm, a + (uint64_t)first_absent * PG, 5);
	assert_int_equal(load8(mm, a + (uint64_t)first_absent * PG), 5);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* Injected allocation failures (pinmm_fail_alloc_nth) at every allocation of
 * a sequence of mm operations: each call fails cleanly with -ENOMEM or
 * succeeds, the invariants hold, and nothing leaks. */
static void alloc_fail_sweep(bool sticky)
{
	unsigned long nth;

	for (nth = 1; nth < 10000; nth++) {
		struct pinmm *eng = make_strict_engine();
		struct pinmm_mm *mm = make_mm(eng), *child = NULL;
		uint64_t a = map_rw(mm, 8), b = 0, out = 0;
		int r;

		fill(mm, a, 0x11, 8 * PG);
		(void)pinmm_fail_alloc_nth(eng, nth, sticky);

		r = pinmm_mmap(mm, 0, 16 * PG, PROT_RW,
			       PINMM_MAP_PRIVATE | PINMM_MAP_POPULATE, &b);
		assert_true(r == 0 || r == -ENOMEM);
		if (r != 0)
			b = 0;
		r = pinmm_store_fill(mm, a, 0x22, 8 * PG);	/* no fault: present */
		assert_int_equal(r, 0);
		r = pinmm_fork(mm, &child);
		assert_true(r == 0 || r == -ENOMEM);
		if (r == 0) {
			assert_non_null(child);
			r = pinmm_store_fill(child, a + PG, 0x33, 2 * PG);	/* COW */
			assert_true(r == 0 || r == -ENOMEM);
		} else {
			child = NULL;
		}
		r = pinmm_mprotect(mm, a + 2 * PG, PG, PROT_R);	/* split */
		assert_true(r == 0 || r == -ENOMEM);
		r = pinmm_munmap(mm, a + 5 * PG, PG);		/* split */
		assert_true(r == 0 || r == -ENOMEM);
		bool unmapped5 = r == 0;
		/* look now: a later mmap may legitimately fill the hole */
		int load5 = load_err(mm, a + 5 * PG);
		if (b) {
			r = pinmm_mremap(mm, b, 16 * PG, 32 * PG,
					 PINMM_MREMAP_MAYMOVE, 0, &out);
			assert_true(r == 0 || r == -ENOMEM);
		}
		uint64_t q = 0;
		r = pinmm_mmap(mm, 0, PG, PROT_RW, PINMM_MAP_SHARED, &q);
		assert_true(r == 0 || r == -ENOMEM);
		if (r == 0) {
			r = store_err(mm, q, 1);
			assert_true(r == 0 || r == -ENOMEM);
		}

		unsigned long calls = pinmm_fail_alloc_nth(eng, 0, false);
		assert_invariants(eng);
		/* the parent's data survived whatever failed */
		assert_bytes(mm, a, 0x22, PG);
		assert_bytes(mm, a + 7 * PG, 0x22, PG);
		if (!unmapped5) {
			assert_int_equal(load5, 0);
			assert_bytes(mm, a + 5 * PG, 0x22, PG);
		} else {
			assert_int_equal(load5, -EFAULT);
		}
		if (child) {
			uint8_t v = load8(child, a + PG);
			assert_true(v == 0x33 || v == 0x22);
			assert_int_equal(load8(child, a), 0x22);
			pinmm_mm_exit(child);
		}
		pinmm_mm_exit(mm);
		finish_engine(eng);
		if (calls < nth)	/* the injection point was never reached */
			break;
	}
	assert_true(nth > 5);	/* the sequence does allocate */
}

static void alloc_fail_sweep_once(void **state)
{
	(void)state;
	alloc_fail_sweep(false);
}

static void alloc_fail_sweep_sticky(void **state)
{
	(void)state;
	alloc_fail_sweep(true);
}

static void mm_create_alloc_fail(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = NULL;

	(void)pinmm_fail_alloc_nth(eng, 1, true);
	assert_int_equal(pinmm_mm_create(eng, &mm), -ENOMEM);
	(void)pinmm_fail_alloc_nth(eng, 0, false);
	assert_int_equal(get_stats(eng).nr_mms, 0);
	mm = make_mm(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* The last pages of user space can be mapped, changed and unmapped: the
 * range ends exactly at PINMM_USER_MAX (exclusive), one page further does
 * not fit. */
static void mmap_up_to_user_max(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t top = PINMM_USER_MAX - 2 * PG, out = 0;

	assert_int_equal(pinmm_mmap(mm, top, 2 * PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED, &out), 0);
	assert_int_equal(out, top);
	store8(mm, PINMM_USER_MAX - 1, 0x7F);
	assert_int_equal(load8(mm, PINMM_USER_MAX - 1), 0x7F);
	assert_int_equal(pinmm_mprotect(mm, top, 2 * PG, PROT_R), 0);
	assert_int_equal(store_err(mm, PINMM_USER_MAX - 1, 1), -EACCES);
	assert_int_equal(pinmm_munmap(mm, top + PG, PG), 0);
	assert_int_equal(load_err(mm, PINMM_USER_MAX - 1), -EFAULT);
	int r = pinmm_mmap(mm, top + PG, 2 * PG, PROT_RW,
			   PINMM_MAP_PRIVATE | PINMM_MAP_FIXED, &out);
	assert_true(r == -EINVAL || r == -ENOMEM);
	assert_int_equal(pinmm_munmap(mm, top, 2 * PG), 0);
	assert_int_equal(frames_used(eng), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* Another thread can take mm's mmap_lock for read right now. */
static void *try_mmap_read_lock(void *arg)
{
	struct pinmm_mm *mm = arg;
	int r = pthread_rwlock_tryrdlock(&mm->mmap_lock.rw);

	if (r == 0)
		pthread_rwlock_unlock(&mm->mmap_lock.rw);
	return (void *)(intptr_t)r;
}

static void assert_mmap_lock_free(struct pinmm_mm *mm)
{
	pthread_t t;
	void *r = NULL;

	assert_int_equal(pthread_create(&t, NULL, try_mmap_read_lock, mm), 0);
	assert_int_equal(pthread_join(t, &r), 0);
	assert_int_equal((intptr_t)r, 0);
}

/* Every mm call gives mmap_lock back, on success and on error (a call that
 * kept it would stall every other thread of the process). */
static void mm_calls_release_mmap_lock(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 8), out = 0;
	struct pinmm_pin pin;
	struct pinmm_page *pages[1];

	assert_mmap_lock_free(mm);
	assert_int_equal(pinmm_mprotect(mm, a, 2 * PG, PROT_R), 0);
	assert_mmap_lock_free(mm);
	assert_int_equal(pinmm_mprotect(mm, a + 7 * PG, 4 * PG, PROT_R), -ENOMEM);
	assert_mmap_lock_free(mm);
	assert_int_equal(pinmm_mprotect(mm, a, 8 * PG, PROT_RW), 0);
	assert_mmap_lock_free(mm);
	assert_int_equal(pinmm_munmap(mm, a + 6 * PG, PG), 0);
	assert_mmap_lock_free(mm);
	assert_int_equal(pinmm_mremap(mm, a, 2 * PG, 4 * PG, PINMM_MREMAP_MAYMOVE, 0,
				      &out), 0);
	assert_mmap_lock_free(mm);
	assert_int_equal(pinmm_madvise(mm, a + 2 * PG, PG, PINMM_MADV_DONTNEED), 0);
	assert_mmap_lock_free(mm);
	store8(mm, a + 3 * PG, 1);
	assert_mmap_lock_free(mm);
	zero_pin(&pin);
	pin_ok(mm, &pin, a + 3 * PG, 1, PINMM_FOLL_WRITE, false, pages);
	assert_mmap_lock_free(mm);
	unpin_ok(&pin);
	struct pinmm_mm *child = fork_mm(mm);
	assert_mmap_lock_free(mm);
	assert_mmap_lock_free(child);
	pinmm_mm_exit(child);
	assert_int_equal(pinmm_mmap(mm, 0, PG, PROT_RW, PINMM_MAP_SHARED, &out), 0);
	assert_mmap_lock_free(mm);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void mmap_hint_used_when_free(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 4), out = 0;

	assert_int_equal(pinmm_munmap(mm, a, 4 * PG), 0);
	/* a free, aligned hint is taken as is (Linux does) */
	assert_int_equal(pinmm_mmap(mm, a + PG, PG, PROT_RW, PINMM_MAP_PRIVATE,
				    &out), 0);
	assert_int_equal(out, a + PG);
	/* an occupied hint is not an error: somewhere else */
	uint64_t out2 = 0;
	assert_int_equal(pinmm_mmap(mm, a + PG, PG, PROT_RW, PINMM_MAP_PRIVATE,
				    &out2), 0);
	assert_int_not_equal(out2, a + PG);
	store8(mm, out, 1);
	store8(mm, out2, 2);
	assert_int_equal(load8(mm, out), 1);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* mprotect and madvise merge the VMAs they split once the pieces are alike
 * again (Linux's vma_merge); pieces of different mappings never merge. */
static void vma_merge_after_flag_changes(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 8), b;

	unsigned long nr = mm->nr_vmas;
	assert_int_equal(pinmm_mprotect(mm, a + PG, 2 * PG, PROT_R), 0);
	assert_int_equal(mm->nr_vmas, nr + 2);
	assert_int_equal(pinmm_mprotect(mm, a + PG, 2 * PG, PROT_RW), 0);
	assert_int_equal(mm->nr_vmas, nr);
	assert_int_equal(pinmm_madvise(mm, a + 4 * PG, 4 * PG, PINMM_MADV_DONTFORK), 0);
	assert_int_equal(mm->nr_vmas, nr + 1);
	assert_int_equal(pinmm_madvise(mm, a + 4 * PG, 4 * PG, PINMM_MADV_DOFORK), 0);
	assert_int_equal(mm->nr_vmas, nr);
	/* another mapping right after it: its own anon_vma, never merged */
	assert_int_equal(pinmm_mmap(mm, a + 8 * PG, PG, PROT_RW, PINMM_MAP_PRIVATE | PINMM_MAP_FIXED,
				    &b), 0);
	assert_int_equal(pinmm_mprotect(mm, a, 9 * PG, PROT_RW), 0);
	assert_int_equal(mm->nr_vmas, nr + 1);
	assert_bytes(mm, a, 0, 8 * PG);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* The limits on what the engine keeps outside its frames: VMAs per mm
 * (vm.max_map_count), live processes, page tables. Past each a clear
 * error (-ENOMEM, -EAGAIN for fork), nothing half done. */
static void limits_on_metadata(void **state)
{
	(void)state;
	struct pinmm_config cfg;
	struct pinmm *eng = NULL;
	struct pinmm_mm *mm, *child = NULL, *more = NULL;
	uint64_t a, b;

	pinmm_config_default(&cfg);
	assert_int_equal(cfg.max_map_count, 65530);
	cfg.max_map_count = 4;
	cfg.max_mms = 2;
	cfg.max_page_tables = 8;
	assert_int_equal(pinmm_create(&cfg, &eng), 0);
	mm = make_mm(eng);
	/* 4 VMAs: a fifth mapping, or a split, is refused */
	for (int i = 0; i < 4; i++)
		assert_int_equal(pinmm_mmap(mm, 0, 4 * PG, PROT_RW, PINMM_MAP_PRIVATE, &a), 0);
	assert_int_equal(pinmm_mmap(mm, 0, PG, PROT_RW, PINMM_MAP_PRIVATE, &b), -ENOMEM);
	assert_int_equal(pinmm_mprotect(mm, a + PG, PG, PROT_R), -ENOMEM);
	assert_int_equal(mm->nr_vmas, 4);
	store8(mm, a, 1);
	/* two live processes: a third fork is EAGAIN, after an exit it works */
	assert_int_equal(pinmm_fork(mm, &child), 0);
	assert_int_equal(pinmm_fork(mm, &more), -EAGAIN);
	assert_int_equal(pinmm_mm_create(eng, &more), -EAGAIN);
	pinmm_mm_exit(child);
	assert_int_equal(pinmm_fork(mm, &child), 0);
	pinmm_mm_exit(child);
	/* 8 page tables: touching far apart runs out of them, -ENOMEM */
	assert_int_equal(pinmm_munmap(mm, a, 4 * PG), 0);
	int err = 0;
	for (int i = 0; i < 8 && !err; i++) {
		uint64_t far = 0x100000000ull + (uint64_t)i * (1ull << 39);
		err = pinmm_mmap(mm, far, PG, PROT_RW, PINMM_MAP_PRIVATE | PINMM_MAP_FIXED, &b);
		if (!err)
			err = store_err(mm, b, 1);
	}
	assert_int_equal(err, -ENOMEM);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vma_merge_after_flag_changes),
		cmocka_unit_test(limits_on_metadata),
		cmocka_unit_test(config_and_create),
		cmocka_unit_test(policy_text),
		cmocka_unit_test(mmap_private_anon_basic),
		cmocka_unit_test(mmap_shared_anon_basic),
		cmocka_unit_test(mmap_two_mappings_distinct),
		cmocka_unit_test(mmap_unaligned_len_rounds_up),
		cmocka_unit_test(mmap_fixed_replaces),
		cmocka_unit_test(mmap_fixed_into_free_space),
		cmocka_unit_test(mmap_fixed_noreplace),
		cmocka_unit_test(mmap_populate),
		cmocka_unit_test(mmap_populate_readonly),
		cmocka_unit_test(mmap_not_populated_is_lazy),
		cmocka_unit_test(mmap_align_2m),
		cmocka_unit_test(mmap_bad_args),
		cmocka_unit_test(munmap_partial_front_back),
		cmocka_unit_test(munmap_middle_split),
		cmocka_unit_test(munmap_holes_ok),
		cmocka_unit_test(munmap_bad_args),
		cmocka_unit_test(munmap_unaligned_len_rounds_up),
		cmocka_unit_test(mprotect_readonly),
		cmocka_unit_test(mprotect_none),
		cmocka_unit_test(mprotect_middle_page),
		cmocka_unit_test(mprotect_bad_args),
		cmocka_unit_test(madvise_dontneed_zeroes),
		cmocka_unit_test(madvise_dontneed_shared_keeps_data),
		cmocka_unit_test(madvise_free),
		cmocka_unit_test(madvise_dontfork_dofork),
		cmocka_unit_test(madvise_bad_args),
		cmocka_unit_test(mremap_grow_in_place),
		cmocka_unit_test(mremap_shrink),
		cmocka_unit_test(mremap_grow_blocked_needs_maymove),
		cmocka_unit_test(mremap_fixed),
		cmocka_unit_test(mremap_move_shrink_and_grow),
		cmocka_unit_test(mremap_part_of_vma),
		cmocka_unit_test(mremap_dontunmap),
		cmocka_unit_test(mremap_bad_args),
		cmocka_unit_test(access_across_page_boundary),
		cmocka_unit_test(access_efault_unmapped),
		cmocka_unit_test(access_straddling_end_of_mapping),
		cmocka_unit_test(zero_page_for_reads),
		cmocka_unit_test(follow_page_outside_vma),
		cmocka_unit_test(fork_cow_private),
		cmocka_unit_test(fork_parent_reuses_after_child_exit),
		cmocka_unit_test(fork_shared_anon),
		cmocka_unit_test(fork_chain_and_exit_order),
		cmocka_unit_test(fork_keeps_protection_and_zero_page),
		cmocka_unit_test(many_vmas),
		cmocka_unit_test(exit_frees_everything),
		cmocka_unit_test(destroy_with_live_mm),
		cmocka_unit_test(mmap_hint_used_when_free),
		cmocka_unit_test(mmap_up_to_user_max),
		cmocka_unit_test(mm_calls_release_mmap_lock),
		cmocka_unit_test(populate_out_of_memory),
		cmocka_unit_test(mm_create_alloc_fail),
		cmocka_unit_test(alloc_fail_sweep_once),
		cmocka_unit_test(alloc_fail_sweep_sticky),
	};
	return cmocka_run_group_tests_name("mm", tests, NULL, NULL);
}
