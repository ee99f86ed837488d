/* SPDX-License-Identifier: MIT */
/*
 * parse_expect.c - `expect [not] ...`, `expect error CODE: STATEMENT` and
 * `try STATEMENT`.
 */
#include <stdio.h>
#include <string.h>

#include "parser.h"

void pm_parse_guarded(struct parser *p, struct stmt **slot);

static const char *const expect_words[EX_NR] = {
	[EX_READ] = "read", [EX_DEV_READ] = "dev-read",
	[EX_COHERENT] = "coherent", [EX_MAPPED] = "mapped",
	[EX_SAME_PAGE] = "same-page", [EX_PINNED] = "pinned",
	[EX_HUGE] = "huge", [EX_ORDER] = "order", [EX_SWAPPED] = "swapped",
	[EX_ZONE] = "zone", [EX_INVARIANTS] = "invariants",
};

#define EXPECT_KINDS "read, dev-read, coherent, mapped, same-page, pinned, huge, order, swapped, zone, invariants or error"

/* `== VALUE` ending most expectations */
static void p_eqeq(struct parser *p)
{
	p_want(p, T_EQEQ, "'=='");
}

/* [page=I] [off=O] [len=N], any subset allowed by mask */
enum { OPT_PAGE = 1, OPT_OFF = 2, OPT_LEN = 4 };
static void expect_options(struct parser *p, struct stmt *st, unsigned mask)
{
	struct token key;

	while (p->tok.kind == T_WORD) {
		if (!p_option(p, &key))
			p_expected(p, &key, "page=, off= or len=");
		if ((mask & OPT_PAGE) && tok_is(&key, "page"))
			st->expect.page = (unsigned long)p_number(p, "a page index");
		else if ((mask & OPT_OFF) && tok_is(&key, "off"))
			st->expect.off = p_number(p, "an offset");
		else if ((mask & OPT_LEN) && tok_is(&key, "len"))
			st->expect.len = p_number(p, "a length");
		else
			p_expected(p, &key, mask == OPT_PAGE ? "page= or '=='"
							     : "page=, off=, len= or '=='");
	}
}

static void expect_error(struct parser *p, struct stmt *st)
{
	struct token at = p->tok;

	st->kind = ST_EXPECT_ERROR;
	if (p->tok.kind != T_WORD ||
	    !(st->guard.code = pm_errno_lookup(p->tok.s, p->tok.len)))
		p_expected(p, &at, "an error code (EAGAIN, EBUSY, EFAULT, EACCES, ENOMEM, EINVAL, EPERM, EOPNOTSUPP, ESRCH, EEXIST or EIO)");
	p_advance(p);
	p_want(p, T_COLON, "':' after the error code");
	pm_parse_guarded(p, &st->guard.inner);
}

void pm_parse_expect(struct parser *p, struct stmt *st)
{
	struct token at;
	int k;

	if (p_is_word(p, "error")) {
		p_advance(p);
		expect_error(p, st);
		return;
	}
	if (p_is_word(p, "not")) {
		st->expect.negate = true;
		p_advance(p);
	}
	at = p->tok;
	for (k = 0; k < EX_NR; k++)
		if (p_is_word(p, expect_words[k]))
			break;
	if (k == EX_NR)
		p_expected(p, &at, st->expect.negate
			   ? "an expectation (read, dev-read, coherent, mapped, same-page, pinned, huge, order, swapped or zone)"
			   : "an expectation (" EXPECT_KINDS ")");
	st->expect.kind = (enum expect_kind)k;
	p_advance(p);
	switch (st->expect.kind) {
	case EX_READ:		/* read [ADDR [len=N]] == BYTE */
		st->expect.len = 1;
		if (p->tok.kind != T_EQEQ) {
			st->expect.has_addr = true;
			st->expect.a = p_addr(p);
			expect_options(p, st, OPT_LEN);
		}
		p_eqeq(p);
		st->expect.value = p_byte(p);
		break;
	case EX_DEV_READ:	/* dev-read [PIN [page=I] [off=O] [len=N]] == BYTE */
		st->expect.len = 1;
		if (p->tok.kind != T_EQEQ) {
			st->expect.has_addr = true;
			st->expect.pin = p_use_pin(p, false);
			expect_options(p, st, OPT_PAGE | OPT_OFF | OPT_LEN);
		}
		p_eqeq(p);
		st->expect.value = p_byte(p);
		break;
	case EX_COHERENT:
	case EX_MAPPED:
		st->expect.pin = p_use_pin(p, false);
		break;
	case EX_SAME_PAGE:	/* same-page ADDR1 ADDR2 [in=PROC] */
		st->expect.a = p_addr(p);
		st->expect.b = p_addr(p);
		st->expect.proc_b = -1;
		if (p->tok.kind == T_WORD) {
			struct token key;

			if (!p_option(p, &key) || !tok_is(&key, "in"))
				p_expected(p, &key, "in= or end of line");
			st->expect.proc_b = p_use(p, NS_PROC);
		}
		break;
	case EX_PINNED:		/* pinned PIN [page=I] == N */
		st->expect.pin = p_use_pin(p, false);
		expect_options(p, st, OPT_PAGE);
		p_eqeq(p);
		st->expect.value = (long)p_number(p, "a pin count") & 0x7fffffff;
		break;
	case EX_HUGE:
	case EX_SWAPPED:
		st->expect.a = p_addr(p);
		break;
	case EX_ORDER:
		st->expect.a = p_addr(p);
		p_eqeq(p);
		at = p->tok;
		st->expect.value = (long)p_number(p, "a folio order");
		if (st->expect.value > 20)
			p_fail(p, &at, "expected a folio order in 0..20, got %ld",
			       st->expect.value);
		break;
	case EX_ZONE:		/* zone PIN [page=I] == normal|movable */
		st->expect.pin = p_use_pin(p, false);
		expect_options(p, st, OPT_PAGE);
		p_eqeq(p);
		if (p_is_word(p, "normal"))
			st->expect.value = PINMM_ZONE_NORMAL;
		else if (p_is_word(p, "movable"))
			st->expect.value = PINMM_ZONE_MOVABLE;
		else
			p_expected(p, &p->tok, "'normal' or 'movable'");
		p_advance(p);
		break;
	case EX_INVARIANTS:
		/* the checker needs a quiescent point: no thread of ours runs */
		if (p->thread >= 0)
			p_fail(p, &at, "expected a statement, got 'expect invariants' inside thread '%s' (it needs a quiescent point: put it after 'run')",
			       p->scn->names[NS_THREAD].v[p->thread]);
		if (st->expect.negate)
			p_expected(p, &at, "an expectation other than invariants after 'not'");
		break;
	case EX_NR:
		break;
	}
}

void pm_parse_try(struct parser *p, struct stmt *st)
{
	st->guard.code = 0;
	pm_parse_guarded(p, &st->guard.inner);
}
