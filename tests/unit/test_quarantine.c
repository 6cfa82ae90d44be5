/*
 * Unit tests for the quarantine table: identities and sources (prefixes,
 * IPv6, covering entries), expiry, the renewal rule, a full table and slot
 * reuse, tombstones in a probe chain, list and the hardware text, the source
 * text form, the state file (round trip, expired lines, errors at
 * file:line), and threads adding and looking up at once, with and without
 * the control thread deleting under them. The EAL is up only for
 * rte_zmalloc. Times are fixed unix seconds: nothing sleeps or is timed.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_memory.h>

#include "eal_fixture.h"
#include "file_fixture.h"
#include "policy/quarantine.h"

#define NOW INT64_C(1700000000)

static struct ztg_quarantine_entry identity(const char *issuer, const char *subject, enum ztg_quarantine_origin origin,
					    int64_t until)
{
	struct ztg_quarantine_entry e = {.kind = ZTG_QUARANTINE_IDENTITY, .origin = origin, .since = NOW, .until = until};

	snprintf(e.issuer, sizeof(e.issuer), "%s", issuer);
	snprintf(e.subject, sizeof(e.subject), "%s", subject);
	snprintf(e.reason, sizeof(e.reason), "%s %s", ztg_quarantine_origin_name(origin), subject);
	return e;
}

static struct ztg_quarantine_entry source(const char *text, enum ztg_quarantine_origin origin, int64_t until)
{
	struct ztg_quarantine_entry e = {.origin = origin, .since = NOW, .until = until};
	char err[128];

	assert_int_equal(ztg_quarantine_parse_source(text, &e, err, sizeof(err)), 0);
	snprintf(e.reason, sizeof(e.reason), "%s %s", ztg_quarantine_origin_name(origin), text);
	return e;
}

static bool id_held(struct ztg_quarantine *q, const char *issuer, const char *subject, int64_t now)
{
	return ztg_quarantine_identity_held(q, issuer, (const uint8_t *)subject, strlen(subject), now);
}

static bool src_held(struct ztg_quarantine *q, const char *addr, int64_t now)
{
	uint8_t bytes[16];
	bool v6 = strchr(addr, ':') != NULL;

	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, addr, bytes), 1);
	return ztg_quarantine_source_held(q, v6 ? 6 : 4, bytes, now);
}

static struct ztg_quarantine *make(uint32_t capacity)
{
	struct ztg_quarantine *q = ztg_quarantine_create(capacity, SOCKET_ID_ANY);

	assert_non_null(q);
	return q;
}

static uint32_t active(const struct ztg_quarantine *q)
{
	struct ztg_quarantine_stats st;

	ztg_quarantine_stats(q, &st);
	return st.active;
}

/* The listed entry of this subject (identity) or source text, or NULL. */
static const struct ztg_quarantine_entry *listed(const struct ztg_quarantine_entry *list, uint32_t n,
						 const char *name)
{
	for (uint32_t i = 0; i < n; i++) {
		char text[64];

		if (list[i].kind == ZTG_QUARANTINE_IDENTITY && strcmp(list[i].subject, name) == 0)
			return &list[i];
		ztg_quarantine_format_source(&list[i], text, sizeof(text));
		if (list[i].kind == ZTG_QUARANTINE_SOURCE && strcmp(text, name) == 0)
			return &list[i];
	}
	return NULL;
}

/* ------------------------------------------------------------ identities */

static void test_identity(void **state)
{
	struct ztg_quarantine *q = make(64);
	struct ztg_quarantine_entry e = identity("api-key", "alice", ZTG_QUARANTINE_OPERATOR, 0);
	const uint8_t unterminated[] = {'a', 'l', 'i', 'c', 'e', 'x'};
	struct ztg_quarantine_stats st;

	assert_false(ztg_quarantine_any(q));
	assert_false(id_held(q, "api-key", "alice", NOW));
	assert_int_equal(ztg_quarantine_add(q, &e), 1);
	assert_true(ztg_quarantine_any(q));
	assert_true(id_held(q, "api-key", "alice", NOW));
	/* Another issuer's alice, or a near subject, is someone else. */
	assert_false(id_held(q, "corp-jwt", "alice", NOW));
	assert_false(id_held(q, "api-key", "alic", NOW));
	assert_false(id_held(q, "api-key", "alice ", NOW));
	assert_false(id_held(q, "api-ke", "yalice", NOW));
	/* Subject bytes are a length, not a C string. */
	assert_true(ztg_quarantine_identity_held(q, "api-key", unterminated, 5, NOW));
	assert_false(ztg_quarantine_identity_held(q, "api-key", unterminated, 6, NOW));
	/* Adding it again renews it. */
	assert_int_equal(ztg_quarantine_add(q, &e), 0);
	assert_int_equal(active(q), 1);
	ztg_quarantine_stats(q, &st);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.refused, 2);

	assert_true(ztg_quarantine_del(q, &e));
	assert_false(id_held(q, "api-key", "alice", NOW));
	assert_false(ztg_quarantine_del(q, &e));
	assert_false(ztg_quarantine_any(q));
	ztg_quarantine_free(q);
}

static void test_key(void **state)
{
	struct ztg_quarantine *q = make(16), *other = make(16);
	struct ztg_quarantine_entry a = identity("api-key", "alice", ZTG_QUARANTINE_OPERATOR, 0);
	struct ztg_quarantine_entry b = source("192.0.2.0/24", ZTG_QUARANTINE_BLOCK, 0), c = b;

	assert_int_not_equal(ztg_quarantine_key(q, &a), 0);
	assert_int_equal(ztg_quarantine_key(q, &a), ztg_quarantine_key(q, &a));
	/* Each table has its own seed. */
	assert_int_not_equal(ztg_quarantine_key(q, &a), ztg_quarantine_key(other, &a));
	assert_int_not_equal(ztg_quarantine_key(q, &a), ztg_quarantine_key(q, &b));
	/* Host bits play no part; the prefix does. */
	c.addr[3] = 9;
	assert_int_equal(ztg_quarantine_key(q, &b), ztg_quarantine_key(q, &c));
	c.prefix = 25;
	assert_int_not_equal(ztg_quarantine_key(q, &b), ztg_quarantine_key(q, &c));
	/* Nothing valid, no key, no add. */
	c.prefix = 33;
	assert_int_equal(ztg_quarantine_key(q, &c), 0);
	assert_int_equal(ztg_quarantine_add(q, &c), -1);
	ztg_quarantine_free(q);
	ztg_quarantine_free(other);
}

/* --------------------------------------------------------------- sources */

static void test_source(void **state)
{
	struct ztg_quarantine *q = make(64);
	struct ztg_quarantine_entry one = source("192.0.2.7", ZTG_QUARANTINE_AUTOMATIC, 0);
	struct ztg_quarantine_entry net = source("198.51.100.0/24", ZTG_QUARANTINE_BLOCK, 0);
	struct ztg_quarantine_entry v6 = source("2001:db8:1:2::/64", ZTG_QUARANTINE_BLOCK, 0);
	struct ztg_quarantine_entry wide = source("10.0.0.0/8", ZTG_QUARANTINE_BLOCK, 0);
	struct ztg_quarantine_entry narrow = source("10.1.0.0/16", ZTG_QUARANTINE_BLOCK, 0);
	struct ztg_quarantine_entry all4 = source("0.0.0.0/0", ZTG_QUARANTINE_BLOCK, 0);

	assert_int_equal(ztg_quarantine_add(q, &one), 1);
	assert_true(src_held(q, "192.0.2.7", NOW));
	assert_false(src_held(q, "192.0.2.8", NOW));
	assert_false(src_held(q, "192.0.3.7", NOW));

	assert_int_equal(ztg_quarantine_add(q, &net), 1);
	assert_true(src_held(q, "198.51.100.0", NOW));
	assert_true(src_held(q, "198.51.100.77", NOW));
	assert_true(src_held(q, "198.51.100.255", NOW));
	assert_false(src_held(q, "198.51.101.1", NOW));
	assert_false(src_held(q, "198.51.99.255", NOW));

	assert_int_equal(ztg_quarantine_add(q, &v6), 1);
	assert_true(src_held(q, "2001:db8:1:2::99", NOW));
	assert_true(src_held(q, "2001:db8:1:2:ffff:ffff:ffff:ffff", NOW));
	assert_false(src_held(q, "2001:db8:1:3::1", NOW));
	assert_false(src_held(q, "::ffff:198.51.100.1", NOW));

	/* Any covering entry holds, whichever is longest. */
	assert_int_equal(ztg_quarantine_add(q, &wide), 1);
	assert_int_equal(ztg_quarantine_add(q, &narrow), 1);
	assert_true(src_held(q, "10.1.2.3", NOW));
	assert_true(src_held(q, "10.2.0.1", NOW));
	assert_true(ztg_quarantine_del(q, &narrow));
	assert_true(src_held(q, "10.1.2.3", NOW));
	assert_true(ztg_quarantine_del(q, &wide));
	assert_false(src_held(q, "10.1.2.3", NOW));
	assert_false(src_held(q, "11.0.0.1", NOW));

	/* /0 covers every IPv4 address and no IPv6 one. */
	assert_int_equal(ztg_quarantine_add(q, &all4), 1);
	assert_true(src_held(q, "11.0.0.1", NOW));
	assert_false(src_held(q, "2001:db8:9::1", NOW));
	assert_true(ztg_quarantine_del(q, &all4));
	assert_false(src_held(q, "11.0.0.1", NOW));

	/* An unknown version is never held. */
	assert_false(ztg_quarantine_source_held(q, 5, one.addr, NOW));

	assert_true(ztg_quarantine_del(q, &one));
	assert_true(ztg_quarantine_del(q, &net));
	assert_true(ztg_quarantine_del(q, &v6));
	assert_false(ztg_quarantine_any(q));
	assert_false(src_held(q, "192.0.2.7", NOW));
	assert_false(src_held(q, "198.51.100.77", NOW));
	assert_false(src_held(q, "2001:db8:1:2::99", NOW));
	ztg_quarantine_free(q);
}

/* ---------------------------------------------------------------- expiry */

struct seen {
	char subjects[8][ZTG_QUARANTINE_SUBJECT_MAX];
	unsigned count;
};

static void on_expired(void *arg, const struct ztg_quarantine_entry *e)
{
	struct seen *s = arg;

	if (s->count < 8)
		snprintf(s->subjects[s->count], sizeof(s->subjects[0]), "%s", e->subject);
	s->count++;
}

static bool saw(const struct seen *s, const char *subject)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->count && i < 8; i++)
		n += strcmp(s->subjects[i], subject) == 0;
	return n == 1;
}

static void test_expiry(void **state)
{
	struct ztg_quarantine *q = make(16);
	struct ztg_quarantine_entry past = identity("i", "past", ZTG_QUARANTINE_AUTOMATIC, NOW - 1);
	struct ztg_quarantine_entry edge = identity("i", "edge", ZTG_QUARANTINE_AUTOMATIC, NOW);
	struct ztg_quarantine_entry soon = identity("i", "soon", ZTG_QUARANTINE_OPERATOR, NOW + 10);
	struct ztg_quarantine_entry ever = identity("i", "ever", ZTG_QUARANTINE_OPERATOR, 0);
	struct seen seen = {0};

	assert_int_equal(ztg_quarantine_add(q, &past), 1);
	assert_int_equal(ztg_quarantine_add(q, &edge), 1);
	assert_int_equal(ztg_quarantine_add(q, &soon), 1);
	assert_int_equal(ztg_quarantine_add(q, &ever), 1);
	assert_false(id_held(q, "i", "past", NOW));
	assert_false(id_held(q, "i", "edge", NOW));
	assert_true(id_held(q, "i", "edge", NOW - 1));
	assert_true(id_held(q, "i", "soon", NOW + 9));
	assert_false(id_held(q, "i", "soon", NOW + 10));
	assert_true(id_held(q, "i", "ever", NOW + INT64_C(1000000000)));

	assert_int_equal(ztg_quarantine_expire(q, NOW, on_expired, &seen), 2);
	assert_int_equal(seen.count, 2);
	assert_true(saw(&seen, "past"));
	assert_true(saw(&seen, "edge"));
	assert_int_equal(active(q), 2);
	assert_int_equal(ztg_quarantine_expire(q, NOW, on_expired, &seen), 0);
	assert_int_equal(ztg_quarantine_expire(q, NOW + 10, NULL, NULL), 1);
	assert_int_equal(active(q), 1);
	assert_int_equal(ztg_quarantine_expire(q, INT64_MAX, on_expired, &seen), 0);
	assert_int_equal(seen.count, 2);
	assert_true(id_held(q, "i", "ever", INT64_MAX));
	ztg_quarantine_free(q);
}

/* --------------------------------------------------------------- renewal */

static struct ztg_quarantine_entry only(struct ztg_quarantine *q)
{
	struct ztg_quarantine_entry out[2];

	assert_int_equal(ztg_quarantine_list(q, out, 2), 1);
	return out[0];
}

static void test_renewal(void **state)
{
	struct ztg_quarantine *q = make(16);
	struct ztg_quarantine_entry op = identity("i", "s", ZTG_QUARANTINE_OPERATOR, NOW + 1000);
	struct ztg_quarantine_entry au = identity("i", "s", ZTG_QUARANTINE_AUTOMATIC, NOW + 500);
	struct ztg_quarantine_entry got;

	/* Automatic never shortens an operator entry nor takes it over... */
	assert_int_equal(ztg_quarantine_add(q, &op), 1);
	assert_int_equal(ztg_quarantine_add(q, &au), 0);
	got = only(q);
	assert_int_equal(got.origin, ZTG_QUARANTINE_OPERATOR);
	assert_int_equal(got.until, NOW + 1000);
	assert_string_equal(got.reason, "operator s");
	/* ...but lengthens it, forever being the longest. */
	au.until = NOW + 2000;
	assert_int_equal(ztg_quarantine_add(q, &au), 0);
	got = only(q);
	assert_int_equal(got.origin, ZTG_QUARANTINE_OPERATOR);
	assert_int_equal(got.until, NOW + 2000);
	au.until = 0;
	assert_int_equal(ztg_quarantine_add(q, &au), 0);
	assert_int_equal(only(q).until, 0);
	au.until = NOW + 3000;
	assert_int_equal(ztg_quarantine_add(q, &au), 0);
	assert_int_equal(only(q).until, 0);
	/* The operator's word goes, shorter too. */
	op.until = NOW + 100;
	assert_int_equal(ztg_quarantine_add(q, &op), 0);
	assert_int_equal(only(q).until, NOW + 100);
	assert_true(ztg_quarantine_del(q, &op));

	/* An operator extends an automatic entry and makes it theirs. */
	au.until = NOW + 500;
	assert_int_equal(ztg_quarantine_add(q, &au), 1);
	op.until = NOW + 1000;
	assert_int_equal(ztg_quarantine_add(q, &op), 0);
	got = only(q);
	assert_int_equal(got.origin, ZTG_QUARANTINE_OPERATOR);
	assert_int_equal(got.until, NOW + 1000);
	assert_string_equal(got.reason, "operator s");
	assert_true(ztg_quarantine_del(q, &op));

	/* Automatic on automatic: the latest risk crossing sets the term. */
	assert_int_equal(ztg_quarantine_add(q, &au), 1);
	au.until = NOW + 200;
	assert_int_equal(ztg_quarantine_add(q, &au), 0);
	assert_int_equal(only(q).until, NOW + 200);
	assert_true(ztg_quarantine_del(q, &au));

	/* An operator entry already over (not yet expired away) is replaced whole. */
	op.until = NOW - 5;
	assert_int_equal(ztg_quarantine_add(q, &op), 1);
	au.until = NOW + 300;
	assert_int_equal(ztg_quarantine_add(q, &au), 0);
	got = only(q);
	assert_int_equal(got.origin, ZTG_QUARANTINE_AUTOMATIC);
	assert_int_equal(got.until, NOW + 300);
	ztg_quarantine_free(q);
}

/* ------------------------------------------------------- room and slots */

static void test_full(void **state)
{
	struct ztg_quarantine *q = make(10);
	struct ztg_quarantine_entry e[17];
	struct ztg_quarantine_stats st;
	char name[16];

	ztg_quarantine_stats(q, &st);
	assert_int_equal(st.capacity, 16);
	for (int i = 0; i < 17; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		e[i] = identity("i", name, ZTG_QUARANTINE_AUTOMATIC, 0);
	}
	for (int i = 0; i < 16; i++)
		assert_int_equal(ztg_quarantine_add(q, &e[i]), 1);
	assert_int_equal(ztg_quarantine_add(q, &e[16]), -1);
	ztg_quarantine_stats(q, &st);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.active, 16);
	assert_false(id_held(q, "i", "u16", NOW));
	/* Renewing needs no room. */
	assert_int_equal(ztg_quarantine_add(q, &e[3]), 0);
	/* Deleting makes room for one. */
	assert_true(ztg_quarantine_del(q, &e[5]));
	assert_int_equal(ztg_quarantine_add(q, &e[16]), 1);
	assert_int_equal(ztg_quarantine_add(q, &e[5]), -1);
	ztg_quarantine_stats(q, &st);
	assert_int_equal(st.full, 2);
	assert_int_equal(st.active, 16);
	assert_int_equal(st.added, 17);
	for (int i = 0; i < 17; i++)
		assert_int_equal(id_held(q, "i", e[i].subject, NOW), i != 5);
	ztg_quarantine_free(q);
}

/*
 * n identities whose keys agree in the low 10 bits: one home slot in any
 * table of up to 1024 slots, so each probes through the ones added before.
 */
static void colliding(const struct ztg_quarantine *q, struct ztg_quarantine_entry *out, int n)
{
	uint64_t home = 0;
	int found = 0;

	for (unsigned i = 0; found < n; i++) {
		char name[16];
		struct ztg_quarantine_entry e;

		assert_true(i < 10000000u);
		snprintf(name, sizeof(name), "c%u", i);
		e = identity("i", name, ZTG_QUARANTINE_OPERATOR, 0);
		if (found == 0)
			home = ztg_quarantine_key(q, &e) & 1023;
		if ((ztg_quarantine_key(q, &e) & 1023) == home)
			out[found++] = e;
	}
}

static void test_tombstones(void **state)
{
	struct ztg_quarantine *q = make(16);
	struct ztg_quarantine_entry c[5], list[16];

	colliding(q, c, 5);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ztg_quarantine_add(q, &c[i]), 1);
	/* Holes in front of a key do not hide it. */
	assert_true(ztg_quarantine_del(q, &c[0]));
	assert_true(ztg_quarantine_del(q, &c[2]));
	assert_false(id_held(q, "i", c[0].subject, NOW));
	assert_true(id_held(q, "i", c[1].subject, NOW));
	assert_false(id_held(q, "i", c[2].subject, NOW));
	assert_true(id_held(q, "i", c[3].subject, NOW));
	/* A new key takes a hole; an old one comes back as new. */
	assert_int_equal(ztg_quarantine_add(q, &c[4]), 1);
	assert_int_equal(ztg_quarantine_add(q, &c[0]), 1);
	assert_int_equal(ztg_quarantine_add(q, &c[3]), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(id_held(q, "i", c[i].subject, NOW), i != 2);
	assert_int_equal(ztg_quarantine_list(q, list, 16), 4);
	assert_int_equal(active(q), 4);
	/* Everything out, then in again: the chain starts over cleanly. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(ztg_quarantine_del(q, &c[i]), i != 2);
	assert_false(ztg_quarantine_any(q));
	for (int i = 4; i >= 0; i--)
		assert_int_equal(ztg_quarantine_add(q, &c[i]), 1);
	for (int i = 0; i < 5; i++)
		assert_true(id_held(q, "i", c[i].subject, NOW));
	assert_int_equal(ztg_quarantine_list(q, list, 16), 5);
	ztg_quarantine_free(q);
}

/* Many rounds of add and delete over a small table: holes must not accumulate into wrong answers. */
static void test_churn(void **state)
{
	struct ztg_quarantine *q = make(16);
	struct ztg_quarantine_entry e[48];
	bool in[48] = {false};
	uint32_t live = 0, seed = 12345;

	for (int i = 0; i < 48; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%d", i);
		e[i] = identity("i", name, ZTG_QUARANTINE_OPERATOR, 0);
	}
	for (int round = 0; round < 20000; round++) {
		int i;

		seed = seed * 1103515245u + 12345u;
		i = (int)((seed >> 16) % 48);
		if (in[i]) {
			assert_true(ztg_quarantine_del(q, &e[i]));
			in[i] = false;
			live--;
		} else {
			int rc = ztg_quarantine_add(q, &e[i]);

			assert_int_equal(rc, live < 16 ? 1 : -1);
			if (rc == 1) {
				in[i] = true;
				live++;
			}
		}
		if (round % 97 == 0)
			for (int k = 0; k < 48; k++)
				assert_int_equal(id_held(q, "i", e[k].subject, NOW), in[k]);
	}
	assert_int_equal(active(q), live);
	ztg_quarantine_free(q);
}

/* ------------------------------------------------------------------ list */

static void test_list(void **state)
{
	struct ztg_quarantine *q = make(16);
	struct ztg_quarantine_entry a = identity("api-key", "k1", ZTG_QUARANTINE_OPERATOR, NOW + 60);
	struct ztg_quarantine_entry b = identity("corp", "bob@example.com", ZTG_QUARANTINE_AUTOMATIC, 0);
	struct ztg_quarantine_entry c = source("192.0.2.7", ZTG_QUARANTINE_AUTOMATIC, NOW + 300);
	struct ztg_quarantine_entry d = source("2001:db8::/48", ZTG_QUARANTINE_BLOCK, 0);
	struct ztg_quarantine_entry out[8];
	const struct ztg_quarantine_entry *got;
	char long_status[300];

	assert_int_equal(ztg_quarantine_add(q, &a), 1);
	assert_int_equal(ztg_quarantine_add(q, &b), 1);
	assert_int_equal(ztg_quarantine_add(q, &c), 1);
	assert_int_equal(ztg_quarantine_add(q, &d), 1);
	assert_true(id_held(q, "api-key", "k1", NOW));
	assert_true(id_held(q, "api-key", "k1", NOW));
	ztg_quarantine_set_hardware(q, &d, "nic on port 0; software on port 1 (net_null: Function not implemented)");
	/* An identity has no hardware text: nothing changes. */
	ztg_quarantine_set_hardware(q, &a, "nic on port 0");

	assert_int_equal(ztg_quarantine_list(q, out, 8), 4);
	got = listed(out, 4, "k1");
	assert_non_null(got);
	assert_int_equal(got->kind, ZTG_QUARANTINE_IDENTITY);
	assert_int_equal(got->origin, ZTG_QUARANTINE_OPERATOR);
	assert_string_equal(got->issuer, "api-key");
	assert_string_equal(got->reason, "operator k1");
	assert_int_equal(got->since, NOW);
	assert_int_equal(got->until, NOW + 60);
	assert_int_equal(got->refused, 2);
	assert_string_equal(got->hardware, "");
	got = listed(out, 4, "bob@example.com");
	assert_non_null(got);
	assert_string_equal(got->issuer, "corp");
	assert_int_equal(got->origin, ZTG_QUARANTINE_AUTOMATIC);
	got = listed(out, 4, "192.0.2.7/32");
	assert_non_null(got);
	assert_int_equal(got->ip_version, 4);
	assert_int_equal(got->prefix, 32);
	assert_int_equal(got->until, NOW + 300);
	assert_string_equal(got->hardware, "");
	got = listed(out, 4, "2001:db8::/48");
	assert_non_null(got);
	assert_int_equal(got->origin, ZTG_QUARANTINE_BLOCK);
	assert_string_equal(got->hardware, "nic on port 0; software on port 1 (net_null: Function not implemented)");
	assert_string_equal(got->reason, "block 2001:db8::/48");

	/* max bounds the copies; a long status is cut and terminated. */
	assert_int_equal(ztg_quarantine_list(q, out, 2), 2);
	memset(long_status, 'x', sizeof(long_status) - 1);
	long_status[sizeof(long_status) - 1] = '\0';
	ztg_quarantine_set_hardware(q, &c, long_status);
	assert_int_equal(ztg_quarantine_list(q, out, 8), 4);
	got = listed(out, 4, "192.0.2.7/32");
	assert_int_equal(strlen(got->hardware), ZTG_QUARANTINE_HARDWARE_MAX - 1);
	ztg_quarantine_free(q);
}

static void test_cut_texts(void **state)
{
	struct ztg_quarantine *q = make(16);
	struct ztg_quarantine_entry e = identity("i", "", ZTG_QUARANTINE_OPERATOR, 0), out[2];

	/* Fields filled to the brim without a NUL: cut to fit, still terminated. */
	memset(e.subject, 's', sizeof(e.subject));
	memset(e.reason, 'r', sizeof(e.reason));
	assert_int_equal(ztg_quarantine_add(q, &e), 1);
	assert_int_equal(ztg_quarantine_list(q, out, 2), 1);
	assert_int_equal(strlen(out[0].subject), ZTG_QUARANTINE_SUBJECT_MAX - 1);
	assert_int_equal(strlen(out[0].reason), ZTG_QUARANTINE_REASON_MAX - 1);
	assert_true(ztg_quarantine_identity_held(q, "i", (const uint8_t *)out[0].subject,
						 ZTG_QUARANTINE_SUBJECT_MAX - 1, NOW));
	assert_false(ztg_quarantine_identity_held(q, "i", (const uint8_t *)e.subject, ZTG_QUARANTINE_SUBJECT_MAX,
						  NOW));
	ztg_quarantine_free(q);
}

/* ------------------------------------------------------------ text forms */

static void parses(const char *text, uint8_t version, uint8_t prefix, const char *formatted)
{
	struct ztg_quarantine_entry e = {0}, again = {0};
	char err[128] = "", out[64];

	assert_int_equal(ztg_quarantine_parse_source(text, &e, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(e.kind, ZTG_QUARANTINE_SOURCE);
	assert_int_equal(e.ip_version, version);
	assert_int_equal(e.prefix, prefix);
	ztg_quarantine_format_source(&e, out, sizeof(out));
	assert_string_equal(out, formatted);
	assert_int_equal(ztg_quarantine_parse_source(out, &again, err, sizeof(err)), 0);
	assert_memory_equal(again.addr, e.addr, sizeof(e.addr));
	assert_int_equal(again.prefix, e.prefix);
}

static void refuses(const char *text, const char *why)
{
	struct ztg_quarantine_entry e = {0};
	char err[128] = "";

	assert_int_equal(ztg_quarantine_parse_source(text, &e, err, sizeof(err)), -1);
	assert_string_equal(err, why);
}

static void test_parse_source(void **state)
{
	struct ztg_quarantine_entry e = {0};
	char out[64];

	parses("192.0.2.7", 4, 32, "192.0.2.7/32");
	parses("192.0.2.0/24", 4, 24, "192.0.2.0/24");
	parses("192.0.2.128/25", 4, 25, "192.0.2.128/25");
	parses("0.0.0.0/0", 4, 0, "0.0.0.0/0");
	parses("2001:db8::1", 6, 128, "2001:db8::1/128");
	parses("2001:db8::/64", 6, 64, "2001:db8::/64");
	parses("2001:DB8:0:0::/32", 6, 32, "2001:db8::/32");
	parses("::/0", 6, 0, "::/0");
	parses("::ffff:192.0.2.1", 6, 128, "::ffff:192.0.2.1/128");

	refuses("192.0.2.1/24", "192.0.2.1/24: host bits set past /24");
	refuses("2001:db8::1/64", "2001:db8::1/64: host bits set past /64");
	refuses("192.0.2.0/33", "192.0.2.0/33: prefix length past /32");
	refuses("2001:db8::/129", "2001:db8::/129: prefix length past /128");
	refuses("192.0.2.0/99999", "192.0.2.0/99999: prefix length past /32");
	refuses("192.0.2.256", "192.0.2.256: not an IPv4 or IPv6 address");
	refuses("192.0.2", "192.0.2: not an IPv4 or IPv6 address");
	refuses("example.com", "example.com: not an IPv4 or IPv6 address");
	refuses("2001:db8:::1", "2001:db8:::1: not an IPv4 or IPv6 address");
	refuses(" 192.0.2.7", " 192.0.2.7: not an IPv4 or IPv6 address");
	refuses("192.0.2.7x", "192.0.2.7x: not an IPv4 or IPv6 address");
	refuses("", ": not an IPv4 or IPv6 address");
	refuses("/24", "/24: not an IPv4 or IPv6 address");
	refuses("192.0.2.0/", "192.0.2.0/: no prefix length after the /");
	refuses("192.0.2.0/-1", "192.0.2.0/-1: no prefix length after the /");
	refuses("192.0.2.0/24x", "192.0.2.0/24x: unexpected text after the prefix length");
	refuses("192.0.2.0/24/8", "192.0.2.0/24/8: unexpected text after the prefix length");
	refuses("192.0.2.0/24 ", "192.0.2.0/24 : unexpected text after the prefix length");
	refuses("192.0.2.\x01", "192.0.2.?: not an IPv4 or IPv6 address");

	assert_string_equal(ztg_quarantine_kind_name(ZTG_QUARANTINE_IDENTITY), "identity");
	assert_string_equal(ztg_quarantine_kind_name(ZTG_QUARANTINE_SOURCE), "source");
	assert_string_equal(ztg_quarantine_origin_name(ZTG_QUARANTINE_AUTOMATIC), "automatic");
	assert_string_equal(ztg_quarantine_origin_name(ZTG_QUARANTINE_OPERATOR), "operator");
	assert_string_equal(ztg_quarantine_origin_name(ZTG_QUARANTINE_BLOCK), "block");
	/* Cut to fit, always terminated. */
	assert_int_equal(ztg_quarantine_parse_source("2001:db8::/64", &e, NULL, 0), 0);
	ztg_quarantine_format_source(&e, out, 8);
	assert_string_equal(out, "2001:db");
}

/* ------------------------------------------------------------ state file */

static int files_setup(void **state)
{
	return ztg_file_fixture_setup(state, "quarantine", "quarantine.state");
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static unsigned file_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned n = 0;
	int c;

	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void same_entry(const struct ztg_quarantine_entry *a, const struct ztg_quarantine_entry *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->origin, b->origin);
	assert_string_equal(a->issuer, b->issuer);
	assert_string_equal(a->subject, b->subject);
	assert_string_equal(a->reason, b->reason);
	assert_int_equal(a->ip_version, b->ip_version);
	assert_int_equal(a->prefix, b->prefix);
	assert_memory_equal(a->addr, b->addr, sizeof(a->addr));
	assert_int_equal(a->since, b->since);
	assert_int_equal(a->until, b->until);
}

static void test_save_load(void **state)
{
	struct ztg_file_fixture *fx = *state;
	struct ztg_quarantine *q = make(16), *back = make(16);
	struct ztg_quarantine_entry odd = identity("api-key", "", ZTG_QUARANTINE_OPERATOR, 0);
	struct ztg_quarantine_entry net = source("198.51.100.0/24", ZTG_QUARANTINE_BLOCK, NOW + 3600);
	struct ztg_quarantine_entry v6 = source("2001:db8:77::/48", ZTG_QUARANTINE_BLOCK, 0);
	struct ztg_quarantine_entry gone = identity("corp", "leaver", ZTG_QUARANTINE_OPERATOR, NOW + 100);
	struct ztg_quarantine_entry au = identity("corp", "risky", ZTG_QUARANTINE_AUTOMATIC, 0);
	struct ztg_quarantine_entry one = source("192.0.2.9", ZTG_QUARANTINE_AUTOMATIC, 0);
	struct ztg_quarantine_entry out[8];
	const struct ztg_quarantine_entry *got;
	char err[256] = "";

	/* Quotes, backslashes, control bytes and UTF-8 all come back byte for byte. */
	snprintf(odd.subject, sizeof(odd.subject), "k\"1\\ \xc3\xa9\x01\x7f end");
	snprintf(odd.reason, sizeof(odd.reason), "said \"no\"\n\ttwice \xe2\x82\xac");
	odd.since = NOW - 50;
	assert_int_equal(ztg_quarantine_add(q, &odd), 1);
	assert_int_equal(ztg_quarantine_add(q, &net), 1);
	assert_int_equal(ztg_quarantine_add(q, &v6), 1);
	assert_int_equal(ztg_quarantine_add(q, &gone), 1);
	assert_int_equal(ztg_quarantine_add(q, &au), 1);
	assert_int_equal(ztg_quarantine_add(q, &one), 1);
	assert_int_equal(ztg_quarantine_save(q, fx->path, err, sizeof(err)), 0);
	/* Automatic entries are the risk's to make again. */
	assert_int_equal(file_lines(fx->path), 4);

	assert_int_equal(ztg_quarantine_load(back, fx->path, NOW + 200, err, sizeof(err)), 0);
	assert_int_equal(ztg_quarantine_list(back, out, 8), 3);
	got = listed(out, 3, odd.subject);
	assert_non_null(got);
	same_entry(got, &odd);
	got = listed(out, 3, "198.51.100.0/24");
	assert_non_null(got);
	same_entry(got, &net);
	got = listed(out, 3, "2001:db8:77::/48");
	assert_non_null(got);
	same_entry(got, &v6);
	assert_null(listed(out, 3, "leaver"));
	assert_null(listed(out, 3, "risky"));
	assert_true(ztg_quarantine_identity_held(back, "api-key", (const uint8_t *)odd.subject, strlen(odd.subject),
						 NOW + 200));
	assert_true(src_held(back, "198.51.100.200", NOW + 200));
	assert_false(src_held(back, "192.0.2.9", NOW + 200));

	/* Loading the same again renews; nothing doubles. */
	assert_int_equal(ztg_quarantine_load(back, fx->path, NOW + 200, err, sizeof(err)), 0);
	assert_int_equal(active(back), 3);

	/* An empty table saves an empty file, which loads as nothing. */
	ztg_quarantine_free(back);
	back = make(16);
	assert_int_equal(ztg_quarantine_save(back, fx->path, err, sizeof(err)), 0);
	assert_int_equal(file_lines(fx->path), 0);
	assert_int_equal(ztg_quarantine_load(q, fx->path, NOW, err, sizeof(err)), 0);
	assert_int_equal(active(q), 6);

	/* No file: nothing to load, no error. */
	unlink(fx->path);
	assert_int_equal(ztg_quarantine_load(back, fx->path, NOW, err, sizeof(err)), 0);
	assert_false(ztg_quarantine_any(back));
	ztg_quarantine_free(q);
	ztg_quarantine_free(back);
}

static void test_load_by_hand(void **state)
{
	struct ztg_file_fixture *fx = *state;
	struct ztg_quarantine *q = make(16);
	struct ztg_quarantine_entry out[4];
	char err[256] = "";

	/* Blank lines pass; raw UTF-8 and escapes above U+00FF are UTF-8; the reason is cut to fit. */
	write_file(fx->path,
		   "\n"
		   "{\"until\":0,\"since\":5,\"reason\":\"\",\"subject\":\"\xc3\xa9\\u00e9\\u20ac\\ud83d\\ude00\","
		   "\"issuer\":\"\",\"origin\":\"operator\",\"kind\":\"identity\"}\n"
		   "  \t\n"
		   "{\"kind\":\"source\",\"origin\":\"block\",\"source\":\"2001:db8::7\",\"reason\":\""
		   "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"
		   "rrrrrrrrrr\",\"since\":1,\"until\":0}");
	assert_int_equal(ztg_quarantine_load(q, fx->path, NOW, err, sizeof(err)), 0);
	assert_int_equal(ztg_quarantine_list(q, out, 4), 2);
	assert_non_null(listed(out, 2, "\xc3\xa9\xe9\xe2\x82\xac\xf0\x9f\x98\x80"));
	assert_int_equal(strlen(listed(out, 2, "2001:db8::7/128")->reason), ZTG_QUARANTINE_REASON_MAX - 1);
	ztg_quarantine_free(q);
}

static void load_fails(const char *path, const char *content, unsigned line, const char *why)
{
	struct ztg_quarantine *q = make(16);
	char err[256] = "", want[512];

	write_file(path, content);
	assert_int_equal(ztg_quarantine_load(q, path, NOW, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:%u: %s", path, line, why);
	assert_string_equal(err, want);
	/* Nothing from the good lines before the bad one. */
	assert_false(ztg_quarantine_any(q));
	ztg_quarantine_free(q);
}

#define GOOD "{\"kind\":\"identity\",\"origin\":\"operator\",\"issuer\":\"a\",\"subject\":\"b\",\"reason\":\"r\"," \
	     "\"since\":1,\"until\":0}\n"

static void test_load_errors(void **state)
{
	struct ztg_file_fixture *fx = *state;
	struct ztg_quarantine *q = make(16);
	char err[256] = "";

	load_fails(fx->path, GOOD GOOD
		   "{\"kind\":\"identity\",\"origin\":\"operator\",\"issuer\":\"a\",\"subject\":\"c\",\"reason\":\"r\","
		   "\"since\":1}\n" GOOD,
		   3, "no until");
	load_fails(fx->path, GOOD "kind identity\n", 2,
		   "bad JSON: top-level value is not an object at byte 1");
	load_fails(fx->path, GOOD "{\"kind\":\"identity\",}\n", 2,
		   "bad JSON: ',' before a closing bracket at byte 20");
	load_fails(fx->path,
		   "{\"kind\":\"source\",\"origin\":\"block\",\"source\":\"192.0.2.1/24\",\"reason\":\"\",\"since\":1,"
		   "\"until\":0}\n",
		   1, "192.0.2.1/24: host bits set past /24");
	load_fails(fx->path,
		   "{\"kind\":\"source\",\"origin\":\"block\",\"source\":\"192.0.2.0/24\",\"subject\":\"x\",\"reason\":\"\","
		   "\"since\":1,\"until\":0}\n",
		   1, "a source entry with an issuer or a subject");
	load_fails(fx->path, GOOD "\n{\"kind\":\"identity\",\"origin\":\"operator\",\"issuer\":\"a\",\"subject\":\"b\","
		   "\"reason\":\"r\",\"since\":1,\"until\":0,\"colour\":\"red\"}\n",
		   3, "unknown member \"colour\"");
	load_fails(fx->path, "{\"kind\":\"identity\",\"x\\u0000y\":1}\n", 1, "unknown member \"x\"");
	load_fails(fx->path, "{\"kind\":\"group\",\"origin\":\"operator\",\"reason\":\"r\",\"since\":1,\"until\":0}\n", 1,
		   "kind is not \"identity\" or \"source\"");
	load_fails(fx->path,
		   "{\"kind\":\"identity\",\"origin\":\"admin\",\"issuer\":\"a\",\"subject\":\"b\",\"reason\":\"r\","
		   "\"since\":1,\"until\":0}\n",
		   1, "origin is not \"operator\", \"block\" or \"automatic\"");
	load_fails(fx->path,
		   "{\"kind\":\"identity\",\"origin\":\"operator\",\"issuer\":\"a\",\"subject\":\"b\",\"reason\":\"r\","
		   "\"since\":1,\"until\":1.5}\n",
		   1, "until is not a time in whole unix seconds");
	load_fails(fx->path,
		   "{\"kind\":\"identity\",\"origin\":\"operator\",\"issuer\":\"a\",\"subject\":\"b\",\"reason\":\"r\","
		   "\"since\":1,\"until\":\"never\"}\n",
		   1, "until is not a time in whole unix seconds");
	load_fails(fx->path,
		   "{\"kind\":\"identity\",\"origin\":\"operator\",\"issuer\":\"a\",\"subject\":\"b\\u0000\","
		   "\"reason\":\"r\",\"since\":1,\"until\":0}\n",
		   1, "subject holds \\u0000");
	load_fails(fx->path,
		   "{\"kind\":\"identity\",\"origin\":\"operator\",\"issuer\":\"a\",\"reason\":\"r\",\"since\":1,"
		   "\"until\":0}\n",
		   1, "an identity entry needs an issuer and a subject");
	{
		char line[256], issuer[ZTG_QUARANTINE_ISSUER_MAX + 1];

		memset(issuer, 'i', ZTG_QUARANTINE_ISSUER_MAX);
		issuer[ZTG_QUARANTINE_ISSUER_MAX] = '\0';
		snprintf(line, sizeof(line), "{\"kind\":\"identity\",\"origin\":\"operator\",\"issuer\":\"%s\","
			 "\"subject\":\"b\",\"reason\":\"r\",\"since\":1,\"until\":0}\n", issuer);
		load_fails(fx->path, line, 1, "issuer is 65 bytes, at most 64");
	}

	/* Expired lines are dropped without a word; the good ones go in. */
	write_file(fx->path, GOOD
		   "{\"kind\":\"identity\",\"origin\":\"operator\",\"issuer\":\"a\",\"subject\":\"old\",\"reason\":\"r\","
		   "\"since\":1,\"until\":1000}\n");
	assert_int_equal(ztg_quarantine_load(q, fx->path, NOW, err, sizeof(err)), 0);
	assert_int_equal(active(q), 1);
	assert_true(id_held(q, "a", "b", NOW));
	assert_false(id_held(q, "a", "old", 999));
	ztg_quarantine_free(q);

	/* More lines than room: refused whole. */
	q = make(16);
	{
		char *text = malloc(17 * 200), *p = text;

		assert_non_null(text);
		for (int i = 0; i < 17; i++)
			p += sprintf(p, "{\"kind\":\"identity\",\"origin\":\"operator\",\"issuer\":\"a\",\"subject\":\"s%d\","
				     "\"reason\":\"r\",\"since\":1,\"until\":0}\n", i);
		write_file(fx->path, text);
		free(text);
	}
	assert_int_equal(ztg_quarantine_load(q, fx->path, NOW, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ": 17 new entries, room for 16"));
	assert_false(ztg_quarantine_any(q));
	/* Entries already there need no room: 16 from the file, then the same 16 again. */
	{
		char *text = malloc(16 * 200), *p = text;

		assert_non_null(text);
		for (int i = 0; i < 16; i++)
			p += sprintf(p, "{\"kind\":\"identity\",\"origin\":\"operator\",\"issuer\":\"a\",\"subject\":\"s%d\","
				     "\"reason\":\"r\",\"since\":1,\"until\":0}\n", i);
		write_file(fx->path, text);
		free(text);
	}
	assert_int_equal(ztg_quarantine_load(q, fx->path, NOW, err, sizeof(err)), 0);
	assert_int_equal(ztg_quarantine_load(q, fx->path, NOW, err, sizeof(err)), 0);
	assert_int_equal(active(q), 16);
	ztg_quarantine_free(q);
}

/* --------------------------------------------------------------- threads */

#define ADDERS     4
#define PER_ADDER  1000
#define STRIDE     300
#define DISTINCT   ((ADDERS - 1) * STRIDE + PER_ADDER)

struct shared {
	struct ztg_quarantine *q;
	pthread_barrier_t go;
	atomic_int adders_left;
	atomic_uint added;
	atomic_uint failed;
	atomic_ulong lookups;
};

struct adder {
	struct shared *sh;
	int first;
	int rounds;
	int span;
	bool mixed;                      /* odd subjects expire at NOW: expire() has work under the adds */
};

static void *adder_run(void *arg)
{
	struct adder *a = arg;
	struct ztg_quarantine_entry e = {.kind = ZTG_QUARANTINE_IDENTITY, .origin = ZTG_QUARANTINE_AUTOMATIC,
					 .since = NOW, .until = NOW + 300};

	snprintf(e.issuer, sizeof(e.issuer), "api-key");
	snprintf(e.reason, sizeof(e.reason), "risk 150 >= 100: anomaly requests");
	pthread_barrier_wait(&a->sh->go);
	for (int r = 0; r < a->rounds; r++) {
		for (int i = 0; i < a->span; i++) {
			int rc;

			snprintf(e.subject, sizeof(e.subject), "user-%d", a->first + i);
			e.until = a->mixed && i % 2 ? NOW : NOW + 300;
			rc = ztg_quarantine_add(a->sh->q, &e);
			if (rc == 1)
				atomic_fetch_add(&a->sh->added, 1);
			else if (rc < 0)
				atomic_fetch_add(&a->sh->failed, 1);
		}
	}
	atomic_fetch_sub(&a->sh->adders_left, 1);
	return NULL;
}

static void *looker_run(void *arg)
{
	struct shared *sh = arg;
	unsigned long n = 0;
	uint32_t seed = 7;
	char subject[32];

	pthread_barrier_wait(&sh->go);
	while (atomic_load(&sh->adders_left) > 0) {
		seed = seed * 1103515245u + 12345u;
		snprintf(subject, sizeof(subject), "user-%u", (seed >> 8) % DISTINCT);
		(void)id_held(sh->q, "api-key", subject, NOW);
		n++;
	}
	atomic_store(&sh->lookups, n);
	return NULL;
}

static void test_threads(void **state)
{
	struct shared sh = {.q = make(4096), .adders_left = ADDERS};
	struct adder a[ADDERS];
	pthread_t th[ADDERS + 1];
	char subject[32];

	assert_int_equal(pthread_barrier_init(&sh.go, NULL, ADDERS + 1), 0);
	for (int i = 0; i < ADDERS; i++) {
		/* Overlapping ranges: [0, 1000), [300, 1300), ... so most subjects are added by two or more threads. */
		a[i] = (struct adder){.sh = &sh, .first = i * STRIDE, .rounds = 1, .span = PER_ADDER};
		assert_int_equal(pthread_create(&th[i], NULL, adder_run, &a[i]), 0);
	}
	assert_int_equal(pthread_create(&th[ADDERS], NULL, looker_run, &sh), 0);
	for (int i = 0; i <= ADDERS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&sh.go);

	assert_int_equal(atomic_load(&sh.failed), 0);
	assert_int_equal(atomic_load(&sh.added), DISTINCT);
	assert_int_equal(active(sh.q), DISTINCT);
	for (int i = 0; i < DISTINCT; i++) {
		snprintf(subject, sizeof(subject), "user-%d", i);
		assert_true(id_held(sh.q, "api-key", subject, NOW));
	}
	snprintf(subject, sizeof(subject), "user-%d", DISTINCT);
	assert_false(id_held(sh.q, "api-key", subject, NOW));
	ztg_quarantine_free(sh.q);
}

/*
 * Workers add the same few hundred subjects over and over while the control
 * thread deletes and expires under them: whatever interleaving, no subject
 * may end up in two slots, and the live count must match the entries.
 */
#define CHURN_SUBJECTS 400

static void test_threads_with_deletes(void **state)
{
	struct shared sh = {.q = make(512), .adders_left = ADDERS};
	struct ztg_quarantine_entry *list = calloc(512, sizeof(*list));
	struct ztg_quarantine_entry e;
	struct adder a[ADDERS];
	pthread_t th[ADDERS + 1];
	uint32_t n, seed = 99;
	char subject[32];

	assert_non_null(list);
	assert_int_equal(pthread_barrier_init(&sh.go, NULL, ADDERS + 2), 0);
	for (int i = 0; i < ADDERS; i++) {
		a[i] = (struct adder){.sh = &sh, .first = 0, .rounds = 40, .span = CHURN_SUBJECTS, .mixed = true};
		assert_int_equal(pthread_create(&th[i], NULL, adder_run, &a[i]), 0);
	}
	assert_int_equal(pthread_create(&th[ADDERS], NULL, looker_run, &sh), 0);
	pthread_barrier_wait(&sh.go);
	while (atomic_load(&sh.adders_left) > 0) {
		seed = seed * 1103515245u + 12345u;
		e = identity("api-key", "", ZTG_QUARANTINE_AUTOMATIC, 0);
		snprintf(e.subject, sizeof(e.subject), "user-%u", (seed >> 8) % CHURN_SUBJECTS);
		(void)ztg_quarantine_del(sh.q, &e);
		if ((seed >> 4) % 64 == 0)
			(void)ztg_quarantine_expire(sh.q, NOW, NULL, NULL);
	}
	for (int i = 0; i <= ADDERS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&sh.go);

	assert_int_equal(atomic_load(&sh.failed), 0);
	n = ztg_quarantine_list(sh.q, list, 512);
	assert_int_equal(n, active(sh.q));
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(id_held(sh.q, "api-key", list[i].subject, NOW), list[i].until > NOW);
		for (uint32_t j = i + 1; j < n; j++)
			assert_string_not_equal(list[i].subject, list[j].subject);
	}
	/* Once more, single-threaded: every subject exactly once. */
	e = identity("api-key", "", ZTG_QUARANTINE_AUTOMATIC, 0);
	for (int i = 0; i < CHURN_SUBJECTS; i++) {
		snprintf(e.subject, sizeof(e.subject), "user-%d", i);
		assert_true(ztg_quarantine_add(sh.q, &e) >= 0);
	}
	assert_int_equal(active(sh.q), CHURN_SUBJECTS);
	assert_int_equal(ztg_quarantine_list(sh.q, list, 512), CHURN_SUBJECTS);
	for (int i = 0; i < CHURN_SUBJECTS; i++) {
		snprintf(subject, sizeof(subject), "user-%d", i);
		e = identity("api-key", subject, ZTG_QUARANTINE_AUTOMATIC, 0);
		assert_true(ztg_quarantine_del(sh.q, &e));
	}
	assert_false(ztg_quarantine_any(sh.q));
	free(list);
	ztg_quarantine_free(sh.q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_renewal),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_tombstones),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_cut_texts),
		cmocka_unit_test(test_parse_source),
		cmocka_unit_test_setup_teardown(test_save_load, files_setup, ztg_file_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_load_by_hand, files_setup, ztg_file_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, files_setup, ztg_file_fixture_teardown),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_threads_with_deletes),
	};

	return cmocka_run_group_tests(tests, ztg_eal_fixture_setup, ztg_eal_fixture_teardown);
}
