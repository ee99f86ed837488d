/* SPDX-License-Identifier: MIT */
/*
 * tests/test_gup.c - get/pin_user_pages (page layer and handle layer),
 * errors, counts, device access and the check API on held pins.
 */
#include "helpers.h"
#include "mm/mm.h"		/* the entries' dirty bit */

/* ======================================================= handle layer === */

static void pin_rw(bool fast, bool longterm)
{
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 4);
	struct pinmm_page *pages[4] = { 0 };
	struct pinmm_pin pin;
	int ref0[4];
	unsigned flags = PINMM_FOLL_WRITE | (longterm ? PINMM_FOLL_LONGTERM : 0);

	zero_pin(&pin);
	for (unsigned i = 0; i < 4; i++) {
		fill(mm, a + i * PG, (uint8_t)(0x10 + i), PG);
		struct pinmm_folio_info fi = finfo_at(mm, a + i * PG);
		ref0[i] = fi.refcount;
		assert_int_equal(fi.pincount, 0);
		assert_false(fi.maybe_dma_pinned);
	}
	pin_ok(mm, &pin, a, 4, flags, fast, pages);
	assert_int_equal(pin.kind, PINMM_PIN_PIN);
	assert_ptr_equal(pin.mm, mm);
	assert_int_equal(pin.addr, a);
	assert_int_equal(pin.nr_pages, 4);
	assert_ptr_equal(pin.pages, pages);
	for (unsigned i = 0; i < 4; i++) {
		assert_non_null(pages[i]);
		struct pinmm_mapping m = follow(mm, a + i * PG);
		assert_int_equal(m.pfn, pinmm_page_pfn(pages[i]));
		assert_true(m.writable);
		struct pinmm_folio_info fi = finfo(pages[i]);
		assert_int_equal(fi.pincount, 1);
		assert_true(fi.maybe_dma_pinned);
		assert_true(fi.refcount > ref0[i]);
		/* moved out of the movable zone first — once the engine has
		 * migration (longterm_unmovable comes with it) */
		if (longterm && pinmm_switch_implemented(PINMM_SW_LONGTERM_UNMOVABLE))
			assert_int_equal(fi.zone, PINMM_ZONE_NORMAL);
		/* the device sees the data (the longterm move kept it) */
		assert_int_equal(dev_read8(&pin, i, 77), 0x10 + i);
		assert_int_equal(((uint8_t *)pinmm_page_address(pages[i]))[78],
				 0x10 + i);
	}
	assert_true(pinmm_check_mapped(&pin, mm, a));
	assert_coherent(&pin, mm, a);
	assert_invariants(eng);
	unpin_ok(&pin);
	for (unsigned i = 0; i < 4; i++) {
		struct pinmm_folio_info fi = finfo_at(mm, a + i * PG);
		assert_int_equal(fi.pincount, 0);
		assert_false(fi.maybe_dma_pinned);
		if (!longterm)
			assert_int_equal(fi.refcount, ref0[i]);
	}
	assert_bytes(mm, a + 3 * PG, 0x13, PG);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_slow_rw(void **state) { (void)state; pin_rw(false, false); }
static void pin_fast_rw(void **state) { (void)state; pin_rw(true, false); }
static void pin_slow_rw_longterm(void **state) { (void)state; pin_rw(false, true); }
static void pin_fast_rw_longterm(void **state) { (void)state; pin_rw(true, true); }

static void pin_ro(bool fast, bool longterm)
{
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *pages[2] = { 0 };
	struct pinmm_pin pin;
	unsigned flags = longterm ? PINMM_FOLL_LONGTERM : 0;

	zero_pin(&pin);
	fill(mm, a, 0x21, 2 * PG);
	pin_ok(mm, &pin, a, 2, flags, fast, pages);
	for (unsigned i = 0; i < 2; i++) {
		struct pinmm_folio_info fi = finfo(pages[i]);
		assert_int_equal(fi.pincount, 1);
		assert_true(fi.maybe_dma_pinned);
		assert_int_equal(dev_read8(&pin, i, 5), 0x21);
		assert_int_equal(pinmm_page_pfn(pages[i]), pfn_at(mm, a + i * PG));
	}
	/* a R/O pin of an exclusive page: the CPU still writes into it */
	store8(mm, a + 9, 0x22);
	assert_int_equal(dev_read8(&pin, 0, 9), 0x22);
	assert_true(pinmm_check_mapped(&pin, mm, a));
	if (longterm)
		assert_coherent(&pin, mm, a);
	unpin_ok(&pin);
	assert_int_equal(finfo_at(mm, a).pincount, 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_slow_ro(void **state) { (void)state; pin_ro(false, false); }
static void pin_fast_ro(void **state) { (void)state; pin_ro(true, false); }
static void pin_slow_ro_longterm(void **state) { (void)state; pin_ro(false, true); }
static void pin_fast_ro_longterm(void **state) { (void)state; pin_ro(true, true); }

static void pin_faults_pages_in(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 8);
	struct pinmm_page *pages[8] = { 0 };
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_false(follow(mm, a).present);
	pin_ok(mm, &pin, a, 8, PINMM_FOLL_WRITE, false, pages);
	assert_int_equal(frames_used(eng), 8);
	for (unsigned i = 0; i < 8; i++) {
		struct pinmm_mapping m = follow(mm, a + i * PG);
		assert_true(m.present);
		assert_false(m.zero_page);
		assert_int_equal(m.pfn, pinmm_page_pfn(pages[i]));
		assert_int_equal(dev_read8(&pin, i, 0), 0);
		assert_false(finfo(pages[i]).zero);
	}
	assert_coherent(&pin, mm, a);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_fast_unpopulated_falls_back(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2);
	struct pinmm_page *pages[2] = { 0 };
	struct pinmm_pin pin;

	zero_pin(&pin);
	size_t fb = get_stats(eng).gup_fast_fallbacks;
	pin_ok(mm, &pin, a, 2, PINMM_FOLL_WRITE, true, pages);
	/* nothing was mapped: GUP-fast could not have done it alone */
	assert_true(get_stats(eng).gup_fast_fallbacks > fb);
	assert_true(pin.fast);
	assert_true(pinmm_check_mapped(&pin, mm, a));
	assert_coherent(&pin, mm, a);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void get_handle(bool fast)
{
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 3);
	struct pinmm_page *pages[3] = { 0 };
	struct pinmm_pin g;
	int ref0[3];

	zero_pin(&g);
	fill(mm, a, 0x31, 3 * PG);
	for (unsigned i = 0; i < 3; i++)
		ref0[i] = finfo_at(mm, a + i * PG).refcount;
	assert_int_equal(pinmm_get(mm, &g, a, 3, 0, fast, pages), 0);
	assert_true(pinmm_pin_held(&g));
	assert_int_equal(g.kind, PINMM_PIN_GET);
	for (unsigned i = 0; i < 3; i++) {
		struct pinmm_folio_info fi = finfo(pages[i]);
		/* a plain reference: one more ref, no pin */
		assert_int_equal(fi.refcount, ref0[i] + 1);
		assert_int_equal(fi.pincount, 0);
		assert_false(fi.maybe_dma_pinned);
		assert_int_equal(dev_read8(&g, i, 3), 0x31);
	}
	assert_int_equal(pinmm_put(&g), 0);
	assert_false(pinmm_pin_held(&g));
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(finfo_at(mm, a + i * PG).refcount, ref0[i]);
	/* a write get */
	assert_int_equal(pinmm_get(mm, &g, a, 1, PINMM_FOLL_WRITE, fast, pages), 0);
	assert_int_equal(finfo(pages[0]).pincount, 0);
	assert_int_equal(pinmm_put(&g), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void get_slow(void **state) { (void)state; get_handle(false); }
static void get_fast(void **state) { (void)state; get_handle(true); }

static void pin_counts_stack(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *p1[1], *p2[1], *p3[1];
	struct pinmm_pin x, y, g;

	zero_pin(&x);
	zero_pin(&y);
	zero_pin(&g);
	int map0 = finfo_at(mm, a).mapcount;
	/* the longterm pin first: it may move the page out of the movable
	 * zone, which a page already pinned could not do */
	pin_ok(mm, &y, a, 1, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, true, p2);
	pin_ok(mm, &x, a, 1, PINMM_FOLL_WRITE, false, p1);
	assert_int_equal(pinmm_get(mm, &g, a, 1, 0, false, p3), 0);
	assert_ptr_equal(p1[0], p2[0]);
	assert_ptr_equal(p1[0], p3[0]);
	struct pinmm_folio_info fi = finfo(p1[0]);
	assert_int_equal(fi.pincount, 2);
	assert_true(fi.refcount >= 1 + 3);	/* its mapping, 2 pins, 1 get */
	assert_int_equal(fi.mapcount, map0);	/* pins do not map */
	assert_true(fi.anon);
	assert_int_equal(fi.order, 0);
	assert_invariants(eng);
	unpin_ok(&x);
	assert_int_equal(finfo(p1[0]).pincount, 1);
	assert_true(finfo(p1[0]).maybe_dma_pinned);
	assert_int_equal(pinmm_put(&g), 0);
	assert_int_equal(finfo(p1[0]).pincount, 1);
	unpin_ok(&y);
	fi = finfo_at(mm, a);
	assert_int_equal(fi.pincount, 0);
	assert_false(fi.maybe_dma_pinned);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* =============================================================== errors === */

static void pin_efault_unmapped(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	for (int fast = 0; fast < 2; fast++) {
		assert_int_equal(pinmm_pin(mm, &pin, 0x100000000ul, 1,
					   PINMM_FOLL_WRITE, fast, pages), -EFAULT);
		assert_false(pinmm_pin_held(&pin));
		assert_int_equal(pinmm_pin(mm, &pin, 0x100000000ul, 2, 0, fast,
					   pages), -EFAULT);
		assert_int_equal(pinmm_get(mm, &pin, 0x100000000ul, 1, 0, fast,
					   pages), -EFAULT);
		assert_false(pinmm_pin_held(&pin));
	}
	assert_int_equal(frames_used(eng), 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_across_hole_all_or_nothing(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 4);
	struct pinmm_page *pages[4];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(pinmm_munmap(mm, a + 2 * PG, PG), 0);
	int ref0 = finfo_at(mm, a).refcount;
	int ref1 = finfo_at(mm, a + PG).refcount;
	for (int fast = 0; fast < 2; fast++) {
		assert_int_equal(pinmm_pin(mm, &pin, a, 4, PINMM_FOLL_WRITE, fast,
					   pages), -EFAULT);
		assert_false(pinmm_pin_held(&pin));
		assert_int_equal(pinmm_get(mm, &pin, a, 4, 0, fast, pages), -EFAULT);
		assert_false(pinmm_pin_held(&pin));
		/* the pages before the hole hold nothing */
		for (unsigned i = 0; i < 2; i++) {
			struct pinmm_folio_info fi = finfo_at(mm, a + i * PG);
			assert_int_equal(fi.pincount, 0);
			assert_false(fi.maybe_dma_pinned);
			assert_int_equal(fi.refcount, i ? ref1 : ref0);
		}
		assert_invariants(eng);
	}
	/* the range up to the hole can be pinned */
	pin_ok(mm, &pin, a, 2, PINMM_FOLL_WRITE, false, pages);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_efault_protection(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t ro = map_anon(mm, 2 * PG, PROT_R, PINMM_MAP_PRIVATE);
	uint64_t none = map_anon(mm, PG, PINMM_PROT_NONE, PINMM_MAP_PRIVATE);
	uint64_t rw = map_rw_populated(mm, 1);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	for (int fast = 0; fast < 2; fast++) {
		/* write pin on a R/O mapping */
		assert_int_equal(pinmm_pin(mm, &pin, ro, 1, PINMM_FOLL_WRITE, fast,
					   pages), -EFAULT);
		assert_int_equal(pinmm_pin(mm, &pin, ro, 2, PINMM_FOLL_WRITE |
					   PINMM_FOLL_LONGTERM, fast, pages),
				 -EFAULT);
		assert_int_equal(pinmm_get(mm, &pin, ro, 1, PINMM_FOLL_WRITE, fast,
					   pages), -EFAULT);
		/* any pin on PROT_NONE */
		assert_int_equal(pinmm_pin(mm, &pin, none, 1, 0, fast, pages), -EFAULT);
		assert_int_equal(pinmm_get(mm, &pin, none, 1, 0, fast, pages), -EFAULT);
		assert_false(pinmm_pin_held(&pin));
	}
	/* a write pin on a page made R/O by mprotect after it was populated */
	assert_int_equal(pinmm_mprotect(mm, rw, PG, PROT_R), 0);
	assert_int_equal(pinmm_pin(mm, &pin, rw, 1, PINMM_FOLL_WRITE, true, pages),
			 -EFAULT);
	assert_int_equal(pinmm_pin(mm, &pin, rw, 1, PINMM_FOLL_WRITE, false, pages),
			 -EFAULT);
	assert_int_equal(finfo_at(mm, rw).pincount, 0);
	/* a R/O pin of the R/O mapping is fine */
	pin_ok(mm, &pin, ro, 2, 0, false, pages);
	assert_int_equal(dev_read8(&pin, 1, 0), 0);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_force_overrides_protection(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t ro = map_rw(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, ro, 0x44, PG);
	assert_int_equal(pinmm_mprotect(mm, ro, PG, PROT_R), 0);
	/* FOLL_FORCE (ptrace): a write pin of a private R/O mapping works */
	pin_ok(mm, &pin, ro, 1, PINMM_FOLL_WRITE | PINMM_FOLL_FORCE, false, pages);
	assert_int_equal(dev_read8(&pin, 0, 1), 0x44);
	/* ... without making the mapping writable for the CPU */
	assert_int_equal(store_err(mm, ro, 1), -EACCES);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_bad_args(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(pinmm_pin(mm, &pin, a + 1, 1, 0, false, pages), -EINVAL);
	assert_int_equal(pinmm_pin(mm, &pin, a, 0, 0, false, pages), -EINVAL);
	assert_int_equal(pinmm_pin(mm, &pin, a, 1, PINMM_FOLL_PIN, false, pages),
			 -EINVAL);
	assert_int_equal(pinmm_pin(mm, &pin, a, 1, PINMM_FOLL_GET, false, pages),
			 -EINVAL);
	assert_false(pinmm_pin_held(&pin));
	/* page layer */
	assert_int_equal(pinmm_pin_user_pages(mm, a + 8, 1, 0, pages), -EINVAL);
	assert_int_equal(pinmm_pin_user_pages(mm, a, 0, 0, pages), -EINVAL);
	assert_int_equal(pinmm_pin_user_pages_fast(mm, a, 0, 0, pages), -EINVAL);
	assert_int_equal(pinmm_get_user_pages(mm, a + 8, 1, 0, pages), -EINVAL);
	assert_int_equal(pinmm_get_user_pages_fast(mm, a, 1, PINMM_FOLL_PIN, pages),
			 -EINVAL);
	assert_int_equal(pinmm_pin_user_pages(mm, a, 1, PINMM_FOLL_GET, pages),
			 -EINVAL);
	assert_int_equal(finfo_at(mm, a).pincount, 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void handle_misuse_einval(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pp[1], *pg[1];
	struct pinmm_pin pin, get, zero;

	zero_pin(&pin);
	zero_pin(&get);
	zero_pin(&zero);
	/* never taken */
	assert_int_equal(pinmm_unpin(&zero), -EINVAL);
	assert_int_equal(pinmm_put(&zero), -EINVAL);
	assert_false(pinmm_pin_held(&zero));

	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, false, pp);
	assert_int_equal(pinmm_get(mm, &get, a, 1, 0, false, pg), 0);
	int ref = finfo(pp[0]).refcount;

	/* a held handle cannot be reused */
	assert_int_equal(pinmm_pin(mm, &pin, a, 1, 0, false, pp), -EBUSY);
	assert_int_equal(pinmm_get(mm, &get, a, 1, 0, false, pg), -EBUSY);
	/* wrong kind */
	assert_int_equal(pinmm_put(&pin), -EINVAL);
	assert_int_equal(pinmm_unpin(&get), -EINVAL);
	assert_true(pinmm_pin_held(&pin));
	assert_true(pinmm_pin_held(&get));
	assert_int_equal(finfo(pp[0]).pincount, 1);
	assert_int_equal(finfo(pp[0]).refcount, ref);

	unpin_ok(&pin);
	assert_int_equal(pinmm_put(&get), 0);
	/* double release */
	assert_int_equal(pinmm_unpin(&pin), -EINVAL);
	assert_int_equal(pinmm_put(&get), -EINVAL);
	assert_int_equal(finfo_at(mm, a).pincount, 0);
	/* a released handle is refused for device access too */
	uint8_t b = 0;
	assert_int_equal(pinmm_dev_read(&pin, 0, 0, &b, 1), -EINVAL);
	assert_int_equal(pinmm_dev_write(&pin, 0, 0, &b, 1), -EINVAL);
	assert_int_equal(pinmm_dev_read(&zero, 0, 0, &b, 1), -EINVAL);
	assert_invariants(eng);

	/* a released handle can be used again */
	pin_ok(mm, &pin, a, 1, 0, true, pp);
	unpin_ok(&pin);
	assert_int_equal(pinmm_unpin(&pin), -EINVAL);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void handle_garbage_einval(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pp[1];
	struct pinmm_pin pin, copy;

	zero_pin(&pin);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, false, pp);
	memcpy(&copy, &pin, sizeof(pin));
	unpin_ok(&pin);
	/* a stale copy of a released handle */
	assert_int_equal(pinmm_unpin(&copy), -EINVAL);
	assert_int_equal(finfo_at(mm, a).pincount, 0);
	/* a handle claiming to be a pin with a garbage magic */
	memset(&copy, 0x5a, sizeof(copy));
	copy.kind = PINMM_PIN_PIN;
	copy.mm = mm;
	copy.addr = a;
	copy.nr_pages = 1;
	copy.pages = pp;
	assert_int_equal(pinmm_unpin(&copy), -EINVAL);
	assert_int_equal(finfo_at(mm, a).pincount, 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ========================================================== page layer === */

static void page_layer_pin_and_unpin(bool fast)
{
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 8);
	struct pinmm_page *pages[8] = { 0 };

	long n = fast ? pinmm_pin_user_pages_fast(mm, a, 8, PINMM_FOLL_WRITE, pages)
		      : pinmm_pin_user_pages(mm, a, 8, PINMM_FOLL_WRITE, pages);
	assert_int_equal(n, 8);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(pinmm_page_pfn(pages[i]), pfn_at(mm, a + i * PG));
		assert_int_equal(finfo(pages[i]).pincount, 1);
		assert_non_null(pinmm_page_address(pages[i]));
	}
	/* the device writes through the page address; the CPU sees it */
	memset((uint8_t *)pinmm_page_address(pages[5]) + 10, 0xC5, 4);
	assert_bytes(mm, a + 5 * PG + 10, 0xC5, 4);
	assert_int_equal(pinmm_unpin_user_page(pages[0], true), 0);
	assert_int_equal(finfo(pages[0]).pincount, 0);
	assert_true(finfo(pages[0]).dirty);
	pinmm_unpin_user_pages(pages + 1, 7, false);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(finfo(pages[i]).pincount, 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void page_layer_pin_slow(void **state) { (void)state; page_layer_pin_and_unpin(false); }
static void page_layer_pin_fast(void **state) { (void)state; page_layer_pin_and_unpin(true); }

static void page_layer_get_and_put(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 4);
	struct pinmm_page *pages[4] = { 0 }, *fpages[4] = { 0 };

	int ref0 = finfo_at(mm, a).refcount;
	assert_int_equal(pinmm_get_user_pages(mm, a, 4, 0, pages), 4);
	assert_int_equal(pinmm_get_user_pages_fast(mm, a, 4, PINMM_FOLL_WRITE,
						   fpages), 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_ptr_equal(pages[i], fpages[i]);
		assert_int_equal(finfo(pages[i]).pincount, 0);
	}
	assert_int_equal(finfo(pages[0]).refcount, ref0 + 2);
	assert_invariants(eng);
	for (unsigned i = 0; i < 4; i++) {
		pinmm_put_page(pages[i]);
		pinmm_put_page(fpages[i]);
	}
	assert_int_equal(finfo_at(mm, a).refcount, ref0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void page_layer_partial_before_hole(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 4);
	struct pinmm_page *pages[4] = { 0 };

	assert_int_equal(pinmm_munmap(mm, a + 2 * PG, PG), 0);
	/* fewer than asked: the pages before the hole */
	long n = pinmm_pin_user_pages(mm, a, 4, PINMM_FOLL_WRITE, pages);
	assert_int_equal(n, 2);
	assert_int_equal(finfo(pages[0]).pincount, 1);
	assert_int_equal(finfo(pages[1]).pincount, 1);
	pinmm_unpin_user_pages(pages, (unsigned long)n, false);
	/* starting at the hole: EFAULT */
	assert_int_equal(pinmm_pin_user_pages(mm, a + 2 * PG, 2, 0, pages), -EFAULT);
	assert_int_equal(pinmm_get_user_pages(mm, a + 2 * PG, 1, 0, pages), -EFAULT);
	n = pinmm_get_user_pages_fast(mm, a + PG, 3, 0, pages);
	assert_int_equal(n, 1);
	pinmm_put_page(pages[0]);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void page_layer_nofault(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 2);
	struct pinmm_page *pages[2] = { 0 };

	store8(mm, a, 1);	/* page 0 present, page 1 not */
	assert_int_equal(pinmm_pin_user_pages(mm, a + PG, 1,
					      PINMM_FOLL_WRITE | PINMM_FOLL_NOFAULT,
					      pages), -EFAULT);
	assert_false(follow(mm, a + PG).present);
	assert_int_equal(pinmm_pin_user_pages(mm, a, 1,
					      PINMM_FOLL_WRITE | PINMM_FOLL_NOFAULT,
					      pages), 1);
	assert_int_equal(finfo(pages[0]).pincount, 1);
	assert_int_equal(pinmm_unpin_user_page(pages[0], false), 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void page_layer_strict_unpin(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];

	struct pinmm_mapping m = follow(mm, a);
	assert_non_null(m.page);
	int ref0 = finfo(m.page).refcount;
	/* never pinned */
	assert_int_equal(pinmm_unpin_user_page(m.page, false), -EINVAL);
	assert_int_equal(finfo(m.page).refcount, ref0);
	assert_int_equal(finfo(m.page).pincount, 0);
	assert_invariants(eng);
	/* pinned once, unpinned twice */
	assert_int_equal(pinmm_pin_user_pages(mm, a, 1, 0, pages), 1);
	assert_int_equal(pinmm_unpin_user_page(pages[0], false), 0);
	assert_int_equal(pinmm_unpin_user_page(pages[0], false), -EINVAL);
	assert_int_equal(finfo(pages[0]).pincount, 0);
	assert_int_equal(finfo(pages[0]).refcount, ref0);
	/* a page held only by a get is not pinned either */
	assert_int_equal(pinmm_get_user_pages(mm, a, 1, 0, pages), 1);
	assert_int_equal(pinmm_unpin_user_page(pages[0], false), -EINVAL);
	assert_int_equal(finfo(pages[0]).refcount, ref0 + 1);
	pinmm_put_page(pages[0]);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_many_pages(void **state)
{
	(void)state;
	enum { N = 1024 };
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, N);
	struct pinmm_page **pages = calloc(N, sizeof(*pages));
	struct pinmm_pin pin;

	assert_non_null(pages);
	zero_pin(&pin);
	for (unsigned i = 0; i < N; i += 3)
		store8(mm, a + (uint64_t)i * PG, (uint8_t)i);
	pin_ok(mm, &pin, a, N, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, true, pages);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(finfo(pages[i]).pincount, 1);
		assert_int_equal(dev_read8(&pin, i, 0), i % 3 ? 0 : (uint8_t)i);
	}
	assert_true(pinmm_check_mapped(&pin, mm, a));
	assert_coherent(&pin, mm, a);
	assert_invariants(eng);
	unpin_ok(&pin);
	free(pages);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_across_vmas(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 3);
	struct pinmm_page *pages[3];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(pinmm_mprotect(mm, a + PG, PG, PROT_R), 0);
	/* three VMAs: a R/O pin spans them */
	pin_ok(mm, &pin, a, 3, 0, false, pages);
	unpin_ok(&pin);
	/* a R/W pin fails on the middle one, and holds nothing after */
	assert_int_equal(pinmm_pin(mm, &pin, a, 3, PINMM_FOLL_WRITE, false, pages),
			 -EFAULT);
	assert_int_equal(finfo_at(mm, a).pincount, 0);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ====================================================== device access === */

static void dev_write_read_through_pin(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 3);
	struct pinmm_page *pages[3];
	struct pinmm_pin pin;
	char buf[16];

	zero_pin(&pin);
	pin_ok(mm, &pin, a, 3, PINMM_FOLL_WRITE, false, pages);
	/* device → CPU */
	assert_int_equal(pinmm_dev_write(&pin, 1, 100, "hello", 5), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(pinmm_load(mm, a + PG + 100, buf, 5), 0);
	assert_memory_equal(buf, "hello", 5);
	/* CPU → device */
	assert_int_equal(pinmm_store(mm, a + 2 * PG + 5, "world", 5), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(pinmm_dev_read(&pin, 2, 5, buf, 5), 0);
	assert_memory_equal(buf, "world", 5);
	/* fill, up to the page's last byte */
	assert_int_equal(pinmm_dev_fill(&pin, 0, PG - 16, 0xAB, 16), 0);
	assert_bytes(mm, a + PG - 16, 0xAB, 16);
	assert_int_equal(pinmm_dev_write(&pin, 0, PG - 1, "z", 1), 0);
	assert_int_equal(load8(mm, a + PG - 1), 'z');
	/* out of range */
	assert_int_equal(pinmm_dev_write(&pin, 3, 0, "x", 1), -EINVAL);
	assert_int_equal(pinmm_dev_read(&pin, 3, 0, buf, 1), -EINVAL);
	/* one DMA may cross into the next pinned page, never past the last */
	assert_int_equal(pinmm_dev_write(&pin, 2, PG - 2, "xyz", 3), -EINVAL);
	assert_int_equal(pinmm_dev_read(&pin, 0, 3 * PG, buf, 1), -EINVAL);
	assert_int_equal(pinmm_dev_fill(&pin, 2, 1, 0, PG), -EINVAL);
	assert_int_equal(load8(mm, a + PG - 1), 'z');
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void dev_write_through_ro_pin_eperm(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin, get;

	zero_pin(&pin);
	zero_pin(&get);
	fill(mm, a, 0x12, PG);
	for (int lt = 0; lt < 2; lt++) {
		pin_ok(mm, &pin, a, 1, lt ? PINMM_FOLL_LONGTERM : 0, false, pages);
		assert_int_equal(pinmm_dev_write(&pin, 0, 0, "x", 1), -EPERM);
		assert_int_equal(pinmm_dev_fill(&pin, 0, 0, 0x99, 8), -EPERM);
		assert_int_equal(dev_read8(&pin, 0, 0), 0x12);
		assert_bytes(mm, a, 0x12, PG);
		unpin_ok(&pin);
	}
	/* a R/O get: the device may read, not write */
	assert_int_equal(pinmm_get(mm, &get, a, 1, 0, false, pages), 0);
	assert_int_equal(dev_read8(&get, 0, 7), 0x12);
	assert_int_equal(pinmm_dev_write(&get, 0, 0, "x", 1), -EPERM);
	assert_int_equal(pinmm_put(&get), 0);
	assert_bytes(mm, a, 0x12, PG);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* ============================================================== checks === */

static void check_on_held_pins(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *p1[2], *p2[2];
	struct pinmm_pin rw, ro;

	zero_pin(&rw);
	zero_pin(&ro);
	fill(mm, a, 0x61, PG);
	fill(mm, a + PG, 0x62, PG);
	pin_ok(mm, &ro, a, 2, PINMM_FOLL_LONGTERM, true, p2);
	pin_ok(mm, &rw, a, 2, PINMM_FOLL_WRITE, false, p1);
	assert_true(pinmm_check_mapped(&rw, mm, a));
	assert_true(pinmm_check_mapped(&ro, mm, a));
	/* a wrong address does not map the pin's pages */
	assert_false(pinmm_check_mapped(&rw, mm, a + PG));
	assert_coherent(&rw, mm, a);
	assert_coherent(&ro, mm, a);
	/* the oracle restores what it touched */
	assert_bytes(mm, a, 0x61, PG);
	assert_bytes(mm, a + PG, 0x62, PG);
	assert_non_null(pinmm_coherence_str(PINMM_COHERENT));
	assert_non_null(pinmm_coherence_str(PINMM_NOT_MAPPED));
	assert_string_not_equal(pinmm_coherence_str(PINMM_COHERENT),
				pinmm_coherence_str(PINMM_NOT_MAPPED));
	assert_invariants(eng);

	/* after munmap the pins are not mapped any more */
	assert_int_equal(pinmm_munmap(mm, a + PG, PG), 0);
	assert_false(pinmm_check_mapped(&rw, mm, a));
	unsigned long bad = 99;
	enum pinmm_coherence c = pinmm_check_coherent(&rw, mm, a, &bad);
	assert_int_not_equal(c, PINMM_COHERENT);
	assert_int_equal(bad, 1);
	assert_int_equal(dev_read8(&rw, 1, 0), 0x62);	/* the page lives on */
	unpin_ok(&rw);
	unpin_ok(&ro);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_outlives_mm(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	fill(mm, a, 0x71, 2 * PG);
	pin_ok(mm, &pin, a, 2, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	pinmm_mm_exit(mm);
	/* still a valid handle; the pages live */
	assert_true(pinmm_pin_held(&pin));
	assert_int_equal(dev_read8(&pin, 1, 9), 0x71);
	dev_write8(&pin, 1, 9, 0x72);
	assert_int_equal(dev_read8(&pin, 1, 9), 0x72);
	assert_int_equal(frames_used(eng), 2);
	assert_int_equal(finfo(pages[0]).mapcount, 0);
	assert_int_equal(finfo(pages[0]).pincount, 1);
	assert_invariants(eng);
	unpin_ok(&pin);
	finish_engine(eng);
}

static void destroy_reports_leaked_pin(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, false, pages);
	pinmm_mm_exit(mm);
	assert_int_equal(pinmm_destroy(eng), -EBUSY);
}

static void pin_shared_anon(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_shared(mm, 2);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	pin_ok(mm, &pin, a, 2, PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	struct pinmm_mm *child = fork_mm(mm);
	/* shared memory: parent, child and device see one page */
	store8(child, a + 3, 0x81);
	assert_int_equal(dev_read8(&pin, 0, 3), 0x81);
	dev_write8(&pin, 1, 4, 0x82);
	assert_int_equal(load8(child, a + PG + 4), 0x82);
	assert_int_equal(load8(mm, a + PG + 4), 0x82);
	assert_coherent(&pin, mm, a);
	assert_coherent(&pin, child, a);
	pinmm_mm_exit(child);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void pin_zero_page_ro_shortterm(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw(mm, 1);
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(load8(mm, a), 0);
	/* a short-term R/O pin of never-written memory: a zero snapshot */
	pin_ok(mm, &pin, a, 1, 0, false, pages);
	assert_int_equal(dev_read8(&pin, 0, 100), 0);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}


/* ================================================ out of memory / ENOMEM === */

/* FOLL_LONGTERM needs a frame outside the movable zone: when there is none
 * left, the pin fails with ENOMEM and leaves nothing pinned */
static void longterm_pin_enomem_when_normal_zone_full(void **state)
{
	(void)state;
	enum { NORMAL = 512, MOVABLE = 1024, N = 600 };
	struct pinmm *eng = make_small_engine(NORMAL, MOVABLE);
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, N);
	struct pinmm_pin *pins = calloc(N, sizeof(*pins));
	struct pinmm_page **pages = calloc(N, sizeof(*pages));
	unsigned ok = 0;
	int r = 0;

	assert_non_null(pins);
	assert_non_null(pages);
	for (unsigned i = 0; i < N; i++)
		store8(mm, a + (uint64_t)i * PG, (uint8_t)(i + 1));
	for (ok = 0; ok < N; ok++) {
		r = pinmm_pin(mm, &pins[ok], a + (uint64_t)ok * PG, 1,
			      PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, ok & 1,
			      &pages[ok]);
		if (r != 0)
			break;
		assert_int_equal(finfo(pages[ok]).zone, PINMM_ZONE_NORMAL);
	}
	/* most of the normal zone could be used, then it ran out */
	assert_int_equal(r, -ENOMEM);
	assert_true(ok >= NORMAL - 16);
	assert_true(ok <= NORMAL);
	assert_false(pinmm_pin_held(&pins[ok]));
	/* the refused page is unpinned, still mapped, data intact */
	struct pinmm_folio_info fi = finfo_at(mm, a + (uint64_t)ok * PG);
	assert_int_equal(fi.pincount, 0);
	assert_int_equal(fi.zone, PINMM_ZONE_MOVABLE);
	assert_int_equal(load8(mm, a + (uint64_t)ok * PG), (uint8_t)(ok + 1));
	/* a short-term pin still works: it may stay in movable memory */
	struct pinmm_pin st;
	struct pinmm_page *sp[1];
	zero_pin(&st);
	pin_ok(mm, &st, a + (uint64_t)ok * PG, 1, PINMM_FOLL_WRITE, false, sp);
	unpin_ok(&st);
	/* the pinned ones kept their data through the move */
	for (unsigned i = 0; i < ok; i++)
		assert_int_equal(dev_read8(&pins[i], 0, 0), (uint8_t)(i + 1));
	assert_invariants(eng);
	for (unsigned i = 0; i < ok; i++)
		unpin_ok(&pins[i]);
	free(pins);
	free(pages);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* injected allocation failures under pin: 0 or -ENOMEM, never half */
static void pin_alloc_fail_sweep(void **state)
{
	(void)state;
	unsigned long nth;

	for (nth = 1; nth < 10000; nth++) {
		for (int variant = 0; variant < 4; variant++) {
			struct pinmm *eng = make_strict_engine();
			struct pinmm_mm *mm = make_mm(eng);
			uint64_t a = map_rw(mm, 4);
			struct pinmm_page *pages[4];
			struct pinmm_pin pin;
			unsigned flags = PINMM_FOLL_WRITE |
					 ((variant & 1) ? PINMM_FOLL_LONGTERM : 0);

			zero_pin(&pin);
			store8(mm, a, 0x5C);	/* page 0 present, 1..3 not */
			(void)pinmm_fail_alloc_nth(eng, nth, false);
			int r = pinmm_pin(mm, &pin, a, 4, flags, variant & 2, pages);
			unsigned long calls = pinmm_fail_alloc_nth(eng, 0, false);
			assert_true(r == 0 || r == -ENOMEM);
			if (r == 0) {
				assert_int_equal(dev_read8(&pin, 0, 0), 0x5C);
				assert_coherent(&pin, mm, a);
				unpin_ok(&pin);
			} else {
				assert_false(pinmm_pin_held(&pin));
				assert_int_equal(finfo_at(mm, a).pincount, 0);
			}
			assert_int_equal(load8(mm, a), 0x5C);
			assert_invariants(eng);
			pinmm_mm_exit(mm);
			finish_engine(eng);
			if (variant == 3 && calls < nth)
				return;
		}
	}
	fail_msg("the sweep did not end");
}


/* FOLL_LONGTERM of a page inside a PMD-mapped THP in the movable zone: the
 * folio is moved (or split and the page moved) out of the movable zone, then
 * pinned; the data and the mapping follow. */
static void longterm_pin_in_thp(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_anon(mm, PINMM_PMD_SIZE, PROT_RW,
			      PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(pinmm_madvise(mm, a, PINMM_PMD_SIZE, PINMM_MADV_HUGEPAGE), 0);
	for (unsigned i = 0; i < 512; i++)
		store8(mm, a + i * PG, (uint8_t)(i + 1));
	if (!follow(mm, a).huge) {
		pinmm_mm_exit(mm);
		finish_engine(eng);
		print_message("no THP for a MADV_HUGEPAGE region: skipped\n");
		skip();
	}
	for (int ro = 0; ro < 2; ro++) {
		unsigned flags = PINMM_FOLL_LONGTERM | (ro ? 0 : PINMM_FOLL_WRITE);
		int r = pinmm_pin(mm, &pin, a + 10 * PG, 2, flags, ro, pages);
		if (r != 0)
			print_error("longterm %s pin in a THP: %d\n", ro ? "R/O" : "R/W", r);
		assert_int_equal(r, 0);
		for (unsigned i = 0; i < 2; i++) {
			assert_int_equal(finfo(pages[i]).zone, PINMM_ZONE_NORMAL);
			assert_int_equal(dev_read8(&pin, i, 0), (uint8_t)(11 + i));
		}
		assert_true(pinmm_check_mapped(&pin, mm, a + 10 * PG));
		assert_coherent(&pin, mm, a + 10 * PG);
		unpin_ok(&pin);
	}
	/* the rest of the range kept its data */
	for (unsigned i = 0; i < 512; i += 17)
		assert_int_equal(load8(mm, a + i * PG), (uint8_t)(i + 1));
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* short-term pins of THP subpages: no move needed, pincount on the folio */
static void pin_in_thp(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_anon(mm, PINMM_PMD_SIZE, PROT_RW,
			      PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M);
	struct pinmm_page *pages[3];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(pinmm_madvise(mm, a, PINMM_PMD_SIZE, PINMM_MADV_HUGEPAGE), 0);
	fill(mm, a, 0x4D, PINMM_PMD_SIZE);
	struct pinmm_mapping m = follow(mm, a + 3 * PG);
	if (!m.huge) {
		pinmm_mm_exit(mm);
		finish_engine(eng);
		print_message("no THP for a MADV_HUGEPAGE region: skipped\n");
		skip();
	}
	for (int fast = 0; fast < 2; fast++) {
		pin_ok(mm, &pin, a + 3 * PG, 3, PINMM_FOLL_WRITE, fast, pages);
		for (unsigned i = 0; i < 3; i++) {
			assert_int_equal(pinmm_page_pfn(pages[i]), m.pfn + i);
			struct pinmm_folio_info fi = finfo(pages[i]);
			assert_int_equal(fi.order, PINMM_HPAGE_ORDER);
			assert_true(fi.maybe_dma_pinned);
			assert_true(fi.pincount >= 1);
		}
		assert_coherent(&pin, mm, a + 3 * PG);
		unpin_ok(&pin);
		assert_false(finfo_at(mm, a).maybe_dma_pinned);
	}
	assert_invariants(eng);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* One DMA runs across the pin's pages, up to its end and no further. */
static void dev_access_spans_pages(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 4);
	struct pinmm_page *pages[3];
	struct pinmm_pin pin;
	static uint8_t buf[3 * PG];

	zero_pin(&pin);
	fill(mm, a, 0x10, 4 * PG);
	pin_ok(mm, &pin, a, 3, PINMM_FOLL_WRITE, false, pages);
	memset(buf, 0x7e, sizeof(buf));
	/* page 0 from byte 3000 to the middle of page 2 */
	assert_int_equal(pinmm_dev_write(&pin, 0, 3000, buf, 2 * PG), 0);
	assert_bytes(mm, a, 0x10, 3000);
	assert_bytes(mm, a + 3000, 0x7e, 2 * PG);
	assert_bytes(mm, a + 3000 + 2 * PG, 0x10, 4 * PG - 3000 - 2 * PG);
	fill(mm, a + PG, 0x5c, 2 * PG);
	assert_int_equal(pinmm_dev_read(&pin, 1, 0, buf, 2 * PG), 0);
	for (size_t i = 0; i < 2 * PG; i++)
		assert_int_equal(buf[i], 0x5c);
	/* an offset past page_idx's own page is the same DMA started later */
	assert_int_equal(pinmm_dev_fill(&pin, 0, PG + 8, 0x31, 8), 0);
	assert_bytes(mm, a + PG + 8, 0x31, 8);
	/* past the pin's end (the mapping's fourth page is not pinned) */
	assert_int_equal(pinmm_dev_read(&pin, 2, 1, buf, PG), -EINVAL);
	assert_int_equal(pinmm_dev_write(&pin, 0, 0, buf, 3 * PG + 1), -EINVAL);
	assert_int_equal(pinmm_dev_read(&pin, 0, 3 * PG, buf, 0), 0);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* access_remote_vm with FOLL_FORCE: a debugger's store past the protection
 * of private mappings (COW), never into a shared one it cannot write. */
static void access_remote_force(void **state)
{
	(void)state;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2), s = map_shared(mm, 1);
	uint8_t buf[8] = "abcdefg", got[8];

	fill(mm, a, 0x11, 2 * PG);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(pinmm_mprotect(mm, a, PG, PROT_R), 0);
	assert_int_equal(pinmm_mprotect(mm, a + PG, PG, PINMM_PROT_NONE), 0);
	/* without FOLL_FORCE the protection holds */
	assert_int_equal(pinmm_access_remote(mm, a, buf, 4, PINMM_FOLL_WRITE), -EFAULT);
	/* across both pages: read-only, then PROT_NONE */
	assert_int_equal(pinmm_access_remote(mm, a + PG - 4, buf, 8,
					     PINMM_FOLL_WRITE | PINMM_FOLL_FORCE), 8);
	assert_int_equal(pinmm_access_remote(mm, a + PG - 4, got, 8, PINMM_FOLL_FORCE), 8);
	assert_memory_equal(got, buf, 8);
	assert_int_equal(store_err(mm, a, 0x99), -EACCES);	/* still read-only */
	assert_int_equal(load8(mm, a + PG - 4), 'a');
	assert_int_equal(load8(child, a + PG - 4), 0x11);	/* COW: the child's own */
	assert_int_equal(load8(child, a + PG), 0x11);
	/* a shared mapping without write permission: refused */
	assert_int_equal(pinmm_mprotect(mm, s, PG, PROT_R), 0);
	assert_int_equal(pinmm_access_remote(mm, s, buf, 1, PINMM_FOLL_WRITE | PINMM_FOLL_FORCE),
			 -EFAULT);
	/* bad arguments; a hole after the first page stops the copy there */
	assert_int_equal(pinmm_access_remote(NULL, a, buf, 1, 0), -EINVAL);
	assert_int_equal(pinmm_access_remote(mm, a, NULL, 1, 0), -EINVAL);
	assert_int_equal(pinmm_access_remote(mm, a, buf, 1, PINMM_FOLL_LONGTERM), -EINVAL);
	assert_int_equal(pinmm_munmap(mm, a + PG, PG), 0);
	assert_int_equal(pinmm_access_remote(mm, a + PG - 4, got, 8, PINMM_FOLL_FORCE), 4);
	assert_invariants(eng);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* The library's version is the headers'; the coherence oracle says which
 * page is bad only when one is (the caller's variable stays as it was). */
static void version_and_oracle_out_param(void **state)
{
	(void)state;
	assert_string_equal(pinmm_version(), PINMM_VERSION);
	char v[32];
	snprintf(v, sizeof(v), "%d.%d.%d", PINMM_VERSION_MAJOR, PINMM_VERSION_MINOR,
		 PINMM_VERSION_PATCH);
	assert_string_equal(v, PINMM_VERSION);

	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	uint64_t a = map_rw_populated(mm, 2);
	struct pinmm_page *pages[2];
	struct pinmm_pin pin;
	unsigned long bad = 77;

	zero_pin(&pin);
	pin_ok(mm, &pin, a, 2, PINMM_FOLL_WRITE, false, pages);
	assert_int_equal(pinmm_check_coherent(&pin, mm, a, &bad), PINMM_COHERENT);
	assert_int_equal(bad, 77);
	assert_int_equal(pinmm_madvise(mm, a + PG, PG, PINMM_MADV_DONTNEED), 0);
	assert_int_not_equal(pinmm_check_coherent(&pin, mm, a, &bad), PINMM_COHERENT);
	assert_int_equal(bad, 1);
	unpin_ok(&pin);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/* The dirty bit of the PTE mapping addr. */
static bool pte_dirty_at(struct pinmm_mm *mm, uint64_t addr)
{
	struct pt_table *pte = pte_table_lookup(mm, addr, NULL);

	assert_non_null(pte);
	return atomic_load(&pte->ent[pt_index(addr, PT_LEVEL_PTE)]) & PTE_DIRTY;
}

/*
 * FOLL_FORCE | FOLL_WRITE (ptrace's poke) of a read-only mapping: refused
 * for MAP_SHARED (slow and fast); for MAP_PRIVATE the pin gets a private
 * COW copy, which the process reads but cannot write.
 */
static void force_write_pin_of_ro_shared_refused(void **state)
{
	(void)state;
	for (int fast = 0; fast < 2; fast++) {
		struct pinmm *eng = make_strict_engine();
		struct pinmm_mm *mm = make_mm(eng);
		uint64_t a = map_anon(mm, 2 * PG, PROT_RW, PINMM_MAP_SHARED);
		struct pinmm_page *pages[1] = { NULL };
		struct pinmm_pin pin;

		fill(mm, a, 0x4E, 2 * PG);
		assert_int_equal(pinmm_mprotect(mm, a, 2 * PG, PROT_R), 0);
		zero_pin(&pin);
		assert_int_equal(pinmm_pin(mm, &pin, a, 1,
					   PINMM_FOLL_WRITE | PINMM_FOLL_FORCE, fast,
					   pages), -EFAULT);
		assert_false(pinmm_pin_held(&pin));
		/* a R/O one is fine, and nothing changed */
		pin_ok(mm, &pin, a, 1, PINMM_FOLL_FORCE, fast, pages);
		assert_int_equal(dev_read8(&pin, 0, 0), 0x4E);
		unpin_ok(&pin);
		assert_false(follow(mm, a).writable);
		assert_bytes(mm, a, 0x4E, 2 * PG);
		assert_invariants(eng);
		pinmm_mm_exit(mm);
		finish_engine(eng);
	}
}

static void force_write_pin_of_ro_private_copies(void **state)
{
	(void)state;
	for (int fast = 0; fast < 2; fast++) {
		struct pinmm *eng = make_strict_engine();
		struct pinmm_mm *mm = make_mm(eng);
		struct pinmm_page *pages[1] = { NULL };
		struct pinmm_pin pin;

		/* a page shared with a child since fork */
		uint64_t a = map_rw_populated(mm, 2);
		fill(mm, a, 0x5A, 2 * PG);
		struct pinmm_mm *child = fork_mm(mm);
		assert_int_equal(pinmm_mprotect(mm, a, 2 * PG, PROT_R), 0);
		uint64_t shared_pfn = pfn_at(child, a);
		assert_int_equal(pfn_at(mm, a), shared_pfn);
		zero_pin(&pin);
		pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE | PINMM_FOLL_FORCE, fast, pages);
		struct pinmm_mapping m = follow(mm, a);
		assert_true(m.present);
		assert_ptr_equal(m.page, pages[0]);
		assert_int_not_equal(m.pfn, shared_pfn);	/* its own copy */
		assert_false(m.writable);
		assert_int_equal(pfn_at(child, a), shared_pfn);
		dev_write8(&pin, 0, 3, 0x77);
		assert_int_equal(load8(mm, a + 3), 0x77);
		assert_int_equal(load8(child, a + 3), 0x5A);
		assert_int_equal(store_err(mm, a, 1), -EACCES);
		assert_bytes(mm, a + 4, 0x5A, PG - 4);
		assert_invariants(eng);
		unpin_ok(&pin);
		pinmm_mm_exit(child);

		/* an untouched read-only mapping (the zero page after a read) */
		uint64_t b = map_anon(mm, PG, PROT_R, PINMM_MAP_PRIVATE);
		assert_int_equal(load8(mm, b), 0);
		assert_true(follow(mm, b).zero_page);
		pin_ok(mm, &pin, b, 1, PINMM_FOLL_WRITE | PINMM_FOLL_FORCE, fast, pages);
		m = follow(mm, b);
		assert_true(m.present);
		assert_false(m.zero_page);
		assert_false(m.writable);
		assert_ptr_equal(m.page, pages[0]);
		dev_write8(&pin, 0, 9, 0x99);
		assert_int_equal(load8(mm, b + 9), 0x99);
		assert_int_equal(store_err(mm, b, 1), -EACCES);
		unpin_ok(&pin);
		assert_invariants(eng);
		pinmm_mm_exit(mm);
		finish_engine(eng);
	}
}

/* A R/W pin of an untouched page faults it in for write: the entry is
 * dirty (reclaim must write it back). A R/O one maps the zero page. */
static void write_pin_fault_marks_dirty(void **state)
{
	(void)state;
	for (int fast = 0; fast < 2; fast++) {
		struct pinmm *eng = make_strict_engine();
		struct pinmm_mm *mm = make_mm(eng);
		uint64_t a = map_rw(mm, 2);
		struct pinmm_page *pages[1] = { NULL };
		struct pinmm_pin pin;

		zero_pin(&pin);
		pin_ok(mm, &pin, a, 1, PINMM_FOLL_WRITE, fast, pages);
		assert_true(follow(mm, a).present);
		assert_true(pte_dirty_at(mm, a));
		unpin_ok(&pin);
		pin_ok(mm, &pin, a + PG, 1, 0, fast, pages);
		assert_true(follow(mm, a + PG).zero_page);
		unpin_ok(&pin);
		/* the zap hands the entry's dirty bit to the folio */
		assert_int_equal(pinmm_get(mm, &pin, a, 1, 0, fast, pages), 0);
		assert_int_equal(pinmm_munmap(mm, a, PG), 0);
		assert_true(finfo(pages[0]).dirty);
		assert_int_equal(pinmm_put(&pin), 0);
		assert_invariants(eng);
		pinmm_mm_exit(mm);
		finish_engine(eng);
	}
}

/*
 * An unshare fault that reuses the page leaves the entry read-only: a R/O
 * longterm pin of an anonymous page that is exclusive again (its child
 * exited) but still mapped read-only since fork. A later CPU store (a write
 * fault of its own) works and the device sees it.
 */
static void unshare_reuse_keeps_entry_read_only(void **state)
{
	(void)state;
	for (int fast = 0; fast < 2; fast++) {
		struct pinmm *eng = make_strict_engine();
		struct pinmm_mm *mm = make_mm(eng);
		uint64_t a = map_rw_populated(mm, 2);
		struct pinmm_page *pages[2] = { NULL, NULL };
		struct pinmm_pin pin;

		fill(mm, a, 0x61, 2 * PG);
		struct pinmm_mm *child = fork_mm(mm);
		pinmm_mm_exit(child);
		uint64_t pfn = pfn_at(mm, a);
		assert_false(follow(mm, a).writable);
		assert_false(follow(mm, a + PG).writable);
		struct pinmm_stats st = get_stats(eng);
		zero_pin(&pin);
		pin_ok(mm, &pin, a, 2, PINMM_FOLL_LONGTERM, fast, pages);
		struct pinmm_mapping m = follow(mm, a);
		assert_int_equal(m.pfn, pfn);		/* reused, not copied */
		assert_int_equal(get_stats(eng).cow_copies, st.cow_copies);
		assert_int_equal(get_stats(eng).cow_reuses, st.cow_reuses + 2);
		assert_true(m.anon_exclusive);
		assert_false(m.writable);		/* the pin did not change it */
		assert_false(follow(mm, a + PG).writable);
		assert_ptr_equal(m.page, pages[0]);
		store8(mm, a + 5, 0x62);	/* exclusive now: made writable as is */
		assert_true(follow(mm, a).writable);
		assert_int_equal(get_stats(eng).cow_copies, st.cow_copies);
		assert_int_equal(pfn_at(mm, a), pfn);
		assert_int_equal(dev_read8(&pin, 0, 5), 0x62);
		assert_coherent(&pin, mm, a);
		unpin_ok(&pin);
		assert_invariants(eng);
		pinmm_mm_exit(mm);
		finish_engine(eng);
	}
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dev_access_spans_pages),
		cmocka_unit_test(version_and_oracle_out_param),
		cmocka_unit_test(access_remote_force),
		cmocka_unit_test(force_write_pin_of_ro_shared_refused),
		cmocka_unit_test(force_write_pin_of_ro_private_copies),
		cmocka_unit_test(write_pin_fault_marks_dirty),
		cmocka_unit_test(unshare_reuse_keeps_entry_read_only),
		cmocka_unit_test(pin_slow_rw),
		cmocka_unit_test(pin_fast_rw),
		cmocka_unit_test(pin_slow_rw_longterm),
		cmocka_unit_test(pin_fast_rw_longterm),
		cmocka_unit_test(pin_slow_ro),
		cmocka_unit_test(pin_fast_ro),
		cmocka_unit_test(pin_slow_ro_longterm),
		cmocka_unit_test(pin_fast_ro_longterm),
		cmocka_unit_test(pin_faults_pages_in),
		cmocka_unit_test(pin_fast_unpopulated_falls_back),
		cmocka_unit_test(get_slow),
		cmocka_unit_test(get_fast),
		cmocka_unit_test(pin_counts_stack),
		cmocka_unit_test(pin_efault_unmapped),
		cmocka_unit_test(pin_across_hole_all_or_nothing),
		cmocka_unit_test(pin_efault_protection),
		cmocka_unit_test(pin_force_overrides_protection),
		cmocka_unit_test(pin_bad_args),
		cmocka_unit_test(handle_misuse_einval),
		cmocka_unit_test(handle_garbage_einval),
		cmocka_unit_test(page_layer_pin_slow),
		cmocka_unit_test(page_layer_pin_fast),
		cmocka_unit_test(page_layer_get_and_put),
		cmocka_unit_test(page_layer_partial_before_hole),
		cmocka_unit_test(page_layer_nofault),
		cmocka_unit_test(page_layer_strict_unpin),
		cmocka_unit_test(pin_many_pages),
		cmocka_unit_test(pin_across_vmas),
		cmocka_unit_test(dev_write_read_through_pin),
		cmocka_unit_test(dev_write_through_ro_pin_eperm),
		cmocka_unit_test(check_on_held_pins),
		cmocka_unit_test(pin_outlives_mm),
		cmocka_unit_test(destroy_reports_leaked_pin),
		cmocka_unit_test(pin_shared_anon),
		cmocka_unit_test(pin_zero_page_ro_shortterm),
		cmocka_unit_test(longterm_pin_enomem_when_normal_zone_full),
		cmocka_unit_test(pin_alloc_fail_sweep),
		cmocka_unit_test(pin_in_thp),
		cmocka_unit_test(longterm_pin_in_thp),
	};
	return cmocka_run_group_tests_name("gup", tests, NULL, NULL);
}
