/* SPDX-License-Identifier: MIT */
/*
 * matrix.c - `pinmm check`: every scenario under strict, legacy, strict
 * minus each of its breaks-without switches, and each breaks-with policy;
 * the verdict of each cell against what the scenario declares.
 *
 * What is declared (SCENARIO.md: "passes in strict, fails in each of the
 * others"):
 *  - strict must pass;
 *  - each ablation (breaks-without switch off, breaks-with policy) must
 *    fail;
 *  - each holds-with policy must pass;
 *  - legacy must fail when the scenario declares at least one ablation that
 *    can run (legacy turns every switch off, so it includes them), unless it
 *    says `holds-with legacy` (an older mechanism may keep the page by luck:
 *    mapcount-based COW reuses once the child has copied away); with
 *    nothing declared legacy is informational: an E row holds under any
 *    policy.
 * Not conclusive, shown as n/a and never counted as pass or failure: a run
 * that reached a mechanism the engine has not built (EOPNOTSUPP), a switch
 * the engine cannot turn off yet, and, for scenarios with `explore`, an
 * ablation whose race real threads did not hit (it needs the explorer).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pinmm/scenario.h>

/* An explore scenario's ablation runs this many times before it is called
 * "needs explorer": real threads hit a narrow race only now and then. */
#define RACE_ATTEMPTS 8

static struct pinmm_cell *add_cell(struct pinmm_row *row,
				   enum pinmm_cell_role role, const char *label,
				   struct pinmm_policy pol, enum pinmm_cell_expect expect)
{
	struct pinmm_cell *c;

	if (row->nr_cells == PINMM_MAX_CELLS)
		return NULL;
	c = &row->cells[row->nr_cells++];
	memset(c, 0, sizeof(*c));
	c->role = role;
	snprintf(c->label, sizeof(c->label), "%s", label);
	c->policy = pol;
	c->expect = expect;
	c->verdict = PINMM_VERDICT_NA;
	return c;
}

static void no_switch(struct pinmm_cell *c, const char *fmt, const char *what)
{
	c->verdict = PINMM_VERDICT_NA;
	c->na = PINMM_NA_NO_SWITCH;
	snprintf(c->reason, sizeof(c->reason), fmt, what);
}

/* The switch that a strict-based policy turns off and the engine cannot. */
static const char *unbuilt_switch(struct pinmm_policy p)
{
	enum pinmm_switch bad;

	if (pinmm_policy_validate(p, &bad) == 0)
		return NULL;
	return pinmm_switch_name(bad);
}

static void plan_row(struct pinmm_row *row)
{
	const struct pinmm_scenario *scn = row->scn;
	uint32_t without = pinmm_scenario_breaks_without(scn);
	struct pinmm_cell *legacy;
	bool legacy_declared = false, runnable = false;
	enum pinmm_cell_expect legacy_said = PINMM_EXPECT_FAIL;
	char label[96];

	add_cell(row, PINMM_CELL_STRICT, "strict", PINMM_POLICY_STRICT, PINMM_EXPECT_PASS);
	legacy = add_cell(row, PINMM_CELL_LEGACY, "legacy", PINMM_POLICY_LEGACY,
			  PINMM_EXPECT_EITHER);
	for (int s = 0; s < PINMM_SW_NR; s++) {
		struct pinmm_policy p = PINMM_POLICY_STRICT;
		struct pinmm_cell *c;

		if (!(without & (1u << s)))
			continue;
		p.on &= ~(1u << s);
		snprintf(label, sizeof(label), "-%s", pinmm_switch_name(s));
		c = add_cell(row, PINMM_CELL_WITHOUT, label, p, PINMM_EXPECT_FAIL);
		if (c && !pinmm_switch_implemented(s))
			no_switch(c, "%s: the engine cannot turn this switch off yet",
				     pinmm_switch_name(s));
		else if (c)
			runnable = true;
	}
	for (int holds = 0; holds < 2; holds++) {
		size_t n = holds ? pinmm_scenario_nr_holds_with(scn)
				 : pinmm_scenario_nr_breaks_with(scn);

		for (size_t i = 0; i < n; i++) {
			struct pinmm_policy p;
			const char *text = holds ? pinmm_scenario_holds_with(scn, i, &p)
						 : pinmm_scenario_breaks_with(scn, i, &p);
			enum pinmm_cell_expect e = holds ? PINMM_EXPECT_PASS
							 : PINMM_EXPECT_FAIL;
			struct pinmm_cell *c;
			const char *bad;

			if (p.on == PINMM_POLICY_LEGACY.on) {
				legacy_said = e;	/* the legacy column says it */
				legacy_declared = true;
				continue;
			}
			c = add_cell(row, PINMM_CELL_WITH, text, p, e);
			/* legacy-based policies run as legacy does: switches the
			 * engine lacks have nothing to act on; a strict-based one
			 * that names such a switch would test nothing */
			bad = strncmp(text, "strict", 6) == 0 ? unbuilt_switch(p) : NULL;
			if (c && bad)
				no_switch(c, "%s: the engine cannot turn this switch off yet", bad);
			else if (c && !holds)
				runnable = true;
		}
	}
	if (legacy_declared)
		legacy->expect = legacy_said;
	else if (runnable)
		legacy->expect = PINMM_EXPECT_FAIL;
}

int pinmm_matrix_plan(struct pinmm_scenario **scns, size_t n,
		      struct pinmm_matrix **out)
{
	struct pinmm_matrix *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m || !(m->rows = calloc(n ? n : 1, sizeof(*m->rows)))) {
		free(m);
		return -ENOMEM;
	}
	m->nr_rows = n;
	for (size_t i = 0; i < n; i++) {
		m->rows[i].scn = scns[i];
		plan_row(&m->rows[i]);
	}
	*out = m;
	return 0;
}

void pinmm_matrix_free(struct pinmm_matrix *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nr_rows; i++)
		pinmm_scenario_free(m->rows[i].scn);
	free(m->rows);
	free(m);
}

/* ------------------------------------------------------------- run --- */

static bool planned(const struct pinmm_cell *c)
{
	return c->na == PINMM_NA_NONE;	/* not ruled out at plan time */
}

static void judge(struct pinmm_cell *c, bool explore)
{
	const struct pinmm_scn_result *r = &c->result;
	const char *first = r->nr_msgs ? r->msgs[0] : "failed";

	if (r->outcome == PINMM_SCN_UNSUPPORTED) {
		c->verdict = PINMM_VERDICT_NA;
		c->na = PINMM_NA_UNBUILT;
		snprintf(c->reason, sizeof(c->reason), "%s", r->unsupported);
	} else if (c->expect == PINMM_EXPECT_PASS) {
		c->verdict = r->outcome == PINMM_SCN_PASS ? PINMM_VERDICT_PASS
							  : PINMM_VERDICT_UNEXPECTED;
		if (r->outcome == PINMM_SCN_FAIL)
			snprintf(c->reason, sizeof(c->reason), "%s", first);
	} else if (c->expect == PINMM_EXPECT_EITHER) {
		c->verdict = PINMM_VERDICT_INFO;
		snprintf(c->reason, sizeof(c->reason), "%s",
			 r->outcome == PINMM_SCN_PASS ? "passes (nothing declared)" : first);
	} else if (r->outcome == PINMM_SCN_FAIL) {
		c->verdict = PINMM_VERDICT_DETECTED;
		snprintf(c->reason, sizeof(c->reason), "%s", first);
	} else if (explore) {
		c->verdict = PINMM_VERDICT_NA;
		c->na = PINMM_NA_EXPLORER;
		snprintf(c->reason, sizeof(c->reason),
			 "needs the explorer: the race was not hit in %u runs with real threads",
			 c->attempts);
	} else {
		c->verdict = PINMM_VERDICT_UNEXPECTED;
		snprintf(c->reason, sizeof(c->reason),
			 "passed: declared to fail under %s", c->label);
	}
}

/* matrix_explore.c: a scenario with threads and `explore` is searched by
 * the explorer, cell by cell (true: explored and judged) */
bool pm_matrix_explore_cell(const struct pinmm_scenario *scn, struct pinmm_cell *c);

static void run_cell(const struct pinmm_row *row, struct pinmm_cell *c)
{
	if (c->run) {	/* a column of its own (the host's) */
		c->run(row->scn, c);
		return;
	}
	if (pm_matrix_explore_cell(row->scn, c))
		return;
	bool explore = pinmm_scenario_explore_bound(row->scn) > 0;
	unsigned tries = explore && c->expect == PINMM_EXPECT_FAIL ? RACE_ATTEMPTS : 1;
	struct pinmm_scn_options opt = { .policy = c->policy, .trace = NULL };
	int ret;

	for (c->attempts = 0; c->attempts < tries;) {
		c->attempts++;
		ret = pinmm_scenario_run(row->scn, &opt, &c->result);
		if (ret) {
			memset(&c->result, 0, sizeof(c->result));
			c->result.outcome = PINMM_SCN_FAIL;
			c->result.nr_failures = c->result.nr_msgs = 1;
			snprintf(c->result.msgs[0], PINMM_SCN_MSGLEN,
				 "%s: cannot create the engine: %s",
				 pinmm_scenario_file(row->scn), strerror(-ret));
		}
		if (c->result.outcome != PINMM_SCN_PASS)
			break;
	}
	c->ran = true;
	judge(c, explore);
}

/*
 * Cells run in child processes, `workers` at a time: each child runs one
 * cell on its own engine and writes the cell back through a pipe. Processes
 * rather than threads because engines in one process share state (the
 * engine registry that maps a page to its engine, liburcu), and because a
 * scenario that crashes the engine then costs one cell, not the matrix.
 * The parent runs no engine, so it is single-threaded when it forks.
 */
struct slot {
	pid_t pid;
	int fd;
	struct timespec start;	/* the cell's ms: fork to reaped, crash or not */
	struct pinmm_row *row;
	struct pinmm_cell *cell;
};

static int start_cell(struct slot *s)
{
	int fds[2];

	if (pipe(fds))
		return -errno;
	fflush(NULL);	/* nothing buffered is written twice */
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->pid = fork();
	if (s->pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (s->pid == 0) {
		const char *p = (const char *)s->cell;
		size_t left = sizeof(*s->cell);

		close(fds[0]);
		run_cell(s->row, s->cell);
		while (left) {
			ssize_t n = write(fds[1], p, left);

			if (n <= 0)
				_exit(1);
			p += n;
			left -= (size_t)n;
		}
		_exit(0);
	}
	close(fds[1]);
	s->fd = fds[0];
	return 0;
}

/* The child is done: read its cell back, or say how it died. */
static void finish_cell(struct slot *s, int status)
{
	struct pinmm_cell got;
	struct timespec end;
	size_t have = 0;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &end);
	s->cell->ms = (double)(end.tv_sec - s->start.tv_sec) * 1e3 +
		      (double)(end.tv_nsec - s->start.tv_nsec) / 1e6;
	while (have < sizeof(got) &&
	       (n = read(s->fd, (char *)&got + have, sizeof(got) - have)) > 0)
		have += (size_t)n;
	close(s->fd);
	if (have == sizeof(got) && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		got.ms = s->cell->ms;
		*s->cell = got;
		return;
	}
	memset(&s->cell->result, 0, sizeof(s->cell->result));
	s->cell->result.outcome = PINMM_SCN_FAIL;
	s->cell->result.nr_failures = s->cell->result.nr_msgs = 1;
	snprintf(s->cell->result.msgs[0], PINMM_SCN_MSGLEN, "%s: the run %s %d",
		 pinmm_scenario_file(s->row->scn),
		 WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
		 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	s->cell->ran = true;
	judge(s->cell, false);
}

static int run_pool(struct slot *jobs, size_t nr, unsigned workers,
		    pinmm_progress_fn progress, void *arg)
{
	size_t next = 0, done = 0;
	unsigned active = 0;
	int ret = 0;

	while (done < nr) {
		int status;
		pid_t pid;

		while (!ret && active < workers && next < nr) {
			ret = start_cell(&jobs[next]);
			if (!ret) {
				next++;
				active++;
			}
		}
		if (!active)
			return ret;
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (size_t i = 0; i < next; i++) {
			if (jobs[i].pid != pid)
				continue;
			finish_cell(&jobs[i], status);
			jobs[i].pid = 0;
			active--;
			done++;
			if (progress)
				progress(arg, done, nr, jobs[i].row, jobs[i].cell);
			break;
		}
	}
	return ret;
}

static void summarise(struct pinmm_matrix *m)
{
	struct pinmm_matrix_summary *s = &m->sum;

	memset(s, 0, sizeof(*s));
	s->rows = (unsigned)m->nr_rows;
	for (size_t i = 0; i < m->nr_rows; i++) {
		for (unsigned k = 0; k < m->rows[i].nr_cells; k++) {
			const struct pinmm_cell *c = &m->rows[i].cells[k];

			s->cells++;
			switch (c->verdict) {
			case PINMM_VERDICT_PASS: s->pass++; break;
			case PINMM_VERDICT_DETECTED: s->detected++; break;
			case PINMM_VERDICT_UNEXPECTED: s->unexpected++; break;
			case PINMM_VERDICT_INFO: s->info++; break;
			case PINMM_VERDICT_NA:
				s->na++;
				s->na_unsupported += c->na == PINMM_NA_UNBUILT;
				s->na_not_implemented += c->na == PINMM_NA_NO_SWITCH;
				s->na_needs_explorer += c->na == PINMM_NA_EXPLORER;
				s->na_host += c->na == PINMM_NA_HOST;
				break;
			}
		}
	}
}

int pinmm_matrix_run(struct pinmm_matrix *m, unsigned workers,
		     pinmm_progress_fn progress, void *arg)
{
	struct slot *jobs;
	size_t n = 0, nr = 0;
	int ret;

	for (size_t i = 0; i < m->nr_rows; i++)
		n += m->rows[i].nr_cells;
	jobs = calloc(n ? n : 1, sizeof(*jobs));
	if (!jobs)
		return -ENOMEM;
	for (size_t i = 0; i < m->nr_rows; i++)
		for (unsigned k = 0; k < m->rows[i].nr_cells; k++)
			if (planned(&m->rows[i].cells[k]))
				jobs[nr++] = (struct slot){ .row = &m->rows[i],
							    .cell = &m->rows[i].cells[k] };
	ret = run_pool(jobs, nr, workers < 1 ? 1 : workers > 16 ? 16 : workers,
		       progress, arg);
	free(jobs);
	summarise(m);
	return ret;
}

bool pinmm_matrix_as_declared(const struct pinmm_matrix *m)
{
	return m->sum.unexpected == 0;
}

const char *pinmm_verdict_str(enum pinmm_cell_verdict v)
{
	switch (v) {
	case PINMM_VERDICT_PASS: return "pass";
	case PINMM_VERDICT_DETECTED: return "detected";
	case PINMM_VERDICT_UNEXPECTED: return "UNEXPECTED";
	case PINMM_VERDICT_NA: return "n/a";
	case PINMM_VERDICT_INFO: return "info";
	}
	return "?";
}

const char *pinmm_cell_role_str(enum pinmm_cell_role r)
{
	switch (r) {
	case PINMM_CELL_STRICT: return "strict";
	case PINMM_CELL_LEGACY: return "legacy";
	case PINMM_CELL_WITHOUT: return "without";
	case PINMM_CELL_WITH: return "with";
	}
	return "?";
}
