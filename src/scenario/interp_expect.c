/* SPDX-License-Identifier: MIT */
/*
 * interp_expect.c - expectations. Each observes the engine through the
 * public inspection API (check.h) and says, when it does not hold, what it
 * saw instead. `expect not X` holds when X is observed not to hold; an
 * observation that cannot be made at all (a load that faults, a pin that is
 * not held) fails either way.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "interp.h"

/* The pin a statement names, held (or ever taken, for pincount/zone). */
static struct rt_pin *held_pin(struct rt *rt, const struct stmt *st,
			       struct observation *o, bool need_held)
{
	struct rt_pin *p = &rt->pins[st->expect.pin];
	const char *name = rt->scn->names[NS_PIN].v[st->expect.pin];

	if (need_held ? !pinmm_pin_held(&p->h) : !p->taken) {
		saw(o, OBS_ERROR, "pin %s is not held", name);
		return NULL;
	}
	if (st->expect.page >= p->h.nr_pages) {
		saw(o, OBS_ERROR, "pin %s has %lu pages, no page %lu", name,
		    p->h.nr_pages, st->expect.page);
		return NULL;
	}
	return p;
}

/* Where a pin is now: its region's address in the pin's process, or in the
 * process named with `in PROC:`. */
static uint64_t pin_where(struct rt *rt, const struct stmt *st,
			  const struct rt_pin *p, struct pinmm_mm **mm)
{
	struct scn_addr a = { .region = p->region, .off = p->off };

	*mm = rt_mm(rt, st->proc_explicit ? st->proc : p->proc);
	return rt_addr(rt, a);
}

/* What maps a in proc (the statement's own when proc < 0). */
static void follow_in(struct rt *rt, const struct stmt *st, int proc, struct scn_addr a,
		      struct pinmm_mapping *m, struct observation *o)
{
	struct pinmm_mm *mm = rt_mm(rt, proc < 0 ? st->proc : proc);

	memset(m, 0, sizeof(*m));
	if (!mm || pinmm_follow_page(mm, rt_addr(rt, a), m))
		saw(o, OBS_ERROR, "no mapping there");
}

static void follow(struct rt *rt, const struct stmt *st, struct scn_addr a,
		   struct pinmm_mapping *m, struct observation *o)
{
	follow_in(rt, st, -1, a, m, o);
}

static void observe(struct rt_ctx *ctx, const struct stmt *st,
		    struct observation *o)
{
	struct rt *rt = ctx->rt;
	struct pinmm_mapping m, m2;
	struct pinmm_folio_info fi;
	struct pinmm_violation_report rep;
	struct pinmm_mm *mm;
	struct rt_pin *p;
	struct rt_last last;
	unsigned long bad = 0;
	uint64_t addr;
	int ret;

	o->v = OBS_ERROR;
	switch (st->expect.kind) {
	case EX_READ:
		if (st->expect.has_addr) {
			mm = rt_mm(rt, st->proc);
			ret = mm ? rt_load_range(mm, rt_addr(rt, st->expect.a),
						 st->expect.len, &last) : -ESRCH;
			if (ret) {
				saw(o, OBS_ERROR, "the load failed: %s", rt_errstr(ret));
				break;
			}
			bytes(o, &last, st->expect.value);
		} else {
			bytes(o, &ctx->read, st->expect.value);
		}
		break;
	case EX_DEV_READ:
		if (!st->expect.has_addr) {
			bytes(o, &ctx->dev_read, st->expect.value);
			break;
		}
		p = &rt->pins[st->expect.pin];
		ret = rt_dev_read_range(&p->h, st->expect.page, st->expect.off,
					st->expect.len, &last);
		if (ret)
			saw(o, OBS_ERROR, "the device read failed: %s", rt_errstr(ret));
		else
			bytes(o, &last, st->expect.value);
		break;
	case EX_COHERENT:
		if (!(p = held_pin(rt, st, o, true)))
			break;
		addr = pin_where(rt, st, p, &mm);
		if (!mm) {
			saw(o, OBS_ERROR, "no such process yet");
			break;
		}
		enum pinmm_coherence c = pinmm_check_coherent(&p->h, mm, addr, &bad);
		if (c == PINMM_COHERENT)
			saw(o, OBS_TRUE, "coherent");
		else
			saw(o, OBS_FALSE, "%s at page %lu", pinmm_coherence_str(c), bad);
		break;
	case EX_MAPPED:
		if (!(p = held_pin(rt, st, o, true)))
			break;
		addr = pin_where(rt, st, p, &mm);
		if (!mm)
			saw(o, OBS_ERROR, "no such process yet");
		else if (pinmm_check_mapped(&p->h, mm, addr))
			saw(o, OBS_TRUE, "the pinned pages are mapped there");
		else
			saw(o, OBS_FALSE, "another page, or none, mapped there");
		break;
	case EX_SAME_PAGE:
		o->v = OBS_TRUE;
		follow(rt, st, st->expect.a, &m, o);
		if (o->v != OBS_ERROR)
			follow_in(rt, st, st->expect.proc_b, st->expect.b, &m2, o);
		if (o->v == OBS_ERROR)
			break;
		saw(o, m.present && m2.present && m.pfn == m2.pfn ? OBS_TRUE : OBS_FALSE,
		    "pfn %s0x%llx and %s0x%llx", m.present ? "" : "(none) ",
		    (unsigned long long)m.pfn, m2.present ? "" : "(none) ",
		    (unsigned long long)m2.pfn);
		break;
	case EX_PINNED:
	case EX_ZONE:
		if (!(p = held_pin(rt, st, o, false)))
			break;
		pinmm_folio_info(p->pages[st->expect.page], &fi);
		if (st->expect.kind == EX_PINNED)
			saw(o, fi.pincount == st->expect.value ? OBS_TRUE : OBS_FALSE,
			    "pincount %d (refcount %d)", fi.pincount, fi.refcount);
		else
			saw(o, (long)fi.zone == st->expect.value ? OBS_TRUE : OBS_FALSE,
			    "zone %s", fi.zone == PINMM_ZONE_NORMAL ? "normal" : "movable");
		break;
	case EX_HUGE:
	case EX_ORDER:
	case EX_SWAPPED:
		o->v = OBS_TRUE;
		follow(rt, st, st->expect.a, &m, o);
		if (o->v == OBS_ERROR)
			break;
		if (st->expect.kind == EX_HUGE)
			saw(o, m.present && m.huge ? OBS_TRUE : OBS_FALSE, "%s",
			    !m.present ? "not present" : m.huge ? "a PMD leaf" : "a PTE");
		else if (st->expect.kind == EX_SWAPPED)
			saw(o, m.swapped ? OBS_TRUE : OBS_FALSE, "%s",
			    m.swapped ? "a swap entry" : m.present ? "present" : "empty");
		else if (!m.present)
			saw(o, OBS_ERROR, "no page is mapped there");
		else
			saw(o, (long)m.order == st->expect.value ? OBS_TRUE : OBS_FALSE,
			    "order %u", m.order);
		break;
	case EX_INVARIANTS:
		memset(&rep, 0, sizeof(rep));
		if (pinmm_check_invariants(rt->eng, &rep) == 0)
			saw(o, OBS_TRUE, "they hold");
		else
			saw(o, OBS_FALSE, "%u violations, first: %s", rep.nr, rep.first);
		break;
	case EX_NR:
		break;
	}
}

void rt_expect(struct rt_ctx *ctx, const struct stmt *st)
{
	struct observation o = { .v = OBS_ERROR };
	bool held;

	observe(ctx, st, &o);
	held = o.v == OBS_TRUE;
	if (st->expect.negate && o.v != OBS_ERROR)
		held = !held;
	if (held)
		rt_trace(ctx, st, "holds (%s)", o.what);
	else
		rt_fail(ctx->rt, st, "%s%s", o.v == OBS_ERROR ? "" : "saw ", o.what);
}
