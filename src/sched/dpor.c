/* SPDX-License-Identifier: MIT */
/*
 * Depth-first search with partial-order reduction (explore build only):
 * dynamic partial-order reduction with source sets (Source-DPOR: Abdulla,
 * Aronis, Jonsson, Sagonas, POPL 2014), sleep sets when the search has no
 * bound, and the conservative backtracking of bounded partial-order
 * reduction (BPOR: Coons, Musuvathi, McKinley, OOPSLA 2013) under a
 * preemption bound.
 *
 * A step is what a thread runs between two decisions; it is named by what
 * ended it (sched.h: a preemption point and its object, a lock found
 * taken, a spin-wait, the end of the thread). Two steps of different
 * threads are dependent (dpor_dependent(), the relation) when swapping
 * them may change what happens; schedules that differ only in the order
 * of adjacent independent steps are equivalent (one Mazurkiewicz trace)
 * and end in the same state, so check() judges them alike: one of each
 * class is enough.
 *
 * Each execution is re-run from scratch with a forced prefix, like plain
 * DFS. After it, every race (two dependent steps of different threads
 * with nothing ordering them but themselves) asks for the reversed order
 * to be tried: a thread that can start the reversal (an initial of
 * notdep(e).e') joins the backtrack set of the decision before the first
 * step, unless one is there already.
 */
#ifdef PINMM_EXPLORE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dpor.h"
#include "search.h"

/* Steps whose end says too little about what they did: dependent with
 * every step. A spin-wait (it polls state no point names), the points
 * where a path decides on what it read unmarked (GUP-fast's walk and grab,
 * fork's, KSM's and khugepaged's checks), and the count updates: refcount,
 * pincount and mapcount are read without a preemption point (a COW
 * fault's reuse check, page_maybe_dma_pinned()), so the step that reads a
 * count may be named by a later entry write. A thread's last step (after
 * its last point) names no object and is dependent with nothing: like
 * every step, it is assumed to touch shared state only where a point
 * says so. */
static bool global(const struct pm_decision *d)
{
	switch (d->end) {
	case PM_PT_PTE_READ:
	case PM_PT_PTE_WRITE:
	case PM_PT_PMD_READ:
	case PM_PT_PMD_WRITE:
	case PM_PT_WP_SEQ:
	case PM_PT_LOCK:
	case PM_PT_UNLOCK:
	case PM_STEP_WAIT:
	case PM_STEP_DONE:
		return false;
	default:
		return true;
	}
}

/* Reads commute with reads of the same object: an entry read, and the
 * reader side of a rwsem (taking or dropping it for reading; a writer that
 * finds it taken ends its step with PM_STEP_WAIT, a write). Everything
 * else on an object writes it: an entry write, a lock taken or released
 * (a mutex, the writer side), a failed trylock (conservatively), the
 * write-protect sequence (fork's changes and GUP-fast's samples alike). */
static bool reads(const struct pm_decision *d)
{
	return d->end == PM_PT_PTE_READ || d->end == PM_PT_PMD_READ ||
	       ((d->end == PM_PT_LOCK || d->end == PM_PT_UNLOCK) && d->val == 1);
}

/* a and b, on the same object or not */
static bool conflict(const struct pm_decision *a, const struct pm_decision *b, bool same)
{
	if (global(a) || global(b))
		return true;
	if (a->end == PM_STEP_DONE || b->end == PM_STEP_DONE)
		return false;
	return same && !(reads(a) && reads(b));
}

bool dpor_dependent(const struct pm_decision *a, const struct pm_decision *b)
{
	return conflict(a, b, a->obj == b->obj);
}

/*
 * A sleeping thread's step was run in an earlier execution, whose objects
 * sit at other addresses: objects are compared by their number in order of
 * first appearance. Below the decision where the two executions part (the
 * same schedule so far, so the same steps) the numbers agree; an object
 * first met past it in the earlier execution is none of those, and may be
 * any object first met past it now (conservatively: the same).
 */
struct por_label {
	struct pm_decision d;
	uint32_t id;		/* its object's number (0: none) */
	uint32_t horizon;	/* objects met before the decision it ran at */
};

static bool sleeper_dependent(const struct por_label *u, const struct pm_decision *s,
			      uint32_t sid)
{
	bool same = u->id <= u->horizon ? sid == u->id : sid > u->horizon;

	return conflict(&u->d, s, same);
}

/* ------------------------------------------------------------ search --- */

struct por_node {
	uint8_t backtrack;	/* threads to try here */
	uint8_t done;		/* threads tried here */
	uint8_t sleep;		/* threads asleep here (their steps in lab) */
	struct por_label lab[PINMM_EXPLORE_MAX_THREADS];	/* each one's step */
};

struct dpor {
	struct pm_strategy base;	/* the choices after the prefix */
	struct pm_search *s;
	unsigned bound;
	bool sleep_sets;
	struct por_node *node;
	size_t nr_node, cap_node;
	uint8_t *prefix;
	size_t branch;			/* the decision tried anew; SIZE_MAX: none */
	uint32_t (*clock)[PINMM_EXPLORE_MAX_THREADS];	/* per step */
	uint32_t *idx;			/* per step: its number in its thread */
	size_t cap_clock;
	/* this execution's objects, numbered in order of first appearance:
	 * per decision, its step's object's number and how many came before */
	const void **objs;
	uint32_t nr_objs, *ids, *nobj;
	size_t seen, cap_objs, cap_ids;
	int err;
};


static int grow_nodes(struct dpor *p, size_t n)
{
	if (n <= p->cap_node)
		return 0;
	size_t cap = p->cap_node ? 2 * p->cap_node : 256;

	while (cap < n)
		cap *= 2;
	struct por_node *v = realloc(p->node, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->node = v;
	p->cap_node = cap;
	return 0;
}

/* Number the objects of decisions [seen, upto). */
static int number(struct dpor *p, const struct pm_decision *dec, size_t upto)
{
	if (upto > p->cap_ids) {
		size_t cap = 2 * upto;
		uint32_t *a = realloc(p->ids, cap * sizeof(*a)), *b;

		if (!a)
			return -ENOMEM;
		p->ids = a;
		b = realloc(p->nobj, cap * sizeof(*b));
		if (!b)
			return -ENOMEM;
		p->nobj = b;
		p->cap_ids = cap;
	}
	for (; p->seen < upto; p->seen++) {
		const struct pm_decision *d = &dec[p->seen];
		uint32_t id = 0;

		p->nobj[p->seen] = p->nr_objs;
		if (!global(d) && d->end != PM_STEP_DONE) {
			while (id < p->nr_objs && p->objs[id] != d->obj)
				id++;
			if (id == p->nr_objs) {
				if (p->nr_objs == p->cap_objs) {
					size_t cap = p->cap_objs ? 2 * p->cap_objs : 64;
					const void **o = realloc(p->objs, cap * sizeof(*o));

					if (!o)
						return -ENOMEM;
					p->objs = o;
					p->cap_objs = cap;
				}
				p->objs[p->nr_objs++] = d->obj;
			}
			id++;
		}
		p->ids[p->seen] = id;
	}
	return 0;
}

/* The choice at decision i past the prefix: the default order, unless the
 * default thread is asleep (an equivalent schedule was run already). The
 * node of decision i gets its sleep set: the sleepers of decision i-1 (and
 * the threads tried there before this branch) whose steps commute with
 * the step decision i-1 started. */
static int dpor_choose(struct pm_strategy *st, unsigned i, int current, unsigned enabled)
{
	struct dpor *p = (struct dpor *)st;
	const struct pm_decision *dec = st->run->dec;
	int def = pm_sched_default(current, enabled);

	if (p->err || (p->err = grow_nodes(p, i + 1)) || (p->err = number(p, dec, i)))
		return def;
	struct por_node *n = &p->node[i];

	memset(n, 0, sizeof(*n));
	if (i && p->sleep_sets) {
		const struct por_node *prev = &p->node[i - 1];
		const struct pm_decision *step = &dec[i - 1];
		uint8_t cand = prev->sleep | (prev->done & ~(1u << step->chosen));

		for (int t = 0; t < PINMM_EXPLORE_MAX_THREADS; t++) {
			if (!(cand & (1u << t)) ||
			    sleeper_dependent(&prev->lab[t], step, p->ids[i - 1]))
				continue;
			n->sleep |= (uint8_t)(1u << t);
			n->lab[t] = prev->lab[t];
		}
	}
	int next = def;
	if (def >= 0 && (n->sleep & (1u << def))) {
		unsigned awake = enabled & ~n->sleep;

		/* every runnable thread asleep: the rest of this schedule is
		 * equivalent to one run already; it goes on by default */
		next = awake ? __builtin_ctz(awake) : def;
	}
	if (next >= 0)
		n->backtrack = n->done = (uint8_t)(1u << next);
	return next;
}

static int grow_clocks(struct dpor *p, size_t n)
{
	if (n <= p->cap_clock)
		return 0;
	void *c = realloc(p->clock, n * sizeof(*p->clock));

	if (!c)
		return -ENOMEM;
	p->clock = c;
	c = realloc(p->idx, n * sizeof(*p->idx));
	if (!c)
		return -ENOMEM;
	p->idx = c;
	p->cap_clock = n;
	return 0;
}

/* Try t at decision i if the bound lets it; a thread that cannot run there
 * gives way to every one that can. */
static void add_backtrack(struct dpor *p, const struct pm_decision *dec, size_t i, unsigned t)
{
	unsigned want = dec[i].enabled & (1u << t) ? 1u << t : dec[i].enabled;

	for (int u = 0; u < PINMM_EXPLORE_MAX_THREADS; u++)
		if ((want & (1u << u)) && pm_search_allowed(&dec[i], u, p->bound))
			p->node[i].backtrack |= (uint8_t)(1u << u);
}

/* The threads that can start v = notdep(i).j: the steps after i that do not
 * happen after it, then j; an initial is the thread of a step of v that
 * nothing earlier in v happens before. */
static unsigned initials(const struct dpor *p, const struct pm_decision *dec, size_t i, size_t j)
{
	/* per thread, the number (idx) of its first step in v; 0: none yet.
	 * A step of v after one of thread r's in v happens after r's first. */
	uint32_t first[PINMM_EXPLORE_MAX_THREADS] = { 0 };
	unsigned pt = dec[i].chosen, init = 0;

	for (size_t k = i + 1; k <= j; k++) {
		unsigned tk = dec[k].chosen;
		bool before = false;

		if (k < j && p->clock[k][pt] >= p->idx[i])
			continue;	/* after i: not in v */
		if (first[tk])
			continue;	/* after its thread's earlier step in v */
		for (int r = 0; r < PINMM_EXPLORE_MAX_THREADS && !before; r++)
			before = first[r] && p->clock[k][r] >= first[r];
		first[tk] = p->idx[k];
		if (!before)
			init |= 1u << tk;
	}
	return init;
}

/*
 * The race of steps i and j (dependent, different threads, i before j,
 * nothing else orders them): the reversal must be tried from decision i.
 *
 * Under a preemption bound, trying it there may exceed the bound although
 * an equivalent schedule that switches earlier does not: the bound makes
 * steps that commute dependent after all, and pruning by the bound alone
 * misses schedules within it (Coons et al.). Their remedy, kept here:
 * the thread is also tried where the running thread's block of steps
 * began (the last context switch before i), where switching to it costs
 * no more than the switch made there; and sleep sets, whose claim that a
 * sibling ran an equivalent schedule does not hold when that schedule
 * needs more preemptions, are used only without a bound. Adding more
 * backtrack points than needed only costs executions.
 */
static void race(struct dpor *p, const struct pm_decision *dec, size_t i, size_t j)
{
	unsigned init = initials(p, dec, i, j), q = dec[j].chosen;
	unsigned awake = init & ~p->node[i].sleep & dec[i].enabled;
	unsigned t = awake & (1u << q) ? q : awake ? (unsigned)__builtin_ctz(awake) : q;

	if (!(init & p->node[i].backtrack))
		add_backtrack(p, dec, i, t);
	if (p->bound != PINMM_EXPLORE_UNBOUNDED && dec[i].current != 0xff) {
		size_t k = i;

		while (k > 0 && dec[k - 1].chosen == dec[i].current)
			k--;
		if (k < i)
			add_backtrack(p, dec, k, t);
	}
}

/* Every race of the execution, by vector clocks: a step's clock is the
 * join of its thread's previous step's and of every earlier dependent
 * step's; walking back from j, an earlier dependent step its clock does
 * not yet cover is in a race with it. */
static int races(struct dpor *p, const struct pm_decision *dec, size_t n)
{
	uint32_t last[PINMM_EXPLORE_MAX_THREADS][PINMM_EXPLORE_MAX_THREADS] = { { 0 } };
	uint32_t count[PINMM_EXPLORE_MAX_THREADS] = { 0 };
	int err = grow_clocks(p, n);

	for (size_t j = 0; !err && j < n; j++) {
		unsigned q = dec[j].chosen;
		uint32_t *v = p->clock[j];

		/* left[r]: thread r's steps at or before the one looked at */
		uint32_t left[PINMM_EXPLORE_MAX_THREADS];

		memcpy(left, count, sizeof(left));
		memcpy(v, last[q], sizeof(last[q]));
		p->idx[j] = ++count[q];
		for (size_t i = j; i-- > 0;) {
			unsigned pt = dec[i].chosen;
			bool covered = true;

			/* a step the clock covers adds nothing; stop when all do */
			for (int t = 0; t < PINMM_EXPLORE_MAX_THREADS && covered; t++)
				covered = t == (int)q || v[t] >= left[t];
			if (covered)
				break;
			left[pt] = p->idx[i] - 1;
			if (pt == q || v[pt] >= p->idx[i] || !dpor_dependent(&dec[i], &dec[j]))
				continue;
			if (v[pt] < p->idx[i])
				race(p, dec, i, j);
			for (int t = 0; t < PINMM_EXPLORE_MAX_THREADS; t++)
				if (p->clock[i][t] > v[t])
					v[t] = p->clock[i][t];
		}
		v[q] = p->idx[j];
		memcpy(last[q], v, sizeof(last[q]));
	}
	return err;
}

/* After an execution: its new nodes' steps, its races, and the deepest
 * decision with a thread left to try (the next prefix); false: none. */
static int next_prefix(struct dpor *p, const struct pm_sched_run *run, bool *more)
{
	const struct pm_decision *dec = run->dec;
	size_t n = run->nr_dec, from = p->branch == SIZE_MAX ? 0 : p->branch;
	int err = grow_nodes(p, n);

	*more = false;
	if (!err)
		err = number(p, dec, n);
	if (err)
		return err;
	for (size_t i = from; i < n && i < p->nr_node; i++)
		p->node[i].lab[dec[i].chosen] = (struct por_label){ dec[i], p->ids[i], p->nobj[i] };
	err = races(p, dec, n);
	for (size_t i = n; !err && i-- > 0;) {
		struct por_node *nd = &p->node[i];
		unsigned left = nd->backtrack & ~nd->done & ~nd->sleep;

		if (!left)
			continue;
		unsigned t = (unsigned)__builtin_ctz(left);
		uint8_t *np = realloc(p->prefix, i + 1);
		if (!np)
			return -ENOMEM;
		p->prefix = np;
		for (size_t k = 0; k < i; k++)
			p->prefix[k] = dec[k].chosen;
		p->prefix[i] = (uint8_t)t;
		nd->done |= (uint8_t)(1u << t);
		p->branch = i;
		p->nr_node = i + 1;
		*more = true;
		return 0;
	}
	return err;
}

/* One search at one bound (or none); *stop as in dfs.c. */
static int pass(struct dpor *p, bool *stop)
{
	struct pm_search *s = p->s;
	unsigned long index = 0;

	p->branch = SIZE_MAX;
	p->nr_node = 0;
	for (;;) {
		size_t nr_prefix = p->branch == SIZE_MAX ? 0 : p->branch + 1;
		struct pm_sched_run run = { .prefix = p->prefix, .nr_prefix = nr_prefix,
					    .strategy = &p->base, .max_steps = s->cfg->max_steps };
		bool failed = false, more = false;
		char msg[256];
		int err;

		p->seen = 0;
		p->nr_objs = 0;
		err = pm_search_execute(s, &run, &failed, msg, sizeof(msg));
		if (!err)
			err = p->err;
		if (!err) {
			/* nodes past the prefix were made while it ran */
			p->nr_node = run.nr_dec;
			s->res->executions++;
			if (failed) {
				err = pm_search_failed(s, &run, msg, p->bound, 0, index);
				*stop = !s->cfg->keep_going;
			}
			index++;
		}
		if (!err && !*stop)
			err = next_prefix(p, &run, &more);
		pm_sched_run_free(&run);
		if (err || *stop || !more)
			return err;
		if (pm_search_tick(s, p->bound, -1)) {
			*stop = true;
			return 0;
		}
	}
}

int pm_explore_dpor(struct pm_search *s)
{
	const struct pinmm_explore_cfg *cfg = s->cfg;
	struct dpor p = { .base.choose = dpor_choose, .s = s };
	bool stop = false, unbounded = cfg->bound == PINMM_EXPLORE_UNBOUNDED;
	int err = 0;

	s->res->prefixes = 1;
	for (unsigned bound = 0; !err && !stop && (unbounded || bound <= cfg->bound); bound++) {
		p.bound = unbounded ? PINMM_EXPLORE_UNBOUNDED : bound;
		p.sleep_sets = unbounded;
		if (!s->res->found)
			s->res->bound_reached = p.bound;
		err = pass(&p, &stop);
		if (unbounded)
			break;
	}
	s->res->exhausted = !err && !stop;
	free(p.node);
	free(p.prefix);
	free(p.clock);
	free(p.idx);
	free(p.objs);
	free(p.ids);
	free(p.nobj);
	return err;
}
#else
typedef int pm_dpor_unused_t;
#endif
