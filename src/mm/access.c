/* SPDX-License-Identifier: MIT */
/*
 * CPU loads and stores. The "hardware" walks the tables under RCU, locks the
 * PTE table (standing in for the TLB's atomicity: an entry changed under
 * its ptl is never half-used) and moves the bytes; on a miss it takes
 * mmap_lock for read and faults, as a CPU traps into the kernel.
 */
#include <errno.h>
#include <string.h>

#include "../mem/frame_io.h"
#include "mm.h"

/* Try the access within one page without faulting. 1 done, 0 must fault. */
static int access_page_nofault(struct pinmm_mm *mm, uint64_t addr, void *buf,
			       size_t len, bool write)
{
	unsigned i;
	uint64_t sub;	/* page within a THP */
	struct pt_table *pte = entry_lock(mm, addr, &i, &sub);
	int done = 0;

	if (!pte)
		return 0;
	pte_t e = pt_read(pte, i);
	if (pte_present(e) && !pte_protnone(e) && (!write || pte_write(e))) {
		uint8_t *frame = pm_pfn_to_virt(&mm->eng->mem, pte_pfn(e) + sub);
		size_t off = addr & (PINMM_PAGE_SIZE - 1);

		if (write)
			frame_copy_to(frame + off, buf, len);
		else
			frame_copy_from(buf, frame + off, len);
		pte_t want = PTE_YOUNG | (write ? PTE_DIRTY : 0);
		if ((e & want) != want)
			pt_set_bits(pte, i, want);
		done = 1;
	}
	pm_mutex_unlock(&pte->ptl);
	return done;
}

static int cpu_access(struct pinmm_mm *mm, uint64_t addr, void *buf,
		      size_t len, bool write)
{
	uint8_t *p = buf;

	if (atomic_load(&mm->dead))
		return -ESRCH;
	if (addr + len < addr)
		return -EFAULT;
	while (len) {
		size_t chunk = MIN(len, PINMM_PAGE_SIZE - (addr & (PINMM_PAGE_SIZE - 1)));
		unsigned tries = 0;
		double since = 0;

		while (!access_page_nofault(mm, addr, p, chunk, write)) {
			struct vm_area *vma;
			int err;

			pm_down_read(&mm->mmap_lock);
			vma = vma_lookup(mm, addr);
			err = !vma ? -EFAULT : vma_access_ok(vma, write);
			if (!err)
				err = handle_mm_fault(mm, vma, addr,
						      write ? FAULT_FLAG_WRITE : 0);
			pm_up_read(&mm->mmap_lock);
			if (err)
				return err;
			/* a fault that keeps losing races is a livelock bug */
			if (pm_retry_expired(&tries, &since))
				return -EAGAIN;
		}
		addr += chunk;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

int pinmm_load(struct pinmm_mm *mm, uint64_t addr, void *buf, size_t len)
{
	if (!mm || (!buf && len))
		return -EINVAL;
	return cpu_access(mm, addr, buf, len, false);
}

int pinmm_store(struct pinmm_mm *mm, uint64_t addr, const void *buf, size_t len)
{
	if (!mm || (!buf && len))
		return -EINVAL;
	return cpu_access(mm, addr, (void *)buf, len, true);
}

int pinmm_store_fill(struct pinmm_mm *mm, uint64_t addr, uint8_t byte, size_t len)
{
	uint8_t chunk[PINMM_PAGE_SIZE];

	if (!mm)	/* answered even for len 0, as pinmm_store() does */
		return -EINVAL;
	memset(chunk, byte, MIN(len, sizeof(chunk)));
	while (len) {
		/* a page at a time: one walk of the tables per page */
		size_t n = MIN(len, PINMM_PAGE_SIZE - (addr & (PINMM_PAGE_SIZE - 1)));
		int err = pinmm_store(mm, addr, chunk, n);

		if (err)
			return err;
		addr += n;
		len -= n;
	}
	return 0;
}
