/*
 * Arena: the memory a loaded model lives in (a policy, a rule set): a few
 * large zeroed blocks holding every string and array the model points to,
 * so the model is plain pointers and one call frees it all, missing nothing.
 *
 * Filled by one loader at a time (no locking); a block is never shrunk or
 * moved, so a pointer handed out stays valid until ztg_arena_free().
 */
#ifndef ZTG_ARENA_H
#define ZTG_ARENA_H

#include <stddef.h>

struct ztg_arena;

/*
 * count * size bytes, zeroed, aligned for any type, from *arena (a new
 * block is chained in when the current one is full; *arena NULL starts
 * one). NULL when count or size is 0, or when memory runs out (an overflow
 * of count * size included).
 */
void *ztg_arena_alloc(struct ztg_arena **arena, size_t count, size_t size);

/* Frees every block. NULL is a no-op. */
void ztg_arena_free(struct ztg_arena *arena);

#endif
