/*
 * jsonschema_regex_size.c
 *		How many NFA states a compiled regular expression has.
 *
 * PostgreSQL's regex engine allocates, at every match, a DFA state cache
 * of about n * n / 4 bytes for a compacted NFA of n states (two states
 * per set, a bit per state in each: regexec.c's newdfa), and frees it
 * after.  A pattern whose counted repetitions expand to 40,000 states
 * compiles from 4 KB in a fraction of a second, then takes 400 MB at each
 * match of any string.  The compiler refuses such patterns (see
 * compile_pattern), which needs the count of states: it lives in the
 * engine's private "guts", whose layout (regguts.h, installed with the
 * server headers) is the same from PostgreSQL 15 to 18.  Kept in a file
 * of its own because regguts.h defines many short macro names.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "regex/regguts.h"

#include "jsonschema.h"

static int64
subre_states(const struct subre *t)
{
	int64		n = 0;

	check_stack_depth();
	for (; t != NULL; t = t->sibling)
		n += t->cnfa.nstates + subre_states(t->child);
	return n;
}

/*
 * The states of every NFA a match may build a DFA for: the preliminary
 * search, the subexpression tree, the lookaround constraints.  -1 when the
 * compiled form is not one this code knows.
 */
int64
apikit_regex_nfa_states(const regex_t *re)
{
	const struct guts *g = (const struct guts *) re->re_guts;
	int64		n;

	if (re->re_magic != REMAGIC || g == NULL || g->magic != GUTSMAGIC)
		return -1;
	n = g->search.nstates + subre_states(g->tree);
	for (int i = 1; i < g->nlacons; i++)
		n += g->lacons[i].cnfa.nstates;
	return n;
}
