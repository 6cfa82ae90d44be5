#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/revocation.h"
#include "../../control/atomic_file.h"
#include "../../control/error_text.h"
#include "events.h"
#include "hash.h"

#define MIN_SLOTS 16
#define SYNTAX    "jti <value>, sub <issuer> <subject> or key <api key id>"

static const char *const kind_names[ZTG_REVOKE_KIND_COUNT] = {
	[ZTG_REVOKE_JTI] = "jti",
	[ZTG_REVOKE_SUBJECT] = "sub",
	[ZTG_REVOKE_API_KEY] = "key",
};

const char *ztg_revocation_kind_name(enum ztg_revocation_kind kind)
{
	if ((unsigned)kind >= ZTG_REVOKE_KIND_COUNT)
		return "?";
	return kind_names[kind];
}

static int kind_of(const char *name, size_t len, enum ztg_revocation_kind *out)
{
	for (unsigned k = 0; k < ZTG_REVOKE_KIND_COUNT; k++) {
		if (strlen(kind_names[k]) == len && memcmp(kind_names[k], name, len) == 0) {
			*out = (enum ztg_revocation_kind)k;
			return 0;
		}
	}
	return -1;
}

int ztg_revocation_kind_from_name(const char *name, enum ztg_revocation_kind *out)
{
	return name != NULL ? kind_of(name, strlen(name), out) : -1;
}

/*
 * FNV-1a over the kind, the issuer's length and bytes, and the value's, then
 * a 64-bit finalizer so that the low bits the tables index by depend on every
 * byte. The lengths keep ("ab", "c") apart from ("a", "bc"). Not keyed: only
 * the operator puts entries in, so nobody can build a list that clusters.
 */
static uint64_t entry_hash(enum ztg_revocation_kind kind, const char *issuer, size_t issuer_len, const char *value,
			   size_t value_len)
{
	const uint64_t prime = 0x100000001b3ull;
	uint64_t h = ZTG_HASH_FNV1A_SEED;

	h = (h ^ (uint64_t)kind) * prime;
	h = ztg_hash_fnv1a((h ^ (uint64_t)issuer_len) * prime, issuer, issuer_len);
	h = ztg_hash_fnv1a((h ^ (uint64_t)value_len) * prime, value, value_len);
	return ztg_hash_fmix64(h);
}

/*
 * text[0..len) as what names it: 1..ZTG_REVOCATION_VALUE_MAX bytes of
 * printable ASCII without spaces, so the text form stays one entry per line
 * of space-separated fields and logs can carry it as is. 0, or -1 with why.
 */
static int check_text(const char *what, const char *text, size_t len, char *why, size_t why_len)
{
	if (len == 0)
		return ztg_error_set(why, why_len, "%s is empty", what), -1;
	if (len > ZTG_REVOCATION_VALUE_MAX)
		return ztg_error_set(why, why_len, "%s is %zu bytes, at most %u", what, len, ZTG_REVOCATION_VALUE_MAX), -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c <= 0x20 || c >= 0x7f)
			return ztg_error_set(why, why_len, "%s holds byte 0x%02x at %zu: only printable ASCII without spaces",
				    what, c, i), -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ list */

struct entry {
	uint64_t hash;
	uint8_t kind;
	uint8_t issuer_len;             /* 0 unless SUBJECT */
	uint8_t value_len;
	char text[];                    /* the issuer, NUL, the value, NUL: printable as C strings */
};

_Static_assert(ZTG_REVOCATION_VALUE_MAX <= UINT8_MAX, "lengths are kept in 8 bits");

static inline const char *entry_value(const struct entry *e)
{
	return e->text + e->issuer_len + 1;
}

struct ztg_revocation_list {
	struct entry **entries;         /* in the order they were added: the order they print in */
	uint32_t count;
	uint32_t capacity;
	/* Open addressing over entries, for duplicates: entry number + 1, 0 empty; at most half full. */
	uint32_t *index;
	uint32_t index_mask;
};

struct ztg_revocation_list *ztg_revocation_list_create(void)
{
	struct ztg_revocation_list *list = calloc(1, sizeof(*list));

	if (list == NULL)
		return NULL;
	list->index = calloc(MIN_SLOTS, sizeof(*list->index));
	if (list->index == NULL) {
		free(list);
		return NULL;
	}
	list->index_mask = MIN_SLOTS - 1;
	return list;
}

void ztg_revocation_list_free(struct ztg_revocation_list *list)
{
	if (list == NULL)
		return;
	for (uint32_t i = 0; i < list->count; i++)
		free(list->entries[i]);
	free(list->entries);
	free(list->index);
	free(list);
}

uint32_t ztg_revocation_list_count(const struct ztg_revocation_list *list)
{
	return list->count;
}

static bool entry_is(const struct entry *e, uint64_t hash, enum ztg_revocation_kind kind, const char *issuer,
		     size_t issuer_len, const char *value, size_t value_len)
{
	return e->hash == hash && e->kind == kind && e->issuer_len == issuer_len && e->value_len == value_len &&
	       memcmp(e->text, issuer, issuer_len) == 0 && memcmp(entry_value(e), value, value_len) == 0;
}

/* The index slot holding the entry, or the empty one where it would go. */
static uint32_t *index_slot(const struct ztg_revocation_list *list, uint64_t hash, enum ztg_revocation_kind kind,
			    const char *issuer, size_t issuer_len, const char *value, size_t value_len)
{
	uint32_t pos = (uint32_t)hash & list->index_mask;

	while (list->index[pos] != 0 &&
	       !entry_is(list->entries[list->index[pos] - 1], hash, kind, issuer, issuer_len, value, value_len))
		pos = (pos + 1) & list->index_mask;
	return &list->index[pos];
}

static void index_fill(struct ztg_revocation_list *list)
{
	memset(list->index, 0, ((size_t)list->index_mask + 1) * sizeof(*list->index));
	for (uint32_t i = 0; i < list->count; i++) {
		uint32_t pos = (uint32_t)list->entries[i]->hash & list->index_mask;

		while (list->index[pos] != 0)
			pos = (pos + 1) & list->index_mask;
		list->index[pos] = i + 1;
	}
}

/* Room for one more entry in the array and in the index. 0, or -1 out of memory. */
static int reserve(struct ztg_revocation_list *list)
{
	if (list->count == list->capacity) {
		uint32_t capacity = list->capacity ? 2 * list->capacity : 64;
		struct entry **entries;

		if (capacity > ZTG_REVOCATION_MAX_ENTRIES)
			capacity = ZTG_REVOCATION_MAX_ENTRIES;
		entries = realloc(list->entries, capacity * sizeof(*entries));
		if (entries == NULL)
			return -1;
		list->entries = entries;
		list->capacity = capacity;
	}
	if (2 * ((size_t)list->count + 1) > (size_t)list->index_mask + 1) {
		uint32_t slots = 2 * (list->index_mask + 1);
		uint32_t *index = calloc(slots, sizeof(*index));

		if (index == NULL)
			return -1;
		free(list->index);
		list->index = index;
		list->index_mask = slots - 1;
		index_fill(list);
	}
	return 0;
}

/* Add an entry whose texts were checked. 1, 0 when already there, -1 with why. */
static int insert(struct ztg_revocation_list *list, enum ztg_revocation_kind kind, const char *issuer,
		  size_t issuer_len, const char *value, size_t value_len, char *why, size_t why_len)
{
	uint64_t hash = entry_hash(kind, issuer, issuer_len, value, value_len);
	struct entry *e;
	uint32_t *slot;

	if (*index_slot(list, hash, kind, issuer, issuer_len, value, value_len) != 0)
		return 0;
	if (list->count >= ZTG_REVOCATION_MAX_ENTRIES)
		return ztg_error_set(why, why_len, "the list is full: %u entries", ZTG_REVOCATION_MAX_ENTRIES), -1;
	if (reserve(list) != 0)
		return ztg_error_set(why, why_len, "out of memory at %u entries", list->count), -1;
	e = malloc(sizeof(*e) + issuer_len + value_len + 2);
	if (e == NULL)
		return ztg_error_set(why, why_len, "out of memory at %u entries", list->count), -1;
	e->hash = hash;
	e->kind = (uint8_t)kind;
	e->issuer_len = (uint8_t)issuer_len;
	e->value_len = (uint8_t)value_len;
	memcpy(e->text, issuer, issuer_len);
	e->text[issuer_len] = '\0';
	memcpy(e->text + issuer_len + 1, value, value_len);
	e->text[issuer_len + 1 + value_len] = '\0';
	/* reserve() may have rebuilt the index: the slot is looked up again. */
	slot = index_slot(list, hash, kind, issuer, issuer_len, value, value_len);
	list->entries[list->count++] = e;
	*slot = list->count;
	return 1;
}

/* The issuer and value checks add and remove share; issuer_len is 0 for a kind without one. 0, or -1 with why. */
static int check_entry(enum ztg_revocation_kind kind, const char *issuer, const char *value, size_t *issuer_len,
		       char *why, size_t why_len)
{
	if ((unsigned)kind >= ZTG_REVOKE_KIND_COUNT)
		return ztg_error_set(why, why_len, "unknown revocation kind %d", (int)kind), -1;
	if (kind == ZTG_REVOKE_SUBJECT && issuer == NULL)
		return ztg_error_set(why, why_len, "sub needs an issuer"), -1;
	if (kind != ZTG_REVOKE_SUBJECT && issuer != NULL)
		return ztg_error_set(why, why_len, "%s takes no issuer", kind_names[kind]), -1;
	if (value == NULL)
		return ztg_error_set(why, why_len, "%s without a value", kind_names[kind]), -1;
	*issuer_len = issuer != NULL ? strlen(issuer) : 0;
	if (issuer != NULL && check_text("issuer", issuer, *issuer_len, why, why_len) != 0)
		return -1;
	return check_text("value", value, strlen(value), why, why_len);
}

int ztg_revocation_list_add(struct ztg_revocation_list *list, enum ztg_revocation_kind kind, const char *issuer,
			    const char *value, char *err, size_t err_len)
{
	size_t issuer_len;

	if (check_entry(kind, issuer, value, &issuer_len, err, err_len) != 0)
		return -1;
	return insert(list, kind, issuer != NULL ? issuer : "", issuer_len, value, strlen(value), err, err_len);
}

int ztg_revocation_list_remove(struct ztg_revocation_list *list, enum ztg_revocation_kind kind, const char *issuer,
			       const char *value)
{
	size_t issuer_len, value_len;
	uint32_t at;

	if (check_entry(kind, issuer, value, &issuer_len, NULL, 0) != 0)
		return 0;
	if (issuer == NULL)
		issuer = "";
	value_len = strlen(value);
	at = *index_slot(list, entry_hash(kind, issuer, issuer_len, value, value_len), kind, issuer, issuer_len,
			 value, value_len);
	if (at-- == 0)
		return 0;
	/* Removal is an operator's command, rare next to lookups: keeping the order costs a shift and a reindex. */
	free(list->entries[at]);
	memmove(&list->entries[at], &list->entries[at + 1], (list->count - at - 1) * sizeof(*list->entries));
	list->count--;
	index_fill(list);
	return 1;
}

/* --------------------------------------------------------- text form */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* s as a short printable quote for a message: at most 32 bytes, other than printable ASCII shown as '?'. */
static const char *show(const char *s, size_t len, char out[40])
{
	size_t i;

	for (i = 0; i < len && i < 32; i++)
		out[i] = (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	if (i < len) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

/* One line (without its newline) into list. 0, or -1 with why. */
static int parse_line(struct ztg_revocation_list *list, const char *line, size_t len, char *why, size_t why_len)
{
	const char *field[3];
	size_t field_len[3], n = 0, want, issuer_len = 0;
	enum ztg_revocation_kind kind;
	const char *issuer = "";
	char shown[40];

	/* Fields split at spaces and tabs; n counts them all, only the first three are kept. */
	for (size_t i = 0; i < len;) {
		size_t start;

		while (i < len && is_blank(line[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !is_blank(line[i]))
			i++;
		if (n < 3) {
			field[n] = line + start;
			field_len[n] = i - start;
		}
		n++;
	}
	if (n == 0 || field[0][0] == '#')
		return 0;
	if (kind_of(field[0], field_len[0], &kind) != 0)
		return ztg_error_set(why, why_len, "unknown kind \"%s\": %s", show(field[0], field_len[0], shown), SYNTAX), -1;
	want = kind == ZTG_REVOKE_SUBJECT ? 3 : 2;
	if (kind == ZTG_REVOKE_SUBJECT && n < want)
		return ztg_error_set(why, why_len, "sub needs an issuer and a subject: sub <issuer> <subject>"), -1;
	if (n < want)
		return ztg_error_set(why, why_len, "%s without a value", kind_names[kind]), -1;
	if (n > want)
		return ztg_error_set(why, why_len, "unexpected text after the value: %s", SYNTAX), -1;
	if (kind == ZTG_REVOKE_SUBJECT) {
		issuer = field[1];
		issuer_len = field_len[1];
		if (check_text("issuer", issuer, issuer_len, why, why_len) != 0)
			return -1;
	}
	if (check_text("value", field[want - 1], field_len[want - 1], why, why_len) != 0)
		return -1;
	/* A line repeating an earlier one is harmless: it is kept once. */
	return insert(list, kind, issuer, issuer_len, field[want - 1], field_len[want - 1], why, why_len) < 0 ? -1 : 0;
}

int ztg_revocation_list_load(struct ztg_revocation_list *list, const char *path, char *err, size_t err_len)
{
	struct ztg_revocation_list *fresh, swap;
	char *line = NULL, why[256];
	size_t cap = 0;
	unsigned int lineno = 0;
	ssize_t n;
	FILE *f;
	int rc = 0;

	f = fopen(path, "re");
	if (f == NULL && errno != ENOENT)
		return ztg_error_set(err, err_len, "%s: %s", path, strerror(errno)), -1;
	fresh = ztg_revocation_list_create();
	if (fresh == NULL) {
		if (f != NULL)
			fclose(f);
		return ztg_error_set(err, err_len, "%s: out of memory", path), -1;
	}
	while (f != NULL && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (parse_line(fresh, line, (size_t)n, why, sizeof(why)) != 0) {
			rc = (ztg_error_set(err, err_len, "%s:%u: %s", path, lineno, why), -1);
			break;
		}
	}
	if (f != NULL) {
		if (rc == 0 && ferror(f))
			rc = (ztg_error_set(err, err_len, "%s: %s", path, strerror(errno)), -1);
		fclose(f);
	}
	free(line);
	if (rc == 0) {
		swap = *list;
		*list = *fresh;
		*fresh = swap;
	}
	ztg_revocation_list_free(fresh);
	return rc;
}

static void write_text(const struct ztg_revocation_list *list, FILE *out)
{
	for (uint32_t i = 0; i < list->count; i++) {
		const struct entry *e = list->entries[i];

		if (e->kind == ZTG_REVOKE_SUBJECT)
			fprintf(out, "%s %s %s\n", kind_names[e->kind], e->text, entry_value(e));
		else
			fprintf(out, "%s %s\n", kind_names[e->kind], entry_value(e));
	}
}

int ztg_revocation_list_save(const struct ztg_revocation_list *list, const char *path, char *err, size_t err_len)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	if (f == NULL)
		return ztg_error_set(err, err_len, "out of memory for %s", path), -1;
	fprintf(f, "# ztgate revocations, one a line: %s\n", SYNTAX);
	write_text(list, f);
	rc = ferror(f) ? -ENOMEM : 0;
	fclose(f);
	if (rc == 0)
		rc = ztg_atomic_file_write(path, text, len, err, err_len);
	else
		ztg_error_set(err, err_len, "out of memory for %s", path);
	free(text);
	return rc == 0 ? 0 : -1;
}

void ztg_revocation_list_print(const struct ztg_revocation_list *list, bool json, FILE *out)
{
	if (!json) {
		write_text(list, out);
		return;
	}
	fputc('[', out);
	for (uint32_t i = 0; i < list->count; i++) {
		const struct entry *e = list->entries[i];

		fprintf(out, "%s{\"kind\":\"%s\"", i ? "," : "", kind_names[e->kind]);
		if (e->kind == ZTG_REVOKE_SUBJECT) {
			fputs(",\"issuer\":", out);
			ztg_events_write_string(out, e->text);
		}
		fputs(",\"value\":", out);
		ztg_events_write_string(out, entry_value(e));
		fputc('}', out);
	}
	fputs("]\n", out);
}

/* ------------------------------------------------------------------- set */

struct set_slot {
	uint64_t hash;
	uint32_t offset;                /* of the issuer in text; the value follows it directly */
	uint8_t kind;
	uint8_t issuer_len;
	uint8_t value_len;              /* 0: the slot is empty */
};

/* A full list of the longest texts is about 510 MB of them: offsets fit in 32 bits. */
_Static_assert((uint64_t)ZTG_REVOCATION_MAX_ENTRIES * 2 * ZTG_REVOCATION_VALUE_MAX < UINT32_MAX,
	       "text offsets fit in 32 bits");

struct ztg_revocation_set {
	uint32_t mask;                  /* slots - 1; at most half the slots are used, so a probe always ends */
	struct set_slot *slots;
	char *text;
};

struct ztg_revocation_set *ztg_revocation_set_build(const struct ztg_revocation_list *list)
{
	size_t slots = MIN_SLOTS, text_len = 0, head;
	struct ztg_revocation_set *set;
	char *base, *text;

	while (slots < 2 * (size_t)list->count)
		slots <<= 1;
	for (uint32_t i = 0; i < list->count; i++)
		text_len += list->entries[i]->issuer_len + list->entries[i]->value_len;
	head = (sizeof(*set) + _Alignof(struct set_slot) - 1) & ~(_Alignof(struct set_slot) - 1);
	base = calloc(1, head + slots * sizeof(struct set_slot) + text_len);
	if (base == NULL)
		return NULL;
	set = (struct ztg_revocation_set *)base;
	set->mask = (uint32_t)slots - 1;
	set->slots = (struct set_slot *)(base + head);
	set->text = text = base + head + slots * sizeof(struct set_slot);
	for (uint32_t i = 0; i < list->count; i++) {
		const struct entry *e = list->entries[i];
		uint32_t pos = (uint32_t)e->hash & set->mask;

		/* The list holds no duplicates: every entry takes a slot of its own. */
		while (set->slots[pos].value_len != 0)
			pos = (pos + 1) & set->mask;
		set->slots[pos] = (struct set_slot){
			.hash = e->hash,
			.offset = (uint32_t)(text - set->text),
			.kind = e->kind,
			.issuer_len = e->issuer_len,
			.value_len = e->value_len,
		};
		memcpy(text, e->text, e->issuer_len);
		memcpy(text + e->issuer_len, entry_value(e), e->value_len);
		text += e->issuer_len + e->value_len;
	}
	return set;
}

void ztg_revocation_set_free(struct ztg_revocation_set *set)
{
	free(set);
}

bool ztg_revocation_set_contains(const struct ztg_revocation_set *set, enum ztg_revocation_kind kind,
				 const char *issuer, size_t issuer_len, const char *value, size_t value_len)
{
	uint64_t hash;
	uint32_t pos;

	if (set == NULL || (unsigned)kind >= ZTG_REVOKE_KIND_COUNT || value == NULL || value_len == 0 ||
	    value_len > ZTG_REVOCATION_VALUE_MAX)
		return false;
	/* Only a subject is revoked per issuer: for the other kinds the issuer plays no part. */
	if (kind != ZTG_REVOKE_SUBJECT)
		issuer_len = 0;
	else if (issuer == NULL || issuer_len == 0 || issuer_len > ZTG_REVOCATION_VALUE_MAX)
		return false;
	hash = entry_hash(kind, issuer, issuer_len, value, value_len);
	for (pos = (uint32_t)hash & set->mask; set->slots[pos].value_len != 0; pos = (pos + 1) & set->mask) {
		const struct set_slot *s = &set->slots[pos];
		const char *text = set->text + s->offset;

		if (s->hash == hash && s->kind == kind && s->issuer_len == issuer_len && s->value_len == value_len &&
		    (issuer_len == 0 || memcmp(text, issuer, issuer_len) == 0) &&
		    memcmp(text + issuer_len, value, value_len) == 0)
			return true;
	}
	return false;
}
