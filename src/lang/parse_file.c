/* SPDX-License-Identifier: MIT */
/*
 * parse_file.c - a whole .pin file: header lines, top-level statements and
 * `thread NAME [in PROC] ... end` blocks; loading from disk; the header
 * accessors of pinmm/scenario.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pinmm/explore.h>

#include "parser.h"

/* -------------------------------------------------------------- header --- */

static char *p_string(struct parser *p, const char *what)
{
	struct token t = p->tok;
	char *s;
	size_t o = 0;

	if (t.kind != T_STRING)
		p_expected(p, &t, what);
	/* past it first: a lexical error after it must not leak the copy */
	p_advance(p);
	s = p_alloc(p, t.len + 1);
	for (size_t i = 0; i < t.len; i++) {
		if (t.s[i] == '\\' && i + 1 < t.len)
			i++;
		s[o++] = t.s[i];
	}
	return s;
}

static struct pinmm_policy p_policy(struct parser *p, struct token *at)
{
	struct pinmm_policy pol;
	char msg[200], *text;

	if (!lex_raw(&p->lx, &p->tok))
		longjmp(p->fail, 1);
	*at = p->tok;
	if (p->tok.kind != T_RAW)
		p_expected(p, &p->tok, "a policy (strict or legacy, then ,+switch or ,-switch)");
	text = strndup(p->tok.s, p->tok.len);
	if (!text)
		p_fail(p, at, "out of memory");
	if (pinmm_policy_parse(text, &pol, msg, sizeof(msg))) {
		free(text);
		p_fail(p, at, "expected a policy (strict or legacy, then ,+switch or ,-switch), got '%.*s': %s",
		       (int)at->len, at->s, msg);
	}
	free(text);
	return pol;
}

/* The header lines; false when the current word is not one. */
static bool p_header(struct parser *p)
{
	struct pinmm_scenario *scn = p->scn;
	struct token kw = p->tok, at;

	if (!(p_is_word(p, "scenario") || p_is_word(p, "policy") ||
	      p_is_word(p, "breaks-without") || p_is_word(p, "breaks-with") ||
	      p_is_word(p, "holds-with") ||
	      p_is_word(p, "explore") || p_is_word(p, "host") ||
	      p_is_word(p, "movablecore") || p_is_word(p, "swap") || p_is_word(p, "hugetlb")))
		return false;
	if (p->thread >= 0)
		p_fail(p, &kw, "expected a statement, got header line '%.*s' inside a thread",
		       (int)kw.len, kw.s);
	if (tok_is(&kw, "policy") || tok_is(&kw, "breaks-with") ||
	    tok_is(&kw, "holds-with")) {
		/* policy texts are raw words: `legacy,+pin_accounting` */
		do {
			struct pinmm_policy pol = p_policy(p, &at);

			if (tok_is(&kw, "policy")) {
				if (scn->has_policy)
					p_fail(p, &kw, "expected one policy line, got a second");
				scn->has_policy = true;
				scn->policy = pol;
				if (!lex_raw(&p->lx, &p->tok))
					longjmp(p->fail, 1);
				break;
			}
			struct scn_policies *l = tok_is(&kw, "holds-with")
				? &scn->holds_with : &scn->breaks_with;
			char **t = realloc(l->text, (l->nr + 1) * sizeof(*t));

			if (t)
				l->text = t;
			struct pinmm_policy *b = realloc(l->pol, (l->nr + 1) * sizeof(*b));
			if (b)
				l->pol = b;
			if (!t || !b || !(t[l->nr] = strndup(at.s, at.len)))
				p_fail(p, &at, "out of memory");
			b[l->nr++] = pol;
			if (!lex_raw(&p->lx, &p->tok))
				longjmp(p->fail, 1);
		} while (p->tok.kind == T_RAW);
		p_want_end(p);
		return true;
	}
	p_advance(p);
	if (tok_is(&kw, "scenario")) {
		if (scn->title)
			p_fail(p, &kw, "expected one scenario line, got a second");
		scn->title = p_string(p, "a quoted one-line description");
	} else if (tok_is(&kw, "breaks-without")) {
		do {
			int sw;

			if (p->tok.kind != T_WORD)
				p_expected(p, &p->tok, "a fix switch name");
			sw = pinmm_switch_lookup(p->tok.s, p->tok.len);
			if (sw < 0)
				p_fail(p, &p->tok, "expected a fix switch name, got unknown switch '%.*s'",
				       (int)p->tok.len, p->tok.s);
			scn->breaks_without |= 1u << sw;
			p_advance(p);
		} while (!p_at_end(p));
	} else if (tok_is(&kw, "explore")) {
		struct token key;

		if (scn->explore_set)
			p_fail(p, &kw, "expected one explore line, got a second");
		scn->explore_set = true;
		scn->explore_bound = 2;
		if (p_is_word(p, "off")) {
			/* its threads run for real, one lucky interleaving */
			p_advance(p);
			scn->explore_bound = 0;
		}
		while (!p_at_end(p)) {
			if (!p_option(p, &key) || !tok_is(&key, "bound"))
				p_expected(p, &key, "bound=K");
			at = p->tok;
			if (p_is_word(p, "none")) {
				/* every interleaving: a proof when none fails */
				p_advance(p);
				scn->explore_bound = PINMM_EXPLORE_UNBOUNDED;
				continue;
			}
			uint64_t b = p_number(p, "a preemption bound (1..16 or none)");
			if (b < 1 || b > PINMM_EXPLORE_MAX_BOUND)
				p_fail(p, &at, "expected a preemption bound in 1..%d or none, got %llu",
				       PINMM_EXPLORE_MAX_BOUND, (unsigned long long)b);
			scn->explore_bound = (unsigned)b;
		}
	} else if (tok_is(&kw, "swap")) {
		if (scn->swap)
			p_fail(p, &kw, "expected one swap line, got a second");
		at = p->tok;
		uint64_t size = p_number(p, "a swap device size");
		if (!size || size % PINMM_PAGE_SIZE || size > PINMM_SCN_MAX_SWAP)
			p_fail(p, &at, "expected a swap device size in 4K..%lluM, a multiple of 4K, got %llu",
			       (unsigned long long)(PINMM_SCN_MAX_SWAP >> 20), (unsigned long long)size);
		scn->swap = size;
	} else if (tok_is(&kw, "hugetlb")) {
		/* the pool, as nr_hugepages at boot: hugetlb pages=N [size=2M] */
		struct token key;
		if (scn->hugetlb_pages)
			p_fail(p, &kw, "expected one hugetlb line, got a second");
		while (!p_at_end(p)) {
			bool eq = p_option(p, &key);
			at = p->tok;
			if (eq && tok_is(&key, "pages")) {
				uint64_t n = p_number(p, "a number of huge pages");
				if (!n || n > PINMM_SCN_MAX_HUGETLB)
					p_fail(p, &at, "expected a number of huge pages in 1..%d, got %llu",
					       PINMM_SCN_MAX_HUGETLB, (unsigned long long)n);
				scn->hugetlb_pages = (unsigned)n;
			} else if (eq && tok_is(&key, "size")) {
				if (p_number(p, "a huge page size") != PINMM_PMD_SIZE)
					p_fail(p, &at, "expected size=2M: the engine has 2 MiB huge pages only");
			} else {
				p_expected(p, &key, "pages= or size=");
			}
		}
		if (!scn->hugetlb_pages)
			p_fail(p, &kw, "expected pages=N on the hugetlb line");
	} else if (tok_is(&kw, "movablecore")) {
		/* a boot parameter: one line, a whole number of 2 MiB blocks */
		if (scn->movablecore)
			p_fail(p, &kw, "expected one movablecore line, got a second");
		at = p->tok;
		uint64_t size = p_number(p, "a movable zone size");
		if (!size || size % (2ull << 20) || size > PINMM_SCN_MAX_MOVABLECORE)
			p_fail(p, &at, "expected a movable zone size in 2M..%lluM, a multiple of 2M, got %llu",
			       (unsigned long long)(PINMM_SCN_MAX_MOVABLECORE >> 20),
			       (unsigned long long)size);
		scn->movablecore = size;
	} else {	/* host skip "why" */
		p_want_word(p, "skip");
		free(scn->host_skip);
		scn->host_skip = p_string(p, "a quoted reason");
	}
	p_want_end(p);
	return true;
}

/* ------------------------------------------------------ shared pins --- */

/*
 * The threads one `run` starts share the interpreter's handle of a pin
 * name: two of them taking or releasing it, or one doing so while another
 * reads through it, race on that handle (frames leaked or a pin released
 * twice, depending on the schedule). Threads of different runs never
 * overlap, and main waits in `run`.
 */
static _Noreturn void pin_clash(struct parser *p, const struct token *at,
				const struct pin_use *u, bool owner)
{
	p_fail(p, at, "expected a pin no other thread of this run %s, got '%.*s' (%s in thread '%s' at %u:%u)",
	       owner ? "takes or releases" : "uses", (int)at->len, at->s,
	       owner ? "taken or released" : "used",
	       p->scn->names[NS_THREAD].v[u->thread], u->line, u->col);
}

void p_pin_used(struct parser *p, int pin, const struct token *at, bool owns)
{
	struct pin_use cur = { .thread = p->thread, .line = at->line, .col = at->col };
	const struct pin_use none = { .thread = -1 };
	struct pin_users *u;

	if (p->thread < 0)
		return;
	if ((unsigned)pin >= p->nr_pin_users) {
		unsigned n = p->scn->names[NS_PIN].nr;
		struct pin_users *v = realloc(p->pin_users, n * sizeof(*v));

		if (!v)
			p_fail(p, at, "out of memory");
		for (unsigned i = p->nr_pin_users; i < n; i++)
			v[i] = (struct pin_users){ .run = p->run, .owner = none,
						   .user = none, .other = none };
		p->pin_users = v;
		p->nr_pin_users = n;
	}
	u = &p->pin_users[pin];
	if (u->run != p->run)
		*u = (struct pin_users){ .run = p->run, .owner = none, .user = none,
					 .other = none };
	if (u->owner.thread >= 0 && u->owner.thread != cur.thread)
		pin_clash(p, at, &u->owner, true);
	if (owns) {
		/* other differs from user: one of them is not this thread */
		if (u->user.thread >= 0 && u->user.thread != cur.thread)
			pin_clash(p, at, &u->user, false);
		if (u->other.thread >= 0)
			pin_clash(p, at, &u->other, false);
		if (u->owner.thread < 0)
			u->owner = cur;
	}
	if (u->user.thread < 0)
		u->user = cur;
	else if (u->user.thread != cur.thread && u->other.thread < 0)
		u->other = cur;
}

int p_use_pin(struct parser *p, bool owns)
{
	struct token at = p->tok;
	int pin = p_use(p, NS_PIN);

	p_pin_used(p, pin, &at, owns);
	return pin;
}

/* ------------------------------------------------------------- blocks --- */

static void p_thread(struct parser *p, struct stmt_list *list)
{
	struct token kw = p->tok;
	struct stmt *st;
	struct scn_thread *t;
	int proc = p->proc;

	if (p->thread >= 0)
		p_fail(p, &kw, "expected 'end' of thread '%s' before another thread",
		       p->scn->names[NS_THREAD].v[p->thread]);
	st = p_new_stmt(p, list, ST_THREAD, &kw);
	p_advance(p);
	st->thread.thread = p_define(p, NS_THREAD, false);
	if (p_is_word(p, "in")) {
		p_advance(p);
		proc = p_use(p, NS_PROC);
	}
	p_want_end(p);
	t = &p->scn->threads[st->thread.thread];
	t->proc = proc;
	t->line = kw.line;
	t->col = kw.col;
	p->thread = st->thread.thread;
	p->proc = proc;
	for (;;) {
		p_advance(p);	/* past the end of the previous line */
		if (p->tok.kind == T_EOL)
			continue;
		if (p->tok.kind == T_EOF) {
			char what[96];

			snprintf(what, sizeof(what), "'end' of thread '%s' (line %u)",
				 p->scn->names[NS_THREAD].v[p->thread], kw.line);
			p_expected(p, &p->tok, what);
		}
		if (p_is_word(p, "end")) {
			p_advance(p);
			p_want_end(p);
			break;
		}
		if (!p_header(p))
			p_statement(p, &t->body);
	}
	p->thread = -1;
	p->proc = 0;
}

static void p_file(struct parser *p)
{
	struct pinmm_scenario *scn = p->scn;
	unsigned pending = 0;	/* threads declared and not yet run */

	for (;;) {
		p_advance(p);
		if (p->tok.kind == T_EOL)
			continue;
		if (p->tok.kind == T_EOF)
			break;
		if (p_header(p))
			continue;
		if (p_is_word(p, "thread")) {
			/* the explorer runs at most this many together, and a
			 * scenario means the same with or without `explore` */
			if (pending == PINMM_EXPLORE_MAX_THREADS)
				p_fail(p, &p->tok, "expected 'run' after at most %d threads, got thread number %d",
				       PINMM_EXPLORE_MAX_THREADS, PINMM_EXPLORE_MAX_THREADS + 1);
			p_thread(p, &scn->body);
			pending++;
		} else if (p_is_word(p, "end")) {
			p_expected(p, &p->tok, "a statement ('end' closes a thread)");
		} else {
			struct stmt *st = p_statement(p, &scn->body);

			if (st->kind == ST_RUN) {
				if (!pending)
					p_fail(p, &(struct token){ .line = st->line, .col = st->col },
					       "expected a thread before 'run', got none to run");
				pending = 0;
				p->run++;
			}
		}
	}
	/* threads are checked under the explorer unless the file says
	 * otherwise: a race that fails in some interleavings is a failure */
	if (!scn->explore_set && scn->names[NS_THREAD].nr)
		scn->explore_bound = 2;
	if (pending) {
		/* the last declared thread names where */
		unsigned t = scn->names[NS_THREAD].nr - 1;
		char what[128];

		snprintf(what, sizeof(what), "'run' for thread '%s' (line %u)",
			 scn->names[NS_THREAD].v[t], scn->threads[t].line);
		p_expected(p, &p->tok, what);
	}
}

int pinmm_scenario_parse(const char *name, const char *text, size_t len,
			 struct pinmm_scenario **out, char *err, size_t errlen)
{
	struct parser *p;
	struct pinmm_scenario *scn;
	int ret = 0;

	*out = NULL;
	scn = calloc(1, sizeof(*scn));
	p = calloc(1, sizeof(*p));
	if (!scn || !p || !(scn->file = strdup(name ? name : "<input>")) ||
	    pm_names_add(&scn->names[NS_PROC], "main", 4) != 0) {
		free(p);
		pinmm_scenario_free(scn);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	lex_init(&p->lx, scn->file, text, len, err, errlen);
	p->scn = scn;
	p->thread = -1;
	p->proc = 0;
	if (setjmp(p->fail) == 0)
		p_file(p);
	else
		ret = -EINVAL;
	free(p->pin_users);
	free(p);
	if (ret) {
		pinmm_scenario_free(scn);
		return ret;
	}
	*out = scn;
	return 0;
}

/* Files larger than this are not scenarios (and would only slow a fuzzer). */
#define SCN_MAX_FILE (1u << 20)

int pinmm_scenario_load(const char *path, struct pinmm_scenario **out,
			char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	int ret;

	*out = NULL;
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: error: cannot open: %s", path, strerror(-ret));
		return ret;
	}
	buf = malloc(SCN_MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, SCN_MAX_FILE + 1, f);
	ret = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!ret && n > SCN_MAX_FILE) {
		snprintf(err, errlen, "%s:1:1: error: expected a scenario of at most 1 MiB, got a larger file",
			 path);
		ret = -EINVAL;
	} else if (ret) {
		snprintf(err, errlen, "%s: error: cannot read: %s", path, strerror(-ret));
	} else {
		ret = pinmm_scenario_parse(path, buf, n, out, err, errlen);
	}
	free(buf);
	return ret;
}

/* ---------------------------------------------------------- accessors --- */

const char *pinmm_scenario_file(const struct pinmm_scenario *scn) { return scn->file; }
const char *pinmm_scenario_title(const struct pinmm_scenario *scn)
{
	return scn->title ? scn->title : "";
}
bool pinmm_scenario_default_policy(const struct pinmm_scenario *scn,
				   struct pinmm_policy *out)
{
	if (scn->has_policy && out)
		*out = scn->policy;
	return scn->has_policy;
}
uint32_t pinmm_scenario_breaks_without(const struct pinmm_scenario *scn)
{
	return scn->breaks_without;
}
static const char *policy_at(const struct scn_policies *l, size_t i,
			     struct pinmm_policy *out)
{
	if (i >= l->nr)
		return NULL;
	if (out)
		*out = l->pol[i];
	return l->text[i];
}
size_t pinmm_scenario_nr_breaks_with(const struct pinmm_scenario *scn)
{
	return scn->breaks_with.nr;
}
const char *pinmm_scenario_breaks_with(const struct pinmm_scenario *scn,
				       size_t i, struct pinmm_policy *out)
{
	return policy_at(&scn->breaks_with, i, out);
}
size_t pinmm_scenario_nr_holds_with(const struct pinmm_scenario *scn)
{
	return scn->holds_with.nr;
}
const char *pinmm_scenario_holds_with(const struct pinmm_scenario *scn,
				      size_t i, struct pinmm_policy *out)
{
	return policy_at(&scn->holds_with, i, out);
}
unsigned pinmm_scenario_explore_bound(const struct pinmm_scenario *scn)
{
	return scn->explore_bound;
}
const char *pinmm_scenario_host_skip(const struct pinmm_scenario *scn)
{
	return scn->host_skip;
}
unsigned pinmm_scenario_nr_threads(const struct pinmm_scenario *scn)
{
	return scn->names[NS_THREAD].nr;
}
