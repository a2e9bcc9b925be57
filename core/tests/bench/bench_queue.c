#define _POSIX_C_SOURCE 199309L /* clock_gettime */
/* Cost of one track() plus the flush() that consumes one event, at queue depths
 * given on the command line, measured interleaved in one process (best of rounds).
 * Prints "<depth> <ns per track+consume>" per depth. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_platform.h"

#define MAX_DEPTHS 8

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    static honch_client_t clients[MAX_DEPTHS];
    static uint8_t buffers[MAX_DEPTHS][1 << 20];
    unsigned depths[MAX_DEPTHS], n = 0, iters = 20000, rounds = 15;
    double best[MAX_DEPTHS];
    uint64_t counter = 0;
    for (int i = 1; i < argc && n < MAX_DEPTHS; i++) depths[n++] = (unsigned)strtoul(argv[i], NULL, 10);
    for (unsigned d = 0; d < n; d++) {
        honch_config_t c = bench_config(buffers[d], sizeof buffers[d]);
        c.batch_size = 1;
        if (honch_init(&clients[d], &c) || honch_flush(&clients[d], true)) return 2;
        for (unsigned i = 0; i < depths[d]; i++)
            if (honch_track(&clients[d], "sample", 6, bench_emit4, &counter)) return 3;
        best[d] = 1e30;
    }
    for (unsigned r = 0; r < rounds; r++) {
        for (unsigned d = 0; d < n; d++) {
            double t0 = now_ns();
            for (unsigned i = 0; i < iters; i++) {
                counter++;
                bench_clock++;
                if (honch_track(&clients[d], "sample", 6, bench_emit4, &counter)) return 4;
                if (honch_flush(&clients[d], true)) return 5; /* sends and consumes the oldest event */
            }
            double per = (now_ns() - t0) / iters;
            if (per < best[d]) best[d] = per;
            honch_queue_stats_t s;
            honch_queue_stats(&clients[d], &s);
            if (s.queued_events != depths[d]) return 6; /* the depth held */
        }
    }
    for (unsigned d = 0; d < n; d++) printf("%u %.1f\n", depths[d], best[d]);
    return 0;
}
