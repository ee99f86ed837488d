/* SPDX-License-Identifier: MIT */
/*
 * The parser's state and helpers, shared by parser.c (file structure,
 * header, threads, names) and parse_stmt.c (one function per statement).
 *
 * Errors longjmp back to pinmm_scenario_parse(): every allocation is linked
 * into the scenario before it can fail, so freeing the scenario frees all.
 */
#ifndef PM_SCN_PARSER_H
#define PM_SCN_PARSER_H

#include <setjmp.h>

#include "ast.h"
#include "lexer.h"

struct parser {
	struct lexer lx;
	struct token tok;		/* the current token */
	struct pinmm_scenario *scn;
	int thread;			/* inside `thread ... end`, else -1 */
	int proc;			/* default process of a statement */
	jmp_buf fail;
};

/* "FILE:LINE:COL: error: expected WHAT, got <the token at t>" and out. */
_Noreturn void p_expected(struct parser *p, const struct token *t,
			  const char *what);
/* Any other message at t. */
_Noreturn __attribute__((format(printf, 3, 4)))
void p_fail(struct parser *p, const struct token *t, const char *fmt, ...);

void p_advance(struct parser *p);
bool p_is_word(const struct parser *p, const char *w);
/* Expect the word w and move past it. */
void p_want_word(struct parser *p, const char *w);
void p_want(struct parser *p, enum tok_kind k, const char *what);
/* Statement end: end of line or of file. */
bool p_at_end(const struct parser *p);
void p_want_end(struct parser *p);

/* NUM {(+|-) NUM}, folded; what names the value in messages. */
uint64_t p_number(struct parser *p, const char *what);
uint8_t p_byte(struct parser *p);
/* REGION [(+|-) expr], REGION defined before. */
struct scn_addr p_addr(struct parser *p);
/* A name being used: must exist in ns. */
int p_use(struct parser *p, enum scn_ns ns);
/* A name being defined: must be new unless redefinable. */
int p_define(struct parser *p, enum scn_ns ns, bool redefinable);

/* An option `KEY[=VALUE]`: the key word is the current token; true when an
 * `=` follows (then the current token is the value). */
bool p_option(struct parser *p, struct token *key);
bool tok_is(const struct token *t, const char *w);

void *p_alloc(struct parser *p, size_t size);
/* A statement at token t, linked into list before it is filled. */
struct stmt *p_new_stmt(struct parser *p, struct stmt_list *list,
			enum stmt_kind kind, const struct token *t);

/* parse_stmt.c: one statement, the current token is its first word; it
 * ends at the end of its line (not consumed). allow_guard: `expect error`,
 * `try` and `in` are allowed (not inside another guard). */
struct stmt *p_statement(struct parser *p, struct stmt_list *list);
/* The keyword table: is this word a statement keyword? */
bool p_is_statement_word(const struct token *t);

#endif
