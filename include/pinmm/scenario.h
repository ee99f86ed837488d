/* SPDX-License-Identifier: MIT */
/*
 * pinmm/scenario.h - the scenario language (.pin files, docs/scenario.md):
 * parse, run on the engine, and check the guarantee matrix.
 *
 * Library pinmm_scenario. It drives the engine through the public API only
 * (pinmm.h), like any other front end.
 *
 * Conventions: functions return 0 or a negative errno. A parse error is
 * -EINVAL with the message "FILE:LINE:COL: error: expected ..., got ..."
 * in the caller's buffer; nothing of a file that does not parse runs.
 */
#ifndef PINMM_SCENARIO_H
#define PINMM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <pinmm/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pinmm_scenario;		/* a parsed .pin file */

#define PINMM_SCN_ERRLEN 512	/* enough for any parse error message */

/* Parse text (len bytes, need not be NUL-terminated); name is what error
 * messages and results call the file. */
int pinmm_scenario_parse(const char *name, const char *text, size_t len,
			 struct pinmm_scenario **out, char *err, size_t errlen);
/* Read and parse a file; -errno when it cannot be read (message in err). */
int pinmm_scenario_load(const char *path, struct pinmm_scenario **out,
			char *err, size_t errlen);
void pinmm_scenario_free(struct pinmm_scenario *scn);

/* ------------------------------------------------------------ header --- */

const char *pinmm_scenario_file(const struct pinmm_scenario *scn);
/* The `scenario "..."` line; "" when absent. */
const char *pinmm_scenario_title(const struct pinmm_scenario *scn);
/* The `policy` line: true and *out set when present. */
bool pinmm_scenario_default_policy(const struct pinmm_scenario *scn,
				   struct pinmm_policy *out);
/* Bit i set: switch i is listed in `breaks-without`. */
uint32_t pinmm_scenario_breaks_without(const struct pinmm_scenario *scn);
/* The `breaks-with` policies, as written and parsed. */
size_t pinmm_scenario_nr_breaks_with(const struct pinmm_scenario *scn);
const char *pinmm_scenario_breaks_with(const struct pinmm_scenario *scn,
				       size_t i, struct pinmm_policy *out);
/* The `holds-with` policies: under these it must pass (a policy that turns
 * off a scenario's switch and still holds, e.g. legacy when its older
 * mechanism happens to keep the page). */
size_t pinmm_scenario_nr_holds_with(const struct pinmm_scenario *scn);
const char *pinmm_scenario_holds_with(const struct pinmm_scenario *scn,
				      size_t i, struct pinmm_policy *out);
/* `explore bound=K`: K, or 0 without an explore line. */
unsigned pinmm_scenario_explore_bound(const struct pinmm_scenario *scn);
/* `host skip "why"`: why, or NULL. */
const char *pinmm_scenario_host_skip(const struct pinmm_scenario *scn);
unsigned pinmm_scenario_nr_threads(const struct pinmm_scenario *scn);

/* --------------------------------------------------------------- run --- */

enum pinmm_scn_outcome {
	PINMM_SCN_PASS,		/* every expectation held, nothing leaked */
	PINMM_SCN_FAIL,		/* an expectation or a statement failed */
	PINMM_SCN_UNSUPPORTED,	/* the engine answered EOPNOTSUPP (not built) */
};

#define PINMM_SCN_MAX_MSGS 8
#define PINMM_SCN_MSGLEN 256

struct pinmm_scn_result {
	enum pinmm_scn_outcome outcome;
	unsigned nr_failures;		/* all of them, also beyond msgs */
	unsigned nr_msgs;
	/* "FILE:LINE: STATEMENT: what went wrong", in the order found */
	char msgs[PINMM_SCN_MAX_MSGS][PINMM_SCN_MSGLEN];
	/* "unsupported: STATEMENT (FILE:LINE)" when UNSUPPORTED */
	char unsupported[PINMM_SCN_MSGLEN];
};

struct pinmm_scn_options {
	struct pinmm_policy policy;
	FILE *trace;		/* every statement and its result; NULL: none */
};

/* Run the scenario on a fresh engine. Returns 0 with *res filled, or a
 * negative errno when the engine itself could not be created. */
int pinmm_scenario_run(const struct pinmm_scenario *scn,
		       const struct pinmm_scn_options *opt,
		       struct pinmm_scn_result *res);

const char *pinmm_scn_outcome_str(enum pinmm_scn_outcome o);

/* ------------------------------------------------------- collection --- */

/*
 * Expand FILES|DIRS into a sorted list of .pin files: a directory gives its
 * own *.pin files (not its subdirectories, so scenarios/bad/ stays out of
 * `pinmm check scenarios/`). -ENOENT etc. with a message in err.
 * Free with pinmm_scenario_paths_free().
 */
int pinmm_scenario_collect(const char *const *args, size_t nargs,
			   char ***paths, size_t *npaths, char *err,
			   size_t errlen);
void pinmm_scenario_paths_free(char **paths, size_t npaths);

/* ----------------------------------------------------------- matrix --- */

/* What a column of the matrix is for this scenario. */
enum pinmm_cell_role {
	PINMM_CELL_STRICT,	/* must pass */
	PINMM_CELL_LEGACY,	/* must fail when the scenario declares any
				 * breaks-*, else informational */
	PINMM_CELL_WITHOUT,	/* strict minus one breaks-without switch */
	PINMM_CELL_WITH,	/* a breaks-with or holds-with policy */
};

enum pinmm_cell_verdict {
	PINMM_VERDICT_PASS,	/* must pass, passed */
	PINMM_VERDICT_DETECTED,	/* must fail, failed */
	PINMM_VERDICT_UNEXPECTED,	/* not as declared */
	PINMM_VERDICT_NA,	/* not run or not conclusive: see reason */
	PINMM_VERDICT_INFO,	/* informational, either result is fine */
};

/* Why a cell is n/a. */
enum pinmm_na {
	PINMM_NA_NONE,
	PINMM_NA_UNBUILT,	/* the run reached EOPNOTSUPP: mechanism not built */
	PINMM_NA_NO_SWITCH,	/* the engine cannot turn that switch off yet */
	PINMM_NA_EXPLORER,	/* a race real threads did not hit: needs the explorer */
	PINMM_NA_HOST,		/* the host column: not run, or a step the kernel cannot express */
};

/* What a cell is declared to do. */
enum pinmm_cell_expect {
	PINMM_EXPECT_PASS,	/* strict, holds-with */
	PINMM_EXPECT_FAIL,	/* breaks-without, breaks-with, legacy (see matrix.c) */
	PINMM_EXPECT_EITHER,	/* legacy when nothing is declared: informational */
};

struct pinmm_cell {
	enum pinmm_cell_role role;
	char label[96];		/* "strict", "legacy", "-anon_exclusive", ... */
	/* a column the matrix does not run on the engine itself (the host
	 * backend's, set by pinmm_host_plan): how to run the cell (in its
	 * child process) and what it shows; NULL for the engine's cells */
	void (*run)(const struct pinmm_scenario *scn, struct pinmm_cell *c);
	const char *(*text)(const struct pinmm_cell *c);
	struct pinmm_policy policy;
	enum pinmm_cell_expect expect;
	bool ran;
	unsigned attempts;	/* runs made (races: until detected) */
	double ms;		/* wall-clock time of the cell's run, ms; 0 if not run */
	struct pinmm_scn_result result;
	enum pinmm_cell_verdict verdict;
	enum pinmm_na na;
	char reason[PINMM_SCN_MSGLEN];	/* why n/a, or the first failure */
	/* a scenario with threads and `explore bound=K`: the cell is a search
	 * (docs/explorer.md) rather than one run */
	bool explored, exhausted;	/* exhausted: every schedule within K ran */
	unsigned bound;			/* explored: K, or PINMM_EXPLORE_UNBOUNDED */
	unsigned long executions;
	double seconds;
	char schedule[PINMM_SCN_MSGLEN];	/* the counterexample's, for `pinmm replay` */
};

#define PINMM_MAX_CELLS (2 + 2 * 16)

struct pinmm_row {
	struct pinmm_scenario *scn;	/* owned by the matrix */
	unsigned nr_cells;
	struct pinmm_cell cells[PINMM_MAX_CELLS];
};

struct pinmm_matrix_summary {
	unsigned rows, cells;
	unsigned pass, detected, unexpected, na, info;
	unsigned na_unsupported, na_not_implemented, na_needs_explorer, na_host;
};

struct pinmm_matrix {
	size_t nr_rows;
	struct pinmm_row *rows;
	struct pinmm_matrix_summary sum;
};

/* Plan the matrix for the scenarios (the matrix takes them over). */
int pinmm_matrix_plan(struct pinmm_scenario **scns, size_t n,
		      struct pinmm_matrix **out);
/* Run every cell, each in a child process (fork), `workers` at a time:
 * engines stay apart and a crash costs one cell. Call it from a process
 * that runs no engine itself. progress (may be NULL) is called in the
 * caller after each cell. */
typedef void (*pinmm_progress_fn)(void *arg, size_t done, size_t total,
				  const struct pinmm_row *row,
				  const struct pinmm_cell *cell);
int pinmm_matrix_run(struct pinmm_matrix *m, unsigned workers,
		     pinmm_progress_fn progress, void *arg);
void pinmm_matrix_free(struct pinmm_matrix *m);
/* Everything as declared (no UNEXPECTED cell). */
bool pinmm_matrix_as_declared(const struct pinmm_matrix *m);

const char *pinmm_verdict_str(enum pinmm_cell_verdict v);
const char *pinmm_cell_role_str(enum pinmm_cell_role r);

/* ----------------------------------------------------------- output --- */

enum pinmm_report_format { PINMM_REPORT_TEXT, PINMM_REPORT_JSON,
			   PINMM_REPORT_TAP, PINMM_REPORT_KTAP /* check only */ };

struct pinmm_report_options {
	enum pinmm_report_format format;
	bool colour;		/* ANSI colours (text only) */
	bool verbose;		/* every cell's reason, not only UNEXPECTED */
};

int pinmm_report_matrix(FILE *out, const struct pinmm_matrix *m,
			const struct pinmm_report_options *opt);
/* The matrix as JUnit XML (a testsuite per scenario, a testcase per cell
 * named "scenario cell"; docs/schema/junit.xsd): 0 or -EIO. */
int pinmm_report_junit(FILE *out, const struct pinmm_matrix *m);
/* The matrix as one self-contained HTML page (docs/output.md): the matrix
 * with filters, each cell's note and time, each counterexample's schedule,
 * replay command and trace (replayed here; a picture when Graphviz `dot`
 * is on PATH): 0 or -EIO. */
int pinmm_report_html(FILE *out, const struct pinmm_matrix *m);
/* One `pinmm run` result. */
int pinmm_report_run(FILE *out, const struct pinmm_scenario *scn,
		     const char *policy, const struct pinmm_scn_result *res,
		     const struct pinmm_report_options *opt);

#ifdef __cplusplus
}
#endif
#endif
