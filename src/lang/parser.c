/* SPDX-License-Identifier: MIT */
/*
 * parser.c - a .pin file's structure: header lines, statements, `thread ...
 * end` blocks, and the helpers every statement parser uses (numbers,
 * addresses, names, options, errors). docs/scenario.md is the grammar.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

/* ------------------------------------------------------------ errors --- */

_Noreturn void p_fail(struct parser *p, const struct token *t,
		      const char *fmt, ...)
{
	char *err = p->lx.err;
	size_t n, len = p->lx.errlen;
	va_list ap;

	if (err && len) {
		n = (size_t)snprintf(err, len, "%s:%u:%u: error: ", p->lx.file,
				     t->line, t->col);
		if (n < len) {
			va_start(ap, fmt);
			vsnprintf(err + n, len - n, fmt, ap);
			va_end(ap);
		}
	}
	longjmp(p->fail, 1);
}

_Noreturn void p_expected(struct parser *p, const struct token *t,
			  const char *what)
{
	char got[96];

	tok_describe(t, got, sizeof(got));
	p_fail(p, t, "expected %s, got %s", what, got);
}

/* ------------------------------------------------------------ tokens --- */

void p_advance(struct parser *p)
{
	if (!lex_next(&p->lx, &p->tok))
		longjmp(p->fail, 1);	/* the lexer wrote the message */
}

bool tok_is(const struct token *t, const char *w)
{
	return t->kind == T_WORD && strlen(w) == t->len &&
	       memcmp(t->s, w, t->len) == 0;
}

bool p_is_word(const struct parser *p, const char *w)
{
	return tok_is(&p->tok, w);
}

void p_want_word(struct parser *p, const char *w)
{
	char what[64];

	if (!p_is_word(p, w)) {
		snprintf(what, sizeof(what), "'%s'", w);
		p_expected(p, &p->tok, what);
	}
	p_advance(p);
}

void p_want(struct parser *p, enum tok_kind k, const char *what)
{
	if (p->tok.kind != k)
		p_expected(p, &p->tok, what);
	p_advance(p);
}

bool p_at_end(const struct parser *p)
{
	return p->tok.kind == T_EOL || p->tok.kind == T_EOF;
}

void p_want_end(struct parser *p)
{
	if (!p_at_end(p))
		p_expected(p, &p->tok, "end of line");
}

/* ----------------------------------------------------------- numbers --- */

static uint64_t p_term(struct parser *p, const char *what)
{
	uint64_t v;

	if (p->tok.kind != T_NUM)
		p_expected(p, &p->tok, what);
	if (p->tok.num_overflow)
		p_fail(p, &p->tok, "expected %s that fits in 64 bits, got '%.*s'",
		       what, (int)p->tok.len, p->tok.s);
	v = p->tok.num;
	p_advance(p);
	return v;
}

/* NUM {(+|-) NUM}, also after an address's region (sign given). */
static int64_t p_sum(struct parser *p, const char *what, int64_t acc)
{
	while (p->tok.kind == T_PLUS || p->tok.kind == T_MINUS) {
		bool minus = p->tok.kind == T_MINUS;
		struct token at = p->tok;
		uint64_t v;

		p_advance(p);
		v = p_term(p, what);
		if (v > INT64_MAX ||
		    (minus ? __builtin_sub_overflow(acc, (int64_t)v, &acc)
			   : __builtin_add_overflow(acc, (int64_t)v, &acc)))
			p_fail(p, &at, "expected %s that fits in 63 bits", what);
	}
	return acc;
}

uint64_t p_number(struct parser *p, const char *what)
{
	struct token at = p->tok;
	uint64_t first = p_term(p, what);
	int64_t v;

	if (p->tok.kind != T_PLUS && p->tok.kind != T_MINUS)
		return first;
	if (first > INT64_MAX)
		p_fail(p, &at, "expected %s that fits in 63 bits", what);
	v = p_sum(p, what, (int64_t)first);
	if (v < 0)
		p_fail(p, &at, "expected %s that is not negative, got %lld", what,
		       (long long)v);
	return (uint64_t)v;
}

uint8_t p_byte(struct parser *p)
{
	struct token at = p->tok;
	uint64_t v = p_number(p, "a byte value");

	if (v > 255)
		p_fail(p, &at, "expected a byte value (0..255), got %llu",
		       (unsigned long long)v);
	return (uint8_t)v;
}

struct scn_addr p_addr(struct parser *p)
{
	struct scn_addr a;

	if (p->tok.kind != T_WORD)
		p_expected(p, &p->tok, "an address (REGION or REGION+OFFSET)");
	a.region = p_use(p, NS_REGION);
	a.off = p_sum(p, "an offset", 0);
	return a;
}

/* ------------------------------------------------------------- names --- */

int pm_names_find(const struct scn_names *n, const char *name, size_t len)
{
	for (unsigned i = 0; i < n->nr; i++)
		if (strlen(n->v[i]) == len && memcmp(n->v[i], name, len) == 0)
			return (int)i;
	return -1;
}

int pm_names_add(struct scn_names *n, const char *name, size_t len)
{
	if (n->nr == n->cap) {
		unsigned cap = n->cap ? 2 * n->cap : 8;
		char **v = realloc(n->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		n->v = v;
		n->cap = cap;
	}
	n->v[n->nr] = strndup(name, len);
	if (!n->v[n->nr])
		return -ENOMEM;
	return (int)n->nr++;
}

static const char *const ns_what[NS_NR] = {
	[NS_REGION] = "region", [NS_PIN] = "pin", [NS_PROC] = "process",
	[NS_FILE] = "file", [NS_THREAD] = "thread",
};

int p_use(struct parser *p, enum scn_ns ns)
{
	char what[64];
	int i;

	if (p->tok.kind != T_WORD) {
		snprintf(what, sizeof(what), "a %s name", ns_what[ns]);
		p_expected(p, &p->tok, what);
	}
	i = pm_names_find(&p->scn->names[ns], p->tok.s, p->tok.len);
	if (i < 0) {
		snprintf(what, sizeof(what), "a %s defined before", ns_what[ns]);
		p_fail(p, &p->tok, "expected %s, got undefined %s '%.*s'", what,
		       ns_what[ns], (int)p->tok.len, p->tok.s);
	}
	p_advance(p);
	return i;
}

static bool valid_name(const struct token *t)
{
	if (t->kind != T_WORD || !(t->s[0] == '_' || (t->s[0] >= 'a' && t->s[0] <= 'z')))
		return false;
	for (size_t i = 1; i < t->len; i++) {
		char c = t->s[i];

		if (!(c == '_' || c == '-' || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

int p_define(struct parser *p, enum scn_ns ns, bool redefinable)
{
	struct scn_names *n = &p->scn->names[ns];
	char what[96];
	int i;

	if (!valid_name(&p->tok) || p_is_statement_word(&p->tok)) {
		snprintf(what, sizeof(what), "a new %s name ([a-z_][a-z0-9_-]*, not a keyword)",
			 ns_what[ns]);
		p_expected(p, &p->tok, what);
	}
	i = pm_names_find(n, p->tok.s, p->tok.len);
	if (i >= 0 && !redefinable)
		p_fail(p, &p->tok, "expected a new %s name, got '%.*s' (already defined)",
		       ns_what[ns], (int)p->tok.len, p->tok.s);
	if (i < 0) {
		i = pm_names_add(n, p->tok.s, p->tok.len);
		if (i < 0)
			p_fail(p, &p->tok, "out of memory");
		if (ns == NS_PIN) {
			unsigned *m = realloc(p->scn->pin_max_pages,
					      n->cap * sizeof(*m));
			if (!m)
				p_fail(p, &p->tok, "out of memory");
			m[i] = 0;
			p->scn->pin_max_pages = m;
		} else if (ns == NS_THREAD) {
			struct scn_thread *t = realloc(p->scn->threads,
						       n->cap * sizeof(*t));
			if (!t)
				p_fail(p, &p->tok, "out of memory");
			memset(&t[i], 0, sizeof(t[i]));
			p->scn->threads = t;
		}
	}
	p_advance(p);
	return i;
}

bool p_option(struct parser *p, struct token *key)
{
	if (p->tok.kind != T_WORD)
		p_expected(p, &p->tok, "an option or end of line");
	*key = p->tok;
	p_advance(p);
	if (p->tok.kind != T_EQ)
		return false;
	p_advance(p);
	return true;
}

/* ------------------------------------------------------- allocation --- */

void *p_alloc(struct parser *p, size_t size)
{
	void *m = calloc(1, size);

	if (!m)
		p_fail(p, &p->tok, "out of memory");
	return m;
}

struct stmt *p_new_stmt(struct parser *p, struct stmt_list *list,
			enum stmt_kind kind, const struct token *t)
{
	struct stmt *st;

	if (list && list->nr == list->cap) {
		unsigned cap = list->cap ? 2 * list->cap : 16;
		struct stmt **v = realloc(list->v, cap * sizeof(*v));

		if (!v)
			p_fail(p, t, "out of memory");
		list->v = v;
		list->cap = cap;
	}
	st = p_alloc(p, sizeof(*st));
	if (list)
		list->v[list->nr++] = st;
	st->kind = kind;
	st->line = t->line;
	st->col = t->col;
	st->proc = p->proc;
	return st;
}

void pm_stmt_free(struct stmt *st)
{
	if (!st)
		return;
	if (st->kind == ST_EXPECT_ERROR || st->kind == ST_TRY)
		pm_stmt_free(st->guard.inner);
	free(st->text);
	free(st);
}

static void list_free(struct stmt_list *l)
{
	for (unsigned i = 0; i < l->nr; i++)
		pm_stmt_free(l->v[i]);
	free(l->v);
}

void pinmm_scenario_free(struct pinmm_scenario *scn)
{
	if (!scn)
		return;
	list_free(&scn->body);
	for (unsigned i = 0; scn->threads && i < scn->names[NS_THREAD].nr; i++)
		list_free(&scn->threads[i].body);
	free(scn->threads);
	for (int ns = 0; ns < NS_NR; ns++) {
		for (unsigned i = 0; i < scn->names[ns].nr; i++)
			free(scn->names[ns].v[i]);
		free(scn->names[ns].v);
	}
	for (int k = 0; k < 2; k++) {
		struct scn_policies *l = k ? &scn->holds_with : &scn->breaks_with;

		for (unsigned i = 0; i < l->nr; i++)
			free(l->text[i]);
		free(l->text);
		free(l->pol);
	}
	free(scn->pin_max_pages);
	free(scn->file);
	free(scn->title);
	free(scn->host_skip);
	free(scn);
}

/* ------------------------------------------------------------ errnos --- */

static const struct { const char *name; int err; } errnos[] = {
	{ "EAGAIN", EAGAIN }, { "EBUSY", EBUSY }, { "EFAULT", EFAULT },
	{ "EACCES", EACCES }, { "ENOMEM", ENOMEM }, { "EINVAL", EINVAL },
	{ "EPERM", EPERM }, { "EOPNOTSUPP", EOPNOTSUPP }, { "ESRCH", ESRCH },
	{ "EEXIST", EEXIST }, { "EIO", EIO },
};

const char *pm_errno_name(int err)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].err == err)
			return errnos[i].name;
	return NULL;
}

int pm_errno_lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (strlen(errnos[i].name) == len &&
		    memcmp(errnos[i].name, name, len) == 0)
			return errnos[i].err;
	return 0;
}
