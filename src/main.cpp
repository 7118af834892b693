// peregrine: the daemon. The main lcore is the control lcore; every lcore named in --config is
// a worker. Start-up runs in stages (src/daemon.cpp), and everything that can be refused is
// refused before the first port starts: options before the EAL, then the port/queue/lcore plan,
// then the TAPs.

#include <cstdlib>
#include <string>

#include <rte_eal.h>
#include <rte_errno.h>

#include "daemon.hpp"
#include "exception/tap.hpp"

using namespace peregrine;

int main(int argc, char** argv)
{
    static app a;  // outlives the telemetry thread, which may still be answering at exit
    const int eal_argc = parse_app_options(argc, argv, &a.opt);

    rte_set_application_usage_hook(app_usage_hook);
    // Before rte_eal_init: it probes the --vdev net_tap ports, which pick their signal then.
    if (!a.opt.tap_rx_signal)
        drivers::tap_use_polling();
    if (rte_eal_init(eal_argc, argv) < 0)
        die(std::string("EAL initialisation failed: ") + rte_strerror(rte_errno));
    init_log();

    select_ports(a);
    const plan pl = make_plan(a);
    create_memory(a, pl);
    read_port_addrs(a);
    start_taps(a);
    start_ports(a, pl);
    const auto rings = create_workers(a, pl);
    start_services(a, pl);
    start_telemetry(a);
    launch(a);

    engine::control ctl(a.ctx, a.stats[pl.n_workers()], a.ports, rings);
    run(a, ctl);
    shutdown(a, rings);
    rte_eal_cleanup();
    return EXIT_SUCCESS;
}
