/* SPDX-License-Identifier: MIT */
/*
 * tests/test_alloc_fail.c - injected allocation failures
 * (pinmm_fail_alloc_nth) at every allocation of a representative sequence:
 * MAP_POPULATE of a THP region and a THP fault, fork, COW in both
 * processes, a longterm pin, KSM, MADV_COLLAPSE, reclaim and MADV_PAGEOUT,
 * migration and NUMA hinting, a folio split, a file created and mapped
 * shared and private, uprobes. test_mm.c sweeps mmap/munmap/mprotect/
 * mremap and test_gup.c the pin path itself; this covers the rest.
 *
 * Every step either succeeds or answers a documented error (-ENOMEM; -EAGAIN
 * / -EBUSY / -EINVAL where GUARANTEE.md or the headers say so); afterwards
 * the invariants hold, every byte written before the injection (and every
 * write that succeeded) is still there, and once everything is released
 * the engine holds zero frames. Each sweep runs once with a single failure
 * and once with every allocation failing from the nth on (sticky).
 */
#include "helpers.h"

#define HP (PINMM_PMD_SIZE / PG)	/* pages of a THP */

struct seq_state {
	struct pinmm *eng;
	struct pinmm_mm *mm, *child;
	struct pinmm_file *file;
	uint64_t a;		/* 8 small pages, page i filled with 0x10+i */
	uint64_t m;		/* 4 mergeable pages, all 0x77 */
	uint64_t h;		/* a 2 MiB hugepage range with 8 small pages */
	uint64_t t, fs, fp;	/* made under injection (0 if refused) */
	uint8_t a_now[8];	/* what page i of a holds for the parent */
	uint8_t a_child[8];
	uint8_t fs_byte;	/* file byte 0 */
	uint8_t probe_byte;	/* what the private text mapping shows at PG+7 */
	bool have_fs, pinned;
	struct pinmm_pin pin;
	struct pinmm_page *pages[1];
};

static void setup(struct seq_state *s)
{
	memset(s, 0, sizeof(*s));
	s->eng = make_strict_engine();
	s->mm = make_mm(s->eng);
	s->a = map_rw_populated(s->mm, 8);
	for (unsigned i = 0; i < 8; i++) {
		fill(s->mm, s->a + i * PG, (uint8_t)(0x10 + i), PG);
		s->a_now[i] = s->a_child[i] = (uint8_t)(0x10 + i);
	}
	s->m = map_rw(s->mm, 4);
	assert_int_equal(pinmm_madvise(s->mm, s->m, 4 * PG, PINMM_MADV_MERGEABLE), 0);
	fill(s->mm, s->m, 0x77, 4 * PG);
	/* small pages in a 2 MiB range, then HUGEPAGE: collapsible */
	s->h = map_anon(s->mm, HP * PG, PROT_RW,
			PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M | PINMM_MAP_NOHUGEPAGE);
	for (unsigned i = 0; i < 8; i++)
		store8(s->mm, s->h + i * 64 * PG, (uint8_t)(0xA0 + i));
	assert_int_equal(pinmm_madvise(s->mm, s->h, HP * PG, PINMM_MADV_HUGEPAGE), 0);
	zero_pin(&s->pin);
}

#define OK_OR(r, ...)                                                          \
	do {                                                                   \
		int r_ = (int)(r);                                             \
		int ok_[] = { 0, __VA_ARGS__ };                                \
		bool good_ = false;                                            \
		for (size_t k_ = 0; k_ < ARRAY_LEN(ok_); k_++)                 \
			good_ = good_ || r_ == ok_[k_];                        \
		if (!good_)                                                    \
			print_error("%s:%d: %s returned %d\n", __FILE__,       \
				    __LINE__, #r, r_);                         \
		assert_true(good_);                                            \
	} while (0)

/* the sequence under injection; records what succeeded */
static void run_sequence(struct seq_state *s)
{
	int r;
	long n;

	/* MAP_POPULATE of a THP region: 0 (even partly populated) or -ENOMEM */
	r = pinmm_mmap(s->mm, 0, HP * PG, PROT_RW,
		       PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M | PINMM_MAP_HUGEPAGE |
		       PINMM_MAP_POPULATE, &s->t);
	OK_OR(r, -ENOMEM);
	if (r)
		s->t = 0;
	if (s->t) {
		/* a THP fault (or a store into what populate made) */
		r = store_err(s->mm, s->t + 5 * PG, 0xE5);
		OK_OR(r, -ENOMEM);
	}
	/* fork, then COW in both */
	r = pinmm_fork(s->mm, &s->child);
	OK_OR(r, -ENOMEM);
	if (r)
		s->child = NULL;
	if (s->child) {
		r = store_err(s->child, s->a + PG, 0xC1);
		OK_OR(r, -ENOMEM);
		if (!r)
			s->a_child[1] = 0xC1;	/* byte 0 only; checked as such */
	}
	r = store_err(s->mm, s->a + 2 * PG, 0xD2);
	OK_OR(r, -ENOMEM);
	bool a2_stored = r == 0;
	/* a longterm pin: moved out of the movable zone first */
	r = pinmm_pin(s->mm, &s->pin, s->a + 3 * PG, 1,
		      PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, s->pages);
	OK_OR(r, -ENOMEM);
	s->pinned = r == 0;
	/* KSM: merges the mergeable pages (and fails cleanly) */
	n = pinmm_ksm_scan(s->eng, 2);
	assert_true(n >= 0 || n == -ENOMEM);
	/* MADV_COLLAPSE of the small pages: 0, -EAGAIN, -EINVAL, -ENOMEM */
	r = pinmm_madvise(s->mm, s->h, HP * PG, PINMM_MADV_COLLAPSE);
	OK_OR(r, -ENOMEM, -EAGAIN, -EINVAL);
	/* reclaim, twice (the first pass only ages), and PAGEOUT */
	for (int i = 0; i < 2; i++) {
		n = pinmm_reclaim(s->eng, 32);
		assert_true(n >= 0 || n == -ENOMEM);
	}
	r = pinmm_madvise(s->mm, s->a + 4 * PG, 2 * PG, PINMM_MADV_PAGEOUT);
	OK_OR(r, -ENOMEM);
	/* migration and NUMA hinting of a (maybe swapped) page and the pinned one */
	r = pinmm_migrate(s->mm, s->a + 6 * PG);
	OK_OR(r, -ENOMEM, -EBUSY, -EAGAIN, -EFAULT);
	r = pinmm_migrate(s->mm, s->a + 3 * PG);
	OK_OR(r, -ENOMEM, -EBUSY, -EAGAIN, -EFAULT);
	if (s->pinned)
		assert_int_equal(r, -EBUSY);
	r = pinmm_numa_hint(s->mm, s->a + 7 * PG);
	OK_OR(r, -ENOMEM, -EFAULT);
	/* a folio split of the THP region (if it got a THP) */
	if (s->t) {
		r = pinmm_split_folio(s->mm, s->t);
		OK_OR(r, -ENOMEM, -EBUSY, -EINVAL, -EAGAIN);
	}
	/* a file, mapped shared and private, written through both */
	r = pinmm_file_create(s->eng, 4 * PG, 0x42, &s->file);
	OK_OR(r, -ENOMEM);
	if (r)
		s->file = NULL;
	if (s->file) {
		s->fs_byte = 0x42;
		s->probe_byte = 0x42;
		r = pinmm_mmap_file(s->mm, 0, 4 * PG, PROT_RW, PINMM_MAP_SHARED, s->file,
				    0, &s->fs);
		OK_OR(r, -ENOMEM);
		if (r)
			s->fs = 0;
		r = pinmm_mmap_file(s->mm, 0, 4 * PG, PROT_R | PINMM_PROT_EXEC,
				    PINMM_MAP_PRIVATE | PINMM_MAP_POPULATE, s->file, 0, &s->fp);
		OK_OR(r, -ENOMEM);
		if (r)
			s->fp = 0;
		if (s->fs) {
			r = store_err(s->mm, s->fs, 0x43);
			OK_OR(r, -ENOMEM);
			if (!r)
				s->fs_byte = 0x43;
		}
		r = pinmm_uprobe_register(s->file, PG + 7);
		OK_OR(r, -ENOMEM, -EAGAIN);
		if (r == 0) {
			r = pinmm_uprobe_unregister(s->file, PG + 7);
			OK_OR(r, -ENOMEM, -EAGAIN);
			if (r)
				s->probe_byte = 0xcc;	/* still installed */
		}
	}
	if (a2_stored)
		s->a_now[2] = 0xD2;
}

static void verify_and_release(struct seq_state *s)
{
	assert_invariants(s->eng);
	/* data written before the injection, or by steps that succeeded */
	for (unsigned i = 0; i < 8; i++) {
		uint8_t v = load8(s->mm, s->a + i * PG);
		if (v != s->a_now[i])
			print_error("parent page %u holds 0x%02x, want 0x%02x\n", i, v,
				    s->a_now[i]);
		assert_int_equal(v, s->a_now[i]);
		if (i != 2)
			assert_bytes(s->mm, s->a + i * PG + 1, s->a_now[i], PG - 1);
	}
	assert_bytes(s->mm, s->m, 0x77, 4 * PG);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(load8(s->mm, s->h + i * 64 * PG), 0xA0 + i);
	if (s->child) {
		for (unsigned i = 0; i < 8; i++)
			assert_int_equal(load8(s->child, s->a + i * PG), s->a_child[i]);
		assert_bytes(s->child, s->m, 0x77, 4 * PG);
		pinmm_mm_exit(s->child);
	}
	if (s->pinned) {
		assert_coherent(&s->pin, s->mm, s->a + 3 * PG);
		assert_int_equal(dev_read8(&s->pin, 0, 0), s->a_now[3]);
		unpin_ok(&s->pin);
	}
	if (s->file) {
		uint8_t b = 0;
		assert_int_equal(pinmm_file_read(s->file, 0, &b, 1), 0);
		assert_int_equal(b, s->fs_byte);
		assert_int_equal(pinmm_file_read(s->file, PG + 7, &b, 1), 0);
		assert_int_equal(b, 0x42);
		if (s->fp) {
			/* the private text mapping: the original byte back (or
			 * the breakpoint, if unregistering failed) */
			assert_int_equal(load8(s->mm, s->fp + PG + 7), s->probe_byte);
			assert_int_equal(load8(s->mm, s->fp), s->fs_byte);
		}
		pinmm_file_put(s->file);
	}
	assert_invariants(s->eng);
	pinmm_mm_exit(s->mm);
	finish_engine(s->eng);
}

static void sweep(bool sticky)
{
	struct seq_state *s = calloc(1, sizeof(*s));
	unsigned long nth, total = 0;

	assert_non_null(s);
	/* how many allocations the sequence makes without injection */
	setup(s);
	(void)pinmm_fail_alloc_nth(s->eng, 0, false);
	run_sequence(s);
	total = pinmm_fail_alloc_nth(s->eng, 0, false);
	verify_and_release(s);
	assert_true(total > 10);

	for (nth = 1; nth <= total + 1; nth++) {
		setup(s);
		(void)pinmm_fail_alloc_nth(s->eng, nth, sticky);
		run_sequence(s);
		unsigned long calls = pinmm_fail_alloc_nth(s->eng, 0, false);
		verify_and_release(s);
		if (calls < nth)
			break;	/* the injection point was never reached */
	}
	print_message("    %s: %lu allocations in the sequence, swept them all\n",
		      sticky ? "sticky" : "once", total);
	free(s);
}

static void alloc_fail_sequence_once(void **state)
{
	(void)state;
	sweep(false);
}

static void alloc_fail_sequence_sticky(void **state)
{
	(void)state;
	sweep(true);
}

/*
 * mremap(MAYMOVE | FIXED) of a populated 2 MiB + 8 KiB region that crosses a
 * PMD boundary (so the move spans more than one PTE table, on both sides),
 * with an allocation failing at each point in turn: the call answers 0 or
 * -ENOMEM, and all of the data is at the new address (0) or all of it at the
 * old one (-ENOMEM); the invariants hold and nothing leaks.
 */
#define MR_PAGES (HP + 2)

static uint8_t mr_byte(unsigned long i)
{
	return (uint8_t)(0x40 + i * 7);
}

static void mremap_sweep(bool sticky)
{
	unsigned long nth, moved = 0, refused = 0;

	for (nth = 1; nth < 10000; nth++) {
		struct pinmm *eng = make_strict_engine();
		struct pinmm_mm *mm = make_mm(eng);
		const unsigned flags = PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M |
				       PINMM_MAP_NOHUGEPAGE | PINMM_MAP_POPULATE;
		uint64_t len = MR_PAGES * PG, a = 0, d = 0, out = 0;

		/* old: 4 pages below a PMD boundary, the rest above it */
		assert_int_equal(pinmm_mmap(mm, 0, len + HP * PG, PROT_RW, flags, &a), 0);
		assert_int_equal(pinmm_munmap(mm, a, HP * PG - 4 * PG), 0);
		a += HP * PG - 4 * PG;
		/* the target: 9 pages below a boundary, elsewhere */
		assert_int_equal(pinmm_mmap(mm, 0, len + HP * PG, PROT_RW,
					    PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M |
					    PINMM_MAP_NOHUGEPAGE, &d), 0);
		d += HP * PG - 9 * PG;
		for (unsigned long i = 0; i < MR_PAGES; i++)
			fill(mm, a + i * PG, mr_byte(i), PG);
		assert_false(follow(mm, a).huge);

		(void)pinmm_fail_alloc_nth(eng, nth, sticky);
		int r = pinmm_mremap(mm, a, len, len,
				     PINMM_MREMAP_MAYMOVE | PINMM_MREMAP_FIXED, d, &out);
		unsigned long calls = pinmm_fail_alloc_nth(eng, 0, false);
		if (r != 0 && r != -ENOMEM)
			print_error("nth %lu: mremap returned %d\n", nth, r);
		assert_true(r == 0 || r == -ENOMEM);
		assert_invariants(eng);
		uint64_t at = r == 0 ? d : a;
		if (r == 0) {
			assert_int_equal(out, d);
			assert_int_equal(load_err(mm, a), -EFAULT);
			assert_int_equal(load_err(mm, a + len - PG), -EFAULT);
			moved++;
		} else {
			refused++;
		}
		for (unsigned long i = 0; i < MR_PAGES; i++)
			assert_bytes(mm, at + i * PG, mr_byte(i), PG);
		/* and it is still a working mapping */
		fill(mm, at + (MR_PAGES - 1) * PG, 0x99, PG);
		assert_invariants(eng);
		pinmm_mm_exit(mm);
		finish_engine(eng);
		if (calls < nth)	/* the injection point was never reached */
			break;
	}
	print_message("    %s: %lu runs, %lu moved, %lu refused\n",
		      sticky ? "sticky" : "once", moved + refused, moved, refused);
	assert_true(nth > 2);		/* the move does allocate */
	assert_true(refused > 0);
	assert_true(moved > 0);		/* the last one: no failure at all */
}

static void alloc_fail_mremap_two_tables_once(void **state)
{
	(void)state;
	mremap_sweep(false);
}

static void alloc_fail_mremap_two_tables_sticky(void **state)
{
	(void)state;
	mremap_sweep(true);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alloc_fail_sequence_once),
		cmocka_unit_test(alloc_fail_sequence_sticky),
		cmocka_unit_test(alloc_fail_mremap_two_tables_once),
		cmocka_unit_test(alloc_fail_mremap_two_tables_sticky),
	};
	return cmocka_run_group_tests_name("alloc_fail", tests, NULL, NULL);
}
