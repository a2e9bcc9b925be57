/* A minimal platform for the core's benchmarks: a counter clock, counter random
 * bytes and a transport that accepts every frame at once (202, then 204). */
#ifndef HONCH_BENCH_PLATFORM_H
#define HONCH_BENCH_PLATFORM_H

#include <string.h>

#include "honch/honch.h"

static uint64_t bench_clock = 1000;
static unsigned long bench_posts;

static uint64_t bench_mono(void *ctx) { (void)ctx; return bench_clock; }
static uint64_t bench_wall(void *ctx) { (void)ctx; return 1700000000000ull + bench_clock; }
static void bench_random(void *ctx, uint8_t *out, size_t n) {
    static uint8_t next = 0x5a;
    (void)ctx;
    while (n--) *out++ = next++;
}
static void bench_post(void *ctx, const honch_request_t *req, honch_response_t *resp) {
    (void)ctx;
    bench_posts++;
    resp->outcome = HONCH_POST_HTTP;
    resp->http_status = (req->body[0][0] & 0x40) ? 202 : 204;
}

static const honch_platform_t bench_platform = {
    NULL, bench_mono, bench_wall, bench_random, bench_post, NULL, NULL, NULL, NULL, NULL,
};

static honch_config_t bench_config(uint8_t *buf, size_t len) {
    honch_config_t c;
    memset(&c, 0, sizeof c);
    c.api_key = (honch_str_t){"bench-key", 9};
    c.device_id = (honch_str_t){"device-1", 8};
    c.device_model = (honch_str_t){"model-x", 7};
    c.firmware_version = (honch_str_t){"1.0.0", 5};
    c.sdk_platform = (honch_str_t){"posix", 5};
    c.endpoint_url = (honch_str_t){"http://127.0.0.1:8001", 21};
    c.event_buffer = buf;
    c.event_buffer_len = len;
    c.max_queued_events = 0xFFFFFFFFu;
    c.flush_min_interval_ms = HONCH_SPACING_DISABLED;
    c.flush_event_threshold = 0xFFFFFFFFu;
    c.flush_interval_seconds = 0xFFFFFFFFu;
    c.platform = &bench_platform;
    return c;
}

/* track("sample", {"count": i, "temperature": 21.5, "mode": "auto", "ok": true}) */
static int bench_emit4(void *ctx, honch_writer_t *w) {
    uint64_t i = *(const uint64_t *)ctx;
    honch_w_key(w, "count", 5);
    honch_w_uint(w, i);
    honch_w_key(w, "temperature", 11);
    honch_w_f64(w, 21.5);
    honch_w_key(w, "mode", 4);
    honch_w_str(w, "auto", 4);
    honch_w_key(w, "ok", 2);
    return honch_w_bool(w, true);
}

#endif
