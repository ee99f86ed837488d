/* SPDX-License-Identifier: MIT */
/*
 * pinmm/gup.h - get_user_pages / pin_user_pages and device access.
 *
 * Two layers, as in Linux:
 *  - the page layer: pinmm_pin_user_pages[_fast]() fill a caller-owned
 *    array of struct pinmm_page pointers; pinmm_unpin_user_page() drops one
 *    pin (-EINVAL when the page holds no pin).
 *  - the handle layer: struct pinmm_pin records one pin_user_pages call
 *    (mm, address, pages, flags) so that a double unpin, an unpin of a `get`
 *    and an unpin of garbage are told apart and refused with -EINVAL, and
 *    so that device accesses and the G1 oracle know what was pinned where.
 *
 * No call allocates on the GUP-fast path: the caller owns the arrays.
 */
#ifndef PINMM_GUP_H
#define PINMM_GUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pinmm/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* gup_flags, named as the kernel's FOLL_* */
#define PINMM_FOLL_WRITE 0x01u		/* the device will write */
#define PINMM_FOLL_LONGTERM 0x02u	/* held for an unbounded time */
#define PINMM_FOLL_FORCE 0x04u		/* override VMA protection (ptrace) */
#define PINMM_FOLL_NOFAULT 0x08u	/* slow path: do not fault pages in */
/* internal: set by the pin_* entry points, refused from callers */
#define PINMM_FOLL_PIN 0x100u
#define PINMM_FOLL_GET 0x200u

/* --------------------------------------------------------- page layer --- */

/*
 * Take nr_pages references from start (page aligned) in mm.
 * Returns how many pages were taken (>= 1; fewer than asked only when a
 * later page failed), or -EFAULT (no VMA / hole / access forbidden),
 * -ENOMEM (including, for a FOLL_LONGTERM pin, no room outside the
 * movable zone, or a movable page that could not be migrated because
 * another reference keeps it in place: Linux reports any migration
 * failure so), -ESRCH (the mm has exited), -EINVAL (bad flags, unaligned
 * start, nr_pages == 0).
 */
long pinmm_get_user_pages(struct pinmm_mm *mm, uint64_t start,
			  unsigned long nr_pages, unsigned gup_flags,
			  struct pinmm_page **pages);
long pinmm_get_user_pages_fast(struct pinmm_mm *mm, uint64_t start,
			       unsigned long nr_pages, unsigned gup_flags,
			       struct pinmm_page **pages);
long pinmm_pin_user_pages(struct pinmm_mm *mm, uint64_t start,
			  unsigned long nr_pages, unsigned gup_flags,
			  struct pinmm_page **pages);
long pinmm_pin_user_pages_fast(struct pinmm_mm *mm, uint64_t start,
			       unsigned long nr_pages, unsigned gup_flags,
			       struct pinmm_page **pages);

/* Drop one FOLL_PIN pin; dirty marks the folio dirty first (the device
 * wrote). -EINVAL when the folio holds no pin (nothing changes). */
int pinmm_unpin_user_page(struct pinmm_page *page, bool dirty);
/* Each of pages[0..nr); NULL entries, and a NULL array, are skipped. */
void pinmm_unpin_user_pages(struct pinmm_page **pages, unsigned long nr,
			    bool dirty);
/* Drop one FOLL_GET reference (NULL: nothing). */
void pinmm_put_page(struct pinmm_page *page);

/*
 * access_remote_vm(): copy len bytes at addr of mm to (PINMM_FOLL_WRITE)
 * or from buf, page by page through FOLL_GET references, as /proc/PID/mem
 * and ptrace do. With PINMM_FOLL_FORCE a write may go into a read-only or
 * PROT_NONE private mapping (the page gets its own COW copy, which stays
 * unwritable by the process); never into a shared mapping without write
 * permission. Returns the bytes copied (fewer when a later page failed),
 * or -errno when the first page fails (-EFAULT: no mapping or not
 * allowed), -EINVAL for bad arguments.
 */
long pinmm_access_remote(struct pinmm_mm *mm, uint64_t addr, void *buf, size_t len,
			 unsigned gup_flags);

/* The page's frame number and its 4 KiB of memory (the device's view);
 * PINMM_PFN_NONE and NULL for a NULL page (frame 0 is the zero page). */
#define PINMM_PFN_NONE UINT64_MAX
uint64_t pinmm_page_pfn(const struct pinmm_page *page);
void *pinmm_page_address(const struct pinmm_page *page);

/* ------------------------------------------------------- handle layer --- */

enum pinmm_pin_kind { PINMM_PIN_NONE, PINMM_PIN_PIN, PINMM_PIN_GET };

struct pinmm_pin {
	uint32_t magic;			/* private: valid/released marker */
	uint32_t slot, gen;		/* private: the engine's record of it */
	enum pinmm_pin_kind kind;
	struct pinmm_mm *mm;		/* the mm it was taken in (may exit) */
	uint64_t addr;			/* address at pin time */
	unsigned long nr_pages;
	unsigned gup_flags;
	bool fast;			/* taken with the _fast variant */
	struct pinmm_page **pages;	/* caller's array of nr_pages */
};

/*
 * Pin (FOLL_PIN) or get (FOLL_GET) nr_pages at addr into pin, using pages as
 * its array. All or nothing: a partial success is undone and the error
 * returned. flags: PINMM_FOLL_WRITE, PINMM_FOLL_LONGTERM, PINMM_FOLL_FORCE.
 * -EBUSY if pin is still held, or if (part of) pages is the array of
 * another held handle (each held handle owns its array until released).
 */
int pinmm_pin(struct pinmm_mm *mm, struct pinmm_pin *pin, uint64_t addr,
	      unsigned long nr_pages, unsigned gup_flags, bool fast,
	      struct pinmm_page **pages);
int pinmm_get(struct pinmm_mm *mm, struct pinmm_pin *pin, uint64_t addr,
	      unsigned long nr_pages, unsigned gup_flags, bool fast,
	      struct pinmm_page **pages);
/* Release; -EINVAL for a released, never taken, or wrong-kind handle. */
int pinmm_unpin(struct pinmm_pin *pin);
int pinmm_put(struct pinmm_pin *pin);
bool pinmm_pin_held(const struct pinmm_pin *pin);

/* Device (DMA) access through a held handle: len bytes from offset off of
 * the pin's page `page_idx`, running on across its following pages up to
 * the pin's end (one DMA over its pages). -EINVAL: bad handle/range, or a
 * NULL buf with len > 0; -EPERM: write through a R/O pin or into the zero
 * page. len 0 copies nothing and answers 0 once the handle and range are
 * checked (buf may be NULL), as pinmm_load() and pinmm_store() do. */
int pinmm_dev_write(struct pinmm_pin *pin, unsigned long page_idx,
		    size_t off, const void *buf, size_t len);
int pinmm_dev_fill(struct pinmm_pin *pin, unsigned long page_idx,
		   size_t off, uint8_t byte, size_t len);
int pinmm_dev_read(const struct pinmm_pin *pin, unsigned long page_idx,
		   size_t off, void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
