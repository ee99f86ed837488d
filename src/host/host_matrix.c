/* SPDX-License-Identifier: MIT */

/* messages are cut to the result's fixed sizes on purpose */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
/*
 * host_matrix.c - the host column of `pinmm check`: a cell labelled
 * "host" in every row, run by the matrix in a child process like any other
 * cell. The cell runs the scenario on the kernel, then on the engine under
 * strict (after the host run: the engine starts threads, the host run
 * forks), and compares:
 *   pass       both pass                          PINMM_VERDICT_PASS
 *   detected   both fail (they agree)             PINMM_VERDICT_DETECTED
 *   skipped    the kernel cannot express a step   PINMM_VERDICT_NA
 *   DISAGREES  one passes, the other fails        PINMM_VERDICT_UNEXPECTED
 */
#include <stdio.h>
#include <string.h>

#include <pinmm/host.h>

#define HOST_LABEL "host"

static unsigned host_timeout = 20;

void pinmm_host_plan(struct pinmm_matrix *m, bool enabled, const char *why,
		     unsigned timeout)
{
	if (timeout)
		host_timeout = timeout;
	for (size_t i = 0; i < m->nr_rows; i++) {
		struct pinmm_row *row = &m->rows[i];
		struct pinmm_cell *c;

		if (row->nr_cells == PINMM_MAX_CELLS)
			continue;
		c = &row->cells[row->nr_cells++];
		memset(c, 0, sizeof(*c));
		c->role = PINMM_CELL_WITH;
		snprintf(c->label, sizeof(c->label), HOST_LABEL);
		c->policy = PINMM_POLICY_STRICT;
		c->expect = PINMM_EXPECT_PASS;
		c->verdict = PINMM_VERDICT_NA;
		c->run = pinmm_host_run_cell;
		c->text = pinmm_host_cell_text;
		if (!enabled) {
			/* not run: na marks it as ruled out at plan time */
			c->na = PINMM_NA_HOST;
			snprintf(c->reason, sizeof(c->reason), "skipped: %s", why);
		}
	}
}

bool pinmm_host_cell(const struct pinmm_cell *c)
{
	return !strcmp(c->label, HOST_LABEL);
}

void pinmm_host_run_cell(const struct pinmm_scenario *scn, struct pinmm_cell *c)
{
	struct pinmm_host_options hopt = { .timeout = host_timeout };
	struct pinmm_scn_options eopt = { .policy = PINMM_POLICY_STRICT };
	struct pinmm_host_result hr;
	struct pinmm_scn_result er;
	int ret;

	c->ran = true;
	c->attempts = 1;
	ret = pinmm_host_run(scn, &hopt, &hr);
	if (ret) {
		c->verdict = PINMM_VERDICT_UNEXPECTED;
		snprintf(c->reason, sizeof(c->reason), "DISAGREES: the host run could not start: %s",
			 strerror(-ret));
		return;
	}
	c->result = hr.scn;
	if (hr.outcome == PINMM_HOST_SKIP) {
		c->verdict = PINMM_VERDICT_NA;
		c->na = PINMM_NA_HOST;
		snprintf(c->reason, sizeof(c->reason), "skipped: %s", hr.skip);
		return;
	}
	if (pinmm_scenario_run(scn, &eopt, &er)) {
		c->verdict = PINMM_VERDICT_NA;
		c->na = PINMM_NA_UNBUILT;
		snprintf(c->reason, sizeof(c->reason), "skipped: the engine could not run it");
		return;
	}
	if (er.outcome == PINMM_SCN_UNSUPPORTED) {
		c->verdict = PINMM_VERDICT_NA;
		c->na = PINMM_NA_UNBUILT;
		snprintf(c->reason, sizeof(c->reason), "host %s; engine: %s",
			 pinmm_host_outcome_str(hr.outcome), er.unsupported);
		return;
	}
	bool host_ok = hr.outcome == PINMM_HOST_PASS, eng_ok = er.outcome == PINMM_SCN_PASS;

	if (host_ok && eng_ok) {
		c->verdict = PINMM_VERDICT_PASS;
		snprintf(c->reason, sizeof(c->reason), "kernel and engine pass%s%s",
			 hr.nr_skipped ? " (some expectations skipped: " : "",
			 hr.nr_skipped ? "not observable on the kernel)" : "");
	} else if (!host_ok && !eng_ok) {
		c->verdict = PINMM_VERDICT_DETECTED;
		snprintf(c->reason, sizeof(c->reason), "both fail; kernel: %s",
			 hr.scn.nr_msgs ? hr.scn.msgs[0] : "failed");
	} else {
		c->verdict = PINMM_VERDICT_UNEXPECTED;
		snprintf(c->reason, sizeof(c->reason), "DISAGREES: %s",
			 host_ok ? (er.nr_msgs ? er.msgs[0] : "the engine fails")
				 : (hr.scn.nr_msgs ? hr.scn.msgs[0] : "the kernel fails"));
		if (host_ok)
			memcpy(&c->result, &er, sizeof(er));
	}
}

const char *pinmm_host_cell_text(const struct pinmm_cell *c)
{
	switch (c->verdict) {
	case PINMM_VERDICT_PASS: return "pass";
	case PINMM_VERDICT_DETECTED: return "detected";
	case PINMM_VERDICT_UNEXPECTED: return "DISAGREES";
	default: return "skipped";
	}
}
