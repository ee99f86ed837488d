/* SPDX-License-Identifier: MIT */
/*
 * access_remote_vm(): what /proc/PID/mem and ptrace(PTRACE_POKEDATA) do.
 * Each page is taken with a FOLL_GET reference through the slow path
 * (faulting it in), copied to or from, and released. With FOLL_FORCE a
 * debugger writes through the protection of a private mapping: a
 * read-only or PROT_NONE page gets its own COW copy, still unwritable by
 * the process; a shared mapping it cannot write is refused (EFAULT), as
 * check_vma_flags() does in Linux.
 */
#include <errno.h>

#include <pinmm/gup.h>

#include "../mem/frame_io.h"
#include "gup.h"

long pinmm_access_remote(struct pinmm_mm *mm, uint64_t addr, void *buf, size_t len,
			 unsigned gup_flags)
{
	uint8_t *b = buf;
	size_t done = 0;

	if (!mm || (!buf && len) || (gup_flags & ~(PINMM_FOLL_WRITE | PINMM_FOLL_FORCE)))
		return -EINVAL;
	if (addr + len < addr)
		return -EFAULT;
	while (done < len) {
		uint64_t a = addr + done;
		size_t off = a & (PINMM_PAGE_SIZE - 1);
		size_t n = MIN(len - done, PINMM_PAGE_SIZE - off);
		struct pinmm_page *page;
		long r = pinmm_get_user_pages(mm, a - off, 1, gup_flags, &page);

		if (r < 0)	/* as Linux: the bytes moved so far, else the error */
			return done ? (long)done : r;
		uint8_t *frame = (uint8_t *)pinmm_page_address(page) + off;
		if (gup_flags & PINMM_FOLL_WRITE) {
			frame_copy_to(frame, b + done, n);
			page_set(page_folio(page), PG_dirty);
		} else {
			frame_copy_from(b + done, frame, n);
		}
		pinmm_put_page(page);
		done += n;
	}
	return (long)done;
}
