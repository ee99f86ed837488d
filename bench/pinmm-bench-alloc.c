/* SPDX-License-Identifier: MIT */
/*
 * pinmm-bench-alloc - "no allocation on the GUP-fast path" (gup.h).
 *
 * Linked with -Wl,--wrap=malloc,calloc,aligned_alloc,realloc,posix_memalign,
 * so every such call from this program and from the statically linked
 * engine goes through a counter. (Calls made inside shared libraries, e.g.
 * liburcu or libc itself, are not seen; the engine's own are.)
 *
 * Populates a region, warms up (first call registers the thread with RCU),
 * then counts allocations during N pin_user_pages_fast + unpin calls, of
 * one page and of 512 pages. Prints the counts; exit status 1 if any is
 * not 0 or GUP-fast fell back to the slow path.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <pinmm/pinmm.h>

static atomic_ulong nr_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_aligned_alloc(size_t a, size_t n);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);

void *__wrap_malloc(size_t n)
{
	atomic_fetch_add_explicit(&nr_allocs, 1, memory_order_relaxed);
	return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
	atomic_fetch_add_explicit(&nr_allocs, 1, memory_order_relaxed);
	return __real_calloc(n, m);
}
void *__wrap_aligned_alloc(size_t a, size_t n)
{
	atomic_fetch_add_explicit(&nr_allocs, 1, memory_order_relaxed);
	return __real_aligned_alloc(a, n);
}
void *__wrap_realloc(void *p, size_t n)
{
	atomic_fetch_add_explicit(&nr_allocs, 1, memory_order_relaxed);
	return __real_realloc(p, n);
}
int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
	atomic_fetch_add_explicit(&nr_allocs, 1, memory_order_relaxed);
	return __real_posix_memalign(p, a, n);
}

#define PG PINMM_PAGE_SIZE
#define REGION (16ul << 20)
#define PAGES (REGION / PG)
#define BATCH 512ul
#define CALLS 100000ul

#define CHECK(expr)                                                   \
	do {                                                          \
		long _r = (long)(expr);                               \
		if (_r < 0) {                                         \
			fprintf(stderr, "%s = %ld\n", #expr, _r);     \
			exit(2);                                      \
		}                                                     \
	} while (0)

static unsigned long fallbacks(struct pinmm *eng)
{
	struct pinmm_stats st;

	pinmm_get_stats(eng, &st);
	return st.gup_fast_fallbacks;
}

int main(void)
{
	struct pinmm_config cfg;
	struct pinmm *eng;
	struct pinmm_mm *mm;
	struct pinmm_page *pages[BATCH];
	uint64_t a;
	unsigned long before, one, batch, fb0, fb;

	pinmm_config_default(&cfg);
	CHECK(pinmm_create(&cfg, &eng));
	CHECK(pinmm_mm_create(eng, &mm));
	CHECK(pinmm_mmap(mm, 0, REGION, PINMM_PROT_READ | PINMM_PROT_WRITE,
			 PINMM_MAP_PRIVATE | PINMM_MAP_ALIGN_2M, &a));
	for (uint64_t off = 0; off < REGION; off += PG)
		CHECK(pinmm_store_fill(mm, a + off, 1, 1));
	/* warm-up: RCU registration of this thread happens here */
	CHECK(pinmm_pin_user_pages_fast(mm, a, BATCH, PINMM_FOLL_WRITE, pages));
	pinmm_unpin_user_pages(pages, BATCH, true);

	fb0 = fallbacks(eng);
	before = atomic_load(&nr_allocs);
	for (unsigned long i = 0; i < CALLS; i++) {
		if (pinmm_pin_user_pages_fast(mm, a + (i % PAGES) * PG, 1,
					      PINMM_FOLL_WRITE, pages) != 1)
			return 2;
		pinmm_unpin_user_page(pages[0], true);
	}
	one = atomic_load(&nr_allocs) - before;

	before = atomic_load(&nr_allocs);
	for (unsigned long i = 0; i < CALLS / 100; i++) {
		if (pinmm_pin_user_pages_fast(mm, a + (i % (PAGES / BATCH)) * BATCH * PG,
					      BATCH, PINMM_FOLL_WRITE, pages) != (long)BATCH)
			return 2;
		pinmm_unpin_user_pages(pages, BATCH, true);
	}
	batch = atomic_load(&nr_allocs) - before;
	fb = fallbacks(eng) - fb0;

	printf("allocations during %lu pin_fast(1)+unpin:   %lu\n", CALLS, one);
	printf("allocations during %lu pin_fast(512)+unpin: %lu\n", CALLS / 100, batch);
	printf("GUP-fast fallbacks to the slow path:        %lu\n", fb);
	printf("%s\n", one == 0 && batch == 0 && fb == 0 ? "OK: no allocation on the GUP-fast path"
							 : "FAIL");
	pinmm_mm_exit(mm);
	if (pinmm_destroy(eng))
		fprintf(stderr, "pinmm_destroy reported a leak\n");
	return one == 0 && batch == 0 && fb == 0 ? 0 : 1;
}
