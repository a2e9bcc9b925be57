/* The ring queue in the caller's buffer (contract 6): FIFO across wraps,
 * drop-oldest by count and by bytes, oversized records, O(1) consumption,
 * statistics, identity markers. */
#include <stdlib.h>

#include "check.h"
#include "fake.h"
#include "honch_internal.h"

static honch_config_t cfg;

static void setup(size_t buflen) {
    fake_reset();
    cfg = tc_config(buflen);
    cfg.flush_max_batches = 1000;
}

/* Sequence numbers "n: <i>" of the events in the messages sent since request `from`. */
static int collect(unsigned from, long *out, int max) {
    int k = 0;
    for (unsigned i = from; i < fk.nreq; i++) {
        uint8_t kind = fake_requests[i % FAKE_MAX_REQUESTS].body[0];
        if (kind != HONCH_FRAME_SINGLE && kind != HONCH_FRAME_INIT) continue;
        const char *d = fake_dump(i);
        for (const char *p = strstr(d, "{n: "); p && k < max; p = strstr(p + 1, "{n: ")) out[k++] = strtol(p + 4, NULL, 10);
    }
    return k;
}

TEST(test_fifo_order_across_many_wraps_c38) {
    setup(2000);
    cfg.batch_size = 3;
    cfg.flush_max_batches = 1;
    CHECK_EQ(honch_init(&tc, &cfg), 0);
    tc_flush(0);
    long got[400];
    int k = 0, next = 0, wraps = 0;
    char dsl[64];
    unsigned from = fk.nreq;
    for (int round = 0; round < 60; round++) {
        for (int j = 0; j < 1 + round % 6; j++) {
            snprintf(dsl, sizeof dsl, "@n u=%d @pad s*%d", next++, (round * 13 + j * 7) % 40);
            uint8_t was = HC(&tc)->ring.wrapped;
            CHECK_EQ(tc_track("e", dsl), 0);
            wraps += !was && HC(&tc)->ring.wrapped;
        }
        tc_flush(0); /* three events a round: the queue keeps some and its tail runs around */
    }
    while (tc_stats().queued_events) tc_flush(0);
    k = collect(from, got, 400);
    CHECK(wraps >= 3);
    CHECK_EQ(tc_stats().capacity_dropped_events, 0);
    CHECK_EQ(k, next);
    for (int i = 0; i < k; i++)
        if (got[i] != i) {
            check_fail(__FILE__, __LINE__, "event %d arrived as %ld", i, got[i]);
            break;
        }
}

TEST(test_drop_oldest_at_max_queued_events_c38) {
    setup(8192);
    cfg.max_queued_events = 5;
    CHECK_EQ(honch_init(&tc, &cfg), 0);
    char dsl[32];
    for (int i = 0; i < 10; i++) {
        snprintf(dsl, sizeof dsl, "@n u=%d", i);
        CHECK_EQ(tc_track("e", dsl), 0);
        CHECK(tc_stats().queued_events <= 5);
    }
    honch_queue_stats_t s = tc_stats();
    CHECK_EQ(s.queued_events, 5);
    CHECK_EQ(s.capacity_dropped_events, 6); /* $device_boot and events 0-4 */
    CHECK_EQ(s.high_water_events, 5);
    tc_flush(0);
    long got[16];
    CHECK_EQ(collect(0, got, 16), 5);
    for (int i = 0; i < 5; i++) CHECK_EQ(got[i], 5 + i);
}

TEST(test_drop_oldest_to_make_byte_room) {
    setup(300);
    CHECK_EQ(honch_init(&tc, &cfg), 0);
    char dsl[64];
    for (int i = 0; i < 40; i++) {
        snprintf(dsl, sizeof dsl, "@n u=%d @pad s*%d", i, 20 + i % 30);
        CHECK_EQ(tc_track("e", dsl), 0);
        honch_queue_stats_t s = tc_stats();
        CHECK(s.queued_bytes <= 300);
        CHECK(s.high_water_bytes <= 300);
    }
    honch_queue_stats_t s = tc_stats();
    CHECK(s.capacity_dropped_events > 20);
    CHECK_EQ(s.capacity_dropped_events + s.queued_events, 41); /* boot + 40, nothing lost otherwise */
    tc_flush(0);
    long got[64];
    int k = collect(0, got, 64);
    CHECK_EQ(k, (int)s.queued_events);
    for (int i = 0; i < k; i++) CHECK_EQ(got[i], 40 - k + i); /* the newest survive, in order */
}

TEST(test_record_larger_than_the_buffer_is_refused_c39) {
    setup(200);
    CHECK_EQ(honch_init(&tc, &cfg), 0);
    CHECK_EQ(tc_track("a", NULL), 0);
    honch_queue_stats_t before = tc_stats();
    CHECK_EQ(tc_track("big", "@s s*250"), HONCH_STATUS_QUEUE_FULL);
    honch_queue_stats_t after = tc_stats();
    CHECK_EQ(after.oversized_rejected_events, before.oversized_rejected_events + 1);
    CHECK_EQ(after.queued_events, before.queued_events); /* nothing evicted */
    CHECK_EQ(after.queued_bytes, before.queued_bytes);
    CHECK_EQ(after.capacity_dropped_events, 0);
    /* a record that needs the whole buffer evicts everything and is kept */
    CHECK_EQ(tc_track("fits", "@s s*170"), 0);
    CHECK_EQ(tc_stats().queued_events, 1);
    CHECK_CONTAINS(tc_flush(0), "\"fits\"");
}

TEST(test_consumption_moves_no_record_and_is_o1) {
    setup(4096);
    cfg.batch_size = 2;
    cfg.flush_max_batches = 1;
    CHECK_EQ(honch_init(&tc, &cfg), 0);
    for (int i = 0; i < 5; i++) CHECK_EQ(tc_track("e", "@k s=abc"), 0);
    hc_client_t *c = HC(&tc);
    /* offset of the third event before anything is consumed */
    uint32_t off = c->ring.head;
    off = hc_q_next(c, off);
    off = hc_q_next(c, off);
    uint8_t snapshot[64];
    memcpy(snapshot, c->buf + off, sizeof snapshot);
    tc_flush(0); /* consumes two */
    CHECK_EQ(c->ring.head, off);
    CHECK(!memcmp(snapshot, c->buf + off, sizeof snapshot));
    CHECK_EQ(tc_stats().queued_events, 4);
}

TEST(test_statistics_are_monotonic_c43) {
    setup(400);
    cfg.max_queued_events = 6;
    CHECK_EQ(honch_init(&tc, &cfg), 0);
    honch_queue_stats_t prev = tc_stats();
    for (int i = 0; i < 60; i++) {
        if (i % 5 == 4) {
            honch_flush(&tc, true);
        } else if (i % 11 == 3) {
            CHECK_EQ(honch_reset(&tc), 0);
        } else {
            CHECK_EQ(tc_track("e", i % 3 ? "@s s*40" : NULL), 0);
        }
        honch_queue_stats_t s = tc_stats();
        CHECK(s.high_water_events >= prev.high_water_events && s.high_water_bytes >= prev.high_water_bytes);
        CHECK(s.capacity_dropped_events >= prev.capacity_dropped_events);
        CHECK(s.high_water_events >= s.queued_events && s.high_water_bytes >= s.queued_bytes);
        CHECK_EQ(s.buffer_bytes, 400);
        CHECK((s.queued_events == 0) == (s.queued_bytes == 0));
        prev = s;
    }
}

TEST(test_identity_markers_survive_drops_and_wraps) {
    setup(700);
    cfg.batch_size = 50;
    CHECK_EQ(honch_init(&tc, &cfg), 0);
    tc_flush(0);
    char id[64], dsl[128];
    int next = 0;
    for (int round = 0; round < 30; round++) {
        for (int j = 0; j < 3; j++) {
            snprintf(id, sizeof id, "user-%d-%s", round, round % 2 ? "odd" : "even-with-a-longer-identifier");
            CHECK_EQ(honch_identify(&tc, id, strlen(id), NULL, NULL), 0);
            if (round % 3 == 0) CHECK_EQ(honch_session_start(&tc, NULL, 0), 0);
            if (round % 3 == 1) CHECK_EQ(honch_session_end(&tc), 0);
            snprintf(dsl, sizeof dsl, "@n u=%d @who s=%s", next++, id);
            CHECK_EQ(tc_track("e", dsl), 0);
        }
        if (round % 4 == 3) {
            unsigned from = fk.nreq;
            while (tc_stats().queued_events) CHECK_EQ(honch_flush(&tc, true), 0);
            /* every message's events carry the distinct id they were queued under */
            for (unsigned i = from; i < fk.nreq; i++) {
                uint8_t kind = fake_requests[i % FAKE_MAX_REQUESTS].body[0];
                if (kind != HONCH_FRAME_SINGLE && kind != HONCH_FRAME_INIT) continue;
                const char *d = fake_dump(i);
                char want[80];
                const char *dist = strstr(d, "distinct=") + 9;
                size_t n = strcspn(dist, " ");
                for (const char *p = strstr(d, "who: \""); p; p = strstr(p + 1, "who: \"")) {
                    snprintf(want, sizeof want, "%.*s\"", (int)n, dist);
                    CHECK(!strncmp(p + 6, want, n + 1));
                }
            }
        }
    }
    CHECK(tc_stats().capacity_dropped_events > 0); /* the small buffer did overflow */
}

/* The event buffer is the caller's bytes: a bytearray, a memoryview slice, a
 * static array at any address (contract 6.6 asks for no alignment). The core
 * reads and writes its records byte by byte; Cortex-M0 and ARM code built with
 * -mno-unaligned-access fault on a misaligned word access, and this build's
 * -fsanitize=alignment aborts on one. Every offset gives the same messages. */
TEST(test_event_buffer_at_any_alignment_gives_the_same_messages) {
    static char first[8192];
    char got[8192];
    for (size_t offset = 0; offset < 8; offset++) {
        setup(700);
        cfg.event_buffer = tc_buffer + offset;
        cfg.event_buffer_len = 700 - offset % 3; /* odd lengths as well */
        CHECK_EQ(honch_init(&tc, &cfg), 0);
        char dsl[96];
        for (int i = 0; i < 24; i++) { /* enough to wrap the ring and drop the oldest */
            snprintf(dsl, sizeof dsl, "@n u=%d @big u=18446744073709551615 @neg i=-9223372036854775808 @f f=2.5", i);
            CHECK_EQ(tc_track("e", dsl), 0);
        }
        CHECK(tc_stats().capacity_dropped_events > 0);
        got[0] = 0;
        while (tc_stats().queued_events) strncat(got, tc_flush(0), sizeof got - strlen(got) - 1);
        if (offset == 0) {
            memcpy(first, got, sizeof first);
            CHECK(strstr(first, "18446744073709551615") != NULL);
        } else {
            CHECK_STR(got, first);
        }
    }
}
