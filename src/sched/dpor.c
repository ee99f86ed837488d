/* SPDX-License-Identifier: MIT */
/*
 * Depth-first search with partial-order reduction (explore build only):
 * dynamic partial-order reduction with source sets (Source-DPOR: Abdulla,
 * Aronis, Jonsson, Sagonas, POPL 2014), sleep sets when the search has no
 * bound, and the conservative backtracking of bounded partial-order
 * reduction (BPOR: Coons, Musuvathi, McKinley, OOPSLA 2013) under a
 * preemption bound.
 *
 * A step is what a thread runs between two decisions: what ended it
 * (sched.h: a preemption point and its object, a lock found taken, a
 * spin-wait, the end of the thread) and the shared state it touched on
 * the way without a point (pm_access()). Two steps of different
 * threads are dependent (steps_dependent(), the relation) when swapping
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

#include "search.h"

/*
 * What a step touched. Its end point's own access: an entry read reads the
 * entry; an entry write and the write-protect sequence (fork's changes and
 * GUP-fast's samples alike) write their object; a lock or unlock writes
 * the lock, except the reader side of a rwsem (val 1: reads commute); a
 * lock found taken (PM_STEP_WAIT) writes it. A count update (refcount,
 * pincount, mapcount) marks its field itself, as a write or, when its
 * result decides nothing, an add (adds commute). The named race windows
 * (gup-fast-walked, -grabbed, fork-, ksm-, collapse-checked) touch nothing
 * themselves: what the path decides on there it read before, counts and
 * flags included, and those reads are marked (pm_access()). A spin-wait
 * touches nothing either: the loops poll flags and entries, marked or
 * points. The thread's end touches nothing. Then everything pm_access()
 * added to the step. A swap-in that missed the cache (an unmarked lookup),
 * an unfinished step, or a step with more accesses than the log keeps,
 * touches everything.
 */
enum { ACC_ALL = -1, ACC_NONE, ACC_READ, ACC_WRITE };

static int end_access(const struct pm_decision *d)
{
	switch (d->end) {
	case PM_PT_PTE_READ:
	case PM_PT_PMD_READ:
		return ACC_READ;
	case PM_PT_PTE_WRITE:
	case PM_PT_PMD_WRITE:
	case PM_PT_WP_SEQ:
	case PM_STEP_WAIT:
		return ACC_WRITE;
	case PM_PT_LOCK:
	case PM_PT_UNLOCK:
		return d->val == 1 ? ACC_READ : ACC_WRITE;
	case PM_PT_REF_GET:
	case PM_PT_REF_PUT:
	case PM_PT_PIN_GET:
	case PM_PT_PIN_PUT:
	case PM_PT_MAP_CHANGE:
	case PM_PT_GUP_FAST_WALKED:
	case PM_PT_GUP_FAST_GRABBED:
	case PM_PT_FORK_CHECKED:
	case PM_PT_KSM_CHECKED:
	case PM_PT_COLLAPSE_CHECKED:
	case PM_STEP_RELAX:
	case PM_STEP_DONE:
		return ACC_NONE;
	default:
		return ACC_ALL;
	}
}

/* One object a step touched, by its number in this execution's order of
 * first appearance (numbers, not addresses, so that steps of different
 * executions compare). */
struct por_acc {
	uint32_t id;
	uint8_t kind;		/* enum pm_access_kind */
};

#define STEP_ACC (PM_STEP_MAX_ACCESS + 1)	/* the end point's, and the rest */

/*
 * A sleeping thread's step was run in an earlier execution. Below the
 * decision where the two executions part (the same schedule so far, so the
 * same steps) the numbers agree; an object first met past it in the
 * earlier execution (a number above the horizon) is none of those, and may
 * be any object first met past it now (conservatively: the same).
 */
/* how much of everything a step touches besides its list */
enum { TOUCHES_LIST, READS_ALL, TOUCHES_ALL };

struct por_label {
	uint8_t all;		/* TOUCHES_* */
	uint8_t n;
	uint32_t horizon;	/* objects met before the decision it ran at */
	struct por_acc a[STEP_ACC];
};

/* Whether two steps' accesses conflict: the same object, and not two reads
 * nor two adds. Against a sleeper's step (horizon_of_a), "the same" as
 * its label says. */
static bool accesses_conflict(const struct por_acc *a, unsigned na, const struct por_acc *b,
			      unsigned nb, const struct por_label *horizon_of_a)
{
	for (unsigned x = 0; x < na; x++)
		for (unsigned y = 0; y < nb; y++) {
			bool same;

			if (a[x].kind == b[y].kind && a[x].kind != PM_ACC_WRITE)
				continue;
			if (!horizon_of_a)
				same = a[x].id == b[y].id;
			else if (a[x].id <= horizon_of_a->horizon)
				same = b[y].id == a[x].id;
			else
				same = b[y].id > horizon_of_a->horizon;
			if (same)
				return true;
		}
	return false;
}

/* ------------------------------------------------------------ search --- */
/* ------------------------------------------------------------ search --- */

struct por_node {
	uint8_t backtrack;	/* threads to try here */
	uint8_t done;		/* threads tried here */
	uint8_t sleep;		/* threads asleep here (their steps in lab) */
	struct por_label lab[PINMM_EXPLORE_MAX_THREADS];	/* each one's step */
};

/* this execution's objects, numbered in order of first appearance: an
 * open-addressing table from address to number, emptied by generation */
struct obj_slot {
	const void *obj;
	uint32_t id, gen;
};
#define OBJ_TABLE_MIN 1024

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
	uint32_t *block;		/* per step: where its thread's run of steps began */
	size_t cap_clock;
	struct obj_slot *table;
	uint32_t table_size, gen, nr_objs;
	/* per decision: its step's accesses (acc[first[i] .. first[i] + n[i])),
	 * whether it touches everything, how many objects came before it */
	struct por_acc *acc;
	size_t nr_acc, cap_acc;
	uint32_t *first, *nobj;
	uint8_t *n, *all;		/* all: TOUCHES_* */
	size_t seen, cap_steps;
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

/* obj's first slot in a table of size (a power of two) */
static uint32_t obj_hash(const void *obj, uint32_t size)
{
	return (uint32_t)(((uintptr_t)obj >> 3) * 2654435761u) & (size - 1);
}

static int grow_table(struct dpor *p)
{
	uint32_t size = p->table_size ? 2 * p->table_size : OBJ_TABLE_MIN;
	struct obj_slot *t = calloc(size, sizeof(*t)), *old = p->table;

	if (!t)
		return -ENOMEM;
	for (uint32_t i = 0; i < p->table_size; i++) {
		if (old[i].gen != p->gen)
			continue;
		uint32_t h = obj_hash(old[i].obj, size);

		while (t[h].gen == p->gen)
			h = (h + 1) & (size - 1);
		t[h] = old[i];
	}
	free(old);
	p->table = t;
	p->table_size = size;
	return 0;
}

/* obj's number in this execution (1, 2, ...), numbering it when new */
static int object_number(struct dpor *p, const void *obj, uint32_t *id)
{
	if (2 * (p->nr_objs + 1) > p->table_size) {
		int err = grow_table(p);

		if (err)
			return err;
	}
	uint32_t mask = p->table_size - 1;
	uint32_t h = obj_hash(obj, p->table_size);

	for (; p->table[h].gen == p->gen; h = (h + 1) & mask)
		if (p->table[h].obj == obj) {
			*id = p->table[h].id;
			return 0;
		}
	p->table[h] = (struct obj_slot){ obj, ++p->nr_objs, p->gen };
	*id = p->nr_objs;
	return 0;
}

/* A new execution: no object numbered yet. */
static void forget_objects(struct dpor *p)
{
	p->seen = 0;
	p->nr_objs = 0;
	p->nr_acc = 0;
	if (++p->gen == 0) {	/* wrapped: stale slots could look current */
		memset(p->table, 0, p->table_size * sizeof(*p->table));
		p->gen = 1;
	}
}

static int add_access(struct dpor *p, size_t i, const void *obj, uint8_t kind)
{
	uint32_t id;
	int err = object_number(p, obj, &id);

	if (err)
		return err;
	for (size_t k = p->first[i]; k < p->nr_acc; k++)
		if (p->acc[k].id == id) {
			p->acc[k].kind = pm_access_merge(p->acc[k].kind, kind);
			return 0;
		}
	if (p->nr_acc == p->cap_acc) {
		size_t cap = p->cap_acc ? 2 * p->cap_acc : 1024;
		struct por_acc *a = realloc(p->acc, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		p->acc = a;
		p->cap_acc = cap;
	}
	p->acc[p->nr_acc++] = (struct por_acc){ id, kind };
	p->n[i]++;
	return 0;
}

static int grow_steps(struct dpor *p, size_t upto)
{
	if (upto <= p->cap_steps)
		return 0;
	size_t cap = 2 * upto;
	void *v;

	if (!(v = realloc(p->first, cap * sizeof(*p->first))))
		return -ENOMEM;
	p->first = v;
	if (!(v = realloc(p->nobj, cap * sizeof(*p->nobj))))
		return -ENOMEM;
	p->nobj = v;
	if (!(v = realloc(p->n, cap)))
		return -ENOMEM;
	p->n = v;
	if (!(v = realloc(p->all, cap)))
		return -ENOMEM;
	p->all = v;
	p->cap_steps = cap;
	return 0;
}

/* The steps of decisions [seen, upto), in the reduction's terms. */
static int number(struct dpor *p, const struct pm_sched_run *run, size_t upto)
{
	int err = grow_steps(p, upto);

	for (; !err && p->seen < upto; p->seen++) {
		size_t i = p->seen;
		const struct pm_decision *d = &run->dec[i];
		int kind = end_access(d);

		p->nobj[i] = p->nr_objs;
		p->first[i] = (uint32_t)p->nr_acc;
		p->n[i] = 0;
		p->all[i] = kind == ACC_ALL || (d->acc_overflow & PM_OVERFLOW_WRITE) ? TOUCHES_ALL
			    : d->acc_overflow ? READS_ALL : TOUCHES_LIST;
		if (kind > ACC_NONE && d->obj)
			err = add_access(p, i, d->obj, kind == ACC_WRITE ? PM_ACC_WRITE : PM_ACC_READ);
		for (unsigned k = 0; !err && k < d->nr_acc; k++)
			err = add_access(p, i, run->acc[d->acc + k].obj, run->acc[d->acc + k].kind);
	}
	return err;
}

/* A step that reads everything conflicts with any step that changes
 * something (or reads everything too: nothing, then). */
static bool writes_any(uint8_t all, const struct por_acc *a, unsigned n)
{
	if (all != TOUCHES_LIST)
		return all == TOUCHES_ALL;
	for (unsigned k = 0; k < n; k++)
		if (a[k].kind != PM_ACC_READ)
			return true;
	return false;
}

static bool touches_conflict(uint8_t all_a, const struct por_acc *a, unsigned na,
			     uint8_t all_b, const struct por_acc *b, unsigned nb,
			     const struct por_label *horizon_of_a)
{
	if (all_a == TOUCHES_ALL || all_b == TOUCHES_ALL)
		return true;
	if (all_a == READS_ALL)
		return writes_any(all_b, b, nb);
	if (all_b == READS_ALL)
		return writes_any(all_a, a, na);
	return accesses_conflict(a, na, b, nb, horizon_of_a);
}

/* Whether the steps of decisions i and j of this execution may not commute. */
static bool steps_dependent(const struct dpor *p, size_t i, size_t j)
{
	return touches_conflict(p->all[i], &p->acc[p->first[i]], p->n[i],
				p->all[j], &p->acc[p->first[j]], p->n[j], NULL);
}

/* ... and a sleeper's step (of an earlier execution) with decision i's */
static bool sleeper_dependent(const struct dpor *p, const struct por_label *u, size_t i)
{
	return touches_conflict(u->all, u->a, u->n, p->all[i], &p->acc[p->first[i]], p->n[i], u);
}

static void label_step(const struct dpor *p, size_t i, struct por_label *l)
{
	l->all = p->all[i];
	l->n = p->n[i];
	l->horizon = p->nobj[i];
	memcpy(l->a, &p->acc[p->first[i]], p->n[i] * sizeof(*l->a));
}

/* The choice at decision i past the prefix: the default order, unless the
 * default thread is asleep (an equivalent schedule was run already). The
 * node of decision i gets its sleep set: the sleepers of decision i-1 (and
 * the threads tried there before this branch) whose steps commute with
 * the step decision i-1 started. */
static int dpor_choose(struct pm_strategy *st, unsigned i, int current, unsigned enabled)
{
	struct dpor *p = (struct dpor *)st;
	int def = pm_sched_default(current, enabled);

	if (p->err || (p->err = grow_nodes(p, i + 1)) || (p->err = number(p, st->run, i)))
		return def;
	struct por_node *n = &p->node[i];

	n->backtrack = n->done = n->sleep = 0;
	if (i && p->sleep_sets) {
		const struct por_node *prev = &p->node[i - 1];
		uint8_t cand = prev->sleep | (prev->done & ~(1u << st->run->dec[i - 1].chosen));

		for (int t = 0; t < PINMM_EXPLORE_MAX_THREADS; t++) {
			if (!(cand & (1u << t)) || sleeper_dependent(p, &prev->lab[t], i - 1))
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
	c = realloc(p->block, n * sizeof(*p->block));
	if (!c)
		return -ENOMEM;
	p->block = c;
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
 * not yet cover is in a race with it. Steps before from are the last
 * execution's (the same prefix): their clocks stand and their races were
 * found then. */
static int races(struct dpor *p, const struct pm_decision *dec, size_t from, size_t n)
{
	uint32_t last[PINMM_EXPLORE_MAX_THREADS][PINMM_EXPLORE_MAX_THREADS] = { { 0 } };
	uint32_t count[PINMM_EXPLORE_MAX_THREADS] = { 0 };
	int err = grow_clocks(p, n);

	/* each thread's clock and count at its last step before from */
	for (size_t k = from; !err && k-- > 0;) {
		unsigned t = dec[k].chosen;

		if (!count[t]) {
			count[t] = p->idx[k];
			memcpy(last[t], p->clock[k], sizeof(last[t]));
		}
	}
	for (size_t j = from; !err && j < n; j++) {
		unsigned q = dec[j].chosen;
		uint32_t *v = p->clock[j];

		/* left[r]: thread r's steps at or before the one looked at */
		uint32_t left[PINMM_EXPLORE_MAX_THREADS];

		memcpy(left, count, sizeof(left));
		memcpy(v, last[q], sizeof(last[q]));
		p->idx[j] = ++count[q];
		p->block[j] = j > 0 && dec[j - 1].chosen == q ? p->block[j - 1] : (uint32_t)j;
		for (size_t i = j; i-- > 0;) {
			unsigned pt = dec[i].chosen;
			bool covered = true;

			/* a step the clock covers adds nothing; stop when all do */
			for (int t = 0; t < PINMM_EXPLORE_MAX_THREADS && covered; t++)
				covered = t == (int)q || v[t] >= left[t];
			if (covered)
				break;
			if (pt == q) {
				/* j's own thread: ordered before it already, and
				 * nothing else's left count changes; skip its run */
				i = p->block[i];
				continue;
			}
			left[pt] = p->idx[i] - 1;
			if (v[pt] >= p->idx[i] || !steps_dependent(p, i, j))
				continue;
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
		err = number(p, run, n);
	if (err)
		return err;
	for (size_t i = from; i < n && i < p->nr_node; i++)
		label_step(p, i, &p->node[i].lab[dec[i].chosen]);
	err = races(p, dec, from, n);
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

		forget_objects(p);
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
	free(p.block);
	free(p.table);
	free(p.acc);
	free(p.first);
	free(p.nobj);
	free(p.n);
	free(p.all);
	return err;
}
#else
typedef int pm_dpor_unused_t;
#endif
