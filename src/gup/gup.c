/* SPDX-License-Identifier: MIT */
/*
 * get_user_pages / pin_user_pages: the slow path, under mmap_lock held for
 * read, walking with the page-table lock and faulting what is missing,
 * write-protected (COW) or must be unshared.
 */
#include <errno.h>

#include "gup.h"

bool try_grab_folio(struct pinmm *eng, struct pinmm_page *folio, int refs,
		    unsigned flags, bool fast)
{
	if (fast) {
		if (!folio_try_get_refs(folio, refs))
			return false;
	} else {
		folio_get_refs(folio, refs);
	}
	if ((flags & PINMM_FOLL_PIN) && pm_policy(eng, PINMM_SW_PIN_ACCOUNTING)) {
		/* sequentially consistent: ordered before the caller's recheck
		 * of the entry, against clear-then-check paths (design.md) */
		int n;

		pm_access(&folio->pincount, PM_ACC_ADD);
		n = atomic_fetch_add(&folio->pincount, refs) + refs;
		pm_preempt(PM_PT_PIN_GET, folio, n);
	}
	return true;
}

void gup_put_folio(struct pinmm *eng, struct pinmm_page *folio, int refs, unsigned flags)
{
	if ((flags & PINMM_FOLL_PIN) && pm_policy(eng, PINMM_SW_PIN_ACCOUNTING)) {
		int n;

		pm_access(&folio->pincount, PM_ACC_ADD);
		n = atomic_fetch_sub(&folio->pincount, refs) - refs;
		pm_preempt(PM_PT_PIN_PUT, folio, n);
	}
	folio_put_refs(folio, refs);
}

bool gup_must_unshare(struct pinmm *eng, const struct vm_area *vma, unsigned flags,
		      struct pinmm_page *page, bool zero_page)
{
	/* only R/O pins promise coherence; writes unshare by faulting anyway */
	if ((flags & (PINMM_FOLL_PIN | PINMM_FOLL_WRITE)) != PINMM_FOLL_PIN)
		return false;
	if (!zero_page && !page_test(page_folio(page), PG_anon)) {
		/*
		 * A page-cache page in a COW (private) mapping: a later CPU
		 * write would COW away from it, so a R/O longterm pin takes
		 * the private copy first (Linux 6.2, 84209e87c696 "reliable
		 * R/O long-term pinning in COW mappings"). Short-term pins
		 * promise only a snapshot; shared mappings write the page
		 * itself.
		 */
		if (!(flags & PINMM_FOLL_LONGTERM) ||
		    !pm_policy(eng, PINMM_SW_RO_LONGTERM_COW_UNSHARE))
			return false;
		return !vma || !(vma->flags & VM_SHARED);
	}
	if (!pm_policy(eng, PINMM_SW_ANON_EXCLUSIVE))
		return false;	/* legacy had no way to ask */
	if (zero_page)
		/* a R/O longterm pin of the zero page gets a real page, so
		 * that later CPU writes land in what the device sees */
		return flags & PINMM_FOLL_LONGTERM;
	return !page_anon_exclusive(page);
}

static int check_vma_flags(struct vm_area *vma, unsigned flags)
{
	bool write = flags & PINMM_FOLL_WRITE;

	if (flags & PINMM_FOLL_FORCE) {
		/* ptrace may write into a private read-only mapping (COW),
		 * never into a shared one it cannot write, nor into hugetlb
		 * memory (no FOLL_FORCE|FOLL_WRITE for it) */
		if (write && !(vma->flags & VM_WRITE) &&
		    (vma->flags & (VM_SHARED | VM_HUGETLB)))
			return -EFAULT;
		return 0;
	}
	if (write && !(vma->flags & VM_WRITE))
		return -EFAULT;
	if (!write && !(vma->flags & VM_READ))
		return -EFAULT;
	/* writable_file_mapping_allowed() (6.5): a writable longterm pin of
	 * a shared mapping of a file that tracks dirty pages would let the
	 * device dirty pages behind writeback's back */
	if (write && (flags & PINMM_FOLL_LONGTERM) && (vma->flags & VM_SHARED) &&
	    vma->file && vma->file->dirty_tracked)
		return -EFAULT;
	return 0;
}

/* The next page of a THP whose first page in the range was taken: the
 * entry allowed that one, so only what differs per page is left to ask. */
static bool follow_next_subpage(struct pinmm *eng, struct vm_area *vma, unsigned flags,
				pte_t e, struct pinmm_page *page)
{
	if ((flags & PINMM_FOLL_WRITE) && !pte_write(e) && !page_anon_exclusive(page))
		return false;	/* the FOLL_FORCE case: exclusive pages only */
	return !gup_must_unshare(eng, vma, flags, page, false);
}

/* follow_page_pte(): take the page at addr if the entry allows it — and,
 * through a PMD leaf, the following pages of the THP up to max, with one
 * grab for all (follow_page_mask()'s page_mask). Returns the number taken,
 * 0 must fault (*fault_flags set), -errno. */
static int follow_page_pte(struct pinmm_mm *mm, struct vm_area *vma,
			   uint64_t addr, unsigned flags, struct pinmm_page **pages,
			   unsigned long max, unsigned *fault_flags)
{
	struct pinmm *eng = mm->eng;
	bool write = flags & PINMM_FOLL_WRITE;
	unsigned i;
	uint64_t sub;	/* page within a THP (follow_huge_pmd's case) */
	struct pt_table *pte;
	int ret = 0;

	*fault_flags = write ? FAULT_FLAG_WRITE : 0;
	if (write && !(vma->flags & VM_WRITE))
		*fault_flags |= FAULT_FLAG_FORCE | FAULT_FLAG_UNSHARE;
	pte = entry_lock(mm, addr, &i, &sub);
	if (!pte)
		return 0;
	pte_t e = pt_read(pte, i);
	bool huge = pte_huge(e);
	if (huge)
		e = mk_pte(pte_pfn(e) + sub, e & (PTE_FLAGS_MASK & ~PTE_HUGE));
	/* a PROT_NONE mark in an accessible VMA is a NUMA hint: fault it
	 * away. In a PROT_NONE VMA it is the protection itself, which only
	 * FOLL_FORCE gets past (check_vma_flags): follow the page as is
	 * (Linux's gup_can_follow_protnone()). */
	if (!pte_present(e) || (pte_protnone(e) && (vma->flags & VM_ACCESS_MASK)))
		goto out;
	if (write && !pte_write(e)) {
		/* a FOLL_FORCE write may use an exclusive R/O page as is */
		struct pinmm_page *p = eng_pfn_page(eng, pte_pfn(e));
		if (!((flags & PINMM_FOLL_FORCE) && !(vma->flags & VM_WRITE) &&
		      !pte_special(e) && page_anon_exclusive(p)))
			goto out;
	}
	struct pinmm_page *page = eng_pfn_page(eng, pte_pfn(e));
	if (gup_must_unshare(eng, vma, flags, page, pte_special(e))) {
		*fault_flags = FAULT_FLAG_UNSHARE;
		goto out;
	}
	if (pte_special(e)) {
		/* the zero page: handed out without accounting */
		*pages = page;
		ret = 1;
		goto out;
	}
	pages[0] = page;
	ret = 1;
	while (huge && (unsigned long)ret < max && sub + (uint64_t)ret < HPAGE_PMD_NR &&
	       follow_next_subpage(eng, vma, flags, e, page + ret)) {
		pages[ret] = page + ret;
		ret++;
	}
	try_grab_folio(eng, page_folio(page), ret, flags, false);
out:
	pm_mutex_unlock(&pte->ptl);
	return ret;
}

long __get_user_pages(struct pinmm_mm *mm, uint64_t start, unsigned long nr,
		      unsigned flags, struct pinmm_page **pages)
{
	unsigned long done = 0;
	long ret = 0;

	pm_down_read(&mm->mmap_lock);
	if (atomic_load(&mm->dead)) {
		ret = -ESRCH;
		goto out;
	}
	while (done < nr) {
		uint64_t addr = start + done * PINMM_PAGE_SIZE;
		struct vm_area *vma = vma_lookup(mm, addr);
		unsigned fault_flags;
		unsigned tries = 0;
		double since = 0;
		int r;

		if (!vma || check_vma_flags(vma, flags)) {
			ret = -EFAULT;
			break;
		}
		while ((r = follow_page_pte(mm, vma, addr, flags, &pages[done], nr - done,
					    &fault_flags)) == 0) {
			if (flags & PINMM_FOLL_NOFAULT) {
				r = -EFAULT;
				break;
			}
			r = handle_mm_fault(mm, vma, addr,
					    fault_flags | FAULT_FLAG_REMOTE);
			if (r)
				break;
			if (pm_retry_expired(&tries, &since)) {
				r = -EAGAIN;
				break;
			}
		}
		if (r < 0) {
			ret = r;
			break;
		}
		done += (unsigned long)r;
	}
out:
	pm_up_read(&mm->mmap_lock);
	return done ? (long)done : ret;
}
