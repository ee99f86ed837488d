/* SPDX-License-Identifier: MIT */
/*
 * tests/helpers.h - shared helpers of the cmocka suites (public API only).
 *
 * Every test builds its own engine (pinmm_config_default() + a policy),
 * works on it, and ends with finish_engine(): every mm must have exited and
 * every pin/get must have been released by then; it asserts the G5
 * invariants, that no frame is left allocated and that destroy reports no
 * leak.
 *
 * The helpers assert (cmocka longjmps out of the test on failure), so they
 * must only be called from the test's own thread. Worker threads of the
 * concurrency suites record failures themselves (see test_conc_stress.c).
 */
#ifndef PINMM_TESTS_HELPERS_H
#define PINMM_TESTS_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pinmm/pinmm.h>

#define PG PINMM_PAGE_SIZE
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define PROT_RW (PINMM_PROT_READ | PINMM_PROT_WRITE)
#define PROT_R PINMM_PROT_READ

/* PINMM_TEST_FILTER=pattern (cmocka's: '*' and '?' wildcards) runs only the
 * matching tests. Call at the top of main(). */
static inline void tests_filter_from_env(void)
{
	const char *f = getenv("PINMM_TEST_FILTER");
	if (f && *f)
		cmocka_set_test_filter(f);
}

/* ------------------------------------------------------------ policies --- */

static inline struct pinmm_policy policy_strict(void)
{
	return PINMM_POLICY_STRICT;
}

/* strict with one fix switch turned off */
static inline struct pinmm_policy policy_strict_without(enum pinmm_switch s)
{
	struct pinmm_policy p = PINMM_POLICY_STRICT;
	p.on &= ~(1u << s);
	return p;
}

/*
 * `legacy` as far as the engine implements it: every switch off except those
 * that cannot be turned off yet (pinmm_switch_implemented() false), which stay
 * on. Once every switch is implemented this is exactly `legacy`.
 */
static inline struct pinmm_policy policy_legacy_implemented(void)
{
	struct pinmm_policy p = PINMM_POLICY_LEGACY;
	for (int s = 0; s < PINMM_SW_NR; s++)
		if (!pinmm_switch_implemented((enum pinmm_switch)s))
			p.on |= 1u << s;
	return p;
}

static inline struct pinmm_policy policy_from_text(const char *text)
{
	struct pinmm_policy p;
	char err[160] = "";
	int r = pinmm_policy_parse(text, &p, err, sizeof(err));
	if (r != 0)
		print_error("policy '%s': %s\n", text, err);
	assert_int_equal(r, 0);
	return p;
}

/* -------------------------------------------------------------- engine --- */

/*
 * An engine with the default configuration and policy p. When the engine
 * refuses the policy because a switch turned off is not implemented yet
 * (-EOPNOTSUPP), the test is skipped (and says why): it cannot show the
 * failure that switch closes.
 */
static inline struct pinmm *make_engine(struct pinmm_policy p)
{
	struct pinmm_config cfg;
	struct pinmm *eng = NULL;
	enum pinmm_switch bad;

	pinmm_config_default(&cfg);
	cfg.policy = p;
	if (pinmm_policy_validate(p, &bad) == -EOPNOTSUPP) {
		const char *n = pinmm_switch_name(bad);
		print_message("switch %s cannot be turned off yet: skipped\n",
			      n ? n : "?");
		skip();
	}
	int r = pinmm_create(&cfg, &eng);
	if (r == -EOPNOTSUPP) {
		print_message("engine refuses this policy (-EOPNOTSUPP): skipped\n");
		skip();
	}
	assert_int_equal(r, 0);
	assert_non_null(eng);
	return eng;
}

/*
 * A machine booted with movablecore: 16 MiB normal, 112 MiB movable zone,
 * user pages from the movable zone first (the default engine has no
 * movable zone). For the tests of longterm pins leaving movable memory.
 */
static inline void config_movablecore(struct pinmm_config *cfg)
{
	cfg->normal_frames = 4096;
	cfg->movable_frames = 28672;
}

static inline struct pinmm *make_movablecore_engine(struct pinmm_policy p)
{
	struct pinmm_config cfg;
	struct pinmm *eng = NULL;

	pinmm_config_default(&cfg);
	config_movablecore(&cfg);
	cfg.policy = p;
	assert_int_equal(pinmm_create(&cfg, &eng), 0);
	return eng;
}

/* strict, with zone sizes of its own (frames, multiples of 512) */
static inline struct pinmm *make_small_engine(size_t normal, size_t movable)
{
	struct pinmm_config cfg;
	struct pinmm *eng = NULL;

	pinmm_config_default(&cfg);
	cfg.normal_frames = normal;
	cfg.movable_frames = movable;
	assert_int_equal(pinmm_create(&cfg, &eng), 0);
	assert_non_null(eng);
	return eng;
}

static inline struct pinmm *make_strict_engine(void)
{
	return make_engine(PINMM_POLICY_STRICT);
}

static inline struct pinmm_mm *make_mm(struct pinmm *eng)
{
	struct pinmm_mm *mm = NULL;
	assert_int_equal(pinmm_mm_create(eng, &mm), 0);
	assert_non_null(mm);
	return mm;
}

static inline struct pinmm_mm *fork_mm(struct pinmm_mm *mm)
{
	struct pinmm_mm *child = NULL;
	assert_int_equal(pinmm_fork(mm, &child), 0);
	assert_non_null(child);
	assert_ptr_not_equal(child, mm);
	return child;
}

static inline void assert_invariants(struct pinmm *eng)
{
	struct pinmm_violation_report rep;
	memset(&rep, 0, sizeof(rep));
	int r = pinmm_check_invariants(eng, &rep);
	if (r != 0)
		print_error("invariants: %u violation(s), first: %s\n", rep.nr,
			    rep.first);
	assert_int_equal(r, 0);
}

static inline size_t frames_used(struct pinmm *eng)
{
	struct pinmm_stats st;
	pinmm_get_stats(eng, &st);
	return st.frames_used;
}

static inline struct pinmm_stats get_stats(struct pinmm *eng)
{
	struct pinmm_stats st;
	pinmm_get_stats(eng, &st);
	return st;
}

/*
 * Precondition: every mm exited, every pin and get released. Asserts G5
 * (invariants, zero frames used, zero mms) and destroys the engine.
 */
static inline void assert_no_leak(struct pinmm *eng)
{
	struct pinmm_stats st;
	assert_invariants(eng);
	pinmm_get_stats(eng, &st);
	if (st.frames_used != 0)
		print_error("leak: %zu frames still used\n", st.frames_used);
	assert_int_equal(st.frames_used, 0);
	assert_int_equal(st.nr_mms, 0);
	/* no swap slot outlives the entries and the cache that held it */
	assert_int_equal(st.swap_slots, 0);
}

static inline void finish_engine(struct pinmm *eng)
{
	assert_no_leak(eng);
	assert_int_equal(pinmm_destroy(eng), 0);
}

/* ------------------------------------------------------------- memory --- */

static inline uint64_t map_anon(struct pinmm_mm *mm, uint64_t len,
				unsigned prot, unsigned flags)
{
	uint64_t addr = 0;
	int r = pinmm_mmap(mm, 0, len, prot, flags, &addr);
	assert_int_equal(r, 0);
	assert_int_equal(addr % PG, 0);
	assert_true(addr >= PINMM_USER_MIN);
	assert_true(addr + len <= PINMM_USER_MAX);
	return addr;
}

/* private anonymous R/W, not populated */
static inline uint64_t map_rw(struct pinmm_mm *mm, unsigned long npages)
{
	return map_anon(mm, npages * PG, PROT_RW, PINMM_MAP_PRIVATE);
}

/* private anonymous R/W, populated (every page faulted in for write) */
static inline uint64_t map_rw_populated(struct pinmm_mm *mm,
					unsigned long npages)
{
	return map_anon(mm, npages * PG, PROT_RW,
			PINMM_MAP_PRIVATE | PINMM_MAP_POPULATE);
}

static inline uint64_t map_shared(struct pinmm_mm *mm, unsigned long npages)
{
	return map_anon(mm, npages * PG, PROT_RW, PINMM_MAP_SHARED);
}

/* store one byte, asserting success */
static inline void store8(struct pinmm_mm *mm, uint64_t addr, uint8_t v)
{
	assert_int_equal(pinmm_store(mm, addr, &v, 1), 0);
}

/* load one byte, asserting success */
static inline uint8_t load8(struct pinmm_mm *mm, uint64_t addr)
{
	uint8_t v = 0xEE;
	assert_int_equal(pinmm_load(mm, addr, &v, 1), 0);
	return v;
}

static inline void fill(struct pinmm_mm *mm, uint64_t addr, uint8_t v,
			size_t len)
{
	assert_int_equal(pinmm_store_fill(mm, addr, v, len), 0);
}

/* every byte of [addr, addr+len) holds v */
static inline void assert_bytes(struct pinmm_mm *mm, uint64_t addr,
				uint8_t v, size_t len)
{
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	memset(buf, (uint8_t)~v, len);
	int r = pinmm_load(mm, addr, buf, len);
	if (r != 0)
		free(buf);
	assert_int_equal(r, 0);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != v) {
			print_error("byte at 0x%llx+%zu is 0x%02x, want 0x%02x\n",
				    (unsigned long long)addr, i, buf[i], v);
			free(buf);
			fail();
		}
	}
	free(buf);
}

static inline int load_err(struct pinmm_mm *mm, uint64_t addr)
{
	uint8_t v;
	return pinmm_load(mm, addr, &v, 1);
}

static inline int store_err(struct pinmm_mm *mm, uint64_t addr, uint8_t v)
{
	return pinmm_store(mm, addr, &v, 1);
}

/* ---------------------------------------------------------- inspection --- */

static inline struct pinmm_mapping follow(struct pinmm_mm *mm, uint64_t addr)
{
	struct pinmm_mapping m;
	memset(&m, 0, sizeof(m));
	assert_int_equal(pinmm_follow_page(mm, addr, &m), 0);
	return m;
}

/* pfn mapped at addr (must be present) */
/* npages of private anonymous memory holding byte, swapped out
 * (MADV_PAGEOUT; the default engine has a swap device) */
static inline uint64_t map_swapped_out(struct pinmm_mm *mm, unsigned long npages,
				       uint8_t byte)
{
	uint64_t a = map_rw_populated(mm, npages);

	fill(mm, a, byte, npages * PG);
	assert_int_equal(pinmm_madvise(mm, a, npages * PG, PINMM_MADV_PAGEOUT), 0);
	for (unsigned long i = 0; i < npages; i++)
		assert_true(follow(mm, a + i * PG).swapped);
	return a;
}

static inline uint64_t pfn_at(struct pinmm_mm *mm, uint64_t addr)
{
	struct pinmm_mapping m = follow(mm, addr);
	assert_true(m.present);
	return m.pfn;
}

static inline struct pinmm_folio_info finfo(const struct pinmm_page *page)
{
	struct pinmm_folio_info fi;
	memset(&fi, 0, sizeof(fi));
	assert_non_null(page);
	pinmm_folio_info(page, &fi);
	return fi;
}

/* folio info of the page mapped at addr (must be present) */
static inline struct pinmm_folio_info finfo_at(struct pinmm_mm *mm,
					       uint64_t addr)
{
	struct pinmm_mapping m = follow(mm, addr);
	assert_true(m.present);
	assert_non_null(m.page);
	return finfo(m.page);
}

/* ------------------------------------------------------------ pins --- */

static inline uint8_t dev_read8(const struct pinmm_pin *pin,
				unsigned long page, size_t off)
{
	uint8_t v = 0xEE;
	assert_int_equal(pinmm_dev_read(pin, page, off, &v, 1), 0);
	return v;
}

static inline void dev_write8(struct pinmm_pin *pin, unsigned long page,
			      size_t off, uint8_t v)
{
	assert_int_equal(pinmm_dev_write(pin, page, off, &v, 1), 0);
}

static inline void assert_coherent(struct pinmm_pin *pin,
				   struct pinmm_mm *mm, uint64_t addr)
{
	unsigned long bad = ~0ul;
	enum pinmm_coherence c = pinmm_check_coherent(pin, mm, addr, &bad);
	if (c != PINMM_COHERENT)
		print_error("not coherent: %s at page %lu\n",
			    pinmm_coherence_str(c), bad);
	assert_int_equal(c, PINMM_COHERENT);
}

static inline bool is_coherent(struct pinmm_pin *pin, struct pinmm_mm *mm,
			       uint64_t addr)
{
	unsigned long bad = ~0ul;
	return pinmm_check_coherent(pin, mm, addr, &bad) == PINMM_COHERENT;
}

static inline void zero_pin(struct pinmm_pin *pin)
{
	memset(pin, 0, sizeof(*pin));
}

/* handle-layer pin asserting success */
static inline void pin_ok(struct pinmm_mm *mm, struct pinmm_pin *pin,
			  uint64_t addr, unsigned long n, unsigned flags,
			  bool fast, struct pinmm_page **pages)
{
	int r = pinmm_pin(mm, pin, addr, n, flags, fast, pages);
	assert_int_equal(r, 0);
	assert_true(pinmm_pin_held(pin));
}

static inline void unpin_ok(struct pinmm_pin *pin)
{
	assert_int_equal(pinmm_unpin(pin), 0);
	assert_false(pinmm_pin_held(pin));
}

#endif
