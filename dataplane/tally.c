#include "tally.h"

#include <stdlib.h>
#include <string.h>

/* Slots looked at before a count goes to overflow: keeps the worst case of one add short. */
#define PROBE_LIMIT 32

static const char *const verdict_names[] = {
#define ZTG_TALLY_VERDICT_NAME(sym, name) [ZTG_TALLY_##sym] = name,
	ZTG_TALLY_VERDICTS(ZTG_TALLY_VERDICT_NAME)
#undef ZTG_TALLY_VERDICT_NAME
};

const char *ztg_tally_verdict_name(enum ztg_tally_verdict verdict)
{
	return (unsigned int)verdict < ZTG_TALLY_VERDICT_COUNT ? verdict_names[verdict] : "unknown";
}

size_t ztg_tally_size(uint32_t capacity)
{
	return sizeof(struct ztg_tally) + (size_t)capacity * sizeof(struct ztg_tally_entry);
}

struct ztg_tally *ztg_tally_init(void *mem, uint32_t capacity)
{
	struct ztg_tally *t = mem;

	memset(t, 0, ztg_tally_size(capacity));
	t->mask = capacity - 1;
	return t;
}

static inline uint32_t slot_of(uint64_t tag, const char *name)
{
	uint64_t h = (tag ^ (uint64_t)(uintptr_t)name) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32);
}

void ztg_tally_add(struct ztg_tally *t, uint64_t tag, const char *name, uint64_t n)
{
	uint32_t i = slot_of(tag, name);

	for (unsigned int probe = 0; probe < PROBE_LIMIT; probe++, i++) {
		struct ztg_tally_entry *e = &t->entries[i & t->mask];
		uint64_t have = e->tag;    /* the only writer: a plain read sees its own stores */

		if (have == tag && e->name == name) {
			__atomic_store_n(&e->count, e->count + n, __ATOMIC_RELAXED);
			return;
		}
		if (have == 0) {
			e->name = name;
			e->count = n;
			__atomic_store_n(&e->tag, tag, __ATOMIC_RELEASE);
			return;
		}
	}
	__atomic_store_n(&t->overflow, t->overflow + n, __ATOMIC_RELAXED);
}

static int compare_rows(const void *a, const void *b)
{
	const struct ztg_tally_row *x = a, *y = b;

	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	if (x->name == NULL || y->name == NULL)
		return (x->name != NULL) - (y->name != NULL);
	return strcmp(x->name, y->name);
}

long ztg_tally_collect(const struct ztg_tally *const *tables, unsigned int count, enum ztg_tally_kind kind,
		       struct ztg_tally_row **rows, uint64_t *overflow)
{
	struct ztg_tally_row *out = NULL;
	size_t used = 0, cap = 0, merged = 0;
	uint64_t lost = 0;

	for (unsigned int w = 0; w < count; w++) {
		const struct ztg_tally *t = tables[w];

		if (t == NULL)
			continue;
		lost += __atomic_load_n(&t->overflow, __ATOMIC_RELAXED);
		for (uint32_t i = 0; i <= t->mask; i++) {
			const struct ztg_tally_entry *e = &t->entries[i];
			uint64_t tag = __atomic_load_n(&e->tag, __ATOMIC_ACQUIRE);

			if (tag == 0 || (kind != 0 && ztg_tally_tag_kind(tag) != kind))
				continue;
			if (used == cap) {
				size_t next = cap ? 2 * cap : 256;
				struct ztg_tally_row *grown = realloc(out, next * sizeof(*out));

				if (grown == NULL) {
					free(out);
					*rows = NULL;
					return -1;
				}
				out = grown;
				cap = next;
			}
			out[used++] = (struct ztg_tally_row){
				.tag = tag,
				.name = e->name,
				.count = __atomic_load_n(&e->count, __ATOMIC_RELAXED),
			};
		}
	}
	if (used > 1)
		qsort(out, used, sizeof(*out), compare_rows);
	for (size_t i = 0; i < used; i++) {
		if (merged > 0 && compare_rows(&out[merged - 1], &out[i]) == 0)
			out[merged - 1].count += out[i].count;
		else
			out[merged++] = out[i];
	}
	if (merged == 0) {
		free(out);
		out = NULL;
	}
	*rows = out;
	if (overflow != NULL)
		*overflow = lost;
	return (long)merged;
}
