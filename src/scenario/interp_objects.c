/* SPDX-License-Identifier: MIT */
/*
 * interp_objects.c - an engine object named as the scenario knows it, for
 * the explorer's traces: "pte buf+4K", "pmd buf", "folio of buf+8K in
 * child", "mmap_lock main", "folio of file f page 2", "folio of pin p",
 * "ksm_thread_mutex". The engine says what an object is relative to an
 * address range, an mm or a file (pinmm/explore.h); the interpreter's
 * tables say what those are called. Nothing here is an address, so the
 * same schedule names its objects the same in every process.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pinmm/scenario_explore.h>

#include "interp.h"

#ifdef PINMM_EXPLORE

#define MAX_MMS 64

/* "buf", "buf+4K", "buf+2M", "buf+0x180" */
static void region_offset(char *buf, size_t len, const char *region, uint64_t off)
{
	if (!off)
		snprintf(buf, len, "%s", region);
	else if (!(off & ((1ull << 20) - 1)))
		snprintf(buf, len, "%s+%" PRIu64 "M", region, off >> 20);
	else if (!(off & 1023))
		snprintf(buf, len, "%s+%" PRIu64 "K", region, off >> 10);
	else
		snprintf(buf, len, "%s+0x%" PRIx64, region, off);
}

/* The process an mm the interpreter does not know yet is becoming: the
 * child of a `fork` under way in some flow. */
static int forking_child(const struct rt *rt)
{
	unsigned nt = rt->scn->names[NS_THREAD].nr;

	for (unsigned i = 0; i <= nt; i++) {
		const struct stmt *st = i < nt ? rt->threads[i].cur : rt->main.cur;

		if (st && (st->kind == ST_TRY || st->kind == ST_EXPECT_ERROR))
			st = st->guard.inner;
		if (st && st->kind == ST_FORK)
			return st->who.proc;
	}
	return -1;
}

/* Every live mm with the name of its process ("main", "child", or "mm #N"
 * for one nobody names). rt->lock held. */
static size_t named_mms(struct rt *rt, struct pinmm_mm **mms, const char **names,
		       char (*spare)[16])
{
	const struct scn_names *procs = &rt->scn->names[NS_PROC];
	struct pinmm_mm *all[MAX_MMS];
	size_t n = pinmm_explore_mms(rt->eng, all, MAX_MMS);
	int child = forking_child(rt);

	if (n > MAX_MMS)
		n = MAX_MMS;
	for (size_t i = 0; i < n; i++) {
		mms[i] = all[i];
		names[i] = NULL;
		for (unsigned p = 0; p < procs->nr && !names[i]; p++)
			if (rt->procs[p].mm == all[i])
				names[i] = procs->v[p];
		if (!names[i] && child >= 0 && !rt->procs[child].mm)
			names[i] = procs->v[child];
		if (!names[i]) {
			snprintf(spare[i], sizeof(spare[i]), "mm #%zu", i + 1);
			names[i] = spare[i];
		}
	}
	return n;
}

/* What lies at addr: "buf+4K" in buf, false outside every region. */
static bool region_at(const struct rt *rt, uint64_t addr, char *buf, size_t len)
{
	const struct scn_names *regions = &rt->scn->names[NS_REGION];

	for (unsigned r = 0; r < regions->nr; r++) {
		const struct rt_region *reg = &rt->regions[r];

		if (reg->len && addr >= reg->addr && addr < reg->addr + reg->len) {
			region_offset(buf, len, regions->v[r], addr - reg->addr);
			return true;
		}
	}
	return false;
}

/* "pte buf+4K", or "pte buf+4K in child" in another process's tables */
static void entry_name(char *buf, size_t len, const char *what, const char *where,
		       const char *proc)
{
	if (proc)
		snprintf(buf, len, "%s %s in %s", what, where, proc);
	else
		snprintf(buf, len, "%s %s", what, where);
}

struct rt_entry_name {
	const void *obj;
	uint64_t addr;
	int level;		/* 1 pte ... 4 pgd */
	const char *proc;	/* NULL: main */
};

static const char *const levels[] = { "", "pte", "pmd", "pud", "pgd" };

/* Remember a named entry, for its table's other entries once nothing
 * reaches the table any more. */
static void remember_entry(struct rt *rt, const void *obj, const char *what, uint64_t addr,
			   const char *proc)
{
	struct rt_entry_name *e;
	int level = 0;

	for (int l = 1; l <= 4; l++)
		if (!strcmp(what, levels[l]))
			level = l;
	for (unsigned i = 0; level && i < rt->nr_entries; i++)
		if (rt->entries[i].obj == obj)
			return;
	/* the array grows at each power of two */
	if (!level || (rt->nr_entries && (rt->nr_entries & (rt->nr_entries - 1))))
		e = level ? rt->entries : NULL;
	else
		e = realloc(rt->entries, (rt->nr_entries ? 2 * rt->nr_entries : 1) * sizeof(*e));
	if (!e)
		return;
	rt->entries = e;
	e[rt->nr_entries++] = (struct rt_entry_name){ obj, addr, level, proc };
}

/* An entry of a table named before (detached since). */
static bool in_known_tables(struct rt *rt, const void *obj, char *buf, size_t len)
{
	char where[80];
	uint64_t addr;

	for (unsigned i = 0; i < rt->nr_entries; i++) {
		const struct rt_entry_name *e = &rt->entries[i];

		if (pinmm_explore_same_table(e->obj, e->addr, e->level, obj, &addr) &&
		    region_at(rt, addr, where, sizeof(where))) {
			entry_name(buf, len, levels[e->level], where, e->proc);
			return true;
		}
	}
	return false;
}

/* In the tables of an mm, within one of the regions; proc NULL: main. */
static bool in_regions(struct rt *rt, struct pinmm_mm *mm, const char *proc, bool lasting,
		       const void *obj, char *buf, size_t len)
{
	const struct scn_names *regions = &rt->scn->names[NS_REGION];
	struct pinmm_explore_where w;
	char where[80];

	for (unsigned r = 0; r < regions->nr; r++) {
		const struct rt_region *reg = &rt->regions[r];

		if (!reg->len || !pinmm_explore_find_in_range(mm, reg->addr, reg->addr + reg->len,
							       obj, &w))
			continue;
		region_offset(where, sizeof(where), regions->v[r], w.addr - reg->addr);
		entry_name(buf, len, w.what, where, proc);
		if (lasting)
			remember_entry(rt, obj, w.what, w.addr, proc);
		return true;
	}
	return false;
}

static bool in_files_and_pins(struct rt *rt, const void *obj, char *buf, size_t len)
{
	const struct pinmm_scenario *scn = rt->scn;
	const char *what;
	uint64_t index = 0;

	for (unsigned f = 0; f < scn->names[NS_FILE].nr; f++) {
		what = pinmm_explore_find_in_file(rt->files[f], obj, &index);
		if (what && index)
			snprintf(buf, len, "%s file %s page %" PRIu64, what, scn->names[NS_FILE].v[f],
				 index);
		else if (what)
			snprintf(buf, len, "%s file %s", what, scn->names[NS_FILE].v[f]);
		if (what)
			return true;
	}
	for (unsigned p = 0; p < scn->names[NS_PIN].nr; p++) {
		const struct rt_pin *pin = &rt->pins[p];

		for (unsigned k = 0; pin->taken && k < scn->pin_max_pages[p]; k++) {
			if (!pinmm_explore_is_folio_of(pin->pages[k], obj))
				continue;
			if (k)
				snprintf(buf, len, "folio of pin %s page %u", scn->names[NS_PIN].v[p], k);
			else
				snprintf(buf, len, "folio of pin %s", scn->names[NS_PIN].v[p]);
			return true;
		}
	}
	return false;
}

void rt_name_object(struct rt *rt, const void *obj, char *buf, size_t len)
{
	struct pinmm_mm *mms[MAX_MMS];
	const char *names[MAX_MMS], *what;
	char spare[MAX_MMS][16];
	uint64_t pfn = 0;
	size_t n;

	buf[0] = 0;
	if (!obj || !rt->eng)
		return;
	/* never held at a preemption point (interp.h), so free here */
	pthread_mutex_lock(&rt->lock);
	n = named_mms(rt, mms, names, spare);
	for (size_t i = 0; i < n && !buf[0]; i++)
		if ((what = pinmm_explore_find_in_mm(mms[i], obj)))
			snprintf(buf, len, "%s %s", what, names[i]);
	/* main's tables first, then the others' in the order they came */
	for (size_t i = 0; i < n && !buf[0]; i++)
		in_regions(rt, mms[i], mms[i] == rt->procs[0].mm ? NULL : names[i],
			   names[i] != spare[i], obj, buf, len);
	if (!buf[0])
		in_files_and_pins(rt, obj, buf, len);
	if (!buf[0])
		in_known_tables(rt, obj, buf, len);
	if (!buf[0] && (what = pinmm_explore_find_in_engine(rt->eng, obj, &pfn))) {
		if (!strcmp(what, "folio pfn"))
			snprintf(buf, len, "%s 0x%" PRIx64, what, pfn);
		else
			snprintf(buf, len, "%s", what);
	}
	pthread_mutex_unlock(&rt->lock);
}
#endif
