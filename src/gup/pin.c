/* SPDX-License-Identifier: MIT */
/*
 * The public GUP entry points: the page layer (pin_user_pages[_fast],
 * get_user_pages[_fast], unpin, put) and the handle layer (struct
 * pinmm_pin), which tells a held pin from a released, never-taken or
 * wrong-kind one so that misuse is refused with -EINVAL and changes nothing.
 */
#include <errno.h>
#include <string.h>

#include "../mem/frame_io.h"
#include "../daemons/daemons.h"
#include <pinmm/daemons.h>

#include "gup.h"

#define PIN_MAGIC_HELD 0x50494e48u	/* "PINH" */
#define PIN_MAGIC_RELEASED 0x50494e52u	/* "PINR" */

static bool is_zero_page(const struct pinmm_page *p)
{
	return page_test(p, PG_zero);
}

static void account(struct pinmm *eng, struct pinmm_page **pages,
		    unsigned long nr, unsigned flags, long sign)
{
	long n = 0;

	for (unsigned long i = 0; i < nr; i++)
		n += !is_zero_page(pages[i]);
	atomic_fetch_add(flags & PINMM_FOLL_PIN ? &eng->nr_pins : &eng->nr_gets,
			 sign * n);
}

/*
 * Take up to nr pages: GUP-fast for as many as it can, the slow path for the
 * rest. Returns how many were taken; *err says why the first one that was
 * not taken failed (0 when all were taken). The counts of outstanding
 * references are kept for the checker.
 */
static unsigned long gup_range(struct pinmm_mm *mm, uint64_t start,
			       unsigned long nr, unsigned flags, bool fast,
			       struct pinmm_page **pages, int *err)
{
	unsigned long done = 0;
	long r;

	*err = 0;
	if (fast) {
		done = gup_fast(mm, start, nr, flags, pages);
		if (done < nr)
			atomic_fetch_add(&mm->eng->stats.gup_fast_fallbacks, 1);
	}
	if (done < nr) {
		r = __get_user_pages(mm, start + done * PINMM_PAGE_SIZE, nr - done,
				     flags, pages + done);
		if (r < 0)
			*err = (int)r;
		else
			done += (unsigned long)r;
	}
	account(mm->eng, pages, done, flags, 1);
	return done;
}

/* Is any page taken in the movable zone? */
static bool any_movable(struct pinmm_page **pages, unsigned long nr)
{
	for (unsigned long i = 0; i < nr; i++)
		if (pm_page_zone(page_folio(pages[i])) == PINMM_ZONE_MOVABLE)
			return true;
	return false;
}

/*
 * FOLL_LONGTERM: a pin held for an unbounded time must not sit in movable
 * memory, or it would block compaction and hot-unplug for good. Like Linux's
 * check_and_migrate_movable_pages(): give the pins back, move the movable
 * folios to the normal zone — a THP whole (THP migration), or, when no
 * 2 MiB block is free there, split so that its pages move on the next try
 * (migrate_pages() splits a THP it cannot allocate for) — and let the
 * caller take them again.
 *
 * The folios are held with plain references taken *before* the pins go:
 * in between, nothing else might keep them, and a reference taken on a
 * folio already freed would bring a reused frame back to life.
 * 0, or -ENOMEM when a folio could not be moved (the normal zone is
 * full, or another reference keeps it in place).
 */
static int longterm_migrate_movable(struct pinmm_mm *mm, uint64_t start,
				    struct pinmm_page **pages, unsigned long nr)
{
	struct pinmm *eng = mm->eng;
	int err = 0;

	/* pages[] becomes the list of what to move: a folio we hold (once,
	 * at its first page in the range), or NULL */
	struct pinmm_page *prev = NULL;
	for (unsigned long i = 0; i < nr; i++) {
		struct pinmm_page *page = pages[i], *folio = page_folio(page);
		bool hold = pm_page_zone(folio) == PINMM_ZONE_MOVABLE && folio != prev;

		if (hold)
			folio_get(folio);
		pinmm_unpin_user_page(page, false);
		pages[i] = hold ? folio : NULL;
		prev = folio;
	}
	for (unsigned long i = 0; i < nr; i++) {
		struct pinmm_page *folio = pages[i];

		if (!folio)
			continue;
		/* any failure, as mm/gup.c reports a failed migrate_pages():
		 * another reference held it, or no frame was free */
		int r = err ? 0 : migrate_folio(eng, folio, 0);
		bool split = r == -ENOMEM && folio_order(folio) > 0;
		folio_put(folio);
		if (split)	/* by address: we hold nothing of it now */
			(void)pinmm_split_folio(mm, start + i * PINMM_PAGE_SIZE);
		else if (r)
			err = -ENOMEM;
	}
	return err;
}

static long gup_entry(struct pinmm_mm *mm, uint64_t start, unsigned long nr,
		      unsigned flags, bool fast, unsigned kind,
		      struct pinmm_page **pages)
{
	int err;
	unsigned long done;

	if (!mm || !pages || !nr || !IS_ALIGNED(start, PINMM_PAGE_SIZE) ||
	    (flags & ~(PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM | PINMM_FOLL_FORCE |
		       PINMM_FOLL_NOFAULT)) ||
	    nr > (PINMM_USER_MAX >> PINMM_PAGE_SHIFT))
		return -EINVAL;
	if (start + nr * PINMM_PAGE_SIZE < start ||
	    start + nr * PINMM_PAGE_SIZE > PINMM_USER_MAX)
		return -EFAULT;
	if (atomic_load(&mm->dead))
		return -ESRCH;
	for (int tries = 0;; tries++) {
		done = gup_range(mm, start, nr, flags | kind, fast, pages, &err);
		if (!done || kind != PINMM_FOLL_PIN || !(flags & PINMM_FOLL_LONGTERM) ||
		    !pm_policy(mm->eng, PINMM_SW_LONGTERM_UNMOVABLE))
			break;
		if (!any_movable(pages, done))
			break;
		/* the pins must go before the folios can move */
		int r = longterm_migrate_movable(mm, start, pages, done);
		if (r < 0)
			return r;
		if (tries == 8)
			return -ENOMEM;	/* someone else keeps it in place */
	}
	return done ? (long)done : err;
}

long pinmm_get_user_pages(struct pinmm_mm *mm, uint64_t start, unsigned long nr,
			  unsigned flags, struct pinmm_page **pages)
{
	return gup_entry(mm, start, nr, flags, false, PINMM_FOLL_GET, pages);
}

long pinmm_get_user_pages_fast(struct pinmm_mm *mm, uint64_t start,
			       unsigned long nr, unsigned flags,
			       struct pinmm_page **pages)
{
	return gup_entry(mm, start, nr, flags, true, PINMM_FOLL_GET, pages);
}

long pinmm_pin_user_pages(struct pinmm_mm *mm, uint64_t start, unsigned long nr,
			  unsigned flags, struct pinmm_page **pages)
{
	return gup_entry(mm, start, nr, flags, false, PINMM_FOLL_PIN, pages);
}

long pinmm_pin_user_pages_fast(struct pinmm_mm *mm, uint64_t start,
			       unsigned long nr, unsigned flags,
			       struct pinmm_page **pages)
{
	return gup_entry(mm, start, nr, flags, true, PINMM_FOLL_PIN, pages);
}

/*
 * Drop refs pins of a folio (refs of its pages, taken together); the caller
 * settles eng->nr_pins (once per batch: a counter every unpin wrote would be
 * the one cache line two CPUs unpinning disjoint pages fight over). 0, or
 * -EINVAL with nothing changed (the folio has fewer pins than that).
 */
static int unpin_folio(struct pinmm *eng, struct pinmm_page *folio, int refs, bool dirty)
{
	if (pm_policy(eng, PINMM_SW_PIN_ACCOUNTING)) {
		/* refuse an unpin of a folio with no pin: nothing changes */
		int old;

		pm_access(&folio->pincount, PM_ACC_WRITE);
		old = folio_pincount(folio);
		do {
			if (old < refs)
				return -EINVAL;
		} while (!atomic_compare_exchange_weak(&folio->pincount, &old, old - refs));
		pm_preempt(PM_PT_PIN_PUT, folio, old - refs);
	} else if (atomic_load(&eng->nr_pins) <= 0) {
		return -EINVAL;	/* the best legacy can tell */
	}
	if (dirty && !page_test(folio, PG_dirty))
		page_set(folio, PG_dirty);
	folio_put_refs(folio, refs);
	return 0;
}

int pinmm_unpin_user_page(struct pinmm_page *page, bool dirty)
{
	struct pinmm *eng;
	int err;

	if (!page)
		return -EINVAL;
	if (is_zero_page(page))
		return 0;
	eng = pm_page_engine(page);
	err = unpin_folio(eng, page_folio(page), 1, dirty);
	if (!err)
		atomic_fetch_sub(&eng->nr_pins, 1);
	return err;
}

void pinmm_unpin_user_pages(struct pinmm_page **pages, unsigned long nr, bool dirty)
{
	struct pinmm *eng = NULL;
	long released = 0;

	for (unsigned long i = 0, run; pages && i < nr; i += run) {
		run = 1;
		if (!pages[i] || is_zero_page(pages[i]))
			continue;
		/* one engine per batch, as one mm's pages are */
		if (!eng || pages[i] < eng->mem.pages ||
		    pages[i] >= eng->mem.pages + eng->mem.nr_frames) {
			if (released)
				atomic_fetch_sub(&eng->nr_pins, released);
			eng = pm_page_engine(pages[i]);
			released = 0;
		}
		/* the following pages of the same folio go in one step, as
		 * unpin_user_pages() does (gup_folio_range_next()) */
		struct pinmm_page *folio = page_folio(pages[i]);
		while (i + run < nr && pages[i + run] && page_folio(pages[i + run]) == folio)
			run++;
		if (unpin_folio(eng, folio, (int)run, dirty) == 0) {
			released += (long)run;
			continue;
		}
		/* fewer pins than pages: each page on its own, as many as
		 * the folio has */
		for (unsigned long k = 0; k < run; k++)
			released += unpin_folio(eng, folio, 1, dirty) == 0;
	}
	if (released)
		atomic_fetch_sub(&eng->nr_pins, released);
}

void pinmm_put_page(struct pinmm_page *page)
{
	struct pinmm *eng;

	if (!page || is_zero_page(page))
		return;
	eng = pm_page_engine(page);
	atomic_fetch_sub(&eng->nr_gets, 1);
	folio_put(page_folio(page));
}

uint64_t pinmm_page_pfn(const struct pinmm_page *page)
{
	if (!page)
		return PINMM_PFN_NONE;
	return pm_page_to_pfn(&pm_page_engine(page)->mem, page);
}

void *pinmm_page_address(const struct pinmm_page *page)
{
	const struct pm_mem *mem;

	if (!page)
		return NULL;
	mem = &pm_page_engine(page)->mem;
	return pm_pfn_to_virt(mem, pm_page_to_pfn(mem, page));
}

/* ------------------------------------------------------- handle layer --- */

/* Does [a, a+na) share an element with [b, b+nb)? */
static bool arrays_overlap(struct pinmm_page **a, unsigned long na, struct pinmm_page **b,
			   unsigned long nb)
{
	return (uintptr_t)a < (uintptr_t)(b + nb) && (uintptr_t)b < (uintptr_t)(a + na);
}

/* A new held record of a pin or a get: its slot and (odd) generation;
 * -EBUSY when a held handle uses (part of) the same page array (the second
 * pin would overwrite the first's pages, and the first's unpin then drop
 * the wrong pins: a leak no count shows), or -ENOMEM. The kind is the
 * engine's, so a forged handle cannot release a pin as a get. */
static int record_open(struct pinmm *eng, enum pinmm_pin_kind kind, struct pinmm_page **pages,
		       unsigned long nr, uint32_t *slot, uint32_t *gen)
{
	int err = 0;

	pm_mutex_lock(&eng->pin_records.lock);
	for (uint32_t j = 0; j < eng->pin_records.nr; j++) {
		if ((eng->pin_records.gen[j] & 1) &&
		    arrays_overlap(pages, nr, eng->pin_records.arr[j], eng->pin_records.nr_pages[j])) {
			err = -EBUSY;
			goto out;
		}
	}
	uint32_t n = eng->pin_records.nr, i = eng->pin_records.free_hint;
	for (; i < n && (eng->pin_records.gen[i] & 1); i++)
		;
	if (i == n) {
		if (n == eng->pin_records.cap) {
			uint32_t cap = n ? 2 * n : 64;
			uint32_t *g = pm_should_fail_alloc(eng, PINMM_ALLOC_VMA) ? NULL :
				      realloc(eng->pin_records.gen, cap * sizeof(*g));
			if (g)
				eng->pin_records.gen = g;
			uint8_t *k = g ? realloc(eng->pin_records.kind, cap) : NULL;
			if (k)
				eng->pin_records.kind = k;
			struct pinmm_page ***a = k ? realloc(eng->pin_records.arr,
							     cap * sizeof(*a)) : NULL;
			if (a)
				eng->pin_records.arr = a;
			unsigned long *np = a ? realloc(eng->pin_records.nr_pages,
							cap * sizeof(*np)) : NULL;
			if (!np) {
				err = -ENOMEM;
				goto out;
			}
			eng->pin_records.nr_pages = np;
			memset(g + n, 0, (cap - n) * sizeof(*g));
			eng->pin_records.cap = cap;
		}
		eng->pin_records.nr = n + 1;
	}
	*slot = i;
	*gen = ++eng->pin_records.gen[i];	/* now odd: held */
	eng->pin_records.kind[i] = (uint8_t)kind;
	eng->pin_records.arr[i] = pages;
	eng->pin_records.nr_pages[i] = nr;
	eng->pin_records.free_hint = i + 1;
out:
	pm_mutex_unlock(&eng->pin_records.lock);
	return err;
}

/* Close the record if it is the held one (of that kind) the handle names. */
static bool record_close(struct pinmm *eng, enum pinmm_pin_kind kind, uint32_t slot,
			 uint32_t gen)
{
	bool ok;

	pm_mutex_lock(&eng->pin_records.lock);
	ok = slot < eng->pin_records.nr && (gen & 1) && eng->pin_records.gen[slot] == gen &&
	     eng->pin_records.kind[slot] == (uint8_t)kind;
	if (ok) {
		eng->pin_records.gen[slot]++;	/* even: released */
		if (slot < eng->pin_records.free_hint)
			eng->pin_records.free_hint = slot;
	}
	pm_mutex_unlock(&eng->pin_records.lock);
	return ok;
}

static void release_pages(struct pinmm_page **pages, unsigned long nr, unsigned foll,
			  bool dirty)
{
	if (foll == PINMM_FOLL_PIN) {
		pinmm_unpin_user_pages(pages, nr, dirty);
		return;
	}
	for (unsigned long i = 0; i < nr; i++)
		pinmm_put_page(pages[i]);
}

static int handle_take(struct pinmm_mm *mm, struct pinmm_pin *pin, uint64_t addr,
		       unsigned long nr, unsigned flags, bool fast,
		       struct pinmm_page **pages, enum pinmm_pin_kind kind)
{
	unsigned foll = kind == PINMM_PIN_PIN ? PINMM_FOLL_PIN : PINMM_FOLL_GET;
	long r;
	int err;

	if (!pin || !nr || (flags & PINMM_FOLL_NOFAULT))
		return -EINVAL;
	if (pinmm_pin_held(pin))
		return -EBUSY;
	if (!mm || !pages)
		return -EINVAL;
	/* the record first: it claims the page array before GUP writes it */
	err = record_open(mm->eng, kind, pages, nr, &pin->slot, &pin->gen);
	if (err)
		return err;
	/* all or nothing: a short count means the next page failed (or
	 * raced with an unmap); keep going from there until done or refused */
	for (unsigned long got = 0; got < nr; got += (unsigned long)r) {
		r = gup_entry(mm, addr + got * PINMM_PAGE_SIZE, nr - got, flags, fast,
			      foll, pages + got);
		if (r < 0) {
			release_pages(pages, got, foll, false);
			record_close(mm->eng, kind, pin->slot, pin->gen);
			return (int)r;
		}
	}
	pin->kind = kind;
	pin->mm = mm;
	pin->addr = addr;
	pin->nr_pages = nr;
	pin->gup_flags = flags;
	pin->fast = fast;
	pin->pages = pages;
	__atomic_store_n(&pin->magic, PIN_MAGIC_HELD, __ATOMIC_RELEASE);
	return 0;
}

int pinmm_pin(struct pinmm_mm *mm, struct pinmm_pin *pin, uint64_t addr,
	      unsigned long nr, unsigned flags, bool fast, struct pinmm_page **pages)
{
	return handle_take(mm, pin, addr, nr, flags, fast, pages, PINMM_PIN_PIN);
}

int pinmm_get(struct pinmm_mm *mm, struct pinmm_pin *pin, uint64_t addr,
	      unsigned long nr, unsigned flags, bool fast, struct pinmm_page **pages)
{
	return handle_take(mm, pin, addr, nr, flags, fast, pages, PINMM_PIN_GET);
}

static int handle_release(struct pinmm_pin *pin, enum pinmm_pin_kind kind)
{
	if (!pin || __atomic_load_n(&pin->magic, __ATOMIC_ACQUIRE) != PIN_MAGIC_HELD ||
	    pin->kind != kind || !pin->mm)
		return -EINVAL;
	/* the engine's record decides: exactly one release of a held pin
	 * wins, whatever copies of the handle exist */
	if (!record_close(pin->mm->eng, kind, pin->slot, pin->gen))
		return -EINVAL;
	__atomic_store_n(&pin->magic, PIN_MAGIC_RELEASED, __ATOMIC_RELEASE);
	release_pages(pin->pages, pin->nr_pages,
		      kind == PINMM_PIN_PIN ? PINMM_FOLL_PIN : PINMM_FOLL_GET,
		      pin->gup_flags & PINMM_FOLL_WRITE);
	return 0;
}

int pinmm_unpin(struct pinmm_pin *pin)
{
	return handle_release(pin, PINMM_PIN_PIN);
}

int pinmm_put(struct pinmm_pin *pin)
{
	return handle_release(pin, PINMM_PIN_GET);
}

bool pinmm_pin_held(const struct pinmm_pin *pin)
{
	struct pinmm *eng;
	bool held;

	if (!pin || __atomic_load_n(&pin->magic, __ATOMIC_ACQUIRE) != PIN_MAGIC_HELD ||
	    !pin->mm)
		return false;
	/* a stale copy of a released handle still says "held" */
	eng = pin->mm->eng;
	pm_mutex_lock(&eng->pin_records.lock);
	held = pin->slot < eng->pin_records.nr && (pin->gen & 1) &&
	       eng->pin_records.gen[pin->slot] == pin->gen;
	pm_mutex_unlock(&eng->pin_records.lock);
	return held;
}

/*
 * A DMA starts at byte off of the pin's page page_idx and may run on
 * across the following pages up to the pin's end (a scatter-gather list
 * of the pinned pages, as a device sees them).
 */
static int dev_range(const struct pinmm_pin *pin, unsigned long page_idx,
		     size_t off, const void *buf, size_t len)
{
	if ((!buf && len) || !pinmm_pin_held(pin) || page_idx >= pin->nr_pages)
		return -EINVAL;
	uint64_t room = (uint64_t)(pin->nr_pages - page_idx) << PINMM_PAGE_SHIFT;
	if (off > room || len > room - off)
		return -EINVAL;
	return 0;
}

enum dev_op { DEV_READ, DEV_WRITE, DEV_FILL };

/* One DMA over the pin's pages, page by page. */
static void dev_transfer(const struct pinmm_pin *pin, unsigned long page_idx, size_t off,
			 uint8_t *buf, uint8_t byte, size_t len, enum dev_op op)
{
	page_idx += off >> PINMM_PAGE_SHIFT;
	off &= PINMM_PAGE_SIZE - 1;
	while (len) {
		size_t n = MIN(len, PINMM_PAGE_SIZE - off);
		uint8_t *frame = (uint8_t *)pinmm_page_address(pin->pages[page_idx]) + off;

		if (op == DEV_READ)
			frame_copy_from(buf, frame, n);
		else if (op == DEV_WRITE)
			frame_copy_to(frame, buf, n);
		else
			frame_fill(frame, byte, n);
		if (buf)
			buf += n;
		len -= n;
		off = 0;
		page_idx++;
	}
}

/* A device write needs a R/W pin, and none of its pages may be the zero page. */
static int dev_writable(const struct pinmm_pin *pin, unsigned long page_idx, size_t off,
			size_t len)
{
	if (!(pin->gup_flags & PINMM_FOLL_WRITE))
		return -EPERM;
	if (!len)
		return 0;
	for (uint64_t i = page_idx + (off >> PINMM_PAGE_SHIFT);
	     i <= page_idx + ((off + len - 1) >> PINMM_PAGE_SHIFT); i++)
		if (is_zero_page(pin->pages[i]))
			return -EPERM;
	return 0;
}

int pinmm_dev_write(struct pinmm_pin *pin, unsigned long page_idx, size_t off,
		    const void *buf, size_t len)
{
	int err = dev_range(pin, page_idx, off, buf, len);

	if (!err)
		err = dev_writable(pin, page_idx, off, len);
	if (!err)
		dev_transfer(pin, page_idx, off, (uint8_t *)buf, 0, len, DEV_WRITE);
	return err;
}

int pinmm_dev_fill(struct pinmm_pin *pin, unsigned long page_idx, size_t off,
		   uint8_t byte, size_t len)
{
	int err = dev_range(pin, page_idx, off, "", len);

	if (!err)
		err = dev_writable(pin, page_idx, off, len);
	if (!err)
		dev_transfer(pin, page_idx, off, NULL, byte, len, DEV_FILL);
	return err;
}

int pinmm_dev_read(const struct pinmm_pin *pin, unsigned long page_idx, size_t off,
		   void *buf, size_t len)
{
	int err = dev_range(pin, page_idx, off, buf, len);

	if (!err)
		dev_transfer(pin, page_idx, off, buf, 0, len, DEV_READ);
	return err;
}
