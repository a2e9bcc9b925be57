/* The fake platform of the unit tests: a settable clock, deterministic random
 * bytes, a scripted transport that records every request, and RAM state. */
#ifndef HONCH_TEST_FAKE_H
#define HONCH_TEST_FAKE_H

#include "honch/honch.h"

#define FAKE_MAX_REQUESTS 512
#define FAKE_MAX_SCRIPT 64

typedef struct fake_request {
    uint8_t body[HONCH_MAX_FRAME_BYTES + 16];
    size_t len;
    char url[700];
    char content_type[64];
    char project_key[64];
    char stream_id[16];
    uint32_t timeout_ms;
    uint64_t at; /* fake monotonic time of the request */
} fake_request_t;

typedef struct fake_answer {
    int outcome; /* HONCH_POST_* */
    int status;
    const char *retry_after;
} fake_answer_t;

typedef struct fake {
    honch_platform_t plat;
    uint64_t now, wall;
    uint8_t random_next; /* random bytes count up from here */
    fake_answer_t script[FAKE_MAX_SCRIPT];
    unsigned nscript, iscript;
    unsigned nreq;
    int battery; /* reading returned while has_battery */
    int has_battery;
    unsigned battery_calls;
    /* state store */
    int has_state;
    char fw[600];
    size_t fw_len;
    char distinct[300];
    size_t distinct_len;
    int store_fails;
    /* hooks */
    void (*on_post)(struct fake *f);
    int (*auto_props)(void *ctx, honch_writer_t *w);
    honch_client_t *client;
    int hook_status; /* what on_post saw */
    char log[256];
} fake_t;

extern fake_t fk;
extern fake_request_t fake_requests[FAKE_MAX_REQUESTS];

/* Fresh fake: now = 1000, wall = 0 (unknown), no script (202/204 answers). */
/* Reads one uvarint of a trusted test buffer (the C tests' own decoder, not the core's). */
const uint8_t *test_uvarint(const uint8_t *p, uint64_t *v);

void fake_reset(void);
/* A valid config over buf with the fake platform; numeric options 0. */
honch_config_t fake_config(uint8_t *buf, size_t len);
/* Next answers, in order; when the script runs out: 202 for non-final frames, 204 for final ones. */
void fake_answer(int status, const char *retry_after);
void fake_fail(int outcome);
/* Message carried by the frames starting at request i (reassembled; returns its length, 0 if none). */
size_t fake_message(unsigned i, uint8_t *out);
/* Readable dump of a message (see decode.c). */
void dump_message(const uint8_t *m, size_t n, char *out, size_t cap);
/* Dump of the message starting at request i. */
const char *fake_dump(unsigned i);

/* Emit helpers for tests: properties from a tiny text DSL, e.g.
 * "k:s=hello k2:u=5 k3:i=-3 k4:f=2.5 k5:n k6:t k7:b=00ff k8:a2 s=x u=1 e k9:m1 in:s=v e"
 * (a<count> / m<count> open an array / map, e closes). */
int emit_dsl(void *ctx, honch_writer_t *w);
/* Value emitter (set_property): one value in the same DSL without a key. */
int emit_dsl_value(void *ctx, honch_writer_t *w);

/* Write every request body (hex, one per line) to $HONCH_TEST_DUMP, for the
 * pytest wrapper's strict decode with harness.wire. */
void fake_dump_bodies(void);

#endif

/* The client under test and shortcuts. */
extern honch_client_t tc;
extern uint8_t tc_buffer[1 << 16];
/* fake_config over tc_buffer[0..buflen) with spacing disabled (tests opt in). */
honch_config_t tc_config(size_t buflen);
int tc_track(const char *name, const char *dsl);
honch_queue_stats_t tc_stats(void);
bool tc_stats_equal(const honch_queue_stats_t *a, const honch_queue_stats_t *b);
/* flush(online) expecting status `want`; returns the dump of the first message it sent. */
const char *tc_flush(int want);
/* Messages (single or final frames) among requests [from, fk.nreq). */
unsigned fake_messages_since(unsigned from);
