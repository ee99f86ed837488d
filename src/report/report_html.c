/* SPDX-License-Identifier: MIT */
/*
 * report_html.c - `pinmm check --html DIR`: the matrix as one page for
 * people, DIR/index.html, self-contained (inline CSS, script and SVG; no
 * network resource):
 *
 *   summary          the counts and the verdict, "as declared" or not
 *   #matrix          one row per scenario, one cell per policy, ablation and
 *                    host, coloured by result; filters by name and result
 *   #scn-I           per scenario: each cell's policy, result, duration and
 *                    note (a host cell's note says what the kernel did)
 *   #cx-I-K          per counterexample: its schedule, the exact replay
 *                    command and its trace, as a picture (Graphviz `dot`,
 *                    when installed) and as text
 *
 * Written with libxml2's xmlTextWriter as polyglot markup, read alike by
 * HTML and XML parsers: every element has an end tag (an HTML parser takes
 * <div/> as an open <div>) except the void ones (<meta/>, <input/>).
 * Scenario titles, reasons and messages are free text: escaping them is the
 * library's business. The style and the script are report_html.css and
 * report_html.js, embedded at build time (cmake/embed.cmake) and written
 * raw: they are constant, and an HTML parser reads <style> and <script>
 * literally, so escaped text there would be wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include <pinmm/scenario_explore.h>

#include "report.h"

/* report_html_assets.c, generated from report_html.css and .js */
extern const char pm_html_css[], pm_html_js[];

/* every writer call returns < 0 on error: keep going, remember it in ret */
#define W(call) do { if ((call) < 0) ret = -EIO; } while (0)

struct page {
	xmlTextWriterPtr w;
	int dot;	/* 0 unknown, 1 Graphviz laid out a trace, -1 dot missing */
};

static int start(xmlTextWriterPtr w, const char *tag, const char *cls)
{
	int ret = xmlTextWriterStartElement(w, BAD_CAST tag);

	if (ret >= 0 && cls)
		ret = xmlTextWriterWriteAttribute(w, BAD_CAST "class", BAD_CAST cls);
	return ret;
}

static int end(xmlTextWriterPtr w)
{
	return xmlTextWriterFullEndElement(w);
}

static int attr(xmlTextWriterPtr w, const char *name, const char *v)
{
	return xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST v);
}

/* <tag class=cls>text</tag> */
static int elem(xmlTextWriterPtr w, const char *tag, const char *cls, const char *text)
{
	int ret = 0;

	W(start(w, tag, cls));
	W(xmlTextWriterWriteString(w, BAD_CAST text));
	W(end(w));
	return ret;
}

/* <tag>raw</tag>: the embedded style or script */
static int raw(xmlTextWriterPtr w, const char *tag, const char *text)
{
	int ret = 0;

	W(start(w, tag, NULL));
	W(xmlTextWriterWriteRaw(w, BAD_CAST text));
	W(end(w));
	return ret;
}

static const char *verdict_class(const struct pinmm_cell *c)
{
	switch (c->verdict) {
	case PINMM_VERDICT_PASS: return "pass";
	case PINMM_VERDICT_DETECTED: return "detected";
	case PINMM_VERDICT_UNEXPECTED: return "unexpected";
	case PINMM_VERDICT_NA: return "na";
	case PINMM_VERDICT_INFO: return "info";
	}
	return "na";
}

/* what the explorer found and `pinmm replay` reproduces */
static bool counterexample(const struct pinmm_cell *c)
{
	return c->explored && c->result.outcome == PINMM_SCN_FAIL;
}

/* "12.3 ms", and the search's size for an explored cell */
static void duration(char *buf, size_t len, const struct pinmm_cell *c)
{
	if (!c->ran)
		snprintf(buf, len, "not run");
	else if (c->explored)
		snprintf(buf, len, "%.1f ms (%lu executions)", c->ms, c->executions);
	else
		snprintf(buf, len, "%.1f ms", c->ms);
}

static int summary(xmlTextWriterPtr w, const struct pinmm_matrix *m)
{
	const struct pinmm_matrix_summary *s = &m->sum;
	bool declared = pinmm_matrix_as_declared(m);
	int ret = 0;

	W(start(w, "p", declared ? "declared" : "undeclared"));
	W(attr(w, "id", "summary"));
	W(xmlTextWriterWriteFormatString(w, "%u scenarios, %u cells: %u pass, %u detected, "
					 "%u UNEXPECTED, %u n/a, %u informational: ", s->rows,
					 s->cells, s->pass, s->detected, s->unexpected, s->na,
					 s->info));
	W(elem(w, "strong", NULL, declared ? "as declared" : "NOT as declared"));
	W(end(w));
	return ret;
}

/* the name box, the result menu (values: verdict_class()) and the count */
static int filters(xmlTextWriterPtr w)
{
	static const char *const results[][2] = {
		{ "", "any result" }, { "unexpected", "UNEXPECTED" }, { "detected", "detected" },
		{ "pass", "pass" }, { "na", "n/a" }, { "info", "informational" },
	};
	int ret = 0;

	W(start(w, "div", "filters"));
	W(start(w, "input", NULL));
	W(attr(w, "id", "filter-name"));
	W(attr(w, "type", "search"));
	W(attr(w, "placeholder", "filter by name or title"));
	W(xmlTextWriterEndElement(w));	/* void: <input/> */
	W(start(w, "select", NULL));
	W(attr(w, "id", "filter-result"));
	for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
		W(start(w, "option", NULL));
		W(attr(w, "value", results[i][0]));
		W(xmlTextWriterWriteString(w, BAD_CAST results[i][1]));
		W(end(w));
	}
	W(end(w));
	W(xmlTextWriterWriteString(w, BAD_CAST " "));
	W(start(w, "span", NULL));	/* filled by the script */
	W(attr(w, "id", "shown"));
	W(end(w));
	W(end(w));
	return ret;
}

/* One matrix cell: the label, the result, the time; a link to its note. */
static int matrix_cell(xmlTextWriterPtr w, size_t i, unsigned k, const struct pinmm_cell *c)
{
	char cls[32], dur[64];
	int ret = 0;

	snprintf(cls, sizeof(cls), "cell v-%s", verdict_class(c));
	duration(dur, sizeof(dur), c);
	W(start(w, "td", cls));
	W(attr(w, "title", c->reason));
	W(start(w, "a", NULL));
	W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "href", "#cell-%zu-%u", i, k));
	W(xmlTextWriterWriteFormatString(w, "%s: %s", c->label, pm_cell_text(c)));
	W(end(w));
	W(elem(w, "small", NULL, dur));
	W(end(w));
	return ret;
}

static int matrix(xmlTextWriterPtr w, const struct pinmm_matrix *m)
{
	unsigned widest = 1;
	int ret = 0;

	for (size_t i = 0; i < m->nr_rows; i++)
		widest = m->rows[i].nr_cells > widest ? m->rows[i].nr_cells : widest;

	W(start(w, "table", NULL));
	W(attr(w, "id", "matrix"));
	W(start(w, "thead", NULL));
	W(start(w, "tr", NULL));
	W(elem(w, "th", NULL, "scenario"));
	W(start(w, "th", NULL));
	W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "colspan", "%u", widest));
	W(xmlTextWriterWriteString(w, BAD_CAST "cells: policy or ablation or host: result, time"));
	W(end(w));
	W(end(w));
	W(end(w));
	W(start(w, "tbody", NULL));
	for (size_t i = 0; i < m->nr_rows; i++) {
		const struct pinmm_row *row = &m->rows[i];
		char name[128], verdicts[PINMM_MAX_CELLS * 12] = "";
		size_t used = 0;

		/* the verdicts present, for the result filter */
		for (unsigned k = 0; k < row->nr_cells && used < sizeof(verdicts); k++)
			used += (size_t)snprintf(verdicts + used, sizeof(verdicts) - used, "%s%s",
						 k ? " " : "", verdict_class(&row->cells[k]));
		W(start(w, "tr", NULL));
		W(attr(w, "data-name", pm_row_name(row, name, sizeof(name))));
		W(attr(w, "data-title", pinmm_scenario_title(row->scn)));
		W(attr(w, "data-verdicts", verdicts));
		W(start(w, "th", NULL));
		W(start(w, "a", NULL));
		W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "href", "#scn-%zu", i));
		W(xmlTextWriterWriteString(w, BAD_CAST name));
		W(end(w));
		W(end(w));
		for (unsigned k = 0; k < row->nr_cells; k++)
			W(matrix_cell(w, i, k, &row->cells[k]));
		W(end(w));
	}
	W(end(w));
	W(end(w));
	return ret;
}

/* The trace of the replayed counterexample: a picture when Graphviz is
 * there, and the text (open when there is no picture). */
static int trace(struct page *pg, const struct pinmm_row *row,
		 const struct pinmm_scn_explore_result *r, size_t i, unsigned k)
{
	xmlTextWriterPtr w = pg->w;
	char prefix[48], *svg = NULL, *text = NULL;
	size_t len = 0;
	FILE *f;
	int ret = 0, got = -ENOENT;

	snprintf(prefix, sizeof(prefix), "cx-%zu-%u-", i, k);
	if (pg->dot >= 0) {
		got = pm_trace_svg(row->scn, r, prefix, &svg);
		pg->dot = got == -ENOENT ? -1 : 1;
	}
	if (!got) {
		W(start(w, "figure", NULL));
		W(xmlTextWriterWriteRaw(w, BAD_CAST svg));	/* serialized by libxml2 */
		W(end(w));
	} else {
		W(elem(w, "p", "nodot", got == -ENOENT
		       ? "No picture: Graphviz `dot` was not found when this page was written "
			 "(Debian: graphviz); the trace as text:"
		       : "No picture: Graphviz `dot` failed on this trace; the trace as text:"));
	}
	free(svg);
	f = open_memstream(&text, &len);
	if (f) {
		pm_report_trace_text(f, row->scn, r);
		fclose(f);
	}
	W(start(w, "details", NULL));
	if (got)
		W(attr(w, "open", "open"));
	W(elem(w, "summary", NULL, "the trace as text"));
	W(elem(w, "pre", NULL, text ? text : ""));
	W(end(w));
	free(text);
	return ret;
}

/* A counterexample: the schedule, the replay command, the failure, the trace
 * (the cell ran in a child process: replay its schedule here for it). */
static int counterexample_block(struct page *pg, const struct pinmm_row *row,
				const struct pinmm_cell *c, size_t i, unsigned k)
{
	xmlTextWriterPtr w = pg->w;
	struct pinmm_scn_explore_options opt = { .policy = c->policy };
	struct pinmm_scn_explore_result r;
	char name[128], policy[256], cmd[PINMM_SCN_MSGLEN * 3];
	int ret = 0, got;

	pm_row_name(row, name, sizeof(name));
	pinmm_policy_format(c->policy, policy, sizeof(policy));
	pm_replay_command(cmd, sizeof(cmd), pinmm_scenario_file(row->scn), c->schedule, policy);
	W(start(w, "div", "counterexample"));
	W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "id", "cx-%zu-%u", i, k));
	W(start(w, "h3", NULL));
	W(xmlTextWriterWriteFormatString(w, "Counterexample: %s under %s", name, c->label));
	W(end(w));
	W(start(w, "p", NULL));
	W(xmlTextWriterWriteString(w, BAD_CAST "schedule: "));
	W(elem(w, "code", "schedule", c->schedule));
	W(end(w));
	W(start(w, "p", NULL));
	W(xmlTextWriterWriteString(w, BAD_CAST "replay: "));
	W(elem(w, "code", "replay", cmd));
	W(end(w));
	W(start(w, "ul", "messages"));
	for (unsigned j = 0; j < c->result.nr_msgs; j++)
		W(elem(w, "li", NULL, c->result.msgs[j]));
	W(end(w));
	got = pinmm_scenario_replay(row->scn, &opt, c->schedule, &r);
	if (got) {
		W(start(w, "p", "nodot"));
		W(xmlTextWriterWriteFormatString(w, "No trace: the replay failed: %s",
						 strerror(-got)));
		W(end(w));
	} else {
		W(trace(pg, row, &r, i, k));
		pinmm_scn_explore_result_free(&r);
	}
	W(end(w));
	return ret;
}

/* One row of a scenario's table: a cell's policy, result, time and note. */
static int note_row(xmlTextWriterPtr w, const struct pinmm_cell *c, size_t i, unsigned k)
{
	char cls[32], policy[256], dur[64];
	int ret = 0;

	snprintf(cls, sizeof(cls), "v-%s", verdict_class(c));
	pinmm_policy_format(c->policy, policy, sizeof(policy));
	duration(dur, sizeof(dur), c);
	W(start(w, "tr", cls));
	W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "id", "cell-%zu-%u", i, k));
	W(elem(w, "td", NULL, c->label));
	W(start(w, "td", NULL));
	/* a column of its own (c->run) is the host backend's: not a policy */
	W(elem(w, "code", NULL, c->run ? "the running kernel" : policy));
	W(end(w));
	W(elem(w, "td", NULL, pm_cell_text(c)));
	W(elem(w, "td", NULL, dur));
	W(start(w, "td", NULL));
	W(xmlTextWriterWriteString(w, BAD_CAST c->reason));
	if (counterexample(c)) {
		W(xmlTextWriterWriteString(w, BAD_CAST " "));
		W(start(w, "a", NULL));
		W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "href", "#cx-%zu-%u", i, k));
		W(xmlTextWriterWriteString(w, BAD_CAST "(counterexample)"));
		W(end(w));
	}
	W(end(w));
	W(end(w));
	return ret;
}

static int scenario(struct page *pg, const struct pinmm_row *row, size_t i)
{
	static const char *const heads[] = { "cell", "policy", "result", "time", "note" };
	xmlTextWriterPtr w = pg->w;
	char name[128];
	int ret = 0;

	W(start(w, "section", "scenario"));
	W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "id", "scn-%zu", i));
	W(elem(w, "h2", NULL, pm_row_name(row, name, sizeof(name))));
	W(elem(w, "p", "title", pinmm_scenario_title(row->scn)));
	W(start(w, "p", NULL));
	W(xmlTextWriterWriteString(w, BAD_CAST "file: "));
	W(elem(w, "code", NULL, pinmm_scenario_file(row->scn)));
	W(end(w));
	W(start(w, "table", "notes"));
	W(start(w, "thead", NULL));
	W(start(w, "tr", NULL));
	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++)
		W(elem(w, "th", NULL, heads[h]));
	W(end(w));
	W(end(w));
	W(start(w, "tbody", NULL));
	for (unsigned k = 0; k < row->nr_cells; k++)
		W(note_row(w, &row->cells[k], i, k));
	W(end(w));
	W(end(w));
	for (unsigned k = 0; k < row->nr_cells; k++)
		if (counterexample(&row->cells[k]))
			W(counterexample_block(pg, row, &row->cells[k], i, k));
	W(end(w));
	return ret;
}

int pinmm_report_html(FILE *out, const struct pinmm_matrix *m)
{
	xmlOutputBufferPtr buf = xmlOutputBufferCreateFile(out, NULL);
	struct page pg = { .w = buf ? xmlNewTextWriter(buf) : NULL };
	xmlTextWriterPtr w = pg.w;
	int ret = 0;

	if (!w) {
		if (buf)
			xmlOutputBufferClose(buf);
		return -ENOMEM;
	}
	/* no XML declaration: <!DOCTYPE html> first keeps browsers in
	 * standards mode */
	W(xmlTextWriterStartDTD(w, BAD_CAST "html", NULL, NULL));
	W(xmlTextWriterEndDTD(w));
	W(xmlTextWriterWriteString(w, BAD_CAST "\n"));
	W(start(w, "html", NULL));
	W(attr(w, "lang", "en"));
	W(start(w, "head", NULL));
	W(start(w, "meta", NULL));
	W(attr(w, "charset", "utf-8"));
	W(xmlTextWriterEndElement(w));	/* void: <meta/> */
	W(elem(w, "title", NULL, pinmm_matrix_as_declared(m) ? "pinmm check: as declared"
							     : "pinmm check: NOT as declared"));
	W(raw(w, "style", pm_html_css));
	W(end(w));
	W(start(w, "body", NULL));
	W(elem(w, "h1", NULL, "pinmm check"));
	W(summary(w, m));
	/* the script's own errors land here (report_html.js) */
	W(start(w, "div", NULL));
	W(attr(w, "id", "errors"));
	W(attr(w, "hidden", "hidden"));
	W(end(w));
	W(filters(w));
	W(matrix(w, m));
	W(elem(w, "p", "legend",
	       "pass: must pass, passed; detected: must fail, failed (the fix is what holds); "
	       "UNEXPECTED: not as declared; n/a: not run or not conclusive (the note says why); "
	       "(pass)/(fails): legacy with nothing declared; (explore): the explorer searched "
	       "every interleaving up to the scenario's bound. A cell links to its note."));
	for (size_t i = 0; i < m->nr_rows; i++)
		W(scenario(&pg, &m->rows[i], i));
	W(raw(w, "script", pm_html_js));
	W(end(w));
	W(end(w));
	W(xmlTextWriterEndDocument(w));
	xmlFreeTextWriter(w);	/* flushes; the FILE stays the caller's */
	return ret || ferror(out) ? -EIO : 0;
}
