#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

struct ztg_arena {
	struct ztg_arena *next;
	size_t size;
	size_t used;
	max_align_t data[];
};

#define ARENA_BLOCK_BYTES (64u * 1024u)

void *ztg_arena_alloc(struct ztg_arena **arena, size_t count, size_t size)
{
	struct ztg_arena *b = *arena;
	const size_t align = sizeof(max_align_t);
	size_t bytes;
	void *p;

	if (count == 0 || size == 0 || count > (SIZE_MAX - align) / size)
		return NULL;
	bytes = (count * size + align - 1) / align * align;
	if (b == NULL || b->size - b->used < bytes) {
		size_t cap = bytes > ARENA_BLOCK_BYTES ? bytes : ARENA_BLOCK_BYTES;
		struct ztg_arena *nb = calloc(1, sizeof(*nb) + cap);

		if (nb == NULL)
			return NULL;
		nb->size = cap;
		/* A block made for one large array goes behind the current one, which keeps its free space. */
		if (b != NULL && bytes > ARENA_BLOCK_BYTES / 4) {
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			*arena = nb;
		}
		b = nb;
	}
	p = (char *)b->data + b->used;
	b->used += bytes;
	return p;
}

void ztg_arena_free(struct ztg_arena *arena)
{
	struct ztg_arena *next;

	for (; arena != NULL; arena = next) {
		next = arena->next;
		free(arena);
	}
}
