/* SPDX-License-Identifier: MIT */
/*
 * The G1 oracle: for every page of a held pin, the entry at the address maps
 * the pinned frame, and fresh bytes flow both ways between device and CPU.
 * It checks data, not only bookkeeping: if the entry maps another frame the
 * bytes disagree.
 */
#include "../mm/mm.h"

const char *pinmm_coherence_str(enum pinmm_coherence c)
{
	switch (c) {
	case PINMM_COHERENT: return "coherent";
	case PINMM_NOT_MAPPED: return "not mapped";
	case PINMM_DEV_TO_CPU_LOST: return "device write not seen by CPU";
	case PINMM_CPU_TO_DEV_LOST: return "CPU store not seen by device";
	case PINMM_CPU_FAULT: return "CPU access faulted";
	}
	return "?";
}

/* The entry at va maps exactly this page. */
static bool page_mapped_at(struct pinmm_mm *mm, uint64_t va, const struct pinmm_page *page)
{
	struct pinmm_mapping m;

	return !pinmm_follow_page(mm, va, &m) && m.present && m.page == page;
}

bool pinmm_check_mapped(const struct pinmm_pin *pin, struct pinmm_mm *mm, uint64_t addr)
{
	if (!pinmm_pin_held(pin))
		return false;
	for (unsigned long i = 0; i < pin->nr_pages; i++)
		if (!page_mapped_at(mm, addr + i * PINMM_PAGE_SIZE, pin->pages[i]))
			return false;
	return true;
}

static enum pinmm_coherence check_coherent(struct pinmm_pin *pin, struct pinmm_mm *mm,
					   uint64_t addr, unsigned long *bad_page)
{
	if (!pinmm_pin_held(pin))
		return PINMM_NOT_MAPPED;
	for (unsigned long i = 0; i < pin->nr_pages; i++) {
		uint64_t va = addr + i * PINMM_PAGE_SIZE;
		uint8_t *frame = pinmm_page_address(pin->pages[i]);
		uint8_t saved, seen, fresh;

		*bad_page = i;
		/* the CPU's view first: the oracle's own store may fault */
		if (pinmm_load(mm, va, &saved, 1))
			return PINMM_CPU_FAULT;
		/* CPU -> device: a store at va reaches the frame */
		fresh = (uint8_t)(saved ^ 0x5a);
		if (pinmm_store(mm, va, &fresh, 1))
			return PINMM_CPU_FAULT;
		seen = __atomic_load_n(frame, __ATOMIC_RELAXED);
		if (seen != fresh) {
			pinmm_store(mm, va, &saved, 1);
			return PINMM_CPU_TO_DEV_LOST;
		}
		/* device -> CPU: a write to the frame is loaded at va */
		fresh = (uint8_t)(saved ^ 0xa5);
		__atomic_store_n(frame, fresh, __ATOMIC_RELAXED);
		if (pinmm_load(mm, va, &seen, 1))
			return PINMM_CPU_FAULT;
		pinmm_store(mm, va, &saved, 1);
		if (seen != fresh)
			return PINMM_DEV_TO_CPU_LOST;
		if (!page_mapped_at(mm, va, pin->pages[i]))
			return PINMM_NOT_MAPPED;
	}
	return PINMM_COHERENT;
}

enum pinmm_coherence pinmm_check_coherent(struct pinmm_pin *pin, struct pinmm_mm *mm,
					  uint64_t addr, unsigned long *bad_page)
{
	unsigned long at = 0;
	enum pinmm_coherence r = check_coherent(pin, mm, addr, &at);

	/* *bad_page is an answer only when there is something wrong */
	if (r != PINMM_COHERENT && bad_page)
		*bad_page = at;
	return r;
}
