/* SPDX-License-Identifier: MIT */
/* madvise: DONTNEED, FREE, DONTFORK/DOFORK and the VMA-flag advices, and the
 * entry to the mechanisms that move pages (KSM, collapse, pageout). */
#include <errno.h>

#include "daemons.h"
#include "../mm/mm.h"

/* Set or clear vm_flags bits on every VMA of [start,end), splitting. */
static int madvise_vma_flags(struct pinmm_mm *mm, uint64_t start, uint64_t end,
			     unsigned long set, unsigned long clear)
{
	int err = vma_split_range(mm, start, end);

	if (err)
		return err;
	for (struct vm_area *v = find_vma(mm, start); v && v->start < end;
	     v = vma_next(mm, v))
		v->flags = (v->flags & ~clear) | set;
	vma_merge_range(mm, start, end);
	return 0;
}

static int madvise_dontneed(struct pinmm_mm *mm, uint64_t start, uint64_t end,
			    bool lazyfree)
{
	for (struct vm_area *v = find_vma(mm, start); v && v->start < end;
	     v = vma_next(mm, v)) {
		/* MADV_FREE is for private anonymous memory only */
		if (lazyfree && (v->flags & VM_SHARED))
			return -EINVAL;
	}
	for (struct vm_area *v = find_vma(mm, start); v && v->start < end;
	     v = vma_next(mm, v))
		/*
		 * MADV_FREE lets the kernel drop clean pages whenever it likes;
		 * the engine drops them at once, the earliest moment Linux may.
		 * A later access maps a new page either way.
		 */
		zap_page_range(mm, v, MAX(start, v->start), MIN(end, v->end));
	return 0;
}

/*
 * hugetlb memory in [start, *end): DONTNEED zaps whole huge pages only (a
 * start inside one is -EINVAL, the end is rounded down:
 * madvise_dontneed_free_valid_vma()); FREE, PAGEOUT and COLLAPSE are for
 * other memory (-EINVAL); the rest apply (splits on 2 MiB boundaries).
 */
static int madvise_hugetlb_range(struct pinmm_mm *mm, uint64_t start, uint64_t *end,
				 enum pinmm_advice advice)
{
	bool hugetlb = false;

	for (struct vm_area *v = find_vma(mm, start); v && v->start < *end; v = vma_next(mm, v))
		hugetlb |= v->flags & VM_HUGETLB;
	if (!hugetlb)
		return 0;
	switch (advice) {
	case PINMM_MADV_FREE:
	case PINMM_MADV_PAGEOUT:
	case PINMM_MADV_COLLAPSE:
		return -EINVAL;
	case PINMM_MADV_DONTNEED:
		if (!IS_ALIGNED(start, PINMM_PMD_SIZE))
			return -EINVAL;
		*end = MAX(start, ALIGN_DOWN(*end, PINMM_PMD_SIZE));
		return 0;
	default:
		return 0;
	}
}

int pinmm_madvise(struct pinmm_mm *mm, uint64_t addr, uint64_t len,
		  enum pinmm_advice advice)
{
	uint64_t end = addr + ALIGN_UP(len, PINMM_PAGE_SIZE);
	int err = 0;
	bool hole = false;

	if (!mm || !IS_ALIGNED(addr, PINMM_PAGE_SIZE) || end < addr ||
	    (unsigned)advice >= PINMM_MADV_NR)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (atomic_load(&mm->dead))
		return -ESRCH;

	bool exclusive = advice != PINMM_MADV_DONTNEED && advice != PINMM_MADV_FREE;
	if (exclusive)
		pm_down_write(&mm->mmap_lock);
	else
		pm_down_read(&mm->mmap_lock);

	/* Linux applies the advice to what is mapped and reports a hole */
	{
		uint64_t a = addr;
		struct vm_area *v = find_vma(mm, a);
		while (a < end) {
			if (!v || v->start >= end) {
				hole = true;
				break;
			}
			if (v->start > a)
				hole = true;
			a = v->end;
			v = vma_next(mm, v);
		}
	}

	err = madvise_hugetlb_range(mm, addr, &end, advice);
	switch (err ? PINMM_MADV_NR : advice) {
	case PINMM_MADV_NR:
		break;	/* refused for hugetlb memory */
	case PINMM_MADV_DONTNEED:
		err = madvise_dontneed(mm, addr, end, false);
		break;
	case PINMM_MADV_FREE:
		err = madvise_dontneed(mm, addr, end, true);
		break;
	case PINMM_MADV_DONTFORK:
		err = madvise_vma_flags(mm, addr, end, VM_DONTCOPY, 0);
		break;
	case PINMM_MADV_DOFORK:
		err = madvise_vma_flags(mm, addr, end, 0, VM_DONTCOPY);
		break;
	case PINMM_MADV_MERGEABLE:
		err = madvise_vma_flags(mm, addr, end, VM_MERGEABLE, 0);
		break;
	case PINMM_MADV_UNMERGEABLE:
		err = ksm_unmerge_range(mm, addr, end);
		if (!err)
			err = madvise_vma_flags(mm, addr, end, 0, VM_MERGEABLE);
		break;
	case PINMM_MADV_HUGEPAGE:
		err = madvise_vma_flags(mm, addr, end, VM_HUGEPAGE, VM_NOHUGEPAGE);
		break;
	case PINMM_MADV_NOHUGEPAGE:
		err = madvise_vma_flags(mm, addr, end, VM_NOHUGEPAGE, VM_HUGEPAGE);
		break;
	case PINMM_MADV_COLLAPSE:
		err = madvise_collapse(mm, addr, end);
		break;
	case PINMM_MADV_PAGEOUT:
		err = madvise_pageout(mm, addr, end);
		break;
	default:
		err = -EINVAL;
		break;
	}

	if (exclusive)
		pm_up_write(&mm->mmap_lock);
	else
		pm_up_read(&mm->mmap_lock);
	if (!err && hole)
		err = -ENOMEM;
	return err;
}
