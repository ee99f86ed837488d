/* SPDX-License-Identifier: MIT */
/*
 * The scenario lexer: a pull lexer over the whole file. Statements are
 * lines, so the end of a line is a token (T_EOL); a `\` at the end of a
 * line joins the next one to it and comments run to the end of the line.
 * Numbers are folded here (0x, K/M/G suffixes); `+`/`-` arithmetic is the
 * parser's, since `2M-4K` is three tokens.
 */
#ifndef PM_SCN_LEXER_H
#define PM_SCN_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tok_kind {
	T_EOF, T_EOL, T_WORD, T_NUM, T_STRING, T_RAW,
	T_PLUS, T_MINUS, T_EQ, T_EQEQ, T_COLON, T_COMMA,
};

struct token {
	enum tok_kind kind;
	unsigned line, col;
	const char *s;		/* its text in the source */
	size_t len;
	uint64_t num;		/* T_NUM: value */
	bool num_overflow;	/* T_NUM: value did not fit 64 bits */
};

struct lexer {
	const char *file;
	const char *src, *end, *p;
	unsigned line;
	const char *line_start;
	char *err;		/* set on a lexical error */
	size_t errlen;
	bool failed;
};

void lex_init(struct lexer *lx, const char *file, const char *src, size_t len,
	      char *err, size_t errlen);
/* The next token; false (with lx->err set) on a lexical error. */
bool lex_next(struct lexer *lx, struct token *t);
/* The next maximal run of characters that are neither blank nor `#`, as
 * T_RAW (policy texts), or T_EOL/T_EOF. */
bool lex_raw(struct lexer *lx, struct token *t);
/* How a token reads in "got ..." of a message. */
void tok_describe(const struct token *t, char *buf, size_t len);

#endif
