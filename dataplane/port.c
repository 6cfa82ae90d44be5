#include "port.h"

#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

/*
 * The repeated 0x6d5a key makes Toeplitz hash (src, dst) and (dst, src) to
 * the same value, so both directions of a flow land on the same queue.
 */
static uint8_t symmetric_rss_key[40] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

#define RSS_WANTED (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP)

bool ztg_port_rss_capable(uint16_t port_id, uint16_t queues)
{
	struct rte_eth_dev_info info;

	if (queues < 2 || rte_eth_dev_info_get(port_id, &info) != 0)
		return false;
	return info.max_rx_queues >= queues && info.max_tx_queues >= queues &&
	       (info.flow_type_rss_offloads & RSS_WANTED) != 0 &&
	       (info.hash_key_size == 0 || info.hash_key_size == sizeof(symmetric_rss_key));
}

static int add_queue(struct ztg_worker *w, uint16_t rx_port, uint16_t tx_port, uint16_t queue, char *err,
		     size_t err_len)
{
	if (w->queue_count == ZTG_WORKER_MAX_QUEUES) {
		snprintf(err, err_len, "worker on lcore %u would poll more than %d queues", w->lcore_id,
			 ZTG_WORKER_MAX_QUEUES);
		return -1;
	}
	w->queues[w->queue_count++] = (struct ztg_worker_queue){
		.rx_port = rx_port, .rx_queue = queue, .tx_port = tx_port, .tx_queue = queue};
	return 0;
}

int ztg_port_plan(const struct ztg_port_caps *caps, uint16_t pair_count, struct ztg_worker **workers,
		  uint16_t worker_count, struct ztg_port_setup *setups, char *err, size_t err_len)
{
	uint16_t next_worker = 0;

	for (uint16_t p = 0; p < pair_count; p++) {
		const struct ztg_port_caps *a = &caps[2 * p], *b = &caps[2 * p + 1];
		bool rss = worker_count > 1 && a->rss && b->rss;
		uint16_t queues = rss ? worker_count : 1;

		setups[2 * p] = (struct ztg_port_setup){.port_id = a->port_id, .queue_count = queues, .rss = rss};
		setups[2 * p + 1] = (struct ztg_port_setup){.port_id = b->port_id, .queue_count = queues, .rss = rss};
		for (uint16_t q = 0; q < queues; q++) {
			/* Without RSS, whole pairs are dealt to workers in turn. */
			struct ztg_worker *w = workers[rss ? q : next_worker];

			if (add_queue(w, a->port_id, b->port_id, q, err, err_len) < 0 ||
			    add_queue(w, b->port_id, a->port_id, q, err, err_len) < 0)
				return -1;
		}
		if (!rss)
			next_worker = (uint16_t)((next_worker + 1) % worker_count);
	}
	return 0;
}

int ztg_port_start(const struct ztg_port_setup *setup, struct rte_mempool *pool, uint16_t rx_descriptors,
		   uint16_t tx_descriptors, bool promiscuous, char *err, size_t err_len)
{
	uint16_t port = setup->port_id;
	struct rte_eth_conf conf = {0};
	struct rte_eth_dev_info info;
	uint16_t nb_rxd = rx_descriptors, nb_txd = tx_descriptors;
	int socket = rte_eth_dev_socket_id(port);
	int rc;

	rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0) {
		snprintf(err, err_len, "port %u: cannot read device info: %s", port, rte_strerror(-rc));
		return -1;
	}
	if (setup->rss) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = symmetric_rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(symmetric_rss_key);
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads & RSS_WANTED;
	}
	/* Let the NIC check IPv4 and TCP checksums where it can; decoder and session trust its verdict. */
	conf.rxmode.offloads = info.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;

	rc = rte_eth_dev_configure(port, setup->queue_count, setup->queue_count, &conf);
	if (rc != 0) {
		snprintf(err, err_len, "port %u (%s): configure with %u queues failed: %s", port,
			 info.driver_name, setup->queue_count, rte_strerror(-rc));
		return -1;
	}
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	if (rc != 0) {
		snprintf(err, err_len, "port %u: ring sizes rejected: %s", port, rte_strerror(-rc));
		return -1;
	}
	for (uint16_t q = 0; q < setup->queue_count; q++) {
		struct rte_eth_txconf txconf = info.default_txconf;

		txconf.offloads = conf.txmode.offloads;
		rc = rte_eth_rx_queue_setup(port, q, nb_rxd, socket, NULL, pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(port, q, nb_txd, socket, &txconf);
		if (rc != 0) {
			snprintf(err, err_len, "port %u: queue %u setup failed: %s", port, q, rte_strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_dev_start(port);
	if (rc != 0) {
		snprintf(err, err_len, "port %u: start failed: %s", port, rte_strerror(-rc));
		return -1;
	}
	if (promiscuous) {
		rc = rte_eth_promiscuous_enable(port);
		/* Some virtual devices are always promiscuous and say -ENOTSUP. */
		if (rc != 0 && rc != -ENOTSUP) {
			snprintf(err, err_len, "port %u: promiscuous mode failed: %s", port, rte_strerror(-rc));
			return -1;
		}
	}
	return 0;
}

bool ztg_port_wait_link(uint16_t port_id, unsigned int timeout_ms)
{
	for (unsigned int waited = 0;; waited += 50) {
		struct rte_eth_link link;

		if (rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP)
			return true;
		if (waited >= timeout_ms)
			return false;
		rte_delay_ms(50);
	}
}

void ztg_port_stop(uint16_t port_id)
{
	int rc = rte_eth_dev_stop(port_id);

	if (rc != 0)
		fprintf(stderr, "ztgate: port %u: stop failed: %s\n", port_id, rte_strerror(-rc));
}

void ztg_port_close(uint16_t port_id)
{
	int rc = rte_eth_dev_close(port_id);

	if (rc != 0)
		fprintf(stderr, "ztgate: port %u: close failed: %s\n", port_id, rte_strerror(-rc));
}
