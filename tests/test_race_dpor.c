// SPDX-License-Identifier: MIT
/*
 * The explorer's partial-order reduction on small synthetic programs whose
 * Mazurkiewicz traces are known: threads that only write and read named
 * objects at preemption points, and take mutexes. An execution's trace is
 * the order of the accesses to each object (reads between two writes in
 * any order); the reduced search must reach every trace the plain search
 * reaches — with no bound, and at each preemption bound — and, with no
 * bound and two threads, run exactly one execution per trace.
 */
#include "helpers.h"

#include <pinmm/explore.h>

#include <stdlib.h>
#include <string.h>

#include "base/lock.h"
#include "base/preempt.h"

#define MAX_OPS 8
#define NR_OBJ 4

enum op_kind { OP_END, OP_W, OP_R, OP_LOCK, OP_UNLOCK };

struct op {
	enum op_kind kind;
	unsigned obj;
};

struct program {
	unsigned nr_threads;
	struct op ops[3][MAX_OPS];
};

struct state {
	const struct program *prog;
	pm_mutex_t m[NR_OBJ];
	uint64_t obj[NR_OBJ];
	char log[NR_OBJ][64];	/* per object: "w0r1r2w1..." in access order */
	size_t len[NR_OBJ];
};

/* the traces an exploration reached */
static char *traces[4096];
static size_t nr_traces;

static void forget_traces(void)
{
	for (size_t i = 0; i < nr_traces; i++)
		free(traces[i]);
	nr_traces = 0;
}

static void *setup(void *ctx)
{
	struct state *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->prog = ctx;
	for (unsigned i = 0; i < NR_OBJ; i++)
		pm_mutex_init(&s->m[i]);
	return s;
}

static void note(struct state *s, unsigned obj, char kind, unsigned tid)
{
	char *l = s->log[obj];

	assert_true(s->len[obj] + 2 < sizeof(s->log[obj]));
	l[s->len[obj]++] = kind;
	l[s->len[obj]++] = (char)('0' + tid);
}

static void thread(void *state, unsigned tid)
{
	struct state *s = state;

	for (const struct op *o = s->prog->ops[tid]; o->kind != OP_END; o++) {
		switch (o->kind) {
		case OP_W:
			note(s, o->obj, 'w', tid);
			s->obj[o->obj]++;
			pm_preempt(PM_PT_PTE_WRITE, &s->obj[o->obj], s->obj[o->obj]);
			break;
		case OP_R:
			note(s, o->obj, 'r', tid);
			pm_preempt(PM_PT_PTE_READ, &s->obj[o->obj], s->obj[o->obj]);
			break;
		case OP_LOCK:
			pm_mutex_lock(&s->m[o->obj]);
			note(s, o->obj, 'w', tid);
			break;
		case OP_UNLOCK:
			note(s, o->obj, 'w', tid);
			pm_mutex_unlock(&s->m[o->obj]);
			break;
		default:
			break;
		}
	}
}

static int cmp_pair(const void *a, const void *b)
{
	return memcmp(a, b, 2);
}

/* The execution's trace: each object's log, the reads between two writes
 * sorted (they commute); a new one is kept. */
static int check(void *state, char *msg, size_t len)
{
	struct state *s = state;
	char key[NR_OBJ * 65] = "";

	(void)msg;
	(void)len;
	for (unsigned i = 0; i < NR_OBJ; i++) {
		char *l = s->log[i];

		for (size_t a = 0, b; a < s->len[i]; a = b) {
			for (b = a; b < s->len[i] && l[b] == 'r'; b += 2)
				;
			qsort(l + a, (b - a) / 2, 2, cmp_pair);
			if (b == a)
				b += 2;
		}
		strncat(key, l, s->len[i]);
		strcat(key, "|");
	}
	for (size_t i = 0; i < nr_traces; i++)
		if (!strcmp(traces[i], key))
			return 0;
	assert_true(nr_traces < sizeof(traces) / sizeof(traces[0]));
	traces[nr_traces++] = strdup(key);
	return 0;
}

static void teardown(void *state)
{
	struct state *s = state;

	for (unsigned i = 0; i < NR_OBJ; i++)
		pm_mutex_destroy(&s->m[i]);
	free(s);
}

/* Explore prog; the traces reached (sorted) in *out, their number returned. */
static size_t explore(const struct program *prog, enum pinmm_explore_strategy strategy,
		      unsigned bound, char ***out, unsigned long *executions)
{
	struct pinmm_explore_ops ops = { .nr_threads = prog->nr_threads, .setup = setup,
					 .thread = thread, .check = check,
					 .teardown = teardown };
	struct pinmm_explore_cfg cfg = { .strategy = strategy, .bound = bound,
					 .budget_seconds = 60 };
	struct pinmm_explore_result r;
	size_t n;

	forget_traces();
	assert_int_equal(pinmm_explore(&ops, (void *)prog, &cfg, &r), 0);
	assert_true(r.exhausted);
	assert_false(r.found);
	/* the traces are kept in this process: the default never forks */
	assert_false(r.forked);
	*executions = r.executions;
	pinmm_explore_result_free(&r);
	n = nr_traces;
	*out = calloc(n + 1, sizeof(**out));
	assert_non_null(*out);
	memcpy(*out, traces, n * sizeof(**out));
	nr_traces = 0;
	return n;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static bool has(char **l, size_t n, const char *t)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i], t))
			return true;
	return false;
}

/*
 * The reduced search against the plain one: with no bound the same traces
 * (and, when exact, one execution each); at each bound every trace the
 * plain search reaches within it. Returns the unbounded reduced count.
 */
static unsigned long compare(const struct program *prog, size_t expect_traces, bool exact)
{
	char **plain, **por;
	unsigned long pe, re, unbounded;
	size_t np = explore(prog, PINMM_EXPLORE_DFS_PLAIN, PINMM_EXPLORE_UNBOUNDED, &plain, &pe);
	size_t nr = explore(prog, PINMM_EXPLORE_DFS, PINMM_EXPLORE_UNBOUNDED, &por, &re);

	print_message("    %zu traces: plain %lu executions, reduced %lu\n", np, pe, re);
	assert_int_equal(np, expect_traces);
	assert_int_equal(nr, np);
	for (size_t i = 0; i < np; i++)
		assert_true(has(por, nr, plain[i]));
	if (exact)
		assert_int_equal(re, np);
	unbounded = re;
	free_list(plain, np);
	free_list(por, nr);
	for (unsigned bound = 0; bound <= 3; bound++) {
		np = explore(prog, PINMM_EXPLORE_DFS_PLAIN, bound, &plain, &pe);
		nr = explore(prog, PINMM_EXPLORE_DFS, bound, &por, &re);
		print_message("    bound %u: plain %zu traces in %lu executions, reduced %zu in %lu\n",
			      bound, np, pe, nr, re);
		for (size_t i = 0; i < np; i++)
			assert_true(has(por, nr, plain[i]));
		free_list(plain, np);
		free_list(por, nr);
	}
	return unbounded;
}

#define W(o) { OP_W, o }
#define R(o) { OP_R, o }
#define L(o) { OP_LOCK, o }
#define U(o) { OP_UNLOCK, o }

/* independent steps: one trace, one execution */
static void test_independent(void **state)
{
	static const struct program p = { 2, { { W(0), W(0), W(0) }, { W(1), W(1), W(1) } } };

	(void)state;
	assert_int_equal(compare(&p, 1, true), 1);
}

/* k writes each to one object: C(2k, k) traces */
static void test_same_object(void **state)
{
	static const struct program p2 = { 2, { { W(0), W(0) }, { W(0), W(0) } } };
	static const struct program p3 = { 2, { { W(0), W(0), W(0) }, { W(0), W(0), W(0) } } };

	(void)state;
	assert_int_equal(compare(&p2, 6, true), 6);
	assert_int_equal(compare(&p3, 20, true), 20);
}

/* reads commute with reads; a write orders them */
static void test_reads(void **state)
{
	static const struct program rr = { 2, { { R(0), R(0) }, { R(0), R(1) } } };
	static const struct program rw = { 2, { { R(0), R(0) }, { W(0) } } };

	(void)state;
	compare(&rr, 1, true);
	compare(&rw, 3, true);
}

/* three threads in a cycle over three objects */
static void test_three_threads(void **state)
{
	static const struct program p = { 3, { { W(0), W(1) }, { W(1), W(2) }, { W(2), W(0) } } };

	(void)state;
	compare(&p, 7, false);
}

/* a mutex: its critical sections in either order, and what is outside */
static void test_mutex(void **state)
{
	static const struct program p = { 2, { { L(3), W(0), U(3), W(1) },
					       { L(3), W(0), U(3), W(1) } } };

	(void)state;
	compare(&p, 4, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_independent),
		cmocka_unit_test(test_same_object),
		cmocka_unit_test(test_reads),
		cmocka_unit_test(test_three_threads),
		cmocka_unit_test(test_mutex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
