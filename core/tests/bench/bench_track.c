/* The workload of bench/core_callgrind.py: N calls of track() with four properties
 * on a client whose queue never fills up. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_platform.h"

static honch_client_t client;
static uint8_t buffer[1 << 22];

int main(int argc, char **argv) {
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    honch_config_t c = bench_config(buffer, sizeof buffer);
    if (honch_init(&client, &c)) return 2;
    for (uint64_t i = 0; i < n; i++) {
        bench_clock++;
        if (honch_track(&client, "sample", 6, bench_emit4, &i)) return 3;
    }
    honch_queue_stats_t s;
    honch_queue_stats(&client, &s);
    printf("%llu events queued, %llu bytes\n", (unsigned long long)s.queued_events,
           (unsigned long long)s.queued_bytes);
    return s.queued_events == n + 1 ? 0 : 4;
}
