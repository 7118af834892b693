#include "port/port.hpp"

#include <cstring>

#include <rte_ethdev.h>

namespace peregrine::drivers {

namespace {
std::string fail(uint16_t port, const char* step, int rc)
{
    return "port " + std::to_string(port) + ": " + step + " failed: " + std::strerror(rc < 0 ? -rc : rc);
}
} // namespace

bool port_start(const port_params& p, std::string* err)
{
    if (!rte_eth_dev_is_valid_port(p.port_id)) {
        *err = "port " + std::to_string(p.port_id) + " does not exist (check -p and the EAL device list)";
        return false;
    }
    rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(p.port_id, &info);
    if (rc != 0) {
        *err = fail(p.port_id, "dev_info_get", rc);
        return false;
    }
    if (p.n_rxq > info.max_rx_queues || p.n_txq > info.max_tx_queues) {
        *err = "port " + std::to_string(p.port_id) + " has at most " + std::to_string(info.max_rx_queues) +
               " RX and " + std::to_string(info.max_tx_queues) + " TX queues; the configuration needs " +
               std::to_string(p.n_rxq) + " RX and " + std::to_string(p.n_txq) + " TX";
        return false;
    }

    rte_eth_conf conf{};
    if (p.n_rxq > 1) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = nullptr;
        conf.rx_adv_conf.rss_conf.rss_hf =
            (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV4_TCP) &
            info.flow_type_rss_offloads;
        if (conf.rx_adv_conf.rss_conf.rss_hf == 0)
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;  // e.g. net_tap: the kernel spreads flows itself
    }
    // Let the NIC verify checksums when it can; the fast path falls back to software.
    conf.rxmode.offloads = info.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;

    rc = rte_eth_dev_configure(p.port_id, p.n_rxq, p.n_txq, &conf);
    if (rc != 0) {
        *err = fail(p.port_id, "configure", rc);
        if (p.n_rxq != p.n_txq)
            *err += " (" + std::to_string(p.n_rxq) + " RX and " + std::to_string(p.n_txq) +
                    " TX queues: some PMDs, net_tap among them, need equal counts; give the port one RX "
                    "queue per worker lcore in --config)";
        return false;
    }
    uint16_t nrx = p.rx_desc, ntx = p.tx_desc;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(p.port_id, &nrx, &ntx);
    if (rc != 0) {
        *err = fail(p.port_id, "adjust_nb_rx_tx_desc", rc);
        return false;
    }
    const int socket = rte_eth_dev_socket_id(p.port_id);
    for (uint16_t q = 0; q < p.n_rxq; ++q) {
        rte_eth_rxconf rxc = info.default_rxconf;
        rxc.offloads = conf.rxmode.offloads;
        rc = rte_eth_rx_queue_setup(p.port_id, q, nrx, socket < 0 ? SOCKET_ID_ANY : socket, &rxc, p.pool);
        if (rc != 0) {
            *err = fail(p.port_id, "rx_queue_setup", rc);
            return false;
        }
    }
    for (uint16_t q = 0; q < p.n_txq; ++q) {
        rte_eth_txconf txc = info.default_txconf;
        txc.offloads = conf.txmode.offloads;
        rc = rte_eth_tx_queue_setup(p.port_id, q, ntx, socket < 0 ? SOCKET_ID_ANY : socket, &txc);
        if (rc != 0) {
            *err = fail(p.port_id, "tx_queue_setup", rc);
            return false;
        }
    }
    rc = rte_eth_dev_start(p.port_id);
    if (rc != 0) {
        *err = fail(p.port_id, "start", rc);
        return false;
    }
    // The fast path drops unicast for other MACs itself; some vdevs refuse this, which is fine.
    rte_eth_promiscuous_disable(p.port_id);
    return true;
}

void port_stop(uint16_t port_id)
{
    rte_eth_dev_stop(port_id);
    rte_eth_dev_close(port_id);
}

} // namespace peregrine::drivers
