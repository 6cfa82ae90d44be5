/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Command line of ztg-trafgen: defaults in one place, parsing with range
 * checks, usage text.
 */
#ifndef ZTG_TRAFFIC_TRAFGEN_OPTS_H
#define ZTG_TRAFFIC_TRAFGEN_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tcp_session.h"

#define TG_DEF_SESSIONS 1000u
#define TG_DEF_REQ_MIN 1u
#define TG_DEF_REQ_MAX 8u
#define TG_DEF_CONCURRENCY 16u
#define TG_DEF_SEED 1u
#define TG_DEF_BODY_SIZE 256u
#define TG_DEF_MSS 1448u
#define TG_DEF_SERVER_PORT 80u
#define TG_DEF_CLIENT_NET "198.18.0.0/16"
#define TG_DEF_SERVER_ADDR "198.19.0.10"
#define TG_DEF_CLIENT_NET6 "2001:2:0:18::/64"
#define TG_DEF_SERVER_ADDR6 "2001:2:0:19::10"
#define TG_DEF_CLIENT_MAC "02:00:00:00:00:01"
#define TG_DEF_SERVER_MAC "02:00:00:00:00:02"
#define TG_DEF_HOST "api.example.com"
#define TG_DEF_START_TIME 1700000000u	/* 2023-11-14T22:13:20Z */
#define TG_MAX_BEARER 16384u	/* ztgate's hard bound on any token (ZTG_JWT_MAX_TOKEN) */

struct tg_options {
	const char *output;
	const char *describe;
	const char *labels;
	const char *host;
	const char *client_net, *client_net6;
	const char *server_addr, *server_addr6;
	const char *client_mac, *server_mac;
	const char *bearer_file;
	char *bearer;		/* --bearer-file's token, owned (tg_opts_free) */
	size_t bearer_len;
	uint64_t sessions;
	uint64_t seed;
	uint64_t start_time;
	uint32_t concurrency;
	uint32_t body_size;
	uint32_t response_size;
	double malicious;
	struct tg_topology topo;	/* addresses, MSS, VLAN, requests, IPv6 share */
};

enum tg_opts_result {
	TG_OPTS_RUN,
	TG_OPTS_HELP,	/* -h given: usage printed, exit 0 */
	TG_OPTS_ERROR,	/* message printed, exit 2 */
};

enum tg_opts_result tg_opts_parse(struct tg_options *o, int argc, char **argv);
void tg_opts_usage(FILE *fp, const char *prog);
void tg_opts_free(struct tg_options *o);

#endif
