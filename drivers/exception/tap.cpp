#include "exception/tap.hpp"

#include <cerrno>
#include <cstring>

#include <csignal>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_ethdev.h>

namespace peregrine::drivers {

namespace {

std::string vdev_name(uint16_t phys_port) { return "net_tap_pgx" + std::to_string(phys_port); }

// Kernel-side configuration with plain ioctls: this runs once at start-up on the main lcore.
bool configure_kernel(const tap_params& p, std::string* err)
{
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    auto step = [&](unsigned long req, ifreq& ifr, const char* what) {
        if (::ioctl(fd, req, &ifr) == 0)
            return true;
        *err = p.ifname + ": " + what + ": " + std::strerror(errno);
        return false;
    };
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, p.ifname.c_str(), IFNAMSIZ - 1);
    bool ok = step(SIOCGIFFLAGS, ifr, "get flags");

    // Down while the MAC changes, so the IPv6 link-local address the kernel makes when the
    // interface comes up derives from the port's MAC, not from the PMD's random one.
    ifr.ifr_flags &= ~IFF_UP;
    ok = ok && step(SIOCSIFFLAGS, ifr, "set down");

    ifr.ifr_hwaddr.sa_family = 1;  // ARPHRD_ETHER
    std::memcpy(ifr.ifr_hwaddr.sa_data, p.mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    ok = ok && step(SIOCSIFHWADDR, ifr, "set MAC");

    ifr.ifr_mtu = p.mtu;
    ok = ok && step(SIOCSIFMTU, ifr, "set MTU");

    if (ok && p.ip_be) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
        std::memset(&ifr.ifr_addr, 0, sizeof(ifr.ifr_addr));
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = p.ip_be;
        ok = step(SIOCSIFADDR, ifr, "set address");
        if (ok) {
            sin->sin_addr.s_addr = p.prefix_len ? htonl(~0u << (32 - p.prefix_len)) : 0;
            ok = step(SIOCSIFNETMASK, ifr, "set netmask");
        }
    }
    if (ok) {
        ok = step(SIOCGIFFLAGS, ifr, "get flags");
        ifr.ifr_flags |= IFF_UP;
        ok = ok && step(SIOCSIFFLAGS, ifr, "set up");
    }
    ::close(fd);
    return ok;
}

} // namespace

int tap_use_polling()
{
    int marked = 0;
    for (int sig = SIGRTMIN + 1; sig < SIGRTMAX; ++sig) {
        struct sigaction sa {};
        if (::sigaction(sig, nullptr, &sa) != 0 || sa.sa_handler != SIG_DFL)
            continue;  // in use by someone else: net_tap skips it too
        sa = {};
        sa.sa_handler = SIG_IGN;
        if (::sigaction(sig, &sa, nullptr) == 0)
            ++marked;
    }
    return marked;
}

bool tap_create(const tap_params& p, uint16_t* tap_port, std::string* err)
{
    if (p.ifname.empty() || p.ifname.size() >= IFNAMSIZ) {
        *err = "TAP interface name '" + p.ifname + "' must be 1 to " + std::to_string(IFNAMSIZ - 1) + " characters";
        return false;
    }
    const std::string name = vdev_name(p.phys_port);
    // EAL hotplug rather than rte_vdev_init: same effect, no link-time dependency on the bus driver.
    const std::string devargs = name + ",iface=" + p.ifname;
    int rc = rte_dev_probe(devargs.c_str());
    if (rc != 0) {
        *err = "creating TAP " + p.ifname + " (" + name + "): " + std::strerror(rc < 0 ? -rc : rc);
        return false;
    }
    uint16_t port;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0) {
        rte_eal_hotplug_remove("vdev", name.c_str());
        *err = "TAP " + name + " created but has no ethdev";
        return false;
    }
    rte_eth_conf conf{};
    // The RX queue's fd as its "interrupt": the idle control lcore sleeps on it (engine/control).
    conf.intr_conf.rxq = 1;
    rc = rte_eth_dev_configure(port, 1, 1, &conf);
    if (rc == 0)
        rc = rte_eth_rx_queue_setup(port, 0, 512, rte_socket_id(), nullptr, p.pool);
    if (rc == 0)
        rc = rte_eth_tx_queue_setup(port, 0, 512, rte_socket_id(), nullptr);
    if (rc == 0)
        rc = rte_eth_dev_start(port);
    if (rc != 0) {
        *err = "starting TAP " + p.ifname + ": " + std::strerror(rc < 0 ? -rc : rc);
        rte_eth_dev_close(port);
        rte_eal_hotplug_remove("vdev", name.c_str());
        return false;
    }
    if (!configure_kernel(p, err)) {
        tap_destroy(port);
        return false;
    }
    *tap_port = port;
    return true;
}

void tap_destroy(uint16_t tap_port)
{
    char name[RTE_ETH_NAME_MAX_LEN];
    const bool named = rte_eth_dev_get_name_by_port(tap_port, name) == 0;
    rte_eth_dev_stop(tap_port);
    rte_eth_dev_close(tap_port);
    if (named)
        rte_eal_hotplug_remove("vdev", name);
}

} // namespace peregrine::drivers
