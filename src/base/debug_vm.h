/* SPDX-License-Identifier: MIT */
/*
 * The counterpart of Linux's CONFIG_DEBUG_VM: cheap sanity checks on page
 * state at the points where a broken count turns into a use-after-free
 * much later (a reference taken on a free frame, a count going below zero,
 * a frame freed while still locked or mapped). They stop the process with
 * the page's state and the failing condition, right where it went wrong.
 *
 * Built with -DPINMM_DEBUG_VM=ON (the default of the sanitizer builds the
 * tests run); compiled out of the normal library, whose hot paths they
 * would otherwise tax.
 */
#ifndef PM_BASE_DEBUG_VM_H
#define PM_BASE_DEBUG_VM_H

#include "compiler.h"

struct pinmm_page;

#ifdef PINMM_DEBUG_VM
/* Print the page's descriptor and the condition, then abort (mem/folio.c). */
__attribute__((noreturn, cold)) void pm_bad_page(const struct pinmm_page *page,
						 const char *cond, const char *file,
						 int line);
#define VM_BUG_ON_PAGE(cond, page)                                           \
	do {                                                                 \
		if (unlikely(cond))                                          \
			pm_bad_page((page), #cond, __FILE__, __LINE__);      \
	} while (0)
#else
#define VM_BUG_ON_PAGE(cond, page) ((void)sizeof(!(cond)), (void)sizeof(page))
#endif

#endif
