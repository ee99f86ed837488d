/* SPDX-License-Identifier: MIT */
/*
 * tests/test_misuse.c - API misuse: every call answers its documented error
 * and changes nothing (the invariants hold, the frames in use and the bytes
 * mapped are what they were).
 *
 * test_gup.c already covers: double unpin/put, unpin of a get and put of a
 * pin, a stale copy of a released handle, a handle with a garbage magic, a
 * held handle reused (-EBUSY), the bad-argument answers of pin/get and of
 * the page layer, a pin across a hole (slow, R/W). test_mm.c covers the bad
 * arguments of mmap/munmap/mprotect/madvise/mremap and CPU access to no
 * mapping. Here: what those leave out — a stale copy whose slot was reused
 * by a newer pin, forged slots and generations, pins across holes for every
 * variant, every call on an exited mm (-ESRCH), every call after munmap,
 * lengths and addresses that overflow, NULL pointers, device access out of
 * range or of 0 bytes, migrate/split/uprobe/file misuse, engine sizes that
 * overflow, and NULL given to the getters and void calls (one test each).
 */
#include "helpers.h"

struct world {
	struct pinmm *eng;
	struct pinmm_mm *mm;
	uint64_t a;		/* 4 populated pages, page i = 0x30+i */
	size_t frames;
};

static void setup(struct world *w)
{
	w->eng = make_strict_engine();
	w->mm = make_mm(w->eng);
	w->a = map_rw_populated(w->mm, 4);
	for (unsigned i = 0; i < 4; i++)
		fill(w->mm, w->a + i * PG, (uint8_t)(0x30 + i), PG);
	w->frames = frames_used(w->eng);
}

/* nothing changed: invariants, frames, bytes */
static void assert_unchanged(struct world *w)
{
	assert_invariants(w->eng);
	assert_int_equal(frames_used(w->eng), w->frames);
	for (unsigned i = 0; i < 4; i++)
		assert_bytes(w->mm, w->a + i * PG, (uint8_t)(0x30 + i), PG);
}

static void teardown(struct world *w)
{
	pinmm_mm_exit(w->mm);
	finish_engine(w->eng);
}

/* ================================================================ handles */

/* A stale copy of a released handle must not release the pin that reused
 * its slot afterwards (the generation tells them apart). */
static void stale_copy_after_slot_reuse(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *p1[1], *p2[1];
	struct pinmm_pin pin, stale, newer;

	setup(&w);
	zero_pin(&pin);
	zero_pin(&newer);
	pin_ok(w.mm, &pin, w.a, 1, PINMM_FOLL_WRITE, false, p1);
	memcpy(&stale, &pin, sizeof(pin));
	unpin_ok(&pin);
	for (int i = 0; i < 4; i++) {
		/* likely the same slot, a newer generation */
		pin_ok(w.mm, &newer, w.a, 1, PINMM_FOLL_WRITE, i & 1, p2);
		assert_int_equal(pinmm_unpin(&stale), -EINVAL);
		assert_int_equal(pinmm_put(&stale), -EINVAL);
		assert_true(pinmm_pin_held(&newer));
		assert_int_equal(finfo(p2[0]).pincount, 1);
		uint8_t b;
		assert_int_equal(pinmm_dev_read(&stale, 0, 0, &b, 1), -EINVAL);
		assert_int_equal(pinmm_dev_write(&stale, 0, 0, &b, 1), -EINVAL);
		unpin_ok(&newer);
	}
	assert_unchanged(&w);
	teardown(&w);
}

/* A held handle's copy with its slot or generation forged. */
static void forged_slot_and_generation(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *pp[2];
	struct pinmm_pin pin, f;

	setup(&w);
	zero_pin(&pin);
	pin_ok(w.mm, &pin, w.a, 2, PINMM_FOLL_WRITE, true, pp);
	int ref = finfo(pp[0]).refcount;
	uint32_t deltas[] = { 1, 2, 0x7fffffffu, 0xffffffffu };

	for (size_t i = 0; i < ARRAY_LEN(deltas); i++) {
		memcpy(&f, &pin, sizeof(pin));
		f.gen += deltas[i];
		assert_int_equal(pinmm_unpin(&f), -EINVAL);
		memcpy(&f, &pin, sizeof(pin));
		f.slot += deltas[i];
		assert_int_equal(pinmm_unpin(&f), -EINVAL);
	}
	assert_true(pinmm_pin_held(&pin));
	assert_int_equal(finfo(pp[0]).pincount, 1);
	assert_int_equal(finfo(pp[0]).refcount, ref);
	unpin_ok(&pin);
	assert_int_equal(finfo_at(w.mm, w.a).pincount, 0);
	assert_unchanged(&w);
	teardown(&w);
}

/*
 * A copy of a held pin with its public `kind` field changed to GET, then
 * put: GUARANTEE.md says a put of a pin answers EINVAL and changes nothing.
 * The engine's record keeps (slot, generation) but not the kind, so the
 * forged copy is accepted and the pin is released as a plain reference
 * (refcount dropped, pincount left) - see docs/testing.md.
 */
static void forged_kind_put_of_a_pin(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *pp[1];
	struct pinmm_pin pin, f;

	setup(&w);
	zero_pin(&pin);
	pin_ok(w.mm, &pin, w.a, 1, PINMM_FOLL_WRITE, false, pp);
	int ref = finfo(pp[0]).refcount;
	memcpy(&f, &pin, sizeof(pin));
	f.kind = PINMM_PIN_GET;
	int r = pinmm_put(&f);
	if (r == 0) {
		print_error("put of a pin through a copy whose kind says GET: accepted; "
			    "pincount %d, refcount %d (was %d)\n", finfo(pp[0]).pincount,
			    finfo(pp[0]).refcount, ref);
		fail_msg("put of a pin (forged kind) was accepted");
	}
	assert_int_equal(r, -EINVAL);
	assert_true(pinmm_pin_held(&pin));
	assert_int_equal(finfo(pp[0]).pincount, 1);
	assert_int_equal(finfo(pp[0]).refcount, ref);
	unpin_ok(&pin);
	assert_unchanged(&w);
	teardown(&w);
}

/*
 * Device access through a held handle with a NULL buffer: -EINVAL, as
 * pinmm_load/pinmm_store answer. The engine copies through the NULL pointer
 * (a crash) - see docs/testing.md.
 */
static void device_access_null_buffer(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *pp[1];
	struct pinmm_pin pin;

	setup(&w);
	zero_pin(&pin);
	pin_ok(w.mm, &pin, w.a, 1, PINMM_FOLL_WRITE, false, pp);
	assert_int_equal(pinmm_dev_write(&pin, 0, 0, NULL, 1), -EINVAL);
	assert_int_equal(pinmm_dev_read(&pin, 0, 0, NULL, 1), -EINVAL);
	unpin_ok(&pin);
	assert_unchanged(&w);
	teardown(&w);
}

/* NULL handles and arrays */
static void null_pointers_handles(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *pp[1];
	struct pinmm_pin pin;
	uint8_t b = 0;

	setup(&w);
	zero_pin(&pin);
	assert_int_equal(pinmm_unpin(NULL), -EINVAL);
	assert_int_equal(pinmm_put(NULL), -EINVAL);
	assert_false(pinmm_pin_held(NULL));
	assert_int_equal(pinmm_pin(w.mm, NULL, w.a, 1, 0, false, pp), -EINVAL);
	assert_int_equal(pinmm_get(w.mm, NULL, w.a, 1, 0, true, pp), -EINVAL);
	assert_int_equal(pinmm_pin(w.mm, &pin, w.a, 1, 0, false, NULL), -EINVAL);
	assert_int_equal(pinmm_get(w.mm, &pin, w.a, 1, 0, true, NULL), -EINVAL);
	assert_int_equal(pinmm_pin(NULL, &pin, w.a, 1, 0, false, pp), -EINVAL);
	assert_int_equal(pinmm_pin_user_pages(NULL, w.a, 1, 0, pp), -EINVAL);
	assert_int_equal(pinmm_pin_user_pages(w.mm, w.a, 1, 0, NULL), -EINVAL);
	assert_int_equal(pinmm_get_user_pages_fast(w.mm, w.a, 1, 0, NULL), -EINVAL);
	assert_int_equal(pinmm_dev_read(NULL, 0, 0, &b, 1), -EINVAL);
	assert_int_equal(pinmm_dev_write(NULL, 0, 0, &b, 1), -EINVAL);
	assert_false(pinmm_pin_held(&pin));
	assert_unchanged(&w);
	teardown(&w);
}

/* A range crossing a hole, for every variant: nothing stays pinned or
 * referenced, and the pages before the hole are as they were. */
static void pin_across_hole_every_variant(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *pp[4];
	struct pinmm_pin pin;

	setup(&w);
	assert_int_equal(pinmm_munmap(w.mm, w.a + 2 * PG, PG), 0);
	w.frames = frames_used(w.eng);
	int ref0 = finfo_at(w.mm, w.a).refcount;
	for (int v = 0; v < 16; v++) {
		unsigned flags = ((v & 1) ? PINMM_FOLL_WRITE : 0) |
				 ((v & 2) ? PINMM_FOLL_LONGTERM : 0);
		bool fast = v & 4, get = v & 8;
		zero_pin(&pin);
		int r = get ? pinmm_get(w.mm, &pin, w.a, 4, flags, fast, pp)
			    : pinmm_pin(w.mm, &pin, w.a, 4, flags, fast, pp);
		assert_int_equal(r, -EFAULT);
		assert_false(pinmm_pin_held(&pin));
		assert_int_equal(finfo_at(w.mm, w.a).pincount, 0);
		assert_int_equal(finfo_at(w.mm, w.a + PG).pincount, 0);
		assert_int_equal(finfo_at(w.mm, w.a).refcount, ref0);
		assert_invariants(w.eng);
	}
	assert_int_equal(frames_used(w.eng), w.frames);
	assert_bytes(w.mm, w.a, 0x30, PG);
	assert_bytes(w.mm, w.a + 3 * PG, 0x33, PG);
	teardown(&w);
}

/* Device access out of the handle's range. */
static void device_access_out_of_range(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *pp[2], *rop[1];	/* a held handle keeps its array */
	struct pinmm_pin pin, ro;
	uint8_t buf[16] = { 0 };

	setup(&w);
	zero_pin(&pin);
	zero_pin(&ro);
	pin_ok(w.mm, &pin, w.a, 2, PINMM_FOLL_WRITE, false, pp);
	assert_int_equal(pinmm_dev_read(&pin, 2, 0, buf, 1), -EINVAL);
	assert_int_equal(pinmm_dev_write(&pin, 2, 0, buf, 1), -EINVAL);
	assert_int_equal(pinmm_dev_read(&pin, ~0ul, 0, buf, 1), -EINVAL);
	/* one access runs across the pin's pages, never past its end */
	assert_int_equal(pinmm_dev_read(&pin, 0, 2 * PG, buf, 1), -EINVAL);
	assert_int_equal(pinmm_dev_write(&pin, 1, PG - 8, buf, 16), -EINVAL);
	assert_int_equal(pinmm_dev_fill(&pin, 1, 1, 0xEE, PG), -EINVAL);
	assert_int_equal(pinmm_dev_read(&pin, 0, SIZE_MAX, buf, 2), -EINVAL);
	assert_int_equal(pinmm_dev_write(&pin, 0, 8, buf, SIZE_MAX), -EINVAL);
	pin_ok(w.mm, &ro, w.a + 2 * PG, 1, 0, true, rop);
	assert_int_equal(pinmm_dev_write(&ro, 0, 0, buf, 1), -EPERM);
	assert_int_equal(pinmm_dev_fill(&ro, 0, 0, 0xEE, 8), -EPERM);
	unpin_ok(&ro);
	unpin_ok(&pin);
	assert_unchanged(&w);
	teardown(&w);
}

/* ======================================================== an exited mm */

static void calls_on_exited_mm(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_mm *dead;
	struct pinmm_page *pp[1];
	struct pinmm_pin pin;
	uint64_t out = 0;
	uint8_t b = 0;
	struct pinmm_file *f = NULL;

	setup(&w);
	dead = fork_mm(w.mm);
	pinmm_mm_exit(dead);
	assert_int_equal(pinmm_file_create(w.eng, 2 * PG, 0x55, &f), 0);
	w.frames = frames_used(w.eng);
	zero_pin(&pin);

	assert_int_equal(pinmm_mmap(dead, 0, PG, PROT_RW, PINMM_MAP_PRIVATE, &out), -ESRCH);
	assert_int_equal(pinmm_mmap(dead, w.a, PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_FIXED, &out), -ESRCH);
	assert_int_equal(pinmm_mmap_file(dead, 0, PG, PROT_R, PINMM_MAP_SHARED, f, 0, &out),
			 -ESRCH);
	assert_int_equal(pinmm_munmap(dead, w.a, PG), -ESRCH);
	assert_int_equal(pinmm_mprotect(dead, w.a, PG, PROT_R), -ESRCH);
	assert_int_equal(pinmm_madvise(dead, w.a, PG, PINMM_MADV_DONTNEED), -ESRCH);
	assert_int_equal(pinmm_mremap(dead, w.a, PG, 2 * PG, PINMM_MREMAP_MAYMOVE, 0, &out),
			 -ESRCH);
	struct pinmm_mm *child = NULL;
	assert_int_equal(pinmm_fork(dead, &child), -ESRCH);
	assert_null(child);
	assert_int_equal(pinmm_load(dead, w.a, &b, 1), -ESRCH);
	assert_int_equal(pinmm_store(dead, w.a, &b, 1), -ESRCH);
	assert_int_equal(pinmm_store_fill(dead, w.a, 1, 8), -ESRCH);
	assert_int_equal(pinmm_pin(dead, &pin, w.a, 1, PINMM_FOLL_WRITE, false, pp), -ESRCH);
	assert_int_equal(pinmm_pin(dead, &pin, w.a, 1, 0, true, pp), -ESRCH);
	assert_int_equal(pinmm_get(dead, &pin, w.a, 1, 0, false, pp), -ESRCH);
	assert_int_equal(pinmm_pin_user_pages_fast(dead, w.a, 1, 0, pp), -ESRCH);
	assert_int_equal(pinmm_get_user_pages(dead, w.a, 1, 0, pp), -ESRCH);
	assert_false(pinmm_pin_held(&pin));
	assert_int_equal(pinmm_migrate(dead, w.a), -ESRCH);
	assert_int_equal(pinmm_numa_hint(dead, w.a), -ESRCH);
	assert_int_equal(pinmm_split_pmd(dead, w.a), -ESRCH);
	assert_int_equal(pinmm_split_folio(dead, w.a), -ESRCH);
	/* the engine-wide passes skip it */
	assert_true(pinmm_ksm_scan(w.eng, 1) >= 0);
	assert_true(pinmm_khugepaged_scan(w.eng, 1) >= 0);
	assert_true(pinmm_reclaim(w.eng, 4) >= 0);
	assert_true(pinmm_compact(w.eng) >= 0);
	assert_int_equal(get_stats(w.eng).nr_mms, 1);
	pinmm_file_put(f);
	assert_invariants(w.eng);
	for (unsigned i = 0; i < 4; i++)
		assert_bytes(w.mm, w.a + i * PG, (uint8_t)(0x30 + i), PG);
	teardown(&w);
}

/* ====================================================== after munmap */

static void calls_after_munmap(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *pp[1];
	struct pinmm_pin pin;
	uint64_t gone, out = 0;
	uint8_t b = 0;

	setup(&w);
	gone = map_rw_populated(w.mm, 2);
	fill(w.mm, gone, 0x99, 2 * PG);
	assert_int_equal(pinmm_munmap(w.mm, gone, 2 * PG), 0);
	w.frames = frames_used(w.eng);
	zero_pin(&pin);

	assert_int_equal(pinmm_load(w.mm, gone, &b, 1), -EFAULT);
	assert_int_equal(pinmm_store(w.mm, gone + 5, &b, 1), -EFAULT);
	assert_int_equal(pinmm_store_fill(w.mm, gone, 1, PG), -EFAULT);
	for (int v = 0; v < 4; v++) {
		int r = (v & 2) ? pinmm_get(w.mm, &pin, gone, 1, 0, v & 1, pp)
				: pinmm_pin(w.mm, &pin, gone, 1, PINMM_FOLL_WRITE, v & 1, pp);
		assert_int_equal(r, -EFAULT);
		assert_false(pinmm_pin_held(&pin));
	}
	assert_int_equal(pinmm_pin_user_pages(w.mm, gone, 1, 0, pp), -EFAULT);
	assert_int_equal(pinmm_get_user_pages_fast(w.mm, gone, 1, 0, pp), -EFAULT);
	assert_int_equal(pinmm_migrate(w.mm, gone), -EFAULT);
	assert_int_equal(pinmm_numa_hint(w.mm, gone), -EFAULT);
	assert_int_equal(pinmm_split_folio(w.mm, gone), -EFAULT);
	/* daemons.h documents -EINVAL ("no PMD maps addr"); the engine
	 * answers -EFAULT when no VMA is there either (see docs/testing.md) */
	int r = pinmm_split_pmd(w.mm, gone);
	assert_true(r == -EINVAL || r == -EFAULT);
	/* Linux's answers for a range that is not (fully) mapped */
	assert_int_equal(pinmm_mprotect(w.mm, gone, PG, PROT_R), -ENOMEM);
	assert_int_equal(pinmm_madvise(w.mm, gone, PG, PINMM_MADV_DONTNEED), -ENOMEM);
	assert_int_equal(pinmm_madvise(w.mm, gone, PG, PINMM_MADV_DONTFORK), -ENOMEM);
	assert_int_equal(pinmm_mremap(w.mm, gone, PG, 2 * PG, PINMM_MREMAP_MAYMOVE, 0, &out),
			 -EFAULT);
	/* munmap of nothing is fine and changes nothing */
	assert_int_equal(pinmm_munmap(w.mm, gone, 2 * PG), 0);
	struct pinmm_mapping m;
	assert_int_equal(pinmm_follow_page(w.mm, gone, &m), -EFAULT);
	assert_false(m.present);
	assert_unchanged(&w);
	teardown(&w);
}

/* ================================================ lengths and addresses */

static void overflowing_ranges(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *pp[1];
	struct pinmm_pin pin;
	uint64_t out = 0;
	uint8_t b[8] = { 0 };
	int r;

	setup(&w);
	zero_pin(&pin);
	/* lengths that wrap around the address space */
	r = pinmm_munmap(w.mm, w.a, UINT64_MAX - PG);
	assert_true(r == -EINVAL);
	r = pinmm_munmap(w.mm, w.a, UINT64_MAX - w.a + 1);
	assert_true(r == -EINVAL);
	r = pinmm_mprotect(w.mm, w.a, UINT64_MAX - w.a + 2, PROT_R);
	assert_true(r == -EINVAL);
	r = pinmm_madvise(w.mm, w.a, UINT64_MAX - w.a + 2, PINMM_MADV_DONTNEED);
	assert_true(r == -EINVAL);
	r = pinmm_madvise(w.mm, w.a, UINT64_MAX - w.a + 2, PINMM_MADV_DONTFORK);
	assert_true(r == -EINVAL);
	r = pinmm_mremap(w.mm, w.a, UINT64_MAX - w.a + 2, PG, 0, 0, &out);
	assert_true(r == -EINVAL);
	r = pinmm_mremap(w.mm, w.a, PG, UINT64_MAX - PG, PINMM_MREMAP_MAYMOVE, 0, &out);
	assert_true(r == -EINVAL || r == -ENOMEM);
	r = pinmm_mremap(w.mm, w.a, PG, PG, PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_FIXED,
			 UINT64_MAX - PG + 1, &out);
	assert_int_equal(r, -EINVAL);
	/* pins past the top of user space or of a huge count */
	assert_int_equal(pinmm_pin(w.mm, &pin, w.a, ~0ul, 0, false, pp), -EINVAL);
	assert_int_equal(pinmm_pin(w.mm, &pin, PINMM_USER_MAX - PG, 2, 0, false, pp), -EFAULT);
	assert_int_equal(pinmm_get(w.mm, &pin, UINT64_MAX & ~(PG - 1), 1, 0, true, pp),
			 -EFAULT);
	assert_int_equal(pinmm_pin_user_pages_fast(w.mm, w.a, (PINMM_USER_MAX >> 12) + 1, 0,
						   pp), -EINVAL);
	/* CPU access that wraps */
	assert_int_equal(pinmm_load(w.mm, w.a, b, SIZE_MAX), -EFAULT);
	assert_int_equal(pinmm_store(w.mm, UINT64_MAX - 2, b, 8), -EFAULT);
	/* misaligned addresses where alignment is required */
	assert_int_equal(pinmm_mprotect(w.mm, w.a + 1, PG, PROT_R), -EINVAL);
	assert_int_equal(pinmm_madvise(w.mm, w.a + 1, PG, PINMM_MADV_FREE), -EINVAL);
	assert_int_equal(pinmm_munmap(w.mm, w.a + PG - 1, PG), -EINVAL);
	assert_int_equal(pinmm_get(w.mm, &pin, w.a + 2, 1, 0, true, pp), -EINVAL);
	/* zero lengths */
	assert_int_equal(pinmm_madvise(w.mm, w.a, 0, PINMM_MADV_DONTNEED), 0);
	assert_int_equal(pinmm_mprotect(w.mm, w.a, 0, PROT_R), -EINVAL);
	assert_int_equal(pinmm_load(w.mm, w.a, b, 0), 0);
	assert_int_equal(pinmm_store(w.mm, w.a, b, 0), 0);
	assert_int_equal(pinmm_get(w.mm, &pin, w.a, 0, 0, false, pp), -EINVAL);
	/* unknown prot bits and advice */
	assert_int_equal(pinmm_mprotect(w.mm, w.a, PG, 0x80), -EINVAL);
	assert_int_equal(pinmm_madvise(w.mm, w.a, PG, PINMM_MADV_NR + 7), -EINVAL);
	assert_false(pinmm_pin_held(&pin));
	assert_unchanged(&w);
	teardown(&w);
}

/* NULL engine / mm / output pointers */
static void null_pointers_mm(void **state)
{
	(void)state;
	struct world w;
	uint64_t out = 0;
	uint8_t b = 0;

	setup(&w);
	assert_int_equal(pinmm_mm_create(NULL, &w.mm), -EINVAL);
	assert_int_equal(pinmm_mm_create(w.eng, NULL), -EINVAL);
	assert_int_equal(pinmm_mmap(NULL, 0, PG, PROT_RW, PINMM_MAP_PRIVATE, &out), -EINVAL);
	assert_int_equal(pinmm_mmap(w.mm, 0, PG, PROT_RW, PINMM_MAP_PRIVATE, NULL), -EINVAL);
	assert_int_equal(pinmm_munmap(NULL, w.a, PG), -EINVAL);
	assert_int_equal(pinmm_mprotect(NULL, w.a, PG, PROT_R), -EINVAL);
	assert_int_equal(pinmm_madvise(NULL, w.a, PG, PINMM_MADV_DONTNEED), -EINVAL);
	assert_int_equal(pinmm_mremap(NULL, w.a, PG, PG, 0, 0, &out), -EINVAL);
	assert_int_equal(pinmm_mremap(w.mm, w.a, PG, 2 * PG, PINMM_MREMAP_MAYMOVE, 0, NULL),
			 -EINVAL);
	assert_int_equal(pinmm_fork(NULL, &w.mm), -EINVAL);
	struct pinmm_mm *keep = w.mm;
	assert_int_equal(pinmm_fork(w.mm, NULL), -EINVAL);
	assert_ptr_equal(w.mm, keep);
	assert_int_equal(pinmm_load(NULL, w.a, &b, 1), -EINVAL);
	assert_int_equal(pinmm_load(w.mm, w.a, NULL, 1), -EINVAL);
	assert_int_equal(pinmm_store(w.mm, w.a, NULL, 1), -EINVAL);
	assert_int_equal(pinmm_migrate(NULL, w.a), -EINVAL);
	assert_int_equal(pinmm_numa_hint(NULL, w.a), -EINVAL);
	assert_int_equal(pinmm_split_pmd(NULL, w.a), -EINVAL);
	assert_int_equal(pinmm_split_folio(NULL, w.a), -EINVAL);
	assert_true(pinmm_ksm_scan(NULL, 1) == -EINVAL);
	assert_true(pinmm_khugepaged_scan(NULL, 1) == -EINVAL);
	assert_true(pinmm_reclaim(NULL, 1) == -EINVAL);
	assert_int_equal(pinmm_file_create(NULL, PG, 0, NULL), -EINVAL);
	struct pinmm_file *f = NULL;
	assert_int_equal(pinmm_file_create(w.eng, PG, 0, NULL), -EINVAL);
	assert_int_equal(pinmm_file_create(w.eng, 0, 0, &f), -EINVAL);
	assert_null(f);
	assert_int_equal(pinmm_file_read(NULL, 0, &b, 1), -EINVAL);
	assert_int_equal(pinmm_file_write(NULL, 0, &b, 1), -EINVAL);
	assert_int_equal(pinmm_uprobe_register(NULL, 0), -EINVAL);
	assert_int_equal(pinmm_uprobe_unregister(NULL, 0), -EINVAL);
	pinmm_file_put(NULL);
	assert_unchanged(&w);
	teardown(&w);
}

/* ============================================= daemons, files, uprobes */

static void migrate_split_misuse(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *pp[1];
	struct pinmm_pin pin;

	setup(&w);
	zero_pin(&pin);
	/* a small folio: neither a PMD nor a large folio to split */
	assert_int_equal(pinmm_split_pmd(w.mm, w.a), -EINVAL);
	assert_int_equal(pinmm_split_folio(w.mm, w.a), -EINVAL);
	/* a pinned page: migrate refuses, NUMA hinting skips it silently */
	pin_ok(w.mm, &pin, w.a + PG, 1, PINMM_FOLL_WRITE, false, pp);
	uint64_t pfn = pfn_at(w.mm, w.a + PG);
	assert_int_equal(pinmm_migrate(w.mm, w.a + PG), -EBUSY);
	assert_int_equal(pinmm_numa_hint(w.mm, w.a + PG), 0);
	assert_int_equal(pfn_at(w.mm, w.a + PG), pfn);
	assert_coherent(&pin, w.mm, w.a + PG);
	unpin_ok(&pin);
	/* an address inside a page: the page is meant (not an error) */
	assert_int_equal(pinmm_migrate(w.mm, w.a + 3 * PG + 123), 0);
	w.frames = frames_used(w.eng);
	/* a zero-page mapping: nothing to move */
	uint64_t z = map_rw(w.mm, 1);
	assert_int_equal(load8(w.mm, z), 0);
	int r = pinmm_migrate(w.mm, z);
	assert_true(r == -EBUSY || r == -EFAULT);
	assert_int_equal(pinmm_split_folio(w.mm, z), -EINVAL);
	assert_int_equal(pinmm_munmap(w.mm, z, PG), 0);
	/* a THP pinned: its folio cannot split, its PMD can */
	uint64_t h = map_anon(w.mm, 512 * PG, PROT_RW,
			      PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M | PINMM_MAP_HUGEPAGE |
			      PINMM_MAP_POPULATE);
	if (follow(w.mm, h).huge) {
		store8(w.mm, h + 7 * PG, 0x77);
		pin_ok(w.mm, &pin, h + 7 * PG, 1, PINMM_FOLL_WRITE, true, pp);
		assert_int_equal(pinmm_split_pmd(w.mm, h), 0);
		assert_int_equal(pinmm_split_pmd(w.mm, h), -EINVAL);	/* done already */
		assert_int_equal(follow(w.mm, h + 7 * PG).pfn, pinmm_page_pfn(pp[0]));
		assert_int_equal(pinmm_split_folio(w.mm, h), -EBUSY);
		assert_int_equal(pinmm_split_folio(w.mm, h + 7 * PG), -EBUSY);
		assert_coherent(&pin, w.mm, h + 7 * PG);
		unpin_ok(&pin);
		assert_int_equal(load8(w.mm, h + 7 * PG), 0x77);
	}
	assert_int_equal(pinmm_munmap(w.mm, h, 512 * PG), 0);
	assert_unchanged(&w);
	teardown(&w);
}

static void file_and_uprobe_misuse(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_file *f = NULL;
	struct pinmm_page *pp[1];
	struct pinmm_pin pin;
	uint64_t out = 0, text = 0;
	uint8_t b[16] = { 0 };

	setup(&w);
	zero_pin(&pin);
	assert_int_equal(pinmm_file_create(w.eng, 3 * PG, 0x66, &f), 0);
	assert_int_equal(pinmm_mmap_file(w.mm, 0, 3 * PG, PROT_R | PINMM_PROT_EXEC,
					 PINMM_MAP_PRIVATE, f, 0, &text), 0);
	assert_int_equal(load8(w.mm, text), 0x66);
	w.frames = frames_used(w.eng);
	/* reads and writes past the end, or wrapping */
	assert_int_equal(pinmm_file_read(f, 3 * PG, b, 1), -EINVAL);
	assert_int_equal(pinmm_file_write(f, 3 * PG - 8, b, 16), -EINVAL);
	assert_int_equal(pinmm_file_read(f, UINT64_MAX - 4, b, 8), -EINVAL);
	assert_int_equal(pinmm_file_write(f, 8, b, SIZE_MAX), -EINVAL);
	assert_int_equal(pinmm_file_read(f, 0, NULL, 1), -EINVAL);
	/* mappings of the file: unaligned offset, bad flags */
	assert_int_equal(pinmm_mmap_file(w.mm, 0, PG, PROT_R, PINMM_MAP_SHARED, f, 123, &out),
			 -EINVAL);
	assert_int_equal(pinmm_mmap_file(w.mm, 0, PG, PROT_R,
					 PINMM_MAP_SHARED | PINMM_MAP_PRIVATE, f, 0, &out),
			 -EINVAL);
	assert_int_equal(pinmm_mmap_file(w.mm, 0, PG, PROT_R, PINMM_MAP_SHARED, NULL, 0, &out),
			 -EINVAL);
	/* uprobes past the end of the file */
	assert_int_equal(pinmm_uprobe_register(f, 3 * PG), -EINVAL);
	assert_int_equal(pinmm_uprobe_unregister(f, UINT64_MAX), -EINVAL);
	/* a short-term R/O pin of the text page (the page-cache page: only a
	 * longterm one would take the mapping's own copy first): the probe
	 * gives the mapping its own copy with the breakpoint, the pinned
	 * page-cache page and the file stay as they were (G2: a snapshot) */
	pin_ok(w.mm, &pin, text + PG, 1, 0, false, pp);
	uint64_t pfn = pfn_at(w.mm, text + PG);
	assert_int_equal(pinmm_uprobe_register(f, PG + 5), 0);
	assert_int_not_equal(pfn_at(w.mm, text + PG), pfn);
	assert_int_equal(load8(w.mm, text + PG + 5), 0xcc);
	uint8_t dev = 0;
	assert_int_equal(pinmm_dev_read(&pin, 0, 5, &dev, 1), 0);
	assert_int_equal(dev, 0x66);
	assert_int_equal(pinmm_uprobe_unregister(f, PG + 5), 0);
	assert_int_equal(load8(w.mm, text + PG + 5), 0x66);
	unpin_ok(&pin);
	assert_int_equal(pinmm_file_read(f, 0, b, 16), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(b[i], 0x66);
	assert_invariants(w.eng);
	assert_int_equal(frames_used(w.eng), w.frames);
	assert_int_equal(pinmm_munmap(w.mm, text, 3 * PG), 0);
	pinmm_file_put(f);
	w.frames = frames_used(w.eng);
	assert_unchanged(&w);
	teardown(&w);
}

/* ======================================================= engine set-up */

/* Zone sizes whose sum, byte count or descriptor array wraps: -EINVAL, and
 * nothing is created (the wrapped sum made a small arena with zones past
 * its end, and the set-up wrote there). */
static void create_overflowing_sizes(void **state)
{
	(void)state;
	const size_t top = SIZE_MAX & ~(size_t)511;	/* a multiple of 512 */
	const size_t sizes[][2] = {
		{ 1024, top }, { top, 1024 }, { top, 0 }, { 512, top - 511 },
		{ (SIZE_MAX >> PINMM_PAGE_SHIFT) + 1 - 511, 0 },
		{ ((SIZE_MAX / 64) & ~(size_t)511) + 512, 0 },
		{ (size_t)1 << 40, (size_t)1 << 40 },
	};

	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		struct pinmm_config cfg;
		struct pinmm *eng = NULL;

		pinmm_config_default(&cfg);
		cfg.normal_frames = sizes[i][0] & ~(size_t)511;
		cfg.movable_frames = sizes[i][1] & ~(size_t)511;
		if (!cfg.normal_frames)
			cfg.normal_frames = 512;
		assert_int_equal(pinmm_create(&cfg, &eng), -EINVAL);
		assert_null(eng);
	}
}

/* ========================================== NULL where a getter answers */

static void null_config_default(void **state)
{
	(void)state;
	pinmm_config_default(NULL);	/* nothing to fill: no crash */
}

static void null_get_policy(void **state)
{
	(void)state;
	assert_int_equal(pinmm_get_policy(NULL).on, 0);
}

static void null_unpin_user_pages(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *pp[2] = { NULL, NULL };

	setup(&w);
	pinmm_unpin_user_pages(NULL, 4, true);
	pinmm_unpin_user_pages(pp, 2, false);	/* NULL entries are skipped */
	assert_unchanged(&w);
	teardown(&w);
}

static void null_page_pfn_and_address(void **state)
{
	(void)state;
	assert_true(pinmm_page_pfn(NULL) == PINMM_PFN_NONE);
	assert_null(pinmm_page_address(NULL));
}

/* What a getter answers for a NULL object: every byte of *out zero. */
static void assert_zeroed(const void *out, size_t len)
{
	for (size_t i = 0; i < len; i++)
		assert_int_equal(((const uint8_t *)out)[i], 0);
}

static void null_folio_info(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_folio_info fi;

	setup(&w);
	memset(&fi, 0x5a, sizeof(fi));
	pinmm_folio_info(NULL, &fi);
	assert_zeroed(&fi, sizeof(fi));
	pinmm_folio_info(follow(w.mm, w.a).page, NULL);	/* nothing to fill */
	assert_unchanged(&w);
	teardown(&w);
}

static void null_get_stats(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_stats st;

	memset(&st, 0x5a, sizeof(st));
	pinmm_get_stats(NULL, &st);
	assert_zeroed(&st, sizeof(st));
	pinmm_get_stats(eng, NULL);
	finish_engine(eng);
}

static void null_check_invariants(void **state)
{
	(void)state;
	struct pinmm_violation_report rep;

	assert_int_equal(pinmm_check_invariants(NULL, &rep), -EINVAL);
	assert_int_equal(rep.nr, 0);
	assert_int_equal(pinmm_check_invariants(NULL, NULL), -EINVAL);
}

static void null_fail_alloc_nth(void **state)
{
	(void)state;
	assert_int_equal(pinmm_fail_alloc_nth(NULL, 1, true), 0);
}

/* pinmm_store() refuses a NULL mm whatever the length: so does the fill */
static void null_store_fill(void **state)
{
	(void)state;
	assert_int_equal(pinmm_store_fill(NULL, PINMM_USER_MIN, 0x11, 0), -EINVAL);
	assert_int_equal(pinmm_store_fill(NULL, PINMM_USER_MIN, 0x11, 1), -EINVAL);
}

/* An unknown or NULL switch name is a negative errno, as everywhere else. */
static void switch_lookup_unknown(void **state)
{
	(void)state;
	assert_int_equal(pinmm_switch_lookup("no_such_switch", 14), -EINVAL);
	assert_int_equal(pinmm_switch_lookup(NULL, 3), -EINVAL);
	assert_int_equal(pinmm_switch_lookup("", 0), -EINVAL);
}

/*
 * Device access of 0 bytes through a held handle: 0 and nothing copied,
 * with or without a buffer, as pinmm_load()/pinmm_store() answer; the
 * handle and the range are still checked. memcpy() with a NULL pointer is
 * undefined even for 0 bytes (UBSan aborts here without the fix).
 */
static void device_access_zero_length(void **state)
{
	(void)state;
	struct world w;
	struct pinmm_page *pp[1];
	struct pinmm_pin pin, never;
	uint8_t b = 0x77;

	setup(&w);
	zero_pin(&pin);
	zero_pin(&never);
	pin_ok(w.mm, &pin, w.a, 1, PINMM_FOLL_WRITE, false, pp);
	assert_int_equal(pinmm_dev_read(&pin, 0, 0, NULL, 0), 0);
	assert_int_equal(pinmm_dev_write(&pin, 0, 0, NULL, 0), 0);
	assert_int_equal(pinmm_dev_read(&pin, 0, PG, NULL, 0), 0);
	assert_int_equal(pinmm_dev_write(&pin, 0, PG, &b, 0), 0);
	assert_int_equal(pinmm_dev_fill(&pin, 0, 7, 0x99, 0), 0);
	assert_int_equal(b, 0x77);
	/* still checked: the page index, the offset, the handle */
	assert_int_equal(pinmm_dev_read(&pin, 1, 0, NULL, 0), -EINVAL);
	assert_int_equal(pinmm_dev_write(&pin, 0, PG + 1, NULL, 0), -EINVAL);
	assert_int_equal(pinmm_dev_read(NULL, 0, 0, NULL, 0), -EINVAL);
	assert_int_equal(pinmm_dev_write(&never, 0, 0, NULL, 0), -EINVAL);
	unpin_ok(&pin);
	assert_int_equal(pinmm_dev_read(&pin, 0, 0, NULL, 0), -EINVAL);
	assert_unchanged(&w);
	teardown(&w);
}

/* Starting a running daemon is -EBUSY, stopping one that does not run
 * -ESRCH; neither changes anything. */
static void daemon_start_stop_answers(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();

	for (int d = 0; d < PINMM_DAEMON_NR; d++) {
		enum pinmm_daemon dd = (enum pinmm_daemon)d;

		assert_int_equal(pinmm_daemon_stop(eng, dd), -ESRCH);
		assert_int_equal(pinmm_daemon_start(eng, dd, 1000), 0);
		assert_int_equal(pinmm_daemon_start(eng, dd, 1000), -EBUSY);
		assert_int_equal(pinmm_daemon_stop(eng, dd), 0);
		assert_int_equal(pinmm_daemon_stop(eng, dd), -ESRCH);
	}
	assert_int_equal(pinmm_daemon_stop(eng, PINMM_DAEMON_NR), -EINVAL);
	finish_engine(eng);
}

/* Two held handles may not share one page array: the second pin would
 * overwrite the first's pages, and the first's unpin would then drop the
 * second's pins and leak its own, which no count shows. The second answers
 * -EBUSY and changes nothing; once the first is released the array is
 * free again; disjoint parts of one array are fine. */
static void pins_sharing_a_page_array(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 4);
	struct pinmm_page *pages[4];
	struct pinmm_pin p1, p2;

	zero_pin(&p1);
	zero_pin(&p2);
	pin_ok(mm, &p1, a, 2, PINMM_FOLL_WRITE, false, pages);
	struct pinmm_page *first = pages[0];
	assert_int_equal(pinmm_pin(mm, &p2, a + 2 * PG, 2, PINMM_FOLL_WRITE, false, pages),
			 -EBUSY);
	assert_int_equal(pinmm_pin(mm, &p2, a + 2 * PG, 2, PINMM_FOLL_WRITE, false, pages + 1),
			 -EBUSY);
	assert_ptr_equal(pages[0], first);	/* untouched */
	assert_int_equal(finfo_at(mm, a + 2 * PG).pincount, 0);
	pin_ok(mm, &p2, a + 2 * PG, 2, PINMM_FOLL_WRITE, false, pages + 2);
	unpin_ok(&p1);
	unpin_ok(&p2);
	assert_int_equal(finfo_at(mm, a).pincount, 0);
	assert_int_equal(finfo_at(mm, a + 3 * PG).pincount, 0);
	pin_ok(mm, &p1, a + PG, 3, PINMM_FOLL_WRITE, true, pages);	/* free again */
	unpin_ok(&p1);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pins_sharing_a_page_array),
		cmocka_unit_test(daemon_start_stop_answers),
		cmocka_unit_test(stale_copy_after_slot_reuse),
		cmocka_unit_test(forged_slot_and_generation),
		cmocka_unit_test(forged_kind_put_of_a_pin),
		cmocka_unit_test(null_pointers_handles),
		cmocka_unit_test(pin_across_hole_every_variant),
		cmocka_unit_test(device_access_out_of_range),
		cmocka_unit_test(calls_on_exited_mm),
		cmocka_unit_test(calls_after_munmap),
		cmocka_unit_test(overflowing_ranges),
		cmocka_unit_test(null_pointers_mm),
		cmocka_unit_test(migrate_split_misuse),
		cmocka_unit_test(file_and_uprobe_misuse),
		cmocka_unit_test(create_overflowing_sizes),
		cmocka_unit_test(null_config_default),
		cmocka_unit_test(null_get_policy),
		cmocka_unit_test(null_unpin_user_pages),
		cmocka_unit_test(null_page_pfn_and_address),
		cmocka_unit_test(null_folio_info),
		cmocka_unit_test(null_get_stats),
		cmocka_unit_test(null_check_invariants),
		cmocka_unit_test(null_fail_alloc_nth),
		cmocka_unit_test(null_store_fill),
		cmocka_unit_test(switch_lookup_unknown),
		/* last: under UBSan a NULL copy aborts the executable */
		cmocka_unit_test(device_access_zero_length),
		cmocka_unit_test(device_access_null_buffer),
	};
	return cmocka_run_group_tests_name("misuse", tests, NULL, NULL);
}
