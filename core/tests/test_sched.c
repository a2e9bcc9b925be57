/* The scheduler (contract 7), response policy (8), backoff and Retry-After (9),
 * offline rules (10) with a fake clock and a scripted transport. The tests
 * hold for every frame limit: the suite also runs built with HONCH_MAX_FRAME=40. */
#include "check.h"
#include "fake.h"
#include "honch_internal.h"

static honch_config_t cfg;

static void setup(void) {
    fake_reset();
    cfg = tc_config(1 << 15);
}

static void start(void) { CHECK_EQ(honch_init(&tc, &cfg), HONCH_STATUS_OK); }

static honch_scheduler_state_t state(void) {
    honch_scheduler_state_t s;
    CHECK_EQ(honch_scheduler_state(&tc, &s), 0);
    return s;
}

/* Frames the pending message (or the next one) needs in this build. */
static unsigned frames_of_pending(void) {
    honch_scheduler_state_t s = state();
    uint32_t o = 0, payload, n = 0;
    uint8_t fields[16];
    bool final = false;
    while (!final) {
        hc_frame(s.pending_length, s.pending_message_id, &o, HONCH_MAX_FRAME, fields, &payload, &final);
        n++;
    }
    return n;
}

TEST(test_threshold_makes_the_next_tick_send_c18) {
    setup();
    cfg.flush_event_threshold = 3;
    start();
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(tc_track("a", NULL), 0);
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, 0);
    CHECK(!state().flush_requested);
    CHECK_EQ(tc_track("b", NULL), 0);
    CHECK(state().flush_requested);
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, 1);
    while (state().message_pending) CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fake_messages_since(0), 1);
    CHECK_EQ(tc_stats().queued_events, 0);
    CHECK(!state().flush_requested);
}

TEST(test_interval_makes_the_first_tick_after_it_send_c18) {
    setup();
    cfg.flush_interval_seconds = 10;
    start();
    CHECK_EQ(state().next_interval_at, 11000);
    fk.now = 10999;
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, 0);
    fk.now = 11000;
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, 1);
    CHECK_EQ(state().next_interval_at, 21000); /* any attempt restarts the interval */
}

TEST(test_tick_is_idle_without_work_c17) {
    setup();
    cfg.flush_interval_seconds = 10;
    start();
    tc_flush(0);
    unsigned n = fk.nreq;
    fk.now = 50000;
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, n);
    CHECK_EQ(state().next_interval_at, 60000); /* moved on, no request */
    fk.now = 55000;
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(state().next_interval_at, 60000);
    CHECK_EQ(honch_flush(&tc, true), 0); /* empty: no request, no error */
    CHECK_EQ(fk.nreq, n);
}

TEST(test_min_spacing_c21_and_empty_flush_c19) {
    setup();
    cfg.flush_min_interval_ms = 5000;
    start();
    tc_flush(0);
    unsigned n = fk.nreq;
    CHECK_EQ(state().next_outbound_at, 6000);
    CHECK_EQ(honch_flush(&tc, true), 0); /* empty queue inside the window: fine */
    CHECK_EQ(tc_track("x", NULL), 0);
    fk.now = 3000;
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_RATE_LIMITED);
    CHECK(state().flush_requested);
    CHECK_EQ(state().backoff_ms, 1000); /* untouched */
    CHECK_EQ(state().next_retry_at, 0);
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, n);
    fk.now = 6000;
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, n + 1);
}

TEST(test_spacing_sentinel_disables_spacing_c21) {
    setup();
    cfg.flush_min_interval_ms = 0xFFFFFFFFu;
    start();
    tc_flush(0);
    CHECK_EQ(tc_track("x", NULL), 0);
    unsigned n = fk.nreq;
    tc_flush(0);
    CHECK(fk.nreq > n);
    /* 0 selects the default 15 s */
    setup();
    cfg.flush_min_interval_ms = 0;
    start();
    tc_flush(0);
    CHECK_EQ(state().next_outbound_at, 16000);
}

TEST(test_backoff_worked_vector_c22_c23) {
    setup();
    cfg.flush_retry_initial_ms = 1000;
    cfg.flush_retry_max_ms = 10000;
    fk.now = 10000;
    start();
    fake_answer(429, "7");
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_RATE_LIMITED);
    CHECK_EQ(state().next_retry_at, 17000);
    CHECK_EQ(state().backoff_ms, 2000);
    CHECK_EQ(tc_stats().queued_events, 1); /* kept */
    CHECK(state().flush_requested);
    unsigned n = fk.nreq;
    fk.now = 16999;
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, n);
    fk.now = 17000;
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, n + 1);
    CHECK_EQ(state().next_retry_at, 0);
    CHECK_EQ(state().backoff_ms, 1000);
}

TEST(test_retry_after_http_date_holds_ticks_back_c24) {
    setup();
    fk.wall = 1735689600000ull; /* 2025-01-01T00:00:00Z */
    start();
    fake_answer(503, "Wed, 01 Jan 2025 00:01:00 GMT");
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_SERVER);
    CHECK_EQ(state().next_retry_at, 1000 + 60000);
    unsigned n = fk.nreq;
    fk.now = 60999;
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, n);
    fk.now = 61000;
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, n + 1);
}

TEST(test_server_errors_grow_the_backoff_until_success_c23) {
    setup();
    cfg.flush_retry_max_ms = 5000;
    start();
    CHECK_EQ(honch_connectivity_changed(&tc, true), 0); /* due from now on */
    const uint32_t want[] = {2000, 4000, 5000, 5000};
    for (int i = 0; i < 4; i++) {
        fake_answer(500, NULL);
        fk.now = state().next_retry_at > fk.now ? state().next_retry_at : fk.now;
        unsigned n = fk.nreq;
        CHECK_EQ(honch_tick(&tc, true), 0);
        CHECK_EQ(fk.nreq, n + 1);
        CHECK_EQ(state().backoff_ms, want[i]);
        uint64_t wait = state().next_retry_at - fk.now, b = i ? want[i - 1] : 1000;
        CHECK(wait >= b - b / 4 && wait <= b + b / 4);
    }
    fk.now = state().next_retry_at;
    for (int i = 0; i < 100 && (state().message_pending || tc_stats().queued_events); i++)
        CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(tc_stats().queued_events, 0);
    CHECK_EQ(state().backoff_ms, 1000);
    CHECK_EQ(state().next_retry_at, 0);
}

TEST(test_retryable_answers_keep_the_events_c25) {
    static const struct {
        int outcome, status, want;
    } cases[] = {
        {HONCH_POST_HTTP, 500, HONCH_STATUS_SERVER},       {HONCH_POST_HTTP, 503, HONCH_STATUS_SERVER},
        {HONCH_POST_HTTP, 408, HONCH_STATUS_TIMEOUT},      {HONCH_POST_TIMEOUT, 0, HONCH_STATUS_TIMEOUT},
        {HONCH_POST_HTTP, 409, HONCH_STATUS_TRANSPORT},    {HONCH_POST_TRANSPORT, 0, HONCH_STATUS_TRANSPORT},
        {HONCH_POST_HTTP, 429, HONCH_STATUS_RATE_LIMITED}, {HONCH_POST_HTTP, 302, HONCH_STATUS_TRANSPORT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setup();
        start();
        CHECK_EQ(tc_track("x", NULL), 0);
        if (cases[i].outcome == HONCH_POST_HTTP)
            fake_answer(cases[i].status, NULL);
        else
            fake_fail(cases[i].outcome);
        CHECK_EQ(honch_flush(&tc, true), cases[i].want);
        CHECK_EQ(fk.nreq, 1);
        CHECK_EQ(tc_stats().queued_events, 2);
        CHECK_EQ(tc_stats().dead_lettered_events, 0);
        CHECK(state().message_pending);
        CHECK_EQ(state().pending_offset, 0);
        CHECK_EQ(state().backoff_ms, 2000);
    }
}

TEST(test_rejections_dead_letter_and_keep_the_backoff_c42) {
    const int statuses[] = {400, 401, 404, 405, 413, 415, 422};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        setup();
        start();
        fake_answer(500, NULL);
        CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_SERVER);
        CHECK_EQ(state().backoff_ms, 2000);
        uint64_t retry_at = state().next_retry_at;
        CHECK_EQ(tc_track("x", NULL), 0);
        fake_answer(statuses[i], NULL);
        CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_REJECTED);
        CHECK_EQ(tc_stats().dead_lettered_events, 1); /* the message held $device_boot only */
        CHECK_EQ(tc_stats().queued_events, 1);
        CHECK(!state().message_pending);
        CHECK_EQ(state().backoff_ms, 2000);
        CHECK_EQ(state().next_retry_at, retry_at);
    }
    CHECK(strstr(fk.log, "401") == NULL); /* the last case was 422 */
    setup();
    start();
    fake_answer(401, NULL);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_REJECTED);
    CHECK(strstr(fk.log, "401") != NULL);
    CHECK(strstr(fk.log, "test-project-key") == NULL);
}

TEST(test_unencodable_event_is_dead_lettered_without_a_request_c41) {
    setup();
    start();
    tc_flush(0);
    unsigned n = fk.nreq;
    CHECK_EQ(tc_track("big", "@s s*600"), 0);
    CHECK_EQ(tc_track("small", NULL), 0);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_REJECTED);
    CHECK_EQ(fk.nreq, n);
    CHECK_EQ(tc_stats().dead_lettered_events, 1);
    CHECK_EQ(tc_stats().queued_events, 1);
    CHECK_CONTAINS(tc_flush(0), "\"small\"");
    /* through tick as well: no request, recorded as a rejection */
    CHECK_EQ(tc_track("big", "@s s*600"), 0);
    CHECK_EQ(tc_track("a", NULL), 0);
    CHECK_EQ(tc_track("b", NULL), 0);
    honch_connectivity_changed(&tc, true); /* makes the next tick due */
    n = fk.nreq;
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, n);
    CHECK_EQ(tc_stats().dead_lettered_events, 2);
}

static void pending_multi_frame_message(void) {
    setup();
    cfg.flush_min_interval_ms = 0xFFFFFFFFu;
    start();
    tc_flush(0);
    if (HONCH_MAX_FRAME < 200) {
        CHECK_EQ(tc_track("big", "@payload s=hello"), 0);
    } else {
        CHECK_EQ(tc_track("big", "@payload B*3999"), 0); /* about 4093 bytes of message */
    }
}

TEST(test_one_frame_per_tick_and_consumed_after_the_final_frame_c20) {
    pending_multi_frame_message();
    CHECK_EQ(tc_track("c", NULL), 0);
    CHECK_EQ(tc_track("d", NULL), 0);
    CHECK_EQ(honch_connectivity_changed(&tc, true), 0); /* due below the threshold */
    unsigned first = fk.nreq;
    CHECK_EQ(honch_tick(&tc, true), 0);
    CHECK_EQ(fk.nreq, first + 1);
    unsigned frames = frames_of_pending(), in_message = state().pending_events;
    CHECK(frames >= 2);
    CHECK(in_message >= 1);
    CHECK(state().pending_length <= HONCH_MAX_MESSAGE_BYTES);
    for (unsigned i = 1; i < frames; i++) {
        CHECK_EQ(tc_stats().queued_events, 4); /* not consumed before the final frame */
        CHECK_EQ(state().pending_offset > 0, 1);
        CHECK_EQ(honch_tick(&tc, true), 0);
        CHECK_EQ(fk.nreq, first + 1 + i); /* exactly one request per tick */
    }
    CHECK(!state().message_pending);
    CHECK_EQ(fake_requests[first].body[0], HONCH_FRAME_INIT);
    CHECK_EQ(fake_requests[first + frames - 1].body[0], HONCH_FRAME_FINAL);
    for (unsigned i = first; i < first + frames; i++) CHECK(fake_requests[i].len <= HONCH_MAX_FRAME);
    CHECK_CONTAINS(fake_dump(first), "\"big\" +0 {payload: ");
    CHECK_EQ(tc_stats().queued_events, 4 - in_message);
}

TEST(test_409_restarts_the_message_at_offset_0_with_identical_bytes_c27) {
    pending_multi_frame_message();
    unsigned first = fk.nreq;
    fake_answer(202, NULL);
    fake_answer(409, NULL);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_TRANSPORT);
    CHECK_EQ(fk.nreq, first + 2);
    CHECK(state().message_pending);
    CHECK_EQ(state().pending_offset, 0);
    CHECK_EQ(tc_track("meanwhile", NULL), 0); /* must not change the message */
    unsigned second = fk.nreq;
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_OK);
    CHECK_EQ(fake_requests[second].body[0], HONCH_FRAME_INIT);
    for (unsigned i = 0; i < 2; i++) {
        CHECK_EQ(fake_requests[second + i].len, fake_requests[first + i].len);
        CHECK(!memcmp(fake_requests[second + i].body, fake_requests[first + i].body, fake_requests[first + i].len));
        CHECK_STR(fake_requests[second + i].stream_id, fake_requests[first + i].stream_id);
    }
    CHECK_EQ(tc_stats().queued_events, 1); /* "meanwhile" */
}

TEST(test_wrong_success_codes_are_retryable_c26) {
    /* 202 on the final (or single) frame */
    setup();
    start();
    unsigned frames = 0;
    fake_answer(202, NULL);
    for (unsigned i = 0; i < 10; i++) fake_answer(202, NULL);
    int st = honch_flush(&tc, true);
    CHECK_EQ(st, HONCH_STATUS_TRANSPORT);
    CHECK_EQ(tc_stats().queued_events, 1);
    CHECK(state().message_pending);
    frames = fk.nreq;
    CHECK_EQ(fake_requests[frames - 1].body[0] & 0x40, 0); /* the final frame got the 202 */
    /* 204 on a non-final frame */
    pending_multi_frame_message();
    fake_answer(204, NULL);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_TRANSPORT);
    CHECK(state().message_pending);
    CHECK_EQ(state().pending_offset, 0);
    CHECK_EQ(tc_stats().queued_events, 1);
    /* other 2xx on the final frame: delivered */
    setup();
    start();
    for (unsigned i = 0; i < 10; i++) fake_answer(202, NULL);
    fk.nscript = 0;
    if (HONCH_MAX_FRAME >= 200) fake_answer(200, NULL);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_OK);
    CHECK_EQ(tc_stats().queued_events, 0);
}

TEST(test_offline_is_checked_before_spacing_c28_c29_c30) {
    setup();
    cfg.flush_min_interval_ms = 5000;
    cfg.max_queued_events = 3;
    start();
    tc_flush(0);
    unsigned n = fk.nreq;
    fake_answer(500, NULL); /* unused while offline */
    for (int i = 0; i < 5; i++) CHECK_EQ(tc_track("x", NULL), 0); /* keeps queueing, drop-oldest */
    CHECK_EQ(tc_stats().queued_events, 3);
    CHECK_EQ(tc_stats().capacity_dropped_events, 2);
    fk.now = 2000; /* inside the spacing window */
    CHECK_EQ(honch_flush(&tc, false), HONCH_STATUS_OFFLINE);
    CHECK_EQ(honch_tick(&tc, false), 0);
    CHECK_EQ(fk.nreq, n);
    CHECK(state().flush_requested);
    CHECK_EQ(state().backoff_ms, 1000);
    CHECK_EQ(state().next_retry_at, 0);
    fk.now = 6000;
    CHECK_EQ(honch_tick(&tc, true), 0); /* the first due tick online sends */
    CHECK_EQ(fk.nreq, n + 1);
    /* offline with nothing pending is still OFFLINE for flush */
    setup();
    start();
    tc_flush(0);
    CHECK_EQ(honch_flush(&tc, false), HONCH_STATUS_OFFLINE);
    CHECK(!state().flush_requested);
}

TEST(test_flush_sends_up_to_flush_max_batches_c19) {
    setup();
    cfg.batch_size = 2;
    cfg.flush_max_batches = 3;
    start();
    for (int i = 0; i < 6; i++) CHECK_EQ(tc_track("x", NULL), 0);
    tc_flush(0);
    CHECK_EQ(fake_messages_since(0), 3);
    CHECK_EQ(tc_stats().queued_events, 1);
}

TEST(test_flush_loop_goes_on_after_a_rejection_and_stops_at_a_retryable_outcome) {
    setup();
    cfg.batch_size = 1;
    cfg.flush_max_batches = 3;
    start();
    CHECK_EQ(tc_track("a", NULL), 0);
    CHECK_EQ(tc_track("b", NULL), 0);
    CHECK_EQ(tc_track("c", NULL), 0);
    CHECK_EQ(tc_track("d", NULL), 0);
    fake_answer(400, NULL); /* on the first frame of the first message */
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_REJECTED);
    unsigned started = 0;
    for (unsigned i = 0; i < fk.nreq; i++)
        started += fake_requests[i].body[0] == HONCH_FRAME_SINGLE || fake_requests[i].body[0] == HONCH_FRAME_INIT;
    CHECK_EQ(started, 3); /* boot rejected, then a and b delivered */
    CHECK_EQ(tc_stats().dead_lettered_events, 1);
    CHECK_EQ(tc_stats().queued_events, 2);
    unsigned n = fk.nreq;
    fake_answer(503, NULL);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_SERVER);
    CHECK_EQ(fk.nreq, n + 1); /* stopped at once */
    CHECK_EQ(tc_stats().queued_events, 2);
}

TEST(test_shutdown_sends_once_ignoring_spacing_and_backoff_c9) {
    setup();
    cfg.flush_min_interval_ms = 60000;
    start();
    tc_flush(0);
    CHECK_EQ(tc_track("x", NULL), 0);
    fake_answer(500, NULL);
    fk.now = 90000; /* past spacing; the 500 then sets a backoff */
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_SERVER);
    CHECK(state().next_retry_at > fk.now);
    unsigned n = fk.nreq;
    CHECK_EQ(honch_shutdown(&tc, true), HONCH_STATUS_OK);
    CHECK(fk.nreq > n);
    CHECK_EQ(fake_messages_since(n), 1); /* one message: the pending one */
    CHECK_CONTAINS(fake_dump(n), "\"x\"");
    CHECK_EQ(tc_track("y", NULL), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_shutdown(&tc, true), HONCH_STATUS_OK);
    /* nothing pending: the message holds $device_shutdown */
    setup();
    start();
    tc_flush(0);
    CHECK_EQ(tc_track("x", NULL), 0);
    n = fk.nreq;
    CHECK_EQ(honch_shutdown(&tc, true), 0);
    CHECK_CONTAINS(fake_dump(n), "\"x\" +0 {}\n\"$device_shutdown\" +0 {}\n");
    /* offline: nothing sent, closed anyway; a failing send is reported after closing */
    setup();
    start();
    CHECK_EQ(honch_shutdown(&tc, false), 0);
    CHECK_EQ(fk.nreq, 0);
    CHECK_EQ(honch_tick(&tc, true), HONCH_STATUS_NOT_INITIALIZED);
    setup();
    start();
    fake_answer(503, NULL);
    CHECK_EQ(honch_shutdown(&tc, true), HONCH_STATUS_SERVER);
    CHECK_EQ(tc_track("y", NULL), HONCH_STATUS_NOT_INITIALIZED);
}

static void reenter(fake_t *f) {
    (void)f;
    static int depth;
    if (depth++) return;
    int a = honch_tick(&tc, true), b = honch_flush(&tc, true), c = honch_reset(&tc), d = honch_shutdown(&tc, true);
    int e = tc_track("from-transport", NULL);
    fk.hook_status = (a == HONCH_STATUS_BUSY && b == HONCH_STATUS_BUSY && c == HONCH_STATUS_BUSY &&
                      d == HONCH_STATUS_BUSY && e == HONCH_STATUS_OK)
                         ? 1
                         : -1;
    fk.on_post = NULL;
    depth = 0;
}

TEST(test_calls_from_inside_the_transport) {
    setup();
    start();
    fk.on_post = reenter;
    tc_flush(0);
    CHECK_EQ(fk.hook_status, 1);
    CHECK_EQ(tc_stats().queued_events, 1);
    CHECK_CONTAINS(tc_flush(0), "\"from-transport\"");
}

TEST(test_messages_never_mix_identities_or_sessions_c40) {
    setup();
    cfg.flush_max_batches = 10;
    start();
    CHECK_EQ(tc_track("a", NULL), 0);
    CHECK_EQ(honch_identify(&tc, "user-1", 6, NULL, NULL), 0);
    CHECK_EQ(tc_track("b", NULL), 0);
    CHECK_EQ(honch_session_start(&tc, NULL, 0), 0);
    CHECK_EQ(tc_track("c", NULL), 0);
    unsigned starts[8], k = 0;
    tc_flush(0);
    for (unsigned i = 0; i < fk.nreq && k < 8; i++) {
        uint8_t kind = fake_requests[i].body[0];
        if (kind == HONCH_FRAME_SINGLE || kind == HONCH_FRAME_INIT) starts[k++] = i;
    }
    CHECK_EQ(k, 3);
    CHECK_CONTAINS(fake_dump(starts[0]), "distinct=device-1 session=- ");
    CHECK_CONTAINS(fake_dump(starts[0]), "\"$device_boot\" +0 {reset_reason: \"unknown\"}\n\"a\" +0 {}\n");
    CHECK_CONTAINS(fake_dump(starts[1]), "distinct=user-1 session=- ");
    CHECK_CONTAINS(fake_dump(starts[1]), "\"b\" +0 {}\n");
    CHECK_CONTAINS(fake_dump(starts[2]), "distinct=user-1 session=sess_");
    CHECK_CONTAINS(fake_dump(starts[2]), "\"$session_start\" +0 {}\n\"c\" +0 {}\n");
}

TEST(test_message_id_is_seed_plus_first_sequence_c3) {
    setup();
    cfg.batch_size = 2;
    start(); /* seed 0x00010203 */
    for (int i = 0; i < 4; i++) CHECK_EQ(tc_track("x", NULL), 0); /* sequences 2..5 */
    fake_answer(400, NULL);                                       /* sequences 1-2 dead-lettered */
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_REJECTED);
    unsigned n = fk.nreq;
    tc_flush(0); /* sequences 3-4 */
    CHECK_HEX(fake_requests[0].body + 1, 3, "848404");
    CHECK_HEX(fake_requests[n].body + 1, 3, "868404");
}

TEST(test_capacity_drops_under_a_pending_message_c38) {
    setup();
    cfg.max_queued_events = 4;
    start();
    CHECK_EQ(tc_track("a", NULL), 0);
    fake_answer(500, NULL);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_SERVER); /* pending: boot, a */
    unsigned first = fk.nreq - 1;
    while (first && (fake_requests[first].body[0] & 0x20)) first--;
    for (int i = 0; i < 5; i++) CHECK_EQ(tc_track("n", NULL), 0); /* drops boot, a, and one n */
    CHECK_EQ(tc_stats().capacity_dropped_events, 3);
    CHECK_EQ(tc_stats().queued_events, 4);
    fk.now = state().next_retry_at;
    unsigned n = fk.nreq;
    tc_flush(0); /* the pending message goes out unchanged */
    CHECK(!memcmp(fake_requests[n].body, fake_requests[first].body, fake_requests[first].len));
    CHECK_EQ(tc_stats().queued_events, 4); /* none of its events were still queued */
    tc_flush(0);
    CHECK_EQ(tc_stats().queued_events, 0);
}

TEST(test_message_id_wraps_modulo_2_32_w3_4) {
    setup();
    start();
    HC(&tc)->seed = 0xFFFFFFFFu; /* W3.4: (seed + 1) mod 2^32 = 0 */
    tc_flush(0);
    CHECK(fake_requests[0].body[0] == HONCH_FRAME_SINGLE || fake_requests[0].body[0] == HONCH_FRAME_INIT);
    CHECK_EQ(fake_requests[0].body[1], 0x00);
    HC(&tc)->seed = 0xFFFFFFF0u;
    CHECK_EQ(tc_track("x", NULL), 0); /* sequence 2 */
    unsigned n = fk.nreq;
    tc_flush(0);
    CHECK_HEX(fake_requests[n].body + 1, 5, "f2ffffff0f"); /* 0xFFFFFFF2: five varint bytes */
}

TEST(test_rejection_spacing_and_the_scope_of_retry_after_contract_7_5_9) {
    setup();
    cfg.flush_min_interval_ms = 5000;
    start();
    /* REJECTED with a request: spacing from now; b and next_retry_at untouched */
    fake_answer(400, "100"); /* Retry-After on a rejection means nothing */
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_REJECTED);
    CHECK_EQ(state().next_outbound_at, 6000);
    CHECK_EQ(state().next_retry_at, 0);
    CHECK_EQ(state().backoff_ms, 1000);
    /* REJECTED without a request (unencodable alone): spacing unchanged, interval restarted */
    fk.now = 7000;
    CHECK_EQ(tc_track("big", "@s s*600"), 0);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_REJECTED);
    CHECK_EQ(state().next_outbound_at, 6000);
    CHECK_EQ(state().next_interval_at, 7000 + 120000);
    /* every retryable answer honours Retry-After: 409, 1xx, 202 on the final frame */
    static const struct {
        int status, want;
        const char *retry_after;
        uint64_t retry_at;
    } cases[] = {
        {409, HONCH_STATUS_TRANSPORT, "100", 20000 + 100000},
        {102, HONCH_STATUS_TRANSPORT, " 200 ", 30000 + 200000},
        {408, HONCH_STATUS_TIMEOUT, "300", 40000 + 300000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fk.now = 20000 + 10000 * i;
        CHECK_EQ(tc_track("x", NULL), 0);
        fake_answer(cases[i].status, cases[i].retry_after);
        CHECK_EQ(honch_flush(&tc, true), cases[i].want);
        CHECK_EQ(state().next_retry_at, cases[i].retry_at);
    }
    if (HONCH_MAX_FRAME >= 200) { /* a single frame: 202 is a retryable answer on it */
        fk.now = 50000;
        fake_answer(202, "400");
        CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_TRANSPORT);
        CHECK_EQ(state().next_retry_at, 50000 + 400000);
    }
}

TEST(test_tick_without_work_is_step_3_even_offline_contract_7_2) {
    setup();
    cfg.flush_interval_seconds = 10;
    start();
    CHECK_EQ(honch_connectivity_changed(&tc, true), 0);
    tc_flush(0);
    CHECK(!state().flush_requested);
    fk.now = 20000;
    CHECK_EQ(honch_tick(&tc, false), 0); /* nothing pending: step 3 returns before step 4 */
    CHECK(!state().flush_requested);
    CHECK_EQ(state().next_interval_at, 30000);
    /* with work: offline sets flush_requested and touches nothing else */
    CHECK_EQ(tc_track("x", NULL), 0);
    honch_scheduler_state_t before = state();
    CHECK_EQ(honch_tick(&tc, false), 0);
    honch_scheduler_state_t after = state();
    CHECK(after.flush_requested);
    CHECK_EQ(after.next_interval_at, before.next_interval_at);
    CHECK_EQ(after.next_retry_at, before.next_retry_at);
    CHECK_EQ(after.next_outbound_at, before.next_outbound_at);
    CHECK_EQ(after.backoff_ms, before.backoff_ms);
    /* inside a backoff, a due tick changes nothing (no spacing flag, no request) */
    setup();
    cfg.flush_min_interval_ms = 100000;
    start();
    fake_answer(500, NULL);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_SERVER);
    before = state();
    unsigned n = fk.nreq;
    fk.now = before.next_retry_at - 1;
    CHECK_EQ(honch_tick(&tc, true), 0);
    after = state();
    CHECK_EQ(fk.nreq, n);
    CHECK_EQ(after.flush_requested, before.flush_requested);
    CHECK_EQ(after.next_interval_at, before.next_interval_at);
    CHECK_EQ(after.next_retry_at, before.next_retry_at);
    CHECK_EQ(after.next_outbound_at, before.next_outbound_at);
    CHECK_EQ(after.backoff_ms, before.backoff_ms);
    CHECK_EQ(after.pending_offset, before.pending_offset);
}

TEST(test_a_message_sent_once_is_never_rebased_w5_6_contract_5) {
    setup();
    start(); /* no wall clock: $device_boot is stamped 1000 (boot-relative) */
    fake_answer(500, NULL);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_SERVER);
    unsigned first_frames = fk.nreq;
    fk.wall = 1700000000000ull; /* the clock is set before the retry */
    fk.now = state().next_retry_at;
    CHECK_EQ(tc_track("later", NULL), 0);
    unsigned n = fk.nreq;
    CHECK_EQ(honch_flush(&tc, true), 0);
    for (unsigned i = 0; i < first_frames; i++) {
        CHECK_EQ(fake_requests[n + i].len, fake_requests[i].len);
        CHECK(!memcmp(fake_requests[n + i].body, fake_requests[i].body, fake_requests[i].len));
    }
    CHECK_CONTAINS(fake_dump(n), "base=1000 dts=0 ");
    /* the next message is formed now: its boot-relative stamp is rebased (dts 2) */
    CHECK_CONTAINS(tc_flush(0), "dts=1 ");
    CHECK_EQ(tc_track("x", NULL), 0);
    fk.wall = 0; /* clock lost again: stamped boot-relative, then rebased when the clock is back */
    fk.now += 10;
    CHECK_EQ(tc_track("y", NULL), 0);
    fk.wall = 1700000100000ull;
    CHECK_CONTAINS(tc_flush(0), "dts=2 ");
}

static honch_last_error_t last_error(void) {
    honch_last_error_t e;
    CHECK_EQ(honch_last_error(&tc, &e), HONCH_STATUS_OK);
    return e;
}

TEST(test_last_error_records_each_kind_of_failure_c51) {
    setup();
    start();
    honch_last_error_t e = last_error();
    CHECK_EQ(e.status, HONCH_STATUS_OK);
    CHECK(strcmp(e.reason, "none") == 0 && e.component == NULL && e.http_status == 0 && e.message[0] == 0);
    /* a delivery outcome of tick(), which returns OK */
    fake_answer(401, NULL);
    CHECK_EQ(honch_connectivity_changed(&tc, true), 0); /* a deferred flush: the tick is due */
    CHECK_EQ(honch_tick(&tc, true), HONCH_STATUS_OK);
    e = last_error();
    CHECK_EQ(e.status, HONCH_STATUS_REJECTED);
    CHECK(strcmp(e.reason, "auth_invalid_key") == 0 && strcmp(e.component, "server") == 0);
    CHECK_EQ(e.http_status, 401);
    CHECK(strstr(e.message, "test-project-key") == NULL);
    /* a later success does not clear it */
    CHECK_EQ(tc_track("x", NULL), 0);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_OK);
    CHECK_EQ(last_error().status, HONCH_STATUS_REJECTED);
    /* the port notes what it raises: a flush outcome keeps its specific record */
    CHECK_EQ(tc_track("x", NULL), 0);
    fake_answer(429, "3");
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_RATE_LIMITED);
    honch_note_error(&tc, HONCH_STATUS_RATE_LIMITED, NULL, 0);
    e = last_error();
    CHECK(strcmp(e.reason, "rate_limited") == 0 && e.http_status == 429);
    /* a timeout carries the port's errno */
    fake_fail(HONCH_POST_TIMEOUT);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_TIMEOUT);
    e = last_error();
    CHECK(strcmp(e.reason, "timeout") == 0 && strcmp(e.component, "transport") == 0 && e.http_status == 0);
    /* offline, then an argument failure noted by the port with its detail */
    CHECK_EQ(honch_flush(&tc, false), HONCH_STATUS_OFFLINE);
    CHECK(strcmp(last_error().reason, "offline") == 0);
    honch_note_error(&tc, HONCH_STATUS_INVALID_ARGUMENT, "name must be a str, not int", 27);
    e = last_error();
    CHECK(strcmp(e.reason, "invalid_argument") == 0 && strcmp(e.component, "api") == 0);
    CHECK(strcmp(e.message, "name must be a str, not int") == 0);
    /* a noted status without a fresh scheduler record gets the status's own reason and text */
    honch_note_error(&tc, HONCH_STATUS_QUEUE_FULL, NULL, 0);
    e = last_error();
    CHECK(strcmp(e.reason, "queue_full") == 0 && strcmp(e.message, "queue full") == 0);
}
