#include "route_labels.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

struct route_label {
	char service[ZTG_ROUTE_LABEL_NAME_MAX];
	char route[ZTG_ROUTE_LABEL_NAME_MAX];
};

struct ztg_route_labels {
	uint32_t capacity;
	uint32_t count;                  /* published with release: slots below it are complete */
	uint32_t index_mask;
	uint32_t *index;                 /* open addressing by name hash: a slot, 0 for free; writer only */
	struct route_label slots[];
};

static uint32_t hash_names(const char *service, const char *route)
{
	return (uint32_t)ztg_hash_fnv1a_string(ztg_hash_fnv1a_string(ZTG_HASH_FNV1A_SEED, service), route);
}

static void put(struct route_label *slot, const char *service, const char *route)
{
	/* Policy names are at most 64 characters: longer text here is a caller's bug, cut, never overrun. */
	strncpy(slot->service, service, sizeof(slot->service) - 1);
	strncpy(slot->route, route, sizeof(slot->route) - 1);
}

struct ztg_route_labels *ztg_route_labels_create(uint32_t capacity)
{
	struct ztg_route_labels *l;

	if (capacity < 2 || capacity > (1u << 24))
		return NULL;
	l = calloc(1, sizeof(*l) + (size_t)capacity * sizeof(l->slots[0]));
	if (l == NULL)
		return NULL;
	l->capacity = capacity;
	/* At most half full, so a probe always ends at a free entry. */
	l->index_mask = 1;
	while (l->index_mask + 1 < 2 * capacity)
		l->index_mask = 2 * l->index_mask + 1;
	l->index = calloc((size_t)l->index_mask + 1, sizeof(*l->index));
	if (l->index == NULL) {
		free(l);
		return NULL;
	}
	put(&l->slots[ZTG_ROUTE_LABEL_OTHER], "_other", "_other");
	l->count = 2;
	return l;
}

void ztg_route_labels_free(struct ztg_route_labels *l)
{
	if (l == NULL)
		return;
	free(l->index);
	free(l);
}

uint32_t ztg_route_labels_slot(struct ztg_route_labels *l, const char *service, const char *route)
{
	struct route_label key = {0};
	uint32_t count = l->count, i;

	if (service == NULL || service[0] == '\0')
		return ZTG_ROUTE_LABEL_NONE;
	put(&key, service, route == NULL ? "" : route);
	for (i = hash_names(key.service, key.route) & l->index_mask; l->index[i] != 0; i = (i + 1) & l->index_mask) {
		const struct route_label *have = &l->slots[l->index[i]];

		if (strcmp(have->service, key.service) == 0 && strcmp(have->route, key.route) == 0)
			return l->index[i];
	}
	if (count == l->capacity)
		return ZTG_ROUTE_LABEL_OTHER;
	l->slots[count] = key;
	l->index[i] = count;
	__atomic_store_n(&l->count, count + 1, __ATOMIC_RELEASE);
	return count;
}

uint32_t ztg_route_labels_count(const struct ztg_route_labels *l)
{
	return __atomic_load_n(&l->count, __ATOMIC_ACQUIRE);
}

const char *ztg_route_labels_service(const struct ztg_route_labels *l, uint32_t slot)
{
	return slot < ztg_route_labels_count(l) ? l->slots[slot].service : NULL;
}

const char *ztg_route_labels_route(const struct ztg_route_labels *l, uint32_t slot)
{
	return slot < ztg_route_labels_count(l) ? l->slots[slot].route : NULL;
}

const char *ztg_route_labels_value(const struct ztg_route_labels *l, uint32_t slot, bool route)
{
	const char *name = NULL;

	if (l != NULL)
		name = route ? ztg_route_labels_route(l, slot) : ztg_route_labels_service(l, slot);
	return name != NULL ? name : "";
}
